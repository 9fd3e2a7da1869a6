/*
 * Transport-independent virtio device logic (virtio 1.2, 2.1-2.7): the
 * status machine, feature negotiation, queue set-up, enable and stop,
 * reset, interrupt status, config space checks, kicks, failures, teardown.
 * A transport only maps its registers onto these.
 */
#include "virtio/virtio.h"

#include "snapshot_format.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include "iothread.h"
#include "log.h"

/* A guest that breaks its device in a loop must not flood the log. */
#define FAILURES_LOGGED 4
#define WARNINGS_LOGGED 8

/* ---- messages ----------------------------------------------------------- */

void virtio_warn(struct virtio_dev *dev, const char *fmt, ...)
{
	char what[200];
	va_list ap;

	if (dev->warnings >= WARNINGS_LOGGED)
		return;
	dev->warnings++;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	log_warn("%s (device %u): %s%s", dev->ops->name, dev->index, what,
		 dev->warnings == WARNINGS_LOGGED ? " (further warnings of this device are not shown)" : "");
}

void virtio_fail(struct virtio_dev *dev, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	if (dev->status & VIRTIO_CONFIG_S_NEEDS_RESET)
		return; /* already failed; the first reason is the one that matters */

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	dev->failures++;
	if (dev->failures <= FAILURES_LOGGED)
		log_error("%s (device %u): %s; the device stops until the guest resets it%s", dev->ops->name,
			  dev->index, why,
			  dev->failures == FAILURES_LOGGED ? " (further failures of this device are not logged)" : "");

	dev->status |= VIRTIO_CONFIG_S_NEEDS_RESET;
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		dev->queues[q].broken = true;
	/* Spec 2.1.2: NEEDS_RESET comes with a configuration change notification. */
	virtio_interrupt(dev, VIRTIO_SOURCE_CONFIG);
}

void virtio_queue_broken(struct virtio_dev *dev, unsigned q)
{
	virtio_fail(dev, "queue %u: %s", q, q < VIRTIO_MAX_QUEUES ? dev->queues[q].error : "no such queue");
}

/* ---- interrupts ----------------------------------------------------------- */

void virtio_interrupt(struct virtio_dev *dev, int source)
{
	uint32_t isr_bits = source == VIRTIO_SOURCE_CONFIG ? VIRTIO_ISR_CONFIG : VIRTIO_ISR_QUEUE;
	__atomic_fetch_add(&dev->stats.interrupts, 1, __ATOMIC_RELAXED);
	__atomic_fetch_or(&dev->isr, isr_bits, __ATOMIC_SEQ_CST);
	if (dev->transport && dev->transport->interrupt)
		dev->transport->interrupt(dev, source);
}

void virtio_notify_used(struct virtio_dev *dev, unsigned q)
{
	if (q < VIRTIO_MAX_QUEUES && virtq_should_interrupt(&dev->queues[q]))
		virtio_interrupt(dev, (int)q);
}

void virtio_config_changed(struct virtio_dev *dev)
{
	dev->config_generation++;
	virtio_interrupt(dev, VIRTIO_SOURCE_CONFIG);
}

uint32_t virtio_isr_read(struct virtio_dev *dev)
{
	return __atomic_load_n(&dev->isr, __ATOMIC_SEQ_CST);
}

void virtio_isr_ack(struct virtio_dev *dev, uint32_t bits)
{
	__atomic_fetch_and(&dev->isr, ~bits, __ATOMIC_SEQ_CST);
}

uint32_t virtio_isr_take(struct virtio_dev *dev)
{
	return __atomic_exchange_n(&dev->isr, 0, __ATOMIC_SEQ_CST);
}

/* ---- queues ---------------------------------------------------------------- */

bool virtio_pop(struct virtio_dev *dev, unsigned q, struct virtq_elem *elem)
{
	enum virtq_pop_result r = virtq_pop(&dev->queues[q], elem);
	if (r == VIRTQ_BROKEN)
		virtio_queue_broken(dev, q);
	return r == VIRTQ_GOT;
}

