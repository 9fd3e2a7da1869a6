/*
 * TEST ONLY: hooks in the disk backend that let tests see and break
 * durability (docs/virtio-blk.md, "Testing durability"). Both are off
 * unless a test turns them on; off, each costs blk_backend.c one
 * predictable branch per operation.
 *
 * Trace: every operation any backend hands the kernel, in issue order,
 * with the flags it really passes, recorded into the test's array. A unit
 * test sees that a flush became an fdatasync and that a write-through
 * write carried RWF_DSYNC, which the data in the file cannot show.
 *
 * Volatile cache: with PVMM_BLK_TEST_CRASH_LOSES_UNFLUSHED=1 in the
 * environment at blk_open(), the image file plays the disk's stable media.
 * A write without DSYNC stays in this process's memory (reads see it) and
 * reaches the file only at the next flush; what is not flushed when the
 * backend closes or the process is killed is lost, like a power cut. Such
 * a backend always uses the synchronous engine. Discard and write-zeroes
 * go to the file at once (more durable than promised, never less).
 */
#ifndef PVMM_BLK_TEST_HOOK_H
#define PVMM_BLK_TEST_HOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

enum blk_trace_op {
	BLK_TRACE_READ,
	BLK_TRACE_WRITE,        /* plain: complete once in the page cache */
	BLK_TRACE_WRITE_DSYNC,  /* RWF_DSYNC: complete once stable */
	BLK_TRACE_FDATASYNC,
	BLK_TRACE_PUNCH,
	BLK_TRACE_ZERO_RANGE,
};

struct blk_trace {
	enum blk_trace_op op;
	uint64_t offset, len;   /* FDATASYNC: 0, 0 */
};

/* Record into log[0..cap) from now on (every backend), or stop (NULL). */
void blk_trace_start(struct blk_trace *log, unsigned cap);
/* Stop recording; returns how many operations were issued meanwhile
 * (more than cap: the later ones were not stored). */
unsigned blk_trace_stop(void);

/* ---- for blk_backend.c ---- */

extern struct blk_trace *blk_trace_log;
void blk_trace_record(enum blk_trace_op op, uint64_t offset, uint64_t len);

static inline void blk_trace(enum blk_trace_op op, uint64_t offset, uint64_t len)
{
	if (__builtin_expect(__atomic_load_n(&blk_trace_log, __ATOMIC_ACQUIRE) != NULL, 0))
		blk_trace_record(op, offset, len);
}

struct blk_vcache;

/* The environment asks for the volatile cache. */
bool blk_vcache_wanted(void);
/* For an image of `size` bytes; NULL when out of memory. */
struct blk_vcache *blk_vcache_new(uint64_t size);
/* Unflushed writes are dropped: that is the point. NULL ok. */
void blk_vcache_free(struct blk_vcache *c);
/* Syscall-shaped (bytes or -1 with errno) stand-ins for the backend's
 * preadv, pwritev2 and fdatasync on `fd`; 512-byte aligned only. */
ssize_t blk_vcache_read(struct blk_vcache *c, int fd, const struct iovec *iov, unsigned n, uint64_t off);
ssize_t blk_vcache_write(struct blk_vcache *c, int fd, const struct iovec *iov, unsigned n, uint64_t off,
			 uint64_t len, int rwf_flags);
int blk_vcache_flush(struct blk_vcache *c, int fd);
/* [off, off + len) is about to be rewritten on the file directly. */
void blk_vcache_forget(struct blk_vcache *c, uint64_t off, uint64_t len);

#endif
