/*
 * The 16550A UART model (docs/devices.md) under register sequences a
 * driver would not normally make: run with `--console uart`. stdio moves
 * to the para-API console while the UART is poked (loopback would swallow
 * output), each case prints what it read as `name key=0xVALUE ...`, and
 * the end restores the UART's settings and prints "uart_hostile ok"
 * through it: the device stays usable.
 *
 *   loopback   MCR.LOOP: bytes written to THR come back on RBR, LSR shows
 *              DR; MSR mirrors MCR (and sets delta bits when leaving)
 *   overrun    17 bytes into the 16-byte FIFO in loopback: OE, cleared by
 *              reading LSR; the first 16 bytes survive
 *   iir        IIR in odd states: nothing pending, THRE (acknowledged by
 *              reading IIR), received data, line status over data, modem
 *              status
 *   readonly   writes to LSR and MSR change nothing
 *   dlab       the divisor latch round trip, and DLAB off gives IER back
 *   wide       a 16-bit read of SCR: SCR in the low byte, FFh above
 */
#include <stdio.h>
#include <string.h>
#include <pvmm/guest.h>
#include <pvmm/io.h>
#include <pvmm/uart.h>

#define RBR 0
#define THR 0
#define IER 1
#define IIR 2
#define FCR 2
#define LCR 3
#define MCR 4
#define LSR 5
#define MSR 6
#define SCR 7

static uint16_t base;

static uint8_t rd(unsigned reg)
{
	return inb((uint16_t)(base + reg));
}

static void wr(unsigned reg, uint8_t v)
{
	outb((uint16_t)(base + reg), v);
}

/* Empty the receive side: read RBR while LSR says DR (bounded). */
static void drain_rx(void)
{
	for (int i = 0; i < 64 && (rd(LSR) & 0x01); i++)
		(void)rd(RBR);
}

static void case_loopback(void)
{
	wr(IER, 0);
	(void)rd(MSR); /* no deltas pending */
	wr(MCR, 0x1f); /* LOOP | OUT2 | OUT1 | RTS | DTR */
	uint8_t msr_loop = rd(MSR);
	wr(THR, 'A');
	wr(THR, 'B');
	wr(THR, 'C');
	uint8_t lsr = rd(LSR);
	char got[4] = { 0 };
	for (int i = 0; i < 3; i++)
		got[i] = (char)rd(RBR);
	uint8_t lsr_after = rd(LSR);
	wr(MCR, 0x10); /* LOOP only: every mirrored line drops */
	uint8_t msr_drop = rd(MSR);
	uint8_t msr_again = rd(MSR);
	wr(MCR, 0x0b); /* out of loopback: DTR RTS OUT2 */
	uint8_t msr_line = rd(MSR);
	(void)rd(MSR);
	printf("loopback msr=0x%02x lsr=0x%02x data=%s lsr_after=0x%02x msr_drop=0x%02x msr_again=0x%02x "
	       "msr_line=0x%02x\n",
	       msr_loop, lsr, got, lsr_after, msr_drop, msr_again, msr_line);
}

static void case_overrun(void)
{
	wr(MCR, 0x1b); /* LOOP | OUT2 | RTS | DTR */
	for (int i = 0; i < 17; i++)
		wr(THR, (uint8_t)('a' + i));
	uint8_t lsr = rd(LSR);
	uint8_t lsr_again = rd(LSR);
	char got[17] = { 0 };
	int n = 0;
	while (n < 16 && (rd(LSR) & 0x01))
		got[n++] = (char)rd(RBR);
	uint8_t lsr_empty = rd(LSR);
	wr(MCR, 0x0b);
	printf("overrun lsr=0x%02x lsr_again=0x%02x got=%d data=%s lsr_empty=0x%02x\n", lsr, lsr_again, n, got,
	       lsr_empty);
}