bool virtio_pop_burst(struct virtio_dev *dev, unsigned q, struct virtq_elem *elem)
{
	enum virtq_pop_result r = virtq_pop_burst(&dev->queues[q], elem);
	if (r == VIRTQ_BROKEN)
		virtio_queue_broken(dev, q);
	return r == VIRTQ_GOT;
}

static uint64_t monotonic_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

uint64_t (*virtio_poll_clock)(void) = monotonic_ns;

#define POLL_YIELD_NS 10000 /* how often a poll window lets others run */

enum virtio_poll_result virtio_poll_avail(struct virtio_dev *dev, unsigned q, uint64_t window_ns,
					  bool (*other)(void *), void *opaque)
{
	struct virtq *vq = &dev->queues[q];

	virtq_kicks_off(vq);
	uint64_t end = virtio_poll_clock() + window_ns, last_yield = end - window_ns;
	for (;;) {
		if (virtq_avail_pending(vq))
			return VIRTIO_POLL_AVAIL;
		if (other && other(opaque))
			return VIRTIO_POLL_OTHER;
		if (!iothread_busy_ok(dev->io)) {
			/* A pause or stop waits for this handler: go now. A chain
			 * that came without a kick gets our own, for after it. */
			if (virtq_kicks_on(vq))
				virtio_queue_rekick(dev, q);
			return VIRTIO_POLL_IDLE;
		}
		uint64_t now = virtio_poll_clock();
		if (now >= end)
			break;
		if (now - last_yield >= POLL_YIELD_NS) {
			/* A vCPU thread that shares this CPU must get to run, or
			 * the chain we wait for cannot come. */
			last_yield = now;
			sched_yield();
		} else {
			__builtin_ia32_pause();
		}
	}
	return virtq_kicks_on(vq) ? VIRTIO_POLL_AVAIL : VIRTIO_POLL_IDLE;
}

bool virtio_queue_live(const struct virtio_dev *dev, unsigned q)
{
	const uint32_t live = VIRTIO_CONFIG_S_DRIVER_OK;
	const uint32_t dead = VIRTIO_CONFIG_S_NEEDS_RESET | VIRTIO_CONFIG_S_FAILED;

	return (dev->status & (live | dead)) == live && q < dev->ops->num_queues && q < VIRTIO_MAX_QUEUES &&
	       dev->queues[q].ready && !dev->queues[q].broken;
}

