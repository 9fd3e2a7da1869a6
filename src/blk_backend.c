/*
 * Raw disk image backend: see blk_backend.h for the contract.
 *
 * Every operation is a small state machine (struct blk_io.stage) driven by
 * the result of its last step, so the io_uring engine and the synchronous
 * fallback share all the logic that decides what a result means: a short
 * read or write continues where it stopped, a write-zeroes the file system
 * cannot do with fallocate() becomes plain writes of zeros, a write-through
 * discard or write-zeroes ends with an fdatasync.
 */
#include "blk_backend.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <liburing.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blk_test_hook.h"
#include "log.h"

enum stage {
	ST_RW,          /* readv / writev, continued after a short transfer */
	ST_FSYNC,       /* fdatasync */
	ST_PUNCH,       /* fallocate(PUNCH_HOLE) */
	ST_ZERO_RANGE,  /* fallocate(ZERO_RANGE) */
	ST_ZERO_WRITE,  /* plain writes from a zero buffer */
};

/* Writes of zeros go out in pieces of this size from one shared buffer. */
#define ZERO_CHUNK (256u << 10)
static const uint8_t zero_buf[ZERO_CHUNK];

struct io_list {
	struct blk_io *head, *tail;
};

struct blk_backend {
	int fd;
	int event_fd;
	char *path;
	uint64_t size;
	bool readonly;
	char serial[21];        /* --disk id=, or empty */
	bool async;
	uint32_t granularity;
	uint64_t fingerprint;
	bool no_zero_range;     /* ZERO_RANGE refused once: go straight to writes (atomic) */
	struct blk_vcache *vcache; /* test only (blk_test_hook.h); NULL in real use */

	unsigned total;         /* submitted, `done` not yet called */
	struct io_list ready;   /* finished without touching the disk; caller's lock */

	/* io_uring engine; all under the caller's lock. */
	struct io_uring ring;
	unsigned cap;           /* most operations in the ring: the CQ can never overflow */
	unsigned in_ring;       /* SQEs prepared whose CQE has not been seen */
	unsigned unsubmitted;   /* SQEs prepared since the last io_uring_submit */
	struct io_list waiting; /* over `cap`: started as room frees up */
	bool warned_submit;

	/* Synchronous fallback. `pending` is the caller's (lock); `todo`,
	 * `done` and `executing` are shared with blk_poll() under `mu`. */
	struct io_list pending;
	pthread_mutex_t mu;
	pthread_cond_t idle;
	struct io_list todo, done;
	unsigned executing;
};

static void list_append(struct io_list *l, struct blk_io *io)
{
	io->next = NULL;
	if (l->tail)
		l->tail->next = io;
	else
		l->head = io;
	l->tail = io;
}

static void list_concat(struct io_list *l, struct io_list *more)
{
	if (!more->head)
		return;
	if (l->tail)
		l->tail->next = more->head;
	else
		l->head = more->head;
	l->tail = more->tail;
	more->head = more->tail = NULL;
}

static struct blk_io *list_pop(struct io_list *l)
{
	struct blk_io *io = l->head;
	if (io) {
		l->head = io->next;
		if (!l->head)
			l->tail = NULL;
	}
	return io;
}

/* Over: run the caller's callback. The count drops first so that the
 * callback sees the truth in blk_inflight(). */
static void complete_one(struct blk_backend *b, struct blk_io *io)
{
	b->total--;
	io->done(io, io->result);
}

