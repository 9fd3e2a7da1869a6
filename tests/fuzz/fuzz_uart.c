/*
 * Fuzz target: the emulated 16550A UART (src/devices/uart16550.c). The
 * guest side is any register access through the real port bus, string I/O
 * included; the host side is input offered with uart_receive(), as the I/O
 * thread offers stdin. Transmitted bytes go to /dev/null.
 *
 * Input: operations until it ends, each starting with a byte `op`:
 *   bit 6 set: host input: u8 n (mod 33), then n bytes for uart_receive()
 *   else a register access: bits 0-2: register (port 0x3f8 + n);
 *        bit 3: write; bits 4-5: size 1, 2, 4 (3 reads as 1);
 *        bit 7: string I/O, u8 reps - 1 follows;
 *        writes: size * reps bytes of data
 *
 * Checked besides memory safety: uart_receive() takes exactly what
 * uart_rx_room() said there was room for, never more than the FIFO; the
 * IRQ callback only reports changes of level; bytes of a wide read past
 * the first read as FFh; the device counts the accesses and input bytes.
 */
#include <fcntl.h>
#include <unistd.h>

#include "devices/uart16550.h"
#include "fuzz_common.h"
#include "pio.h"

#define MAX_REPS 256u
#define MAX_RX 32u

static int dev_null = -1;
static int irq_level;

static void irq_cb(void *ctx, int level)
{
	(void)ctx;
	FUZZ_CHECK(level == 0 || level == 1);
	FUZZ_CHECK(level != irq_level);
	irq_level = level;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = fuzz_in(data, size);

	if (dev_null < 0) {
		dev_null = open("/dev/null", O_WRONLY | O_CLOEXEC);
		FUZZ_CHECK(dev_null >= 0);
	}
	irq_level = 0;
	struct uart *u = uart_create(&(struct console_sink){ .fd = dev_null }, irq_cb, NULL);
	FUZZ_CHECK(u);
	struct pio_bus bus;
	memset(&bus, 0, sizeof(bus));
	FUZZ_CHECK(pio_register(&bus, UART_COM1_BASE, UART_PORTS, "uart", uart_io, u) == 0);

	uint64_t accesses = 0, received = 0;
	while (fuzz_more(&in)) {
		static uint8_t buf[4 * MAX_REPS];
		uint8_t op = fuzz_u8(&in);

		if (op & 0x40) {
			uint8_t rx[MAX_RX];
			unsigned n = fuzz_u8(&in) % (MAX_RX + 1);
			fuzz_bytes(&in, rx, n);
			unsigned room = uart_rx_room(u);
			FUZZ_CHECK(room <= UART_FIFO_SIZE);
			unsigned taken = uart_receive(u, rx, n);
			FUZZ_CHECK(taken == (n < room ? n : room));
			received += taken;
			continue;
		}

		unsigned reg = op & 7;
		bool is_write = op & 0x08;
		unsigned width = (op >> 4) & 3, io_size = width == 1 ? 2 : width == 2 ? 4 : 1;
		unsigned reps = (op & 0x80) ? fuzz_u8(&in) + 1u : 1;
		if (is_write)
			fuzz_bytes(&in, buf, (size_t)io_size * reps);
		else
			memset(buf, 0xcc, (size_t)io_size * reps);
		FUZZ_CHECK(pio_dispatch(&bus, (uint16_t)(UART_COM1_BASE + reg), is_write, buf, io_size, reps));
		accesses += reps;
		if (!is_write)
			for (unsigned i = 0; i < reps; i++)
				for (unsigned b = 1; b < io_size; b++)
					FUZZ_CHECK(buf[i * io_size + b] == 0xff);
	}
	struct uart_stats st = uart_stats(u);
	FUZZ_CHECK(st.register_accesses == accesses && st.bytes_in == received);
	uart_destroy(u);
	return 0;
}

/* ---- seeds ---------------------------------------------------------------- */

enum { R_DATA, R_IER, R_IIR_FCR, R_LCR, R_MCR, R_LSR, R_MSR, R_SCR };
enum { OP_W = 0x08, OP_16 = 0x10, OP_RX = 0x40, OP_REP = 0x80 };

struct seed {
	uint8_t bytes[512];
	size_t len;
};

static void put8(struct seed *s, uint8_t v)
{
	s->bytes[s->len++] = v;
}

static void outb(struct seed *s, unsigned reg, uint8_t v)
{
	put8(s, (uint8_t)(OP_W | reg));
	put8(s, v);
}

static void inb(struct seed *s, unsigned reg)
{
	put8(s, (uint8_t)reg);
}

static void receive(struct seed *s, const char *text)
{
	put8(s, OP_RX);
	put8(s, (uint8_t)strlen(text));
	for (const char *p = text; *p; p++)
		put8(s, (uint8_t)*p);
}

/* What a stock driver does first: 115200 8N1, FIFOs on, DTR RTS OUT2. */
static void driver_init(struct seed *s, uint8_t fcr, uint8_t ier)
{
	outb(s, R_LCR, 0x80);
	outb(s, R_DATA, 1);
	outb(s, R_IER, 0);
	outb(s, R_LCR, 0x03);
	outb(s, R_IIR_FCR, fcr);
	outb(s, R_MCR, 0x0b);
	outb(s, R_IER, ier);
}

void fuzz_seeds(fuzz_emit_fn *emit)
{
	struct seed s;

	/* Interrupt-driven receive and transmit with the FIFO on. */
	s.len = 0;
	driver_init(&s, 0xc7, 0x03);
	receive(&s, "hello");
	inb(&s, R_IIR_FCR);
	inb(&s, R_LSR);
	put8(&s, OP_REP | R_DATA);
	put8(&s, 4);
	inb(&s, R_IIR_FCR);
	inb(&s, R_IIR_FCR);
	outb(&s, R_DATA, 'x');
	emit("fifo-irq", s.bytes, s.len);

	/* No FIFO: one holding byte, an overrun, the line status interrupt. */
	s.len = 0;
	driver_init(&s, 0x00, 0x05);
	receive(&s, "a");
	put8(&s, OP_RX);
	put8(&s, 1);
	put8(&s, 'b');
	inb(&s, R_IIR_FCR);
	inb(&s, R_LSR);
	inb(&s, R_DATA);
	emit("no-fifo", s.bytes, s.len);

	/* Loopback: transmitted bytes come back, modem lines mirror MCR,
	 * a 16-bit string write of THR, scratch and divisor readback. */
	s.len = 0;
	driver_init(&s, 0x07, 0x0f);
	outb(&s, R_MCR, 0x1f);
	inb(&s, R_MSR);
	put8(&s, OP_REP | OP_16 | OP_W | R_DATA);
	put8(&s, 2);
	for (unsigned i = 0; i < 6; i++)
		put8(&s, (uint8_t)('0' + i));
	inb(&s, R_LSR);
	inb(&s, R_DATA);
	outb(&s, R_MCR, 0x03);
	inb(&s, R_MSR);
	outb(&s, R_SCR, 0x5a);
	inb(&s, R_SCR);
	outb(&s, R_LCR, 0x83);
	put8(&s, OP_16 | R_DATA);
	inb(&s, R_IER);
	emit("loopback", s.bytes, s.len);
}
