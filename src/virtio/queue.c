/*
 * Split virtqueue, device side. The guest writes the rings while we read
 * them (on another thread, or on a real CPU), so:
 *  - every ring field is read once, into a local, and only the local is
 *    checked and used;
 *  - avail->idx is read with acquire ordering (the ring entries and
 *    descriptors it covers are visible after it), used->idx is published
 *    with release ordering (the used elements are visible before it);
 *  - the two "Dekker" points of event suppression (publish avail_event,
 *    then re-read avail->idx; publish used->idx, then read used_event) get
 *    a full fence, as in the virtio spec's and Linux's own implementations.
 * Virtio 1.x rings are little-endian; the conversions are no-ops on x86.
 */
#include "virtio/queue.h"

#include <endian.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <linux/virtio_ring.h>

/* Ring sizes in bytes for a queue of `n` entries, event-idx fields included
 * (virtio 1.2, 2.7: used_event after the avail ring, avail_event after the
 * used ring). The driver may place them whether or not it negotiates
 * EVENT_IDX, so they are always checked. */
#define DESC_BYTES(n)  (16ull * (n))
#define AVAIL_BYTES(n) (6ull + 2ull * (n))
#define USED_BYTES(n)  (6ull + 8ull * (n))

static uint16_t load16(const void *p)
{
	return le16toh(__atomic_load_n((const uint16_t *)p, __ATOMIC_RELAXED));
}

static void store16(void *p, uint16_t v)
{
	__atomic_store_n((uint16_t *)p, htole16(v), __ATOMIC_RELAXED);
}

static void store32(void *p, uint32_t v)
{
	__atomic_store_n((uint32_t *)p, htole32(v), __ATOMIC_RELAXED);
}

/* One descriptor, copied out of guest RAM exactly once. The empty asm
 * tells the compiler the copy may have changed, so it cannot re-read the
 * guest's memory in place of the local (indirect tables need not be
 * 16-byte aligned, so this is a memcpy rather than atomic loads). */
struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

static void read_desc(struct desc *d, const struct vring_desc *src)
{
	struct vring_desc raw;
	memcpy(&raw, src, sizeof(raw));
	__asm__ volatile("" : "+m"(raw));
	d->addr = le64toh(raw.addr);
	d->len = le32toh(raw.len);
	d->flags = le16toh(raw.flags);
	d->next = le16toh(raw.next);
}

__attribute__((format(printf, 2, 3)))
static int fail(struct virtq *vq, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(vq->error, sizeof(vq->error), fmt, ap);
	va_end(ap);
	vq->broken = true;
	return -1;
}

/* A ring's host pointer, or NULL with vq->error set. */
static void *map_ring(struct virtq *vq, const struct guest_mem *mem, const char *what, uint64_t gpa,
		      uint64_t bytes, uint64_t align)
{
	if (gpa & (align - 1)) {
		snprintf(vq->error, sizeof(vq->error), "%s ring at %#llx is not %llu-byte aligned", what,
			 (unsigned long long)gpa, (unsigned long long)align);
		return NULL;
	}
	void *p = guest_mem_ptr(mem, gpa, bytes);
	if (!p)
		snprintf(vq->error, sizeof(vq->error), "%s ring at %#llx (%llu bytes) is outside guest RAM", what,
			 (unsigned long long)gpa, (unsigned long long)bytes);
	return p;
}

/* Do [a, a + alen) and [b, b + blen) share a byte? Both ranges are
 * inside RAM (already mapped), so the sums cannot wrap. */