static void signal_event(struct blk_backend *b)
{
	uint64_t one = 1;
	/* EAGAIN means the counter is already non-zero: still signalled. */
	while (write(b->event_fd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
}

/* ---- The state machine, shared by both engines ---------------------- */

static bool finish(struct blk_io *io, int result)
{
	io->result = result;
	return true;
}

/* Drop `n` transferred bytes from the front of the iovecs. */
static void iov_advance(struct blk_io *io, uint64_t n)
{
	while (io->iovcnt && (n || io->iov[0].iov_len == 0)) {
		if (n >= io->iov[0].iov_len) {
			n -= io->iov[0].iov_len;
			io->iov++;
			io->iovcnt--;
		} else {
			io->iov[0].iov_base = (uint8_t *)io->iov[0].iov_base + n;
			io->iov[0].iov_len -= n;
			n = 0;
		}
	}
}

/* The current step returned `res` (bytes, or -errno). Returns true when
 * the operation is over (io->result set), false when the next step (a
 * continuation or a new stage) must be started. */
static bool advance(struct blk_backend *b, struct blk_io *io, int64_t res)
{
	switch ((enum stage)io->stage) {
	case ST_RW:
		if (res < 0)
			return finish(io, (int)res);
		/* 0 bytes with more to go: the file shrank under us (read at
		 * EOF) or the write made no progress; never report success. */
		if (res == 0 || (uint64_t)res > io->remaining)
			return finish(io, -EIO);
		io->remaining -= (uint64_t)res;
		io->offset += (uint64_t)res;
		iov_advance(io, (uint64_t)res);
		return io->remaining == 0 ? finish(io, 0) : false;
	case ST_FSYNC:
		return finish(io, res < 0 ? (int)res : 0);
	case ST_PUNCH:
		/* Discard is a hint: a file system that cannot punch holes
		 * simply keeps the data. */
		if (res == -EOPNOTSUPP || res == -EINVAL)
			res = 0;
		if (res < 0)
			return finish(io, (int)res);
		if (io->dsync) {
			io->stage = ST_FSYNC;
			return false;
		}
		return finish(io, 0);
	case ST_ZERO_RANGE:
		if (res == -EOPNOTSUPP || res == -EINVAL) {
			/* tmpfs, some block devices: write the zeros instead. */
			__atomic_store_n(&b->no_zero_range, true, __ATOMIC_RELAXED);
			io->stage = ST_ZERO_WRITE;
			return false;
		}
		if (res < 0)
			return finish(io, (int)res);
		if (io->dsync) {
			io->stage = ST_FSYNC;
			return false;
		}
		return finish(io, 0);
	case ST_ZERO_WRITE:
		if (res < 0)
			return finish(io, (int)res);
		if (res == 0 || (uint64_t)res > io->remaining)
			return finish(io, -EIO);
		io->remaining -= (uint64_t)res;
		io->offset += (uint64_t)res;
		/* Written with RWF_DSYNC when dsync: no fdatasync needed. */
		return io->remaining == 0 ? finish(io, 0) : false;
	}
	return finish(io, -EINVAL);
}

static size_t zero_chunk(const struct blk_io *io)
{
	return io->remaining < ZERO_CHUNK ? (size_t)io->remaining : ZERO_CHUNK;
}

/* ---- io_uring engine ------------------------------------------------ */

static struct io_uring_sqe *get_sqe(struct blk_backend *b)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&b->ring);
	if (!sqe) {
		/* SQ full mid-batch: hand what we have to the kernel. */
		blk_kick(b);
		sqe = io_uring_get_sqe(&b->ring);
	}
	return sqe;
}

/* Put the current step of `io` into the ring. Room is guaranteed by
 * in_ring < cap <= CQ size, and the SQ is flushed when full. Returns false
 * if the SQ stays full (io_uring_submit failing): `io` then waits. */
static bool ring_start(struct blk_backend *b, struct blk_io *io)
{
	struct io_uring_sqe *sqe = get_sqe(b);
	int wflags = io->dsync ? RWF_DSYNC : 0;

	if (!sqe) {
		list_append(&b->waiting, io);
		return false;
	}
	switch ((enum stage)io->stage) {
	case ST_RW:
		if (io->op == BLK_OP_READ) {
			io_uring_prep_readv(sqe, b->fd, io->iov, io->iovcnt, io->offset);
			blk_trace(BLK_TRACE_READ, io->offset, io->remaining);
		} else {
			io_uring_prep_writev2(sqe, b->fd, io->iov, io->iovcnt, io->offset, wflags);
			blk_trace(sqe->rw_flags & RWF_DSYNC ? BLK_TRACE_WRITE_DSYNC : BLK_TRACE_WRITE,
				  io->offset, io->remaining);
		}
		break;
	case ST_FSYNC:
		io_uring_prep_fsync(sqe, b->fd, IORING_FSYNC_DATASYNC);
		blk_trace(BLK_TRACE_FDATASYNC, 0, 0);
		break;
	case ST_PUNCH:
		io_uring_prep_fallocate(sqe, b->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					(off_t)io->offset, (off_t)io->remaining);
		blk_trace(BLK_TRACE_PUNCH, io->offset, io->remaining);
		break;
	case ST_ZERO_RANGE:
		io_uring_prep_fallocate(sqe, b->fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
					(off_t)io->offset, (off_t)io->remaining);
		blk_trace(BLK_TRACE_ZERO_RANGE, io->offset, io->remaining);
		break;
	case ST_ZERO_WRITE:
		io_uring_prep_write(sqe, b->fd, zero_buf, (unsigned)zero_chunk(io), io->offset);
		sqe->rw_flags = wflags;
		blk_trace(sqe->rw_flags & RWF_DSYNC ? BLK_TRACE_WRITE_DSYNC : BLK_TRACE_WRITE, io->offset,
			  zero_chunk(io));
		break;
	}
	io_uring_sqe_set_data(sqe, io);
	b->in_ring++;
	b->unsubmitted++;
	return true;
}

