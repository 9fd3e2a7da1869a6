/*
 * virtio-blk driver (virtio 1.2, 5.2) over the runtime's virtio-mmio
 * transport and split virtqueue.
 *
 * A request is three buffers: the 16-byte header (device-readable), the
 * data (either way), the status byte (device-writable). They are written
 * once, into the request's own 3-entry descriptor table, which goes on the
 * ring as one indirect descriptor when the device offers INDIRECT_DESC
 * (else it is copied into three ring descriptors). So the queue holds as
 * many requests as it has entries, and submitting one costs a few dozen
 * instructions. Completions are reaped from the used ring into a FIFO of
 * requests (linked through req->next) that blk_poll_completions drains.
 *
 * BLK_MODE_IRQ: the interrupt handler reaps, so everything the handler
 * touches (the free list, the done FIFO, in_flight) is changed by the
 * program only with interrupts off (pvmm_irq_save), a couple of
 * instructions. BLK_MODE_POLL: interrupts are not involved at all.
 */
#include <string.h>
#include <pvmm/blk.h>
#include <pvmm/guest.h>
#include <pvmm/irq.h>
#include "runtime.h"
#include "blk_spin.h"

#define BLK_MAX_DEVS 8
#define BLK_QUEUE_SIZE 128             /* entries we ask for (the device may offer fewer) */
#define BLK_DEFAULT_MAX_BYTES (1u << 20) /* per request, unless SIZE_MAX says less */

struct blk_dev {
	struct virtio_dev vdev;
	struct virtqueue vq;
	uint64_t capacity;
	uint32_t block_size;
	uint32_t max_sectors;
	uint32_t max_discard;      /* sectors per discard */
	uint32_t max_write_zeroes; /* sectors per write zeroes */
	bool open;
	bool readonly, flush, discard, write_zeroes, use_indirect;
	bool broken;
	bool fast;                 /* blk_submit's fast path applies: indirect descriptors, not broken */
	bool spin;                 /* guest code runs natively: spin briefly before POLL */
	struct blk_spin spin_state; /* how long a wait spins (blk_spin.h) */
	enum blk_mode mode;
	unsigned in_flight;
	struct blk_req *done_head, *done_tail;
	unsigned done_count;
	struct blk_stats st;
	/* An emulated IDE disk (boot info PVMM_DEV_IDE) instead of virtio:
	 * ide.c moves the data, synchronously. Asynchronous requests wait
	 * on the pending FIFO (linked through req->next) until a kick, then
	 * run one at a time; the device has no queue. */
	bool ide;
	struct ide_disk ata;
	struct blk_req *pend_head, *pend_tail;
};

static struct blk_dev devs[BLK_MAX_DEVS];
static int open_error;

/* Interrupts off while touching what the handler touches (IRQ mode). */
static inline bool lock(const struct blk_dev *dev)
{
	return dev->mode == BLK_MODE_IRQ ? pvmm_irq_save() : false;
}

static inline void unlock(const struct blk_dev *dev, bool on)
{
	(void)dev;
	pvmm_irq_restore(on);
}

static void update_fast(struct blk_dev *dev)
{
	dev->fast = dev->use_indirect && !dev->broken;
}

static void set_broken(struct blk_dev *dev)
{
	dev->broken = true;
	dev->fast = false;
}

/* ---- Opening ------------------------------------------------------------ */

/* Boot info index of disk n: virtio-blk devices and IDE disks, in list
 * (= command-line) order; -1 if there is none. */
static int disk_index(unsigned n, bool *ide)
{
	const struct pvmm_boot_info *bi = pvmm_boot_info();
	for (uint32_t i = 0; i < bi->device_count && i < PVMM_MAX_DEVICES; i++) {
		uint32_t type = bi->devices[i].type;
		bool is_ide = type == PVMM_DEV_IDE;
		if (!is_ide && !(virtio_entry_type(type) && virtio_device_id(i) == VIRTIO_ID_BLOCK))
			continue;
		if (n-- == 0) {
			*ide = is_ide;
			return (int)i;
		}
	}
	return -1;
}

unsigned blk_count(void)
{
	unsigned n = 0;
	bool ide;
	while (disk_index(n, &ide) >= 0)
		n++;
	return n;
}

int blk_open_error(void)
{
	return open_error;
}

