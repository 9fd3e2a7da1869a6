/*
 * Block devices: the disks given to `pvmm run --disk PATH[,readonly]`,
 * in command-line order, whichever way the monitor presents them:
 * virtio-blk over virtio-mmio (the default), or the emulated IDE disk
 * (`--disk-model ide`, boot info PVMM_DEV_IDE), which guest/runtime/ide.c
 * drives with ATA PIO commands. The same program works on both.
 *
 *     struct blk_dev *d = blk_open(0);           // first disk, or NULL
 *     int err = blk_read(d, 0, buf, 8);          // sectors 0..7 into buf
 *     if (err) printf("%s\n", blk_strerror(err));
 *
 * Sectors are 512 bytes. Buffers are used in place (no copies; guest
 * memory is identity-mapped): any address in RAM works, no alignment
 * needed. Every function returns 0 (or a count) on success and a negative
 * -BLK_E* code on failure; nothing fails silently.
 *
 * Asynchronous use: fill struct blk_req, blk_submit() as many as the
 * queue holds (blk_queue_size; -BLK_EAGAIN when full), blk_kick() once to
 * tell the device about all of them, then blk_wait() and
 * blk_poll_completions() to collect finished requests (each exactly once,
 * in completion order). The synchronous calls are built on the same
 * queue and may be mixed with asynchronous requests in flight.
 *
 * Waiting and interrupts: by default (BLK_MODE_POLL) interrupts stay off
 * and blk_wait blocks in the monitor (para-API POLL) until the device
 * signals; completions are reaped when the program asks. In BLK_MODE_IRQ
 * the device's interrupt handler reaps completions as they come (so
 * blk_poll_completions finds them without any device access), and the
 * runtime turns interrupts on. Either way a request costs the guest about
 * a hundred instructions (see guest/README.md).
 *
 * IDE: the device takes one command at a time and the driver does it
 * start to end with PIO (every register access an exit). A synchronous
 * call runs at once; an asynchronous request waits in the driver until
 * blk_kick (or blk_wait / blk_poll_completions, which kick), which runs
 * everything pending in submission order, so it is complete by the time
 * anything waits for it. Differences a program can see: no discard or
 * write zeroes (-BLK_EUNSUPP); blk_get_id gives the IDENTIFY serial
 * ("PVMM" and 16 hex digits); blk_readonly is false until the device has
 * refused a write (IDENTIFY cannot say read-only; the monitor answers a
 * write to a read-only image with ABRT, reported as -BLK_EIO like
 * virtio-blk's); BLK_MODE_IRQ makes the PIO interrupt-driven (nIEN
 * clear, one interrupt per DRQ block).
 *
 * Not thread- or interrupt-safe: call from the program, not from handlers.
 */
#ifndef PVMM_BLK_H
#define PVMM_BLK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pvmm/virtio.h>

#define BLK_SECTOR_SIZE 512u
#define BLK_ID_BYTES 20u /* blk_get_id: the device's serial, NUL-padded */

/* Errors (returned negated). Same values as -VIRTIO_E*. */
#define BLK_ENODEV    VIRTIO_ENODEV    /* no such disk */
#define BLK_EINVAL    VIRTIO_EINVAL    /* bad argument (count 0, NULL buffer, too big, request busy) */
#define BLK_EUNSUPP   VIRTIO_EUNSUPP   /* the device lacks the feature (discard, write zeroes) or said UNSUPP */
#define BLK_EAGAIN    VIRTIO_EAGAIN    /* queue full: collect completions, then resubmit */
#define BLK_EIO       VIRTIO_EIO       /* the device failed the request (VIRTIO_BLK_S_IOERR; also a write to a read-only disk) */
#define BLK_ERANGE    VIRTIO_ERANGE    /* sectors beyond the end of the disk (checked before the device sees it) */
#define BLK_EBROKEN   VIRTIO_EBROKEN   /* the device needs a reset or misbehaved; the disk is unusable */
#define BLK_ETIMEDOUT VIRTIO_ETIMEDOUT /* blk_wait's deadline passed */
#define BLK_ENOMEM    VIRTIO_ENOMEM    /* no pages for the queue */

