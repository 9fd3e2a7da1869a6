#include "linux_emulate.h"

#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include "log.h"
#include "pagetable.h"
#include "report.h"

#define RFLAGS_FIXED 0x2ull
/* What iret may set: CF PF AF ZF SF TF IF DF OF, IOPL, NT, RF, AC, ID. VM
 * and VIF/VIP stay clear (no virtual-8086 mode here). */
#define RFLAGS_IRET_MASK 0x254fd5ull

static enum linux_emulated iret(bool rex_w, struct kvm_regs *regs, const struct kvm_sregs *sregs,
				linux_read_fn read, void *ctx)
{
	bool long_mode = sregs->cs.l;
	unsigned size = long_mode && rex_w ? 8 : 4;
	unsigned slots = long_mode ? 5 : 3;
	uint64_t v[5] = { 0 };

	/* Protected or long mode only (real-mode iret KVM does itself), at CPL0. */
	if (!(sregs->cr0 & 1) || sregs->cs.dpl != 0 || (!long_mode && !sregs->cs.db))
		return LINUX_EMU_NONE;
	uint64_t sp = long_mode ? regs->rsp : (uint32_t)regs->rsp;
	for (unsigned i = 0; i < slots; i++)
		if (!read(ctx, sp + i * size, &v[i], size))
			return LINUX_EMU_NONE;
	uint16_t cs = (uint16_t)v[1];
	/* Same privilege, same code segment: no descriptor to load. */
	if ((cs & 3) != 0 || cs != sregs->cs.selector)
		return LINUX_EMU_NONE;
	if (long_mode && (uint16_t)v[4] != sregs->ss.selector)
		return LINUX_EMU_NONE;
	if (long_mode && !rex_w && (v[0] >> 32)) /* 32-bit iret in long mode: a 32-bit rip */
		return LINUX_EMU_NONE;
	/* A non-canonical rip or rsp would be the CPU's #GP: not ours to
	 * complete (reported as the emulation stop it is). */
	if (long_mode && ((uint64_t)((int64_t)(v[0] << 16) >> 16) != v[0] ||
			  (uint64_t)((int64_t)(v[3] << 16) >> 16) != v[3]))
		return LINUX_EMU_NONE;
	regs->rip = v[0];
	regs->rflags = (v[2] & RFLAGS_IRET_MASK) | RFLAGS_FIXED;
	if (long_mode)
		regs->rsp = v[3];
	else
		regs->rsp = (uint32_t)(sp + 3 * size);
	return LINUX_EMU_IRET;
}

#define RFLAGS_AC (1ull << 18)
#define RFLAGS_ARITH 0x8d5ull /* OF SF ZF AF PF CF */
#define RFLAGS_ZF (1ull << 6)

/* A general register by its encoding (0 rax, 1 rcx, ... 15 r15). */
static __u64 *gpr(struct kvm_regs *r, unsigned n)
{
	__u64 *const map[16] = { &r->rax, &r->rcx, &r->rdx, &r->rbx, &r->rsp, &r->rbp, &r->rsi, &r->rdi,
				    &r->r8,  &r->r9,  &r->r10, &r->r11, &r->r12, &r->r13, &r->r14, &r->r15 };
	return map[n & 15];
}

/* popcnt reg, reg (f3 [REX] 0f b8 /r, register operands only): the
 * alternatives of a kernel that saw POPCNT in CPUID. */
static enum linux_emulated popcnt(const uint8_t *insn, size_t n, struct kvm_regs *regs,
				  const struct kvm_sregs *sregs)
{
	size_t i = 0;
	bool f3 = false, o16 = false;
	unsigned rex = 0;
	for (; i < n && i < 4 && (insn[i] == 0xf3 || insn[i] == 0x66); i++) {
		f3 |= insn[i] == 0xf3;
		o16 |= insn[i] == 0x66;
	}
	if (!f3)
		return LINUX_EMU_NONE;
	if (i < n && sregs->cs.l && (insn[i] & 0xf0) == 0x40)
		rex = insn[i++];
	if (i + 3 > n || insn[i] != 0x0f || insn[i + 1] != 0xb8 || (insn[i + 2] >> 6) != 3)
		return LINUX_EMU_NONE;
	uint8_t modrm = insn[i + 2];
	unsigned dst = ((modrm >> 3) & 7) | ((rex & 4) << 1), src = (modrm & 7) | ((rex & 1) << 3);
	unsigned bits = rex & 8 ? 64 : o16 ? 16 : 32;
	uint64_t v = *gpr(regs, src);
	if (bits < 64)
		v &= (1ull << bits) - 1;
	uint64_t count = (uint64_t)__builtin_popcountll(v);
	__u64 *d = gpr(regs, dst);
	*d = bits == 16 ? (*d & ~0xffffull) | count : count; /* a 32-bit write clears the top half */
	regs->rflags = (regs->rflags & ~RFLAGS_ARITH) | (v ? 0 : RFLAGS_ZF);
	regs->rip += i + 3;
	return LINUX_EMU_POPCNT;
}
#define CR4_SMAP (1ull << 21)