static int blk_init(struct blk_dev *dev, unsigned index)
{
	int err = virtio_init(&dev->vdev, index, VIRTIO_ID_BLOCK);
	if (err)
		return err;
	err = virtio_negotiate(&dev->vdev,
			       VIRTIO_BIT(VIRTIO_BLK_F_RO) | VIRTIO_BIT(VIRTIO_BLK_F_BLK_SIZE) |
				       VIRTIO_BIT(VIRTIO_BLK_F_FLUSH) | VIRTIO_BIT(VIRTIO_BLK_F_SIZE_MAX) |
				       VIRTIO_BIT(VIRTIO_BLK_F_SEG_MAX) | VIRTIO_BIT(VIRTIO_BLK_F_DISCARD) |
				       VIRTIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES));
	if (err)
		return err;
	struct virtio_dev *v = &dev->vdev;
	dev->capacity = virtio_config_read64(v, VIRTIO_BLK_CFG_CAPACITY);
	dev->readonly = virtio_has(v, VIRTIO_BLK_F_RO);
	dev->flush = virtio_has(v, VIRTIO_BLK_F_FLUSH);
	dev->block_size = VIRTIO_BLK_SECTOR_SIZE;
	if (virtio_has(v, VIRTIO_BLK_F_BLK_SIZE)) {
		uint32_t bs = virtio_config_read32(v, VIRTIO_BLK_CFG_BLK_SIZE);
		if (bs >= VIRTIO_BLK_SECTOR_SIZE && !(bs & (bs - 1)))
			dev->block_size = bs;
	}
	uint32_t max_bytes = BLK_DEFAULT_MAX_BYTES;
	if (virtio_has(v, VIRTIO_BLK_F_SIZE_MAX)) {
		uint32_t size_max = virtio_config_read32(v, VIRTIO_BLK_CFG_SIZE_MAX);
		if (size_max >= VIRTIO_BLK_SECTOR_SIZE && size_max < max_bytes)
			max_bytes = size_max;
	}
	dev->max_sectors = max_bytes / VIRTIO_BLK_SECTOR_SIZE;
	if ((dev->discard = virtio_has(v, VIRTIO_BLK_F_DISCARD))) {
		dev->max_discard = virtio_config_read32(v, VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS);
		if (dev->max_discard == 0)
			dev->max_discard = UINT32_MAX;
	}
	if ((dev->write_zeroes = virtio_has(v, VIRTIO_BLK_F_WRITE_ZEROES))) {
		dev->max_write_zeroes = virtio_config_read32(v, VIRTIO_BLK_CFG_MAX_WRITE_ZEROES_SECTORS);
		if (dev->max_write_zeroes == 0)
			dev->max_write_zeroes = UINT32_MAX;
	}
	err = virtio_queue_init(v, &dev->vq, 0, BLK_QUEUE_SIZE);
	if (err) {
		virtio_set_failed(v);
		return err;
	}
	dev->use_indirect = dev->vq.indirect;
	dev->mode = BLK_MODE_POLL;
	const struct pvmm_boot_info *bi = pvmm_boot_info();
	/* Only with a clock that costs no exit: the spin reads it in a loop. */
	dev->spin = bi && bi->clock_page && runtime_clock_cheap();
	blk_spin_init(&dev->spin_state);
	update_fast(dev);
	virtio_driver_ok(v);
	return 0;
}

/* An IDE disk: IDENTIFY and SET MULTIPLE (ide.c); the rest is ours. */
static int ide_init(struct blk_dev *dev, unsigned index)
{
	const struct pvmm_device_info *info = &pvmm_boot_info()->devices[index];
	int err = ide_open(&dev->ata, info);
	if (err)
		return err;
	dev->ide = true;
	dev->vdev.index = index; /* for blk_virtio(): the device bit and pin */
	dev->vdev.irq = info->irq;
	dev->capacity = dev->ata.capacity;
	dev->block_size = BLK_SECTOR_SIZE;
	dev->max_sectors = ide_max_sectors(&dev->ata);
	dev->flush = dev->ata.flush;
	dev->mode = BLK_MODE_POLL;
	update_fast(dev); /* never fast: blk_submit takes the general path */
	return 0;
}

struct blk_dev *blk_open(unsigned n)
{
	bool ide = false;
	int index = disk_index(n, &ide);
	if (index < 0 || n >= BLK_MAX_DEVS) {
		open_error = -BLK_ENODEV;
		return NULL;
	}
	struct blk_dev *dev = &devs[n];
	if (dev->open)
		return dev;
	memset(dev, 0, sizeof(*dev));
	int err = ide ? ide_init(dev, (unsigned)index) : blk_init(dev, (unsigned)index);
	if (err) {
		open_error = err;
		return NULL;
	}
	dev->open = true;
	return dev;
}

uint64_t blk_capacity(const struct blk_dev *dev) { return dev->capacity; }
uint32_t blk_block_size(const struct blk_dev *dev) { return dev->block_size; }
bool blk_readonly(const struct blk_dev *dev) { return dev->ide ? dev->ata.readonly : dev->readonly; }
bool blk_can_flush(const struct blk_dev *dev) { return dev->flush; }
bool blk_can_discard(const struct blk_dev *dev) { return dev->discard; }
bool blk_can_write_zeroes(const struct blk_dev *dev) { return dev->write_zeroes; }
unsigned blk_queue_size(const struct blk_dev *dev) { return dev->ide ? BLK_QUEUE_SIZE : dev->vq.size; }
uint32_t blk_max_sectors(const struct blk_dev *dev) { return dev->max_sectors; }
const struct virtio_dev *blk_virtio(const struct blk_dev *dev) { return &dev->vdev; }
enum blk_mode blk_get_mode(const struct blk_dev *dev) { return dev->mode; }
unsigned blk_in_flight(const struct blk_dev *dev) { return dev->in_flight; }

