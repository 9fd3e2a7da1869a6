/*
 * NE2000 model: a DP8390 register file (pages 0-2), its remote DMA
 * through the NE2000 data port, transmit from and receive into 32 KiB of
 * on-card memory, the station-address PROM and the reset port.
 *
 * Every value the guest writes is a page number, a count or an address
 * into that memory: each is checked where it is used, never where it is
 * written (a driver sets PSTART before PSTOP, or the other way round), so
 * a bad one makes the operation fail in a defined, documented way
 * (docs/devices.md) and nothing outside the card's buffers is touched.
 *
 * Transmission is instantaneous: TXP starts and ends within the CR write.
 * Received frames arrive from the I/O thread (ne2000_rx_pump), the guest's
 * accesses on vCPU threads: one lock serialises both.
 */
#include "devices/ne2000.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* Page 0-2 register offsets, the NE2000's data and reset ports. */
enum {
	REG_CR = 0x00,
	REG_PSTART = 0x01, REG_PSTOP = 0x02, REG_BNRY = 0x03, REG_TPSR_TSR = 0x04,
	REG_TBCR0_NCR = 0x05, REG_TBCR1_FIFO = 0x06, REG_ISR = 0x07,
	REG_RSAR0_CRDA0 = 0x08, REG_RSAR1_CRDA1 = 0x09, REG_RBCR0 = 0x0a, REG_RBCR1 = 0x0b,
	REG_RCR_RSR = 0x0c, REG_TCR_CNTR0 = 0x0d, REG_DCR_CNTR1 = 0x0e, REG_IMR_CNTR2 = 0x0f,
	REG_CURR = 0x07, /* page 1; PAR0-5 at 1-6, MAR0-7 at 8-15 */
	PORT_DATA = 0x10, PORT_RESET = 0x18,
};

#define CR_STP 0x01
#define CR_STA 0x02
#define CR_TXP 0x04
#define CR_RD_SHIFT 3
#define CR_RD_MASK 0x38
#define RD_READ 1
#define RD_WRITE 2
#define RD_SEND 3
#define RD_ABORT 4
#define ISR_PRX 0x01
#define ISR_PTX 0x02
#define ISR_RXE 0x04
#define ISR_TXE 0x08
#define ISR_OVW 0x10
#define ISR_CNT 0x20
#define ISR_RDC 0x40
#define ISR_RST 0x80
#define DCR_WTS 0x01
#define RCR_AB 0x04
#define RCR_AM 0x08
#define RCR_PRO 0x10
#define RCR_MON 0x20
#define TCR_LB 0x06
#define TSR_PTX 0x01
#define TSR_ABT 0x08
#define RSR_PRX 0x01
#define RSR_MPA 0x10
#define RSR_PHY 0x20

#define PAGE_MIN (NE2000_MEM_START >> 8)
#define PAGE_END ((NE2000_MEM_START + NE2000_MEM_SIZE) >> 8)
#define PROM_SIZE 32
#define RX_HDR 4
#define RX_BATCH 256

enum dma { DMA_NONE, DMA_READ, DMA_WRITE };

struct ne2000 {
	pthread_mutex_t lock;
	struct net_backend *be;
	struct ne2000_host host;
	int irq_level;
	bool warned_host;

	uint8_t cr, isr, imr, dcr, tcr, rcr, tsr, rsr;
	uint8_t pstart, pstop, bnry, tpsr, curr;
	uint8_t par[6], mar[8], cntr[3];
	uint16_t tbcr, rsar, rbcr;
	enum dma dma;

	struct ne2000_stats st;
	uint8_t prom[PROM_SIZE];
	uint8_t mem[NE2000_MEM_SIZE];
	uint8_t rxbuf[NET_HDR_LEN + NE2000_FRAME_MAX + 1]; /* I/O thread only */
};

/* ---- state --------------------------------------------------------------- */

static void update_irq(struct ne2000 *n)
{
	int level = (n->isr & n->imr & 0x7f) != 0;
	if (level != n->irq_level) {
		n->irq_level = level;
		if (n->host.irq)
			n->host.irq(n->host.ctx, level);
	}
}

/* Power-up and the reset port: stopped, DMA aborted, interrupts masked.
 * Memory, the PROM and the station address survive, as on the card. */
static void reset(struct ne2000 *n)
{
	n->cr = CR_STP | (RD_ABORT << CR_RD_SHIFT);
	n->isr = ISR_RST;
	n->imr = 0;
	n->dcr = 0;
	n->tcr = 0;
	n->rcr = 0;
	n->tsr = 0;
	n->rsr = 0;
	n->dma = DMA_NONE;
	update_irq(n);
}