/* "EIO" for -BLK_EIO, "OK" for 0. */
static inline const char *blk_strerror(int err)
{
	return virtio_strerror(err);
}

struct blk_dev;

/* ---- Opening and properties ----------------------------------------- */

/* Number of disks the monitor gave the VM. */
unsigned blk_count(void);

/* Open disk n (0-based, command-line order): negotiate, set up the queue,
 * DRIVER_OK. A second call returns the same device. NULL if there is no
 * such disk or it failed to initialize (blk_open_error() says why). */
struct blk_dev *blk_open(unsigned n);
static inline struct blk_dev *blk_first(void)
{
	return blk_open(0);
}
int blk_open_error(void); /* -BLK_E* of the last failed blk_open */

uint64_t blk_capacity(const struct blk_dev *dev);  /* in 512-byte sectors */
uint32_t blk_block_size(const struct blk_dev *dev); /* the device's preferred I/O size in bytes (512 if it does not say) */
bool blk_readonly(const struct blk_dev *dev);      /* VIRTIO_BLK_F_RO (IDE: a write was refused): writes fail with -BLK_EIO */
bool blk_can_flush(const struct blk_dev *dev);     /* VIRTIO_BLK_F_FLUSH (else writes are write-through) */
bool blk_can_discard(const struct blk_dev *dev);
bool blk_can_write_zeroes(const struct blk_dev *dev);
unsigned blk_queue_size(const struct blk_dev *dev); /* most requests in flight at once */
uint32_t blk_max_sectors(const struct blk_dev *dev); /* most sectors one request may carry */
const struct virtio_dev *blk_virtio(const struct blk_dev *dev); /* the transport (index, irq, features; IDE: index and irq only) */

/* ---- Modes ------------------------------------------------------------ */

enum blk_mode {
	BLK_MODE_POLL = 0, /* interrupts off; completions reaped on demand (default) */
	BLK_MODE_IRQ = 1,  /* the device's interrupt reaps completions; enables interrupts */
};

/* Switch mode; 0, or -BLK_EUNSUPP if the device has no interrupt line. */
int blk_set_mode(struct blk_dev *dev, enum blk_mode mode);
enum blk_mode blk_get_mode(const struct blk_dev *dev);

/* ---- Synchronous I/O -----------------------------------------------------
 * Each returns when the device has answered: 0 or -BLK_E*. Requests larger
 * than blk_max_sectors are split. */

int blk_read(struct blk_dev *dev, uint64_t sector, void *buf, uint32_t count);
int blk_write(struct blk_dev *dev, uint64_t sector, const void *buf, uint32_t count);
/* Make every completed write durable (a no-op without VIRTIO_BLK_F_FLUSH:
 * the device is write-through). */
int blk_flush(struct blk_dev *dev);
/* The device's ID string into id[BLK_ID_BYTES] (not NUL-terminated when
 * all 20 bytes are used). */
int blk_get_id(struct blk_dev *dev, char id[BLK_ID_BYTES]);
/* Sectors [sector, sector + count) may be deallocated (discard) / read
 * back as zeros afterwards (write zeroes; `unmap` lets the device
 * deallocate them). -BLK_EUNSUPP without the feature. */
int blk_discard(struct blk_dev *dev, uint64_t sector, uint32_t count);
int blk_write_zeroes(struct blk_dev *dev, uint64_t sector, uint32_t count, bool unmap);

/* ---- Asynchronous I/O ------------------------------------------------------ */

enum blk_op {
	BLK_OP_READ = 0,
	BLK_OP_WRITE = 1,
	BLK_OP_FLUSH = 2,
	BLK_OP_GET_ID = 3,       /* buf: BLK_ID_BYTES bytes */
	BLK_OP_DISCARD = 4,
	BLK_OP_WRITE_ZEROES = 5, /* flags: BLK_REQ_UNMAP */
};
#define BLK_REQ_UNMAP 1u

enum blk_req_state {
	BLK_REQ_IDLE = 0,     /* never submitted, or collected */
	BLK_REQ_INFLIGHT = 1, /* submitted, not completed */
	BLK_REQ_DONE = 2,     /* completed, waiting to be collected */
};