void blk_get_stats(const struct blk_dev *dev, struct blk_stats *st)
{
	*st = dev->st;
	st->kicks = dev->vq.kicks;
	st->kicks_saved = dev->vq.kicks_saved;
	if (dev->ide)
		st->interrupts = dev->ata.interrupts;
}

/* ---- Completion --------------------------------------------------------- */

#define REAP_BATCH 32

static inline int status_result(uint8_t s)
{
	return s == VIRTIO_BLK_S_OK ? 0 : s == VIRTIO_BLK_S_UNSUPP ? -BLK_EUNSUPP : -BLK_EIO;
}

/* Append to the done FIFO (requests reaped before the program asked). */
static inline void fifo_push(struct blk_dev *dev, struct blk_req *req)
{
	req->next = NULL;
	if (dev->done_tail)
		dev->done_tail->next = req;
	else
		dev->done_head = req;
	dev->done_tail = req;
	dev->done_count++;
}

/* Complete a request: result from the status byte the device wrote. */
static inline void complete(struct blk_dev *dev, struct blk_req *req, uint32_t state)
{
	int res = status_result(*(volatile uint8_t *)&req->status);
	req->result = res;
	req->state = state;
	if (res)
		dev->st.errors++;
}

/* Move every used chain to the done FIFO (synchronous requests are only
 * marked done). Interrupts off in IRQ mode. */
static void reap(struct blk_dev *dev)
{
	void *batch[REAP_BATCH];
	int n;
	while ((n = virtq_get_batch(&dev->vq, batch, REAP_BATCH)) > 0) {
		dev->in_flight -= (unsigned)n;
		dev->st.requests += (unsigned)n;
		for (int i = 0; i < n; i++) {
			struct blk_req *req = batch[i];
			complete(dev, req, BLK_REQ_DONE);
			if (!req->internal)
				fifo_push(dev, req);
		}
		if (n < REAP_BATCH)
			break;
	}
	if (n < 0 || dev->vq.broken)
		set_broken(dev);
}

/* A request finished without the device (flush of a write-through disk). */
static void finish_local(struct blk_dev *dev, struct blk_req *req)
{
	req->result = 0;
	req->state = BLK_REQ_DONE;
	dev->st.requests++;
	if (!req->internal)
		fifo_push(dev, req);
}

/* IRQ mode: keep an interrupt coming while requests are in flight. */
static void irq_rearm(struct blk_dev *dev)
{
	while (dev->in_flight && !dev->broken && virtq_arm(&dev->vq, 1))
		reap(dev);
}

static void blk_irq(unsigned pin, void *arg)
{
	(void)pin;
	struct blk_dev *dev = arg;
	dev->st.interrupts++;
	reap(dev);
	irq_rearm(dev);
}

int blk_set_mode(struct blk_dev *dev, enum blk_mode mode)
{
	if (mode == dev->mode)
		return 0;
	/* Ring 3 gets no interrupts (pvmm/irq.h): POLL mode only. */
	if (mode == BLK_MODE_IRQ && !pvmm_irq_available())
		return -BLK_EUNSUPP;
	if (dev->ide) {
		if (mode != BLK_MODE_POLL && mode != BLK_MODE_IRQ)
			return -BLK_EINVAL;
		bool on = mode == BLK_MODE_IRQ;
		if (on)
			pvmm_irq_disable();
		int err = ide_set_irq_mode(&dev->ata, on);
		if (!err)
			dev->mode = mode;
		if (on)
			pvmm_irq_enable(); /* the driver sees the device's interrupts only with IF set */
		return err;
	}
	if (mode == BLK_MODE_IRQ) {
		if (dev->vdev.irq >= PVMM_IRQ_PINS)
			return -BLK_EUNSUPP;
		pvmm_irq_disable();
		pvmm_irq_register(dev->vdev.irq, blk_irq, dev);
		dev->mode = BLK_MODE_IRQ;
		update_fast(dev);
		reap(dev);
		irq_rearm(dev);
		pvmm_irq_enable();
		return 0;
	}
	if (mode == BLK_MODE_POLL) {
		bool on = pvmm_irq_save();
		pvmm_irq_unregister(dev->vdev.irq);
		dev->mode = BLK_MODE_POLL;
		update_fast(dev);
		pvmm_irq_restore(on);
		return 0;
	}
	return -BLK_EINVAL;
}

/* ---- Submission ------------------------------------------------------------ */

/* One descriptor as two 8-byte stores: addr, then len | flags | next. */
#define DESC_META(len, flags, next) \
	((uint64_t)(uint32_t)(len) | (uint64_t)(uint16_t)(flags) << 32 | (uint64_t)(uint16_t)(next) << 48)
static inline void set_desc(struct virtq_desc *d, const void *addr, uint64_t meta)
{
	d->addr = (uint64_t)(uintptr_t)addr;
	__builtin_memcpy(&d->len, &meta, 8);
}

/* Check a sector range: -BLK_EINVAL, -BLK_ERANGE or 0. */
static inline int check_range(const struct blk_dev *dev, uint64_t sector, uint32_t count, uint32_t max)
{
	if (count - 1 >= max) /* count == 0 wraps */
		return -BLK_EINVAL;
	if (sector >= dev->capacity || count > dev->capacity - sector)
		return -BLK_ERANGE;
	return 0;
}

