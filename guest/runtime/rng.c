/*
 * virtio-rng driver: one queue of device-writable buffers. rng_read hands
 * the caller's buffer to the device in place (no copy) and waits (POLL)
 * for the device to fill it; the device may return fewer bytes than asked,
 * so it goes round until the buffer is full.
 */
#include <pvmm/guest.h>
#include <pvmm/rng.h>

#define RNG_CHUNK (64u * 1024) /* bytes per request */
#define RNG_MAX_EMPTY 8        /* empty answers in a row before giving up */

static struct {
	int state; /* 0 not tried, 1 open, < 0 failed */
	struct virtio_dev vdev;
	struct virtqueue vq;
} rng;

bool rng_present(void)
{
	return virtio_find(VIRTIO_ID_RNG, 0) >= 0;
}

static int open_device(void)
{
	int index = virtio_find(VIRTIO_ID_RNG, 0);
	if (index < 0)
		return -VIRTIO_ENODEV;
	int err = virtio_init(&rng.vdev, (unsigned)index, VIRTIO_ID_RNG);
	if (!err)
		err = virtio_negotiate(&rng.vdev, VIRTIO_BIT(VIRTIO_F_EVENT_IDX) | VIRTIO_NEGOTIATE_EXACT);
	if (!err)
		err = virtio_queue_init(&rng.vdev, &rng.vq, 0, 4);
	if (err)
		return err;
	virtio_driver_ok(&rng.vdev);
	return 0;
}

int rng_open(void)
{
	if (rng.state == 0) {
		int err = open_device();
		if (err && rng.vdev.regs)
			virtio_set_failed(&rng.vdev);
		rng.state = err ? err : 1;
	}
	return rng.state == 1 ? 0 : rng.state;
}

/* One request: bytes the device wrote, or -VIRTIO_E*. */
static int64_t request(uint8_t *buf, uint32_t len)
{
	struct virtq_desc d = { (uint64_t)(uintptr_t)buf, len, VIRTQ_DESC_F_WRITE, 0 };
	int r = virtq_add(&rng.vq, &d, 1, buf);
	if (r < 0)
		return r;
	virtq_kick(&rng.vq);
	for (;;) {
		void *cookie;
		uint32_t written;
		r = virtq_get(&rng.vq, &cookie, &written);
		if (r < 0)
			return r;
		if (r > 0)
			return cookie == buf && written <= len ? (int64_t)written : -VIRTIO_EBROKEN;
		if (virtq_arm(&rng.vq, 1))
			continue;
		r = virtio_wait(&rng.vdev, UINT64_MAX);
		if (r < 0)
			return r;
		if (!virtq_has_used(&rng.vq) && virtio_needs_reset(&rng.vdev))
			return -VIRTIO_EBROKEN;
	}
}

int64_t rng_read(void *buf, size_t len)
{
	int err = rng_open();
	if (err)
		return err;
	uint8_t *p = buf;
	size_t left = len;
	unsigned empty = 0;
	while (left) {
		uint32_t chunk = left < RNG_CHUNK ? (uint32_t)left : RNG_CHUNK;
		int64_t n = request(p, chunk);
		if (n < 0)
			return n;
		if (n == 0 && ++empty >= RNG_MAX_EMPTY)
			return -VIRTIO_EIO;
		if (n > 0)
			empty = 0;
		p += n;
		left -= (size_t)n;
	}
	return (int64_t)len;
}
