/*
 * Guest-physical memory layout the monitor builds before the first KVM_RUN.
 * Everything below PVMM_IMAGE_MIN (1 MiB) belongs to the monitor at boot;
 * the ELF loader refuses segments there. The guest sees the parts it needs
 * through struct pvmm_boot_info, never through these constants.
 *
 *   0x00000  page 0: RAM, but left unmapped so NULL dereferences fault
 *   0x01000  GDT: null, code, data, one TSS descriptor (two slots) per
 *            CPU, 64 CPUs, then ring 3's user data and code: 0x428 bytes
 *   0x01800  CPU 0's TSS (with ring 3: and its I/O permission bitmap)
 *   0x02000  PML4
 *   0x03000  PDPT
 *   0x04000  4 page directories: identity map of 0..4 GiB in 2 MiB pages
 *   0x08000  page table for the first 2 MiB (4 KiB pages, with holes)
 *   0x09000  struct pvmm_boot_info, then the guest's argument strings
 *   0x0b000  guard page (unmapped)
 *   0x0c000  IST1 exception stack, 16 KiB
 *   0x10000  guard page (unmapped)
 *   0x11000  main stack, 256 KiB, grows down from 0x51000
 *   0x51000  TSSes of CPUs 1..63, 320 bytes apart (room for a TSS and
 *            its I/O bitmap), up to 0x55ec0; written only for the VM's
 *            CPUs (--cpus), so a one-CPU VM never touches these pages
 *   0x56000  IST1 stacks of CPUs 1..63, 8 KiB each, no guard pages (the
 *            first 2 MiB's page table has room for holes, but an IST
 *            stack only runs a fault report): CPU n's top is
 *            0x56000 + n * 0x2000, the last ends at 0xd4000
 *   0xd6000  ring 3 only: the monitor's IDT (vectors 0..31)
 *   0xd7000  ring 3 only: the monitor's exception stubs (trap_stubs.c)
 *   0xd8000  the PV clock page (struct pvmm_clock_page, pvclock.c): the
 *            monitor writes it, the guest only reads it (a user page,
 *            read-only, at ring 3)
 *   0xd9000  free below 1 MiB (the monitor's; not given to the guest)
 *   0x100000 the guest image (PVMM_IMAGE_MIN), then free RAM
 *
 * Above RAM, at 4 GiB (outside the guest's identity map, so no virtual
 * address reaches it unless the monitor puts it in a table):
 *   0x100000000  the PV MMU's page-table pool (pvmmu.c), 16 MiB, its own
 *            memory region and KVM slot, monitor-private. Every table the
 *            PVMM_CALL_MMU call builds is a page of it; deleting and
 *            re-adding its slot is how the monitor makes KVM drop every
 *            shadow page before pages are reused. 4096 pages hold the
 *            largest live tree (VA 0..3 GiB all in 4 KiB pages: 1536 page
 *            tables + 3 directories + PDPT + PML4) twice over, so a batch
 *            always fits after a recycle.
 *
 * Ring 3 (--ring 3): every page above except the boot info and argument
 * strings (0x9000..0xb000) and the main stack is supervisor-only; the
 * image and all RAM and device windows above 1 MiB are user pages.
 */
#ifndef PVMM_LAYOUT_H
#define PVMM_LAYOUT_H

#include <pvmm/para.h>

#include "guest_mem.h"

#define PAGE_SIZE 0x1000ull
#define HUGE_PAGE_SIZE 0x200000ull

