/*
 * virtio-blk device: turns the chains the guest queues into blk_backend
 * operations and answers every chain exactly once.
 *
 * Flow. A kick (queue_notify, I/O thread, dev->lock held) pops every
 * available chain, checks it, and either answers it at once (bad request,
 * GET_ID) or submits backend operations whose iovecs point straight into
 * guest RAM; one blk_kick() then starts the whole batch with a single
 * io_uring_submit. Completions arrive on the backend's eventfd, which the
 * I/O thread watches: the handler writes each status byte, pushes the
 * chain, and interrupts the driver once for the batch.
 *
 * Bounds. One kick takes at most queue-size chains, then kicks the queue
 * again itself, so the I/O thread returns to its loop between batches. A
 * request moves at most VIRTIO_BLK_REQ_BYTES_MAX bytes (virtio_blk.h),
 * so what a reset or teardown waits for is bounded too.
 *
 * Requests come from a fixed pool of VIRTIO_BLK_QUEUE_MAX. A driver that
 * re-queues heads still in flight could otherwise make us allocate without
 * bound; when the pool is empty we stop popping and resume as requests
 * complete, leaving the rest in the avail ring.
 */
#include "devices/virtio_blk.h"

#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_ids.h>

#include "blk_backend.h"
#include "devices/device.h"
#include "iothread.h"
#include "log.h"
#include "virtio/virtio.h"
#include "snapshot_format.h"

/* Polling (process_queue). Once the ring is empty the I/O thread watches
 * it for a while before it asks for kicks again and sleeps: a driver
 * under load posts again within microseconds of its answers, and the kick
 * and the wake-up that saves cost tens of microseconds each on a busy
 * host. The window adapts to how soon the driver posts again, judged at
 * the kick that follows a window that passed with nothing: if the longest
 * window (poll_max) would have caught it, allowing for our own wake-up,
 * the next window is that long; if not, half as long as the one that
 * missed (below BLK_POLL_MIN_NS, no polling, until a kick comes that
 * soon after going idle). So a driver
 * that is slow to post (guest code interpreted, an idle guest) costs a few
 * windows and then no CPU at all. The synchronous fallback does not poll:
 * its I/O runs only once the handler returns. */
#define BLK_POLL_MIN_NS 4000

#define HDR_SIZE sizeof(struct virtio_blk_outhdr)  /* 16 */
#define SEG_SIZE sizeof(struct virtio_blk_discard_write_zeroes)  /* 16 */

/* The config space we expose ends before the secure-erase fields. */
#define CONFIG_SIZE offsetof(struct virtio_blk_config, max_secure_erase_sectors)

#define F(bit) (1ull << (bit))
#define BLK_FEATURES (VIRTIO_COMMON_FEATURES | F(VIRTIO_BLK_F_FLUSH) | F(VIRTIO_BLK_F_BLK_SIZE) | \
		      F(VIRTIO_BLK_F_SEG_MAX) | F(VIRTIO_BLK_F_SIZE_MAX) | F(VIRTIO_BLK_F_DISCARD) | \
		      F(VIRTIO_BLK_F_WRITE_ZEROES))

struct blk_req {
	struct virtio_blk *blk;
	struct blk_req *next_free;
	uint16_t head;
	uint8_t *status;        /* host address of the chain's last writable byte */
	uint8_t result;         /* VIRTIO_BLK_S_* */
	uint32_t used_len;      /* bytes written into the writable part, on success */
	unsigned pending;       /* backend operations still running */
	struct iovec data[VIRTQ_MAX_SEGS];
	struct blk_io io[VIRTIO_BLK_DWZ_SEG_MAX];
};

struct virtio_blk {
	struct virtio_ops ops;  /* per device: features depend on readonly */
	struct virtio_dev *dev;
	struct blk_backend *be;
	uint64_t capacity;      /* sectors */
	bool readonly;
	char id[VIRTIO_BLK_ID_BYTES];
	struct virtio_blk_config config; /* little-endian, as the guest reads it */

