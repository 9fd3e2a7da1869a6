/*
 * virtio-net driver (virtio 1.2, 5.1): one receiveq/transmitq pair per
 * NIC, polling only. net.c dispatches <pvmm/net.h> here; `nic` is the
 * ordinal among the virtio-net devices.
 *
 * Receive: RX_SLOTS buffers, each big enough for the 12-byte header and a
 * frame of MTU + 14 bytes, stay posted; net_recv reaps one, copies the
 * frame out and posts the buffer again. With EVENT_IDX the device asks
 * for a kick only when it has used every buffer it was shown, so
 * re-posting costs no notification while the ring is not empty.
 *
 * Transmit: TX_SLOTS buffers; a send copies the frame behind a zeroed
 * header into a free one, adds it (one descriptor) and kicks (the device
 * suppresses kicks while it drains). Slots are reaped lazily; only a
 * sender that finds none free waits (POLL).
 */
#include <string.h>
#include <pvmm/guest.h>
#include <pvmm/net.h>
#include "runtime.h"

/* 256 receive buffers (the device's largest queue): a TCP window's worth
 * of frames plus the ACKs for what the guest sends can arrive in one
 * burst while the guest is busy, and a frame with no buffer is lost (a
 * retransmission timeout, for TCP). Transmit slots are a bitmap word. */
#define RX_SLOTS 256
#define TX_SLOTS 64
#define RX_QUEUE_SIZE 256
#define TX_QUEUE_SIZE 64

struct nic {
	int state; /* 0 not tried, 1 open, < 0 failed with that error */
	struct virtio_dev vdev;
	struct virtqueue rx, tx;
	uint8_t mac[6];
	unsigned mtu;
	uint32_t slot_size;
	uint8_t *rxbuf, *txbuf;
	uint64_t tx_busy;         /* bit per TX slot */
	struct net_nic_stats st;
};

static struct nic nics[NET_MAX_NICS];

#define COOKIE(slot) ((void *)(uintptr_t)((slot) + 1))
#define SLOT(cookie) ((unsigned)(uintptr_t)(cookie) - 1)

unsigned vnet_count(void)
{
	unsigned n = 0;
	while (n < NET_MAX_NICS && virtio_find(VIRTIO_ID_NET, n) >= 0)
		n++;
	return n;
}

static int post_rx(struct nic *n, unsigned slot)
{
	struct virtq_desc d = { (uint64_t)(uintptr_t)(n->rxbuf + (size_t)slot * n->slot_size), n->slot_size,
				VIRTQ_DESC_F_WRITE, 0 };
	int r = virtq_add(&n->rx, &d, 1, COOKIE(slot));
	return r < 0 ? r : 0;
}

static int open_nic(struct nic *n, unsigned nic)
{
	int index = virtio_find(VIRTIO_ID_NET, nic);
	if (index < 0)
		return -VIRTIO_ENODEV;
	int err = virtio_init(&n->vdev, (unsigned)index, VIRTIO_ID_NET);
	if (!err)
		err = virtio_negotiate(&n->vdev, VIRTIO_BIT(VIRTIO_NET_F_MAC) | VIRTIO_BIT(VIRTIO_NET_F_MTU) |
						 VIRTIO_BIT(VIRTIO_NET_F_STATUS) | VIRTIO_BIT(VIRTIO_F_EVENT_IDX) |
						 VIRTIO_NEGOTIATE_EXACT);
	if (err)
		return err;
	n->mtu = 1500;
	if (virtio_has(&n->vdev, VIRTIO_NET_F_MTU)) {
		unsigned m = virtio_config_read16(&n->vdev, VIRTIO_NET_CFG_MTU);
		if (m >= 68 && m <= 9000)
			n->mtu = m;
	}
	if (virtio_has(&n->vdev, VIRTIO_NET_F_MAC)) {
		for (unsigned i = 0; i < 6; i++)
			n->mac[i] = virtio_config_read8(&n->vdev, VIRTIO_NET_CFG_MAC + i);
	} else {
		static const uint8_t fallback[6] = { 0x02, 0x70, 0x67, 0, 0, 1 };
		memcpy(n->mac, fallback, 6);
		n->mac[5] = (uint8_t)(1 + nic);
	}
	if ((err = virtio_queue_init(&n->vdev, &n->rx, VIRTIO_NET_RX_QUEUE, RX_QUEUE_SIZE)) ||
	    (err = virtio_queue_init(&n->vdev, &n->tx, VIRTIO_NET_TX_QUEUE, TX_QUEUE_SIZE)))
		return err;
	if (n->rx.size < RX_SLOTS || n->tx.size < TX_SLOTS)
		return -VIRTIO_EQUEUE;
	n->slot_size = (VIRTIO_NET_HDR_LEN + NET_ETH_HLEN + n->mtu + 63u) & ~63u;
	size_t bytes = (size_t)n->slot_size * (RX_SLOTS + TX_SLOTS);
	n->rxbuf = page_alloc((bytes + PVMM_PAGE_SIZE - 1) / PVMM_PAGE_SIZE);
	if (!n->rxbuf)
		return -VIRTIO_ENOMEM;
	n->txbuf = n->rxbuf + (size_t)n->slot_size * RX_SLOTS;
	for (unsigned i = 0; i < RX_SLOTS; i++)
		if ((err = post_rx(n, i)))
			return err;
	virtio_driver_ok(&n->vdev);
	virtq_kick(&n->rx);
	return 0;
}

