/*
 * virtio for pvmm guests: the few definitions of the virtio 1.2 spec the
 * runtime's drivers need (virtio-mmio version 2 registers, status and
 * feature bits, the split virtqueue layout), then the runtime's transport
 * (struct virtio_dev) and driver-side split virtqueue (struct virtqueue).
 *
 * Written from the spec for freestanding guest code: no Linux headers.
 * All multi-byte fields are little-endian, which x86 is.
 *
 * Cost model (hosts without VT-x, see guest/README.md): every access to a
 * device register except QueueNotify is an exit to the monitor (~10 us),
 * so registers are touched during set-up only. The data path is memory
 * (rings) plus QueueNotify (an in-kernel ioeventfd, ~2 us), and waiting is
 * the para-API POLL on the device's boot info bit.
 */
#ifndef PVMM_VIRTIO_H
#define PVMM_VIRTIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pvmm/para.h>

/* ---- virtio-mmio version 2 register file (virtio 1.2, 4.2.2) ---------- */

#define VIRTIO_MMIO_MAGIC 0x74726976u /* "virt" */
#define VIRTIO_MMIO_VERSION_MODERN 2u

#define VIRTIO_MMIO_MAGIC_VALUE       0x000
#define VIRTIO_MMIO_VERSION           0x004
#define VIRTIO_MMIO_DEVICE_ID         0x008
#define VIRTIO_MMIO_VENDOR_ID         0x00c
#define VIRTIO_MMIO_DEVICE_FEATURES   0x010
#define VIRTIO_MMIO_DEVICE_FEATURES_SEL 0x014
#define VIRTIO_MMIO_DRIVER_FEATURES   0x020
#define VIRTIO_MMIO_DRIVER_FEATURES_SEL 0x024
#define VIRTIO_MMIO_QUEUE_SEL         0x030
#define VIRTIO_MMIO_QUEUE_NUM_MAX     0x034
#define VIRTIO_MMIO_QUEUE_NUM         0x038
#define VIRTIO_MMIO_QUEUE_READY       0x044
#define VIRTIO_MMIO_QUEUE_NOTIFY      0x050
#define VIRTIO_MMIO_INTERRUPT_STATUS  0x060
#define VIRTIO_MMIO_INTERRUPT_ACK     0x064
#define VIRTIO_MMIO_STATUS            0x070
#define VIRTIO_MMIO_QUEUE_DESC_LOW    0x080
#define VIRTIO_MMIO_QUEUE_DESC_HIGH   0x084
#define VIRTIO_MMIO_QUEUE_DRIVER_LOW  0x090
#define VIRTIO_MMIO_QUEUE_DRIVER_HIGH 0x094
#define VIRTIO_MMIO_QUEUE_DEVICE_LOW  0x0a0
#define VIRTIO_MMIO_QUEUE_DEVICE_HIGH 0x0a4
#define VIRTIO_MMIO_CONFIG_GENERATION 0x0fc
#define VIRTIO_MMIO_CONFIG            0x100

/* InterruptStatus bits. */
#define VIRTIO_MMIO_INT_VRING  1u
#define VIRTIO_MMIO_INT_CONFIG 2u

/* ---- Device status (2.1) ------------------------------------------------ */

#define VIRTIO_STATUS_ACKNOWLEDGE        0x01u
#define VIRTIO_STATUS_DRIVER             0x02u
#define VIRTIO_STATUS_DRIVER_OK          0x04u
#define VIRTIO_STATUS_FEATURES_OK        0x08u
#define VIRTIO_STATUS_DEVICE_NEEDS_RESET 0x40u
#define VIRTIO_STATUS_FAILED             0x80u

/* ---- Feature bits (6) ----------------------------------------------------- */

#define VIRTIO_BIT(b) (1ull << (b))
#define VIRTIO_F_INDIRECT_DESC   28
#define VIRTIO_F_EVENT_IDX       29
#define VIRTIO_F_VERSION_1       32
#define VIRTIO_F_ACCESS_PLATFORM 33
#define VIRTIO_F_RING_PACKED     34

/* ---- Device IDs (5) --------------------------------------------------------- */

#define VIRTIO_ID_NET     1u
#define VIRTIO_ID_BLOCK   2u
#define VIRTIO_ID_CONSOLE 3u
#define VIRTIO_ID_RNG     4u

/* ---- Split virtqueue layout (2.7) ----------------------------------------- */