	struct blk_req *pool, *free;
	unsigned busy;          /* requests out of the pool */
	bool starved;           /* stopped popping for want of a request */
	bool resetting;         /* in reset: finish requests, push nothing */
	bool need_notify;       /* pushed since the last virtio_notify_used */
	/* Poll windows (process_queue): ended by a chain, by a backend
	 * completion, or with nothing (the I/O thread then sleeps). */
	uint64_t poll_hits, poll_completions, poll_misses;
	uint64_t poll_max;      /* the longest window; 0: no polling */
	uint64_t poll_ns;       /* the window now: 0 (off) or BLK_POLL_MIN_NS..poll_max */
	uint64_t missed_ns;     /* the last window, if it passed with nothing; else 0 */
	uint64_t idle_at;       /* virtio_poll_clock() when the ring was last left empty */
	bool logged_unanswerable, logged_io_error;
	struct virtq_elem elem; /* scratch for virtq_pop */
};

static void config_read(struct virtio_dev *dev, uint32_t offset, void *data, unsigned len);
static int activate(struct virtio_dev *dev);
static void queue_notify(struct virtio_dev *dev, unsigned q);
static void queue_stop(struct virtio_dev *dev, unsigned q);
static void quiesce(struct virtio_dev *dev);
static void reset(struct virtio_dev *dev);
static void destroy(struct virtio_dev *dev);
static void save(struct virtio_dev *dev, struct snap_writer *w);
static void stats_extra(const struct virtio_dev *dev, FILE *out, bool json);
static int load(struct virtio_dev *dev, struct snap_reader *r, char *err, size_t err_len);

static const struct virtio_ops ops_template = {
	.name = "virtio-blk",
	.device_id = VIRTIO_ID_BLOCK,
	.features = BLK_FEATURES,
	.num_queues = 1,
	.queue_max = VIRTIO_BLK_QUEUE_MAX,
	.config_size = CONFIG_SIZE,
	.config_read = config_read,
	.config_write = NULL,   /* nothing writable: no CONFIG_WCE */
	.activate = activate,
	.queue_notify = queue_notify,
	.queue_stop = queue_stop,
	.quiesce = quiesce,
	.reset = reset,
	.save = save,
	.load = load,
	.destroy = destroy,
	.stats_extra = stats_extra,
};

/* ---- answering ------------------------------------------------------- */

static void release(struct virtio_blk *b, struct blk_req *req)
{
	req->next_free = b->free;
	b->free = req;
	b->busy--;
}

/* Answer a request: status byte, then the used entry. Exactly once per
 * popped chain. */
static void answer(struct virtio_blk *b, struct blk_req *req, uint8_t status)
{
	struct virtio_dev *dev = b->dev;
	uint32_t len = status == VIRTIO_BLK_S_OK ? req->used_len : 1;

	*req->status = status;
	dev->stats.requests++;
	if (status != VIRTIO_BLK_S_OK)
		dev->stats.errors++;
	/* After a reset request the rings are the driver's again: the data
	 * is written, the chain is simply forgotten. */
	if (!b->resetting && virtio_queue_live(dev, 0)) {
		virtq_push(&dev->queues[0], req->head, len);
		b->need_notify = true;
	}
	release(b, req);
}

static void flush_notify(struct virtio_blk *b)
{
	if (b->need_notify) {
		b->need_notify = false;
		virtio_notify_used(b->dev, 0);
	}
}

static void io_done(struct blk_io *io, int result)
{
	struct blk_req *req = io->opaque;
	struct virtio_blk *b = req->blk;

	if (result < 0) {
		req->result = VIRTIO_BLK_S_IOERR;
		if (!b->logged_io_error) {
			b->logged_io_error = true;
			log_warn("virtio-blk '%s': host I/O error: %s (answered IOERR; further errors not logged)",
				 blk_path(b->be), strerror(-result));
		}
	}
	if (--req->pending == 0)
		answer(b, req, req->result);
}

/* ---- request parsing ------------------------------------------------- */

/* dst = bytes [off, off + len) of the iovecs src[0..n). */
static unsigned iov_slice(struct iovec *dst, const struct iovec *src, unsigned n, uint64_t off, uint64_t len)
{
	unsigned k = 0;
	for (unsigned i = 0; i < n && len; i++) {
		uint64_t l = src[i].iov_len;
		if (off >= l) {
			off -= l;
			continue;
		}
		uint64_t take = l - off < len ? l - off : len;
		dst[k].iov_base = (uint8_t *)src[i].iov_base + off;
		dst[k].iov_len = take;
		k++;
		len -= take;
		off = 0;
	}
	return k;
}