/* Fill the request's descriptor table: 0 and the number of descriptors in
 * *n, or a -BLK_E* for a request the device must not see. */
static int build(struct blk_dev *dev, struct blk_req *req, unsigned *n)
{
	uint32_t type;
	int err;
	uint32_t op = req->op;
	if (op <= BLK_OP_WRITE) {
		/* The data path: read or write. */
		if (!req->buf)
			return -BLK_EINVAL;
		if ((err = check_range(dev, req->sector, req->count, dev->max_sectors)))
			return err;
		type = op; /* BLK_OP_READ/WRITE == VIRTIO_BLK_T_IN/OUT */
		set_desc(&req->desc[1], req->buf,
			 DESC_META(req->count * VIRTIO_BLK_SECTOR_SIZE,
				   VIRTQ_DESC_F_NEXT | (op == BLK_OP_READ ? VIRTQ_DESC_F_WRITE : 0), 2));
		req->hdr.sector = req->sector;
		*n = 3;
	} else if (op == BLK_OP_FLUSH) {
		type = VIRTIO_BLK_T_FLUSH;
		req->hdr.sector = 0;
		*n = 2;
	} else if (op == BLK_OP_GET_ID) {
		if (!req->buf)
			return -BLK_EINVAL;
		type = VIRTIO_BLK_T_GET_ID;
		req->hdr.sector = 0;
		set_desc(&req->desc[1], req->buf, DESC_META(BLK_ID_BYTES, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2));
		*n = 3;
	} else if (op == BLK_OP_DISCARD || op == BLK_OP_WRITE_ZEROES) {
		bool discard = op == BLK_OP_DISCARD;
		if (!(discard ? dev->discard : dev->write_zeroes))
			return -BLK_EUNSUPP;
		if ((err = check_range(dev, req->sector, req->count,
				       discard ? dev->max_discard : dev->max_write_zeroes)))
			return err;
		type = discard ? VIRTIO_BLK_T_DISCARD : VIRTIO_BLK_T_WRITE_ZEROES;
		req->range.sector = req->sector;
		req->range.num_sectors = req->count;
		req->range.flags = !discard && (req->flags & BLK_REQ_UNMAP) ? VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP : 0;
		req->hdr.sector = 0;
		set_desc(&req->desc[1], &req->range, DESC_META(sizeof(req->range), VIRTQ_DESC_F_NEXT, 2));
		*n = 3;
	} else {
		return -BLK_EINVAL;
	}
	/* type and reserved (0) in one store. */
	uint64_t type_word = type;
	__builtin_memcpy(&req->hdr.type, &type_word, 8);
	set_desc(&req->desc[0], &req->hdr, DESC_META(sizeof(req->hdr), VIRTQ_DESC_F_NEXT, 1));
	set_desc(&req->desc[*n - 1], &req->status, DESC_META(1, VIRTQ_DESC_F_WRITE, 0));
	req->status = 0xff; /* a device that answers without writing it gets -BLK_EIO */
	return 0;
}
_Static_assert(BLK_OP_READ == VIRTIO_BLK_T_IN && BLK_OP_WRITE == VIRTIO_BLK_T_OUT, "ops double as types");

/* ---- IDE ----------------------------------------------------------------- */

/* Run one request on the IDE disk, start to end: its result. */
static int ide_exec(struct blk_dev *dev, struct blk_req *req)
{
	switch (req->op) {
	case BLK_OP_READ:
	case BLK_OP_WRITE:
		return ide_rw(&dev->ata, req->op == BLK_OP_WRITE, req->sector, req->buf, req->count);
	case BLK_OP_FLUSH:
		return ide_flush(&dev->ata);
	case BLK_OP_GET_ID:
		memcpy(req->buf, dev->ata.serial, BLK_ID_BYTES);
		return 0;
	default:
		return -BLK_EUNSUPP;
	}
}

static void ide_complete(struct blk_dev *dev, struct blk_req *req, int result)
{
	req->result = result;
	req->state = BLK_REQ_DONE;
	dev->st.requests++;
	if (result)
		dev->st.errors++;
	if (!req->internal)
		fifo_push(dev, req);
}

/* Every pending request, in submission order. */
static void ide_run(struct blk_dev *dev)
{
	struct blk_req *req;
	while ((req = dev->pend_head)) {
		dev->pend_head = req->next;
		if (!dev->pend_head)
			dev->pend_tail = NULL;
		dev->in_flight--;
		ide_complete(dev, req, ide_exec(dev, req));
	}
}

/* Check the request as virtio's path does; then a synchronous call's
 * runs at once, an asynchronous one waits for the kick. */