struct virtq_desc {
	uint64_t addr;  /* guest-physical (= virtual for pvmm guests) */
	uint32_t len;
	uint16_t flags; /* VIRTQ_DESC_F_* */
	uint16_t next;  /* with VIRTQ_DESC_F_NEXT */
};
#define VIRTQ_DESC_F_NEXT     1u
#define VIRTQ_DESC_F_WRITE    2u /* device-writable (else device-readable) */
#define VIRTQ_DESC_F_INDIRECT 4u /* addr/len name a table of descriptors */

struct virtq_avail {
	uint16_t flags; /* VIRTQ_AVAIL_F_* */
	uint16_t idx;
	uint16_t ring[]; /* queue size entries, then used_event (EVENT_IDX) */
};
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1u

struct virtq_used_elem {
	uint32_t id;  /* head of the chain */
	uint32_t len; /* bytes the device wrote into the chain */
};

struct virtq_used {
	uint16_t flags; /* VIRTQ_USED_F_* */
	uint16_t idx;
	struct virtq_used_elem ring[]; /* queue size entries, then avail_event */
};
#define VIRTQ_USED_F_NO_NOTIFY 1u

/* Bytes each part takes for a queue of n entries (with the EVENT_IDX
 * fields), and the alignment each needs. */
#define VIRTQ_DESC_BYTES(n)  (16u * (n))
#define VIRTQ_AVAIL_BYTES(n) (6u + 2u * (n))
#define VIRTQ_USED_BYTES(n)  (6u + 8u * (n))
#define VIRTQ_DESC_ALIGN  16u
#define VIRTQ_AVAIL_ALIGN 2u
#define VIRTQ_USED_ALIGN  4u

/* The event-index test of 2.7.7.2 / 2.7.10: should the other side be
 * notified, now that the index moved from old to new_idx, given it asked
 * to hear about entry `event`? */
static inline bool vring_need_event(uint16_t event, uint16_t new_idx, uint16_t old)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old);
}

/* ---- virtio-blk (5.2) ----------------------------------------------------- */

#define VIRTIO_BLK_F_SIZE_MAX     1
#define VIRTIO_BLK_F_SEG_MAX      2
#define VIRTIO_BLK_F_GEOMETRY     4
#define VIRTIO_BLK_F_RO           5
#define VIRTIO_BLK_F_BLK_SIZE     6
#define VIRTIO_BLK_F_FLUSH        9
#define VIRTIO_BLK_F_TOPOLOGY     10
#define VIRTIO_BLK_F_CONFIG_WCE   11
#define VIRTIO_BLK_F_MQ           12
#define VIRTIO_BLK_F_DISCARD      13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

/* Offsets in the device configuration space. */
#define VIRTIO_BLK_CFG_CAPACITY                 0  /* le64, 512-byte sectors */
#define VIRTIO_BLK_CFG_SIZE_MAX                 8  /* le32 */
#define VIRTIO_BLK_CFG_SEG_MAX                  12 /* le32 */
#define VIRTIO_BLK_CFG_BLK_SIZE                 20 /* le32 */
#define VIRTIO_BLK_CFG_WRITEBACK                32 /* u8 */
#define VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS      36 /* le32 */
#define VIRTIO_BLK_CFG_MAX_DISCARD_SEG          40 /* le32 */
#define VIRTIO_BLK_CFG_DISCARD_SECTOR_ALIGNMENT 44 /* le32 */
#define VIRTIO_BLK_CFG_MAX_WRITE_ZEROES_SECTORS 48 /* le32 */
#define VIRTIO_BLK_CFG_MAX_WRITE_ZEROES_SEG     52 /* le32 */

#define VIRTIO_BLK_T_IN           0u
#define VIRTIO_BLK_T_OUT          1u
#define VIRTIO_BLK_T_FLUSH        4u
#define VIRTIO_BLK_T_GET_ID       8u
#define VIRTIO_BLK_T_DISCARD      11u
#define VIRTIO_BLK_T_WRITE_ZEROES 13u

#define VIRTIO_BLK_S_OK     0u
#define VIRTIO_BLK_S_IOERR  1u
#define VIRTIO_BLK_S_UNSUPP 2u

#define VIRTIO_BLK_SECTOR_SIZE 512u
#define VIRTIO_BLK_ID_BYTES 20u

/* The request header (device-readable, first in every chain). */
struct virtio_blk_req_hdr {
	uint32_t type;     /* VIRTIO_BLK_T_* */
	uint32_t reserved;
	uint64_t sector;   /* 512-byte units, for IN/OUT */
};

/* DISCARD and WRITE_ZEROES carry one of these per range. */
struct virtio_blk_range {
	uint64_t sector;
	uint32_t num_sectors;
	uint32_t flags;    /* VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP */
};
#define VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP 1u

