/*
 * Unit tests for the emulated NE2000 (src/devices/ne2000.c).
 *
 * The test plays a guest driver: every access goes through ne2000_io()
 * as the port bus delivers it. The back end is a fake that records what
 * is sent and hands out queued frames; the host callbacks record the IRQ
 * level and POLL readiness. Expected values are the DP8390's and
 * docs/devices.md's.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "devices/ne2000.h"

enum {
	CR = 0, PSTART = 1, PSTOP = 2, BNRY = 3, TPSR = 4, TSR = 4, TBCR0 = 5, TBCR1 = 6, ISR = 7,
	RSAR0 = 8, RSAR1 = 9, RBCR0 = 10, RBCR1 = 11, RCR = 12, RSR = 12, TCR = 13, DCR = 14, IMR = 15,
	CNTR2 = 15, CURR = 7, MAR0 = 8, DATA = 0x10, RESET = 0x1f,
};
#define CR_STP 0x01
#define CR_STA 0x02
#define CR_TXP 0x04
#define CR_RREAD 0x08
#define CR_RWRITE 0x10
#define CR_NODMA 0x20
#define CR_PAGE1 0x40
#define CR_PAGE2 0x80
#define ISR_PRX 0x01
#define ISR_PTX 0x02
#define ISR_RXE 0x04
#define ISR_TXE 0x08
#define ISR_OVW 0x10
#define ISR_RDC 0x40
#define ISR_RST 0x80

#define RING_START 0x46
#define RING_STOP 0xc0

static const uint8_t MAC[6] = { 0x02, 0x70, 0xaa, 0xbb, 0xcc, 0xdd };

/* ---- fake back end ------------------------------------------------------- */

struct fake_be {
	struct net_backend b;
	unsigned sent;
	uint8_t last[NET_HDR_LEN + 2000];
	size_t last_len;
	ssize_t send_result;     /* 0: accept; else returned */
	/* frames recv() hands out, header included, then rx_end */
	const uint8_t *rx[8];
	ssize_t rx_len[8];
	unsigned rx_n, rx_at;
	ssize_t rx_end;          /* -EAGAIN, 0 (EOF) */
};

static ssize_t fake_send(struct net_backend *b, const struct iovec *iov, int iovcnt)
{
	struct fake_be *f = (struct fake_be *)b;
	if (f->send_result)
		return f->send_result;
	f->last_len = 0;
	for (int i = 0; i < iovcnt; i++) {
		assert_true(f->last_len + iov[i].iov_len <= sizeof(f->last));
		memcpy(f->last + f->last_len, iov[i].iov_base, iov[i].iov_len);
		f->last_len += iov[i].iov_len;
	}
	f->sent++;
	return (ssize_t)f->last_len;
}

static ssize_t fake_recv(struct net_backend *b, void *buf, size_t cap)
{
	struct fake_be *f = (struct fake_be *)b;
	if (f->rx_at >= f->rx_n)
		return f->rx_end;
	unsigned i = f->rx_at++;
	if (f->rx_len[i] < 0)
		return f->rx_len[i];
	size_t n = (size_t)f->rx_len[i];
	if (n > cap) {
		memcpy(buf, f->rx[i], cap);
		return (ssize_t)cap + 1;
	}
	memcpy(buf, f->rx[i], n);
	return (ssize_t)n;
}

static int closed;
static void fake_close(struct net_backend *b)
{
	(void)b;
	closed++;
}

static const struct net_backend_ops fake_ops = { "fake", fake_send, fake_recv, fake_close };

/* ---- fixture ------------------------------------------------------------- */

struct fx {
	struct fake_be be;
	struct ne2000 *n;
	int level;
	unsigned ready, redundant;
};

static void irq_cb(void *ctx, int level)
{
	struct fx *f = ctx;
	if (level == f->level)
		f->redundant++;
	f->level = level;
}

static void ready_cb(void *ctx)
{
	((struct fx *)ctx)->ready++;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	f->be.b.ops = &fake_ops;
	f->be.b.fd = -1;
	strcpy(f->be.b.name, "fake");
	f->be.rx_end = -EAGAIN;
	f->n = ne2000_create(MAC, &f->be.b, &(struct ne2000_host){ irq_cb, ready_cb, f });
	assert_non_null(f->n);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	closed = 0;
	ne2000_destroy(f->n);
	assert_int_equal(closed, 1);
	free(f);
	return 0;
}