static int ide_submit(struct blk_dev *dev, struct blk_req *req)
{
	if (req->state != BLK_REQ_IDLE && !(req->state == BLK_REQ_DONE && req->internal))
		return -BLK_EINVAL;
	int err;
	switch (req->op) {
	case BLK_OP_READ:
	case BLK_OP_WRITE:
		if (!req->buf)
			return -BLK_EINVAL;
		if ((err = check_range(dev, req->sector, req->count, dev->max_sectors)))
			return err;
		break;
	case BLK_OP_GET_ID:
		if (!req->buf)
			return -BLK_EINVAL;
		break;
	case BLK_OP_FLUSH:
		break;
	case BLK_OP_DISCARD:
	case BLK_OP_WRITE_ZEROES:
		return -BLK_EUNSUPP;
	default:
		return -BLK_EINVAL;
	}
	if (req->internal) {
		ide_complete(dev, req, ide_exec(dev, req));
		return 0;
	}
	if (dev->in_flight >= BLK_QUEUE_SIZE)
		return -BLK_EAGAIN;
	req->state = BLK_REQ_INFLIGHT;
	req->next = NULL;
	if (dev->pend_tail)
		dev->pend_tail->next = req;
	else
		dev->pend_head = req;
	dev->pend_tail = req;
	dev->in_flight++;
	return 0;
}

/* The general path: every operation, direct or indirect descriptors. */
static int submit_slow(struct blk_dev *dev, struct blk_req *req)
{
	if (dev->ide)
		return ide_submit(dev, req);
	if (dev->broken)
		return -BLK_EBROKEN;
	if (req->state != BLK_REQ_IDLE && !(req->state == BLK_REQ_DONE && req->internal))
		return -BLK_EINVAL; /* still owned by the driver */
	if (req->op == BLK_OP_FLUSH && !dev->flush) {
		/* Write-through device: nothing to wait for. */
		bool on = lock(dev);
		finish_local(dev, req);
		unlock(dev, on);
		return 0;
	}
	unsigned n;
	int err = build(dev, req, &n);
	if (err)
		return err;
	req->state = BLK_REQ_INFLIGHT;

	bool on = lock(dev);
	int head = dev->use_indirect ? virtq_add_indirect(&dev->vq, req->desc, n, req)
				     : virtq_add(&dev->vq, req->desc, n, req);
	if (head >= 0)
		dev->in_flight++;
	unlock(dev, on);
	if (head < 0) {
		req->state = BLK_REQ_IDLE;
		return head;
	}
	return 0;
}

/*
 * The data path: a read or write of an idle request with indirect
 * descriptors. About 80 instructions: the checks, the request's three
 * descriptors (two 8-byte stores each), one ring descriptor, the avail
 * slot; in IRQ mode interrupts are off around the queue update.
 */

/* The fast path's checks, but for room in the queue. */
static inline bool fast_ok(const struct blk_req *req, uint64_t capacity, uint32_t max_sectors)
{
	uint32_t count = req->count;
	uint64_t sector = req->sector;
	return req->op <= BLK_OP_WRITE && req->state == BLK_REQ_IDLE && req->buf && count - 1 < max_sectors &&
	       sector < capacity && count <= capacity - sector;
}

/* Write the request's header, its three descriptors and status. */
static inline void fast_prepare(struct blk_req *req)
{
	uint32_t op = req->op;
	uint64_t type_word = op; /* type == op, reserved 0 */
	__builtin_memcpy(&req->hdr.type, &type_word, 8);
	req->hdr.sector = req->sector;
	set_desc(&req->desc[0], &req->hdr, DESC_META(sizeof(req->hdr), VIRTQ_DESC_F_NEXT, 1));
	set_desc(&req->desc[1], req->buf,
		 DESC_META(req->count * VIRTIO_BLK_SECTOR_SIZE,
			   VIRTQ_DESC_F_NEXT | (op == BLK_OP_READ ? VIRTQ_DESC_F_WRITE : 0), 2));
	set_desc(&req->desc[2], &req->status, DESC_META(1, VIRTQ_DESC_F_WRITE, 0));
	req->status = 0xff;
	req->state = BLK_REQ_INFLIGHT;
}

/* Put a prepared request on the ring as one indirect descriptor; the
 * caller checked that one is free. */
static inline void fast_add(struct virtqueue *vq, struct blk_req *req)
{
	uint16_t head = vq->free_head;
	struct virtq_desc *d = &vq->desc[head];
	vq->free_head = d->next;
	vq->num_free--;
	set_desc(d, req->desc, DESC_META(3 * sizeof(struct virtq_desc), VIRTQ_DESC_F_INDIRECT, 0));
	vq->chain[head] = (uint32_t)head | 1u << 16;
	vq->cookie[head] = req;
	vq->avail->ring[vq->avail_idx & vq->mask] = head;
	vq->avail_idx++;
}

int blk_submit(struct blk_dev *dev, struct blk_req *req)
{
	if (req->op > BLK_OP_WRITE || !dev->fast || req->state != BLK_REQ_IDLE)
		return submit_slow(dev, req);
	uint32_t count = req->count;
	uint64_t sector = req->sector;
	if (!req->buf || count - 1 >= dev->max_sectors)
		return -BLK_EINVAL;
	if (sector >= dev->capacity || count > dev->capacity - sector)
		return -BLK_ERANGE;
	struct virtqueue *vq = &dev->vq;
	if (vq->num_free == 0) /* (an interrupt only ever adds to it) */
		return -BLK_EAGAIN;
	fast_prepare(req);
	bool on = lock(dev);
	fast_add(vq, req);
	dev->in_flight++;
	unlock(dev, on);
	return 0;
}

