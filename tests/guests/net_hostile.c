/*
 * Hostile virtio-net driver: run with `--net tap=NAME`. It brings the
 * device up with the runtime's transport (not its net driver), then offers
 * chains the device must refuse, one at a time, printing what came back:
 *
 *   tx_CASE used=1 len=0      every transmit chain comes back; the monitor's
 *                             --stats counts the bad ones by reason
 *   rx armed                  (the test now sends frames from the host)
 *   rx_CASE used=1 len=L      bad receive chains come back empty (len 0),
 *                             the good one holds a frame
 *   tx_bad_addr outcome=needs_reset
 *   after_reset tx used=1     the device works again after a reset
 *   net_hostile done
 */
#include <stdio.h>
#include <string.h>
#include <pvmm/guest.h>
#include <pvmm/net.h>

static struct virtio_dev dev;
static struct virtqueue rx, tx;
static uint8_t *buf;

static int setup(void)
{
	int index = virtio_find(VIRTIO_ID_NET, 0);
	if (index < 0)
		return -VIRTIO_ENODEV;
	int err = virtio_init(&dev, (unsigned)index, VIRTIO_ID_NET);
	if (!err)
		err = virtio_negotiate(&dev, VIRTIO_BIT(VIRTIO_NET_F_MAC) | VIRTIO_BIT(VIRTIO_NET_F_MTU) |
					     VIRTIO_BIT(VIRTIO_F_EVENT_IDX) | VIRTIO_NEGOTIATE_EXACT);
	if (!err)
		err = virtio_queue_init(&dev, &rx, VIRTIO_NET_RX_QUEUE, 16);
	if (!err)
		err = virtio_queue_init(&dev, &tx, VIRTIO_NET_TX_QUEUE, 16);
	if (!err)
		virtio_driver_ok(&dev);
	return err;
}

/* Wait up to 3 s for n used entries on vq; prints them under `name`. */
static int reap(struct virtqueue *vq, const char *name, unsigned n)
{
	uint64_t deadline = pvmm_now_ns() + 3 * PVMM_NS_PER_S;
	unsigned got = 0;
	while (got < n) {
		void *cookie;
		uint32_t len;
		int r = virtq_get(vq, &cookie, &len);
		if (r < 0) {
			printf("%s outcome=broken_used\n", name);
			return r;
		}
		if (r > 0) {
			printf("%s%s used=1 len=%u\n", name, (const char *)cookie, len);
			got++;
			continue;
		}
		if (pvmm_now_ns() >= deadline) {
			printf("%s outcome=timeout status=0x%x\n", name, virtio_status(&dev));
			return -VIRTIO_ETIMEDOUT;
		}
		if (!virtq_arm(vq, 1))
			virtio_wait(&dev, deadline);
	}
	return 0;
}

static uint8_t *frame(unsigned off, unsigned len, uint8_t gso)
{
	uint8_t *p = buf + off;
	memset(p, 0, len);
	if (len > VIRTIO_NET_HDR_LEN)
		p[1] = gso;
	if (len >= VIRTIO_NET_HDR_LEN + 14) {
		memset(p + VIRTIO_NET_HDR_LEN, 0xff, 6);        /* broadcast */
		p[VIRTIO_NET_HDR_LEN + 6] = 0x02;                /* a local source */
		p[VIRTIO_NET_HDR_LEN + 12] = 0x88;               /* local experimental EtherType */
		p[VIRTIO_NET_HDR_LEN + 13] = 0xb5;
	}
	return p;
}

static void tx_one(const char *name, struct virtq_desc *d, unsigned n)
{
	if (virtq_add(&tx, d, n, (void *)name) < 0) {
		printf("tx%s outcome=add_failed\n", name);
		return;
	}
	virtq_kick(&tx);
	reap(&tx, "tx", 1);
}

#define D(p, l, f) { (uint64_t)(uintptr_t)(p), (uint32_t)(l), (uint16_t)(f), 0 }