/* Start waiting operations while the ring has room. */
static void ring_fill(struct blk_backend *b)
{
	while (b->in_ring < b->cap && b->waiting.head)
		if (!ring_start(b, list_pop(&b->waiting)))
			break;
}

/* Handle every CQE there is; returns operations finished. */
static unsigned ring_reap(struct blk_backend *b)
{
	struct io_uring_cqe *cqe;
	unsigned n = 0;

	while (io_uring_peek_cqe(&b->ring, &cqe) == 0) {
		struct blk_io *io = io_uring_cqe_get_data(cqe);
		int res = cqe->res;
		io_uring_cqe_seen(&b->ring, cqe);
		b->in_ring--;
		if (!io)
			continue;
		if (!advance(b, io, res)) {
			ring_start(b, io);
			continue;
		}
		n++;
		complete_one(b, io);
	}
	ring_fill(b);
	blk_kick(b);
	return n;
}

/* ---- synchronous fallback ------------------------------------------- */

static int64_t sync_step(struct blk_backend *b, struct blk_io *io)
{
	int64_t res;
	int wflags = io->dsync ? RWF_DSYNC : 0;
	struct blk_vcache *vc = b->vcache;

	do {
		switch ((enum stage)io->stage) {
		case ST_RW:
			if (io->op == BLK_OP_READ) {
				blk_trace(BLK_TRACE_READ, io->offset, io->remaining);
				res = vc ? blk_vcache_read(vc, b->fd, io->iov, io->iovcnt, io->offset)
					 : preadv(b->fd, io->iov, (int)io->iovcnt, (off_t)io->offset);
			} else {
				blk_trace(wflags & RWF_DSYNC ? BLK_TRACE_WRITE_DSYNC : BLK_TRACE_WRITE,
					  io->offset, io->remaining);
				res = vc ? blk_vcache_write(vc, b->fd, io->iov, io->iovcnt, io->offset,
							    io->remaining, wflags)
					 : pwritev2(b->fd, io->iov, (int)io->iovcnt, (off_t)io->offset, wflags);
			}
			break;
		case ST_FSYNC:
			blk_trace(BLK_TRACE_FDATASYNC, 0, 0);
			res = vc ? blk_vcache_flush(vc, b->fd) : fdatasync(b->fd);
			break;
		case ST_PUNCH:
			blk_trace(BLK_TRACE_PUNCH, io->offset, io->remaining);
			if (vc)
				blk_vcache_forget(vc, io->offset, io->remaining);
			res = fallocate(b->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					(off_t)io->offset, (off_t)io->remaining);
			break;
		case ST_ZERO_RANGE:
			blk_trace(BLK_TRACE_ZERO_RANGE, io->offset, io->remaining);
			if (vc)
				blk_vcache_forget(vc, io->offset, io->remaining);
			res = fallocate(b->fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
					(off_t)io->offset, (off_t)io->remaining);
			break;
		case ST_ZERO_WRITE: {
			struct iovec v = { (void *)zero_buf, zero_chunk(io) };
			blk_trace(wflags & RWF_DSYNC ? BLK_TRACE_WRITE_DSYNC : BLK_TRACE_WRITE, io->offset,
				  v.iov_len);
			if (vc)
				blk_vcache_forget(vc, io->offset, v.iov_len);
			res = pwritev2(b->fd, &v, 1, (off_t)io->offset, wflags);
			break;
		}
		default:
			return -EINVAL;
		}
	} while (res < 0 && errno == EINTR);
	return res < 0 ? -errno : res;
}

static void sync_run(struct blk_backend *b, struct blk_io *io)
{
	while (!advance(b, io, sync_step(b, io)))
		;
}

