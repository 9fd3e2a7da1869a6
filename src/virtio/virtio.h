/*
 * A virtio device, independent of its transport and of the VM.
 *
 * A device is one file in src/devices/ that fills in struct virtio_ops and
 * calls virtio_dev_new() with the context it was given (guest memory and
 * the I/O loop that serves it). Everything a transport would otherwise
 * duplicate lives here: the status machine, feature negotiation, queue
 * set-up, enable and stop, reset, the interrupt status bits, config space
 * checks, and the per-queue kick eventfds. A transport (virtio-mmio, the
 * vhost-user back end, virtio-pci later) decodes its own register layout
 * or messages into these calls and wires kicks and interrupts to KVM or a
 * socket.
 *
 * Locking: dev->lock is held around every op and around queue processing;
 * a device's completion path (e.g. io_uring) takes it too. Transports call
 * the register-level functions below with dev->lock held. Ops must not
 * block on I/O while holding it.
 */
#ifndef PVMM_VIRTIO_H
#define PVMM_VIRTIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "guest_mem.h"
#include "virtio/queue.h"

#define VIRTIO_MAX_QUEUES 4
#define VIRTIO_CONFIG_MAX 256   /* largest device config space */

struct iothread;
struct snap_reader;
struct snap_writer;
struct virtio_dev;

/* What hosts a device: the memory its rings live in and the I/O loop its
 * kicks and completions are served on. Neither the VM nor a transport. */
struct virtio_ctx {
	const struct guest_mem *mem;
	struct iothread *io;
};

struct virtio_ops {
	const char *name;       /* "virtio-blk", used in messages */
	uint32_t device_id;     /* VIRTIO_ID_* from linux/virtio_ids.h */
	uint64_t features;      /* device-specific feature bits offered */
	unsigned num_queues;
	uint16_t queue_max;     /* largest queue size accepted */

	/* Device config space: `len` bytes (1, 2, 4 or 8) at `offset`,
	 * already checked to lie inside config_size. config_write may be
	 * NULL (read-only). */
	uint32_t config_size;
	void (*config_read)(struct virtio_dev *dev, uint32_t offset, void *data, unsigned len);
	void (*config_write)(struct virtio_dev *dev, uint32_t offset, const void *data, unsigned len);

	/* The driver set DRIVER_OK: queues are enabled; start serving. */
	int (*activate)(struct virtio_dev *dev);
	/* Queue `q` has new buffers (a kick, on the I/O thread). */
	void (*queue_notify)(struct virtio_dev *dev, unsigned q);
	/* Queue `q` is about to be forgotten (the driver disabled it, or
	 * the device is reset): finish or cancel everything taken from it
	 * and drop any buffer held from it, so that nothing from the old
	 * ring is ever pushed into the next one. Optional. */
	void (*queue_stop)(struct virtio_dev *dev, unsigned q);
	/* Device reset, after queue_stop for every queue: forget the rest
	 * of the driver's state. Optional. */
	void (*reset)(struct virtio_dev *dev);
	/* The VM is pausing (its vCPUs parked, the I/O loop paused): finish
	 * everything in flight and push its answers, so that nothing touches
	 * guest memory or the rings until the VM resumes and the device's
	 * state could be written out. Optional; dev->lock held. */
	void (*quiesce)(struct virtio_dev *dev);
	/* Snapshot (docs/snapshot.md): the device's own state beyond what
	 * the core saves (status, features, queues, ISR, config generation),
	 * written while the VM is paused and quiesced, dev->lock held; and
	 * read back into a freshly created device with the same arguments
	 * before the VM runs (0, or -1 with one line in err). A device without
	 * `save` cannot be snapshotted: the snapshot is refused naming it.
	 * `load` may be NULL when save writes nothing. */
	void (*save)(struct virtio_dev *dev, struct snap_writer *w);
	int (*load)(struct virtio_dev *dev, struct snap_reader *r, char *err, size_t err_len);
	/* Optional: free the device's own state at monitor exit. Called
	 * without dev->lock, after the I/O loop has stopped; wait for
	 * anything still in flight. */
	void (*destroy)(struct virtio_dev *dev);
	/* Optional: the device's own counters, appended to its --stats line
	 * (json false: ", name N" pairs) or to its --stats-json object (json
	 * true: ", \"name\": N" pairs). */
	void (*stats_extra)(const struct virtio_dev *dev, FILE *out, bool json);
};

/* Interrupt reasons, as virtio-mmio's InterruptStatus and virtio-pci's ISR
 * both encode them. */
#define VIRTIO_ISR_QUEUE  1u    /* used buffer notification */
#define VIRTIO_ISR_CONFIG 2u    /* configuration change (or NEEDS_RESET) */