static bool intersect(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

/* The three rings must not share a byte: the device writes the used ring
 * (and avail_event), and a used ring over the avail ring or the
 * descriptors would have the device feed itself the entries it returns
 * (each push making another chain "available"), which no bound on the
 * guest's own postings limits. Sizes here are the ones this driver uses:
 * the event-idx fields only count when EVENT_IDX was negotiated (a driver
 * without it may put the used ring right after avail->ring). */
static int check_overlap(struct virtq *vq)
{
	uint16_t n = vq->size;
	uint64_t ev = vq->event_idx ? 2 : 0;
	struct {
		const char *name;
		uint64_t gpa, len;
	} r[3] = {
		{ "descriptor table", vq->desc_gpa, DESC_BYTES(n) },
		{ "available ring", vq->avail_gpa, AVAIL_BYTES(n) - 2 + ev },
		{ "used ring", vq->used_gpa, USED_BYTES(n) - 2 + ev },
	};

	for (unsigned i = 0; i < 3; i++) {
		for (unsigned j = i + 1; j < 3; j++) {
			if (!intersect(r[i].gpa, r[i].len, r[j].gpa, r[j].len))
				continue;
			snprintf(vq->error, sizeof(vq->error),
				 "%s at %#llx (%llu bytes) overlaps the %s at %#llx (%llu bytes)", r[i].name,
				 (unsigned long long)r[i].gpa, (unsigned long long)r[i].len, r[j].name,
				 (unsigned long long)r[j].gpa, (unsigned long long)r[j].len);
			return -1;
		}
	}
	return 0;
}

int virtq_enable(struct virtq *vq, const struct guest_mem *mem)
{
	uint16_t n = vq->size;

	vq->error[0] = '\0';
	if (n == 0 || n > VIRTQ_MAX_SIZE || (n & (n - 1))) {
		snprintf(vq->error, sizeof(vq->error), "queue size %u is not a power of two from 1 to %u", n,
			 VIRTQ_MAX_SIZE);
		return -1;
	}
	struct vring_desc *desc = map_ring(vq, mem, "descriptor", vq->desc_gpa, DESC_BYTES(n), 16);
	if (!desc)
		return -1;
	struct vring_avail *avail = map_ring(vq, mem, "available", vq->avail_gpa, AVAIL_BYTES(n), 2);
	if (!avail)
		return -1;
	struct vring_used *used = map_ring(vq, mem, "used", vq->used_gpa, USED_BYTES(n), 4);
	if (!used)
		return -1;

	if (check_overlap(vq))
		return -1;

	vq->desc = desc;
	vq->avail = avail;
	vq->used = used;
	vq->mem = mem;
	vq->last_avail = 0;
	vq->used_idx = 0;
	vq->signalled_used = 0;
	vq->signalled_valid = false;
	vq->broken = false;
	vq->ready = true;
	return 0;
}

void virtq_reset(struct virtq *vq)
{
	memset(vq, 0, sizeof(*vq));
}

static uint16_t *avail_event(struct virtq *vq)
{
	return (uint16_t *)&vq->used->ring[vq->size];
}

static const uint16_t *used_event(const struct virtq *vq)
{
	return (const uint16_t *)&vq->avail->ring[vq->size];
}

/* Append one buffer to the element, enforcing out-before-in order. */
static int add_buffer(struct virtq *vq, struct virtq_elem *elem, const struct desc *d, unsigned idx,
		      bool indirect)
{
	const char *where = indirect ? "indirect descriptor" : "descriptor";
	void *p = guest_mem_ptr(vq->mem, d->addr, d->len);

	if (!p)
		return fail(vq, "%s %u: buffer at %#llx (%u bytes) is outside guest RAM", where, idx,
			    (unsigned long long)d->addr, d->len);
	if (elem->out_num + elem->in_num >= VIRTQ_MAX_SEGS)
		return fail(vq, "chain at head %u has more than %u buffers", elem->head, VIRTQ_MAX_SEGS);
	struct iovec *iov = &elem->iov[elem->out_num + elem->in_num];
	iov->iov_base = p;
	iov->iov_len = d->len;
	if (d->flags & VRING_DESC_F_WRITE) {
		elem->in_num++;
		elem->in_len += d->len;
	} else {
		if (elem->in_num)
			return fail(vq, "%s %u: device-readable buffer after a device-writable one (chain at head %u)",
				    where, idx, elem->head);
		elem->out_num++;
		elem->out_len += d->len;
	}
	return 0;
}

/* Walk the chain at `head` into `elem`. The main table allows `size`
 * descriptors; meeting more means a loop. An INDIRECT descriptor (no NEXT
 * allowed with it, so it ends the main chain) switches to its table, whose
 * own chain is bounded by its length the same way. */
static int walk_chain(struct virtq *vq, uint16_t head, struct virtq_elem *elem)
{
	const struct vring_desc *table = vq->desc;
	unsigned table_size = vq->size, idx = head, seen = 0;
	uint64_t table_gpa = 0;
	bool indirect = false;

	elem->head = head;
	elem->out_num = elem->in_num = 0;
	elem->out_len = elem->in_len = 0;
	for (;;) {
		struct desc d;

		if (++seen > table_size) {
			if (indirect)
				return fail(vq, "indirect table at %#llx: chain loops (more than its %u descriptors)",
					    (unsigned long long)table_gpa, table_size);
			return fail(vq, "chain at head %u loops (more than the queue size %u descriptors)", head,
				    table_size);
		}
		read_desc(&d, &table[idx]);

		if (d.flags & VRING_DESC_F_INDIRECT) {
			if (indirect)
				return fail(vq, "indirect table at %#llx: descriptor %u is itself indirect (nesting is not allowed)",
					    (unsigned long long)table_gpa, idx);
			if (!vq->indirect)
				return fail(vq, "descriptor %u is indirect, but INDIRECT_DESC was not negotiated", idx);
			if (d.flags & VRING_DESC_F_NEXT)
				return fail(vq, "descriptor %u has both INDIRECT and NEXT", idx);
			if (d.len == 0 || d.len % sizeof(struct vring_desc))
				return fail(vq, "descriptor %u: indirect table length %u is not a non-zero multiple of 16",
					    idx, d.len);
			if (d.len / sizeof(struct vring_desc) > vq->size)
				return fail(vq, "descriptor %u: indirect table holds %u descriptors, more than the queue size %u",
					    idx, d.len / (unsigned)sizeof(struct vring_desc), vq->size);
			table = guest_mem_ptr(vq->mem, d.addr, d.len);
			if (!table)
				return fail(vq, "descriptor %u: indirect table at %#llx (%u bytes) is outside guest RAM",
					    idx, (unsigned long long)d.addr, d.len);
			/* WRITE on the indirect descriptor itself means nothing (spec 2.7.5.3.2). */
			table_gpa = d.addr;
			table_size = d.len / sizeof(struct vring_desc);
			idx = 0;
			seen = 0;
			indirect = true;
			continue;
		}

		if (add_buffer(vq, elem, &d, idx, indirect))
			return -1;
		if (!(d.flags & VRING_DESC_F_NEXT))
			return 0;
		if (d.next >= table_size) {
			if (indirect)
				return fail(vq, "indirect table at %#llx: descriptor %u: next %u is beyond its %u entries",
					    (unsigned long long)table_gpa, idx, d.next, table_size);
			return fail(vq, "descriptor %u: next %u is beyond the queue size %u", idx, d.next, table_size);
		}
		idx = d.next;
	}
}

enum virtq_pop_result virtq_pop(struct virtq *vq, struct virtq_elem *elem)
{
	if (vq->broken)
		return VIRTQ_BROKEN;
	if (!vq->ready)
		return VIRTQ_EMPTY;

	uint16_t avail_idx = le16toh(__atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE));
	if (avail_idx == vq->last_avail) {
		if (!vq->event_idx)
			return VIRTQ_EMPTY;
		/* Ask for a kick at the next entry, then look again: the driver
		 * may have added one after reading an older avail_event. */
		store16(avail_event(vq), vq->last_avail);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		avail_idx = le16toh(__atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE));
		if (avail_idx == vq->last_avail)
			return VIRTQ_EMPTY;
	}

	uint16_t pending = (uint16_t)(avail_idx - vq->last_avail);
	if (pending > vq->size) {
		fail(vq, "available index %u is %u entries ahead of the device's %u, more than the queue size %u",
		     avail_idx, pending, vq->last_avail, vq->size);
		return VIRTQ_BROKEN;
	}

	unsigned slot = vq->last_avail & (vq->size - 1u);
	uint16_t head = load16(&vq->avail->ring[slot]);
	if (head >= vq->size) {
		fail(vq, "available ring slot %u holds head %u, beyond the queue size %u", slot, head, vq->size);
		return VIRTQ_BROKEN;
	}
	if (walk_chain(vq, head, elem))
		return VIRTQ_BROKEN;

	vq->last_avail++;
	if (vq->event_idx)
		store16(avail_event(vq), vq->last_avail);
	return VIRTQ_GOT;
}