static void out(struct fx *f, unsigned reg, uint8_t v)
{
	ne2000_io(f->n, (uint16_t)reg, true, &v, 1);
}

static uint8_t in(struct fx *f, unsigned reg)
{
	uint8_t v = 0x5a;
	ne2000_io(f->n, (uint16_t)reg, false, &v, 1);
	return v;
}

static uint16_t inw_data(struct fx *f)
{
	uint8_t v[2];
	ne2000_io(f->n, DATA, false, v, 2);
	return (uint16_t)(v[0] | v[1] << 8);
}

static void dma(struct fx *f, uint16_t addr, uint16_t count, uint8_t cmd)
{
	out(f, RBCR0, (uint8_t)count);
	out(f, RBCR1, (uint8_t)(count >> 8));
	out(f, RSAR0, (uint8_t)addr);
	out(f, RSAR1, (uint8_t)(addr >> 8));
	out(f, CR, cmd | CR_STA);
}

static void card_read(struct fx *f, uint16_t addr, uint8_t *buf, size_t len)
{
	out(f, DCR, 0x48); /* byte mode */
	dma(f, addr, (uint16_t)len, CR_RREAD);
	for (size_t i = 0; i < len; i++)
		buf[i] = in(f, DATA);
	assert_true(in(f, ISR) & ISR_RDC);
	out(f, ISR, ISR_RDC);
}

static void card_write(struct fx *f, uint16_t addr, const uint8_t *buf, size_t len)
{
	out(f, DCR, 0x48);
	dma(f, addr, (uint16_t)len, CR_RWRITE);
	for (size_t i = 0; i < len; i++)
		out(f, DATA, buf[i]);
	assert_true(in(f, ISR) & ISR_RDC);
	out(f, ISR, ISR_RDC);
}

/* The driver's set-up: ring RING_START..RING_STOP, BNRY one behind CURR,
 * broadcast accepted, started. */
static void init_ring(struct fx *f)
{
	out(f, CR, CR_STP | CR_NODMA);
	out(f, PSTART, RING_START);
	out(f, PSTOP, RING_STOP);
	out(f, BNRY, RING_START);
	out(f, CR, CR_PAGE1 | CR_STP | CR_NODMA);
	out(f, CURR, RING_START + 1);
	out(f, CR, CR_STA | CR_NODMA);
	out(f, ISR, 0xff);
	out(f, RCR, 0x04);
	out(f, TCR, 0);
}

static uint8_t curr(struct fx *f)
{
	out(f, CR, CR_PAGE1 | CR_STA | CR_NODMA);
	uint8_t c = in(f, CURR);
	out(f, CR, CR_STA | CR_NODMA);
	return c;
}

static void frame_to(uint8_t *fr, size_t len, const uint8_t *dst, uint8_t seed)
{
	memcpy(fr, dst, 6);
	memcpy(fr + 6, "\x02\x00\x00\x00\x00\x01", 6);
	fr[12] = 0x88;
	fr[13] = 0xb5;
	for (size_t i = 14; i < len; i++)
		fr[i] = (uint8_t)(seed + i);
}