/* The source of an interrupt: a queue index, or this for the
 * configuration (a config change, or DEVICE_NEEDS_RESET). */
#define VIRTIO_SOURCE_CONFIG (-1)

/* What a transport provides: raising its interrupt for `source` (dev->isr
 * already holds the reason; a transport with one interrupt ignores the
 * source, one with a vector per queue, virtio-pci's MSI-X, picks it by
 * the source) and releasing what it set up for the device. */
struct virtio_transport {
	const char *name;
	void (*interrupt)(struct virtio_dev *dev, int source);
	void (*detach)(struct virtio_dev *dev);
	/* Optional: the transport's own counters, after the device's (as
	 * virtio_ops.stats_extra). */
	void (*stats_extra)(const struct virtio_dev *dev, FILE *out, bool json);
};

struct virtio_stats {
	uint64_t kicks;         /* queue notifications received */
	uint64_t interrupts;    /* interrupts raised */
	uint64_t requests;      /* chains completed */
	uint64_t errors;        /* requests answered with an error */
};

/* A queue's kick: an eventfd the transport makes the driver's notify
 * write (KVM ioeventfd, vhost-user kick fd), served on the I/O loop. */
struct virtio_kick {
	struct virtio_dev *dev;
	unsigned q;
	int fd;
	uint64_t own;           /* atomic: kicks the core sent itself, not counted */
};

struct virtio_dev {
	const struct virtio_ops *ops;
	void *priv;                     /* the device's own state */
	const struct guest_mem *mem;
	struct iothread *io;
	unsigned index;                 /* the host's name for it in messages (boot info index) */

	pthread_mutex_t lock;
	uint64_t driver_features;       /* accepted at FEATURES_OK */
	uint64_t staged_features;       /* as the driver wrote them so far */
	uint32_t status;                /* VIRTIO_CONFIG_S_* */
	uint32_t isr;                   /* VIRTIO_ISR_*; atomic, set off the lock */
	struct virtq queues[VIRTIO_MAX_QUEUES];
	uint32_t queue_num[VIRTIO_MAX_QUEUES]; /* size the driver asked for */
	struct virtio_kick kicks[VIRTIO_MAX_QUEUES];

	const struct virtio_transport *transport;
	void *transport_priv;
	struct virtio_stats stats;

	uint32_t config_generation;     /* bumped by virtio_config_changed() */
	unsigned failures;              /* virtio_fail() calls; only the first few are logged */
	unsigned warnings;              /* virtio_warn() calls; likewise */
};

/* The feature bits every pvmm virtio device offers on top of its own. */
#define VIRTIO_COMMON_FEATURES \
	((1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_RING_F_EVENT_IDX) | \
	 (1ull << VIRTIO_RING_F_INDIRECT_DESC))

/* ---- for device files -------------------------------------------------- */

/* A device with `ops` and state `priv`, its kick eventfds watched on
 * ctx->io, not yet on any transport. NULL with a message on failure (priv
 * is then the caller's to free). */
struct virtio_dev *virtio_dev_new(const struct virtio_ctx *ctx, const struct virtio_ops *ops, void *priv);

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
/* The same for a loop that drains the queue (virtq_pop_burst): the driver
 * does not notify while it runs. */
bool virtio_pop_burst(struct virtio_dev *dev, unsigned q, struct virtq_elem *elem);

/*
 * A poll window, for a device whose driver, under load, posts again within
 * microseconds of being answered: kicks off for queue q, then its avail
 * ring (and `other`, when not NULL: the device's own pending work) watched
 * for up to window_ns, with dev->lock held. AVAIL: a chain came, kicks
 * still off (serve with virtio_pop_burst, whose empty pop turns them on).
 * OTHER: `other` said so, kicks still off; serve it and poll again, or
 * be sure the queue is popped again later. IDLE: the window passed (or the
 * I/O thread is asked to pause or stop), kicks are on and nothing is
 * pending (a chain found at the stop is rekicked for after it).
 */
enum virtio_poll_result { VIRTIO_POLL_IDLE, VIRTIO_POLL_AVAIL, VIRTIO_POLL_OTHER };
enum virtio_poll_result virtio_poll_avail(struct virtio_dev *dev, unsigned q, uint64_t window_ns,
					  bool (*other)(void *), void *opaque);
/* The clock of the window, in ns; a unit test puts its own here. */
extern uint64_t (*virtio_poll_clock)(void);

/* Queue q has more work than one pass may do (a serve loop's budget ran
 * out): serve it again on a later pass of the I/O loop, with a kick of
 * the device's own that is not counted as the driver's. Any thread. */
void virtio_queue_rekick(struct virtio_dev *dev, unsigned q);

/* The device changed its config space: bump the generation and raise a
 * config interrupt. Call with dev->lock held. */
void virtio_config_changed(struct virtio_dev *dev);