void virtq_unpop(struct virtq *vq, uint16_t n)
{
	vq->last_avail = (uint16_t)(vq->last_avail - n);
	if (vq->event_idx && vq->ready && !vq->broken)
		store16(avail_event(vq), vq->last_avail);
}

enum virtq_pop_result virtq_pop_burst(struct virtq *vq, struct virtq_elem *elem)
{
	enum virtq_pop_result r = virtq_pop(vq, elem);
	if (r == VIRTQ_GOT) {
		/* Busy: no kicks until the ring is found empty. With event idx
		 * an avail_event one behind the next entry is one the driver
		 * has already passed: vring_need_event() is false for every
		 * add until the device asks again. */
		if (vq->event_idx)
			store16(avail_event(vq), (uint16_t)(vq->last_avail - 1u));
		else
			store16(&vq->used->flags, VRING_USED_F_NO_NOTIFY);
		return r;
	}
	if (r != VIRTQ_EMPTY || vq->event_idx || !vq->ready)
		return r; /* virtq_pop re-armed avail_event and looked again */
	if (load16(&vq->used->flags) == 0)
		return r;
	/* Kicks wanted again, then a last look: the driver may have added
	 * an entry after it read the flag set. */
	store16(&vq->used->flags, 0);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	r = virtq_pop(vq, elem);
	if (r == VIRTQ_GOT)
		store16(&vq->used->flags, VRING_USED_F_NO_NOTIFY);
	return r;
}

