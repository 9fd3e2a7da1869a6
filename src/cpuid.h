/*
 * CPUID for guests that read it (a Linux kernel; pvmm's own guests learn
 * their machine from the boot info and get none): what KVM supports
 * (KVM_GET_SUPPORTED_CPUID, the KVM paravirt leaves 0x40000000.. with it),
 * less the features the host cannot run for a CPL0 guest, less what the
 * user masks with --cpuid-mask.
 *
 * On a host without VT-x/AMD-V, KVM interprets guest CPL0 code, and its
 * instruction emulator has no XSAVE, AVX (VEX encodings) or CMPXCHG16B:
 * a kernel that sees those features uses them and stops on an emulation
 * failure. So those are masked there (cpuid_no_hw_virt_masks).
 */
#ifndef PVMM_CPUID_H
#define PVMM_CPUID_H

#include <stdbool.h>
#include <stdint.h>

#include <linux/kvm.h>

#include "vm.h"

enum cpuid_reg { CPUID_EAX, CPUID_EBX, CPUID_ECX, CPUID_EDX };

/* One bit to clear: in leaf `function` (sub-leaf `index`, or every
 * sub-leaf if `any_index`), register `reg`, bit `bit`. */
struct cpuid_mask_bit {
	uint32_t function, index;
	bool any_index;
	enum cpuid_reg reg;
	unsigned bit;
};

#define CPUID_MASK_MAX 32
struct cpuid_mask {
	unsigned count;
	struct cpuid_mask_bit bits[CPUID_MASK_MAX];
};

/* Parse --cpuid-mask's value into `m` (appending): comma-separated items,
 * each LEAF[.SUBLEAF]:REG:BIT (LEAF and SUBLEAF decimal or 0x hex, REG
 * eax|ebx|ecx|edx, BIT 0..31) or a feature name (avx, avx2, avx512f,
 * xsave, cmpxchg16b, x2apic, pdpe1gb, rdrand, rdseed, kvmclock). 0, or -1
 * with a message in `err` (one line). */
int cpuid_parse_mask(const char *text, struct cpuid_mask *m, char *err, size_t err_size);

/* The masks a host without VT-x/AMD-V needs (see above), appended. */
void cpuid_no_hw_virt_masks(struct cpuid_mask *m);

/* Clear every bit of `m` in `entries`; then the fix-ups every VM needs:
 * the hypervisor bit set, and with `xsave` masked the XSAVE leaf 0xd
 * emptied too. Pure; unit-tested. */
void cpuid_apply(struct kvm_cpuid_entry2 *entries, unsigned n, const struct cpuid_mask *m);

/* vCPU `cpu`'s own values: its APIC ID in leaf 1 (EBX 31:24) and its
 * x2APIC ID in leaves 0xb and 0x1f (EDX). */
void cpuid_set_cpu(struct kvm_cpuid_entry2 *entries, unsigned n, unsigned cpu);

/* Read what KVM supports, apply `m` (and, if !hw_virt, the no-VT-x
 * masks) and load it into every vCPU (KVM_SET_CPUID2). 0, or -1 after one
 * line saying what failed. */
int cpuid_setup(struct vm *vm, const struct cpuid_mask *m, bool hw_virt);

#endif