#define LAYOUT_MAX_CPUS   64
#define LAYOUT_GDT        0x1000ull
#define LAYOUT_GDT_ENTRIES (3 + 2 * LAYOUT_MAX_CPUS + 2) /* + ring 3's user data and code */
#define LAYOUT_TSS        0x1800ull /* CPU 0's */
#define LAYOUT_PML4       0x2000ull
#define LAYOUT_PDPT       0x3000ull
#define LAYOUT_PD         0x4000ull /* 4 consecutive pages */
#define LAYOUT_PD_COUNT   4
#define LAYOUT_PT0        0x8000ull
#define LAYOUT_BOOT_INFO  0x9000ull
#define LAYOUT_ARGS       0x9800ull
#define LAYOUT_ARGS_END   0xb000ull
#define LAYOUT_IST_GUARD  0xb000ull
#define LAYOUT_IST_TOP    0x10000ull
#define LAYOUT_STACK_GUARD 0x10000ull
#define LAYOUT_STACK_TOP  0x51000ull
#define LAYOUT_STACK_SIZE (LAYOUT_STACK_TOP - LAYOUT_STACK_GUARD - PAGE_SIZE)
#define LAYOUT_AP_TSS     0x51000ull /* CPU n >= 1: LAYOUT_AP_TSS + (n - 1) * LAYOUT_TSS_STRIDE */
#define LAYOUT_TSS_STRIDE 320ull
#define LAYOUT_AP_IST     0x56000ull /* CPU n >= 1: top at LAYOUT_AP_IST + n * LAYOUT_AP_IST_SIZE */
#define LAYOUT_AP_IST_SIZE 0x2000ull
#define LAYOUT_AP_END     (LAYOUT_AP_IST + LAYOUT_MAX_CPUS * LAYOUT_AP_IST_SIZE)
#define LAYOUT_IDT        0xd6000ull /* ring 3: the monitor's IDT */
#define LAYOUT_TRAP_STUBS 0xd7000ull /* ring 3: its exception stubs, one page */
#define LAYOUT_CLOCK_PAGE 0xd8000ull /* boot info clock_page; user-readable at ring 3 */
#define LAYOUT_LOW_END    ((uint64_t)PVMM_IMAGE_MIN)
#define LAYOUT_MMU_POOL   0x100000000ull
#define LAYOUT_MMU_POOL_SIZE (16ull << 20)

_Static_assert(LAYOUT_GDT + LAYOUT_GDT_ENTRIES * 8 <= LAYOUT_TSS, "the GDT runs into CPU 0's TSS");
_Static_assert(LAYOUT_AP_TSS + (LAYOUT_MAX_CPUS - 1) * LAYOUT_TSS_STRIDE <= LAYOUT_AP_IST,
	       "the secondary TSSes run into their IST stacks");
_Static_assert(LAYOUT_AP_END <= LAYOUT_IDT, "the IST stacks run into the ring-3 IDT");
_Static_assert(LAYOUT_TRAP_STUBS + PAGE_SIZE <= LAYOUT_CLOCK_PAGE, "the exception stubs run into the clock page");
_Static_assert(LAYOUT_CLOCK_PAGE + PAGE_SIZE <= LAYOUT_LOW_END, "the clock page runs into the guest image");
_Static_assert((PVMM_SEL_USER_DATA & ~7) == LAYOUT_GDT_ENTRIES * 8 - 16 &&
	       (PVMM_SEL_USER_CODE & ~7) == LAYOUT_GDT_ENTRIES * 8 - 8, "ring 3's selectors are the last two GDT slots");
_Static_assert(LAYOUT_MAX_CPUS == PVMM_MAX_CPUS, "one TSS per CPU the para-API allows");

/* RAM limits: whole 2 MiB pages, and below the 3 GiB line so that the top
 * of the 32-bit space stays free for device windows. */
#define MEM_MIN  (4ull << 20)
#define MEM_MAX  (3ull << 30)
#define MEM_DEFAULT (32ull << 20)

/* Mark what the monitor owns below 1 MiB private in `mem`
 * (guest_mem_set_private), for a guest at CPL `ring`: everything above
 * but the boot info and argument strings (0x9000..0xb000) and the main
 * stack, and at ring 0 also the IST1 stacks (the guest's exception
 * handlers run on them). No guest-supplied buffer may then point there.
 * Returns 0 (or -1 on a layout bug). */
int layout_mark_private(struct guest_mem *mem, unsigned ring);

#endif
