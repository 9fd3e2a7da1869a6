/*
 * Guest-physical memory layout the monitor builds before the first KVM_RUN.
 * Everything below PVMM_IMAGE_MIN (1 MiB) belongs to the monitor at boot;
 * the ELF loader refuses segments there. The guest sees the parts it needs
 * through struct pvmm_boot_info, never through these constants.
 *
 *   0x00000  page 0: RAM, but left unmapped so NULL dereferences fault
 *   0x01000  GDT (null, code, data, TSS descriptor) and the TSS
 *   0x02000  PML4
 *   0x03000  PDPT
 *   0x04000  4 page directories: identity map of 0..4 GiB in 2 MiB pages
 *   0x08000  page table for the first 2 MiB (4 KiB pages, with holes)
 *   0x09000  struct pvmm_boot_info, then the guest's argument strings
 *   0x0b000  guard page (unmapped)
 *   0x0c000  IST1 exception stack, 16 KiB
 *   0x10000  guard page (unmapped)
 *   0x11000  main stack, 256 KiB, grows down from 0x51000
 *   0x100000 the guest image (PVMM_IMAGE_MIN), then free RAM
 */
#ifndef PVMM_LAYOUT_H
#define PVMM_LAYOUT_H

#include <pvmm/para.h>

#define PAGE_SIZE 0x1000ull
#define HUGE_PAGE_SIZE 0x200000ull

#define LAYOUT_GDT        0x1000ull
#define LAYOUT_TSS        0x1080ull
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
#define LAYOUT_LOW_END    ((uint64_t)PVMM_IMAGE_MIN)

/* RAM limits: whole 2 MiB pages, and below the 3 GiB line so that the top
 * of the 32-bit space stays free for device windows. */
#define MEM_MIN  (4ull << 20)
#define MEM_MAX  (3ull << 30)
#define MEM_DEFAULT (32ull << 20)

#endif
