/*
 * Snapshot and restore (docs/snapshot.md). A paused VM is written out as
 * a state file (snapshot_format.h: its configuration, then a checked
 * section per part of its state) and a memory file (guest memory, sparse:
 * only pages that were ever touched and are not all zero take disk
 * blocks). A restore checks both files whole before anything runs, builds
 * a new VM from the saved configuration through vm_launch(), puts the
 * memory and then every state back in order, and runs it on.
 */
#ifndef PVMM_SNAPSHOT_H
#define PVMM_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

struct vm;
struct vm_options;
struct snapshot;

#define SNAPSHOT_ERR_MAX 320

/* Write the paused `vm` to `state_path` and `mem_path`. 0, or -1 with one
 * line in err (nothing is left at state_path then). Takes the VM's
 * ctl lock only to check it is paused; the caller keeps it paused. */
int snapshot_create(struct vm *vm, const char *state_path, const char *mem_path, char err[SNAPSHOT_ERR_MAX]);

/* The memory file a state file at `state_path` has by default: the same
 * path with ".mem" appended. Malloc'd. */
char *snapshot_default_mem_path(const char *state_path);

/* Read and check a snapshot (every section's checksum, the version, the
 * host, the memory file's trailer against the state file). NULL with one
 * line in err. */
struct snapshot *snapshot_open(const char *state_path, const char *mem_path, char err[SNAPSHOT_ERR_MAX]);
void snapshot_close(struct snapshot *s);

/* Fill `opt` (vm_options_init'ed, the command's own options kept) with
 * the saved configuration and the device requests; opt->restore = s.
 * 0, or -1 after a message. */
int snapshot_options(struct snapshot *s, struct vm_options *opt);

/* The header's abi_sizes this build writes and reads: a digest of the
 * sizes of the KVM structures saved raw (for tests and the fuzz target). */
uint32_t snapshot_abi_sizes(void);

/* vm_launch()'s restore steps. Memory: after guest_mem_init() and
 * pvmmu_init(), before kvm_create(); the memory file's pages are read in
 * (only its data extents) and checked against its checksum. State: after
 * the devices exist and irq_setup(), instead of cpu_boot(): irqchip,
 * clock, every vCPU (sregs, regs, XSAVE, XCRs, debug registers, LAPIC,
 * MSRs, events, MP state), pvmm's own per-vCPU state, the devices. Both
 * return 0, or -1 after a message. */
int snapshot_restore_memory(struct vm *vm, const struct snapshot *s);
int snapshot_restore_state(struct vm *vm, const struct snapshot *s);
/* The guest time the snapshot was taken at (for vm->mono_base_ns). */
uint64_t snapshot_guest_ns(const struct snapshot *s);

#endif
