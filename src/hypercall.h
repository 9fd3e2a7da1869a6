/*
 * The monitor's side of the para-API (include/pvmm/para.h): validates a
 * call's argument block and serves it. No KVM in here, so unit tests drive
 * it with plain memory and pipes.
 */
#ifndef PVMM_HYPERCALL_H
#define PVMM_HYPERCALL_H

#include <stdint.h>

#include "vm.h"

/* Serve call number `call` (< PVMM_PORT_COUNT) with its argument block at
 * guest-physical `gpa`. Writes the result into the block; stops the VM
 * (vm_stop) for EXIT, ABORT, and blocks it cannot write a result into. */
void hypercall_handle(struct vm *vm, unsigned call, uint64_t gpa);

/* Put the para-API ports on the VM's port bus. Returns 0 or -1. */
int hypercall_attach(struct vm *vm);

/* Guest monotonic time in ns (the para-API's PVMM_CLOCK_MONOTONIC). */
uint64_t hypercall_guest_now(const struct vm *vm);

#endif
