/*
 * virtio-mmio transport, driver side (virtio 1.2, 4.2.3): discovery from
 * the boot info device list, the status sequence, feature negotiation and
 * queue registration. The same API drives virtio-pci devices (boot info
 * PVMM_DEV_VIRTIO_PCI): the few register accesses below switch on
 * dev->pci to virtio_pci.c's; everything else is shared.
 *
 * Every register access here is an exit to the monitor (~10 us without
 * VT-x), so this file is set-up only and reads each register once: a blk
 * device costs about 30 accesses to bring up, a queue 11. Nothing on the
 * data path comes here; it lives in virtq.c (memory and QueueNotify only).
 */
#include <string.h>
#include <pvmm/guest.h>
#include <pvmm/virtio.h>
#include "runtime.h"

static inline uint32_t rd(const struct virtio_dev *dev, unsigned off)
{
	return *(volatile const uint32_t *)(dev->regs + off);
}

static inline void wr(const struct virtio_dev *dev, unsigned off, uint32_t v)
{
	*(volatile uint32_t *)(dev->regs + off) = v;
}

static uint32_t status_get(const struct virtio_dev *dev)
{
	return dev->pci ? vpci_status(dev) : rd(dev, VIRTIO_MMIO_STATUS);
}

static void status_set(const struct virtio_dev *dev, uint32_t v)
{
	if (dev->pci)
		vpci_set_status(dev, v);
	else
		wr(dev, VIRTIO_MMIO_STATUS, v);
}

static volatile uint8_t *config_base(const struct virtio_dev *dev)
{
	return dev->pci ? vpci_config(dev) : dev->regs + VIRTIO_MMIO_CONFIG;
}

const char *virtio_strerror(int err)
{
	static const char *const names[] = {
		"OK", "ENODEV", "EINVAL", "EUNSUPP", "EAGAIN", "EIO", "ERANGE",
		"EBROKEN", "ETIMEDOUT", "ENOMEM", "EFEATURES", "EQUEUE",
	};
	unsigned e = err < 0 ? (unsigned)-err : (unsigned)err;
	return e < sizeof(names) / sizeof(names[0]) ? names[e] : "E?";
}

/* ---- Discovery ---------------------------------------------------------- */

/* DeviceID per boot info entry, read once: 0 = not a virtio-mmio device
 * (or a window that does not answer as one). */
static uint32_t device_ids[PVMM_MAX_DEVICES];
static bool ids_known;

static void scan_ids(void)
{
	const struct pvmm_boot_info *bi = pvmm_boot_info();
	uint32_t n = bi->device_count < PVMM_MAX_DEVICES ? bi->device_count : PVMM_MAX_DEVICES;
	for (uint32_t i = 0; i < n; i++) {
		const struct pvmm_device_info *d = &bi->devices[i];
		if (d->type == PVMM_DEV_VIRTIO_PCI) {
			device_ids[i] = vpci_device_id(d);
			continue;
		}
		if (d->type != PVMM_DEV_VIRTIO_MMIO || d->mmio_base == 0 ||
		    d->mmio_size < VIRTIO_MMIO_CONFIG)
			continue;
		device_ids[i] = *(volatile const uint32_t *)(uintptr_t)(d->mmio_base + VIRTIO_MMIO_DEVICE_ID);
	}
	ids_known = true;
}

uint32_t virtio_device_id(unsigned index)
{
	if (index >= PVMM_MAX_DEVICES)
		return 0;
	if (!ids_known)
		scan_ids();
	return device_ids[index];
}

int virtio_find(uint32_t device_id, unsigned nth)
{
	if (!ids_known)
		scan_ids();
	for (unsigned i = 0; i < PVMM_MAX_DEVICES; i++) {
		if (device_ids[i] == device_id && device_id != 0 && nth-- == 0)
			return (int)i;
	}
	return -1;
}

/* ---- Status sequence ---------------------------------------------------- */

uint32_t virtio_status(const struct virtio_dev *dev)
{
	return status_get(dev);
}

bool virtio_needs_reset(const struct virtio_dev *dev)
{
	return (virtio_status(dev) & VIRTIO_STATUS_DEVICE_NEEDS_RESET) != 0;
}

void virtio_reset(struct virtio_dev *dev)
{
	status_set(dev, 0);
	/* The device may finish the reset asynchronously (in-flight requests);
	 * it reads 0 once done. Bounded: a device that never gets there is
	 * left to the status checks that follow. */
	for (int i = 0; i < 1000 && status_get(dev) != 0; i++)
		sleep_ns(100 * PVMM_NS_PER_US);
	if (dev->pci)
		vpci_after_reset(dev);
}

void virtio_set_failed(struct virtio_dev *dev)
{
	status_set(dev, status_get(dev) | VIRTIO_STATUS_FAILED);
}

