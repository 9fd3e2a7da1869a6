/* Opening /dev/kvm and creating the VM, its RAM slot and its vCPU. */
#ifndef PVMM_KVM_H
#define PVMM_KVM_H

#include "vm.h"

/* Default device node; the PVMM_KVM_DEVICE environment variable overrides
 * it (for tests of the error paths, and for unusual hosts). */
#define KVM_DEVICE_DEFAULT "/dev/kvm"

/* Create the VM and its vm->cpu_count vCPUs (0 counts as 1) around the
 * RAM already in vm->mem. Prints a one-line explanation and returns
 * non-zero on failure. */
int kvm_create(struct vm *vm);
void kvm_destroy(struct vm *vm);

/* Fill each vCPU's stats.kvm from its binary stats (left invalid if the
 * kernel has none) and sum them into vm->stats. For --stats only: not on
 * the start-up path; after the vCPU threads are joined. */
void kvm_read_counters(struct vm *vm);

#endif