/*
 * Many at once: the fast path's work per request without its per-call
 * costs (the queue's fields stay in registers, interrupts go off once).
 * Stops at the first request the fast path does not take and hands it,
 * and the rest, to blk_submit.
 */
int blk_submit_batch(struct blk_dev *dev, struct blk_req *const *reqs, unsigned n)
{
	unsigned k = 0;
	if (dev->fast && n) {
		struct virtqueue *vq = &dev->vq;
		const uint64_t capacity = dev->capacity;
		const uint32_t max_sectors = dev->max_sectors;
		bool on = lock(dev);
		unsigned end = n < vq->num_free ? n : vq->num_free;
		struct virtq_desc *desc = vq->desc;
		uint16_t *ring = vq->avail->ring;
		uint16_t head = vq->free_head, idx = vq->avail_idx;
		const uint16_t mask = vq->mask;
		for (; k < end; k++) {
			struct blk_req *req = reqs[k];
			if (!fast_ok(req, capacity, max_sectors))
				break;
			fast_prepare(req);
			struct virtq_desc *d = &desc[head];
			uint16_t next = d->next;
			set_desc(d, req->desc, DESC_META(3 * sizeof(struct virtq_desc), VIRTQ_DESC_F_INDIRECT, 0));
			vq->chain[head] = (uint32_t)head | 1u << 16;
			vq->cookie[head] = req;
			ring[idx++ & mask] = head;
			head = next;
		}
		vq->free_head = head;
		vq->avail_idx = idx;
		vq->num_free = (uint16_t)(vq->num_free - k);
		dev->in_flight += k;
		unlock(dev, on);
	}
	for (; k < n; k++) {
		int err = blk_submit(dev, reqs[k]);
		if (err)
			return k ? (int)k : err;
	}
	return (int)n;
}

void blk_kick(struct blk_dev *dev)
{
	if (dev->ide) {
		ide_run(dev);
		return;
	}
	bool on = lock(dev);
	virtq_kick(&dev->vq);
	if (dev->mode == BLK_MODE_IRQ)
		irq_rearm(dev);
	unlock(dev, on);
}

/* ---- Collecting ------------------------------------------------------------ */

/*
 * Up to `max` used chains straight into out[], completed: virtq_get_batch
 * and complete() in one loop, the queue's fields in registers (about 30
 * instructions a request, against 40 for the two loops). Synchronous calls' requests are only marked
 * done for their waiters. Returns how many went into out[].
 */
static unsigned reap_direct(struct blk_dev *dev, struct blk_req **out, unsigned max)
{
	struct virtqueue *vq = &dev->vq;
	if (vq->broken) {
		set_broken(dev);
		return 0;
	}
	uint16_t last = vq->last_used;
	unsigned count = (uint16_t)(*(volatile uint16_t *)&vq->used->idx - last);
	if (count > max)
		count = max;
	if (count == 0)
		return 0;
	virtio_barrier(); /* the index before the entries it covers */
	const volatile struct virtq_used_elem *ring = vq->used->ring;
	struct virtq_desc *desc = vq->desc;
	void **cookie = vq->cookie;
	const uint32_t *chain = vq->chain;
	const uint16_t mask = vq->mask, size = vq->size;
	uint16_t free_head = vq->free_head, num_free = vq->num_free;
	uint16_t idx = last, end = (uint16_t)(last + count);
	struct blk_req **o = out;
	do {
		uint32_t id = ring[idx & mask].id;
		struct blk_req *req;
		if (id >= size || !(req = cookie[id])) {
			vq->broken = true; /* hand back what came before it */
			set_broken(dev);
			break;
		}
		cookie[id] = NULL;
		uint32_t ch = chain[id];
		desc[(uint16_t)ch].next = free_head; /* the chain's tail links to the old head */
		free_head = (uint16_t)id;
		num_free = (uint16_t)(num_free + (ch >> 16));
		uint8_t status = *(volatile uint8_t *)&req->status;
		req->result = 0;
		if (status != VIRTIO_BLK_S_OK) {
			req->result = status_result(status);
			dev->st.errors++;
		}
		if (req->internal) {
			req->state = BLK_REQ_DONE; /* its waiter sees it */
		} else {
			req->state = BLK_REQ_IDLE;
			*o++ = req;
		}
	} while (++idx != end);
	unsigned n = (uint16_t)(idx - last);
	vq->last_used = idx;
	vq->free_head = free_head;
	vq->num_free = num_free;
	dev->in_flight -= n;
	dev->st.requests += n;
	return (unsigned)(o - out);
}

static unsigned take_done(struct blk_dev *dev, struct blk_req **out, unsigned max)
{
	unsigned k = 0;
	struct blk_req *r = dev->done_head;
	while (k < max && r) {
		r->state = BLK_REQ_IDLE;
		out[k++] = r;
		r = r->next;
	}
	dev->done_head = r;
	if (!r)
		dev->done_tail = NULL;
	dev->done_count -= k;
	return k;
}

