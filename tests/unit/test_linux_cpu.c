/*
 * Unit tests for src/linux_cpu.c: the GDT and identity map a 64-bit
 * bzImage entry starts on, and the registers of each entry (64-bit: long
 * mode, rsi = zero page; PVH: 32-bit protected mode, paging off, ebx =
 * start info; both interrupts off at selectors 0x10/0x18).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "guest_mem.h"
#include "linux_cpu.h"
#include "pagetable.h"

#define RAM (64ull << 20)

static int setup(void **state)
{
	struct guest_mem *mem = calloc(1, sizeof(*mem));
	assert_non_null(mem);
	assert_int_equal(guest_mem_init(mem, RAM, 0), 0);
	*state = mem;
	return 0;
}

static int teardown(void **state)
{
	guest_mem_free(*state);
	free(*state);
	return 0;
}

static const struct linux_boot boot64 = { .kind = LINUX_ENTRY_64, .entry = 0x100200, .params = LINUX_ZERO_PAGE };
static const struct linux_boot boot_pvh = { .kind = LINUX_ENTRY_PVH, .entry = 0x1000850,
					    .params = LINUX_START_INFO };

static void test_tables_64(void **state)
{
	struct guest_mem *mem = *state;
	assert_int_equal(linux_cpu_write_tables(mem, &boot64), 0);
	const uint64_t *gdt = (const void *)(mem->host + LINUX_GDT);
	assert_int_equal(gdt[0], 0);
	/* 0x10: present, DPL 0, code, L set and D clear (64-bit). */
	assert_int_equal(gdt[2] >> 40 & 0xff, 0x9b);
	assert_int_equal(gdt[2] >> 53 & 3, 1);
	assert_int_equal(gdt[3] >> 40 & 0xff, 0x93);
	assert_int_equal(gdt[4] >> 40 & 0xff, 0x89);
	/* Identity: low memory, the kernel, the top of RAM and 3.5 GiB. */
	static const uint64_t vas[] = { 0x7000, 0x100200, RAM - 1, 0xe0001234ull, 0xfffff000ull };
	for (size_t i = 0; i < sizeof(vas) / sizeof(vas[0]); i++) {
		uint64_t pa = 0;
		assert_true(pagetable_translate(mem, LINUX_PML4, vas[i], &pa));
		assert_int_equal(pa, vas[i]);
	}
	uint64_t pa;
	assert_false(pagetable_translate(mem, LINUX_PML4, 0x100000000ull, &pa)); /* 4 GiB: beyond the map */
	/* The tables leave the boot structures alone. */
	assert_true(LINUX_PD + 4 * 4096 <= LINUX_CMDLINE);
	assert_true(LINUX_PDPT + 4096 <= LINUX_START_INFO);
}

static void test_tables_pvh(void **state)
{
	struct guest_mem *mem = *state;
	memset(mem->host + LINUX_PML4, 0x5a, 4096);
	assert_int_equal(linux_cpu_write_tables(mem, &boot_pvh), 0);
	const uint64_t *gdt = (const void *)(mem->host + LINUX_GDT);
	/* 0x10: 32-bit code (D set, L clear). */
	assert_int_equal(gdt[2] >> 40 & 0xff, 0x9b);
	assert_int_equal(gdt[2] >> 53 & 3, 2);
	assert_int_equal(mem->host[LINUX_PML4], 0x5a); /* no paging: no tables written */
}

static void test_state_64(void **state)
{
	(void)state;
	struct kvm_sregs s;
	struct kvm_regs r;
	memset(&s, 0xee, sizeof(s));
	memset(&r, 0xee, sizeof(r));
	linux_cpu_state(&boot64, &s, &r);
	assert_int_equal(r.rip, 0x100200);
	assert_int_equal(r.rsi, LINUX_ZERO_PAGE);
	assert_int_equal(r.rflags, 0x2); /* IF clear */
	assert_int_equal(s.cs.selector, LINUX_SEL_CODE);
	assert_int_equal(s.cs.l, 1);
	assert_int_equal(s.cs.db, 0);
	assert_int_equal(s.cs.dpl, 0);
	assert_int_equal(s.ds.selector, LINUX_SEL_DATA);
	assert_int_equal(s.ss.selector, LINUX_SEL_DATA);
	assert_int_equal(s.cr3, LINUX_PML4);
	assert_true(s.cr0 & (1ull << 31));
	assert_true(s.cr0 & 1);
	assert_true(s.cr4 & (1ull << 5));
	assert_int_equal(s.efer & 0x500, 0x500);
	assert_int_equal(s.gdt.base, LINUX_GDT);
	assert_int_equal(s.idt.limit, 0);
	assert_int_equal(s.tr.selector, LINUX_SEL_TSS);
	assert_int_equal(s.tr.type, 0xb);
}

static void test_state_pvh(void **state)
{
	(void)state;
	struct kvm_sregs s;
	struct kvm_regs r;
	memset(&s, 0xee, sizeof(s));
	memset(&r, 0xee, sizeof(r));
	linux_cpu_state(&boot_pvh, &s, &r);
	assert_int_equal(r.rip, 0x1000850);
	assert_int_equal(r.rbx, LINUX_START_INFO);
	assert_int_equal(r.rsi, 0);
	assert_int_equal(r.rflags, 0x2);
	assert_int_equal(s.cs.selector, LINUX_SEL_CODE);
	assert_int_equal(s.cs.l, 0);
	assert_int_equal(s.cs.db, 1);
	assert_int_equal(s.cs.limit, 0xffffffff);
	assert_int_equal(s.ds.selector, LINUX_SEL_DATA);
	assert_int_equal(s.cr0 & (1ull << 31), 0); /* paging off */
	assert_true(s.cr0 & 1);
	assert_int_equal(s.efer, 0);
	assert_int_equal(s.cr4, 0);
	assert_int_equal(s.tr.limit, 0x67);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_tables_64, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tables_pvh, setup, teardown),
		cmocka_unit_test(test_state_64),
		cmocka_unit_test(test_state_pvh),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