static bool range_ok(const struct virtio_blk *b, uint64_t sector, uint64_t sectors)
{
	/* Written so that no sum can overflow. */
	return sector <= b->capacity && sectors <= b->capacity - sector;
}

static void submit(struct virtio_blk *b, struct blk_req *req, struct blk_io *io, enum blk_op op,
		   uint64_t offset, bool dsync)
{
	io->op = op;
	io->offset = offset;
	io->dsync = dsync;
	io->done = io_done;
	io->opaque = req;
	req->pending++;
	blk_submit(b->be, io);
}

/* DISCARD / WRITE_ZEROES: segments after the header. Returns a status
 * to answer now, or 0xff when operations were submitted. */
static uint8_t start_dwz(struct virtio_blk *b, struct blk_req *req, const struct virtq_elem *elem,
			 uint32_t type, bool writethrough)
{
	struct virtio_blk_discard_write_zeroes seg[VIRTIO_BLK_DWZ_SEG_MAX];
	uint64_t bytes = elem->out_len - HDR_SIZE;
	bool discard = type == VIRTIO_BLK_T_DISCARD;
	/* Only write zeroes knows a flag: unmap, which we may ignore. */
	uint32_t allowed = discard ? 0 : VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP;

	if (elem->in_len != 1 || bytes == 0 || bytes % SEG_SIZE || bytes / SEG_SIZE > VIRTIO_BLK_DWZ_SEG_MAX)
		return VIRTIO_BLK_S_IOERR;
	unsigned n = (unsigned)(bytes / SEG_SIZE);
	/* One copy: the guest cannot change a segment between check and use. */
	virtq_read_out(elem, HDR_SIZE, seg, bytes);
	for (unsigned i = 0; i < n; i++)
		if (le32toh(seg[i].flags) & ~allowed)
			return VIRTIO_BLK_S_UNSUPP; /* the spec's MUST, before any IOERR */
	for (unsigned i = 0; i < n; i++) {
		uint32_t num = le32toh(seg[i].num_sectors);
		if (num == 0 || num > VIRTIO_BLK_DWZ_SECTORS_MAX || !range_ok(b, le64toh(seg[i].sector), num))
			return VIRTIO_BLK_S_IOERR;
	}
	for (unsigned i = 0; i < n; i++) {
		struct blk_io *io = &req->io[i];
		io->len = (uint64_t)le32toh(seg[i].num_sectors) * BLK_SECTOR_SIZE;
		submit(b, req, io, discard ? BLK_OP_DISCARD : BLK_OP_WRITE_ZEROES,
		       le64toh(seg[i].sector) * BLK_SECTOR_SIZE, writethrough);
	}
	return 0xff;
}

/* Check one chain and start it. Returns a status to answer at once, or
 * 0xff when backend operations were submitted. */
