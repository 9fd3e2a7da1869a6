/*
 * virtio-pci transport, driver side (virtio 1.2, 4.1.5), for the
 * device-independent API of virtio_mmio.c: that file calls these for a
 * device whose boot info entry is PVMM_DEV_VIRTIO_PCI.
 *
 * The device is found from the boot info alone: BAR 0 at mmio_base, laid
 * out as include/pvmm/para.h fixes it (the same offsets its vendor
 * capabilities give), the device ID in the word at PVMM_VIRTIO_PCI_IDENT.
 * No config space access is needed, so this works at ring 3 too, where
 * ports 0xcf8/0xcfc are closed. Like virtio-mmio, every access below is an
 * exit, and only set-up comes here; the data path is memory plus the
 * queue's notify address (an ioeventfd).
 */
#include <pvmm/guest.h>
#include <pvmm/virtio.h>
#include "runtime.h"

/* Common configuration offsets (virtio 1.2, 4.1.4.3). */
#define CC_DFSELECT 0x00
#define CC_DF 0x04
#define CC_GFSELECT 0x08
#define CC_GF 0x0c
#define CC_STATUS 0x14
#define CC_GENERATION 0x15
#define CC_Q_SELECT 0x16
#define CC_Q_SIZE 0x18
#define CC_Q_ENABLE 0x1c
#define CC_Q_NOFF 0x1e
#define CC_Q_DESC 0x20
#define CC_Q_DRIVER 0x28
#define CC_Q_DEVICE 0x30

static inline volatile uint8_t *cc(const struct virtio_dev *dev, unsigned off)
{
	return dev->regs + PVMM_VIRTIO_PCI_COMMON + off;
}

static inline uint32_t rd32(const struct virtio_dev *dev, unsigned off)
{
	return *(volatile const uint32_t *)cc(dev, off);
}

static inline void wr32(const struct virtio_dev *dev, unsigned off, uint32_t v)
{
	*(volatile uint32_t *)cc(dev, off) = v;
}

static inline uint16_t rd16(const struct virtio_dev *dev, unsigned off)
{
	return *(volatile const uint16_t *)cc(dev, off);
}

static inline void wr16(const struct virtio_dev *dev, unsigned off, uint16_t v)
{
	*(volatile uint16_t *)cc(dev, off) = v;
}

uint32_t vpci_device_id(const struct pvmm_device_info *d)
{
	if (d->mmio_base == 0 || d->mmio_size < PVMM_VIRTIO_PCI_BAR_SIZE)
		return 0;
	return *(volatile const uint32_t *)(uintptr_t)(d->mmio_base + PVMM_VIRTIO_PCI_IDENT);
}

int vpci_attach(struct virtio_dev *dev, const struct pvmm_device_info *d, uint32_t device_id)
{
	if (d->mmio_base == 0 || d->mmio_size < PVMM_VIRTIO_PCI_BAR_SIZE)
		return -VIRTIO_ENODEV;
	dev->regs = (volatile uint8_t *)(uintptr_t)d->mmio_base;
	dev->pci = true;
	if (vpci_device_id(d) != device_id)
		return -VIRTIO_ENODEV;
	return 0;
}

uint32_t vpci_status(const struct virtio_dev *dev)
{
	return *cc(dev, CC_STATUS);
}

void vpci_set_status(const struct virtio_dev *dev, uint32_t status)
{
	*cc(dev, CC_STATUS) = (uint8_t)status;
}

uint64_t vpci_device_features(const struct virtio_dev *dev)
{
	wr32(dev, CC_DFSELECT, 0);
	uint64_t f = rd32(dev, CC_DF);
	wr32(dev, CC_DFSELECT, 1);
	return f | (uint64_t)rd32(dev, CC_DF) << 32;
}

void vpci_driver_features(const struct virtio_dev *dev, uint64_t features)
{
	wr32(dev, CC_GFSELECT, 0);
	wr32(dev, CC_GF, (uint32_t)features);
	wr32(dev, CC_GFSELECT, 1);
	wr32(dev, CC_GF, (uint32_t)(features >> 32));
}

uint32_t vpci_queue_max(const struct virtio_dev *dev, unsigned q)
{
	wr16(dev, CC_Q_SELECT, (uint16_t)q);
	return rd16(dev, CC_Q_SIZE); /* 0: no such queue */
}

static void wr64(const struct virtio_dev *dev, unsigned off, uint64_t v)
{
	wr32(dev, off, (uint32_t)v);
	wr32(dev, off + 4, (uint32_t)(v >> 32));
}

volatile uint32_t *vpci_queue_enable(const struct virtio_dev *dev, unsigned q, unsigned size, uint64_t desc,
				     uint64_t driver, uint64_t device)
{
	/* queue_select is still q from vpci_queue_max(). */
	(void)q;
	wr16(dev, CC_Q_SIZE, (uint16_t)size);
	wr64(dev, CC_Q_DESC, desc);
	wr64(dev, CC_Q_DRIVER, driver);
	wr64(dev, CC_Q_DEVICE, device);
	uint16_t noff = rd16(dev, CC_Q_NOFF);
	wr16(dev, CC_Q_ENABLE, 1);
	if (rd16(dev, CC_Q_ENABLE) != 1)
		return NULL;
	return (volatile uint32_t *)(dev->regs + PVMM_VIRTIO_PCI_NOTIFY + noff * PVMM_VIRTIO_PCI_NOTIFY_MULT);
}

volatile uint8_t *vpci_config(const struct virtio_dev *dev)
{
	return dev->regs + PVMM_VIRTIO_PCI_DEVICE;
}

uint32_t vpci_generation(const struct virtio_dev *dev)
{
	return *cc(dev, CC_GENERATION);
}