/* Take the to-do list, run it without any lock held, post it as done. */
static void sync_execute(struct blk_backend *b)
{
	pthread_mutex_lock(&b->mu);
	struct io_list batch = b->todo;
	b->todo.head = b->todo.tail = NULL;
	if (!batch.head) {
		pthread_mutex_unlock(&b->mu);
		return;
	}
	b->executing++;
	pthread_mutex_unlock(&b->mu);

	for (struct blk_io *io = batch.head; io; io = io->next)
		sync_run(b, io);

	pthread_mutex_lock(&b->mu);
	list_concat(&b->done, &batch);
	b->executing--;
	pthread_cond_broadcast(&b->idle);
	pthread_mutex_unlock(&b->mu);
}

/* ---- public API ----------------------------------------------------- */

static bool start_state(struct blk_backend *b, struct blk_io *io)
{
	uint64_t len = 0;

	switch (io->op) {
	case BLK_OP_READ:
	case BLK_OP_WRITE:
		if (io->iovcnt > IOV_MAX)
			return false;
		for (unsigned i = 0; i < io->iovcnt; i++) {
			if (io->iov[i].iov_len > UINT64_MAX - len)
				return false;
			len += io->iov[i].iov_len;
		}
		io->stage = ST_RW;
		break;
	case BLK_OP_FLUSH:
		io->stage = ST_FSYNC;
		io->remaining = 0;
		return true;
	case BLK_OP_DISCARD:
		len = io->len;
		io->stage = ST_PUNCH;
		break;
	case BLK_OP_WRITE_ZEROES:
		len = io->len;
		io->stage = __atomic_load_n(&b->no_zero_range, __ATOMIC_RELAXED) ? ST_ZERO_WRITE
										  : ST_ZERO_RANGE;
		break;
	default:
		return false;
	}
	/* Defence in depth: front ends check bounds, the backend too. */
	if (len == 0 || io->offset > b->size || len > b->size - io->offset)
		return false;
	io->remaining = len;
	return true;
}

void blk_submit(struct blk_backend *b, struct blk_io *io)
{
	b->total++;
	io->result = 0;
	if (b->readonly && io->op != BLK_OP_READ && io->op != BLK_OP_FLUSH) {
		io->result = -EROFS;
	} else if (!start_state(b, io)) {
		io->result = -EINVAL;
	} else if (!b->async) {
		list_append(&b->pending, io);
		return;
	} else if (b->in_ring < b->cap) {
		ring_start(b, io);
		return;
	} else {
		list_append(&b->waiting, io);
		return;
	}
	/* Refused: complete it through blk_complete() like any other. */
	list_append(&b->ready, io);
	signal_event(b);
}

/* Hand prepared SQEs to the kernel, and with `wait` block for at least one
 * completion. On failure the SQEs stay in the ring: an event is raised so
 * the I/O thread comes back and retries rather than leaving them stranded. */
static void ring_submit(struct blk_backend *b, bool wait)
{
	int ret;

	if (!b->unsubmitted && !wait)
		return;
	do
		ret = wait ? io_uring_submit_and_wait(&b->ring, 1) : io_uring_submit(&b->ring);
	while (ret == -EINTR);
	if (ret >= 0) {
		b->unsubmitted -= (unsigned)ret < b->unsubmitted ? (unsigned)ret : b->unsubmitted;
		return;
	}
	if (!b->warned_submit) {
		b->warned_submit = true;
		log_warn("disk '%s': io_uring_submit: %s; retrying", b->path, strerror(-ret));
	}
	signal_event(b);
	if (wait)
		usleep(1000); /* blk_drain: retry gently rather than spin */
}

void blk_kick(struct blk_backend *b)
{
	if (b->async) {
		ring_submit(b, false);
		return;
	}
	if (!b->pending.head)
		return;
	pthread_mutex_lock(&b->mu);
	list_concat(&b->todo, &b->pending);
	pthread_mutex_unlock(&b->mu);
	signal_event(b);
}

void blk_poll(struct blk_backend *b)
{
	uint64_t count;
	/* Acknowledge first, so an event that arrives while we work is not
	 * lost but fires again. */
	while (read(b->event_fd, &count, sizeof(count)) < 0 && errno == EINTR)
		;
	if (!b->async)
		sync_execute(b);
}

static unsigned deliver(struct blk_backend *b, struct io_list *l)
{
	unsigned n = 0;
	struct blk_io *io;
	while ((io = list_pop(l))) {
		n++;
		complete_one(b, io);
	}
	return n;
}

