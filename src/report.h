/* Reports of guest failures: what stopped, where, and the CPU state. */
#ifndef PVMM_REPORT_H
#define PVMM_REPORT_H

#include <pvmm/para.h>

#include "vm.h"

const char *report_vector_name(uint64_t vector);

/* "unhandled exception #PF (page fault)": what the guest runtime says for
 * an exception it did not handle, for the monitor's own ring-3 reports. */
const char *report_exception_message(uint64_t vector);

/* A fault the guest's own handler described (PVMM_ABORT_FAULT). */
void report_fault(const struct pvmm_fault *fault);

/* A vCPU's registers as KVM holds them, and the bytes at rip. */
void report_cpu_state(struct vcpu *v);

/* Up to `max` bytes of guest code at `rip` (virtual, through the page
 * tables in `s`; physical with paging off) into `out`: how many. */
struct kvm_sregs;
size_t report_code_bytes(struct vm *vm, const struct kvm_sregs *s, uint64_t rip, uint8_t *out, size_t max);

/* "at rip 0x... (bytes 0f 0b ...)" for vCPU `v`, for one-line reports. */
void report_insn_summary(struct vcpu *v, char *buf, size_t size);

/* KVM_EXIT_INTERNAL_ERROR on vCPU `v`: emulation failure and friends. */
void report_internal_error(struct vcpu *v);

#endif