static bool started(const struct ne2000 *n)
{
	return (n->cr & (CR_STA | CR_STP)) == CR_STA;
}

/* The receive ring as the guest set it up, or false: PSTART < PSTOP
 * inside the memory, CURR and BNRY inside the ring. */
static bool ring_valid(const struct ne2000 *n)
{
	return n->pstart >= PAGE_MIN && n->pstop <= PAGE_END && n->pstart < n->pstop && n->curr >= n->pstart &&
	       n->curr < n->pstop && n->bnry >= n->pstart && n->bnry < n->pstop;
}

/* A card address: the PROM below 32 (bytes doubled, as a 16-bit card
 * reads them), the memory, or nothing (reads FFh, writes are lost). */
static uint8_t mem_read(const struct ne2000 *n, uint16_t a)
{
	if (a < PROM_SIZE)
		return n->prom[a];
	if (a >= NE2000_MEM_START && a - NE2000_MEM_START < NE2000_MEM_SIZE)
		return n->mem[a - NE2000_MEM_START];
	return 0xff;
}

static void mem_write(struct ne2000 *n, uint16_t a, uint8_t v)
{
	if (a >= NE2000_MEM_START && a - NE2000_MEM_START < NE2000_MEM_SIZE)
		n->mem[a - NE2000_MEM_START] = v;
}

/* ---- remote DMA ---------------------------------------------------------- */

/* One byte moved: the address advances (wrapping from PSTOP to PSTART,
 * as the chip does so a driver can read a frame across the ring's end),
 * the count runs down, and at zero the DMA is complete (RDC). */
static void dma_advance(struct ne2000 *n)
{
	n->rsar++;
	if (n->pstart >= PAGE_MIN && n->pstart < n->pstop && n->pstop <= PAGE_END && n->rsar == (uint16_t)(n->pstop << 8))
		n->rsar = (uint16_t)(n->pstart << 8);
	if (--n->rbcr == 0) {
		n->dma = DMA_NONE;
		n->isr |= ISR_RDC;
		update_irq(n);
	}
}

/* The data port: one byte per access in byte mode (DCR.WTS clear); in
 * word mode as many as the access is wide. Bytes past the count, or with
 * no DMA started, read FFh and are not written. */
static void data_port(struct ne2000 *n, bool is_write, uint8_t *data, unsigned size)
{
	unsigned moved = (n->dcr & DCR_WTS) ? size : 1;
	for (unsigned i = 0; i < size; i++) {
		bool live = i < moved && n->rbcr && n->dma == (is_write ? DMA_WRITE : DMA_READ);
		if (is_write) {
			if (live) {
				mem_write(n, n->rsar, data[i]);
				dma_advance(n);
			}
		} else if (live) {
			data[i] = mem_read(n, n->rsar);
			dma_advance(n);
		} else {
			data[i] = 0xff;
		}
	}
}

/* ---- transmit ------------------------------------------------------------ */

static bool receive_locked(struct ne2000 *n, const uint8_t *frame, size_t len);

/* TXP: the frame of TBCR bytes at page TPSR goes out. A frame under 14 or
 * over 1514 bytes, or one that does not lie inside the memory, is not
 * sent: TSR.ABT and TXE, counted. */
static void transmit(struct ne2000 *n)
{
	uint32_t start = (uint32_t)n->tpsr << 8, len = n->tbcr;
	uint64_t *drop = NULL;

	if (len < NET_ETH_HLEN)
		drop = &n->st.drop_tx_short;
	else if (len > NE2000_FRAME_MAX)
		drop = &n->st.drop_tx_long;
	else if (start < NE2000_MEM_START || start + len > NE2000_MEM_START + NE2000_MEM_SIZE)
		drop = &n->st.drop_tx_bounds;
	if (drop) {
		(*drop)++;
		n->tsr = TSR_ABT;
		n->isr |= ISR_TXE;
		update_irq(n);
		return;
	}
	const uint8_t *frame = n->mem + (start - NE2000_MEM_START);
	if (n->tcr & TCR_LB) {
		/* Loopback: the frame comes back into our own ring, which the
		 * transmit buffer may overlap: from a copy. */
		uint8_t copy[NE2000_FRAME_MAX];
		memcpy(copy, frame, len);
		n->st.tx_loopback++;
		receive_locked(n, copy, len);
	} else {
		static const uint8_t hdr[NET_HDR_LEN];
		struct iovec iov[2] = { { (void *)hdr, NET_HDR_LEN }, { (void *)frame, len } };
		ssize_t r = n->be ? n->be->ops->send(n->be, iov, 2) : -ENODEV;
		if (r < 0) {
			/* Lost on the way, as on a wire: the driver sees it sent. */
			n->st.drop_tx_host++;
			if (r != -EAGAIN && n->be && !n->warned_host) {
				n->warned_host = true;
				log_warn("ne2000 %s: sending failed: %s; frames are dropped", n->be->name, strerror((int)-r));
			}
		} else {
			n->st.tx_frames++;
			n->st.tx_bytes += len;
		}
	}
	n->tsr = TSR_PTX;
	n->isr |= ISR_PTX;
	update_irq(n);
}

