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
 *
 * MSI-X: at ring 0 the driver finds its function on bus 0 (the one whose
 * BAR 0 is mmio_base) and, if it has an MSI-X capability, points vector 0
 * at CPU 0 with the vector its pin would use (PVMM_IRQ_VECTOR_BASE + irq),
 * maps the configuration and every queue to it and enables MSI-X: the
 * handlers registered for the pin run unchanged, and the interrupt comes
 * straight from the I/O thread's irqfd without the IOAPIC. At ring 3 the
 * configuration ports are closed, so the device keeps INTx.
 */
#include <pvmm/guest.h>
#include <pvmm/io.h>
#include <pvmm/irq.h>
#include <pvmm/virtio.h>
#include "runtime.h"

/* Common configuration offsets (virtio 1.2, 4.1.4.3). */
#define CC_DFSELECT 0x00
#define CC_DF 0x04
#define CC_GFSELECT 0x08
#define CC_GF 0x0c
#define CC_MSIX 0x10
#define CC_Q_MSIX 0x1a
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

/* ---- config space (ring 0 only) ------------------------------------------ */

#define PCI_ADDR 0xcf8
#define PCI_DATA 0xcfc
#define CAP_MSIX 0x11
#define MSIX_ENABLE 0x8000u
#define MSI_ADDR_CPU0 0xfee00000u
#define NO_VECTOR 0xffffu

/* Configuration mechanism #1. Set-up runs on one CPU at a time, so the
 * address/data pair is not raced. */
static uint32_t cfg_rd32(unsigned slot, unsigned off)
{
	outl(PCI_ADDR, 0x80000000u | slot << 11 | (off & 0xfc));
	return inl(PCI_DATA);
}

static void cfg_wr16(unsigned slot, unsigned off, uint16_t v)
{
	outl(PCI_ADDR, 0x80000000u | slot << 11 | (off & 0xfc));
	outw((uint16_t)(PCI_DATA + (off & 2)), v);
}

/* The device number on bus 0 whose BAR 0 is `bar`, or 0 (the host
 * bridge's, never a virtio function's). */
static unsigned find_slot(uint64_t bar)
{
	for (unsigned slot = 1; slot < 32; slot++) {
		if ((cfg_rd32(slot, 0) & 0xffff) != 0x1af4)
			continue;
		if ((cfg_rd32(slot, 0x10) & ~0xfu) == bar)
			return slot;
	}
	return 0;
}

static unsigned find_msix(unsigned slot)
{
	unsigned c = cfg_rd32(slot, 0x34) & 0xfc;
	for (unsigned n = 0; c && n < 48; n++) {
		uint32_t head = cfg_rd32(slot, c);
		if ((head & 0xff) == CAP_MSIX)
			return c;
		c = (head >> 8) & 0xfc;
	}
	return 0;
}

/* After each reset the device maps no vector: map the configuration to
 * vector 0 again (queues are mapped as they are enabled). */
static void msix_map_config(struct virtio_dev *dev)
{
	wr16(dev, CC_MSIX, 0);
	if (rd16(dev, CC_MSIX) != 0)
		dev->msix = false; /* refused: the device falls back to nothing; use the pin */
}

void vpci_msix_setup(struct virtio_dev *dev, const struct pvmm_device_info *d)
{
	dev->msix = false;
	if (pvmm_ring() != 0 || d->irq >= PVMM_IRQ_PINS)
		return;
	unsigned slot = find_slot(d->mmio_base);
	unsigned cap = slot ? find_msix(slot) : 0;
	if (!cap)
		return;
	uint32_t table = cfg_rd32(slot, cap + 4);
	if ((table & 7) != 0 || (table & ~7u) + 16 > d->mmio_size)
		return; /* not in BAR 0 where the driver can reach it */
	volatile uint32_t *entry = (volatile uint32_t *)(dev->regs + (table & ~7u));
	entry[0] = MSI_ADDR_CPU0; /* physical destination APIC 0, as the IOAPIC routes pins */
	entry[1] = 0;
	entry[2] = PVMM_IRQ_VECTOR_BASE + d->irq; /* fixed, edge */
	entry[3] = 0; /* unmasked */
	cfg_wr16(slot, cap + 2, MSIX_ENABLE);
	dev->msix = true;
	msix_map_config(dev);
	if (!dev->msix)
		cfg_wr16(slot, cap + 2, 0);
}

void vpci_after_reset(struct virtio_dev *dev)
{
	if (dev->msix)
		msix_map_config(dev);
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
	if (dev->msix) {
		/* Every queue shares vector 0 (the handler looks at each ring). */
		wr16(dev, CC_Q_MSIX, 0);
		if (rd16(dev, CC_Q_MSIX) == NO_VECTOR)
			return NULL;
	}
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
