/*
 * virtio-pci transport, modern only (virtio 1.2, section 4.1).
 *
 * Each device is a function on the VM's PCI bus 0 (pci.c): vendor 0x1af4,
 * device 0x1040 + virtio device ID, revision 1, one 32-bit memory BAR 0 of
 * PVMM_VIRTIO_PCI_BAR_SIZE holding the common configuration, ISR, device
 * configuration and notify regions at the fixed offsets of para.h, which
 * vendor capabilities (cfg_type 1..4, and 5: the PCI configuration access
 * window) also describe. Interrupts are MSI-X (table and PBA in BAR 0 at
 * para.h's offsets; a vector per queue plus one for the config, each an
 * irqfd on a KVM MSI route) once the driver enables it, else INTx on an
 * IOAPIC pin, through an irqfd, edge-triggered like every pvmm device pin. Each
 * queue's notify address is an ioeventfd while the BAR decodes there; a
 * guest that moves the BAR moves them too. A boot info entry of type
 * PVMM_DEV_VIRTIO_PCI lists the BAR and the pin.
 */
#ifndef PVMM_VIRTIO_PCI_H
#define PVMM_VIRTIO_PCI_H

#include <stdbool.h>
#include <stdint.h>

#include "virtio/virtio.h"

#define VIRTIO_PCI_VENDOR 0x1af4
#define VIRTIO_PCI_DEVICE_BASE 0x1040
#define VIRTIO_PCI_MAX_DEVICES 8

struct vm;
struct pci_host;

/* Put `dev` on the virtio-pci transport of `vm` (creating the VM's PCI
 * host bridge with the first device): a function on bus 0, an IOAPIC pin,
 * ioeventfds on the notify addresses, an irqfd, a boot info entry. 0, or
 * -1 with a message (the device is then still the caller's to destroy).
 * As virtio_mmio_attach(), a VM without a KVM fd gets no ioeventfds or
 * irqfd (unit tests, fuzzing). */
int virtio_pci_attach(struct vm *vm, struct virtio_dev *dev);

/* One access at `offset` of dev's BAR 0 (what pci.c calls). */
void virtio_pci_bar_access(struct virtio_dev *dev, uint64_t offset, uint8_t *data, unsigned len, bool is_write);

/* The VM's PCI host, or NULL before the first virtio-pci device. */
struct pci_host *virtio_pci_host(struct vm *vm);

#endif