static const uint8_t BCAST[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

/* ---- tests --------------------------------------------------------------- */

static void test_reset_state(void **state)
{
	struct fx *f = *state;
	assert_int_equal(in(f, CR), 0x21); /* STP, abort DMA, page 0 */
	assert_int_equal(in(f, ISR), ISR_RST);
	out(f, CR, CR_PAGE2 | CR_STP | CR_NODMA);
	assert_int_equal(in(f, IMR), 0);
	out(f, CR, CR_STP | CR_NODMA);
	/* The reset port: read (as drivers do) resets a running card. */
	out(f, CR, CR_STA | CR_NODMA);
	assert_int_equal(in(f, ISR) & ISR_RST, 0);
	out(f, IMR, 0x7f);
	(void)in(f, RESET);
	assert_int_equal(in(f, CR), 0x21);
	assert_int_equal(in(f, ISR), ISR_RST);
	out(f, CR, CR_PAGE2 | CR_STP | CR_NODMA);
	assert_int_equal(in(f, IMR), 0);
	assert_int_equal(f->level, 0);
}

static void test_prom_read(void **state)
{
	struct fx *f = *state;
	/* Word mode: 16 words, each PROM byte in both halves. */
	out(f, DCR, 0x49);
	dma(f, 0, 32, CR_RREAD);
	uint16_t w[16];
	for (unsigned i = 0; i < 16; i++)
		w[i] = inw_data(f);
	for (unsigned i = 0; i < 6; i++)
		assert_int_equal(w[i], MAC[i] | MAC[i] << 8);
	assert_int_equal(w[14], 0x5757);
	assert_int_equal(w[15], 0x5757);
	assert_true(in(f, ISR) & ISR_RDC);
	/* Past the count: FFh, and nothing moves. */
	assert_int_equal(inw_data(f), 0xffff);
	/* Byte mode: 32 bytes, doubled. */
	uint8_t b[32];
	card_read(f, 0, b, sizeof(b));
	for (unsigned i = 0; i < 6; i++) {
		assert_int_equal(b[2 * i], MAC[i]);
		assert_int_equal(b[2 * i + 1], MAC[i]);
	}
}

static void test_tx_reaches_backend(void **state)
{
	struct fx *f = *state;
	uint8_t fr[100];
	frame_to(fr, sizeof(fr), BCAST, 7);
	init_ring(f);
	out(f, IMR, ISR_PTX | ISR_TXE);
	card_write(f, 0x4000, fr, sizeof(fr));
	out(f, TPSR, 0x40);
	out(f, TBCR0, sizeof(fr));
	out(f, TBCR1, 0);
	out(f, CR, CR_STA | CR_TXP | CR_NODMA);
	assert_int_equal(f->be.sent, 1);
	assert_int_equal(f->be.last_len, NET_HDR_LEN + sizeof(fr));
	static const uint8_t zero[NET_HDR_LEN];
	assert_memory_equal(f->be.last, zero, NET_HDR_LEN);
	assert_memory_equal(f->be.last + NET_HDR_LEN, fr, sizeof(fr));
	assert_int_equal(in(f, TSR), 0x01);
	assert_true(in(f, ISR) & ISR_PTX);
	assert_int_equal(in(f, CR) & CR_TXP, 0);
	assert_int_equal(f->level, 1);
	out(f, ISR, ISR_PTX);
	assert_int_equal(f->level, 0);
	assert_int_equal(f->redundant, 0);
	struct ne2000_stats s = ne2000_stats(f->n);
	assert_int_equal(s.tx_frames, 1);
	assert_int_equal(s.tx_bytes, sizeof(fr));

	/* A stopped card sends nothing. */
	out(f, CR, CR_STP | CR_NODMA);
	out(f, CR, CR_STP | CR_TXP | CR_NODMA);
	assert_int_equal(f->be.sent, 1);
	/* A back end that refuses: counted, the driver sees PTX. */
	out(f, CR, CR_STA | CR_NODMA);
	f->be.send_result = -EAGAIN;
	out(f, CR, CR_STA | CR_TXP | CR_NODMA);
	assert_true(in(f, ISR) & ISR_PTX);
	assert_int_equal(ne2000_stats(f->n).drop_tx_host, 1);
}

static void test_tx_bad_frames(void **state)
{
	struct fx *f = *state;
	init_ring(f);
	static const struct { uint8_t tpsr; uint16_t tbcr; } bad[] = {
		{ 0x40, 13 },      /* no Ethernet header */
		{ 0x40, 0 },
		{ 0x40, 1515 },    /* over 1514 */
		{ 0x40, 0xffff },
		{ 0xbf, 300 },     /* runs past the memory's end */
		{ 0x00, 60 },      /* the PROM, not memory */
		{ 0x3f, 100 },
		{ 0xff, 1514 },
	};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		out(f, ISR, 0xff);
		out(f, TPSR, bad[i].tpsr);
		out(f, TBCR0, (uint8_t)bad[i].tbcr);
		out(f, TBCR1, (uint8_t)(bad[i].tbcr >> 8));
		out(f, CR, CR_STA | CR_TXP | CR_NODMA);
		assert_int_equal(in(f, ISR) & (ISR_TXE | ISR_PTX), ISR_TXE);
		assert_int_equal(in(f, TSR), 0x08); /* ABT */
	}
	assert_int_equal(f->be.sent, 0);
	struct ne2000_stats s = ne2000_stats(f->n);
	assert_int_equal(s.drop_tx_short, 2);
	assert_int_equal(s.drop_tx_long, 2);
	assert_int_equal(s.drop_tx_bounds, 4);
	/* The largest good frame, at the very end of memory, goes. */
	out(f, TPSR, 0xba);
	out(f, TBCR0, 1514 & 0xff);
	out(f, TBCR1, 1514 >> 8);
	out(f, CR, CR_STA | CR_TXP | CR_NODMA);
	assert_int_equal(f->be.sent, 1);
}