int virtio_init(struct virtio_dev *dev, unsigned index, uint32_t device_id)
{
	const struct pvmm_boot_info *bi = pvmm_boot_info();
	memset(dev, 0, sizeof(*dev));
	if (index >= bi->device_count || index >= PVMM_MAX_DEVICES)
		return -VIRTIO_ENODEV;
	const struct pvmm_device_info *d = &bi->devices[index];
	if (d->type == PVMM_DEV_VIRTIO_PCI) {
		int err = vpci_attach(dev, d, device_id);
		dev->index = index;
		dev->irq = d->irq;
		dev->device_id = device_id;
		if (err)
			return err;
		goto start;
	}
	if (d->type != PVMM_DEV_VIRTIO_MMIO || d->mmio_base == 0 || d->mmio_size < VIRTIO_MMIO_CONFIG)
		return -VIRTIO_ENODEV;
	dev->regs = (volatile uint8_t *)(uintptr_t)d->mmio_base;
	dev->index = index;
	dev->irq = d->irq;
	dev->device_id = device_id;

	if (rd(dev, VIRTIO_MMIO_MAGIC_VALUE) != VIRTIO_MMIO_MAGIC ||
	    rd(dev, VIRTIO_MMIO_VERSION) != VIRTIO_MMIO_VERSION_MODERN ||
	    rd(dev, VIRTIO_MMIO_DEVICE_ID) != device_id)
		return -VIRTIO_ENODEV;

start:
	virtio_reset(dev);
	if (dev->pci)
		vpci_msix_setup(dev, d);
	status_set(dev, VIRTIO_STATUS_ACKNOWLEDGE);
	status_set(dev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	return 0;
}

int virtio_negotiate(struct virtio_dev *dev, uint64_t wanted)
{
	uint64_t offered;
	if (dev->pci) {
		offered = vpci_device_features(dev);
	} else {
		wr(dev, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
		offered = rd(dev, VIRTIO_MMIO_DEVICE_FEATURES);
		wr(dev, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
		offered |= (uint64_t)rd(dev, VIRTIO_MMIO_DEVICE_FEATURES) << 32;
	}

	uint64_t want = wanted | VIRTIO_BIT(VIRTIO_F_VERSION_1);
	if (!(wanted & VIRTIO_NEGOTIATE_EXACT))
		want |= VIRTIO_BIT(VIRTIO_F_EVENT_IDX) | VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC);
	want &= ~VIRTIO_NEGOTIATE_EXACT;
	uint64_t accept = offered & want;
	if (!(accept & VIRTIO_BIT(VIRTIO_F_VERSION_1))) {
		virtio_set_failed(dev);
		return -VIRTIO_EFEATURES;
	}

	if (dev->pci) {
		vpci_driver_features(dev, accept);
	} else {
		wr(dev, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
		wr(dev, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)accept);
		wr(dev, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
		wr(dev, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(accept >> 32));
	}
	uint32_t status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK;
	status_set(dev, status);
	if (!(status_get(dev) & VIRTIO_STATUS_FEATURES_OK)) {
		virtio_set_failed(dev);
		return -VIRTIO_EFEATURES;
	}
	dev->features = accept;
	return 0;
}

void virtio_driver_ok(struct virtio_dev *dev)
{
	status_set(dev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
				VIRTIO_STATUS_DRIVER_OK);
}

/* ---- Queues --------------------------------------------------------------- */

static void write64(struct virtio_dev *dev, unsigned low, uint64_t v)
{
	wr(dev, low, (uint32_t)v);
	wr(dev, low + 4, (uint32_t)(v >> 32));
}

int virtio_queue_init(struct virtio_dev *dev, struct virtqueue *vq, unsigned qindex, unsigned size)
{
	memset(vq, 0, sizeof(*vq));
	uint32_t max;
	if (dev->pci) {
		max = vpci_queue_max(dev, qindex);
	} else {
		wr(dev, VIRTIO_MMIO_QUEUE_SEL, qindex);
		max = rd(dev, VIRTIO_MMIO_QUEUE_NUM_MAX);
	}
	if (max == 0)
		return -VIRTIO_EQUEUE; /* no such queue */
	if (max > 32768)
		max = 32768;
	if (size == 0 || size > max)
		size = max;
	/* Round down to a power of two: the ring arithmetic masks indexes. */
	while (size & (size - 1))
		size &= size - 1;

	/* One allocation: descriptors, then the avail ring, then the used
	 * ring at the next 4-byte boundary, then the driver's per-head
	 * bookkeeping (cookies, chain tails). */
	size_t desc_off = 0;
	size_t avail_off = VIRTQ_DESC_BYTES(size);
	size_t used_off = (avail_off + VIRTQ_AVAIL_BYTES(size) + 3) & ~(size_t)3;
	size_t cookie_off = (used_off + VIRTQ_USED_BYTES(size) + 7) & ~(size_t)7;
	size_t chain_off = cookie_off + sizeof(void *) * size;
	size_t bytes = chain_off + sizeof(uint32_t) * size;
	size_t pages = (bytes + PVMM_PAGE_SIZE - 1) / PVMM_PAGE_SIZE;
	uint8_t *mem = page_alloc(pages);
	if (!mem)
		return -VIRTIO_ENOMEM;
	/* page_alloc does not zero; the rings must start zeroed (indexes,
	 * flags, event fields), and the cookies NULL. */
	memset(mem, 0, bytes);

	vq->mem = mem;
	vq->mem_pages = pages;
	vq->desc = (struct virtq_desc *)(mem + desc_off);
	vq->avail = (struct virtq_avail *)(mem + avail_off);
	vq->used = (struct virtq_used *)(mem + used_off);
	vq->cookie = (void **)(mem + cookie_off);
	vq->chain = (uint32_t *)(mem + chain_off);
	vq->used_event = &vq->avail->ring[size];
	vq->avail_event = (volatile uint16_t *)&vq->used->ring[size];
	vq->notify = (volatile uint32_t *)(dev->regs + VIRTIO_MMIO_QUEUE_NOTIFY);
	vq->size = (uint16_t)size;
	vq->mask = (uint16_t)(size - 1);
	vq->qindex = (uint16_t)qindex;
	vq->event_idx = virtio_has(dev, VIRTIO_F_EVENT_IDX);
	vq->indirect = virtio_has(dev, VIRTIO_F_INDIRECT_DESC);
	/* No signals until a driver asks (virtq_arm): used_event already
	 * passed (EVENT_IDX), or NO_INTERRUPT. */
	*vq->used_event = 0xffff;
	if (!vq->event_idx)
		vq->avail->flags = VIRTQ_AVAIL_F_NO_INTERRUPT;
	/* Free list: every descriptor, in order. */
	for (unsigned i = 0; i + 1 < size; i++)
		vq->desc[i].next = (uint16_t)(i + 1);
	vq->free_head = 0;
	vq->num_free = (uint16_t)size;

	if (dev->pci) {
		vq->notify = vpci_queue_enable(dev, qindex, size, (uint64_t)(uintptr_t)vq->desc,
					       (uint64_t)(uintptr_t)vq->avail, (uint64_t)(uintptr_t)vq->used);
		if (!vq->notify) {
			page_free(mem, pages);
			memset(vq, 0, sizeof(*vq));
			return -VIRTIO_EQUEUE;
		}
		return 0;
	}
	wr(dev, VIRTIO_MMIO_QUEUE_NUM, size);
	write64(dev, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint64_t)(uintptr_t)vq->desc);
	write64(dev, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint64_t)(uintptr_t)vq->avail);
	write64(dev, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint64_t)(uintptr_t)vq->used);
	wr(dev, VIRTIO_MMIO_QUEUE_READY, 1);
	if (rd(dev, VIRTIO_MMIO_QUEUE_READY) != 1) {
		page_free(mem, pages);
		memset(vq, 0, sizeof(*vq));
		return -VIRTIO_EQUEUE;
	}
	return 0;
}

