/*
 * Fuzz target: the emulated NE2000 (src/devices/ne2000.c). The guest side
 * is any access to its 32 ports through the real port bus, string I/O
 * included; the host side is frames from a fake back end through
 * ne2000_rx_pump() (header included, any length, truncated as a real
 * back end reports it) and frames given to ne2000_receive() directly.
 *
 * Input: operations until it ends, each starting with a byte `op`:
 *   bits 6-7 = 3: host frame into the back end: u16 len (mod 1700), then
 *        len bytes (the 12-byte header first); then the pump runs (len
 *        0 is the back end's end of file)
 *   bits 6-7 = 2: frame to ne2000_receive: u16 len (mod 1600), len bytes
 *   else a port access: u8 port (mod 32); bit 0 of op: write; bits 1-2:
 *        size 1, 2, 4 (3 reads as 1); bit 3: string I/O, u8 reps - 1
 *        follows; writes: size * reps bytes of data
 *
 * Checked besides memory safety: every frame the back end is given is
 * 12 + 14 to 12 + 1514 bytes with a zero header; the IRQ callback only
 * reports changes of level; every host frame is delivered or counted
 * once; the device counts every access.
 */
#include <errno.h>

#include "devices/ne2000.h"
#include "fuzz_common.h"
#include "pio.h"

#define MAX_REPS 256u
#define HOST_MAX 1700u

static int irq_level;
static const uint8_t *host_frame;
static size_t host_len;
static bool host_pending;

static void irq_cb(void *ctx, int level)
{
	(void)ctx;
	FUZZ_CHECK(level == 0 || level == 1);
	FUZZ_CHECK(level != irq_level);
	irq_level = level;
}

static ssize_t be_send(struct net_backend *b, const struct iovec *iov, int iovcnt)
{
	(void)b;
	size_t total = 0;
	for (int i = 0; i < iovcnt; i++)
		total += iov[i].iov_len;
	FUZZ_CHECK(total >= NET_HDR_LEN + NET_ETH_HLEN && total <= NET_HDR_LEN + NE2000_FRAME_MAX);
	FUZZ_CHECK(iov[0].iov_len >= NET_HDR_LEN);
	static const uint8_t zero[NET_HDR_LEN];
	FUZZ_CHECK(memcmp(iov[0].iov_base, zero, NET_HDR_LEN) == 0);
	return (ssize_t)total;
}

static ssize_t be_recv(struct net_backend *b, void *buf, size_t cap)
{
	(void)b;
	if (!host_pending)
		return -EAGAIN;
	host_pending = false;
	if (host_len > cap) {
		memcpy(buf, host_frame, cap);
		return (ssize_t)cap + 1;
	}
	memcpy(buf, host_frame, host_len);
	return (ssize_t)host_len;
}

static void be_close(struct net_backend *b)
{
	(void)b;
}

static const struct net_backend_ops ops = { "fuzz", be_send, be_recv, be_close };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = fuzz_in(data, size);
	static const uint8_t mac[6] = { 0x02, 0x70, 1, 2, 3, 4 };
	struct net_backend be = { .ops = &ops, .fd = -1, .name = "fuzz" };

	irq_level = 0;
	struct ne2000 *n = ne2000_create(mac, &be, &(struct ne2000_host){ irq_cb, NULL, NULL });
	FUZZ_CHECK(n);
	struct pio_bus bus;
	memset(&bus, 0, sizeof(bus));
	FUZZ_CHECK(pio_register(&bus, NE2000_BASE, NE2000_PORTS, "ne2000", ne2000_io, n) == 0);

	uint64_t accesses = 0, host_frames = 0;
	while (fuzz_more(&in)) {
		static uint8_t buf[4 * MAX_REPS];
		static uint8_t frame[HOST_MAX];
		uint8_t op = fuzz_u8(&in);

		if ((op >> 6) >= 2) {
			bool via_backend = (op >> 6) == 3;
			size_t len = fuzz_u16(&in) % (via_backend ? HOST_MAX : 1600u);
			fuzz_bytes(&in, frame, len);
			if (via_backend) {
				host_frame = frame;
				host_len = len;
				host_pending = true;
				/* Then -EAGAIN: "gone" only for a 0-byte read (end of file). */
				FUZZ_CHECK(ne2000_rx_pump(n) == (len == 0));
				FUZZ_CHECK(!host_pending);
				host_frames += len > 0;
			} else {
				ne2000_receive(n, frame, len);
				host_frames++;
			}
			continue;
		}
		unsigned port = fuzz_u8(&in) % NE2000_PORTS;
		bool is_write = op & 1;
		unsigned width = (op >> 1) & 3, io_size = width == 1 ? 2 : width == 2 ? 4 : 1;
		unsigned reps = (op & 0x08) ? fuzz_u8(&in) + 1u : 1;
		if (is_write)
			fuzz_bytes(&in, buf, (size_t)io_size * reps);
		else
			memset(buf, 0xcc, (size_t)io_size * reps);
		FUZZ_CHECK(pio_dispatch(&bus, (uint16_t)(NE2000_BASE + port), is_write, buf, io_size, reps));
		accesses += reps;
	}
	struct ne2000_stats st = ne2000_stats(n);
	FUZZ_CHECK(st.register_accesses == accesses);
	/* Each host frame: delivered, or dropped under exactly one reason. */
	FUZZ_CHECK(st.rx_frames + st.drop_rx_host + st.drop_rx_stopped + st.drop_rx_filter + st.drop_rx_overflow +
			   st.drop_rx_bad_ring ==
		   host_frames + st.tx_loopback);
	ne2000_destroy(n);
	return 0;
}

