/*
 * <pvmm/net.h>'s raw-frame API over whichever NICs the monitor gave: the
 * virtio-net devices (virtio_net.c) and the emulated NE2000 (ne2000.c).
 * NIC numbers follow the boot info's device order, which is the command
 * line's, so a guest's `nic=N` means the same whatever model each is.
 */
#include <string.h>
#include <pvmm/guest.h>
#include <pvmm/net.h>
#include "runtime.h"

enum { MODEL_VIRTIO, MODEL_NE2000 };

static struct {
	bool scanned;
	unsigned count;
	struct { uint8_t model, sub; } nic[NET_MAX_NICS];
} map;

/* Merge the virtio-net devices and the NE2000 by boot info index. */
static void scan(void)
{
	if (map.scanned)
		return;
	map.scanned = true;
	int vidx[NET_MAX_NICS];
	unsigned nv = 0;
	while (nv < NET_MAX_NICS && (vidx[nv] = virtio_find(VIRTIO_ID_NET, nv)) >= 0)
		nv++;
	int ne = ne2k_find();
	unsigned v = 0;
	while (map.count < NET_MAX_NICS && (v < nv || ne >= 0)) {
		if (ne >= 0 && (v >= nv || ne < vidx[v])) {
			map.nic[map.count].model = MODEL_NE2000;
			map.nic[map.count++].sub = 0;
			ne = -1;
		} else {
			map.nic[map.count].model = MODEL_VIRTIO;
			map.nic[map.count++].sub = (uint8_t)v++;
		}
	}
}

unsigned net_count(void)
{
	scan();
	return map.count;
}

/* NIC `nic`'s model and its number among its model's, or false. */
static bool which(unsigned nic, unsigned *model, unsigned *sub)
{
	scan();
	if (nic >= map.count)
		return false;
	*model = map.nic[nic].model;
	*sub = map.nic[nic].sub;
	return true;
}

int net_open(unsigned nic)
{
	unsigned m, s;
	if (!which(nic, &m, &s))
		return -VIRTIO_ENODEV;
	return m == MODEL_NE2000 ? ne2k_open() : vnet_open(s);
}

int net_mac(unsigned nic, uint8_t mac[6])
{
	unsigned m, s;
	if (!which(nic, &m, &s))
		return -VIRTIO_ENODEV;
	return m == MODEL_NE2000 ? ne2k_mac(mac) : vnet_mac(s, mac);
}

unsigned net_mtu(unsigned nic)
{
	unsigned m, s;
	if (!which(nic, &m, &s))
		return 0;
	return m == MODEL_NE2000 ? ne2k_mtu() : vnet_mtu(s);
}

bool net_link_up(unsigned nic)
{
	unsigned m, s;
	if (!which(nic, &m, &s))
		return false;
	return m == MODEL_NE2000 ? ne2k_open() == 0 : vnet_link_up(s);
}

int net_send(unsigned nic, const void *frame, size_t len)
{
	unsigned m, s;
	if (!which(nic, &m, &s))
		return -VIRTIO_ENODEV;
	return m == MODEL_NE2000 ? ne2k_send(frame, len) : vnet_send(s, frame, len);
}

int net_recv(unsigned nic, void *buf, size_t cap)
{
	unsigned m, s;
	if (!which(nic, &m, &s))
		return -VIRTIO_ENODEV;
	return m == MODEL_NE2000 ? ne2k_recv(buf, cap) : vnet_recv(s, buf, cap);
}

int net_wait(uint64_t deadline_ns)
{
	uint64_t mask = 0;
	bool ready = vnet_wait_prepare(&mask);
	if (ready || ne2k_wait_prepare(&mask))
		return 1;
	if (!mask)
		return 0;
	stdio_before_wait();
	for (;;) {
		int64_t r = pvmm_poll(deadline_ns, mask, NULL);
		if (vnet_rx_ready() || ne2k_rx_ready())
			return 1;
		if (r <= 0 || pvmm_now_ns() >= deadline_ns)
			return 0;
		/* A transmit completion, or an old readiness: wait on. */
	}
}

void net_nic_stats(unsigned nic, struct net_nic_stats *st)
{
	unsigned m, s;
	memset(st, 0, sizeof(*st));
	if (!which(nic, &m, &s))
		return;
	if (m == MODEL_NE2000)
		ne2k_stats(st);
	else
		vnet_stats(s, st);
}