static uint8_t start_request(struct virtio_blk *b, struct blk_req *req, const struct virtq_elem *elem)
{
	uint64_t features = b->dev->driver_features;
	/* Spec: without FLUSH negotiated, completed writes must be stable. */
	bool writethrough = !(features & F(VIRTIO_BLK_F_FLUSH));
	const struct iovec *out = elem->iov, *in = elem->iov + elem->out_num;
	struct virtio_blk_outhdr hdr;
	uint64_t data_in = elem->in_len - 1, data_out, sectors;

	if (elem->out_len < HDR_SIZE)
		return VIRTIO_BLK_S_IOERR;
	virtq_read_out(elem, 0, &hdr, HDR_SIZE);
	data_out = elem->out_len - HDR_SIZE;
	uint32_t type = le32toh(hdr.type);
	uint64_t sector = le64toh(hdr.sector);

	switch (type) {
	case VIRTIO_BLK_T_IN:
		/* Data only in the writable part, whole sectors, some of them,
		 * no more than one request may move (which also keeps used len
		 * inside its 32 bits). */
		if (data_out || data_in == 0 || data_in % BLK_SECTOR_SIZE || data_in > VIRTIO_BLK_REQ_BYTES_MAX)
			return VIRTIO_BLK_S_IOERR;
		sectors = data_in / BLK_SECTOR_SIZE;
		if (!range_ok(b, sector, sectors))
			return VIRTIO_BLK_S_IOERR;
		req->io[0].iov = req->data;
		req->io[0].iovcnt = iov_slice(req->data, in, elem->in_num, 0, data_in);
		req->used_len = (uint32_t)data_in + 1;
		submit(b, req, &req->io[0], BLK_OP_READ, sector * BLK_SECTOR_SIZE, false);
		return 0xff;
	case VIRTIO_BLK_T_OUT:
		if (b->readonly)
			return VIRTIO_BLK_S_IOERR; /* the spec's MUST for a VIRTIO_BLK_F_RO device */
		if (data_in || data_out == 0 || data_out % BLK_SECTOR_SIZE || data_out > VIRTIO_BLK_REQ_BYTES_MAX)
			return VIRTIO_BLK_S_IOERR;
		sectors = data_out / BLK_SECTOR_SIZE;
		if (!range_ok(b, sector, sectors))
			return VIRTIO_BLK_S_IOERR;
		req->io[0].iov = req->data;
		req->io[0].iovcnt = iov_slice(req->data, out, elem->out_num, HDR_SIZE, data_out);
		submit(b, req, &req->io[0], BLK_OP_WRITE, sector * BLK_SECTOR_SIZE, writethrough);
		return 0xff;
	case VIRTIO_BLK_T_FLUSH:
		if (data_in || data_out)
			return VIRTIO_BLK_S_IOERR;
		submit(b, req, &req->io[0], BLK_OP_FLUSH, 0, false);
		return 0xff;
	case VIRTIO_BLK_T_GET_ID: {
		if (data_out || data_in == 0)
			return VIRTIO_BLK_S_IOERR;
		/* The spec's ID is up to 20 bytes; a shorter buffer gets a prefix. */
		uint64_t n = data_in < sizeof(b->id) ? data_in : sizeof(b->id);
		virtq_write_in(elem, 0, b->id, n);
		req->used_len = (uint32_t)n + 1;
		return VIRTIO_BLK_S_OK;
	}
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		if (!(features & F(type == VIRTIO_BLK_T_DISCARD ? VIRTIO_BLK_F_DISCARD : VIRTIO_BLK_F_WRITE_ZEROES)))
			return VIRTIO_BLK_S_UNSUPP;
		if (b->readonly)
			return VIRTIO_BLK_S_IOERR;
		return start_dwz(b, req, elem, type, writethrough);
	default:
		return VIRTIO_BLK_S_UNSUPP;
	}
}

/* The host address of the last byte of the writable part (in_len >= 1). */
static uint8_t *status_byte(const struct virtq_elem *elem)
{
	for (unsigned i = elem->out_num + elem->in_num; i-- > elem->out_num;)
		if (elem->iov[i].iov_len)
			return (uint8_t *)elem->iov[i].iov_base + elem->iov[i].iov_len - 1;
	return NULL;
}

static bool backend_ready(void *opaque)
{
	const struct virtio_blk *b = opaque;
	return blk_ready(b->be);
}

/* Take every available chain, and, with io_uring and a window open,
 * keep serving while the driver keeps posting: once the ring is empty,
 * start what was taken, answer what is done (page-cache reads are, once
 * submitted) and watch the ring and the backend for b->poll_ns, kicks
 * still off, before asking for kicks again (dev->lock held). */
