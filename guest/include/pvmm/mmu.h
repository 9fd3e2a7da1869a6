/*
 * The PV MMU (para-API call PVMM_CALL_MMU): change the guest's page tables
 * through the monitor, which owns them at ring 3 and makes every CPU see
 * the change before the call returns. 4 KiB pages, virtual addresses in
 * PVMM_MMU_VA_MIN .. PVMM_MMU_VA_END (<pvmm/para.h>). Everything else
 * stays identity-mapped as the monitor booted the guest.
 *
 * Each function returns 0 or -PVMM_E*; a failed call changed nothing.
 * At start-up the runtime makes its text and read-only data read-only
 * this way, and puts an unmapped guard page under each secondary CPU's
 * stack (<pvmm/smp.h>).
 */
#ifndef PVMM_MMU_H
#define PVMM_MMU_H

#include <stddef.h>
#include <stdint.h>
#include <pvmm/para.h>

#define PVMM_MMU_RO 0u /* flags: read-only */
#define PVMM_MMU_RW PVMM_MMU_WRITE

/* Map `pages` pages at virtual `va` to guest-physical `pa` onwards. */
int pvmm_mmu_map(uint64_t va, uint64_t pa, size_t pages, unsigned flags);
/* Unmap them (already unmapped pages are fine). */
int pvmm_mmu_unmap(uint64_t va, size_t pages);
/* Make mapped pages read-only (PVMM_MMU_RO) or writable (PVMM_MMU_RW). */
int pvmm_mmu_protect(uint64_t va, size_t pages, unsigned flags);

/* The raw batch: `count` ops (1..PVMM_MMU_OPS_MAX) in one call, applied
 * all or none. Returns count, or -PVMM_E* with *failed (if not NULL) the
 * index of the op the monitor refused. */
int64_t pvmm_mmu_batch(const struct pvmm_mmu_op *ops, unsigned count, uint64_t *failed);

#endif