int main(void)
{
	buf = page_alloc(16);
	if (setup()) {
		puts("net_hostile FAIL: no device");
		return 1;
	}
	/* Transmit. */
	{
		struct virtq_desc d[] = { D(frame(0, 60, 0), 60, 0), D(buf + 4096, 64, VIRTQ_DESC_F_WRITE) };
		tx_one("_writable", d, 2);
	}
	{
		struct virtq_desc d[] = { D(frame(0, 8, 0), 8, 0) };
		tx_one("_no_header", d, 1);
	}
	{
		struct virtq_desc d[] = { D(frame(0, 12 + 13, 0), 12 + 13, 0) };
		tx_one("_short", d, 1);
	}
	{
		struct virtq_desc d[] = { D(frame(0, 12 + 1515, 0), 12 + 1515, 0) };
		tx_one("_long", d, 1);
	}
	{
		struct virtq_desc d[] = { D(frame(0, 12 + 60, 1 /* TCPV4 */), 12 + 60, 0) };
		tx_one("_gso", d, 1);
	}
	{
		/* Valid: the header split over three buffers, then the frame. */
		uint8_t *p = frame(0, 12 + 60, 0);
		struct virtq_desc d[] = { D(p, 4, 0), D(p + 4, 4, 0), D(p + 8, 4, 0), D(p + 12, 60, 0) };
		tx_one("_split_ok", d, 4);
	}
	{
		struct virtq_desc d[] = { D(frame(0, 12 + 1514, 0), 12 + 1514, 0) };
		tx_one("_mtu_ok", d, 1);
	}
	{
		struct virtq_desc d[] = { D(frame(0, 12 + 14, 0), 12 + 14, 0) };
		tx_one("_min_ok", d, 1);
	}
	/* Receive: a chain with a device-readable buffer, one too small, one
	 * good; the host then sends frames. */
	{
		struct virtq_desc a[] = { D(buf + 8192, 64, 0), D(buf + 8192 + 64, 2048, VIRTQ_DESC_F_WRITE) };
		struct virtq_desc b[] = { D(buf + 16384, 20, VIRTQ_DESC_F_WRITE) };
		struct virtq_desc c[] = { D(buf + 20480, 2048, VIRTQ_DESC_F_WRITE) };
		virtq_add(&rx, a, 2, (void *)"_readable");
		virtq_add(&rx, b, 1, (void *)"_small");
		virtq_add(&rx, c, 1, (void *)"_good");
		virtq_kick(&rx);
		puts("rx armed");
		fflush(stdout);
		uint64_t deadline = pvmm_now_ns() + 10 * PVMM_NS_PER_S;
		while (virtq_used_pending(&rx) < 3 && pvmm_now_ns() < deadline)
			if (!virtq_arm(&rx, 3))
				virtio_wait(&dev, deadline);
		reap(&rx, "rx", 3);
	}
	/* Structural: a descriptor outside RAM breaks the queue. */
	{
		struct virtq_desc d[] = { D((uintptr_t)1 << 40, 64, 0) };
		virtq_add(&tx, d, 1, (void *)"_bad_addr");
		virtq_kick(&tx);
		uint64_t deadline = pvmm_now_ns() + 3 * PVMM_NS_PER_S;
		while (!virtio_needs_reset(&dev) && pvmm_now_ns() < deadline)
			virtio_wait(&dev, deadline);
		printf("tx_bad_addr outcome=%s\n", virtio_needs_reset(&dev) ? "needs_reset" : "accepted");
	}
	virtio_reset(&dev);
	memset(&rx, 0, sizeof(rx));
	memset(&tx, 0, sizeof(tx));
	if (setup()) {
		puts("after_reset FAIL: set-up");
		return 1;
	}
	{
		struct virtq_desc d[] = { D(frame(0, 12 + 60, 0), 12 + 60, 0) };
		if (virtq_add(&tx, d, 1, (void *)" tx") >= 0) {
			virtq_kick(&tx);
			reap(&tx, "after_reset", 1);
		}
	}
	puts("net_hostile done");
	return 0;
}