/* A request. The caller owns the memory and must keep it (and buf) alive
 * and untouched from blk_submit until the request comes back from
 * blk_poll_completions. The driver's part is private. */
struct blk_req {
	/* Set by the caller. */
	uint32_t op;       /* enum blk_op */
	uint32_t count;    /* sectors (read, write, discard, write zeroes) */
	uint64_t sector;
	void *buf;         /* read/write data, GET_ID's 20 bytes */
	uint32_t flags;    /* BLK_REQ_UNMAP */
	uint32_t reserved;
	uint64_t tag;      /* the caller's, untouched */
	/* Set by the driver. */
	int result;        /* at completion: 0 or -BLK_E* */
	uint32_t state;    /* enum blk_req_state */
	/* Private: the device reads and writes these while in flight. */
	struct blk_req *next;
	struct virtio_blk_req_hdr hdr;
	struct virtio_blk_range range;
	struct virtq_desc desc[3] __attribute__((aligned(16))); /* the chain; an indirect table when possible */
	uint8_t status;
	bool internal;     /* a synchronous call's: never on the done list */
} __attribute__((aligned(16)));

/* Queue a request (not yet visible to the device: blk_kick). 0, or
 * -BLK_EINVAL / -BLK_ERANGE / -BLK_EUNSUPP (bad request, which is left
 * idle), -BLK_EAGAIN (queue full), -BLK_EBROKEN. */
int blk_submit(struct blk_dev *dev, struct blk_req *req);

/* Queue n requests at once: blk_submit's work without its per-call
 * costs. Returns how many were queued (reqs[0..k-1], in order): n, or
 * fewer when one fails (blk_submit on it says why), or that -BLK_E* when
 * the first fails. Nothing reaches the device before blk_kick. */
int blk_submit_batch(struct blk_dev *dev, struct blk_req *const *reqs, unsigned n);

/* Tell the device about everything submitted (one notification for any
 * number of requests, skipped when the device is already busy with the
 * queue). blk_wait and blk_poll_completions kick too. */
void blk_kick(struct blk_dev *dev);

/* Collect up to `max` completed requests into out[] (each request is
 * returned exactly once; req->result holds its outcome). Returns the
 * number collected (0 if none), or -BLK_EBROKEN. Never blocks. */
int blk_poll_completions(struct blk_dev *dev, struct blk_req **out, unsigned max);

/* The same, calling fn(req, arg) for each completed request instead. */
typedef void (*blk_done_fn)(struct blk_req *req, void *arg);
int blk_poll_completions_cb(struct blk_dev *dev, blk_done_fn fn, void *arg);

/* Block until at least one request is completed and not yet collected,
 * or the monotonic clock reaches deadline_ns (UINT64_MAX: no deadline).
 * Returns the number of completed requests waiting (> 0), 0 if none is
 * in flight (nothing to wait for), -BLK_ETIMEDOUT, or -BLK_EBROKEN. */
int blk_wait(struct blk_dev *dev, uint64_t deadline_ns);

/* The same, but until `n` completions wait (or all in-flight requests
 * have completed, if fewer): one wake-up for a batch. */
int blk_wait_n(struct blk_dev *dev, unsigned n, uint64_t deadline_ns);

/* Requests submitted and not yet completed. */
unsigned blk_in_flight(const struct blk_dev *dev);

/* ---- Statistics ------------------------------------------------------------ */

struct blk_stats {
	uint64_t requests;    /* completed */
	uint64_t errors;      /* completed with result != 0 */
	uint64_t kicks;       /* QueueNotify writes */
	uint64_t kicks_saved; /* kicks the device did not need (EVENT_IDX) */
	uint64_t waits;       /* POLL calls */
	uint64_t spurious;    /* POLL wake-ups with nothing new */
	uint64_t interrupts;  /* interrupts handled (BLK_MODE_IRQ) */
	uint64_t spins;       /* waits a short spin on the used ring ended, with no POLL */
};
void blk_get_stats(const struct blk_dev *dev, struct blk_stats *st);

#endif /* PVMM_BLK_H */
