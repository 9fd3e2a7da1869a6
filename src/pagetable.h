/*
 * The guest's boot page tables: an identity map of the low 4 GiB (RAM and
 * the device windows above it) in 2 MiB pages, except the first 2 MiB,
 * which uses 4 KiB pages so that page 0 and the stack guard pages can stay
 * unmapped.
 */
#ifndef PVMM_PAGETABLE_H
#define PVMM_PAGETABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "guest_mem.h"

#define PTE_P   (1ull << 0)
#define PTE_RW  (1ull << 1)
#define PTE_US  (1ull << 2)
#define PTE_PS  (1ull << 7)
#define PTE_ADDR_MASK 0x000ffffffffff000ull

/* Write the tables into guest RAM at the layout.h addresses. Returns the
 * guest-physical address for CR3. `user` (ring 3): every level has U set,
 * and the leaves below 1 MiB are user pages only for the boot info, the
 * argument strings and the main stack (layout.h). */
uint64_t pagetable_build(struct guest_mem *mem, bool user);

/* Before any vCPU has run: make the page at `va` read-only in the boot
 * tables themselves (KVM has shadowed nothing yet, so an edit in place is
 * seen). Only the first 2 MiB, the part mapped in 4 KiB pages: false for
 * any other va. */
bool pagetable_protect_boot(struct guest_mem *mem, uint64_t va);

/* Walk the tables the guest currently has in RAM (rooted at `cr3`) and
 * translate `va`. False if unmapped, non-canonical, or a table lies outside
 * RAM (the guest may have rewritten them). */
bool pagetable_translate(const struct guest_mem *mem, uint64_t cr3, uint64_t va, uint64_t *pa);

/* True if a CPL3 write could reach every byte of va .. va + len - 1. */
bool pagetable_user_writable(const struct guest_mem *mem, uint64_t cr3, uint64_t va, size_t len);

/* Copy `len` bytes to guest-virtual `va` as a CPL3 write would: every
 * page must be mapped user and writable at every level. False (nothing
 * said about what was written) if one is not. */
bool pagetable_write_user(struct guest_mem *mem, uint64_t cr3, uint64_t va, const void *src, size_t len);

#endif
