/*
 * Unit tests for src/linux_emulate.c: int3 and same-privilege iret/iretq
 * completed by the monitor for a --kernel guest, and every frame it must
 * leave to the emulation-failure report instead.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "linux_emulate.h"

#define SP64 0xffff888000010000ull
#define SP32 0x1eff0ull

struct mem {
	uint64_t base;
	uint8_t bytes[64];
	size_t limit; /* readable bytes from base; 0: all 64 */
};

static bool rd(void *ctx, uint64_t va, void *out, size_t len)
{
	struct mem *m = ctx;
	size_t limit = m->limit ? m->limit : sizeof(m->bytes);
	if (va < m->base || va + len > m->base + limit)
		return false;
	memcpy(out, m->bytes + (va - m->base), len);
	return true;
}

static void state64(struct kvm_regs *r, struct kvm_sregs *s)
{
	memset(r, 0, sizeof(*r));
	memset(s, 0, sizeof(*s));
	s->cr0 = 0x80050033;
	s->cs = (struct kvm_segment){ .selector = 0x10, .l = 1, .dpl = 0, .present = 1 };
	s->ss = (struct kvm_segment){ .selector = 0x18, .present = 1 };
	r->rip = 0xffffffff81000100ull;
	r->rsp = SP64;
	r->rflags = 0x86;
	r->rax = 0x1234;
}

static void frame64(struct mem *m, uint64_t rip, uint64_t cs, uint64_t fl, uint64_t sp, uint64_t ss)
{
	const uint64_t f[5] = { rip, cs, fl, sp, ss };
	memset(m, 0, sizeof(*m));
	m->base = SP64;
	memcpy(m->bytes, f, sizeof(f));
}

static void test_iretq(void **state)
{
	(void)state;
	struct kvm_regs r;
	struct kvm_sregs s;
	struct mem m;
	state64(&r, &s);
	frame64(&m, 0xffffffff81234567ull, 0x10, 0x246 | (1u << 17), 0xffff888000020000ull, 0x18);
	assert_int_equal(linux_emulate((const uint8_t[]){ 0x48, 0xcf }, 2, &r, &s, rd, &m), LINUX_EMU_IRET);
	assert_int_equal(r.rip, 0xffffffff81234567ull);
	assert_int_equal(r.rsp, 0xffff888000020000ull);
	assert_int_equal(r.rflags, 0x246); /* VM never set */
	assert_int_equal(r.rax, 0x1234);
}

static void test_iretq_refusals(void **state)
{
	(void)state;
	struct kvm_regs r, before;
	struct kvm_sregs s;
	struct mem m;
	const uint8_t iretq[2] = { 0x48, 0xcf };

	state64(&r, &s);
	before = r;
	frame64(&m, 0x401000, 0x33, 0x246, 0x7ff000, 0x2b); /* to user mode */
	assert_int_equal(linux_emulate(iretq, 2, &r, &s, rd, &m), LINUX_EMU_NONE);
	frame64(&m, 0x401000, 0x08, 0x246, 0x7ff000, 0x18); /* another CS */
	assert_int_equal(linux_emulate(iretq, 2, &r, &s, rd, &m), LINUX_EMU_NONE);
	frame64(&m, 0x401000, 0x10, 0x246, 0x7ff000, 0x20); /* another SS */
	assert_int_equal(linux_emulate(iretq, 2, &r, &s, rd, &m), LINUX_EMU_NONE);
	frame64(&m, 0x401000, 0x10, 0x246, 0x7ff000, 0x18);
	m.base = SP64 + 8; /* the frame's first slot unreadable */
	assert_int_equal(linux_emulate(iretq, 2, &r, &s, rd, &m), LINUX_EMU_NONE);
	m.base = SP64;
	m.limit = 32; /* its last slot (ss) unreadable */
	assert_int_equal(linux_emulate(iretq, 2, &r, &s, rd, &m), LINUX_EMU_NONE);
	frame64(&m, 0x0000800000000000ull, 0x10, 0x246, 0x7ff000, 0x18); /* non-canonical rip: #GP */
	assert_int_equal(linux_emulate(iretq, 2, &r, &s, rd, &m), LINUX_EMU_NONE);
	frame64(&m, 0x401000, 0x10, 0x246, 0xffff7fff00000000ull, 0x18); /* non-canonical rsp */
	assert_int_equal(linux_emulate(iretq, 2, &r, &s, rd, &m), LINUX_EMU_NONE);
	frame64(&m, 0x401000, 0x10, 0x246, 0x7ff000, 0x18);
	m.limit = 0;
	s.cs.dpl = 3; /* a CPL3 iret is KVM's, and the CPU's */
	assert_int_equal(linux_emulate(iretq, 2, &r, &s, rd, &m), LINUX_EMU_NONE);
	assert_memory_equal(&r, &before, sizeof(r));
	/* Not an iret at all. */
	state64(&r, &s);
	assert_int_equal(linux_emulate((const uint8_t[]){ 0x0f, 0x0b }, 2, &r, &s, rd, &m), LINUX_EMU_NONE);
	assert_int_equal(linux_emulate((const uint8_t[]){ 0x48 }, 1, &r, &s, rd, &m), LINUX_EMU_NONE);
	assert_memory_equal(&r, &before, sizeof(r));
}