static void test_rx_lands_in_ring(void **state)
{
	struct fx *f = *state;
	init_ring(f);
	out(f, IMR, ISR_PRX);
	uint8_t fr[300];
	frame_to(fr, sizeof(fr), MAC, 3);
	assert_true(ne2000_receive(f->n, fr, sizeof(fr)));
	assert_int_equal(f->level, 1);
	assert_int_equal(f->ready, 1);
	assert_true(in(f, ISR) & ISR_PRX);
	/* 4 + 300 bytes: two pages. */
	assert_int_equal(curr(f), RING_START + 3);
	uint8_t hdr[4], got[300];
	card_read(f, (RING_START + 1) << 8, hdr, 4);
	assert_int_equal(hdr[0], 0x01);                 /* RSR: PRX */
	assert_int_equal(hdr[1], RING_START + 3);       /* next page */
	assert_int_equal(hdr[2] | hdr[3] << 8, 304);    /* count, header included */
	card_read(f, ((RING_START + 1) << 8) + 4, got, sizeof(got));
	assert_memory_equal(got, fr, sizeof(fr));
	assert_int_equal(in(f, RSR), 0x01);

	/* A short frame is padded to 60 bytes; a broadcast one sets PHY. */
	uint8_t small[42];
	frame_to(small, sizeof(small), BCAST, 9);
	assert_true(ne2000_receive(f->n, small, sizeof(small)));
	card_read(f, (RING_START + 3) << 8, hdr, 4);
	assert_int_equal(hdr[0], 0x21);
	assert_int_equal(hdr[2] | hdr[3] << 8, 64);
	uint8_t pad[60];
	card_read(f, ((RING_START + 3) << 8) + 4, pad, sizeof(pad));
	assert_memory_equal(pad, small, sizeof(small));
	for (unsigned i = sizeof(small); i < 60; i++)
		assert_int_equal(pad[i], 0);

	/* The filter: another station's unicast, broadcast without AB,
	 * multicast without its MAR bit, all dropped; PRO takes them all. */
	static const uint8_t other[6] = { 0x02, 0, 0, 0, 0, 9 }, group[6] = { 0x01, 0x00, 0x5e, 0, 0, 1 };
	frame_to(fr, 60, other, 0);
	assert_false(ne2000_receive(f->n, fr, 60));
	out(f, RCR, 0);
	frame_to(fr, 60, BCAST, 0);
	assert_false(ne2000_receive(f->n, fr, 60));
	out(f, RCR, 0x08);
	frame_to(fr, 60, group, 0);
	assert_false(ne2000_receive(f->n, fr, 60));
	out(f, CR, CR_PAGE1 | CR_STA | CR_NODMA);
	for (unsigned i = 0; i < 8; i++)
		out(f, MAR0 + i, 0xff);
	out(f, CR, CR_STA | CR_NODMA);
	assert_true(ne2000_receive(f->n, fr, 60));
	out(f, RCR, 0x10);
	frame_to(fr, 60, other, 0);
	assert_true(ne2000_receive(f->n, fr, 60));
	struct ne2000_stats s = ne2000_stats(f->n);
	assert_int_equal(s.drop_rx_filter, 3);
	assert_int_equal(s.rx_frames, 4);

	/* Stopped: nothing lands. Sizes outside 14..1514: dropped. */
	uint8_t big[1515];
	frame_to(big, sizeof(big), MAC, 0);
	assert_false(ne2000_receive(f->n, big, sizeof(big)));
	assert_false(ne2000_receive(f->n, big, 13));
	out(f, CR, CR_STP | CR_NODMA);
	assert_false(ne2000_receive(f->n, big, 100));
	s = ne2000_stats(f->n);
	assert_int_equal(s.drop_rx_host, 2);
	assert_int_equal(s.drop_rx_stopped, 1);
}

/* A frame that crosses PSTOP continues at PSTART; a remote read across
 * the end wraps the same way. */
