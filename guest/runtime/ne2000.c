/*
 * NE2000 (DP8390) driver behind the raw-frame API of <pvmm/net.h>: net.c
 * calls it for the NIC the boot info lists as PVMM_DEV_NE2000. It does
 * what a stock polled driver does, register by register, each access an
 * exit to the monitor:
 *
 *  - open: reset through the reset port, the DP8390 set up stopped (word
 *    transfers, receiver in monitor mode, transmitter in loopback), the
 *    station address read from the PROM by remote DMA, the receive ring
 *    (pages RING_START..RING_STOP, BNRY one behind CURR) and the station
 *    address and multicast filter (all groups) in page 1; then started;
 *  - send: the frame into the transmit buffer (page TX_PAGE) by a remote
 *    DMA write (`rep outsw`), RDC awaited, then TPSR/TBCR and TXP; the
 *    next send first waits for this one's PTX or TXE;
 *  - receive: ISR.PRX says frames have arrived (then CURR is read from
 *    page 1); each frame's 4-byte header, then the frame, by remote DMA
 *    reads (`rep insw`; the card wraps at the ring's end), and BNRY moved
 *    behind it. A header that makes no sense (next page outside the ring,
 *    a length that is not a frame) drops everything received so far.
 *
 * Polled: IMR stays 0, and the card marks itself ready for
 * PVMM_CALL_POLL when a frame lands in its ring (net_wait).
 */
#include <string.h>
#include <pvmm/guest.h>
#include <pvmm/io.h>
#include <pvmm/net.h>
#include "runtime.h"

/* Registers (page 0 unless noted), the data and reset ports. */
#define CR 0x00
#define PSTART 0x01
#define PSTOP 0x02
#define BNRY 0x03
#define TPSR 0x04
#define TBCR0 0x05
#define TBCR1 0x06
#define ISR 0x07
#define RSAR0 0x08
#define RSAR1 0x09
#define RBCR0 0x0a
#define RBCR1 0x0b
#define RCR 0x0c
#define TCR 0x0d
#define DCR 0x0e
#define IMR 0x0f
#define PAR0 0x01 /* page 1 */
#define CURR 0x07 /* page 1 */
#define MAR0 0x08 /* page 1 */
#define DATA 0x10
#define RESET 0x1f

#define CR_STP 0x01
#define CR_STA 0x02
#define CR_TXP 0x04
#define CR_RREAD 0x08
#define CR_RWRITE 0x10
#define CR_NODMA 0x20
#define CR_PAGE1 0x40
#define ISR_PRX 0x01
#define ISR_PTX 0x02
#define ISR_TXE 0x08
#define ISR_OVW 0x10
#define ISR_RDC 0x40
#define ISR_RST 0x80
#define DCR_WORD 0x49     /* word transfers, normal operation, FIFO threshold 8 bytes */
#define RCR_AB_AM 0x0c    /* broadcast and multicast */
#define RCR_MON 0x20
#define TCR_LOOP 0x02

/* On-card memory: 0x4000-0xbfff (32 KiB). Six pages transmit buffer,
 * the rest the receive ring. */
#define TX_PAGE 0x40
#define RING_START 0x46
#define RING_STOP 0xc0
#define FRAME_MAX 1514
#define SPINS 100000 /* register reads before the card counts as hung */

static struct {
	int state;         /* 0 not tried, 1 open, < 0 failed */
	int index;         /* boot info index; -2 not looked, -1 none */
	uint16_t base;
	uint8_t mac[6];
	uint8_t next;      /* the page of the next frame to read */
	uint8_t curr;      /* CURR as last read */
	bool tx_pending;   /* a transmission whose end we have not seen */
	struct net_nic_stats st;
	uint64_t bad_headers;
} ne = { .index = -2 };

static inline uint8_t rd(unsigned reg)
{
	return inb((uint16_t)(ne.base + reg));
}

static inline void wr(unsigned reg, uint8_t v)
{
	outb((uint16_t)(ne.base + reg), v);
}