static void signal_fd(int fd)
{
	uint64_t one = 1;
	if (fd >= 0 && write(fd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is saturated, the reader is woken anyway. */
	}
}

void virtio_queue_notify(struct virtio_dev *dev, unsigned q)
{
	if (q < dev->ops->num_queues)
		signal_fd(dev->kicks[q].fd);
	else
		virtio_warn(dev, "notify for queue %u, which does not exist; ignored", q);
}

void virtio_queue_rekick(struct virtio_dev *dev, unsigned q)
{
	if (q >= dev->ops->num_queues)
		return;
	__atomic_fetch_add(&dev->kicks[q].own, 1, __ATOMIC_RELAXED);
	signal_fd(dev->kicks[q].fd);
}

struct virtq *virtio_queue_setup(struct virtio_dev *dev, unsigned q, const char *what)
{
	if (q >= dev->ops->num_queues) {
		virtio_warn(dev, "%s for queue %u, which does not exist; ignored", what, q);
		return NULL;
	}
	if (dev->queues[q].ready) {
		virtio_warn(dev, "%s for queue %u while it is ready; ignored", what, q);
		return NULL;
	}
	return &dev->queues[q];
}

void virtio_queue_set_num(struct virtio_dev *dev, unsigned q, uint32_t num)
{
	if (virtio_queue_setup(dev, q, "queue size"))
		dev->queue_num[q] = num;
}

/* Forget queue q, after the device has let go of everything from it. */
static void queue_stop(struct virtio_dev *dev, unsigned q)
{
	if (dev->queues[q].ready && dev->ops->queue_stop)
		dev->ops->queue_stop(dev, q);
	virtq_reset(&dev->queues[q]);
}

void virtio_queue_set_ready(struct virtio_dev *dev, unsigned q, uint32_t value)
{
	if (q >= dev->ops->num_queues) {
		virtio_warn(dev, "queue enable for queue %u, which does not exist; ignored", q);
		return;
	}
	struct virtq *vq = &dev->queues[q];
	if (value == 0) {
		if (vq->ready)
			queue_stop(dev, q);
		return;
	}
	if (value != 1) {
		virtio_warn(dev, "queue enable %#x for queue %u is neither 0 nor 1; ignored", value, q);
		return;
	}
	if (vq->ready || (dev->status & VIRTIO_CONFIG_S_NEEDS_RESET))
		return;
	if (!(dev->status & VIRTIO_CONFIG_S_FEATURES_OK)) {
		virtio_fail(dev, "queue %u made ready before FEATURES_OK", q);
		return;
	}
	if (dev->queue_num[q] > dev->ops->queue_max) {
		virtio_fail(dev, "queue %u: size %u is larger than the maximum %u", q, dev->queue_num[q],
			    dev->ops->queue_max);
		return;
	}
	vq->size = (uint16_t)dev->queue_num[q];
	vq->event_idx = dev->driver_features & (1ull << VIRTIO_RING_F_EVENT_IDX);
	vq->indirect = dev->driver_features & (1ull << VIRTIO_RING_F_INDIRECT_DESC);
	if (virtq_enable(vq, dev->mem))
		virtio_fail(dev, "queue %u: %s", q, vq->error);
}

void virtio_queue_set_indices(struct virtio_dev *dev, unsigned q, uint16_t last_avail, uint16_t used_idx)
{
	if (q >= dev->ops->num_queues || !dev->queues[q].ready)
		return;
	struct virtq *vq = &dev->queues[q];
	vq->last_avail = last_avail;
	vq->used_idx = used_idx;
	vq->signalled_used = used_idx;
	vq->signalled_valid = false;
}

/* ---- features and status ----------------------------------------------------- */

uint64_t virtio_offered_features(const struct virtio_dev *dev)
{
	return dev->ops->features | VIRTIO_COMMON_FEATURES;
}

uint32_t virtio_device_features_word(const struct virtio_dev *dev, uint32_t sel)
{
	uint64_t features = virtio_offered_features(dev);
	if (sel == 0)
		return (uint32_t)features;
	return sel == 1 ? (uint32_t)(features >> 32) : 0;
}

void virtio_driver_features_write(struct virtio_dev *dev, uint32_t sel, uint32_t value)
{
	if (dev->status & VIRTIO_CONFIG_S_FEATURES_OK) {
		virtio_warn(dev, "driver features written after FEATURES_OK; ignored");
	} else if (sel <= 1) {
		unsigned shift = sel * 32;
		dev->staged_features = (dev->staged_features & ~(0xffffffffull << shift)) | (uint64_t)value << shift;
	} else if (value) {
		virtio_warn(dev, "driver features word %u = %#x: no such features; ignored", sel, value);
	}
}

void virtio_reset(struct virtio_dev *dev)
{
	/* The device finishes what it took from each ring while the rings
	 * are still valid, then everything the driver set up is forgotten. */
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		if (q < dev->ops->num_queues)
			queue_stop(dev, q);
	if (dev->ops->reset)
		dev->ops->reset(dev);
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		virtq_reset(&dev->queues[q]);
		dev->queue_num[q] = 0;
	}
	dev->status = 0;
	dev->driver_features = 0;
	dev->staged_features = 0;
	__atomic_store_n(&dev->isr, 0, __ATOMIC_SEQ_CST);
}

static bool features_acceptable(struct virtio_dev *dev)
{
	uint64_t extra = dev->staged_features & ~virtio_offered_features(dev);
	bool v1 = dev->staged_features & (1ull << VIRTIO_F_VERSION_1);

	if (extra || !v1) {
		virtio_warn(dev, "FEATURES_OK refused: driver features %#llx %s",
			    (unsigned long long)dev->staged_features,
			    extra ? "include bits the device did not offer"
				  : "lack VERSION_1 (legacy drivers are not supported)");
		return false;
	}
	return true;
}