static void test_rx_wraps(void **state)
{
	struct fx *f = *state;
	init_ring(f);
	out(f, CR, CR_STP | CR_NODMA);
	out(f, BNRY, RING_START + 10);
	out(f, CR, CR_PAGE1 | CR_STP | CR_NODMA);
	out(f, CURR, RING_STOP - 1);
	out(f, CR, CR_STA | CR_NODMA);
	uint8_t fr[600], got[600];
	frame_to(fr, sizeof(fr), MAC, 5);
	assert_true(ne2000_receive(f->n, fr, sizeof(fr)));
	/* 604 bytes: three pages, RING_STOP-1, RING_START, RING_START+1. */
	assert_int_equal(curr(f), RING_START + 2);
	card_read(f, ((RING_STOP - 1) << 8) + 4, got, sizeof(got));
	assert_memory_equal(got, fr, sizeof(fr));
}

static void test_rx_overflow(void **state)
{
	struct fx *f = *state;
	init_ring(f);
	out(f, IMR, ISR_OVW);
	uint8_t fr[1514];
	frame_to(fr, sizeof(fr), MAC, 1);
	/* 122 pages, 6 a frame: 20 fit (CURR never reaches BNRY). */
	unsigned got = 0;
	while (ne2000_receive(f->n, fr, sizeof(fr)))
		got++;
	assert_int_equal(got, (RING_STOP - RING_START - 1) / 6);
	assert_true(in(f, ISR) & ISR_OVW);
	assert_int_equal(f->level, 1);
	assert_int_equal(ne2000_stats(f->n).drop_rx_overflow, 1);
	assert_int_equal(in(f, CNTR2), 1); /* missed packets; clears on read */
	assert_int_equal(in(f, CNTR2), 0);
	/* The driver reads them all (BNRY behind CURR): room again. */
	out(f, BNRY, (uint8_t)(curr(f) == RING_START ? RING_STOP - 1 : curr(f) - 1));
	out(f, ISR, ISR_OVW);
	assert_int_equal(f->level, 0);
	assert_true(ne2000_receive(f->n, fr, sizeof(fr)));
	/* Room for exactly one frame's pages is not enough: CURR would
	 * reach BNRY and the full ring would read as empty. */
	uint8_t c = curr(f);
	out(f, BNRY, (uint8_t)(c + 6 >= RING_STOP ? c + 6 - (RING_STOP - RING_START) : c + 6));
	assert_false(ne2000_receive(f->n, fr, sizeof(fr)));
	assert_int_equal(curr(f), c);
	out(f, BNRY, (uint8_t)(c + 7 >= RING_STOP ? c + 7 - (RING_STOP - RING_START) : c + 7));
	assert_true(ne2000_receive(f->n, fr, sizeof(fr)));
}

/* Hostile register values: each operation fails in its defined way and
 * nothing outside the card is touched (ASan build). */
static void test_hostile_registers(void **state)
{
	struct fx *f = *state;
	uint8_t fr[200];
	frame_to(fr, sizeof(fr), MAC, 2);
	static const struct { uint8_t pstart, pstop, curr, bnry; } rings[] = {
		{ 0x80, 0x40, 0x50, 0x50 },   /* start after stop */
		{ 0x46, 0x46, 0x46, 0x46 },   /* empty */
		{ 0x00, 0x20, 0x01, 0x00 },   /* below the memory */
		{ 0x46, 0xff, 0x47, 0x46 },   /* past its end */
		{ 0x46, 0xc0, 0xc5, 0x46 },   /* CURR outside */
		{ 0x46, 0xc0, 0x47, 0x20 },   /* BNRY outside */
	};
	for (unsigned i = 0; i < sizeof(rings) / sizeof(rings[0]); i++) {
		out(f, CR, CR_STP | CR_NODMA);
		out(f, PSTART, rings[i].pstart);
		out(f, PSTOP, rings[i].pstop);
		out(f, BNRY, rings[i].bnry);
		out(f, CR, CR_PAGE1 | CR_STP | CR_NODMA);
		out(f, CURR, rings[i].curr);
		out(f, CR, CR_STA | CR_NODMA);
		out(f, ISR, 0xff);
		assert_false(ne2000_receive(f->n, fr, sizeof(fr)));
		assert_true(in(f, ISR) & ISR_RXE);
	}
	assert_int_equal(ne2000_stats(f->n).drop_rx_bad_ring, 6);
	/* Remote DMA from the top of the address space, a full count: it
	 * wraps the 16-bit address, reads FFh outside PROM and memory, and
	 * writes there go nowhere. */
	out(f, DCR, 0x49);
	dma(f, 0xfff0, 0xffff, CR_RWRITE);
	for (unsigned i = 0; i < 0x8000; i++) {
		uint8_t w[4] = { 1, 2, 3, 4 };
		ne2000_io(f->n, DATA, true, w, 4);
	}
	assert_true(in(f, ISR) & ISR_RDC);
	dma(f, 0xc000, 16, CR_RREAD);
	for (unsigned i = 0; i < 8; i++)
		assert_int_equal(inw_data(f), 0xffff);
	/* The data port with no DMA: FFh; the reset port range and wide
	 * register accesses are defined too. */
	assert_int_equal(in(f, DATA), 0xff);
	uint8_t wide[4];
	ne2000_io(f->n, CR, false, wide, 4);
	assert_int_equal(wide[1], 0xff);
	assert_int_equal(wide[3], 0xff);
	/* A remote read with a zero count completes at once. */
	out(f, ISR, 0xff);
	dma(f, 0x4000, 0, CR_RREAD);
	assert_true(in(f, ISR) & ISR_RDC);
	assert_int_equal(in(f, DATA), 0xff);
	/* Reserved page 0 registers read FFh; pages 2-3 writes are ignored. */
	assert_int_equal(in(f, RBCR0), 0xff);
	out(f, CR, 0xc0 | CR_STA | CR_NODMA);
	out(f, PSTART, 0x12);
	out(f, CR, CR_PAGE2 | CR_STA | CR_NODMA);
	assert_int_not_equal(in(f, PSTART), 0x12);
}