/* ---- virtio-console (5.3) -------------------------------------------------- */

#define VIRTIO_CONSOLE_F_SIZE        0
#define VIRTIO_CONSOLE_F_MULTIPORT   1
#define VIRTIO_CONSOLE_F_EMERG_WRITE 2
#define VIRTIO_CONSOLE_RX_QUEUE 0 /* receiveq(port0): host to guest */
#define VIRTIO_CONSOLE_TX_QUEUE 1 /* transmitq(port0): guest to host */

/* ---- virtio-rng (5.4): one queue, requestq, of device-writable buffers. */

/* ==== The runtime's virtio layer ========================================== */

/* Errors of the runtime's virtio drivers: functions return -VIRTIO_E*.
 * <pvmm/blk.h> names the same values BLK_E*. */
enum virtio_error {
	VIRTIO_ENODEV = 1,    /* no such device, or not a virtio-mmio v2 device of that type */
	VIRTIO_EINVAL = 2,    /* bad argument */
	VIRTIO_EUNSUPP = 3,   /* the device does not support the operation */
	VIRTIO_EAGAIN = 4,    /* queue full: reap completions, then retry */
	VIRTIO_EIO = 5,       /* the device reported an I/O error */
	VIRTIO_ERANGE = 6,    /* outside the device (e.g. past the disk's end) */
	VIRTIO_EBROKEN = 7,   /* the device needs a reset (DEVICE_NEEDS_RESET) or misbehaved */
	VIRTIO_ETIMEDOUT = 8, /* the deadline passed */
	VIRTIO_ENOMEM = 9,    /* out of pages for rings */
	VIRTIO_EFEATURES = 10,/* feature negotiation failed (FEATURES_OK refused, no VERSION_1) */
	VIRTIO_EQUEUE = 11,   /* the device refused a queue (absent, too small, or QueueReady stayed 0) */
};

/* A short name for a -VIRTIO_E* code ("EIO"), "OK" for 0, "E?" otherwise. */
const char *virtio_strerror(int err);

struct virtqueue;

/* One virtio-mmio device, as a driver holds it. */
struct virtio_dev {
	volatile uint8_t *regs; /* the register window (boot info mmio_base; for
	                         * virtio-pci, BAR 0 with para.h's fixed layout) */
	bool pci;               /* on virtio-pci (boot info PVMM_DEV_VIRTIO_PCI) */
	unsigned index;         /* position in the boot info device list: POLL bit */
	uint32_t irq;           /* IOAPIC pin, or PVMM_NO_IRQ */
	uint32_t device_id;     /* VIRTIO_ID_* */
	uint64_t features;      /* negotiated (valid after virtio_negotiate) */
	bool msix;              /* virtio-pci interrupts by MSI-X, not the pin (same vector, same handler) */
};

/* True for a boot info entry type that is a virtio device, on either
 * transport (virtio-mmio, or virtio-pci from a 1.4 monitor). */
static inline bool virtio_entry_type(uint32_t type)
{
	return type == PVMM_DEV_VIRTIO_MMIO || type == PVMM_DEV_VIRTIO_PCI;
}

/* Boot info index of the nth (0-based) virtio device (either transport) whose DeviceID
 * is device_id, or -1. The first call reads each virtio-mmio device's
 * DeviceID register once (one exit per device) and caches them. */
int virtio_find(uint32_t device_id, unsigned nth);

/* DeviceID of the device at boot info index `index` (cached), 0 if that
 * entry is not a virtio-mmio device. */
uint32_t virtio_device_id(unsigned index);

/* Start driving the device at boot info `index`: check the magic value,
 * version 2 and DeviceID == device_id, reset it, then set ACKNOWLEDGE and
 * DRIVER. 0 or -VIRTIO_ENODEV. */
int virtio_init(struct virtio_dev *dev, unsigned index, uint32_t device_id);

/* Feature negotiation: accept the offered bits among `wanted` (VERSION_1
 * is always wanted and required; EVENT_IDX and INDIRECT_DESC are taken
 * when offered unless `wanted` has VIRTIO_NEGOTIATE_EXACT), write them,
 * set FEATURES_OK and check the device kept it. Sets dev->features.
 * 0 or -VIRTIO_EFEATURES (the device is then marked FAILED). */
#define VIRTIO_NEGOTIATE_EXACT VIRTIO_BIT(63) /* take only what `wanted` lists */
int virtio_negotiate(struct virtio_dev *dev, uint64_t wanted);

