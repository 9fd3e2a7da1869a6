/*
 * 16550A UART driver (COM1), as a stock 8250 driver runs it; see
 * <pvmm/uart.h>. Every register access below is an exit to the monitor.
 *
 * Output: per FIFO load, one LSR read until THRE (the transmit FIFO is
 * empty), then up to `fifo` bytes to THR, one `outb` each: 17 exits per
 * 16 bytes. Input: LSR.DR, then RBR, per byte (2 exits), as the 8250
 * receive loop does. Interrupts stay off (IER 0); waiting for input is
 * the para-API POLL on the UART's device bit.
 *
 * Polling only, from the program: nothing here runs in interrupt context.
 */
#include <stdio.h>
#include <pvmm/guest.h>
#include <pvmm/io.h>
#include <pvmm/uart.h>
#include "runtime.h"

/* Registers (offsets from the base port). */
#define UART_RBR 0 /* read, DLAB 0 */
#define UART_THR 0 /* write, DLAB 0 */
#define UART_DLL 0 /* DLAB 1 */
#define UART_IER 1 /* DLAB 0 */
#define UART_DLM 1 /* DLAB 1 */
#define UART_IIR 2 /* read */
#define UART_FCR 2 /* write */
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5

#define LCR_8N1   0x03
#define LCR_DLAB  0x80
#define FCR_ENABLE 0x01
#define FCR_CLEAR_TX 0x04
#define FCR_TRIGGER_14 0xc0
#define IIR_FIFO_ON 0xc0
#define MCR_DTR   0x01
#define MCR_RTS   0x02
#define MCR_OUT2  0x08
#define LSR_DR    0x01
#define LSR_OE    0x02
#define LSR_THRE  0x20
#define LSR_TEMT  0x40

#define DIVISOR_115200 1
#define FIFO_SIZE 16
/* LSR polls before a wait for THRE/TEMT gives up and goes on (a stuck
 * transmitter must not hang the guest; 8250 drivers time out too). At
 * ~10 us an exit that is about 0.1 s. */
#define TX_SPINS 10000

static struct {
	int state;       /* 0 not tried, 1 open, < 0 no device */
	int index;       /* boot info device index, -1 none; valid once `looked` */
	bool looked;
	bool stdio;
	uint16_t base;
	unsigned fifo;   /* bytes per THRE: 16 with working FIFOs, else 1 */
	struct uart_stats st;
} u;

int uart_device(void)
{
	if (!u.looked) {
		const struct pvmm_boot_info *bi = pvmm_boot_info();
		u.index = -1;
		for (uint32_t i = 0; i < bi->device_count && i < PVMM_MAX_DEVICES; i++) {
			const struct pvmm_device_info *d = &bi->devices[i];
			if (d->type == PVMM_DEV_UART_16550 && d->mmio_size >= 8 && d->mmio_base + 8 <= 0x10000) {
				u.index = (int)i;
				u.base = (uint16_t)d->mmio_base;
				break;
			}
		}
		u.looked = true;
	}
	return u.index;
}

bool uart_present(void)
{
	return uart_device() >= 0;
}

int uart_open(void)
{
	if (u.state)
		return u.state > 0 ? 0 : u.state;
	if (uart_device() < 0) {
		u.state = -PVMM_ENOSYS;
		return u.state;
	}
	uint16_t b = u.base;
	/* FIFOs on first: switching them on empties them (as on hardware),
	 * so before any input can have arrived; RX is not cleared, so input
	 * that comes during the rest of the set-up stays (typeahead). */
	outb(b + UART_FCR, FCR_ENABLE | FCR_CLEAR_TX | FCR_TRIGGER_14);
	/* A 16550A reports working FIFOs in IIR bits 7-6 (an 8250/16450 or a
	 * broken 16550 does not): only then are 16 bytes per THRE safe. */
	u.fifo = (inb(b + UART_IIR) & IIR_FIFO_ON) == IIR_FIFO_ON ? FIFO_SIZE : 1;
	outb(b + UART_IER, 0);                       /* polled: no interrupts */
	outb(b + UART_LCR, LCR_DLAB);                /* 115200 baud, */
	outb(b + UART_DLL, DIVISOR_115200);
	outb(b + UART_DLM, 0);
	outb(b + UART_LCR, LCR_8N1);                 /* 8 data bits, no parity, 1 stop bit */
	outb(b + UART_MCR, MCR_DTR | MCR_RTS | MCR_OUT2); /* last: ready to receive */
	u.state = 1;
	return 0;
}