static void process_queue(struct virtio_blk *b)
{
	struct virtio_dev *dev = b->dev;
	struct virtq *vq = &dev->queues[0];
	unsigned budget = vq->size; /* chains one call may take */
	bool submitted = false;
	bool poll = blk_is_async(b->be);

	b->starved = false;
	if (b->resetting || !virtio_queue_live(dev, 0))
		return;
	for (;;) {
		if (!b->free && poll)
			blk_complete(b->be); /* what is done frees its request */
		if (!b->free) {
			b->starved = true;
			break;
		}
		if (budget == 0) {
			/* Chains answered at once (errors) free their request
			 * again, so the pool alone does not bound this loop:
			 * the rest waits for the next pass (our own kick). */
			virtio_queue_rekick(dev, 0);
			break;
		}
		if (poll && b->poll_ns && !virtq_avail_pending(vq)) {
			if (submitted)
				blk_kick(b->be);
			submitted = false;
			blk_complete(b->be);
			flush_notify(b);
			enum virtio_poll_result r = virtio_poll_avail(dev, 0, b->poll_ns, backend_ready, b);
			if (r == VIRTIO_POLL_IDLE) {
				b->poll_misses++;
				b->missed_ns = b->poll_ns; /* judged at the next kick */
				break; /* kicks on again, nothing came */
			}
			if (r == VIRTIO_POLL_OTHER) {
				b->poll_completions++;
				continue; /* answered at the top of the next turn */
			}
			b->poll_hits++; /* a chain without a kick */
		}
		budget--;
		/* If the queue breaks, requests in flight still finish; their
		 * answers go nowhere (virtq_push ignores a broken queue). */
		if (!virtio_pop_burst(dev, 0, &b->elem))
			break;
		struct blk_req *req = b->free;
		b->free = req->next_free;
		b->busy++;
		req->head = b->elem.head;
		req->pending = 0;
		req->result = VIRTIO_BLK_S_OK;
		req->used_len = 1;
		req->status = status_byte(&b->elem);
		if (!req->status) {
			/* Nowhere to put a status: the one answer left is a used
			 * entry of length 0, so the driver gets its buffers back. */
			dev->stats.requests++;
			dev->stats.errors++;
			if (!b->logged_unanswerable) {
				b->logged_unanswerable = true;
				log_warn("virtio-blk '%s': guest request without a writable status byte; "
					 "returned with length 0 (further ones not logged)", blk_path(b->be));
			}
			virtq_push(vq, req->head, 0);
			b->need_notify = true;
			release(b, req);
			continue;
		}
		uint8_t status = start_request(b, req, &b->elem);
		if (status == 0xff)
			submitted = true;
		else
			answer(b, req, status);
	}
	/* The whole batch in one system call. */
	if (submitted)
		blk_kick(b->be);
	b->idle_at = virtio_poll_clock();
}

/* ---- virtio_ops -------------------------------------------------------- */

static void config_read(struct virtio_dev *dev, uint32_t offset, void *data, unsigned len)
{
	const struct virtio_blk *b = dev->priv;
	if (offset > sizeof(b->config) || len > sizeof(b->config) - offset) {
		memset(data, 0, len);
		return;
	}
	memcpy(data, (const uint8_t *)&b->config + offset, len);
}

static int activate(struct virtio_dev *dev)
{
	struct virtio_blk *b = dev->priv;
	b->dev = dev;
	return 0;
}

static void queue_notify(struct virtio_dev *dev, unsigned q)
{
	struct virtio_blk *b = dev->priv;
	b->dev = dev;
	if (q != 0)
		return;
	if (b->poll_max && (b->missed_ns || !b->poll_ns)) {
		/* How long after its answers the driver posted this, as seen
		 * here: that includes our own wake-up for the kick (20-50 us
		 * on a busy host), hence the second poll_max. */
		uint64_t late = b->missed_ns + (virtio_poll_clock() - b->idle_at);
		if (late <= 2 * b->poll_max)
			b->poll_ns = b->poll_max;
		else if (b->missed_ns)
			b->poll_ns = b->missed_ns / 2 < BLK_POLL_MIN_NS ? 0 : b->missed_ns / 2;
		b->missed_ns = 0;
	}
	process_queue(b);
	flush_notify(b);
}

/* The queue is going away (disabled, or the device reset). In-flight
 * reads write into guest memory: they must be over before the driver may
 * reuse it, and their answers must not land in whatever ring the driver
 * sets up next. Blocks (with the lock held) only as long as the host
 * takes to finish them. */
static void queue_stop(struct virtio_dev *dev, unsigned q)
{
	struct virtio_blk *b = dev->priv;
	b->dev = dev;
	(void)q;
	b->resetting = true;
	blk_drain(b->be);
	b->resetting = false;
	b->starved = false;
	b->need_notify = false;
}

/* A pause: every request in flight completes and is answered into the
 * ring now, so a paused VM has no I/O outstanding. Requests still in the
 * ring wait for the resume's next kick. */
static void quiesce(struct virtio_dev *dev)
{
	struct virtio_blk *b = dev->priv;
	b->dev = dev;
	blk_drain(b->be);
	flush_notify(b);
}