static inline bool virtio_has(const struct virtio_dev *dev, unsigned bit)
{
	return (dev->features >> bit) & 1;
}

/* Allocate (page_alloc), zero and register queue `qindex` with `size`
 * entries (rounded down to a power of two, capped at QueueNumMax; 0 takes
 * QueueNumMax), then set QueueReady and check it reads back 1. The ring
 * features come from dev->features, so negotiate first. 0 or -VIRTIO_E*. */
int virtio_queue_init(struct virtio_dev *dev, struct virtqueue *vq, unsigned qindex, unsigned size);

/* Set DRIVER_OK: the device is live. */
void virtio_driver_ok(struct virtio_dev *dev);

/* Device status register (one exit). */
uint32_t virtio_status(const struct virtio_dev *dev);

/* True if the device has set DEVICE_NEEDS_RESET (one exit). */
bool virtio_needs_reset(const struct virtio_dev *dev);

/* Write 0 to Status and wait for it to read back 0: the device forgets
 * everything, queues included (their memory is not freed). */
void virtio_reset(struct virtio_dev *dev);

/* Give up on the device: set FAILED. */
void virtio_set_failed(struct virtio_dev *dev);

/* Device configuration space (each read is one exit; 64-bit fields are
 * read as two 32-bit halves inside a ConfigGeneration check). */
uint8_t virtio_config_read8(const struct virtio_dev *dev, unsigned offset);
uint16_t virtio_config_read16(const struct virtio_dev *dev, unsigned offset);
uint32_t virtio_config_read32(const struct virtio_dev *dev, unsigned offset);
uint64_t virtio_config_read64(const struct virtio_dev *dev, unsigned offset);

/* Raw 32-bit register access (one exit each): for tests. */
static inline uint32_t virtio_read32(const struct virtio_dev *dev, unsigned offset)
{
	return *(volatile const uint32_t *)(dev->regs + offset);
}
static inline void virtio_write32(struct virtio_dev *dev, unsigned offset, uint32_t value)
{
	*(volatile uint32_t *)(dev->regs + offset) = value;
}

/* Block in the monitor (POLL) until this device signals (a used-buffer or
 * configuration notification) or deadline_ns passes: 1 signalled, 0
 * deadline, -VIRTIO_EINVAL if POLL refused. Signals are latched by the
 * monitor, so one that came before the call makes it return at once. */
int virtio_wait(const struct virtio_dev *dev, uint64_t deadline_ns);

/* ---- Driver side of a split virtqueue --------------------------------- */

/*
 * One virtqueue. Single producer, single consumer: the owner serializes
 * calls (a driver that also reaps from an interrupt handler disables
 * interrupts around its own calls). Descriptors go on a free list; a chain
 * costs one descriptor per buffer (virtq_add) or one in all
 * (virtq_add_indirect), and comes back to the free list in O(1) when its
 * head is reaped.
 *
 * Adding and publishing are separate: virtq_add* fill descriptors and the
 * avail ring slot, virtq_kick publishes avail->idx for everything added
 * since and notifies the device only if it asked (EVENT_IDX avail_event,
 * else VIRTQ_USED_F_NO_NOTIFY). Notifications back (interrupt / POLL
 * readiness) are requested with virtq_arm.
 */
struct virtqueue {
	struct virtq_desc *desc;
	struct virtq_avail *avail;
	struct virtq_used *used;
	volatile uint16_t *used_event;  /* &avail->ring[size] */
	volatile uint16_t *avail_event; /* after used->ring[size] */
	volatile uint32_t *notify;      /* the device's QueueNotify register */
	void **cookie;                  /* per head: the caller's pointer, NULL when free */
	uint32_t *chain;                /* per head: tail index | count << 16 */
	uint16_t size, mask, qindex;
	uint16_t free_head;             /* first free descriptor */
	uint16_t num_free;
	uint16_t avail_idx;             /* next avail index (private until kicked) */
	uint16_t kicked_idx;            /* avail->idx published at the last kick */
	uint16_t last_used;             /* next used entry to reap */
	bool event_idx;                 /* EVENT_IDX negotiated */
	bool indirect;                  /* INDIRECT_DESC negotiated */
	bool broken;                    /* the device returned a bad used entry */
	void *mem;                      /* the ring pages */
	size_t mem_pages;
	uint64_t kicks;                 /* notifications sent */
	uint64_t kicks_saved;           /* kicks skipped because the device did not ask */
};