/* ---- registers ----------------------------------------------------------- */

static void write_cr(struct ne2000 *n, uint8_t v)
{
	uint8_t run = n->cr & (CR_STA | CR_STP);
	if (v & CR_STP) {
		run = CR_STP;
		n->isr |= ISR_RST;
	} else if (v & CR_STA) {
		run = CR_STA;
		n->isr &= (uint8_t)~ISR_RST;
	}
	unsigned rd = (v & CR_RD_MASK) >> CR_RD_SHIFT;
	if (rd & RD_ABORT)
		n->dma = DMA_NONE;
	else if (rd == RD_READ || rd == RD_WRITE)
		n->dma = rd == RD_READ ? DMA_READ : DMA_WRITE;
	else if (rd == RD_SEND)
		n->dma = DMA_NONE; /* Send Packet is not modelled: an abort */
	/* rd 0 is "not allowed": the DMA goes on as it was. */
	n->cr = (uint8_t)((v & 0xc0) | (rd ? (v & CR_RD_MASK) : (n->cr & CR_RD_MASK)) | run);
	if ((rd == RD_READ || rd == RD_WRITE) && n->rbcr == 0) {
		n->dma = DMA_NONE; /* nothing to move: complete at once */
		n->isr |= ISR_RDC;
	}
	if ((v & CR_TXP) && started(n))
		transmit(n);
	update_irq(n);
}

static uint8_t read_reg(struct ne2000 *n, unsigned reg)
{
	unsigned page = n->cr >> 6;
	uint8_t v;

	if (reg == REG_CR)
		return n->cr;
	if (page == 1) {
		if (reg <= 6)
			return n->par[reg - 1];
		if (reg == REG_CURR)
			return n->curr;
		return n->mar[reg - 8];
	}
	if (page == 2) {
		switch (reg) {
		case REG_PSTART: return n->pstart;
		case REG_PSTOP: return n->pstop;
		case REG_TPSR_TSR: return n->tpsr;
		case REG_RCR_RSR: return n->rcr;
		case REG_TCR_CNTR0: return n->tcr;
		case REG_DCR_CNTR1: return n->dcr;
		case REG_IMR_CNTR2: return n->imr;
		default: return 0;
		}
	}
	if (page == 3)
		return 0;
	switch (reg) {
	case REG_BNRY: return n->bnry;
	case REG_TPSR_TSR: return n->tsr;
	case REG_ISR: return n->isr;
	case REG_RSAR0_CRDA0: return (uint8_t)n->rsar;
	case REG_RSAR1_CRDA1: return (uint8_t)(n->rsar >> 8);
	case REG_RCR_RSR: return n->rsr;
	case REG_TCR_CNTR0:
	case REG_DCR_CNTR1:
	case REG_IMR_CNTR2:
		/* Tally counters clear when read. */
		v = n->cntr[reg - REG_TCR_CNTR0];
		n->cntr[reg - REG_TCR_CNTR0] = 0;
		return v;
	case REG_RBCR0:
	case REG_RBCR1:
		return 0xff; /* reserved */
	default:
		return 0; /* CLDA0/1, NCR, FIFO: nothing to report */
	}
}

