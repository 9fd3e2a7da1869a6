/*
 * Unit tests for the emulated 16550A UART (src/devices/uart16550.c).
 *
 * The test plays a guest serial driver: every access goes through
 * uart_io() exactly as the port I/O bus would deliver it (1-byte register
 * accesses, plus 2- and 4-byte ones a hostile guest may use). Transmitted
 * bytes land in a pipe given as out_fd; input is offered with
 * uart_receive() as the I/O thread would. The IRQ callback records the
 * line level and counts transitions, so a test can check both the level
 * and that the model never "re-asserts" an already asserted line.
 *
 * Expected values are the 16550A's (and docs/devices.md's) semantics.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "devices/uart16550.h"

/* Register offsets (from 0x3f8). */
enum { RBR_THR = 0, IER = 1, IIR_FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7 };

#define IER_RDA   0x01
#define IER_THRE  0x02
#define IER_RLS   0x04
#define IER_MS    0x08
#define MCR_DTR   0x01
#define MCR_RTS   0x02
#define MCR_OUT1  0x04
#define MCR_OUT2  0x08
#define MCR_LOOP  0x10
#define LSR_DR    0x01
#define LSR_OE    0x02
#define LSR_THRE  0x20
#define LSR_TEMT  0x40
#define LCR_DLAB  0x80

struct fx {
	struct uart *u;
	int rd, wr;             /* the pipe: the UART writes to wr, the test reads rd */
	int level;              /* the IRQ line as the callback last set it */
	unsigned rises, falls;
	unsigned redundant;     /* callbacks that did not change the level */
};

static void irq_cb(void *ctx, int level)
{
	struct fx *f = ctx;
	if (level == f->level)
		f->redundant++;
	if (level)
		f->rises++;
	else
		f->falls++;
	f->level = level;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	int p[2];
	assert_non_null(f);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	/* Non-blocking read end: "nothing was sent" reads as EAGAIN, not a hang. */
	assert_int_equal(fcntl(p[0], F_SETFL, O_NONBLOCK), 0);
	f->rd = p[0];
	f->wr = p[1];
	f->u = uart_create(&(struct console_sink){ .fd = f->wr }, irq_cb, f);
	assert_non_null(f->u);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	uart_destroy(f->u);
	close(f->rd);
	close(f->wr);
	free(f);
	return 0;
}

static uint8_t rd(struct fx *f, uint16_t off)
{
	uint8_t v = 0x5a;
	uart_io(f->u, off, false, &v, 1);
	return v;
}

static void wr(struct fx *f, uint16_t off, uint8_t v)
{
	uart_io(f->u, off, true, &v, 1);
}

