/*
 * Transport-independent virtio device logic: interrupts after used
 * buffers, the failure path (DEVICE_NEEDS_RESET), kick dispatch, teardown.
 */
#include "virtio/virtio.h"

#include <stdarg.h>
#include <stdio.h>

#include "log.h"

/* A guest that breaks its device in a loop must not flood the log. */
#define FAILURES_LOGGED 4

void virtio_interrupt(struct virtio_dev *dev, uint32_t isr_bits)
{
	dev->stats.interrupts++;
	if (dev->transport && dev->transport->interrupt)
		dev->transport->interrupt(dev, isr_bits);
}

void virtio_notify_used(struct virtio_dev *dev, unsigned q)
{
	if (q < VIRTIO_MAX_QUEUES && virtq_should_interrupt(&dev->queues[q]))
		virtio_interrupt(dev, VIRTIO_ISR_QUEUE);
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
	virtio_interrupt(dev, VIRTIO_ISR_CONFIG);
}

void virtio_queue_broken(struct virtio_dev *dev, unsigned q)
{
	virtio_fail(dev, "queue %u: %s", q, q < VIRTIO_MAX_QUEUES ? dev->queues[q].error : "no such queue");
}

bool virtio_pop(struct virtio_dev *dev, unsigned q, struct virtq_elem *elem)
{
	enum virtq_pop_result r = virtq_pop(&dev->queues[q], elem);
	if (r == VIRTQ_BROKEN)
		virtio_queue_broken(dev, q);
	return r == VIRTQ_GOT;
}

void virtio_config_changed(struct virtio_dev *dev)
{
	dev->config_generation++;
	virtio_interrupt(dev, VIRTIO_ISR_CONFIG);
}

bool virtio_queue_live(const struct virtio_dev *dev, unsigned q)
{
	const uint32_t live = VIRTIO_CONFIG_S_DRIVER_OK;
	const uint32_t dead = VIRTIO_CONFIG_S_NEEDS_RESET | VIRTIO_CONFIG_S_FAILED;

	return (dev->status & (live | dead)) == live && q < dev->ops->num_queues && q < VIRTIO_MAX_QUEUES &&
	       dev->queues[q].ready && !dev->queues[q].broken;
}

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

void virtio_destroy(struct virtio_dev *dev)
{
	if (!dev)
		return;
	if (dev->ops->destroy)
		dev->ops->destroy(dev);
	if (dev->transport && dev->transport->destroy)
		dev->transport->destroy(dev);
}

void virtio_stats_print_json(const struct virtio_dev *dev, FILE *out)
{
	fprintf(out, "{\"name\": \"%s\", \"index\": %u, \"kicks\": %llu, \"interrupts\": %llu, "
		"\"requests\": %llu, \"errors\": %llu, \"resets_needed\": %u}",
		dev->ops->name, dev->index, (unsigned long long)dev->stats.kicks,
		(unsigned long long)dev->stats.interrupts, (unsigned long long)dev->stats.requests,
		(unsigned long long)dev->stats.errors, dev->failures);
}

void virtio_stats_print(const struct virtio_dev *dev, FILE *out)
{
	fprintf(out, "  device %-2u %-14s kicks %llu, interrupts %llu, requests %llu, errors %llu", dev->index,
		dev->ops->name, (unsigned long long)dev->stats.kicks, (unsigned long long)dev->stats.interrupts,
		(unsigned long long)dev->stats.requests, (unsigned long long)dev->stats.errors);
	if (dev->failures)
		fprintf(out, ", needed a reset %u time%s", dev->failures, dev->failures == 1 ? "" : "s");
	fputc('\n', out);
}