/* ---- seeds ---------------------------------------------------------------- */

struct seed {
	uint8_t bytes[8192];
	size_t len;
};

static void put8(struct seed *s, uint8_t v)
{
	if (s->len < sizeof(s->bytes))
		s->bytes[s->len++] = v;
}

static void outb(struct seed *s, unsigned port, uint8_t v)
{
	put8(s, 0x01);
	put8(s, (uint8_t)port);
	put8(s, v);
}

static void inb(struct seed *s, unsigned port)
{
	put8(s, 0x00);
	put8(s, (uint8_t)port);
}

/* What a driver does first: reset, stop, word mode, the ring, started. */
static void driver_init(struct seed *s)
{
	inb(s, 0x1f);
	outb(s, 0x1f, 0);
	outb(s, 0x00, 0x21);
	outb(s, 0x0e, 0x49);
	outb(s, 0x0c, 0x04);
	outb(s, 0x01, 0x46);
	outb(s, 0x02, 0xc0);
	outb(s, 0x03, 0x46);
	outb(s, 0x04, 0x40);
	outb(s, 0x00, 0x61);
	for (unsigned i = 1; i <= 6; i++)
		outb(s, i, (uint8_t)(0x10 + i));
	outb(s, 0x07, 0x47);
	outb(s, 0x00, 0x22);
	outb(s, 0x07, 0xff);
	outb(s, 0x0f, 0x7f);
}

static void dma(struct seed *s, uint16_t addr, uint16_t count, uint8_t cmd)
{
	outb(s, 0x0a, (uint8_t)count);
	outb(s, 0x0b, (uint8_t)(count >> 8));
	outb(s, 0x08, (uint8_t)addr);
	outb(s, 0x09, (uint8_t)(addr >> 8));
	outb(s, 0x00, cmd);
}

static void host(struct seed *s, bool backend, const uint8_t *dst, uint16_t len)
{
	put8(s, backend ? 0xc0 : 0x80);
	put8(s, (uint8_t)len);
	put8(s, (uint8_t)(len >> 8));
	unsigned at = 0;
	if (backend)
		for (; at < NET_HDR_LEN && at < len; at++)
			put8(s, 0);
	for (unsigned i = 0; i < len - at; i++)
		put8(s, i < 6 ? dst[i] : (uint8_t)i);
}

void fuzz_seeds(fuzz_emit_fn *emit)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	static const uint8_t self[6] = { 0x11, 0x12, 0x13, 0x14, 0x15, 0x16 };
	struct seed s;

	/* PROM read by word-wide string I/O, then a transmit. */
	s.len = 0;
	driver_init(&s);
	dma(&s, 0, 32, 0x0a);
	put8(&s, 0x0a | 0x00); /* string read, 16-bit */
	put8(&s, 0x10);
	put8(&s, 15);
	dma(&s, 0x4000, 60, 0x12);
	put8(&s, 0x0b);        /* string write, 16-bit */
	put8(&s, 0x10);
	put8(&s, 29);
	for (unsigned i = 0; i < 60; i++)
		put8(&s, i < 6 ? 0xff : (uint8_t)i);
	outb(&s, 0x05, 60);
	outb(&s, 0x06, 0);
	outb(&s, 0x00, 0x26);
	inb(&s, 0x07);
	emit("prom-tx", s.bytes, s.len);

	/* Frames from the host into the ring, the driver reading them. */
	s.len = 0;
	driver_init(&s);
	host(&s, true, bcast, NET_HDR_LEN + 60);
	host(&s, false, self, 300);
	host(&s, true, self, NET_HDR_LEN + 1514);
	host(&s, true, self, NET_HDR_LEN + 1600);
	inb(&s, 0x07);
	dma(&s, 0x4700, 4, 0x0a);
	put8(&s, 0x0a);
	put8(&s, 0x10);
	put8(&s, 1);
	outb(&s, 0x03, 0x47);
	emit("rx-ring", s.bytes, s.len);

	/* A full ring (a small one: 16 pages), then hostile ring registers
	 * and DMA. */
	s.len = 0;
	driver_init(&s);
	outb(&s, 0x00, 0x21);
	outb(&s, 0x01, 0xb0);
	outb(&s, 0x03, 0xb0);
	outb(&s, 0x00, 0x61);
	outb(&s, 0x07, 0xb1);
	outb(&s, 0x00, 0x22);
	for (unsigned i = 0; i < 4; i++)
		host(&s, false, self, 1514);
	inb(&s, 0x07);
	outb(&s, 0x01, 0xc0);
	outb(&s, 0x02, 0x40);
	host(&s, false, self, 100);
	dma(&s, 0xfff0, 0xffff, 0x12);
	put8(&s, 0x0d);        /* string write, 32-bit */
	put8(&s, 0x10);
	put8(&s, 255);
	outb(&s, 0x04, 0xff);
	outb(&s, 0x05, 0xff);
	outb(&s, 0x06, 0xff);
	outb(&s, 0x00, 0x26);
	emit("overflow-hostile", s.bytes, s.len);
}
