/* The vCPUs' state at boot: 64-bit long mode, CPU 0 straight at the ELF
 * entry, the others where PVMM_CALL_CPU_START says. */
#ifndef PVMM_CPU_H
#define PVMM_CPU_H

#include <stdint.h>

#include "vm.h"

/* Ring 3's I/O bitmap covers the ports below this; the rest stay closed. */
#define CPU_IOMAP_PORTS 0x600u
#define CPU_MAX_OPEN_PORTS 128 /* para-API 32, UART 8, IDE 9, NE2000 32 */

/* What the boot tables are built for. */
struct cpu_config {
	unsigned ring;        /* the guest's CPL: 0 or 3 */
	unsigned cpus;        /* TSSes for CPUs 0..cpus-1 only (0: all LAYOUT_MAX_CPUS) */
	unsigned port_count;  /* ring 3: the ports CPL3 may use (in/out) */
	uint16_t ports[CPU_MAX_OPEN_PORTS];
};

/* Write the GDT, each CPU's TSS and the page tables into guest RAM (pure
 * memory work, unit-tested); with ring 3 also the user segments, each
 * TSS's RSP0 and I/O bitmap, and the monitor's IDT and exception stubs
 * (trap_stubs.c). Returns the CR3 value. cpu_write_tables: ring 0. */
uint64_t cpu_write_tables_for(struct guest_mem *mem, const struct cpu_config *cfg);
uint64_t cpu_write_tables(struct guest_mem *mem);

/* Where CPU `cpu`'s TSS and IST1 stack top are (layout.h). */
uint64_t cpu_tss_base(unsigned cpu);
uint64_t cpu_ist_top(unsigned cpu);

/* Write the tables for vm->ring, with the image's read-only pages
 * read-only (pvmmu_protect_image), and load CPU 0's long-mode registers:
 * rip = image->entry, rsp = the boot stack, rdi = the boot info, at CPL vm->ring
 * (ring 3: the I/O bitmap opens the ports on vm->pio but the trap port,
 * so call it after every device is on the port bus). Returns 0, or -1
 * with a message. */
struct elf_image;
int cpu_boot(struct vm *vm, const struct elf_image *image);

/* On a secondary's own thread: its start_rip/rsp/rdi (checked by the
 * CPU_START call) with CPU 0's segments and paging. 0, or -1 logged. */
int cpu_boot_secondary(struct vcpu *v);

#endif
