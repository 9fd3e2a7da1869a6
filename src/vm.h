/*
 * One virtual machine: its KVM handles, its RAM, its console, its devices,
 * its counters, and why it stopped. Single vCPU; the run loop is in vcpu.c.
 */
#ifndef PVMM_VM_H
#define PVMM_VM_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include <linux/kvm.h>

#include <pvmm/para.h>

#include "guest_mem.h"
#include "mmio_bus.h"
#include "pio.h"
#include "stats.h"

struct emulated;
struct iothread;
struct virtio_dev;

/* Interrupt controller state (irq.c). */
struct vm_irq {
	bool wanted;            /* the VM has interrupting devices: kvm_create() makes the irqchip */
	bool chip;              /* KVM_CREATE_IRQCHIP done */
	uint32_t pins;          /* bit p: IOAPIC pin p handed to a device */
};

struct vm {
	int kvm_fd, vm_fd, vcpu_fd;
	struct kvm_run *run;
	size_t run_size;
	struct guest_mem mem;

	/* Para console: guest output to out_fd, input from in_fd. */
	int console_out_fd, console_in_fd;
	bool console_in_eof;

	uint64_t mono_base_ns;   /* host CLOCK_MONOTONIC at VM start = guest 0 */

	/* The boot info device list; index i is bit i of PVMM_CALL_POLL.
	 * Entry 0 is always the para console. ready_fd[i] is an eventfd the
	 * device writes whenever it interrupts (-1: none; only entries of
	 * type PVMM_DEV_VIRTIO_MMIO have one); POLL waits on and consumes it. */
	uint32_t device_count;
	struct pvmm_device_info devices[PVMM_MAX_DEVICES];
	int ready_fd[PVMM_MAX_DEVICES];

	/* Virtio devices in creation order (virtio-mmio slot n = virtio[n]). */
	struct virtio_dev *virtio[PVMM_MAX_DEVICES];
	unsigned virtio_count;
	struct iothread *iothread;  /* created with the first device; NULL without */
	struct emulated *emulated;  /* UART and IDE (emulated.c); NULL without */
	struct vm_irq irq;

	/* Where the run loop sends KVM_EXIT_IO and KVM_EXIT_MMIO. Filled
	 * before the vCPU runs, then only read. */
	struct pio_bus pio;
	struct mmio_bus mmio;

	struct vm_stats stats;

	/* Set when the VM must stop; `status` is the process exit status. */
	bool stopped;
	int status;
};

/* Stop the VM with `status` (the first stop wins). */
static inline void vm_stop(struct vm *vm, int status)
{
	if (!vm->stopped) {
		vm->stopped = true;
		vm->status = status;
	}
}

#endif
