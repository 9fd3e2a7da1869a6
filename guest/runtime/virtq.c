/*
 * Split virtqueue, driver side (virtio 1.2, 2.7).
 *
 * This is the data path, so it is written for the instruction count: on a
 * host without VT-x each instruction here costs ~1 us. Adding a chain
 * walks the free list once (writing each descriptor as it goes), freeing
 * one is O(1) (the chain's tail is remembered per head), kicking reads
 * one ring field after one barrier, reaping reads two ring fields per
 * entry. No register but QueueNotify is touched.
 *
 * Memory ordering (x86, device on another host CPU): descriptor and ring
 * stores reach the device in program order, so publishing needs only a
 * compiler barrier; a store followed by a load of something the device
 * writes (avail->idx then avail_event; used_event then used->idx) needs
 * virtio_mb().
 */
#include <pvmm/guest.h>
#include <pvmm/virtio.h>

#define CHAIN(tail, count) ((uint32_t)(tail) | (uint32_t)(count) << 16)

int virtq_add(struct virtqueue *vq, const struct virtq_desc *table, unsigned n, void *cookie)
{
	if (n == 0 || n > vq->size || !cookie)
		return -VIRTIO_EINVAL;
	if (n > vq->num_free)
		return -VIRTIO_EAGAIN;
	struct virtq_desc *desc = vq->desc;
	uint16_t head = vq->free_head, i = head, last = head;
	for (unsigned k = 0; k < n; k++) {
		last = i;
		desc[i].addr = table[k].addr;
		desc[i].len = table[k].len;
		desc[i].flags = (uint16_t)((table[k].flags & VIRTQ_DESC_F_WRITE) | VIRTQ_DESC_F_NEXT);
		i = desc[i].next; /* free-list link == chain link: kept as is */
	}
	desc[last].flags &= (uint16_t)~VIRTQ_DESC_F_NEXT;
	vq->free_head = i;
	vq->num_free = (uint16_t)(vq->num_free - n);
	vq->chain[head] = CHAIN(last, n);
	vq->cookie[head] = cookie;
	vq->avail->ring[vq->avail_idx & vq->mask] = head;
	vq->avail_idx++;
	return head;
}

bool virtq_publish(struct virtqueue *vq)
{
	uint16_t old = vq->kicked_idx, new_idx = vq->avail_idx;
	virtio_barrier(); /* descriptors and ring slots before the index */
	*(volatile uint16_t *)&vq->avail->idx = new_idx;
	vq->kicked_idx = new_idx;
	virtio_mb(); /* the index before reading what the device asked for */
	bool notify;
	if (vq->event_idx)
		notify = vring_need_event(*vq->avail_event, new_idx, old);
	else
		notify = !(*(volatile uint16_t *)&vq->used->flags & VIRTQ_USED_F_NO_NOTIFY);
	if (notify) {
		*vq->notify = vq->qindex;
		vq->kicks++;
	} else {
		vq->kicks_saved++;
	}
	return notify;
}

/*
 * The reaping loop keeps everything in locals (the compiler could not,
 * since descriptor stores may alias the queue's own fields) and reads
 * used->idx once per call.
 */
int virtq_get_batch(struct virtqueue *vq, void **cookies, unsigned max)
{
	if (vq->broken)
		return -VIRTIO_EBROKEN;
	uint16_t last = vq->last_used;
	unsigned count = (uint16_t)(*(volatile uint16_t *)&vq->used->idx - last);
	if (count == 0)
		return 0;
	if (count > max)
		count = max;
	virtio_barrier(); /* the index before the entries it covers */
	const volatile struct virtq_used_elem *ring = vq->used->ring;
	struct virtq_desc *desc = vq->desc;
	void **cookie = vq->cookie;
	const uint32_t *chain = vq->chain;
	uint16_t mask = vq->mask, free_head = vq->free_head;
	unsigned size = vq->size, num_free = vq->num_free, n = 0;
	for (; n < count; n++) {
		uint32_t id = ring[(uint16_t)(last + n) & mask].id;
		void *c;
		if (id >= size || !(c = cookie[id])) {
			vq->broken = true;
			break;
		}
		cookie[id] = NULL;
		cookies[n] = c;
		/* Back on the free list: the chain's tail links to the old head. */
		uint32_t ch = chain[id];
		desc[(uint16_t)ch].next = free_head;
		free_head = (uint16_t)id;
		num_free += ch >> 16;
	}
	vq->last_used = (uint16_t)(last + n);
	vq->free_head = free_head;
	vq->num_free = (uint16_t)num_free;
	/* A bad entry: hand back what came before it; the error comes next. */
	return n ? (int)n : -VIRTIO_EBROKEN;
}

int virtq_get(struct virtqueue *vq, void **cookie, uint32_t *len)
{
	uint16_t last = vq->last_used;
	int r = virtq_get_batch(vq, cookie, 1);
	if (r > 0)
		*len = vq->used->ring[last & vq->mask].len;
	return r;
}

bool virtq_arm(struct virtqueue *vq, uint16_t n)
{
	if (vq->event_idx)
		*vq->used_event = (uint16_t)(vq->last_used + n - 1);
	else
		*(volatile uint16_t *)&vq->avail->flags = 0;
	virtio_mb(); /* the request before re-reading the index */
	return virtq_used_pending(vq) >= n;
}

void virtq_disarm(struct virtqueue *vq)
{
	if (!vq->event_idx)
		*(volatile uint16_t *)&vq->avail->flags = VIRTQ_AVAIL_F_NO_INTERRUPT;
}