/* True if the device may use queue q now: DRIVER_OK without NEEDS_RESET,
 * and the queue ready and not broken. Call with dev->lock held. */
bool virtio_queue_live(const struct virtio_dev *dev, unsigned q);

/* ---- for transports (dev->lock held unless said otherwise) ------------- */

/* A rate-limited warning about something the driver did wrong. */
void virtio_warn(struct virtio_dev *dev, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Put the device on a transport. */
void virtio_set_transport(struct virtio_dev *dev, const struct virtio_transport *t, void *priv);

uint64_t virtio_offered_features(const struct virtio_dev *dev);
/* 32-bit word `sel` of the offered features (0 past the end). */
uint32_t virtio_device_features_word(const struct virtio_dev *dev, uint32_t sel);
/* The driver writes word `sel` of its features; refused after FEATURES_OK. */
void virtio_driver_features_write(struct virtio_dev *dev, uint32_t sel, uint32_t value);

/* The device status register: reading, and writing it (0 resets). */
void virtio_status_write(struct virtio_dev *dev, uint32_t value);
/* Full device reset, as a status write of 0. */
void virtio_reset(struct virtio_dev *dev);

/* Queue set-up. virtio_queue_setup() is queue q's state if it exists and
 * may be configured now (not ready), else NULL after a warning naming
 * register `what`. */
struct virtq *virtio_queue_setup(struct virtio_dev *dev, unsigned q, const char *what);
void virtio_queue_set_num(struct virtio_dev *dev, unsigned q, uint32_t num);
/* QueueReady / queue_enable: 1 checks and maps the rings, 0 stops the
 * queue (ops->queue_stop first) and forgets it. */
void virtio_queue_set_ready(struct virtio_dev *dev, unsigned q, uint32_t value);
/* Queue q was just made ready: continue from ring indices kept elsewhere
 * (a vhost-user front end's SET_VRING_BASE, a restored snapshot) instead
 * of 0: the next available entry to take, and the next used entry to fill.
 * Ignored unless the queue is ready. */
void virtio_queue_set_indices(struct virtio_dev *dev, unsigned q, uint16_t last_avail, uint16_t used_idx);
/* A notify the transport saw itself (no ioeventfd): forward it to the
 * I/O loop like any other kick. Any thread, no lock needed. */
void virtio_queue_notify(struct virtio_dev *dev, unsigned q);

/* `count` kicks of queue q arrived (the I/O loop's handler for a kick fd
 * calls this): take dev->lock and call ops->queue_notify if the device is
 * live and the queue ready. Without dev->lock held. */
void virtio_queue_kick(struct virtio_dev *dev, unsigned q, uint64_t count);

/* Interrupt status: read, acknowledge bits, or read-and-clear (PCI ISR).
 * Any thread. */
uint32_t virtio_isr_read(struct virtio_dev *dev);
void virtio_isr_ack(struct virtio_dev *dev, uint32_t bits);
uint32_t virtio_isr_take(struct virtio_dev *dev);

/* A driver access of `len` bytes at `offset` of the device config space:
 * checked for width, alignment and bounds (reads outside see 0, writes are
 * dropped, with a warning), then handed to the device. */
void virtio_config_access(struct virtio_dev *dev, uint32_t offset, uint8_t *data, unsigned len, bool is_write);

/* Raise an interrupt for queue `source` (ISR bit VIRTIO_ISR_QUEUE) or for
 * VIRTIO_SOURCE_CONFIG (VIRTIO_ISR_CONFIG), counting it. Any thread. */
void virtio_interrupt(struct virtio_dev *dev, int source);

/* Pause hook (vm_add_hook's quiesce): ops->quiesce under dev->lock. */
void virtio_quiesce(void *dev);

/* Snapshot: whether the device can be saved (its ops have `save`), its
 * whole state out to `w` (the VM paused), and back from `r` into a device
 * just created with the same arguments, before the VM runs: the queues are
 * re-checked and mapped, and a device the driver had started is activated
 * again (each ready queue kicked once). virtio_load: 0, or -1 with err. */
bool virtio_can_save(const struct virtio_dev *dev);
void virtio_save(struct virtio_dev *dev, struct snap_writer *w);
int virtio_load(struct virtio_dev *dev, struct snap_reader *r, char *err, size_t err_len);

/* At monitor exit, after the I/O loop has stopped: the transport
 * detaches, ops->destroy runs, the kick fds close, the device is freed.
 * Safe on NULL. */
void virtio_destroy(struct virtio_dev *dev);

/* --stats: one line of counters for the device. */
void virtio_stats_print(const struct virtio_dev *dev, FILE *out);
/* The same as one JSON object, for --stats-json. */
void virtio_stats_print_json(const struct virtio_dev *dev, FILE *out);

#endif
