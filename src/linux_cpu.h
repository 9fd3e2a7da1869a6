/*
 * The boot CPU's state for a Linux kernel (linux_boot.c loaded it), at
 * CPL0: the kernel is not para-API aware, so pvmm's ring-3 machinery (its
 * IDT, stubs and I/O bitmap) does not apply.
 *
 *   bzImage (LINUX_ENTRY_64): long mode, paging on with an identity map of
 *     the first 4 GiB in 2 MiB pages, flat 64-bit code at selector 0x10,
 *     data at 0x18, rsi = the zero page, rip = code32_start + 0x200.
 *   PVH (LINUX_ENTRY_PVH): 32-bit protected mode, paging off, flat 32-bit
 *     code at 0x10, data at 0x18, ebx = the hvm_start_info, rip = the
 *     PHYS32_ENTRY note's address.
 * Both: interrupts off, a 32-bit busy TSS (base 0, limit 0x67) in TR as
 * the PVH ABI asks, no IDT.
 *
 * Guest-physical, below the kernel's RAM at 1 MiB (linux_boot.h has the rest):
 *   0x01000  GDT: null, null, code (0x10), data (0x18), TSS (0x20)
 *   0x02000  PML4, 0x03000 PDPT
 *   0x08000  four page directories (0..4 GiB), up to 0x0c000
 */
#ifndef PVMM_LINUX_CPU_H
#define PVMM_LINUX_CPU_H

#include <linux/kvm.h>

#include "guest_mem.h"
#include "linux_boot.h"
#include "vm.h"

#define LINUX_GDT 0x1000ull
#define LINUX_PML4 0x2000ull
#define LINUX_PDPT 0x3000ull
#define LINUX_PD 0x8000ull /* 4 pages */
#define LINUX_SEL_CODE 0x10
#define LINUX_SEL_DATA 0x18
#define LINUX_SEL_TSS 0x20
#define LINUX_STACK_TOP 0x1f000ull /* below the command line; the kernel sets its own at once */

/* Write the GDT (and for a 64-bit entry the page tables) into `mem`.
 * 0, or -1 if RAM does not hold them. */
int linux_cpu_write_tables(struct guest_mem *mem, const struct linux_boot *boot);

/* The boot registers for `boot`, over `sregs` as KVM_GET_SREGS gave them. */
void linux_cpu_state(const struct linux_boot *boot, struct kvm_sregs *sregs, struct kvm_regs *regs);

/* Both, loaded into vCPU 0. 0, or -1 after a message. */
int linux_cpu_boot(struct vm *vm, const struct linux_boot *boot);

#endif
