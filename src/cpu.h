/* The vCPUs' state at boot: 64-bit long mode, CPU 0 straight at the ELF
 * entry, the others where PVMM_CALL_CPU_START says. */
#ifndef PVMM_CPU_H
#define PVMM_CPU_H

#include <stdint.h>

#include "vm.h"

/* Write the GDT, every CPU's TSS and the page tables into guest RAM (pure
 * memory work, unit-tested). Returns the CR3 value. */
uint64_t cpu_write_tables(struct guest_mem *mem);

/* Where CPU `cpu`'s TSS and IST1 stack top are (layout.h). */
uint64_t cpu_tss_base(unsigned cpu);
uint64_t cpu_ist_top(unsigned cpu);

/* Write the tables and load CPU 0's long-mode registers: rip = entry,
 * rsp = the boot stack, rdi = the boot info. Returns 0, or -1 with a
 * message. */
int cpu_boot(struct vm *vm, uint64_t entry);

/* On a secondary's own thread: its start_rip/rsp/rdi (checked by the
 * CPU_START call) with CPU 0's segments and paging. 0, or -1 logged. */
int cpu_boot_secondary(struct vcpu *v);

#endif
