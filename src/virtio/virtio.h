/*
 * A virtio device, independent of its transport.
 *
 * A device is one file in src/devices/ that fills in struct virtio_ops and
 * calls virtio_register(); the transport (virtio-mmio today, virtio-pci
 * later) owns the register file, feature negotiation and the status
 * machine, and calls the ops. Queue work runs on the I/O thread, never on
 * the vCPU thread.
 *
 * Locking: dev->lock is held around every op the transport calls and
 * around queue processing; a device's completion path (e.g. io_uring) takes
 * it too. Ops must not block on I/O while holding it.
 */
#ifndef PVMM_VIRTIO_H
#define PVMM_VIRTIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "virtio/queue.h"

#define VIRTIO_MAX_QUEUES 4

struct vm;
struct virtio_dev;

struct virtio_ops {
	const char *name;       /* "virtio-blk", used in messages */
	uint32_t device_id;     /* VIRTIO_ID_* from linux/virtio_ids.h */
	uint64_t features;      /* device-specific feature bits offered */
	unsigned num_queues;
	uint16_t queue_max;     /* largest queue size accepted */

	/* Device config space: `len` bytes (1, 2, 4 or 8) at `offset`.
	 * Reads past the config return zeros (the transport checks bounds
	 * against config_size). config_write may be NULL (read-only). */
	uint32_t config_size;
	void (*config_read)(struct virtio_dev *dev, uint32_t offset, void *data, unsigned len);
	void (*config_write)(struct virtio_dev *dev, uint32_t offset, const void *data, unsigned len);

	/* The driver set DRIVER_OK: queues are enabled; start serving. */
	int (*activate)(struct virtio_dev *dev);
	/* Queue `q` has new buffers (a kick, on the I/O thread). */
	void (*queue_notify)(struct virtio_dev *dev, unsigned q);
	/* Device reset: wait for in-flight requests, forget everything. */
	void (*reset)(struct virtio_dev *dev);
	/* Optional: free the device's own state at monitor exit. Called
	 * without dev->lock, after the I/O thread has stopped (so
	 * dev->vm->iothread is NULL); wait for anything still in flight. */
	void (*destroy)(struct virtio_dev *dev);
};

/* Interrupt reasons, as virtio-mmio's InterruptStatus and virtio-pci's ISR
 * both encode them. */
#define VIRTIO_ISR_QUEUE  1u    /* used buffer notification */
#define VIRTIO_ISR_CONFIG 2u    /* configuration change (or NEEDS_RESET) */

/* How a transport raises interrupts; filled in by the transport. */
struct virtio_transport {
	void (*interrupt)(struct virtio_dev *dev, uint32_t isr_bits);
	/* Release the transport's resources and the device itself. */
	void (*destroy)(struct virtio_dev *dev);
};

struct virtio_stats {
	uint64_t kicks;         /* queue notifications received */
	uint64_t interrupts;    /* interrupts raised */
	uint64_t requests;      /* chains completed */
	uint64_t errors;        /* requests answered with an error */
};

struct virtio_dev {
	const struct virtio_ops *ops;
	void *priv;                     /* the device's own state */
	struct vm *vm;
	unsigned index;                 /* position in the boot info device list */

	pthread_mutex_t lock;
	uint64_t driver_features;       /* accepted at FEATURES_OK */
	uint32_t status;                /* VIRTIO_CONFIG_S_* */
	struct virtq queues[VIRTIO_MAX_QUEUES];

	const struct virtio_transport *transport;
	void *transport_priv;
	struct virtio_stats stats;

	uint32_t config_generation;     /* bumped by virtio_config_changed() */
	unsigned failures;              /* virtio_fail() calls; only the first few are logged */
};

/* The feature bits every pvmm virtio device offers on top of its own. */
#define VIRTIO_COMMON_FEATURES \
	((1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_RING_F_EVENT_IDX) | \
	 (1ull << VIRTIO_RING_F_INDIRECT_DESC))

/* After pushing used buffers on queue q: interrupt the driver if it asked
 * (event idx), counting it. Call with dev->lock held. */
void virtio_notify_used(struct virtio_dev *dev, unsigned q);

/* Something the driver did cannot be recovered from: log why (once), set
 * DEVICE_NEEDS_RESET, stop all queues, and raise a config interrupt. */
void virtio_fail(struct virtio_dev *dev, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* virtio_fail() for a queue that virtq_pop() found VIRTQ_BROKEN, with the
 * queue's own reason. Call with dev->lock held. */
void virtio_queue_broken(struct virtio_dev *dev, unsigned q);

/* The next request on queue q, for a device's serve loop: false when
 * there is none, or when the queue just broke (then the device already
 * needs a reset and virtio_queue_live() is false). dev->lock held. */
bool virtio_pop(struct virtio_dev *dev, unsigned q, struct virtq_elem *elem);

/* The device changed its config space: bump the generation and raise a
 * config interrupt. Call with dev->lock held. */
void virtio_config_changed(struct virtio_dev *dev);

/* Raise an interrupt with VIRTIO_ISR_* bits, counting it. */
void virtio_interrupt(struct virtio_dev *dev, uint32_t isr_bits);

/* The transport saw `count` kicks of queue q (on the I/O thread): take
 * dev->lock and call ops->queue_notify if the device is live (DRIVER_OK,
 * no NEEDS_RESET) and the queue is ready. Transports share this. */
void virtio_queue_kick(struct virtio_dev *dev, unsigned q, uint64_t count);

/* True if the device may use queue q now: DRIVER_OK without NEEDS_RESET,
 * and the queue ready and not broken. Call with dev->lock held. */
bool virtio_queue_live(const struct virtio_dev *dev, unsigned q);

/* At monitor exit, after the I/O thread has stopped: ops->destroy, then
 * the transport frees the device. Safe on NULL. */
void virtio_destroy(struct virtio_dev *dev);

/* --stats: one line of counters for the device. */
void virtio_stats_print(const struct virtio_dev *dev, FILE *out);
/* The same as one JSON object, for --stats-json. */
void virtio_stats_print_json(const struct virtio_dev *dev, FILE *out);

#endif
