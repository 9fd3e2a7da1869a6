/*
 * One virtual machine: its KVM handles, its RAM, its console, its counters,
 * and why it stopped. Single vCPU; the run loop is in vcpu.c.
 */
#ifndef PVMM_VM_H
#define PVMM_VM_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include <linux/kvm.h>

#include "guest_mem.h"
#include "stats.h"

struct vm {
	int kvm_fd, vm_fd, vcpu_fd;
	struct kvm_run *run;
	size_t run_size;
	struct guest_mem mem;

	/* Para console: guest output to out_fd, input from in_fd. */
	int console_out_fd, console_in_fd;
	bool console_in_eof;

	uint64_t mono_base_ns;   /* host CLOCK_MONOTONIC at VM start = guest 0 */
	uint32_t device_count;   /* entries in the boot info device list */

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