/* Add a chain of n buffers: table[i].addr/len, and VIRTQ_DESC_F_WRITE in
 * table[i].flags for device-writable ones (they must follow all the
 * device-readable ones); table[].next and NEXT flags are ignored. `cookie`
 * (not NULL) comes back from virtq_get. Returns the head (>= 0), or
 * -VIRTIO_EAGAIN when fewer than n descriptors are free, -VIRTIO_EINVAL
 * for n == 0 or n > size. Not visible to the device before virtq_kick. */
int virtq_add(struct virtqueue *vq, const struct virtq_desc *table, unsigned n, void *cookie);

/* Add a chain as one indirect descriptor pointing at `table` (n entries,
 * 16-byte aligned, complete: NEXT flags and next links set by the
 * caller, which keeps it untouched until the chain is reaped). Needs
 * VIRTIO_F_INDIRECT_DESC (-VIRTIO_EUNSUPP otherwise). Inline: it is the
 * data path's add (about 15 instructions). */
static inline int virtq_add_indirect(struct virtqueue *vq, struct virtq_desc *table, unsigned n, void *cookie)
{
	if (!vq->indirect)
		return -VIRTIO_EUNSUPP;
	if (n == 0 || n > vq->size || !cookie)
		return -VIRTIO_EINVAL;
	if (vq->num_free == 0)
		return -VIRTIO_EAGAIN;
	uint16_t head = vq->free_head;
	struct virtq_desc *d = &vq->desc[head];
	vq->free_head = d->next;
	vq->num_free--;
	d->addr = (uint64_t)(uintptr_t)table;
	d->len = (uint32_t)(n * sizeof(struct virtq_desc));
	d->flags = VIRTQ_DESC_F_INDIRECT;
	vq->chain[head] = (uint32_t)head | 1u << 16;
	vq->cookie[head] = cookie;
	vq->avail->ring[vq->avail_idx & vq->mask] = head;
	vq->avail_idx++;
	return head;
}

/* Chains added but not yet published by virtq_kick. */
static inline bool virtq_kick_pending(const struct virtqueue *vq)
{
	return vq->avail_idx != vq->kicked_idx;
}

/* Make the added chains visible (avail->idx) and notify the device if it
 * wants to hear. Returns true if it notified. */
bool virtq_publish(struct virtqueue *vq);
static inline bool virtq_kick(struct virtqueue *vq)
{
	return virtq_kick_pending(vq) && virtq_publish(vq);
}

/* Take up to `max` used chains, oldest first, their cookies into
 * cookies[]; their descriptors go back on the free list. Returns how many
 * (0 if none), or -VIRTIO_EBROKEN if the device returned an id that is
 * not an outstanding head (the queue is then marked broken). About 15
 * instructions per chain. */
int virtq_get_batch(struct virtqueue *vq, void **cookies, unsigned max);

/* One used chain: 1 with *cookie and *len (bytes the device wrote) set,
 * 0 if none, or -VIRTIO_EBROKEN. */
int virtq_get(struct virtqueue *vq, void **cookie, uint32_t *len);

/* Used entries waiting to be reaped. */
static inline uint16_t virtq_used_pending(const struct virtqueue *vq)
{
	return (uint16_t)(*(volatile const uint16_t *)&vq->used->idx - vq->last_used);
}
static inline bool virtq_has_used(const struct virtqueue *vq)
{
	return virtq_used_pending(vq) != 0;
}

/* Ask the device to signal when `n` (>= 1) more chains than the ones
 * reaped so far are used (EVENT_IDX: used_event; otherwise it clears
 * VIRTQ_AVAIL_F_NO_INTERRUPT, which signals on every chain). Returns true
 * if `n` used entries are already there: do not wait, the signal may
 * never come for them. */
bool virtq_arm(struct virtqueue *vq, uint16_t n);

/* Ask for no signals (only effective without EVENT_IDX: with it, a
 * used_event already passed needs no update). */
void virtq_disarm(struct virtqueue *vq);

/* Chains in flight (added and not yet reaped). */
static inline unsigned virtq_in_flight(const struct virtqueue *vq)
{
	return (uint16_t)(vq->avail_idx - vq->last_used);
}

/* ---- Barriers --------------------------------------------------------
 * x86 keeps loads in order and stores in order, so the ring protocol only
 * needs the compiler held back, except where a store must be visible
 * before a later load (publish avail->idx, then read avail_event; write
 * used_event, then re-read used->idx): that takes a locked instruction.
 * The monitor's I/O thread runs concurrently on another host CPU. */
#define virtio_barrier() __asm__ volatile("" ::: "memory")
#define virtio_mb() __asm__ volatile("lock orq $0, (%%rsp)" ::: "memory", "cc")

#endif /* PVMM_VIRTIO_H */