static struct nic *get(unsigned nic, int *err)
{
	if (nic >= NET_MAX_NICS) {
		*err = -VIRTIO_ENODEV;
		return NULL;
	}
	*err = vnet_open(nic);
	return *err ? NULL : &nics[nic];
}

int vnet_open(unsigned nic)
{
	if (nic >= NET_MAX_NICS)
		return -VIRTIO_ENODEV;
	struct nic *n = &nics[nic];
	if (n->state == 0) {
		int err = open_nic(n, nic);
		if (err && n->vdev.regs)
			virtio_set_failed(&n->vdev);
		n->state = err ? err : 1;
	}
	return n->state == 1 ? 0 : n->state;
}

int vnet_mac(unsigned nic, uint8_t mac[6])
{
	int err;
	struct nic *n = get(nic, &err);
	if (n)
		memcpy(mac, n->mac, 6);
	return err;
}

unsigned vnet_mtu(unsigned nic)
{
	int err;
	struct nic *n = get(nic, &err);
	return n ? n->mtu : 0;
}

bool vnet_link_up(unsigned nic)
{
	int err;
	struct nic *n = get(nic, &err);
	if (!n)
		return false;
	if (!virtio_has(&n->vdev, VIRTIO_NET_F_STATUS))
		return true;
	return virtio_config_read16(&n->vdev, VIRTIO_NET_CFG_STATUS) & VIRTIO_NET_S_LINK_UP;
}

static void tx_reap(struct nic *n)
{
	void *cookies[16];
	int got;
	while ((got = virtq_get_batch(&n->tx, cookies, 16)) > 0)
		for (int i = 0; i < got; i++)
			n->tx_busy &= ~(1ull << SLOT(cookies[i]));
}

int vnet_send(unsigned nic, const void *frame, size_t len)
{
	int err;
	struct nic *n = get(nic, &err);
	if (!n)
		return err;
	if (len < NET_ETH_HLEN || len > NET_ETH_HLEN + n->mtu)
		return -VIRTIO_EINVAL;
	for (;;) {
		if (n->tx.broken)
			return -VIRTIO_EBROKEN;
		tx_reap(n);
		if (n->tx_busy != ~0ull)
			break;
		n->st.tx_waits++;
		if (virtq_arm(&n->tx, 1))
			continue;
		virtio_wait(&n->vdev, pvmm_now_ns() + PVMM_NS_PER_S);
		if (!virtq_has_used(&n->tx) && virtio_needs_reset(&n->vdev))
			return -VIRTIO_EBROKEN;
	}
	unsigned slot = (unsigned)__builtin_ctzll(~n->tx_busy);
	uint8_t *dst = n->txbuf + (size_t)slot * n->slot_size;
	memset(dst, 0, VIRTIO_NET_HDR_LEN);
	memcpy(dst + VIRTIO_NET_HDR_LEN, frame, len);
	struct virtq_desc d = { (uint64_t)(uintptr_t)dst, (uint32_t)(VIRTIO_NET_HDR_LEN + len), 0, 0 };
	int r = virtq_add(&n->tx, &d, 1, COOKIE(slot));
	if (r < 0)
		return r;
	n->tx_busy |= 1ull << slot;
	if (virtq_kick(&n->tx))
		n->st.kicks++;
	n->st.tx_frames++;
	return 0;
}

int vnet_recv(unsigned nic, void *buf, size_t cap)
{
	int err;
	struct nic *n = get(nic, &err);
	if (!n)
		return err;
	for (;;) {
		void *cookie;
		uint32_t len;
		int r = virtq_get(&n->rx, &cookie, &len);
		if (r < 0)
			return r;
		if (r == 0)
			return -VIRTIO_EAGAIN;
		unsigned slot = SLOT(cookie);
		const uint8_t *src = n->rxbuf + (size_t)slot * n->slot_size;
		int out = -1;
		if (len >= VIRTIO_NET_HDR_LEN + NET_ETH_HLEN && len <= n->slot_size) {
			size_t flen = len - VIRTIO_NET_HDR_LEN;
			if (flen > cap)
				flen = cap;
			memcpy(buf, src + VIRTIO_NET_HDR_LEN, flen);
			out = (int)flen;
		}
		if ((err = post_rx(n, slot)))
			return err;
		if (virtq_kick(&n->rx))
			n->st.kicks++;
		if (out >= 0) {
			n->st.rx_frames++;
			return out;
		}
		/* A buffer the device returned without a frame: skip it. */
	}
}

bool vnet_wait_prepare(uint64_t *mask)
{
	for (unsigned i = 0; i < NET_MAX_NICS; i++) {
		struct nic *n = &nics[i];
		if (n->state != 1)
			continue;
		if (virtq_arm(&n->rx, 1))
			return true;
		*mask |= 1ull << n->vdev.index;
	}
	return false;
}

bool vnet_rx_ready(void)
{
	for (unsigned i = 0; i < NET_MAX_NICS; i++)
		if (nics[i].state == 1 && virtq_has_used(&nics[i].rx))
			return true;
	return false;
}

void vnet_stats(unsigned nic, struct net_nic_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (nic < NET_MAX_NICS)
		*st = nics[nic].st;
}