/* The back end's frames through ne2000_rx_pump: header stripped, bad
 * ones (too long, too short, offload header) dropped, EOF reported. */
static void test_rx_pump(void **state)
{
	struct fx *f = *state;
	init_ring(f);
	static uint8_t good[NET_HDR_LEN + 100], gso[NET_HDR_LEN + 100], huge[NET_HDR_LEN + 1600], tiny[NET_HDR_LEN + 5];
	frame_to(good + NET_HDR_LEN, 100, MAC, 4);
	memcpy(gso, good, sizeof(gso));
	gso[1] = 1; /* gso_type TCPV4 */
	frame_to(huge + NET_HDR_LEN, 1600, MAC, 4);
	f->be.rx[0] = good, f->be.rx_len[0] = sizeof(good);
	f->be.rx[1] = gso, f->be.rx_len[1] = sizeof(gso);
	f->be.rx[2] = huge, f->be.rx_len[2] = sizeof(huge);
	f->be.rx[3] = tiny, f->be.rx_len[3] = sizeof(tiny);
	f->be.rx_n = 4;
	assert_false(ne2000_rx_pump(f->n));
	struct ne2000_stats s = ne2000_stats(f->n);
	assert_int_equal(s.rx_frames, 1);
	assert_int_equal(s.rx_bytes, 100);
	assert_int_equal(s.drop_rx_host, 3);
	uint8_t got[100];
	card_read(f, ((RING_START + 1) << 8) + 4, got, sizeof(got));
	assert_memory_equal(got, good + NET_HDR_LEN, 100);
	f->be.rx_end = 0;
	assert_true(ne2000_rx_pump(f->n));
}

/* Transmit loopback (TCR.LB): the frame comes back into the ring. */
static void test_loopback(void **state)
{
	struct fx *f = *state;
	init_ring(f);
	out(f, TCR, 0x02);
	uint8_t fr[64], got[64];
	frame_to(fr, sizeof(fr), MAC, 6);
	card_write(f, 0x4000, fr, sizeof(fr));
	out(f, TPSR, 0x40);
	out(f, TBCR0, sizeof(fr));
	out(f, TBCR1, 0);
	out(f, CR, CR_STA | CR_TXP | CR_NODMA);
	assert_int_equal(f->be.sent, 0);
	assert_int_equal(in(f, ISR) & (ISR_PTX | ISR_PRX), ISR_PTX | ISR_PRX);
	card_read(f, ((RING_START + 1) << 8) + 4, got, sizeof(got));
	assert_memory_equal(got, fr, sizeof(fr));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_reset_state, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prom_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_reaches_backend, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_bad_frames, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_lands_in_ring, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_wraps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_overflow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_registers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_pump, setup, teardown),
		cmocka_unit_test_setup_teardown(test_loopback, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