/* Snapshot: after quiesce nothing is in flight, and requests still in
 * the ring are the ring's (the core saves last_avail). What is saved is
 * what the guest was told about the disk: a restore that reopens the
 * image by path refuses one whose size or mode changed. */
static void save(struct virtio_dev *dev, struct snap_writer *w)
{
	const struct virtio_blk *b = dev->priv;
	snap_put_u64(w, b->capacity);
	snap_put_u32(w, b->readonly);
}

static int load(struct virtio_dev *dev, struct snap_reader *r, char *err, size_t err_len)
{
	struct virtio_blk *b = dev->priv;
	b->dev = dev;
	uint64_t capacity = snap_get_u64(r);
	uint32_t readonly = snap_get_u32(r);
	if (r->bad)
		return -1;
	if (capacity != b->capacity || readonly != b->readonly) {
		snprintf(err, err_len, "the disk image is now %llu sectors%s, the snapshot's guest saw %llu%s",
			 (unsigned long long)b->capacity, b->readonly ? " read-only" : "", (unsigned long long)capacity,
			 readonly ? " read-only" : "");
		return -1;
	}
	return 0;
}

static void reset(struct virtio_dev *dev)
{
	struct virtio_blk *b = dev->priv;
	b->dev = dev;
	b->starved = false;
	b->need_notify = false;
	/* The "logged once" flags stay set: a guest that resets in a loop
	 * must not flood the log either. */
}

static void stats_extra(const struct virtio_dev *dev, FILE *out, bool json)
{
	const struct virtio_blk *b = dev->priv;
	const char *fmt = json ? ", \"%s\": %llu" : ", %s %llu";
	fprintf(out, fmt, "poll_hits", (unsigned long long)b->poll_hits);
	fprintf(out, fmt, "poll_completions", (unsigned long long)b->poll_completions);
	fprintf(out, fmt, "poll_misses", (unsigned long long)b->poll_misses);
}

static void destroy(struct virtio_dev *dev)
{
	/* The I/O thread has stopped: drain in-flight I/O ourselves. */
	virtio_blk_close(dev->priv);
	dev->priv = NULL;
}

/* ---- I/O thread --------------------------------------------------------- */

void virtio_blk_io_event(void *opaque, uint32_t events)
{
	struct virtio_dev *dev = opaque;
	struct virtio_blk *b = dev->priv;

	(void)events;
	blk_poll(b->be); /* without the lock: the fallback does its I/O here */
	pthread_mutex_lock(&dev->lock);
	b->dev = dev;
	unsigned answered = blk_complete(b->be);
	/* Requests freed up: take the chains we left in the ring. Answers
	 * (writes come back from io_uring's workers): the driver posts
	 * again soon, so poll for it (process_queue) rather than wait for
	 * a kick. */
	if (b->starved || answered)
		process_queue(b);
	flush_notify(b);
	pthread_mutex_unlock(&dev->lock);
}

int virtio_blk_wait_io(struct virtio_dev *dev, int timeout_ms)
{
	struct virtio_blk *b = dev->priv;
	struct pollfd p = { .fd = blk_event_fd(b->be), .events = POLLIN };

	if (poll(&p, 1, timeout_ms) <= 0)
		return 0;
	virtio_blk_io_event(dev, EPOLLIN);
	return 1;
}

/* ---- set-up ---------------------------------------------------------------- */

struct virtio_blk *virtio_blk_open(const char *path, bool readonly)
{
	struct virtio_blk *b = calloc(1, sizeof(*b));
	if (!b) {
		log_error("out of memory for disk '%s'", path);
		return NULL;
	}
	b->pool = calloc(VIRTIO_BLK_QUEUE_MAX, sizeof(*b->pool));
	if (!b->pool) {
		log_error("out of memory for disk '%s'", path);
		free(b);
		return NULL;
	}
	/* Twice the queue: room for multi-segment discards; more are queued. */
	b->be = blk_open(path, readonly, 2 * VIRTIO_BLK_QUEUE_MAX);
	if (!b->be) {
		free(b->pool);
		free(b);
		return NULL;
	}
	for (unsigned i = 0; i < VIRTIO_BLK_QUEUE_MAX; i++) {
		b->pool[i].blk = b;
		b->pool[i].next_free = b->free;
		b->free = &b->pool[i];
	}
	b->readonly = readonly;
	b->poll_max = b->poll_ns = VIRTIO_BLK_POLL_MAX_NS;
	b->capacity = blk_size(b->be) / BLK_SECTOR_SIZE;
	b->ops = ops_template;
	if (readonly)
		b->ops.features |= F(VIRTIO_BLK_F_RO);