enum linux_emulated linux_emulate(const uint8_t *insn, size_t n, struct kvm_regs *regs,
				  const struct kvm_sregs *sregs, linux_read_fn read, void *ctx)
{
	/* clac, stac (0f 01 ca/cb): only with SMAP on (else #UD, the CPU's
	 * to raise, and KVM's report), only at CPL0. */
	if (n >= 3 && insn[0] == 0x0f && insn[1] == 0x01 && (insn[2] == 0xca || insn[2] == 0xcb)) {
		if (!(sregs->cr4 & CR4_SMAP) || sregs->cs.dpl != 0)
			return LINUX_EMU_NONE;
		regs->rflags = insn[2] == 0xca ? regs->rflags & ~RFLAGS_AC : regs->rflags | RFLAGS_AC;
		regs->rip += 3;
		return LINUX_EMU_SMAP;
	}
	if (n >= 1 && insn[0] == 0xcc) {
		regs->rip += 1; /* #BP is a trap: the handler sees the next address */
		return LINUX_EMU_INT3;
	}
	if (n >= 1 && insn[0] == 0xcf)
		return iret(false, regs, sregs, read, ctx);
	/* fwait (9b): nothing to wait for, since the monitor never leaves an
	 * x87 exception pending; #NM (CR0.TS and MP) is the CPU's. */
	if (n >= 1 && insn[0] == 0x9b) {
		if ((sregs->cr0 & 0xa) == 0xa)
			return LINUX_EMU_NONE;
		regs->rip += 1;
		return LINUX_EMU_FWAIT;
	}
	if (n >= 1 && (insn[0] == 0xf3 || insn[0] == 0x66) && sregs->cs.dpl == 0)
		return popcnt(insn, n, regs, sregs);
	/* REX.W (48..4f with W) iretq: long mode only. */
	if (n >= 2 && sregs->cs.l && (insn[0] & 0xf8) == 0x48 && insn[1] == 0xcf)
		return iret(true, regs, sregs, read, ctx) == LINUX_EMU_IRET ? LINUX_EMU_IRET : LINUX_EMU_NONE;
	return LINUX_EMU_NONE;
}

struct guest_view {
	struct vm *vm;
	const struct kvm_sregs *sregs;
};

/* Guest-virtual reads, byte-wise so a value may cross a page. */
static bool read_guest(void *ctx, uint64_t va, void *out, size_t len)
{
	struct guest_view *g = ctx;
	uint8_t *b = out;
	return report_code_bytes(g->vm, g->sregs, va, b, len) == len;
}

bool linux_emulate_exit(struct vcpu *v)
{
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_vcpu_events ev;
	uint8_t insn[8];

	if (v->run->internal.suberror != KVM_INTERNAL_ERROR_EMULATION || ioctl(v->fd, KVM_GET_REGS, &regs) < 0 ||
	    ioctl(v->fd, KVM_GET_SREGS, &sregs) < 0)
		return false;
	size_t n = report_code_bytes(v->vm, &sregs, regs.rip, insn, sizeof(insn));
	struct guest_view g = { v->vm, &sregs };
	uint64_t at = regs.rip;
	enum linux_emulated what = linux_emulate(insn, n, &regs, &sregs, read_guest, &g);
	if (what == LINUX_EMU_NONE)
		return false;
	if (what == LINUX_EMU_INT3) {
		if (ioctl(v->fd, KVM_GET_VCPU_EVENTS, &ev) < 0 || ev.exception.injected || ev.exception.pending)
			return false; /* something already on its way in: report it */
		ev.exception.injected = 1;
		ev.exception.nr = 3;
		ev.exception.has_error_code = 0;
		ev.exception.error_code = 0;
		ev.flags = 0; /* change nothing else (NMI, SIPI, shadow) */
	}
	if (ioctl(v->fd, KVM_SET_REGS, &regs) < 0 ||
	    (what == LINUX_EMU_INT3 && ioctl(v->fd, KVM_SET_VCPU_EVENTS, &ev) < 0)) {
		log_error("cannot complete the guest's %s at %#llx: %s",
			  what == LINUX_EMU_INT3 ? "int3" : what == LINUX_EMU_IRET ? "iret" : "clac/stac/popcnt/fwait",
			  (unsigned long long)at, strerror(errno));
		return false;
	}
	if (what == LINUX_EMU_INT3)
		STATS_ADD(v->vm->stats.int3_injected, 1);
	else if (what == LINUX_EMU_IRET)
		STATS_ADD(v->vm->stats.iret_emulated, 1);
	else
		STATS_ADD(v->vm->stats.other_emulated, 1); /* clac/stac, popcnt, fwait */
	return true;
}
