/*
 * Instructions a CPL0 kernel runs that KVM's instruction emulator cannot
 * (on a host without VT-x/AMD-V it interprets all CPL0 code, and stops
 * with an emulation failure on these), completed by the monitor so the
 * kernel goes on as a CPU would have run it:
 *
 *   int3 (cc)          #BP raised in the guest, rip past the int3: the
 *                      kernel's own handler runs (Linux tests int3 early
 *                      and patches code with it)
 *   iret, iretq (cf, 48 cf)  a return to the same privilege level with
 *                      the same CS and SS: the frame popped (32-bit
 *                      protected mode: eip, cs, eflags; 64-bit mode: rip,
 *                      cs, rflags, rsp, ss). How every exception and
 *                      interrupt handler of a kernel returns.
 *   clac, stac (0f 01 ca/cb)  RFLAGS.AC cleared or set, with SMAP on: the
 *                      first instruction of each of Linux's exception
 *                      entries.
 *   popcnt reg, reg    (f3 [REX] 0f b8, register operands): what the
 *                      kernel's alternatives patch in when CPUID says
 *                      POPCNT (KVM here passes the host's CPUID through).
 *   fwait (9b)         nothing pending to wait for: rip past it (unless
 *                      CR0.TS and MP make it #NM).
 *
 * Anything else (or an iret that changes privilege or segments) is left
 * to the emulation-failure report. With VT-x the CPU runs all of these
 * itself and none of this is reached.
 */
#ifndef PVMM_LINUX_EMULATE_H
#define PVMM_LINUX_EMULATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/kvm.h>

#include "vm.h"

enum linux_emulated { LINUX_EMU_NONE, LINUX_EMU_INT3, LINUX_EMU_IRET, LINUX_EMU_SMAP, LINUX_EMU_POPCNT, LINUX_EMU_FWAIT };

/* Reads `len` bytes of guest-virtual memory at `va`; false if unmapped. */
typedef bool (*linux_read_fn)(void *ctx, uint64_t va, void *out, size_t len);

/* Decide and apply (to `regs`, pure): the instruction `insn` (`n` bytes
 * at regs->rip) under `sregs`. LINUX_EMU_INT3: rip advanced, the caller
 * raises #BP; LINUX_EMU_IRET: the frame popped into `regs`;
 * LINUX_EMU_SMAP: AC changed, LINUX_EMU_POPCNT: the count and flags
 * written, LINUX_EMU_FWAIT: nothing; rip past the instruction;
 * LINUX_EMU_NONE: not one of ours, nothing changed. */
enum linux_emulated linux_emulate(const uint8_t *insn, size_t n, struct kvm_regs *regs,
				  const struct kvm_sregs *sregs, linux_read_fn read, void *ctx);

/* On KVM_EXIT_INTERNAL_ERROR (emulation) of a --kernel guest's vCPU:
 * linux_emulate() on its state, applied with KVM_SET_REGS (and #BP with
 * KVM_SET_VCPU_EVENTS). True if the instruction was completed. */
bool linux_emulate_exit(struct vcpu *v);

#endif