int blk_poll_completions(struct blk_dev *dev, struct blk_req **out, unsigned max)
{
	if (dev->ide) {
		ide_run(dev);
		return (int)take_done(dev, out, max);
	}
	bool on = lock(dev);
	virtq_kick(&dev->vq);
	unsigned k = dev->done_count ? take_done(dev, out, max) : 0;
	/* Then straight from the used ring into out[]: no FIFO round trip. */
	if (k < max)
		k += reap_direct(dev, out + k, max - k);
	if (dev->mode == BLK_MODE_IRQ)
		irq_rearm(dev);
	int ret = dev->broken && k == 0 ? -BLK_EBROKEN : (int)k;
	unlock(dev, on);
	return ret;
}

int blk_poll_completions_cb(struct blk_dev *dev, blk_done_fn fn, void *arg)
{
	struct blk_req *batch[16];
	int total = 0, n;
	do {
		n = blk_poll_completions(dev, batch, 16);
		if (n < 0)
			return total ? total : n;
		for (int i = 0; i < n; i++)
			fn(batch[i], arg);
		total += n;
	} while (n == 16);
	return total;
}

/* ---- Waiting ---------------------------------------------------------------- */

enum wait_for {
	WAIT_DONE,   /* `n` completions to collect (or all in flight done) */
	WAIT_REQ,    /* `req` completed */
	WAIT_SPACE,  /* `n` free descriptors */
};

/*
 * The one wait loop: test, arm the device's signal, re-test, POLL. In IRQ
 * mode the POLL runs with interrupts off (the monitor latches the device's
 * signal, so none is lost) and the interrupt is taken right after it, its
 * handler reaping. Completions waiting in the used ring count without
 * being reaped (blk_poll_completions takes them straight from there). A
 * wake-up that brought nothing new is checked against DEVICE_NEEDS_RESET
 * (one register read), so a device that broke does not leave the guest
 * asleep forever.
 */
/*
 * Before sleeping in POLL, watch the used ring for a while where guest
 * code runs natively (ring 3, or a host with VT-x): a completion the
 * device posts within the spin is then seen without the POLL exit and,
 * above all, without waking a sleeping vCPU thread, which costs tens of
 * microseconds on a busy host. Where guest code is interpreted the loop
 * would cost more than the exit: no spin. How long: blk_spin.h. True if
 * the used index moved within the spin. In IRQ mode it runs with
 * interrupts off, as the code around it does: bounded by the spin
 * (100 us at most), nothing is lost (the device's signal is latched).
 */
static bool spin_for_used(struct blk_dev *dev, uint16_t used_before, uint64_t start, uint64_t deadline)
{
	if (!dev->spin)
		return false;
	uint32_t spin_ns = blk_spin_for_wait(&dev->spin_state);
	if (!spin_ns)
		return false;
	uint64_t until = start + spin_ns;
	if (until > deadline)
		until = deadline;
	do {
		if ((uint16_t)(dev->vq.last_used + virtq_used_pending(&dev->vq)) != used_before)
			return true;
		__asm__ volatile("pause" ::: "memory");
	} while (pvmm_now_ns() < until);
	return false;
}

/* A wait that began at `start` got its answer now. */
static void spin_adapt(struct blk_dev *dev, uint64_t start)
{
	if (dev->spin)
		blk_spin_answered(&dev->spin_state, pvmm_now_ns() - start);
}

static int wait_core(struct blk_dev *dev, enum wait_for what, unsigned n, const struct blk_req *req,
		     uint64_t deadline)
{
	if (dev->ide) {
		/* Nothing to wait for: whatever is pending runs now. */
		(void)what, (void)n, (void)req, (void)deadline;
		ide_run(dev);
		return (int)dev->done_count;
	}
	for (;;) {
		bool on = lock(dev);
		if (dev->vq.broken)
			set_broken(dev); /* a bad used entry: what is left in the ring stays there */
		virtq_kick(&dev->vq);
		unsigned need, have, pending = 0;
		if (what == WAIT_DONE) {
			/* Read once: the device adds to it concurrently, and the
			 * signal asked for below must be for exactly what this
			 * count leaves missing. */
			pending = virtq_used_pending(&dev->vq);
			have = dev->done_count + pending;
			unsigned want = n;
			if (want > dev->done_count + dev->in_flight)
				want = dev->done_count + dev->in_flight;
			need = have >= want ? 0 : want - have;
		} else {
			if (virtq_has_used(&dev->vq))
				reap(dev);
			have = dev->done_count;
			if (what == WAIT_REQ)
				need = req->state == BLK_REQ_DONE ? 0 : 1;
			else
				need = dev->vq.num_free >= n || !dev->in_flight ? 0 : 1;
		}
		if (dev->broken && (need || !have)) {
			unlock(dev, on);
			return -BLK_EBROKEN;
		}
		if (need == 0) {
			unlock(dev, on);
			return (int)have;
		}
		/* WAIT_DONE counts used entries not yet reaped: wait for `need`
		 * beyond them. The others reaped everything: any new one may be
		 * what they wait for. */
		if (virtq_arm(&dev->vq, (uint16_t)(need + pending))) {
			unlock(dev, on);
			continue; /* already there */
		}
		uint16_t used_before = dev->vq.last_used + virtq_used_pending(&dev->vq);
		uint64_t reaped_before = dev->st.requests;
		uint64_t spin_start = dev->spin ? pvmm_now_ns() : 0;
		if (spin_for_used(dev, used_before, spin_start, deadline)) {
			dev->st.spins++;
			spin_adapt(dev, spin_start);
			unlock(dev, on);
			continue; /* it came while spinning: no POLL, no exit */
		}
		int r = virtio_wait(&dev->vdev, deadline);
		dev->st.waits++;
		unlock(dev, on); /* IRQ mode: the pending interrupt is taken here */
		if (r < 0)
			return r;
		on = lock(dev);
		bool progress = dev->st.requests != reaped_before ||
				(uint16_t)(dev->vq.last_used + virtq_used_pending(&dev->vq)) != used_before;
		unlock(dev, on);
		if (progress)
			spin_adapt(dev, spin_start);
		if (r == 0 && !progress) {
			if (pvmm_now_ns() >= deadline)
				return -BLK_ETIMEDOUT;
			continue;
		}
		if (!progress) {
			dev->st.spurious++;
			if (virtio_needs_reset(&dev->vdev)) {
				set_broken(dev);
				return -BLK_EBROKEN;
			}
		}
	}
}