bool virtq_avail_pending(const struct virtq *vq)
{
	if (!vq->ready || vq->broken)
		return false;
	return le16toh(__atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE)) != vq->last_avail;
}

void virtq_kicks_off(struct virtq *vq)
{
	if (!vq->ready || vq->broken)
		return;
	/* As virtq_pop_burst does while busy: an avail_event the driver has
	 * already passed, or the flag. */
	if (vq->event_idx)
		store16(avail_event(vq), (uint16_t)(vq->last_avail - 1u));
	else
		store16(&vq->used->flags, VRING_USED_F_NO_NOTIFY);
}

bool virtq_kicks_on(struct virtq *vq)
{
	if (!vq->ready || vq->broken)
		return false;
	if (vq->event_idx)
		store16(avail_event(vq), vq->last_avail);
	else
		store16(&vq->used->flags, 0);
	/* The Dekker point: a driver that added after our last look may have
	 * read the old suppression and not kicked; it is seen here. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return virtq_avail_pending(vq);
}

void virtq_push(struct virtq *vq, uint16_t head, uint32_t len)
{
	/* A request finishing after a reset or a failure has nowhere to go. */
	if (!vq->ready || vq->broken)
		return;
	struct vring_used_elem *e = &vq->used->ring[vq->used_idx & (vq->size - 1u)];
	store32(&e->id, head);
	store32(&e->len, len);
	vq->used_idx++;
	__atomic_store_n(&vq->used->idx, htole16(vq->used_idx), __ATOMIC_RELEASE);
}

bool virtq_should_interrupt(struct virtq *vq)
{
	if (!vq->ready || vq->broken)
		return false;

	uint16_t old = vq->signalled_used, new = vq->used_idx;
	bool valid = vq->signalled_valid;
	vq->signalled_used = new;
	vq->signalled_valid = true;
	if (valid && old == new)
		return false; /* nothing used since the last interrupt */

	/* used->idx was published before we read the driver's wish. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!vq->event_idx)
		return !(load16(&vq->avail->flags) & VRING_AVAIL_F_NO_INTERRUPT);
	if (!valid)
		return true;
	return vring_need_event(load16(used_event(vq)), new, old);
}

/* Copy between `buf` and iov[first .. first + num), starting `offset`
 * bytes in. `to_iov` picks the direction. */
static uint64_t iov_copy(const struct iovec *iov, unsigned num, uint64_t offset, void *buf, uint64_t len,
			 bool to_iov)
{
	uint8_t *p = buf;
	uint64_t done = 0;

	for (unsigned i = 0; i < num && done < len; i++) {
		uint64_t seg = iov[i].iov_len;
		if (offset >= seg) {
			offset -= seg;
			continue;
		}
		uint64_t n = seg - offset;
		if (n > len - done)
			n = len - done;
		uint8_t *g = (uint8_t *)iov[i].iov_base + offset;
		if (to_iov)
			memcpy(g, p + done, n);
		else
			memcpy(p + done, g, n);
		done += n;
		offset = 0;
	}
	return done;
}

uint64_t virtq_read_out(const struct virtq_elem *elem, uint64_t offset, void *buf, uint64_t len)
{
	return iov_copy(elem->iov, elem->out_num, offset, buf, len, false);
}

uint64_t virtq_write_in(const struct virtq_elem *elem, uint64_t offset, const void *buf, uint64_t len)
{
	return iov_copy(elem->iov + elem->out_num, elem->in_num, offset, (void *)buf, len, true);
}