static void test_iret32(void **state)
{
	(void)state;
	struct kvm_regs r;
	struct kvm_sregs s;
	struct mem m = { .base = SP32 };
	const uint32_t f[3] = { 0x101234, 0x10, 0x202 };
	memcpy(m.bytes, f, sizeof(f));
	memset(&r, 0, sizeof(r));
	memset(&s, 0, sizeof(s));
	s.cr0 = 0x11;
	s.cs = (struct kvm_segment){ .selector = 0x10, .db = 1, .present = 1 };
	r.rip = 0x101086;
	r.rsp = SP32;
	assert_int_equal(linux_emulate((const uint8_t[]){ 0xcf, 0x8d }, 2, &r, &s, rd, &m), LINUX_EMU_IRET);
	assert_int_equal(r.rip, 0x101234);
	assert_int_equal(r.rsp, SP32 + 12);
	assert_int_equal(r.rflags, 0x202);
	/* 48 is dec %eax in 32-bit code: not an iretq. */
	r.rsp = SP32;
	assert_int_equal(linux_emulate((const uint8_t[]){ 0x48, 0xcf }, 2, &r, &s, rd, &m), LINUX_EMU_NONE);
	/* 16-bit code: not ours. */
	s.cs.db = 0;
	assert_int_equal(linux_emulate((const uint8_t[]){ 0xcf, 0x90 }, 2, &r, &s, rd, &m), LINUX_EMU_NONE);
}

static void test_int3(void **state)
{
	(void)state;
	struct kvm_regs r;
	struct kvm_sregs s;
	struct mem m = { 0 };
	state64(&r, &s);
	uint64_t rip = r.rip;
	assert_int_equal(linux_emulate((const uint8_t[]){ 0xcc, 0x90 }, 2, &r, &s, rd, &m), LINUX_EMU_INT3);
	assert_int_equal(r.rip, rip + 1);
	assert_int_equal(r.rsp, SP64);
	assert_int_equal(linux_emulate((const uint8_t[]){ 0xcc }, 0, &r, &s, rd, &m), LINUX_EMU_NONE);
}

static void test_clac_stac(void **state)
{
	(void)state;
	struct kvm_regs r;
	struct kvm_sregs s;
	struct mem m = { 0 };
	state64(&r, &s);
	s.cr4 = 1ull << 21;
	uint64_t rip = r.rip;
	r.rflags |= 1ull << 18;
	assert_int_equal(linux_emulate((const uint8_t[]){ 0x0f, 0x01, 0xca }, 3, &r, &s, rd, &m), LINUX_EMU_SMAP);
	assert_int_equal(r.rflags & (1ull << 18), 0);
	assert_int_equal(r.rip, rip + 3);
	assert_int_equal(linux_emulate((const uint8_t[]){ 0x0f, 0x01, 0xcb }, 3, &r, &s, rd, &m), LINUX_EMU_SMAP);
	assert_true(r.rflags & (1ull << 18));
	assert_int_equal(r.rip, rip + 6);
	s.cr4 = 0; /* without SMAP they are #UD: not ours */
	assert_int_equal(linux_emulate((const uint8_t[]){ 0x0f, 0x01, 0xca }, 3, &r, &s, rd, &m), LINUX_EMU_NONE);
	s.cr4 = 1ull << 21;
	assert_int_equal(linux_emulate((const uint8_t[]){ 0x0f, 0x01, 0xca }, 2, &r, &s, rd, &m), LINUX_EMU_NONE);
	assert_int_equal(linux_emulate((const uint8_t[]){ 0x0f, 0x01, 0xd0 }, 3, &r, &s, rd, &m), LINUX_EMU_NONE);
	assert_int_equal(r.rip, rip + 6);
}