/* Read LSR (an exit); OE clears on reading, so count it here. */
static inline uint8_t lsr(void)
{
	uint8_t v = inb(u.base + UART_LSR);
	u.st.lsr_reads++;
	if (v & LSR_OE)
		u.st.overruns++;
	return v;
}

/* Poll LSR until `bits` are set, TX_SPINS reads at most. */
static void wait_lsr(uint8_t bits)
{
	for (unsigned i = 0; i < TX_SPINS; i++)
		if ((lsr() & bits) == bits)
			return;
}

int64_t uart_write(const void *buf, size_t len)
{
	int err = uart_open();
	if (err)
		return err;
	const uint8_t *p = buf;
	const uint16_t thr = u.base + UART_THR;
	size_t left = len;
	while (left) {
		wait_lsr(LSR_THRE);
		size_t n = left < u.fifo ? left : u.fifo;
		for (size_t i = 0; i < n; i++)
			outb(thr, p[i]);
		p += n;
		left -= n;
	}
	u.st.bytes_out += len;
	return (int64_t)len;
}

void uart_drain(void)
{
	if (u.state == 1)
		wait_lsr(LSR_THRE | LSR_TEMT);
}

int64_t uart_read(void *buf, size_t len)
{
	int err = uart_open();
	if (err)
		return err;
	uint8_t *p = buf;
	size_t n = 0;
	while (n < len && (lsr() & LSR_DR))
		p[n++] = inb(u.base + UART_RBR);
	u.st.bytes_in += n;
	return n ? (int64_t)n : -PVMM_EAGAIN;
}

int64_t uart_read_wait(void *buf, size_t len, uint64_t deadline_ns)
{
	for (;;) {
		int64_t r = uart_read(buf, len);
		if (r != -PVMM_EAGAIN || len == 0)
			return r;
		/* Check once more before sleeping: the monitor may move input
		 * into the FIFO as a side effect of the LSR read above (stdin
		 * a regular file) without marking the device ready. */
		r = uart_read(buf, len);
		if (r != -PVMM_EAGAIN)
			return r;
		u.st.waits++;
		stdio_before_wait();
		r = pvmm_poll(deadline_ns, 1ull << u.index, NULL);
		if (r < 0)
			return r;
		if (r == 0) /* deadline: a last look */
			return uart_read(buf, len);
	}
}

static unsigned char getc_buf[64];
static size_t getc_pos, getc_len;

int uart_getc(void)
{
	if (getc_pos == getc_len) {
		int64_t r = uart_read_wait(getc_buf, sizeof(getc_buf), UINT64_MAX);
		if (r <= 0)
			return EOF;
		getc_pos = 0;
		getc_len = (size_t)r;
	}
	unsigned char c = getc_buf[getc_pos++];
	return c == UART_EOF_CHAR ? EOF : c;
}

void uart_get_stats(struct uart_stats *st)
{
	*st = u.st;
}

/* ---- stdio ---------------------------------------------------------------- */

static int stdio_drain_uart(void)
{
	uart_drain();
	return 0;
}

bool uart_is_stdio(void)
{
	return u.stdio;
}

int uart_set_stdio(bool on)
{
	if (on == u.stdio)
		return 0;
	if (on) {
		int err = uart_open();
		if (err)
			return err;
	}
	stdio_flush(); /* what is pending goes where it was headed */
	if (on)
		stdio_set_sink(uart_write, stdio_drain_uart);
	else
		stdio_set_sink(NULL, NULL);
	u.stdio = on;
	return 0;
}

void uart_stdio_autostart(void)
{
	if (!uart_present())
		return;
	int err = uart_set_stdio(true);
	if (err) {
		static const char msg[] = "pvmm runtime: the UART is unusable; stdio stays on the para console\n";
		pvmm_console_write(msg, sizeof(msg) - 1);
	}
}
