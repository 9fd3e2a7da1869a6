/*
 * Ring 3: device interrupts delivered as upcalls (para-API 1.4,
 * PVMM_CALL_UPCALL). The monitor's interrupt stubs (trap_stubs.c) end each
 * interrupt and report it on the trap port; this file then either records
 * it in the CPU's pending bits (the guest's virtual interrupt flag
 * `masked` is set) or rewrites the stub's return frame so that its iretq
 * enters the guest's upcall entry at CPL3 on the interrupted stack.
 */
#ifndef PVMM_UPCALL_H
#define PVMM_UPCALL_H

#include <stdint.h>

#include <pvmm/para.h>

#include "trap_stubs.h"
#include "vm.h"

/* PVMM_CALL_UPCALL's checks of an entry and info address, the info block
 * under page tables `cr3`: 0 or -PVMM_E*. The call applies them, and a
 * restore to the upcall state a snapshot file claims. */
int64_t upcall_check(struct vm *vm, uint64_t cr3, uint64_t entry, uint64_t info);

/* PVMM_CALL_UPCALL for the calling vCPU: -PVMM_E* or 0. On success the
 * vCPU's RFLAGS.IF is set (cleared again for entry 0). */
int64_t upcall_register(struct vm *vm, struct vcpu *self, const struct pvmm_upcall_args *a);

/* An interrupt on `pin` reported by the stubs, with their frame read from
 * the IST stack (trap_stubs.h). Returns true if `frame` was rewritten and
 * must be stored back, false if it stays as it was (held as pending, or
 * the VM was stopped with a report). */
bool upcall_deliver(struct vm *vm, struct vcpu *self, uint64_t cr3, unsigned pin, uint64_t frame[TRAP_FRAME_SLOTS]);

#endif
