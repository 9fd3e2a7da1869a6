/*
 * Split virtqueue, device side (virtio 1.2, section 2.7).
 *
 * Everything here reads rings the guest writes concurrently, so every
 * guest-supplied index, address and length is checked, and each ring field
 * is read once. Structural damage (a head index out of range, a chain that
 * loops or outgrows the queue, a descriptor outside RAM, an avail index
 * that jumps by more than the queue size) is reported as VIRTQ_BROKEN: the
 * device then sets DEVICE_NEEDS_RESET and stops using the queue. The caller
 * holds the owning device's lock.
 */
#ifndef PVMM_VIRTIO_QUEUE_H
#define PVMM_VIRTIO_QUEUE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "guest_mem.h"

#define VIRTQ_MAX_SIZE 1024   /* largest queue a pvmm device offers */
#define VIRTQ_MAX_SEGS 130    /* most buffers in one chain (incl. indirect) */
#define VIRTQ_ERR_MAX 160

struct virtq {
	/* Set by the driver through the transport before `ready`. */
	uint16_t size;          /* power of two, 1..VIRTQ_MAX_SIZE */
	uint64_t desc_gpa, avail_gpa, used_gpa;
	bool ready;

	/* Negotiated features that change ring behaviour. */
	bool event_idx;         /* VIRTIO_F_EVENT_IDX / VIRTIO_RING_F_EVENT_IDX */
	bool indirect;          /* VIRTIO_RING_F_INDIRECT_DESC */

	/* Device state, valid while ready. Host pointers into guest RAM,
	 * checked once by virtq_enable(). */
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	const struct guest_mem *mem;
	uint16_t last_avail;    /* next avail ring slot the device consumes */
	uint16_t used_idx;      /* next used ring slot the device fills */
	uint16_t signalled_used;/* used_idx at the last interrupt (event idx) */
	bool signalled_valid;
	bool broken;            /* VIRTQ_BROKEN seen: never touched again until reset */
	char error[VIRTQ_ERR_MAX]; /* why it broke */
};

/* One popped request: the chain's buffers as host iovecs, device-readable
 * ("out") ones first, then device-writable ("in") ones, as the spec orders
 * them. */
struct virtq_elem {
	uint16_t head;          /* descriptor index to hand back in virtq_push() */
	unsigned out_num, in_num;
	uint64_t out_len, in_len; /* total bytes of each kind */
	struct iovec iov[VIRTQ_MAX_SEGS];
};

enum virtq_pop_result {
	VIRTQ_EMPTY = 0,        /* nothing available */
	VIRTQ_GOT = 1,          /* *elem holds a request */
	VIRTQ_BROKEN = -1,      /* the ring is damaged; vq->error says how */
};

/* Check the ring addresses (inside RAM, aligned per the spec, size a power
 * of two, no two of the three rings sharing a byte for the sizes the queue
 * size and event_idx imply) and map them. Returns 0, or -1 with a reason
 * in vq->error. */
int virtq_enable(struct virtq *vq, const struct guest_mem *mem);

/* Forget all device state (device or queue reset). */
void virtq_reset(struct virtq *vq);

/* Take the next available chain. With event_idx, also publishes
 * avail_event so the driver skips kicks while the device is busy. */
enum virtq_pop_result virtq_pop(struct virtq *vq, struct virtq_elem *elem);

/* virtq_pop for a device that serves the queue in bursts (a loop that
 * ends only when the ring is empty, or with a rekick): while it is
 * taking chains the driver is asked not to notify (avail_event behind
 * the driver's index with event_idx, VRING_USED_F_NO_NOTIFY without),
 * and the pop that finds the ring empty asks again and looks once more.
 * So a driver adding while the device drains costs no kicks. A caller
 * that stops taking chains otherwise must rekick the queue. */
enum virtq_pop_result virtq_pop_burst(struct virtq *vq, struct virtq_elem *elem);

/* Give back the last `n` chains taken and not yet pushed, so the next pop
 * takes them again (a device that took chains for a request it then
 * could not complete: virtio-net's merged receive buffers). */
void virtq_unpop(struct virtq *vq, uint16_t n);

/* True if the driver has made a chain available that was not taken yet.
 * Reads the index only, changing no suppression state: for a device that
 * polls the ring for a while before it asks for kicks again. */
bool virtq_avail_pending(const struct virtq *vq);

/* Kicks off for a device that polls the ring instead (avail_event one
 * behind with event_idx, VRING_USED_F_NO_NOTIFY without). */
void virtq_kicks_off(struct virtq *vq);

/* Kicks on again, then a last look past a full fence: true if a chain is
 * available (the driver may have added it without kicking just before),
 * which the device must then serve, as no kick will come for it. */
bool virtq_kicks_on(struct virtq *vq);

/* Return a chain: `len` bytes were written into its device-writable part. */
void virtq_push(struct virtq *vq, uint16_t head, uint32_t len);

/* After pushes: should the driver be interrupted (VIRTIO_F_EVENT_IDX's
 * used_event, or VRING_AVAIL_F_NO_INTERRUPT without it)? */
bool virtq_should_interrupt(struct virtq *vq);

/* Copy between an element's iovecs and a flat buffer, from byte `offset`
 * of the out (device-readable) or in (device-writable) part. They return
 * the bytes copied. */
uint64_t virtq_read_out(const struct virtq_elem *elem, uint64_t offset, void *buf, uint64_t len);
uint64_t virtq_write_in(const struct virtq_elem *elem, uint64_t offset, const void *buf, uint64_t len);

#endif
