/*
 * Unit tests for src/cpuid.c: --cpuid-mask parsing (items, names,
 * refusals), the no-VT-x masks, masking applied to a KVM-style table
 * (sub-leaves, the hypervisor bit, leaf 0xd emptied with XSAVE) and the
 * per-CPU APIC IDs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cpuid.h"

static struct kvm_cpuid_entry2 entry(uint32_t function, uint32_t index, uint32_t all)
{
	return (struct kvm_cpuid_entry2){ .function = function, .index = index, .eax = all, .ebx = all, .ecx = all,
					  .edx = all };
}

static void test_parse_items(void **state)
{
	(void)state;
	struct cpuid_mask m = { 0 };
	char err[256] = "";
	assert_int_equal(cpuid_parse_mask("1:ecx:28,0x7.0:EBX:5,avx512f", &m, err, sizeof(err)), 0);
	assert_int_equal(m.count, 3);
	assert_int_equal(m.bits[0].function, 1);
	assert_true(m.bits[0].any_index);
	assert_int_equal(m.bits[0].reg, CPUID_ECX);
	assert_int_equal(m.bits[0].bit, 28);
	assert_int_equal(m.bits[1].function, 7);
	assert_false(m.bits[1].any_index);
	assert_int_equal(m.bits[1].index, 0);
	assert_int_equal(m.bits[1].reg, CPUID_EBX);
	assert_int_equal(m.bits[1].bit, 5);
	assert_int_equal(m.bits[2].function, 7);
	assert_int_equal(m.bits[2].bit, 16);
}

static void test_parse_refusals(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"", "1", "1:ecx", "1:ecx:32", "1:esx:3", "x:ecx:3", "1.:ecx:3", "1:ecx:-1", "1:ecx:3,", "avx3",
		"0x100000000:eax:0", "1:ecx:3x",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct cpuid_mask m = { 0 };
		char err[256] = "";
		if (cpuid_parse_mask(bad[i], &m, err, sizeof(err)) != -1)
			fail_msg("'%s' was accepted", bad[i]);
		assert_non_null(strstr(err, "--cpuid-mask"));
		assert_null(strchr(err, '\n'));
	}
	struct cpuid_mask m = { 0 };
	char err[256];
	for (int i = 0; i < CPUID_MASK_MAX; i++)
		assert_int_equal(cpuid_parse_mask("avx", &m, err, sizeof(err)), 0);
	assert_int_equal(cpuid_parse_mask("avx", &m, err, sizeof(err)), -1);
	assert_int_equal(m.count, CPUID_MASK_MAX);
}

static void test_apply(void **state)
{
	(void)state;
	struct kvm_cpuid_entry2 t[] = {
		entry(0, 0, 0xd), entry(1, 0, 0), entry(7, 0, ~0u), entry(7, 1, ~0u), entry(0xd, 0, 0x3ff),
		entry(0xd, 1, 0xf),
	};
	t[1].ecx = ~0u & ~(1u << 31);
	t[1].edx = ~0u;
	struct cpuid_mask m = { 0 };
	cpuid_no_hw_virt_masks(&m);
	char err[64];
	assert_int_equal(cpuid_parse_mask("7.1:eax:4", &m, err, sizeof(err)), 0);
	cpuid_apply(t, sizeof(t) / sizeof(t[0]), &m);
	/* Leaf 1: XSAVE, OSXSAVE, AVX, CMPXCHG16B gone, the rest kept; the
	 * hypervisor bit set. */
	assert_int_equal(t[1].ecx, ~0u & ~(1u << 26 | 1u << 27 | 1u << 28 | 1u << 13));
	assert_int_equal(t[1].edx, ~0u);
	/* Leaf 7.0: AVX2 and AVX512F gone; 7.1 untouched but for its own bit. */
	assert_int_equal(t[2].ebx, ~0u & ~(1u << 5 | 1u << 16));
	assert_int_equal(t[3].ebx, ~0u);
	assert_int_equal(t[3].eax, ~0u & ~(1u << 4));
	/* XSAVE masked: its leaf says nothing. */
	assert_int_equal(t[4].eax | t[4].ebx | t[4].ecx | t[4].edx | t[5].eax, 0);
	assert_int_equal(t[0].eax, 0xd);
}

static void test_apply_without_masks(void **state)
{
	(void)state;
	struct kvm_cpuid_entry2 t[] = { entry(1, 0, 0x12345678), entry(0xd, 0, 0x3ff) };
	struct cpuid_mask none = { 0 };
	cpuid_apply(t, 2, &none);
	assert_int_equal(t[0].ecx, 0x12345678u | 1u << 31);
	assert_int_equal(t[0].eax, 0x12345678u);
	assert_int_equal(t[1].eax, 0x3ff); /* XSAVE kept: leaf 0xd too */
}

static void test_set_cpu(void **state)
{
	(void)state;
	struct kvm_cpuid_entry2 t[] = { entry(1, 0, 0xaabbccdd), entry(0xb, 0, 7), entry(0xb, 1, 7), entry(0x1f, 0, 7) };
	cpuid_set_cpu(t, 4, 5);
	assert_int_equal(t[0].ebx, 0x05bbccddu);
	assert_int_equal(t[1].edx, 5);
	assert_int_equal(t[2].edx, 5);
	assert_int_equal(t[3].edx, 5);
	assert_int_equal(t[1].eax, 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_items),
		cmocka_unit_test(test_parse_refusals),
		cmocka_unit_test(test_apply),
		cmocka_unit_test(test_apply_without_masks),
		cmocka_unit_test(test_set_cpu),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