unsigned blk_complete(struct blk_backend *b)
{
	unsigned n;
	struct io_list ready = b->ready;

	b->ready.head = b->ready.tail = NULL;
	n = deliver(b, &ready);
	if (b->async) {
		n += ring_reap(b);
	} else {
		pthread_mutex_lock(&b->mu);
		struct io_list done = b->done;
		b->done.head = b->done.tail = NULL;
		pthread_mutex_unlock(&b->mu);
		n += deliver(b, &done);
	}
	return n;
}

void blk_drain(struct blk_backend *b)
{
	while (b->total) {
		if (b->async) {
			/* Submit what is prepared and wait for a completion;
			 * operations refused at submit are already in `ready`. */
			if (b->in_ring)
				ring_submit(b, true);
		} else {
			/* Run what nobody has taken yet ourselves, then wait for
			 * the I/O thread to finish what it has taken. */
			blk_kick(b);
			sync_execute(b);
			pthread_mutex_lock(&b->mu);
			while (b->executing)
				pthread_cond_wait(&b->idle, &b->mu);
			pthread_mutex_unlock(&b->mu);
		}
		blk_complete(b);
	}
}

bool blk_ready(const struct blk_backend *b)
{
	/* Reads the completion ring's indices in memory: no system call. */
	return b->ready.head || (b->async && io_uring_cq_ready(&b->ring) > 0);
}

unsigned blk_inflight(const struct blk_backend *b)
{
	return b->total;
}

uint64_t blk_size(const struct blk_backend *b) { return b->size; }
const char *blk_path(const struct blk_backend *b) { return b->path; }
bool blk_readonly(const struct blk_backend *b) { return b->readonly; }
bool blk_is_async(const struct blk_backend *b) { return b->async; }
uint32_t blk_discard_granularity(const struct blk_backend *b) { return b->granularity; }
uint64_t blk_fingerprint(const struct blk_backend *b) { return b->fingerprint; }

void blk_set_serial(struct blk_backend *b, const char *serial)
{
	snprintf(b->serial, sizeof(b->serial), "%s", serial);
}

const char *blk_serial(const struct blk_backend *b)
{
	return b->serial[0] ? b->serial : NULL;
}
int blk_event_fd(const struct blk_backend *b) { return b->event_fd; }

/* ---- open / close --------------------------------------------------- */