static void write_reg(struct ne2000 *n, unsigned reg, uint8_t v)
{
	unsigned page = n->cr >> 6;

	if (reg == REG_CR) {
		write_cr(n, v);
		return;
	}
	if (page == 1) {
		if (reg <= 6)
			n->par[reg - 1] = v;
		else if (reg == REG_CURR)
			n->curr = v;
		else
			n->mar[reg - 8] = v;
		return;
	}
	if (page != 0)
		return; /* pages 2 and 3: diagnostics, not modelled */
	switch (reg) {
	case REG_PSTART: n->pstart = v; break;
	case REG_PSTOP: n->pstop = v; break;
	case REG_BNRY: n->bnry = v; break;
	case REG_TPSR_TSR: n->tpsr = v; break;
	case REG_TBCR0_NCR: n->tbcr = (uint16_t)((n->tbcr & 0xff00) | v); break;
	case REG_TBCR1_FIFO: n->tbcr = (uint16_t)((n->tbcr & 0x00ff) | (v << 8)); break;
	case REG_ISR: n->isr &= (uint8_t)~(v & 0x7f); break; /* write 1 to clear; RST is status */
	case REG_RSAR0_CRDA0: n->rsar = (uint16_t)((n->rsar & 0xff00) | v); break;
	case REG_RSAR1_CRDA1: n->rsar = (uint16_t)((n->rsar & 0x00ff) | (v << 8)); break;
	case REG_RBCR0: n->rbcr = (uint16_t)((n->rbcr & 0xff00) | v); break;
	case REG_RBCR1: n->rbcr = (uint16_t)((n->rbcr & 0x00ff) | (v << 8)); break;
	case REG_RCR_RSR: n->rcr = v & 0x3f; break;
	case REG_TCR_CNTR0: n->tcr = v & 0x1f; break;
	case REG_DCR_CNTR1: n->dcr = v & 0x7f; break;
	case REG_IMR_CNTR2: n->imr = v & 0x7f; break;
	}
	update_irq(n);
}

void ne2000_io(void *opaque, uint16_t offset, bool is_write, uint8_t *data, unsigned size)
{
	struct ne2000 *n = opaque;

	pthread_mutex_lock(&n->lock);
	n->st.register_accesses++;
	if (offset >= NE2000_PORTS || size == 0 || size > 4) {
		if (!is_write)
			memset(data, 0xff, size > 4 ? 4 : size);
	} else if (offset >= PORT_RESET) {
		/* Reading or writing the reset port resets the card. */
		reset(n);
		if (!is_write)
			memset(data, 0, size);
	} else if (offset >= PORT_DATA) {
		data_port(n, is_write, data, size);
	} else {
		/* Wider accesses act on the first register; the other bytes
		 * read FFh. */
		if (is_write) {
			write_reg(n, offset, data[0]);
		} else {
			data[0] = read_reg(n, offset);
			memset(data + 1, 0xff, size - 1);
		}
	}
	pthread_mutex_unlock(&n->lock);
}

/* ---- receive ------------------------------------------------------------- */

/* The Ethernet CRC of a destination address, most significant bit first:
 * its top 6 bits pick the multicast filter bit (MAR). */
static unsigned mcast_index(const uint8_t *mac)
{
	uint32_t crc = 0xffffffffu;
	for (unsigned i = 0; i < 6; i++) {
		uint8_t b = mac[i];
		for (unsigned bit = 0; bit < 8; bit++, b >>= 1) {
			uint32_t top = crc >> 31;
			crc <<= 1;
			if (top ^ (b & 1))
				crc ^= 0x04c11db7u;
		}
	}
	return crc >> 26;
}

static bool addr_accepted(const struct ne2000 *n, const uint8_t *dst)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	if (n->rcr & RCR_PRO)
		return true;
	if (!memcmp(dst, bcast, 6))
		return n->rcr & RCR_AB;
	if (dst[0] & 1) {
		unsigned i = mcast_index(dst);
		return (n->rcr & RCR_AM) && (n->mar[i >> 3] & (1u << (i & 7)));
	}
	return !memcmp(dst, n->par, 6);
}