int blk_wait_n(struct blk_dev *dev, unsigned n, uint64_t deadline_ns)
{
	if (n == 0)
		n = 1;
	return wait_core(dev, WAIT_DONE, n, NULL, deadline_ns);
}

int blk_wait(struct blk_dev *dev, uint64_t deadline_ns)
{
	return wait_core(dev, WAIT_DONE, 1, NULL, deadline_ns);
}

/* ---- Synchronous calls ------------------------------------------------------- */

static int sync_one(struct blk_dev *dev, struct blk_req *req)
{
	req->internal = true;
	req->state = BLK_REQ_IDLE;
	for (;;) {
		int r = blk_submit(dev, req);
		if (r == 0)
			break;
		if (r != -BLK_EAGAIN)
			return r;
		/* The queue is full of asynchronous requests: wait for room. */
		r = wait_core(dev, WAIT_SPACE, dev->use_indirect ? 1 : 3, NULL, UINT64_MAX);
		if (r < 0)
			return r;
	}
	if (req->state != BLK_REQ_DONE) { /* a local flush is done already */
		int r = wait_core(dev, WAIT_REQ, 1, req, UINT64_MAX);
		if (r < 0)
			return r;
	}
	req->state = BLK_REQ_IDLE;
	return req->result;
}

static int sync_rw(struct blk_dev *dev, uint32_t op, uint64_t sector, void *buf, uint32_t count)
{
	if (!buf || count == 0)
		return -BLK_EINVAL;
	if (sector >= dev->capacity || count > dev->capacity - sector)
		return -BLK_ERANGE;
	struct blk_req req;
	uint8_t *p = buf;
	while (count) {
		uint32_t chunk = count < dev->max_sectors ? count : dev->max_sectors;
		req.op = op;
		req.sector = sector;
		req.count = chunk;
		req.buf = p;
		req.flags = 0;
		int r = sync_one(dev, &req);
		if (r)
			return r;
		sector += chunk;
		count -= chunk;
		p += (size_t)chunk * VIRTIO_BLK_SECTOR_SIZE;
	}
	return 0;
}

int blk_read(struct blk_dev *dev, uint64_t sector, void *buf, uint32_t count)
{
	return sync_rw(dev, BLK_OP_READ, sector, buf, count);
}

int blk_write(struct blk_dev *dev, uint64_t sector, const void *buf, uint32_t count)
{
	return sync_rw(dev, BLK_OP_WRITE, sector, (void *)(uintptr_t)buf, count);
}

int blk_flush(struct blk_dev *dev)
{
	struct blk_req req = { .op = BLK_OP_FLUSH };
	return sync_one(dev, &req);
}

int blk_get_id(struct blk_dev *dev, char id[BLK_ID_BYTES])
{
	struct blk_req req = { .op = BLK_OP_GET_ID, .buf = id };
	return sync_one(dev, &req);
}

static int sync_range(struct blk_dev *dev, uint32_t op, uint64_t sector, uint32_t count, uint32_t flags)
{
	struct blk_req req = { .op = op, .sector = sector, .count = count, .flags = flags };
	return sync_one(dev, &req);
}

int blk_discard(struct blk_dev *dev, uint64_t sector, uint32_t count)
{
	return sync_range(dev, BLK_OP_DISCARD, sector, count, 0);
}

int blk_write_zeroes(struct blk_dev *dev, uint64_t sector, uint32_t count, bool unmap)
{
	return sync_range(dev, BLK_OP_WRITE_ZEROES, sector, count, unmap ? BLK_REQ_UNMAP : 0);
}