static uint64_t fnv1a(uint64_t h, const void *data, size_t len)
{
	const uint8_t *p = data;
	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

/* The engine: io_uring if it works here and knows every opcode we use. */
static bool ring_init(struct blk_backend *b, unsigned depth)
{
	static const int needed[] = { IORING_OP_READV, IORING_OP_WRITEV, IORING_OP_WRITE,
				      IORING_OP_FSYNC, IORING_OP_FALLOCATE };
	unsigned entries = 8;
	const char *why = NULL;
	int ret;

	const char *env = getenv("PVMM_BLK_NO_URING");
	if (env && *env && strcmp(env, "0") != 0)
		return false;
	while (entries < depth && entries < 4096)
		entries <<= 1;
	ret = io_uring_queue_init(entries, &b->ring, 0);
	if (ret < 0) {
		log_warn("disk '%s': io_uring unavailable (%s); using synchronous I/O, one request at a time",
			 b->path, strerror(-ret));
		return false;
	}
	struct io_uring_probe *probe = io_uring_get_probe_ring(&b->ring);
	if (!probe) {
		why = "cannot probe its operations";
	} else {
		for (size_t i = 0; i < sizeof(needed) / sizeof(needed[0]); i++)
			if (!io_uring_opcode_supported(probe, needed[i]))
				why = "kernel lacks an operation pvmm uses";
		io_uring_free_probe(probe);
	}
	if (!why && (ret = io_uring_register_eventfd(&b->ring, b->event_fd)) < 0)
		why = strerror(-ret);
	if (why) {
		log_warn("disk '%s': io_uring unusable (%s); using synchronous I/O, one request at a time",
			 b->path, why);
		io_uring_queue_exit(&b->ring);
		return false;
	}
	b->cap = b->ring.cq.ring_entries;
	return true;
}

struct blk_backend *blk_open(const char *path, bool readonly, unsigned depth)
{
	struct blk_backend *b = calloc(1, sizeof(*b));
	struct stat st;

	if (!b || !(b->path = strdup(path))) {
		log_error("out of memory opening disk image '%s'", path);
		free(b);
		return NULL;
	}
	b->event_fd = -1;
	b->readonly = readonly;
	pthread_mutex_init(&b->mu, NULL);
	pthread_cond_init(&b->idle, NULL);

	b->fd = open(path, (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (b->fd < 0) {
		int err = errno;
		if (!readonly && (err == EROFS || err == EACCES || err == EPERM))
			log_error("cannot open disk image '%s' for writing: %s (add ,readonly to use it read-only)",
				  path, strerror(err));
		else
			log_error("cannot open disk image '%s': %s", path, strerror(err));
		goto fail;
	}
	if (fstat(b->fd, &st) < 0) {
		log_error("cannot stat disk image '%s': %s", path, strerror(errno));
		goto fail;
	}
	if (S_ISREG(st.st_mode)) {
		b->size = (uint64_t)st.st_size;
	} else if (S_ISBLK(st.st_mode)) {
		if (ioctl(b->fd, BLKGETSIZE64, &b->size) < 0) {
			log_error("cannot get the size of block device '%s': %s", path, strerror(errno));
			goto fail;
		}
	} else {
		log_error("disk image '%s' is not a regular file or a block device", path);
		goto fail;
	}
	if (b->size == 0) {
		log_error("disk image '%s' is empty; give it a size, e.g. truncate -s 64M %s", path, path);
		goto fail;
	}
	if (b->size % BLK_SECTOR_SIZE) {
		log_error("disk image '%s' is %llu bytes, not a multiple of 512; resize it, e.g. truncate -s %llu %s",
			  path, (unsigned long long)b->size,
			  (unsigned long long)((b->size + BLK_SECTOR_SIZE - 1) / BLK_SECTOR_SIZE * BLK_SECTOR_SIZE),
			  path);
		goto fail;
	}
	/* Advisory, but every pvmm (and QEMU's raw driver) honours it: one
	 * writer or any number of readers. */
	if (flock(b->fd, (readonly ? LOCK_SH : LOCK_EX) | LOCK_NB) < 0) {
		if (errno == EWOULDBLOCK)
			log_error("disk image '%s' is in use by another process (it holds a lock on it); "
				  "stop that VM first, or give both ,readonly", path);
		else
			log_error("cannot lock disk image '%s': %s", path, strerror(errno));
		goto fail;
	}

	dev_t dev = S_ISBLK(st.st_mode) ? st.st_rdev : st.st_dev;
	uint64_t ino = S_ISBLK(st.st_mode) ? 0 : (uint64_t)st.st_ino;
	b->fingerprint = fnv1a(fnv1a(0xcbf29ce484222325ull, &dev, sizeof(dev)), &ino, sizeof(ino));
	b->granularity = 4096;
	if (st.st_blksize >= (blksize_t)BLK_SECTOR_SIZE && st.st_blksize <= (1 << 20) &&
	    !(st.st_blksize & (st.st_blksize - 1)))
		b->granularity = (uint32_t)st.st_blksize;

	b->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (b->event_fd < 0) {
		log_error("disk image '%s': cannot create an eventfd: %s", path, strerror(errno));
		goto fail;
	}
	if (!readonly && blk_vcache_wanted()) {
		/* Test only: see blk_test_hook.h. Said aloud, so that no one
		 * runs a real VM this way unawares, and a test can check it. */
		if (!(b->vcache = blk_vcache_new(b->size))) {
			log_error("out of memory opening disk image '%s'", path);
			goto fail;
		}
		log_warn("disk '%s': test mode PVMM_BLK_TEST_CRASH_LOSES_UNFLUSHED: "
			 "writes not flushed are lost when pvmm stops", path);
		b->async = false;
		return b;
	}
	b->async = ring_init(b, depth);
	return b;
fail:
	if (b->event_fd >= 0)
		close(b->event_fd);
	if (b->fd >= 0)
		close(b->fd);
	pthread_mutex_destroy(&b->mu);
	pthread_cond_destroy(&b->idle);
	free(b->path);
	free(b);
	return NULL;
}

void blk_close(struct blk_backend *b)
{
	if (!b)
		return;
	blk_drain(b);
	if (b->async)
		io_uring_queue_exit(&b->ring);
	close(b->event_fd);
	close(b->fd);
	blk_vcache_free(b->vcache); /* test only: the unflushed writes are lost */
	pthread_mutex_destroy(&b->mu);
	pthread_cond_destroy(&b->idle);
	free(b->path);
	free(b);
}