static void activate(struct virtio_dev *dev)
{
	if (dev->ops->activate && dev->ops->activate(dev) != 0) {
		virtio_fail(dev, "the device could not start");
		return;
	}
	/* One kick per ready queue, through the I/O loop like any other:
	 * buffers the driver made available before DRIVER_OK get served
	 * even if it (rightly) did not notify before DRIVER_OK. */
	for (unsigned q = 0; q < dev->ops->num_queues; q++)
		if (dev->queues[q].ready)
			virtio_queue_rekick(dev, q);
}

void virtio_status_write(struct virtio_dev *dev, uint32_t value)
{
	const uint32_t device_owned = VIRTIO_CONFIG_S_NEEDS_RESET;
	uint32_t old = dev->status;

	if (value == 0) {
		virtio_reset(dev);
		return;
	}
	if (value > 0xff)
		virtio_warn(dev, "Status %#x has bits above the 8 the spec defines; they are ignored", value);
	uint32_t new = (value & 0xff & ~device_owned) | (old & device_owned);
	if (old & ~new) {
		virtio_warn(dev, "Status %#x would clear bits of %#x; only a reset (0) clears them; ignored", value,
			    old);
		return;
	}
	uint32_t added = new & ~old;
	if (added & VIRTIO_CONFIG_S_FEATURES_OK) {
		if (features_acceptable(dev))
			dev->driver_features = dev->staged_features;
		else
			new &= ~VIRTIO_CONFIG_S_FEATURES_OK; /* the driver reads it back and gives up */
	}
	if ((added & VIRTIO_CONFIG_S_DRIVER_OK) && !(new & VIRTIO_CONFIG_S_FEATURES_OK)) {
		virtio_warn(dev, "DRIVER_OK without FEATURES_OK; ignored");
		new &= ~VIRTIO_CONFIG_S_DRIVER_OK;
	}
	dev->status = new;
	added = new & ~old;
	if ((added & VIRTIO_CONFIG_S_DRIVER_OK) && !(new & (VIRTIO_CONFIG_S_NEEDS_RESET | VIRTIO_CONFIG_S_FAILED)))
		activate(dev);
}

/* ---- config space --------------------------------------------------------- */

void virtio_config_access(struct virtio_dev *dev, uint32_t off, uint8_t *data, unsigned len, bool is_write)
{
	const struct virtio_ops *ops = dev->ops;
	bool width_ok = (len == 1 || len == 2 || len == 4 || len == 8) && off % len == 0;
	bool inside = (uint64_t)off + len <= ops->config_size;

	if (!is_write)
		memset(data, 0, len);
	if (!width_ok) {
		virtio_warn(dev, "%u-byte %s at config offset %#x: config fields take aligned 1, 2, 4 or 8-byte "
			    "accesses; %s", len, is_write ? "write" : "read", off, is_write ? "ignored" : "reads as 0");
		return;
	}
	if (!inside) {
		virtio_warn(dev, "%s at config offset %#x, past the %u-byte config space; %s",
			    is_write ? "write" : "read", off, ops->config_size, is_write ? "ignored" : "reads as 0");
		return;
	}
	if (!is_write) {
		if (ops->config_read)
			ops->config_read(dev, off, data, len);
	} else if (ops->config_write) {
		ops->config_write(dev, off, data, len);
	} else {
		virtio_warn(dev, "write to config offset %#x: the config space is read-only; ignored", off);
	}
}

/* ---- kicks, creation, teardown ---------------------------------------------- */

void virtio_queue_kick(struct virtio_dev *dev, unsigned q, uint64_t count)
{
	pthread_mutex_lock(&dev->lock);
	dev->stats.kicks += count;
	/* Kicks before DRIVER_OK or after a failure are dropped: the spec
	 * forbids the first, and a broken device must not touch its rings. */
	if (virtio_queue_live(dev, q))
		dev->ops->queue_notify(dev, q);
	pthread_mutex_unlock(&dev->lock);
}