static void case_iir(void)
{
	wr(IER, 0);
	uint8_t none = rd(IIR);
	wr(IER, 0x02); /* THRE: the transmitter is empty, so it is pending at once */
	uint8_t thre = rd(IIR);
	uint8_t thre_acked = rd(IIR);
	wr(IER, 0);

	wr(MCR, 0x1b); /* loopback for received data */
	wr(THR, 'x');
	wr(IER, 0x01); /* RDA */
	uint8_t rda = rd(IIR);
	wr(IER, 0x05); /* RDA and RLS, then an overrun: line status wins */
	for (int i = 0; i < 17; i++)
		wr(THR, 'y');
	uint8_t rls = rd(IIR);
	(void)rd(LSR); /* clears OE */
	uint8_t rda_again = rd(IIR);
	wr(IER, 0);
	drain_rx();

	wr(MCR, 0x10); /* leaving the mirrored lines: modem status deltas */
	wr(IER, 0x08); /* MS */
	uint8_t ms = rd(IIR);
	(void)rd(MSR); /* clears the deltas */
	uint8_t ms_acked = rd(IIR);
	wr(IER, 0);
	wr(MCR, 0x0b);
	(void)rd(MSR);
	printf("iir none=0x%02x thre=0x%02x thre_acked=0x%02x rda=0x%02x rls=0x%02x rda_again=0x%02x ms=0x%02x "
	       "ms_acked=0x%02x\n",
	       none, thre, thre_acked, rda, rls, rda_again, ms, ms_acked);
}

static void case_readonly(void)
{
	uint8_t lsr = rd(LSR), msr = rd(MSR);
	wr(LSR, 0xff);
	wr(MSR, 0xff);
	uint8_t lsr2 = rd(LSR), msr2 = rd(MSR);
	wr(LSR, 0x00);
	wr(MSR, 0x00);
	uint8_t lsr3 = rd(LSR), msr3 = rd(MSR);
	printf("readonly lsr=0x%02x msr=0x%02x after_ff lsr=0x%02x msr=0x%02x after_00 lsr=0x%02x msr=0x%02x\n", lsr,
	       msr, lsr2, msr2, lsr3, msr3);
}

static void case_dlab(void)
{
	wr(IER, 0x05);
	uint8_t lcr = rd(LCR);
	wr(LCR, (uint8_t)(lcr | 0x80));
	uint8_t old_dll = rd(RBR), old_dlm = rd(IER);
	wr(RBR, 0x0c); /* 9600 baud */
	wr(IER, 0x34);
	uint8_t dll = rd(RBR), dlm = rd(IER);
	uint8_t lcr_dlab = rd(LCR);
	wr(RBR, old_dll);
	wr(IER, old_dlm);
	wr(LCR, lcr);
	uint8_t ier = rd(IER);
	wr(IER, 0);
	printf("dlab dll=0x%02x dlm=0x%02x lcr=0x%02x ier_after=0x%02x restored_dll=0x%02x\n", dll, dlm, lcr_dlab, ier,
	       old_dll);
}

static void case_wide(void)
{
	wr(SCR, 0x5a);
	uint16_t w = inw((uint16_t)(base + SCR));
	wr(SCR, 0xa5);
	uint8_t b = rd(SCR);
	printf("wide scr16=0x%04x scr=0x%02x\n", w, b);
}

int main(int argc, char **argv)
{
	int dev = uart_device();
	if (dev < 0 || !uart_is_stdio()) {
		printf("uart_hostile FAIL: no UART console (run with --console uart)\n");
		return 1;
	}
	base = (uint16_t)pvmm_boot_info()->devices[dev].mmio_base;
	uart_set_stdio(false); /* report over the para console meanwhile */
	const char *only = argc > 1 ? argv[1] : NULL;
	static const struct {
		const char *name;
		void (*fn)(void);
	} cases[] = {
		{ "loopback", case_loopback }, { "overrun", case_overrun }, { "iir", case_iir },
		{ "readonly", case_readonly }, { "dlab", case_dlab },       { "wide", case_wide },
	};
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (!only || !strcmp(only, cases[i].name))
			cases[i].fn();

	/* What the driver set up, back again: the UART carries stdio. */
	wr(IER, 0);
	wr(LCR, 0x03);
	wr(MCR, 0x0b);
	drain_rx();
	fflush(stdout);
	uart_set_stdio(true);
	printf("uart_hostile ok\n");
	return 0;
}