	/* "pvmm-" and 15 hex digits of the image's identity: stable across
	 * runs and paths, distinct between images; exactly 20 bytes, so no
	 * NUL, as the spec allows. */
	char id[32];
	snprintf(id, sizeof(id), "pvmm-%015llx", (unsigned long long)(blk_fingerprint(b->be) >> 4));
	memcpy(b->id, id, sizeof(b->id));

	uint32_t align = blk_discard_granularity(b->be) / BLK_SECTOR_SIZE;
	struct virtio_blk_config *c = &b->config;
	c->capacity = htole64(b->capacity);
	c->size_max = htole32(VIRTIO_BLK_SIZE_MAX);
	c->seg_max = htole32(VIRTIO_BLK_SEG_MAX);
	c->blk_size = htole32(BLK_SECTOR_SIZE);
	c->num_queues = htole16(1);
	c->max_discard_sectors = htole32(VIRTIO_BLK_DWZ_SECTORS_MAX);
	c->max_discard_seg = htole32(VIRTIO_BLK_DWZ_SEG_MAX);
	c->discard_sector_alignment = htole32(align ? align : 1);
	c->max_write_zeroes_sectors = htole32(VIRTIO_BLK_DWZ_SECTORS_MAX);
	c->max_write_zeroes_seg = htole32(VIRTIO_BLK_DWZ_SEG_MAX);
	c->write_zeroes_may_unmap = 0; /* write zeroes never deallocates */
	return b;
}

void virtio_blk_close(struct virtio_blk *b)
{
	if (!b)
		return;
	b->resetting = true; /* completions push nothing now */
	blk_close(b->be);
	free(b->pool);
	free(b);
}

const struct virtio_ops *virtio_blk_ops(const struct virtio_blk *b)
{
	return &b->ops;
}

void virtio_blk_set_poll_max(struct virtio_blk *b, uint64_t ns)
{
	b->poll_max = b->poll_ns = ns;
	b->missed_ns = 0;
}

int virtio_blk_event_fd(const struct virtio_blk *b)
{
	return blk_event_fd(b->be);
}

unsigned virtio_blk_inflight(const struct virtio_blk *b)
{
	return b->busy;
}

struct virtio_dev *virtio_blk_new(const struct virtio_ctx *ctx, const char *path, bool readonly)
{
	struct virtio_blk *b = virtio_blk_open(path, readonly);
	if (!b)
		return NULL;
	struct virtio_dev *dev = virtio_dev_new(ctx, &b->ops, b);
	if (!dev) {
		virtio_blk_close(b);
		return NULL;
	}
	b->dev = dev;
	int ret = iothread_watch(ctx->io, blk_event_fd(b->be), EPOLLIN, virtio_blk_io_event, dev);
	if (ret < 0) {
		log_error("disk '%s': cannot watch its completions: %s", path, strerror(-ret));
		virtio_destroy(dev);
		return NULL;
	}
	return dev;
}

static struct virtio_dev *blk_create(const struct device_env *env, const char *arg)
{
	struct disk_spec spec;
	if (device_parse_disk(arg, &spec))
		return NULL;
	struct virtio_dev *dev = virtio_blk_new(&env->virtio, spec.path, spec.readonly);
	if (dev && spec.id) {
		/* GET_ID: the name given, NUL-padded to the 20 bytes. */
		struct virtio_blk *b = dev->priv;
		memset(b->id, 0, sizeof(b->id));
		memcpy(b->id, spec.id, strlen(spec.id) < sizeof(b->id) ? strlen(spec.id) : sizeof(b->id));
		blk_set_serial(b->be, spec.id);
	}
	device_free_disk(&spec);
	return dev;
}

const struct device_type virtio_blk_type = {
	.name = "virtio-blk",
	.kind = DEVICE_VIRTIO,
	.interrupts = true,
	.parse = device_check_disk,
	.create_virtio = blk_create,
};