/* I/O loop: a queue's kick fd fired. */
static void on_kick(void *opaque, uint32_t events)
{
	struct virtio_kick *k = opaque;
	uint64_t count;

	(void)events;
	if (read(k->fd, &count, sizeof(count)) != sizeof(count))
		return; /* nothing pending (a late call after a reset) */
	uint64_t own = __atomic_exchange_n(&k->own, 0, __ATOMIC_RELAXED);
	virtio_queue_kick(k->dev, k->q, count > own ? count - own : 0);
}

static bool ops_valid(const struct virtio_ops *ops)
{
	uint16_t n = ops->queue_max;
	return ops->name && ops->queue_notify && ops->num_queues >= 1 && ops->num_queues <= VIRTIO_MAX_QUEUES &&
	       n >= 1 && n <= VIRTQ_MAX_SIZE && !(n & (n - 1)) && ops->config_size <= VIRTIO_CONFIG_MAX;
}

static void free_dev(struct virtio_dev *dev)
{
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		if (dev->kicks[q].fd < 0)
			continue;
		iothread_unwatch(dev->io, dev->kicks[q].fd);
		close(dev->kicks[q].fd);
	}
	pthread_mutex_destroy(&dev->lock);
	free(dev);
}

struct virtio_dev *virtio_dev_new(const struct virtio_ctx *ctx, const struct virtio_ops *ops, void *priv)
{
	if (!ops_valid(ops)) {
		log_error("internal error: %s has invalid virtio_ops", ops->name ? ops->name : "a device");
		return NULL;
	}
	struct virtio_dev *dev = calloc(1, sizeof(*dev));
	if (!dev) {
		log_error("out of memory adding %s", ops->name);
		return NULL;
	}
	dev->ops = ops;
	dev->priv = priv;
	dev->mem = ctx->mem;
	dev->io = ctx->io;
	pthread_mutex_init(&dev->lock, NULL);
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		dev->kicks[q] = (struct virtio_kick){ .dev = dev, .q = q, .fd = -1 };
	for (unsigned q = 0; q < ops->num_queues; q++) {
		dev->kicks[q].fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (dev->kicks[q].fd < 0) {
			log_error("cannot create eventfds for %s: %s", ops->name, strerror(errno));
			goto fail;
		}
		int ret = iothread_watch(dev->io, dev->kicks[q].fd, EPOLLIN, on_kick, &dev->kicks[q]);
		if (ret) {
			log_error("cannot watch %s's queue %u notifier: %s", ops->name, q, strerror(-ret));
			goto fail;
		}
	}
	return dev;
fail:
	free_dev(dev);
	return NULL;
}

void virtio_quiesce(void *opaque)
{
	struct virtio_dev *dev = opaque;

	pthread_mutex_lock(&dev->lock);
	if (dev->ops->quiesce)
		dev->ops->quiesce(dev);
	pthread_mutex_unlock(&dev->lock);
}

void virtio_set_transport(struct virtio_dev *dev, const struct virtio_transport *t, void *priv)
{
	dev->transport = t;
	dev->transport_priv = priv;
}

void virtio_destroy(struct virtio_dev *dev)
{
	if (!dev)
		return;
	if (dev->transport && dev->transport->detach)
		dev->transport->detach(dev);
	if (dev->ops->destroy)
		dev->ops->destroy(dev);
	free_dev(dev);
}

/* ---- stats ------------------------------------------------------------------ */