int ne2k_find(void)
{
	if (ne.index == -2) {
		const struct pvmm_boot_info *bi = pvmm_boot_info();
		ne.index = -1;
		for (uint32_t i = 0; i < bi->device_count && i < PVMM_MAX_DEVICES; i++) {
			const struct pvmm_device_info *d = &bi->devices[i];
			if (d->type == PVMM_DEV_NE2000 && d->mmio_size >= 0x20 && d->mmio_base + 0x20 <= 0x10000) {
				ne.index = (int)i;
				ne.base = (uint16_t)d->mmio_base;
				break;
			}
		}
	}
	return ne.index;
}

/* Wait for ISR bits `mask`: 0, or -VIRTIO_ETIMEDOUT. */
static int wait_isr(uint8_t mask)
{
	for (unsigned i = 0; i < SPINS; i++)
		if (rd(ISR) & mask)
			return 0;
	return -VIRTIO_ETIMEDOUT;
}

/* Remote DMA setup: count bytes at card address addr, read or write. */
static void dma_start(uint16_t addr, uint16_t count, uint8_t cmd)
{
	wr(RBCR0, (uint8_t)count);
	wr(RBCR1, (uint8_t)(count >> 8));
	wr(RSAR0, (uint8_t)addr);
	wr(RSAR1, (uint8_t)(addr >> 8));
	wr(CR, cmd | CR_STA);
}

/* Read len bytes at card address addr into buf (word transfers: an odd
 * last byte comes from a final word). */
static int dma_read(uint16_t addr, void *buf, size_t len)
{
	size_t words = len / 2;
	dma_start(addr, (uint16_t)((len + 1) & ~1u), CR_RREAD);
	insw((uint16_t)(ne.base + DATA), buf, words);
	if (len & 1) {
		uint16_t w = inw((uint16_t)(ne.base + DATA));
		((uint8_t *)buf)[len - 1] = (uint8_t)w;
	}
	int err = wait_isr(ISR_RDC);
	wr(ISR, ISR_RDC);
	return err;
}

static int open_card(void)
{
	if (ne2k_find() < 0)
		return -VIRTIO_ENODEV;
	wr(RESET, rd(RESET));
	if (wait_isr(ISR_RST))
		return -VIRTIO_ETIMEDOUT;
	wr(CR, CR_STP | CR_NODMA);
	wr(DCR, DCR_WORD);
	wr(RBCR0, 0);
	wr(RBCR1, 0);
	wr(RCR, RCR_MON);
	wr(TCR, TCR_LOOP);
	wr(ISR, 0xff);
	wr(IMR, 0);

	/* The PROM: 16 bytes, each in a word of its own. */
	uint16_t prom[16];
	int err = dma_read(0, prom, sizeof(prom));
	if (err)
		return err;
	if ((prom[14] & 0xff) != 0x57 || (prom[15] & 0xff) != 0x57)
		return -VIRTIO_ENODEV; /* not a 16-bit NE2000 */
	for (unsigned i = 0; i < 6; i++)
		ne.mac[i] = (uint8_t)prom[i];

	wr(TPSR, TX_PAGE);
	wr(PSTART, RING_START);
	wr(PSTOP, RING_STOP);
	wr(BNRY, RING_START);
	wr(CR, CR_PAGE1 | CR_STP | CR_NODMA);
	for (unsigned i = 0; i < 6; i++)
		wr(PAR0 + i, ne.mac[i]);
	for (unsigned i = 0; i < 8; i++)
		wr(MAR0 + i, 0xff);
	wr(CURR, RING_START + 1);
	wr(CR, CR_STA | CR_NODMA);
	wr(ISR, 0xff);
	wr(TCR, 0);
	wr(RCR, RCR_AB_AM);
	ne.next = ne.curr = RING_START + 1;
	return 0;
}

int ne2k_open(void)
{
	if (ne.state == 0) {
		int err = open_card();
		ne.state = err ? err : 1;
	}
	return ne.state == 1 ? 0 : ne.state;
}

int ne2k_mac(uint8_t mac[6])
{
	int err = ne2k_open();
	if (!err)
		memcpy(mac, ne.mac, 6);
	return err;
}