/* Everything the UART has written to out_fd since the last call. */
static size_t drain_out(struct fx *f, uint8_t *buf, size_t cap)
{
	size_t n = 0;
	for (;;) {
		ssize_t r = read(f->rd, buf + n, cap - n);
		if (r > 0) {
			n += (size_t)r;
			if (n == cap)
				return n;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		assert_true(r < 0 && errno == EAGAIN); /* the write end stays open */
		return n;
	}
}

static void assert_nothing_sent(struct fx *f)
{
	uint8_t b[64];
	assert_int_equal(drain_out(f, b, sizeof(b)), 0);
}

/* Host input follows hardware flow control: it flows only while the
 * guest holds RTS up (outside loopback), as a driver does after setup. */
static void rts_on(struct fx *f)
{
	wr(f, MCR, (uint8_t)(rd(f, MCR) | 0x02));
}

/* ---- transmit, LSR, divisor latch, plain registers ---------------------- */

static void test_power_on_register_values(void **state)
{
	struct fx *f = *state;
	assert_int_equal(rd(f, IER), 0x00);
	assert_int_equal(rd(f, IIR_FCR), 0x01);     /* nothing pending, FIFOs off */
	assert_int_equal(rd(f, LCR), 0x03);         /* 8N1 as firmware leaves it */
	assert_int_equal(rd(f, MCR), 0x00);
	assert_int_equal(rd(f, LSR), LSR_THRE | LSR_TEMT);
	assert_int_equal(rd(f, MSR), 0xb0);         /* CTS|DSR|DCD, no deltas */
	assert_int_equal(f->level, 0);
	assert_int_equal(f->rises + f->falls, 0);
	assert_int_equal(uart_rx_room(f->u), 0); /* RTS low: the host holds input back */
}

static void test_host_input_follows_rts_flow_control(void **state)
{
	struct fx *f = *state;
	assert_int_equal(uart_receive(f->u, (const uint8_t *)"a", 1), 0); /* RTS low */
	wr(f, MCR, 0x02);
	assert_int_equal(uart_receive(f->u, (const uint8_t *)"a", 1), 1);
	assert_int_equal(rd(f, RBR_THR), 'a');
	wr(f, MCR, 0x12); /* loopback: the line is disconnected */
	assert_int_equal(uart_rx_room(f->u), 0);
	assert_int_equal(uart_receive(f->u, (const uint8_t *)"b", 1), 0);
	wr(f, MCR, 0x00);
	assert_int_equal(uart_rx_room(f->u), 0);
}

static void test_thr_write_sends_byte_to_out_fd(void **state)
{
	struct fx *f = *state;
	uint8_t out[8];
	const char *msg = "hi\n\0\xff";

	for (unsigned i = 0; i < 5; i++)
		wr(f, RBR_THR, (uint8_t)msg[i]);
	assert_int_equal(drain_out(f, out, sizeof(out)), 5);
	assert_memory_equal(out, msg, 5);           /* binary-safe: NUL and 0xff too */
	assert_int_equal(uart_stats(f->u).bytes_out, 5);
}

static void test_lsr_always_reads_thre_and_temt(void **state)
{
	struct fx *f = *state;
	/* Transmission is instantaneous: THR is empty again at once. */
	for (unsigned i = 0; i < 100; i++) {
		wr(f, RBR_THR, (uint8_t)i);
		assert_int_equal(rd(f, LSR) & (LSR_THRE | LSR_TEMT), LSR_THRE | LSR_TEMT);
	}
	uint8_t out[128];
	assert_int_equal(drain_out(f, out, sizeof(out)), 100);
}

static void test_dlab_makes_offsets_0_and_1_the_divisor_latch(void **state)
{
	struct fx *f = *state;

	wr(f, IER, IER_RDA);
	wr(f, LCR, LCR_DLAB | 0x03);
	wr(f, RBR_THR, 0x01);                       /* 115200 baud: divisor 1 */
	wr(f, IER, 0x00);
	assert_int_equal(rd(f, RBR_THR), 0x01);
	assert_int_equal(rd(f, IER), 0x00);
	wr(f, RBR_THR, 0x0c);                       /* 9600 baud: divisor 12 */
	wr(f, IER, 0xab);
	assert_int_equal(rd(f, RBR_THR), 0x0c);
	assert_int_equal(rd(f, IER), 0xab);         /* DLM keeps all 8 bits */
	assert_nothing_sent(f);                     /* DLL writes are not THR writes */

	/* A received byte stays put while DLAB hides RBR. */
	rts_on(f);
	assert_int_equal(uart_receive(f->u, (const uint8_t *)"R", 1), 1);
	assert_int_equal(rd(f, RBR_THR), 0x0c);
	assert_true(rd(f, LSR) & LSR_DR);

	wr(f, LCR, 0x03);
	assert_int_equal(rd(f, IER), IER_RDA);      /* the real IER was untouched */
	assert_int_equal(rd(f, RBR_THR), 'R');
	wr(f, LCR, LCR_DLAB | 0x03);
	assert_int_equal(rd(f, RBR_THR), 0x0c);     /* the latch survives DLAB off/on */
	assert_int_equal(rd(f, IER), 0xab);
}

static void test_scratch_register_round_trip(void **state)
{
	struct fx *f = *state;
	for (unsigned v = 0; v < 256; v++) {
		wr(f, SCR, (uint8_t)v);
		assert_int_equal(rd(f, SCR), v);
	}
	assert_nothing_sent(f);
}

static void test_lcr_round_trip_all_values(void **state)
{
	struct fx *f = *state;
	for (unsigned v = 0; v < 256; v++) {
		wr(f, LCR, (uint8_t)v);
		assert_int_equal(rd(f, LCR), v);        /* readable whatever DLAB is */
	}
}

static void test_mcr_keeps_five_bits(void **state)
{
	struct fx *f = *state;
	wr(f, MCR, 0xff);
	assert_int_equal(rd(f, MCR), 0x1f);
	wr(f, MCR, 0x0b);
	assert_int_equal(rd(f, MCR), 0x0b);
}

/* ---- THRE interrupt ------------------------------------------------------ */

static void test_thre_interrupt_raised_by_etbei_acked_by_iir_read(void **state)
{
	struct fx *f = *state;

	wr(f, MCR, MCR_OUT2);
	assert_int_equal(f->level, 0);
	wr(f, IER, IER_THRE);                       /* THR is empty: fires at once */
	assert_int_equal(f->level, 1);
	assert_int_equal(rd(f, IIR_FCR), 0x02);     /* reading it acknowledges... */
	assert_int_equal(f->level, 0);              /* ...and the line drops */
	assert_int_equal(rd(f, IIR_FCR), 0x01);

	wr(f, RBR_THR, 'x');                        /* the byte leaves: empty again */
	assert_int_equal(f->level, 1);
	assert_int_equal(rd(f, IIR_FCR), 0x02);
	assert_int_equal(f->level, 0);

	/* Rewriting IER with ETBEI still set does not re-raise; toggling does. */
	wr(f, IER, IER_THRE);
	assert_int_equal(rd(f, IIR_FCR), 0x01);
	wr(f, IER, 0);
	wr(f, IER, IER_THRE);
	assert_int_equal(f->level, 1);
	assert_int_equal(rd(f, IIR_FCR), 0x02);
	assert_int_equal(f->rises, 3);
	assert_int_equal(f->falls, 3);
	assert_int_equal(f->redundant, 0);
}

static void test_thre_interrupt_line_needs_out2(void **state)
{
	struct fx *f = *state;

	wr(f, IER, IER_THRE);
	assert_int_equal(f->level, 0);              /* pending, but OUT2 gates it */
	wr(f, MCR, MCR_DTR | MCR_RTS);
	assert_int_equal(f->level, 0);
	wr(f, MCR, MCR_DTR | MCR_RTS | MCR_OUT2);
	assert_int_equal(f->level, 1);              /* the pending interrupt shows */
	wr(f, MCR, MCR_DTR | MCR_RTS);
	assert_int_equal(f->level, 0);
	assert_int_equal(rd(f, IIR_FCR), 0x02);     /* IIR reports it regardless */
	assert_int_equal(rd(f, IIR_FCR), 0x01);
	wr(f, MCR, MCR_OUT2);
	assert_int_equal(f->level, 0);              /* acknowledged meanwhile */
}

static void test_disabling_etbei_withdraws_thre(void **state)
{
	struct fx *f = *state;
	wr(f, MCR, MCR_OUT2);
	wr(f, IER, IER_THRE);
	assert_int_equal(f->level, 1);
	wr(f, IER, 0);
	assert_int_equal(f->level, 0);
	assert_int_equal(rd(f, IIR_FCR), 0x01);
}

/* ---- receive ------------------------------------------------------------ */

static void test_receive_sets_dr_and_rda_interrupt(void **state)
{
	struct fx *f = *state;

	wr(f, MCR, MCR_OUT2);
	wr(f, IER, IER_RDA);
	assert_int_equal(f->level, 0);
	rts_on(f);
	assert_int_equal(uart_receive(f->u, (const uint8_t *)"k", 1), 1);
	assert_int_equal(f->level, 1);
	assert_int_equal(rd(f, LSR), LSR_THRE | LSR_TEMT | LSR_DR);
	assert_int_equal(rd(f, IIR_FCR), 0x04);
	assert_int_equal(f->level, 1);              /* IIR read does not ack RDA */
	assert_int_equal(rd(f, RBR_THR), 'k');      /* reading RBR does */
	assert_int_equal(f->level, 0);
	assert_int_equal(rd(f, IIR_FCR), 0x01);
	assert_int_equal(rd(f, LSR), LSR_THRE | LSR_TEMT);
	assert_int_equal(uart_stats(f->u).bytes_in, 1);
}

static void test_holding_register_takes_one_byte_with_fifo_off(void **state)
{
	struct fx *f = *state;

	rts_on(f);
	assert_int_equal(uart_rx_room(f->u), 1);
	assert_int_equal(uart_receive(f->u, (const uint8_t *)"xyz", 3), 1);
	assert_int_equal(uart_rx_room(f->u), 0);
	assert_int_equal(uart_receive(f->u, (const uint8_t *)"yz", 2), 0);
	assert_int_equal(rd(f, LSR) & (LSR_DR | LSR_OE), LSR_DR); /* refused, not overrun */
	assert_int_equal(rd(f, RBR_THR), 'x');
	assert_int_equal(rd(f, LSR) & LSR_DR, 0);
	assert_int_equal(uart_rx_room(f->u), 1);
	assert_int_equal(uart_receive(f->u, (const uint8_t *)"y", 1), 1);
	assert_int_equal(rd(f, RBR_THR), 'y');
	assert_int_equal(uart_stats(f->u).bytes_in, 2);
}

static void test_fifo_holds_16_in_order_and_refuses_the_17th(void **state)
{
	struct fx *f = *state;
	uint8_t in[20];

	for (unsigned i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(0xa0 + i);
	wr(f, IIR_FCR, 0x01);
	rts_on(f);
	assert_int_equal(uart_rx_room(f->u), 16);
	assert_int_equal(uart_receive(f->u, in, 20), 16);
	assert_int_equal(uart_rx_room(f->u), 0);
	assert_int_equal(uart_receive(f->u, in + 16, 1), 0);
	wr(f, IER, IER_RDA);
	assert_int_equal(rd(f, IIR_FCR), 0xc4);     /* RDA, FIFO bits set */
	for (unsigned i = 0; i < 16; i++) {
		assert_true(rd(f, LSR) & LSR_DR);
		assert_int_equal(rd(f, RBR_THR), 0xa0 + i);
	}
	assert_int_equal(rd(f, LSR), LSR_THRE | LSR_TEMT); /* no OE: nothing was lost */
	assert_int_equal(rd(f, IIR_FCR), 0xc1);
	/* The ring wraps cleanly. */
	assert_int_equal(uart_receive(f->u, in, 10), 10);
	assert_int_equal(uart_receive(f->u, in + 10, 10), 6);
	for (unsigned i = 0; i < 16; i++)
		assert_int_equal(rd(f, RBR_THR), 0xa0 + i);
	assert_int_equal(uart_stats(f->u).bytes_in, 32);
}

static void test_fcr_clear_rx_empties_fifo(void **state)
{
	struct fx *f = *state;

	wr(f, IIR_FCR, 0x01);
	rts_on(f);
	assert_int_equal(uart_receive(f->u, (const uint8_t *)"abcde", 5), 5);
	wr(f, IIR_FCR, 0x03);                       /* enable + clear RX */
	assert_int_equal(rd(f, LSR) & LSR_DR, 0);
	assert_int_equal(uart_rx_room(f->u), 16);
	assert_int_equal(rd(f, IIR_FCR), 0xc1);     /* the clear bit self-resets; FIFO stays on */
	assert_int_equal(uart_receive(f->u, (const uint8_t *)"fg", 2), 2);
	assert_int_equal(rd(f, RBR_THR), 'f');
	assert_int_equal(rd(f, RBR_THR), 'g');
}

static void test_switching_fifo_mode_empties_receiver(void **state)
{
	struct fx *f = *state;

	rts_on(f);
	assert_int_equal(uart_receive(f->u, (const uint8_t *)"a", 1), 1);
	wr(f, IIR_FCR, 0x01);
	assert_int_equal(rd(f, LSR) & LSR_DR, 0);
	assert_int_equal(uart_receive(f->u, (const uint8_t *)"bcd", 3), 3);
	wr(f, IIR_FCR, 0x00);
	assert_int_equal(rd(f, LSR) & LSR_DR, 0);
	assert_int_equal(uart_rx_room(f->u), 1);
	/* Rewriting the same mode (trigger level only) keeps the data. */
	wr(f, IIR_FCR, 0x01);
	assert_int_equal(uart_receive(f->u, (const uint8_t *)"ef", 2), 2);
	wr(f, IIR_FCR, 0xc1);
	assert_int_equal(rd(f, RBR_THR), 'e');
	assert_int_equal(rd(f, RBR_THR), 'f');
}

static void test_iir_fifo_bits_follow_fcr_enable(void **state)
{
	struct fx *f = *state;
	assert_int_equal(rd(f, IIR_FCR), 0x01);
	wr(f, IIR_FCR, 0x01);
	assert_int_equal(rd(f, IIR_FCR), 0xc1);
	wr(f, IIR_FCR, 0x81);                       /* trigger level: stored, no effect */
	assert_int_equal(rd(f, IIR_FCR), 0xc1);
	wr(f, IER, IER_THRE);
	assert_int_equal(rd(f, IIR_FCR), 0xc2);
	wr(f, IIR_FCR, 0x00);
	assert_int_equal(rd(f, IIR_FCR), 0x01);
	/* FCR is write-only: DLAB does not move it. */
	wr(f, LCR, LCR_DLAB);
	wr(f, IIR_FCR, 0x01);
	assert_int_equal(rd(f, IIR_FCR), 0xc1);
}

static void test_empty_rbr_read_is_harmless(void **state)
{
	struct fx *f = *state;
	for (unsigned i = 0; i < 4; i++)
		(void)rd(f, RBR_THR);
	assert_int_equal(rd(f, LSR), LSR_THRE | LSR_TEMT);
	rts_on(f);
	assert_int_equal(uart_rx_room(f->u), 1);
	assert_int_equal(uart_receive(f->u, (const uint8_t *)"q", 1), 1);
	assert_int_equal(rd(f, RBR_THR), 'q');
}

/* ---- loopback and modem status ------------------------------------------ */

static void test_loopback_echoes_thr_to_rbr_and_sends_nothing(void **state)
{
	struct fx *f = *state;

	wr(f, IIR_FCR, 0x01);
	wr(f, IER, IER_RDA | IER_THRE | IER_RLS | IER_MS);
	wr(f, MCR, MCR_LOOP | MCR_OUT2);
	for (unsigned i = 0; i < 10; i++)
		wr(f, RBR_THR, (uint8_t)('0' + i));
	assert_true(rd(f, LSR) & LSR_DR);
	assert_int_equal(rd(f, IIR_FCR) & 0x0f, 0x04);
	for (unsigned i = 0; i < 10; i++)
		assert_int_equal(rd(f, RBR_THR), '0' + i);
	assert_nothing_sent(f);
	assert_int_equal(uart_stats(f->u).bytes_out, 0);
	/* Interrupts are pending all along, but loopback keeps the line low. */
	assert_int_equal(f->rises, 0);
	assert_int_equal(f->level, 0);

	wr(f, MCR, MCR_OUT2);                       /* leave loopback */
	wr(f, RBR_THR, '!');
	uint8_t b;
	assert_int_equal(drain_out(f, &b, 1), 1);
	assert_int_equal(b, '!');
}

static void test_loopback_msr_mirrors_mcr_with_deltas(void **state)
{
	struct fx *f = *state;

	wr(f, MCR, MCR_LOOP);                       /* CTS, DSR, DCD all fall */
	assert_int_equal(rd(f, MSR), 0x0b);         /* DCTS|DDSR|DDCD */
	assert_int_equal(rd(f, MSR), 0x00);         /* reading cleared the deltas */

	wr(f, MCR, MCR_LOOP | MCR_RTS);
	assert_int_equal(rd(f, MSR), 0x11);         /* CTS + DCTS */
	wr(f, MCR, MCR_LOOP | MCR_RTS | MCR_DTR);
	assert_int_equal(rd(f, MSR), 0x32);         /* CTS, DSR + DDSR */
	wr(f, MCR, MCR_LOOP | MCR_RTS | MCR_DTR | MCR_OUT1);
	assert_int_equal(rd(f, MSR), 0x70);         /* RI rises: TERI is trailing edge only */
	wr(f, MCR, MCR_LOOP | MCR_RTS | MCR_DTR | MCR_OUT2);
	assert_int_equal(rd(f, MSR), 0xb4 | 0x08);  /* RI falls (TERI), DCD rises (DDCD) */
	assert_int_equal(rd(f, MSR), 0xb0);

	/* Deltas accumulate until read. */
	wr(f, MCR, MCR_LOOP);
	wr(f, MCR, MCR_LOOP | MCR_RTS);
	assert_int_equal(rd(f, MSR), 0x1b);

	/* Leaving loopback: a connected, ready line again. */
	wr(f, MCR, 0);
	assert_int_equal(rd(f, MSR), 0xb0 | 0x0a);  /* DSR, DCD rose; CTS stayed */
	assert_int_equal(rd(f, MSR), 0xb0);
}

static void test_modem_status_interrupt_and_loopback_keeps_line_low(void **state)
{
	struct fx *f = *state;

	wr(f, IER, IER_MS);
	wr(f, MCR, MCR_LOOP | MCR_OUT2);
	assert_int_equal(rd(f, IIR_FCR), 0x00);     /* MS pending */
	assert_int_equal(f->level, 0);              /* ...but loopback gates the line */
	(void)rd(f, MSR);
	assert_int_equal(rd(f, IIR_FCR), 0x01);
	wr(f, MCR, MCR_LOOP | MCR_OUT2 | MCR_RTS);
	assert_int_equal(rd(f, IIR_FCR), 0x00);
	assert_int_equal(f->level, 0);
	wr(f, MCR, MCR_OUT2);                       /* out of loopback, deltas unread */
	assert_int_equal(f->level, 1);
	assert_int_equal(rd(f, IIR_FCR), 0x00);
	assert_int_equal(f->level, 1);              /* IIR read does not ack MS */
	(void)rd(f, MSR);
	assert_int_equal(f->level, 0);
	assert_int_equal(f->redundant, 0);
}

/* ---- overrun and priorities --------------------------------------------- */

static void test_refused_input_is_backpressure_not_overrun(void **state)
{
	struct fx *f = *state;
	rts_on(f);
	/* uart_receive() takes only what fits (the I/O thread asks rx_room
	 * first), so host input never overruns; the caller keeps the rest. */
	wr(f, IER, IER_RLS);
	assert_int_equal(uart_receive(f->u, (const uint8_t *)"ab", 2), 1);
	assert_int_equal(rd(f, IIR_FCR), 0x01);
	assert_int_equal(rd(f, LSR), LSR_THRE | LSR_TEMT | LSR_DR);
}

static void test_loopback_overrun_sets_oe_and_rls_interrupt(void **state)
{
	struct fx *f = *state;

	wr(f, IER, IER_RLS);
	wr(f, MCR, MCR_LOOP);
	wr(f, RBR_THR, 'a');                        /* fills the holding register */
	assert_int_equal(rd(f, IIR_FCR), 0x01);
	wr(f, RBR_THR, 'b');                        /* no room: lost, OE */
	assert_int_equal(rd(f, IIR_FCR), 0x06);
	assert_int_equal(rd(f, IIR_FCR), 0x06);     /* IIR read does not clear RLS */
	assert_int_equal(rd(f, LSR), LSR_THRE | LSR_TEMT | LSR_DR | LSR_OE);
	assert_int_equal(rd(f, LSR), LSR_THRE | LSR_TEMT | LSR_DR); /* LSR read clears OE */
	assert_int_equal(rd(f, IIR_FCR), 0x01);
	assert_int_equal(rd(f, RBR_THR), 'a');      /* the first byte survives */

	/* With the FIFO on, the 17th byte overruns. */
	wr(f, IIR_FCR, 0x01);
	for (unsigned i = 0; i < 16; i++)
		wr(f, RBR_THR, (uint8_t)i);
	assert_int_equal(rd(f, LSR) & LSR_OE, 0);
	wr(f, RBR_THR, 0xee);
	assert_int_equal(rd(f, IIR_FCR), 0xc6);
	assert_int_equal(rd(f, LSR) & LSR_OE, LSR_OE);
	for (unsigned i = 0; i < 16; i++)
		assert_int_equal(rd(f, RBR_THR), i);
	assert_int_equal(rd(f, LSR), LSR_THRE | LSR_TEMT);

	/* Overrun without ELSI: OE in LSR, no interrupt. */
	wr(f, IER, 0);
	wr(f, IIR_FCR, 0x00);
	wr(f, RBR_THR, 1);
	wr(f, RBR_THR, 2);
	assert_int_equal(rd(f, IIR_FCR), 0x01);
	assert_int_equal(rd(f, LSR) & LSR_OE, LSR_OE);
}

static void test_iir_priority_rls_then_rda_then_thre(void **state)
{
	struct fx *f = *state;

	/* Make an overrun in loopback, then leave it so the line can show. */
	wr(f, MCR, MCR_LOOP);
	wr(f, RBR_THR, 'p');
	wr(f, RBR_THR, 'q');
	(void)rd(f, IIR_FCR);                       /* nothing enabled yet: acks nothing */
	wr(f, MCR, MCR_OUT2);
	(void)rd(f, MSR);                           /* drop the deltas leaving loopback made */
	assert_int_equal(f->level, 0);
	wr(f, IER, IER_RDA | IER_THRE | IER_RLS | IER_MS);
	assert_int_equal(f->level, 1);

	assert_int_equal(rd(f, IIR_FCR), 0x06);
	assert_int_equal(rd(f, LSR) & LSR_OE, LSR_OE);
	assert_int_equal(f->level, 1);
	assert_int_equal(rd(f, IIR_FCR), 0x04);     /* THRE still pending beneath */
	assert_int_equal(rd(f, RBR_THR), 'p');
	assert_int_equal(f->level, 1);
	assert_int_equal(rd(f, IIR_FCR), 0x02);     /* now THRE, acked by this read */
	assert_int_equal(f->level, 0);
	assert_int_equal(rd(f, IIR_FCR), 0x01);
	assert_int_equal(f->rises, 1);
	assert_int_equal(f->falls, 1);
}

static void test_iir_read_does_not_ack_thre_hidden_behind_rda(void **state)
{
	struct fx *f = *state;
	wr(f, IER, IER_RDA | IER_THRE);
	rts_on(f);
	assert_int_equal(uart_receive(f->u, (const uint8_t *)"z", 1), 1);
	assert_int_equal(rd(f, IIR_FCR), 0x04);
	assert_int_equal(rd(f, IIR_FCR), 0x04);
	(void)rd(f, RBR_THR);
	assert_int_equal(rd(f, IIR_FCR), 0x02);     /* survived the two IIR reads */
	assert_int_equal(rd(f, IIR_FCR), 0x01);
}

/* ---- hostile and odd accesses ------------------------------------------- */

static void test_lsr_and_msr_writes_are_ignored(void **state)
{
	struct fx *f = *state;
	wr(f, LSR, 0xff);
	wr(f, MSR, 0xff);
	wr(f, LSR, 0x00);
	wr(f, MSR, 0x00);
	assert_int_equal(rd(f, LSR), LSR_THRE | LSR_TEMT);
	assert_int_equal(rd(f, MSR), 0xb0);
	assert_int_equal(rd(f, IIR_FCR), 0x01);
	assert_int_equal(rd(f, SCR), 0x00);
	assert_nothing_sent(f);
}

static void test_wide_accesses_act_on_first_byte(void **state)
{
	struct fx *f = *state;
	uint8_t d[4];

	wr(f, SCR, 0x42);
	memset(d, 0, sizeof(d));
	uart_io(f->u, SCR, false, d, 2);
	assert_int_equal(d[0], 0x42);
	assert_int_equal(d[1], 0xff);
	memset(d, 0, sizeof(d));
	uart_io(f->u, SCR, false, d, 4);
	assert_int_equal(d[0], 0x42);
	assert_int_equal(d[1], 0xff);
	assert_int_equal(d[2], 0xff);
	assert_int_equal(d[3], 0xff);

	/* A 4-byte write at SCR writes SCR only: LSR/MSR/next ports untouched. */
	d[0] = 0x11; d[1] = 0x22; d[2] = 0x33; d[3] = 0x44;
	uart_io(f->u, SCR, true, d, 4);
	assert_int_equal(rd(f, SCR), 0x11);
	/* A 4-byte write at LCR sets LCR only, not MCR (0x22 would set RTS + LOOP). */
	d[0] = 0x03; d[1] = 0x12;
	uart_io(f->u, LCR, true, d, 4);
	assert_int_equal(rd(f, LCR), 0x03);
	assert_int_equal(rd(f, MCR), 0x00);

	/* A 2-byte THR write sends one byte; a 4-byte RBR read pops one. */
	d[0] = 'A'; d[1] = 'B';
	uart_io(f->u, RBR_THR, true, d, 2);
	uint8_t out[4];
	assert_int_equal(drain_out(f, out, sizeof(out)), 1);
	assert_int_equal(out[0], 'A');
	wr(f, IIR_FCR, 0x01);
	rts_on(f);
	assert_int_equal(uart_receive(f->u, (const uint8_t *)"xy", 2), 2);
	memset(d, 0, sizeof(d));
	uart_io(f->u, RBR_THR, false, d, 4);
	assert_int_equal(d[0], 'x');
	assert_int_equal(d[1], 0xff);
	assert_int_equal(rd(f, RBR_THR), 'y');
}

static void test_offsets_wrap_within_eight_ports(void **state)
{
	struct fx *f = *state;
	/* The bus hands out offsets 0..7; anything larger aliases, never indexes out. */
	wr(f, SCR, 0x99);
	assert_int_equal(rd(f, (uint16_t)(8 + SCR)), 0x99);
	assert_int_equal(rd(f, 0xffff), 0x99);
}

static void test_string_io_like_rep_outsb_and_insb(void **state)
{
	struct fx *f = *state;
	uint8_t msg[200], out[256], in[16];

	/* rep outsb: the same port, byte after byte. */
	for (unsigned i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)(i * 7 + 3);
	for (unsigned i = 0; i < sizeof(msg); i++)
		uart_io(f->u, RBR_THR, true, &msg[i], 1);
	assert_int_equal(drain_out(f, out, sizeof(out)), sizeof(msg));
	assert_memory_equal(out, msg, sizeof(msg));

	/* rep insb of a full FIFO. */
	wr(f, IIR_FCR, 0x01);
	rts_on(f);
	assert_int_equal(uart_receive(f->u, msg, 16), 16);
	for (unsigned i = 0; i < sizeof(in); i++)
		uart_io(f->u, RBR_THR, false, &in[i], 1);
	assert_memory_equal(in, msg, sizeof(in));
}

static void test_null_irq_callback_and_destroy_null(void **state)
{
	(void)state;
	int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	struct uart *u = uart_create(&(struct console_sink){ .fd = fd }, NULL, NULL);
	assert_non_null(u);
	uint8_t v = IER_THRE;
	uart_io(u, IER, true, &v, 1);
	v = MCR_OUT2;
	uart_io(u, MCR, true, &v, 1);               /* the line would rise: no callback, no crash */
	v = 'x';
	uart_io(u, RBR_THR, true, &v, 1);
	uart_io(u, IIR_FCR, false, &v, 1);
	assert_int_equal(v, 0x02);
	uart_destroy(u);
	uart_destroy(NULL);
	close(fd);
}

static void test_stats_count_every_access(void **state)
{
	struct fx *f = *state;
	wr(f, RBR_THR, 'a');
	(void)rd(f, LSR);
	(void)rd(f, SCR);
	rts_on(f);
	assert_int_equal(uart_receive(f->u, (const uint8_t *)"b", 1), 1);
	struct uart_stats s = uart_stats(f->u);
	assert_int_equal(s.register_accesses, 5); /* 3 above, and rts_on's read and write */
	assert_int_equal(s.bytes_out, 1);
	assert_int_equal(s.bytes_in, 1);
}

/* ---- randomised hostile sequence ---------------------------------------- */

static uint64_t rng_state;

static uint32_t rnd(void)
{
	/* xorshift64*: deterministic, so a failure replays exactly. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545f4914f6cdd1dull) >> 32);
}

static void check_iir_value(uint8_t v, bool fifo)
{
	uint8_t id = v & 0x0f;
	assert_true(id == 0x01 || id == 0x00 || id == 0x02 || id == 0x04 || id == 0x06);
	assert_int_equal(v & 0x30, 0);
	assert_int_equal(v & 0xc0, fifo ? 0xc0 : 0x00);
}

static void test_random_access_sequence_keeps_invariants(void **state)
{
	struct fx *f = *state;
	static const unsigned sizes[] = { 1, 1, 1, 1, 2, 4 };
	uint64_t sent = 0;             /* THR writes that must have reached out_fd */
	uint64_t received = 0;
	bool fifo = false;
	uint8_t lcr = 0x03, mcr = 0;   /* shadows: both registers are readable anyway */

	rng_state = 0x9e3779b97f4a7c15ull;
	for (unsigned step = 0; step < 10000; step++) {
		uint16_t off = (uint16_t)(rnd() % 8);
		unsigned size = sizes[rnd() % 6];
		bool write = rnd() & 1;
		uint8_t d[4];
		uint32_t r = rnd();
		memcpy(d, &r, 4);

		if (rnd() % 8 == 0) {
			uint8_t in[20];
			/* room is 0 while the random MCR holds RTS low or loops back */
			unsigned n = rnd() % 20, room = uart_rx_room(f->u);
			for (unsigned i = 0; i < n; i++)
				in[i] = (uint8_t)rnd();
			unsigned took = uart_receive(f->u, in, n);
			assert_int_equal(took, n < room ? n : room);
			received += took;
		}

		if (write && off == MCR)
			d[0] &= (rnd() & 1) ? 0x0f : 0xff; /* leave loopback often enough */
		uart_io(f->u, off, write, d, size);

		if (write) {
			if (off == RBR_THR && !(lcr & LCR_DLAB) && !(mcr & MCR_LOOP))
				sent++;
			if (off == IIR_FCR)
				fifo = d[0] & 0x01;
			if (off == LCR)
				lcr = d[0];
			if (off == MCR)
				mcr = d[0] & 0x1f;
		} else {
			for (unsigned i = 1; i < size; i++)
				assert_int_equal(d[i], 0xff);
			if (off == LSR) {
				assert_int_equal(d[0] & (LSR_THRE | LSR_TEMT), LSR_THRE | LSR_TEMT);
				assert_int_equal(d[0] & 0x9c, 0); /* no modelled FE/PE/BI/FIFO error */
			}
			if (off == IIR_FCR)
				check_iir_value(d[0], fifo);
			if (off == LCR)
				assert_int_equal(d[0], lcr);
			if (off == MCR)
				assert_int_equal(d[0], mcr);
			if (off == IER && !(lcr & LCR_DLAB))
				assert_int_equal(d[0] & 0xf0, 0);
		}
		assert_true(uart_rx_room(f->u) <= (fifo ? 16u : 1u));

		/* Now and then, check the line against what IIR says is pending:
		 * level == (pending && OUT2 && !loop). */
		if (rnd() % 4 == 0) {
			int level = f->level;
			uint8_t m = rd(f, MCR), iir = rd(f, IIR_FCR);
			check_iir_value(iir, fifo);
			bool pending = !(iir & 0x01);
			assert_int_equal(level, pending && (m & MCR_OUT2) && !(m & MCR_LOOP));
		}
		assert_int_equal(f->redundant, 0);
	}

	/* Every THR byte outside DLAB and loopback came out, and nothing else. */
	static uint8_t out[16384];
	assert_int_equal(drain_out(f, out, sizeof(out)), sent);
	struct uart_stats s = uart_stats(f->u);
	assert_int_equal(s.bytes_out, sent);
	assert_int_equal(s.bytes_in, received);
	assert_true(sent > 100 && received > 100);  /* the walk really did both */
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_power_on_register_values),
		T(test_host_input_follows_rts_flow_control),
		T(test_thr_write_sends_byte_to_out_fd),
		T(test_lsr_always_reads_thre_and_temt),
		T(test_dlab_makes_offsets_0_and_1_the_divisor_latch),
		T(test_scratch_register_round_trip),
		T(test_lcr_round_trip_all_values),
		T(test_mcr_keeps_five_bits),
		T(test_thre_interrupt_raised_by_etbei_acked_by_iir_read),
		T(test_thre_interrupt_line_needs_out2),
		T(test_disabling_etbei_withdraws_thre),
		T(test_receive_sets_dr_and_rda_interrupt),
		T(test_holding_register_takes_one_byte_with_fifo_off),
		T(test_fifo_holds_16_in_order_and_refuses_the_17th),
		T(test_fcr_clear_rx_empties_fifo),
		T(test_switching_fifo_mode_empties_receiver),
		T(test_iir_fifo_bits_follow_fcr_enable),
		T(test_empty_rbr_read_is_harmless),
		T(test_loopback_echoes_thr_to_rbr_and_sends_nothing),
		T(test_loopback_msr_mirrors_mcr_with_deltas),
		T(test_modem_status_interrupt_and_loopback_keeps_line_low),
		T(test_refused_input_is_backpressure_not_overrun),
		T(test_loopback_overrun_sets_oe_and_rls_interrupt),
		T(test_iir_priority_rls_then_rda_then_thre),
		T(test_iir_read_does_not_ack_thre_hidden_behind_rda),
		T(test_lsr_and_msr_writes_are_ignored),
		T(test_wide_accesses_act_on_first_byte),
		T(test_offsets_wrap_within_eight_ports),
		T(test_string_io_like_rep_outsb_and_insb),
		cmocka_unit_test(test_null_irq_callback_and_destroy_null),
		T(test_stats_count_every_access),
		T(test_random_access_sequence_keeps_invariants),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