void virtio_stats_print_json(const struct virtio_dev *dev, FILE *out)
{
	fprintf(out, "{\"name\": \"%s\", \"index\": %u, \"kicks\": %llu, \"interrupts\": %llu, "
		"\"requests\": %llu, \"errors\": %llu, \"resets_needed\": %u",
		dev->ops->name, dev->index, (unsigned long long)dev->stats.kicks,
		(unsigned long long)dev->stats.interrupts, (unsigned long long)dev->stats.requests,
		(unsigned long long)dev->stats.errors, dev->failures);
	if (dev->ops->stats_extra)
		dev->ops->stats_extra(dev, out, true);
	if (dev->transport && dev->transport->stats_extra)
		dev->transport->stats_extra(dev, out, true);
	fputc('}', out);
}

void virtio_stats_print(const struct virtio_dev *dev, FILE *out)
{
	fprintf(out, "  device %-2u %-14s kicks %llu, interrupts %llu, requests %llu, errors %llu", dev->index,
		dev->ops->name, (unsigned long long)dev->stats.kicks, (unsigned long long)dev->stats.interrupts,
		(unsigned long long)dev->stats.requests, (unsigned long long)dev->stats.errors);
	if (dev->failures)
		fprintf(out, ", needed a reset %u time%s", dev->failures, dev->failures == 1 ? "" : "s");
	if (dev->ops->stats_extra)
		dev->ops->stats_extra(dev, out, false);
	if (dev->transport && dev->transport->stats_extra)
		dev->transport->stats_extra(dev, out, false);
	fputc('\n', out);
}

/* ---- snapshot ------------------------------------------------------------- */

bool virtio_can_save(const struct virtio_dev *dev)
{
	return dev->ops->save != NULL;
}

void virtio_save(struct virtio_dev *dev, struct snap_writer *w)
{
	pthread_mutex_lock(&dev->lock);
	snap_put_u32(w, dev->ops->device_id);
	snap_put_u32(w, dev->ops->num_queues);
	snap_put_u64(w, dev->driver_features);
	snap_put_u64(w, dev->staged_features);
	snap_put_u32(w, dev->status);
	snap_put_u32(w, __atomic_load_n(&dev->isr, __ATOMIC_ACQUIRE));
	snap_put_u32(w, dev->config_generation);
	for (unsigned q = 0; q < dev->ops->num_queues; q++) {
		const struct virtq *vq = &dev->queues[q];
		snap_put_u32(w, dev->queue_num[q]);
		snap_put_u32(w, vq->size);
		snap_put_u64(w, vq->desc_gpa);
		snap_put_u64(w, vq->avail_gpa);
		snap_put_u64(w, vq->used_gpa);
		snap_put_u32(w, (uint32_t)vq->ready | (uint32_t)vq->event_idx << 1 | (uint32_t)vq->indirect << 2 |
					(uint32_t)vq->signalled_valid << 3 | (uint32_t)vq->broken << 4);
		snap_put_u32(w, vq->last_avail);
		snap_put_u32(w, vq->used_idx);
		snap_put_u32(w, vq->signalled_used);
	}
	dev->ops->save(dev, w);
	pthread_mutex_unlock(&dev->lock);
}

