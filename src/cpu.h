/* The vCPU's state at boot: 64-bit long mode, straight at the ELF entry. */
#ifndef PVMM_CPU_H
#define PVMM_CPU_H

#include <stdint.h>

#include "vm.h"

/* Write the GDT, TSS and page tables into guest RAM (pure memory work,
 * unit-tested). Returns the CR3 value. */
uint64_t cpu_write_tables(struct guest_mem *mem);

/* Load long-mode registers into the vCPU: rip = entry, rsp = the boot
 * stack, rdi = the boot info. Returns 0, or -1 with a message. */
int cpu_boot(struct vm *vm, uint64_t entry);

#endif