static bool receive_locked(struct ne2000 *n, const uint8_t *frame, size_t len)
{
	if (len < NET_ETH_HLEN || len > NE2000_FRAME_MAX) {
		n->st.drop_rx_host++;
		return false;
	}
	if (!started(n)) {
		n->st.drop_rx_stopped++;
		return false;
	}
	if ((n->rcr & RCR_MON) || !addr_accepted(n, frame)) {
		n->st.drop_rx_filter++;
		return false;
	}
	if (!ring_valid(n)) {
		n->st.drop_rx_bad_ring++;
		n->isr |= ISR_RXE;
		update_irq(n);
		return false;
	}
	size_t padded = len < NE2000_FRAME_MIN ? NE2000_FRAME_MIN : len;
	unsigned total = (unsigned)padded + RX_HDR;
	unsigned pages = (total + 255) >> 8, ring = (unsigned)(n->pstop - n->pstart);
	unsigned room = n->bnry > n->curr ? (unsigned)(n->bnry - n->curr) : ring - (unsigned)(n->curr - n->bnry);
	/* Strictly less: CURR never catches up with BNRY, so a full ring
	 * cannot look empty. */
	if (pages >= room) {
		n->st.drop_rx_overflow++;
		n->rsr = RSR_MPA;
		if (n->cntr[2] < 0xff && (++n->cntr[2] & 0x80))
			n->isr |= ISR_CNT;
		n->isr |= ISR_OVW;
		update_irq(n);
		return false;
	}
	unsigned next = n->curr + pages;
	if (next >= n->pstop)
		next -= ring;
	n->rsr = (uint8_t)(RSR_PRX | ((frame[0] & 1) ? RSR_PHY : 0));
	uint8_t hdr[RX_HDR] = { n->rsr, (uint8_t)next, (uint8_t)total, (uint8_t)(total >> 8) };
	/* Byte by byte into the ring, wrapping at PSTOP: the ring was checked,
	 * so every address lies inside the memory. */
	unsigned a = (unsigned)n->curr << 8, stop = (unsigned)n->pstop << 8, restart = (unsigned)n->pstart << 8;
	for (unsigned i = 0; i < total; i++) {
		uint8_t b = i < RX_HDR ? hdr[i] : i - RX_HDR < len ? frame[i - RX_HDR] : 0;
		n->mem[a - NE2000_MEM_START] = b;
		if (++a == stop)
			a = restart;
	}
	n->curr = (uint8_t)next;
	n->isr |= ISR_PRX;
	n->st.rx_frames++;
	n->st.rx_bytes += len;
	update_irq(n);
	if (n->host.rx_ready)
		n->host.rx_ready(n->host.ctx);
	return true;
}

bool ne2000_receive(struct ne2000 *n, const uint8_t *frame, size_t len)
{
	pthread_mutex_lock(&n->lock);
	bool ok = receive_locked(n, frame, len);
	pthread_mutex_unlock(&n->lock);
	return ok;
}

bool ne2000_rx_pump(struct ne2000 *n)
{
	for (unsigned i = 0; i < RX_BATCH; i++) {
		ssize_t len = n->be->ops->recv(n->be, n->rxbuf, sizeof(n->rxbuf) - 1);
		if (len == -EAGAIN || len == -EWOULDBLOCK)
			return false;
		if (len <= 0) {
			pthread_mutex_lock(&n->lock); /* warned_host is the vCPU's too */
			if (len < 0 && !n->warned_host) {
				n->warned_host = true;
				log_warn("ne2000 %s: receiving failed: %s", n->be->name, strerror((int)-len));
			}
			pthread_mutex_unlock(&n->lock);
			return true; /* end of file, or an error: the back end is gone */
		}
		/* Over 1514 bytes (recv says cap + 1), no Ethernet header, or an
		 * offload the back end was never asked for. */
		if ((size_t)len < NET_HDR_LEN + NET_ETH_HLEN || (size_t)len > NET_HDR_LEN + NE2000_FRAME_MAX ||
		    n->rxbuf[0] != 0 || n->rxbuf[1] != 0) {
			pthread_mutex_lock(&n->lock);
			n->st.drop_rx_host++;
			pthread_mutex_unlock(&n->lock);
			continue;
		}
		ne2000_receive(n, n->rxbuf + NET_HDR_LEN, (size_t)len - NET_HDR_LEN);
	}
	return false;
}

/* ---- life ---------------------------------------------------------------- */

struct ne2000 *ne2000_create(const uint8_t mac[6], struct net_backend *be, const struct ne2000_host *host)
{
	struct ne2000 *n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	pthread_mutex_init(&n->lock, NULL);
	n->be = be;
	if (host)
		n->host = *host;
	/* The PROM: the address, then "WW" at 14-15 (a 16-bit card), each
	 * byte doubled as a word-wide read of the 8-bit PROM gives it. */
	uint8_t prom[PROM_SIZE / 2] = { 0 };
	memcpy(prom, mac, 6);
	prom[14] = prom[15] = 0x57;
	for (unsigned i = 0; i < PROM_SIZE; i++)
		n->prom[i] = prom[i / 2];
	memcpy(n->par, mac, 6);
	reset(n);
	return n;
}

void ne2000_destroy(struct ne2000 *n)
{
	if (!n)
		return;
	net_backend_close(n->be);
	pthread_mutex_destroy(&n->lock);
	free(n);
}

struct ne2000_stats ne2000_stats(struct ne2000 *n)
{
	pthread_mutex_lock(&n->lock);
	struct ne2000_stats s = n->st;
	pthread_mutex_unlock(&n->lock);
	return s;
}
