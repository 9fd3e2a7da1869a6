/*
 * The devices a VM is built with: the command line's requests, checked by
 * each device type's parser, then created and put on their transports
 * (virtio-mmio for virtio devices, the port bus for emulated ones).
 */
#ifndef PVMM_MACHINE_H
#define PVMM_MACHINE_H

#include <stdbool.h>

#include "devices/device.h"
#include "vm.h"

#define MACHINE_MAX_DEVICES (PVMM_MAX_DEVICES - 1) /* boot info entry 0 is the para console */

struct device_request {
	const struct device_type *type;
	const char *arg;        /* the option's value, or NULL */
};

struct machine_devices {
	struct device_request req[MACHINE_MAX_DEVICES];
	unsigned count;
	bool pci;       /* --transport pci: virtio devices on virtio-pci */
};

/* Ask for a device; checks the type's own limit and its parser. Returns
 * 0, or -1 after one line saying what is wrong. */
int machine_request(struct machine_devices *m, const struct device_type *type, const char *arg);

/* Whether the VM needs the in-kernel irqchip (before kvm_create()) and an
 * I/O thread. */
bool machine_needs_irqchip(const struct machine_devices *m);
bool machine_needs_iothread(const struct machine_devices *m);

/* Create every requested device in order, after kvm_create(): virtio
 * devices on virtio-mmio (or virtio-pci with m->pci), emulated ones on the port bus. `in_fd` and
 * `out_fd` are the console's. Returns 0, or -1 after a message. */
int machine_create(struct vm *vm, const struct machine_devices *m, int in_fd, int out_fd);

/* After the I/O thread has stopped: free every device, then the thread. */
void machine_destroy(struct vm *vm);

#endif