/* ---- Configuration space -------------------------------------------------- */

uint8_t virtio_config_read8(const struct virtio_dev *dev, unsigned offset)
{
	return *(volatile const uint8_t *)(config_base(dev) + offset);
}

uint16_t virtio_config_read16(const struct virtio_dev *dev, unsigned offset)
{
	return *(volatile const uint16_t *)(config_base(dev) + offset);
}

uint32_t virtio_config_read32(const struct virtio_dev *dev, unsigned offset)
{
	return *(volatile const uint32_t *)(config_base(dev) + offset);
}

uint64_t virtio_config_read64(const struct virtio_dev *dev, unsigned offset)
{
	/* Two 32-bit reads are not atomic: retry while the generation moves. */
	for (;;) {
		uint32_t gen = dev->pci ? vpci_generation(dev) : rd(dev, VIRTIO_MMIO_CONFIG_GENERATION);
		uint64_t v = virtio_config_read32(dev, offset);
		v |= (uint64_t)virtio_config_read32(dev, offset + 4) << 32;
		if ((dev->pci ? vpci_generation(dev) : rd(dev, VIRTIO_MMIO_CONFIG_GENERATION)) == gen)
			return v;
	}
}

/* ---- Waiting ---------------------------------------------------------------- */

int virtio_wait(const struct virtio_dev *dev, uint64_t deadline_ns)
{
	stdio_before_wait();
	int64_t r = pvmm_poll(deadline_ns, 1ull << dev->index, NULL);
	if (r < 0)
		return -VIRTIO_EINVAL;
	return r > 0;
}