unsigned ne2k_mtu(void)
{
	return ne2k_open() ? 0 : FRAME_MAX - NET_ETH_HLEN;
}

int ne2k_send(const void *frame, size_t len)
{
	int err = ne2k_open();
	if (err)
		return err;
	if (len < NET_ETH_HLEN || len > FRAME_MAX)
		return -VIRTIO_EINVAL;
	if (ne.tx_pending) {
		/* Instantaneous on pvmm's card; a real one takes a frame time. */
		if (!(rd(ISR) & (ISR_PTX | ISR_TXE))) {
			ne.st.tx_waits++;
			if (wait_isr(ISR_PTX | ISR_TXE))
				return -VIRTIO_EBROKEN;
		}
		wr(ISR, ISR_PTX | ISR_TXE);
	}
	size_t words = len / 2;
	dma_start(TX_PAGE << 8, (uint16_t)((len + 1) & ~1u), CR_RWRITE);
	outsw((uint16_t)(ne.base + DATA), frame, words);
	if (len & 1)
		outw((uint16_t)(ne.base + DATA), ((const uint8_t *)frame)[len - 1]);
	if (wait_isr(ISR_RDC))
		return -VIRTIO_EBROKEN;
	wr(ISR, ISR_RDC);
	wr(TPSR, TX_PAGE);
	wr(TBCR0, (uint8_t)len);
	wr(TBCR1, (uint8_t)(len >> 8));
	wr(CR, CR_STA | CR_TXP | CR_NODMA);
	ne.tx_pending = true;
	ne.st.tx_frames++;
	ne.st.kicks++;
	return 0;
}

/* Frames wait in the ring: the ones CURR showed, or PRX says more came
 * (then CURR is read again: two page switches). */
static bool rx_pending(void)
{
	if (ne.next != ne.curr)
		return true;
	if (!(rd(ISR) & (ISR_PRX | ISR_OVW)))
		return false;
	wr(ISR, ISR_PRX | ISR_OVW); /* before reading CURR: a later frame sets PRX again */
	wr(CR, CR_PAGE1 | CR_STA | CR_NODMA);
	ne.curr = rd(CURR);
	wr(CR, CR_STA | CR_NODMA);
	return ne.next != ne.curr;
}

/* Forget everything received (the ring's bookkeeping is lost). */
static void rx_resync(void)
{
	ne.bad_headers++;
	ne.next = ne.curr;
	wr(BNRY, (uint8_t)(ne.next == RING_START ? RING_STOP - 1 : ne.next - 1));
}

int ne2k_recv(void *buf, size_t cap)
{
	int err = ne2k_open();
	if (err)
		return err;
	if (!rx_pending())
		return -VIRTIO_EAGAIN;
	if (ne.curr < RING_START || ne.curr >= RING_STOP) {
		rx_resync();
		return -VIRTIO_EAGAIN;
	}
	uint8_t hdr[4];
	if ((err = dma_read((uint16_t)(ne.next << 8), hdr, sizeof(hdr))))
		return err;
	unsigned next = hdr[1], count = hdr[2] | (unsigned)hdr[3] << 8;
	if (next < RING_START || next >= RING_STOP || count < 4 + NET_ETH_HLEN || count > 4 + FRAME_MAX) {
		rx_resync();
		return -VIRTIO_EAGAIN;
	}
	size_t len = count - 4, take = len < cap ? len : cap;
	if (take && (err = dma_read((uint16_t)((ne.next << 8) + 4), buf, take)))
		return err;
	ne.next = (uint8_t)next;
	wr(BNRY, (uint8_t)(next == RING_START ? RING_STOP - 1 : next - 1));
	ne.st.rx_frames++;
	return (int)take;
}

bool ne2k_wait_prepare(uint64_t *mask)
{
	if (ne.state != 1)
		return false;
	if (rx_pending())
		return true;
	*mask |= 1ull << ne.index;
	return false;
}

bool ne2k_rx_ready(void)
{
	return ne.state == 1 && rx_pending();
}

void ne2k_stats(struct net_nic_stats *st)
{
	*st = ne.st;
}