int virtio_load(struct virtio_dev *dev, struct snap_reader *r, char *err, size_t err_len)
{
	int ret = -1;

	pthread_mutex_lock(&dev->lock);
	uint32_t id = snap_get_u32(r), nq = snap_get_u32(r);
	if (r->bad || id != dev->ops->device_id || nq != dev->ops->num_queues) {
		snprintf(err, err_len, "%s: the saved device is another one (id %u, %u queues)", dev->ops->name, id, nq);
		goto out;
	}
	dev->driver_features = snap_get_u64(r);
	dev->staged_features = snap_get_u64(r);
	dev->status = snap_get_u32(r);
	uint32_t isr = snap_get_u32(r);
	dev->config_generation = snap_get_u32(r);
	/* What virtio_status_write() lets a driver reach: accepted features
	 * only with FEATURES_OK, and then offered ones with VERSION_1;
	 * DRIVER_OK only after FEATURES_OK; the spec's 8 status bits. */
	bool features_ok = dev->status & VIRTIO_CONFIG_S_FEATURES_OK;
	uint64_t extra = dev->driver_features & ~virtio_offered_features(dev);
	if (r->bad || extra || (features_ok && !(dev->driver_features & (1ull << VIRTIO_F_VERSION_1))) ||
	    (!features_ok && dev->driver_features)) {
		snprintf(err, err_len, "%s: the saved driver features %#llx are not ones the device offered and accepted",
			 dev->ops->name, (unsigned long long)dev->driver_features);
		goto out;
	}
	if (dev->status > 0xff || ((dev->status & VIRTIO_CONFIG_S_DRIVER_OK) && !features_ok) ||
	    (isr & ~(uint32_t)(VIRTIO_ISR_QUEUE | VIRTIO_ISR_CONFIG))) {
		snprintf(err, err_len, "%s: the saved status %#x (interrupt status %#x) is not one a driver can reach",
			 dev->ops->name, dev->status, isr);
		goto out;
	}
	__atomic_store_n(&dev->isr, isr, __ATOMIC_RELEASE);
	for (unsigned q = 0; q < nq; q++) {
		struct virtq *vq = &dev->queues[q];
		dev->queue_num[q] = snap_get_u32(r);
		uint32_t size = snap_get_u32(r);
		vq->desc_gpa = snap_get_u64(r);
		vq->avail_gpa = snap_get_u64(r);
		vq->used_gpa = snap_get_u64(r);
		uint32_t flags = snap_get_u32(r);
		uint32_t last_avail = snap_get_u32(r), used_idx = snap_get_u32(r), signalled = snap_get_u32(r);
		if (r->bad || size > dev->ops->queue_max || last_avail > 0xffff || used_idx > 0xffff ||
		    signalled > 0xffff || (flags & ~31u)) {
			snprintf(err, err_len, "%s: queue %u's saved state is malformed", dev->ops->name, q);
			goto out;
		}
		/* A ready queue got there through virtio_queue_set_ready(): after
		 * FEATURES_OK, with the size the driver chose, at most the
		 * maximum. One that is not ready has no size yet, or the one
		 * an enable that failed (and broke the device) took. */
		bool ready = flags & 1;
		if (ready ? !features_ok || size != dev->queue_num[q] : size != 0 && size != dev->queue_num[q]) {
			snprintf(err, err_len, "%s: queue %u's saved size %u (the driver chose %u) is not one a driver "
				 "can set up", dev->ops->name, q, size, dev->queue_num[q]);
			goto out;
		}
		vq->size = (uint16_t)size;
		/* As virtio_queue_set_ready() derives them: from the features,
		 * not from the file's flags (bits 1 and 2, ignored). */
		vq->event_idx = dev->driver_features & (1ull << VIRTIO_RING_F_EVENT_IDX);
		vq->indirect = dev->driver_features & (1ull << VIRTIO_RING_F_INDIRECT_DESC);
		if (ready && !(flags & 16)) {
			/* Checked and mapped again, as when the driver enabled it. */
			if (virtq_enable(vq, dev->mem)) {
				snprintf(err, err_len, "%s: queue %u: %s", dev->ops->name, q, vq->error);
				goto out;
			}
		}
		vq->broken = flags & 16;
		vq->signalled_valid = flags & 8;
		vq->last_avail = (uint16_t)last_avail;
		vq->used_idx = (uint16_t)used_idx;
		vq->signalled_used = (uint16_t)signalled;
	}
	char why[200] = "its own saved state is malformed";
	if (dev->ops->load && dev->ops->load(dev, r, why, sizeof(why))) {
		snprintf(err, err_len, "%s: %s", dev->ops->name, why);
		goto out;
	}
	if (r->bad || r->left) {
		snprintf(err, err_len, "%s: its saved state has the wrong length", dev->ops->name);
		goto out;
	}
	ret = 0;
	if ((dev->status & VIRTIO_CONFIG_S_DRIVER_OK) &&
	    !(dev->status & (VIRTIO_CONFIG_S_NEEDS_RESET | VIRTIO_CONFIG_S_FAILED)))
		activate(dev);
out:
	pthread_mutex_unlock(&dev->lock);
	return ret;
}
