/*
 * What the vCPU threads and the CPU_START call use of vmctl.c; the public
 * stop/pause API is in vm.h.
 */
#ifndef PVMM_VMCTL_H
#define PVMM_VMCTL_H

#include <stdbool.h>
#include <stdint.h>

#include "vm.h"

/* A vCPU thread counts itself in and out (vm_pause waits for all). */
void vmctl_thread_enter(struct vm *vm);
void vmctl_thread_leave(struct vm *vm);

/* Park the calling vCPU thread while a pause is under way. */
void vmctl_park(struct vm *vm);

/* A secondary's thread: wait (counted as parked) until CPU_START and no
 * pause. False if the VM stopped first. */
bool vmctl_wait_start(struct vcpu *v);

/* CPU_START, already validated: record the registers and wake `cpu`'s
 * thread. -1 if it was started already. */
int vmctl_request_start(struct vm *vm, unsigned cpu, uint64_t rip, uint64_t rsp, uint64_t rdi);

#endif
