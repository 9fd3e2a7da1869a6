/*
 * virtio-mmio transport, version 2 (virtio 1.2, section 4.2).
 *
 * Each device gets a 4 KiB register window at VIRTIO_MMIO_BASE + 4 KiB * n
 * and an IOAPIC pin, both listed in the boot info. QueueNotify is an
 * ioeventfd (a kick never leaves the kernel; the I/O thread picks it up);
 * every other register access is a KVM_EXIT_MMIO handled here on the vCPU
 * thread; the interrupt is an irqfd (or, for a polling guest, the
 * device's ready eventfd that PVMM_CALL_POLL waits on).
 */
#ifndef PVMM_VIRTIO_MMIO_H
#define PVMM_VIRTIO_MMIO_H

#include <stdbool.h>
#include <stdint.h>

#include "virtio/virtio.h"

#define VIRTIO_MMIO_BASE 0xd0000000ull
#define VIRTIO_MMIO_WINDOW 0x1000ull
#define VIRTIO_MMIO_MAX_DEVICES 8

struct vm;

/* The vendor ID the devices report: "PVMM" as a little-endian word. */
#define VIRTIO_MMIO_VENDOR 0x4d4d5650u

/* Put `dev` (made by a device file with virtio_dev_new()) on the
 * virtio-mmio transport: a window on the VM's MMIO bus, an IOAPIC pin, an
 * ioeventfd per queue on the device's kick fds, an irqfd, and an entry in
 * the boot info device list. Returns 0, or -1 with a message (the device
 * is then still the caller's to destroy). Call before the VM boots, after
 * kvm_create(). A VM without a KVM fd (vm_fd < 0: unit tests) gets the
 * device without ioeventfds and irqfd: QueueNotify writes then reach the
 * I/O loop through the same eventfds, and an interrupt still sets
 * InterruptStatus and the ready eventfd. */
int virtio_mmio_attach(struct vm *vm, struct virtio_dev *dev);

/* One register access at `offset` in dev's window (what the VM's MMIO
 * bus calls for an access in the window). */
void virtio_mmio_handle(struct virtio_dev *dev, uint64_t offset, uint8_t *data, unsigned len, bool is_write);

#endif