static void test_popcnt(void **state)
{
	(void)state;
	struct kvm_regs r;
	struct kvm_sregs s;
	struct mem m = { 0 };
	state64(&r, &s);
	uint64_t rip = r.rip;
	/* popcnt %rdi,%rax (the kernel's own bytes) */
	r.rdi = 0xf0f0000000000003ull;
	r.rax = ~0ull;
	r.rflags = 0x2 | 0x8d5;
	assert_int_equal(linux_emulate((const uint8_t[]){ 0xf3, 0x48, 0x0f, 0xb8, 0xc7 }, 5, &r, &s, rd, &m),
			 LINUX_EMU_POPCNT);
	assert_int_equal(r.rax, 10);
	assert_int_equal(r.rflags, 0x2);
	assert_int_equal(r.rip, rip + 5);
	/* popcnt %r9d,%r10d: 32 bits, zero-extended; a zero source sets ZF. */
	r.r9 = 0xffffffff00000000ull;
	r.r10 = ~0ull;
	assert_int_equal(linux_emulate((const uint8_t[]){ 0xf3, 0x45, 0x0f, 0xb8, 0xd1 }, 5, &r, &s, rd, &m),
			 LINUX_EMU_POPCNT);
	assert_int_equal(r.r10, 0);
	assert_int_equal(r.rflags, 0x2 | 0x40);
	/* 16-bit: only the low word of the destination. */
	r.rcx = 0x1ff;
	r.rdx = 0x1234567812345678ull;
	assert_int_equal(linux_emulate((const uint8_t[]){ 0x66, 0xf3, 0x0f, 0xb8, 0xd1 }, 5, &r, &s, rd, &m),
			 LINUX_EMU_POPCNT);
	assert_int_equal(r.rdx, 0x1234567812340009ull);
	/* A memory operand, a missing f3, a short buffer: not ours. */
	struct kvm_regs before = r;
	assert_int_equal(linux_emulate((const uint8_t[]){ 0xf3, 0x48, 0x0f, 0xb8, 0x07 }, 5, &r, &s, rd, &m),
			 LINUX_EMU_NONE);
	assert_int_equal(linux_emulate((const uint8_t[]){ 0x66, 0x0f, 0xb8, 0xc7 }, 4, &r, &s, rd, &m), LINUX_EMU_NONE);
	assert_int_equal(linux_emulate((const uint8_t[]){ 0xf3, 0x48, 0x0f, 0xb8 }, 4, &r, &s, rd, &m), LINUX_EMU_NONE);
	assert_memory_equal(&r, &before, sizeof(r));
}

static void test_fwait(void **state)
{
	(void)state;
	struct kvm_regs r;
	struct kvm_sregs s;
	struct mem m = { 0 };
	state64(&r, &s);
	uint64_t rip = r.rip;
	assert_int_equal(linux_emulate((const uint8_t[]){ 0x9b, 0x65 }, 2, &r, &s, rd, &m), LINUX_EMU_FWAIT);
	assert_int_equal(r.rip, rip + 1);
	s.cr0 |= 0x8; /* TS with MP: #NM, not ours */
	assert_int_equal(linux_emulate((const uint8_t[]){ 0x9b }, 1, &r, &s, rd, &m), LINUX_EMU_NONE);
	assert_int_equal(r.rip, rip + 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_iretq),
		cmocka_unit_test(test_iretq_refusals),
		cmocka_unit_test(test_iret32),
		cmocka_unit_test(test_int3),
		cmocka_unit_test(test_clac_stac),
		cmocka_unit_test(test_popcnt),
		cmocka_unit_test(test_fwait),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
