/*
 * The PV MMU: PVMM_CALL_MMU, a batch of map/unmap/protect operations on
 * the guest's page tables, made by the monitor so that it works at ring 3
 * (where the tables are the monitor's) and on shadow-paging hosts (where
 * KVM does not see the monitor's writes to tables it already shadows).
 *
 * Every change is copy-on-write: the path from the root to each changed
 * entry is copied into fresh pages of the table pool (layout.h), the new
 * root becomes every vCPU's CR3 before the call returns (KVM_SET_SREGS),
 * and a table page, once used, is not written again until the pool's
 * KVM slot has been deleted and re-added, which drops every shadow page.
 * docs/para-api.md has the call; this is the monitor's side.
 */
#ifndef PVMM_PVMMU_H
#define PVMM_PVMMU_H

#include <stdbool.h>
#include <stdint.h>

#include "vm.h"

/* Add the table pool to vm->mem (before kvm_create registers the slots)
 * and start with the boot tables (LAYOUT_PML4) as the live tree, for a
 * guest at vm->ring. defer_slot: the pool gets its KVM slot only with the
 * first batch (a fresh boot; a restored VM may have tables there).
 * 0, or -1 logged. */
int pvmmu_init(struct vm *vm, bool defer_slot);
void pvmmu_free(struct vm *vm);

/* PVMM_CALL_MMU with its block (copied in by hypercall.c): validates
 * every op, then applies all of them or none. Returns `ret`; sets
 * a->failed. -PVMM_ENOSYS without pvmmu_init. */
int64_t pvmmu_call(struct vm *vm, struct pvmm_mmu_args *a);

/* The run loop's side, on the vCPU's own thread. pvmmu_enter() right
 * before KVM_RUN: marks the vCPU as in the guest, waits out a batch under
 * way on another CPU (then returns 1: recheck stop and pause and call it
 * again), and loads the live root as CR3 if it changed since this vCPU
 * last loaded it. 0: go into KVM_RUN; -1: CR3 could not be set (logged,
 * the VM stopped). pvmmu_leave() as soon as KVM_RUN returns. */
int pvmmu_enter(struct vcpu *v);
static inline void pvmmu_leave(struct vcpu *v)
{
	__atomic_store_n(&v->mmu_in_guest, false, __ATOMIC_SEQ_CST);
}

/* CR3 of the live tree (LAYOUT_PML4 until the first change), and its
 * generation (bumped with each new root; a vCPU whose mmu_gen differs
 * loads the root before it next enters the guest). */
uint64_t pvmmu_root(const struct vm *vm);
uint64_t pvmmu_gen(const struct vm *vm);

/* Before any vCPU runs: the image's read-only pages (elf_image.ro: text
 * and rodata) become read-only in the boot tables, as a PROTECT batch of
 * the guest's would make them, so that the guest need not ask (boot info
 * PVMM_BOOT_F_IMAGE_RO). 0, or -1 logged. */
struct elf_image;
int pvmmu_protect_image(struct vm *vm, const struct elf_image *image);

/* Snapshot (snapshot.c): the live root, its generation and the pool's
 * bookkeeping out to `w`, and back from `r` into a VM set up by
 * pvmmu_init() (paused, or not yet running). pvmmu_load: 0, or -1 if
 * the saved state does not fit this build's pool (err says why). */
struct snap_writer;
struct snap_reader;
void pvmmu_save(const struct vm *vm, struct snap_writer *w);
int pvmmu_load(struct vm *vm, struct snap_reader *r, char *err, size_t err_len);

/* How often the pool was recycled (its slot deleted and re-added). */
uint64_t pvmmu_recycles(const struct vm *vm);

#endif
