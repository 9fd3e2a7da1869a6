/*
 * virtio-rng: one request queue; each request's device-writable buffers
 * are filled from getrandom() (the host's CSPRNG, never blocking once the
 * host has booted), at most RNG_MAX_PER_REQUEST bytes per request, as the
 * spec allows the device to use less than the whole buffer.
 */
#include "devices/virtio_rng.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/random.h>

#include <linux/virtio_ids.h>

#include "devices/device.h"
#include "log.h"

/* Bounds the time one request holds the device lock. */
#define RNG_MAX_PER_REQUEST (64u * 1024)

/* Fill the request's writable part; returns the bytes written. */
static uint32_t fill_random(const struct virtq_elem *elem)
{
	uint32_t done = 0;

	for (unsigned i = elem->out_num; i < elem->out_num + elem->in_num && done < RNG_MAX_PER_REQUEST; i++) {
		uint8_t *p = elem->iov[i].iov_base;
		size_t want = elem->iov[i].iov_len;
		if (want > RNG_MAX_PER_REQUEST - done)
			want = RNG_MAX_PER_REQUEST - done;
		size_t got = 0;
		while (got < want) {
			ssize_t n = getrandom(p + got, want - got, 0);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return done + (uint32_t)got;
			got += (size_t)n;
		}
		done += (uint32_t)got;
	}
	return done;
}

static void rng_notify(struct virtio_dev *dev, unsigned q)
{
	struct virtq *vq = &dev->queues[q];
	struct virtq_elem elem;
	unsigned budget = vq->size; /* chains one call may take */
	bool used = false;

	for (;;) {
		if (budget == 0) {
			/* More than a queue's worth: the rest on a later pass of
			 * the I/O loop (our own kick, not counted as the guest's),
			 * so the loop gets back to its stop check in between. */
			virtio_queue_rekick(dev, q);
			break;
		}
		budget--;
		if (!virtio_pop(dev, q, &elem))
			break;
		uint32_t n = fill_random(&elem);
		/* No writable space, or the host's getrandom failed. */
		if (n == 0)
			dev->stats.errors++;
		virtq_push(vq, elem.head, n);
		dev->stats.requests++;
		used = true;
	}
	if (used)
		virtio_notify_used(dev, q);
}

static void rng_save(struct virtio_dev *dev, struct snap_writer *w)
{
	(void)dev;
	(void)w;
}

static const struct virtio_ops rng_ops = {
	.name = "virtio-rng",
	.device_id = VIRTIO_ID_RNG,
	.features = 0,
	.num_queues = 1,
	.queue_max = 256,
	.config_size = 0,
	.queue_notify = rng_notify,
	.save = rng_save,  /* stateless beyond the core's: nothing of its own */
};

static struct virtio_dev *rng_create(const struct device_env *env, const char *arg)
{
	(void)arg;
	return virtio_dev_new(&env->virtio, &rng_ops, NULL);
}

const struct device_type virtio_rng_type = {
	.name = "virtio-rng",
	.kind = DEVICE_VIRTIO,
	.max_count = 1,
	.interrupts = true,
	.create_virtio = rng_create,
};
