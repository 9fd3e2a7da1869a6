/*
 * A raw disk image (regular file or block device) with asynchronous I/O.
 *
 * Shared by the disk front ends (virtio-blk today, emulated IDE later): the
 * front end turns a guest request into struct blk_io operations, queues
 * them with blk_submit(), starts everything queued with one blk_kick(),
 * and learns of completions through an eventfd it watches on the I/O
 * thread. Buffers are the caller's (iovecs straight into guest RAM): the
 * backend never copies data and keeps no cache of its own, so a completed
 * write is in the host page cache and a completed flush is on the disk.
 *
 * Engine: io_uring (one thread, one submit syscall per batch, completions
 * batched); where io_uring is unavailable (old kernel, seccomp, or
 * PVMM_BLK_NO_URING=1 in the environment) the same API runs each operation
 * synchronously with preadv/pwritev in blk_poll(), on the I/O thread.
 *
 * Tests can trace what the backend issues and make unflushed writes
 * vanish at exit: blk_test_hook.h (test only, off by default).
 *
 * Threading: the caller serialises blk_submit/blk_kick/blk_complete/
 * blk_drain/blk_close under its own lock (e.g. the device lock);
 * blk_poll() runs on the I/O thread *without* that lock, because in the
 * synchronous fallback it is where the blocking I/O happens. Completion
 * callbacks run only inside blk_complete() and blk_drain(), never inside
 * blk_submit(), so a callback never re-enters the caller unexpectedly.
 */
#ifndef PVMM_BLK_BACKEND_H
#define PVMM_BLK_BACKEND_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#define BLK_SECTOR_SIZE 512u

struct blk_backend;
struct blk_io;

enum blk_op {
	BLK_OP_READ,         /* iov <- [offset, offset + iov bytes) */
	BLK_OP_WRITE,        /* iov -> [offset, ...) */
	BLK_OP_FLUSH,        /* fdatasync: every completed write reaches the disk */
	BLK_OP_DISCARD,      /* hint: [offset, offset + len) may be deallocated */
	BLK_OP_WRITE_ZEROES, /* [offset, offset + len) reads back as zeros */
};

/* `result` is 0, or -errno. READ and WRITE succeed only when every byte
 * was transferred (short transfers are continued, or fail with -EIO). */
typedef void (*blk_done_fn)(struct blk_io *io, int result);

struct blk_io {
	/* Filled in by the caller before blk_submit(). */
	enum blk_op op;
	uint64_t offset;        /* bytes from the start of the image */
	uint64_t len;           /* DISCARD, WRITE_ZEROES: bytes (READ/WRITE use iov) */
	struct iovec *iov;      /* READ, WRITE: the buffers */
	unsigned iovcnt;
	/* offset, iov, iovcnt and the iovec array itself are advanced in
	 * place as data moves: read them back only as "where it stopped". */
	bool dsync;             /* writes: stable on disk at completion (write-through) */
	blk_done_fn done;
	void *opaque;           /* the caller's */

	/* Backend state; the caller leaves it alone. */
	uint64_t remaining;
	unsigned stage;
	int result;
	struct blk_io *next;
};

/* Open `path` for the guest: O_RDWR (O_RDONLY if `readonly`), O_CLOEXEC;
 * it must be a regular file or a block device whose size is a non-zero
 * multiple of 512; it is flock()ed (exclusive, or shared when readonly) so
 * two VMs cannot write one image. `depth` is the most operations the
 * caller expects in flight (more are queued, not refused). Returns NULL
 * after one log_error line naming the problem and the fix. */
struct blk_backend *blk_open(const char *path, bool readonly, unsigned depth);

/* Wait for every operation (blk_drain), then close everything. NULL ok. */
void blk_close(struct blk_backend *b);

uint64_t blk_size(const struct blk_backend *b);       /* bytes */
const char *blk_path(const struct blk_backend *b);    /* as given to blk_open */
bool blk_readonly(const struct blk_backend *b);
bool blk_is_async(const struct blk_backend *b);       /* io_uring, not the fallback */
/* Suggested discard granularity in bytes (the file system's block size). */
uint32_t blk_discard_granularity(const struct blk_backend *b);
/* A 64-bit fingerprint of the image's identity (device and inode). */
uint64_t blk_fingerprint(const struct blk_backend *b);
/* --disk id=NAME: the serial number devices show the guest instead of one
 * made from the fingerprint (at most 20 characters; longer is cut).
 * blk_serial() is NULL when none was set. */
void blk_set_serial(struct blk_backend *b, const char *serial);
const char *blk_serial(const struct blk_backend *b);

/* Readable (EPOLLIN) when blk_poll() + blk_complete() have work to do. */
int blk_event_fd(const struct blk_backend *b);

/* Queue an operation; nothing is started until blk_kick(). */
void blk_submit(struct blk_backend *b, struct blk_io *io);
/* Start everything queued: one io_uring_submit for the batch. */
void blk_kick(struct blk_backend *b);

/* On the I/O thread when the event fd fires, without the caller's lock:
 * acknowledges the event; in the synchronous fallback, performs the
 * queued operations (blocking). Then call blk_complete() under the lock. */
void blk_poll(struct blk_backend *b);
/* Call the `done` of every finished operation; returns how many. */
unsigned blk_complete(struct blk_backend *b);
/* Block until every submitted operation has finished and its `done` has
 * run (device reset: they write into guest memory). */
void blk_drain(struct blk_backend *b);
/* io_uring only: blk_complete() has something to deliver now. Cheap
 * enough to ask in a loop (a device's poll window). */
bool blk_ready(const struct blk_backend *b);
/* Operations submitted and not yet completed. */
unsigned blk_inflight(const struct blk_backend *b);

#endif
