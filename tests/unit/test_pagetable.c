/*
 * Unit tests for the boot page tables (src/pagetable.c) and the GDT/TSS
 * that cpu_write_tables() (src/cpu.c) writes next to them. The tables are
 * checked through pagetable_translate(), the same walker the monitor uses
 * on tables a guest may since have rewritten, and by reading raw entries.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cpu.h"
#include "guest_mem.h"
#include "layout.h"
#include "pagetable.h"
#include "trap_stubs.h"

#define RAM_SIZE (32ull << 20)

struct fixture {
	struct guest_mem mem;
	uint64_t cr3;
};

static int setup_tables(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	assert_int_equal(guest_mem_init(&f->mem, RAM_SIZE, 0), 0);
	f->cr3 = cpu_write_tables(&f->mem);
	*state = f;
	return 0;
}

static int teardown_tables(void **state)
{
	struct fixture *f = *state;
	guest_mem_free(&f->mem);
	free(f);
	return 0;
}

static uint64_t read_u64(const struct guest_mem *mem, uint64_t gpa)
{
	uint64_t v;
	const void *p = guest_mem_ptr(mem, gpa, sizeof(v));
	assert_non_null(p);
	memcpy(&v, p, sizeof(v));
	return v;
}

static void write_u64(struct guest_mem *mem, uint64_t gpa, uint64_t v)
{
	void *p = guest_mem_ptr(mem, gpa, sizeof(v));
	assert_non_null(p);
	memcpy(p, &v, sizeof(v));
}

static void assert_identity(const struct fixture *f, uint64_t va)
{
	uint64_t pa = ~0ull;
	if (!pagetable_translate(&f->mem, f->cr3, va, &pa))
		fail_msg("%#llx is not mapped", (unsigned long long)va);
	if (pa != va)
		fail_msg("%#llx maps to %#llx, not to itself", (unsigned long long)va, (unsigned long long)pa);
}

static void assert_unmapped(const struct fixture *f, uint64_t va)
{
	uint64_t pa = 0x5a5a5a5a;
	if (pagetable_translate(&f->mem, f->cr3, va, &pa))
		fail_msg("%#llx is mapped (to %#llx) but should not be", (unsigned long long)va,
			 (unsigned long long)pa);
}

/* ---- translation --------------------------------------------------------- */

static void test_cr3_is_the_pml4(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(f->cr3, LAYOUT_PML4);
}

static void test_ram_is_identity_mapped(void **state)
{
	struct fixture *f = *state;
	static const uint64_t samples[] = {
		0x1000, 0x1fff, 0x2000, PVMM_IMAGE_MIN, 0x1fffff, 0x200000, 0x1ffffff,
		RAM_SIZE / 2 + 123, RAM_SIZE - 1,
	};
	for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++)
		assert_identity(f, samples[i]);
}

static void test_every_ram_page_is_identity_mapped_except_holes(void **state)
{
	struct fixture *f = *state;
	for (uint64_t va = 0; va < RAM_SIZE; va += PAGE_SIZE) {
		if (va == 0 || va == LAYOUT_IST_GUARD || va == LAYOUT_STACK_GUARD)
			assert_unmapped(f, va);
		else
			assert_identity(f, va + 8);
	}
}

static void test_page_zero_is_unmapped(void **state)
{
	/* So a guest's NULL dereference faults. */
	struct fixture *f = *state;
	assert_unmapped(f, 0);
	assert_unmapped(f, 8);
	assert_unmapped(f, PAGE_SIZE - 1);
	assert_identity(f, PAGE_SIZE);
}

static void test_guard_pages_are_unmapped(void **state)
{
	struct fixture *f = *state;
	assert_unmapped(f, LAYOUT_IST_GUARD);
	assert_unmapped(f, LAYOUT_IST_GUARD + PAGE_SIZE - 1);
	assert_unmapped(f, LAYOUT_STACK_GUARD);
	assert_unmapped(f, LAYOUT_STACK_GUARD + PAGE_SIZE - 1);
}

static void test_stacks_are_mapped(void **state)
{
	struct fixture *f = *state;
	/* IST1 stack: from above its guard up to its top. */
	for (uint64_t va = LAYOUT_IST_GUARD + PAGE_SIZE; va < LAYOUT_IST_TOP; va += PAGE_SIZE)
		assert_identity(f, va);
	assert_identity(f, LAYOUT_IST_TOP - 8);
	/* Main stack. */
	for (uint64_t va = LAYOUT_STACK_GUARD + PAGE_SIZE; va < LAYOUT_STACK_TOP; va += PAGE_SIZE)
		assert_identity(f, va);
	assert_identity(f, LAYOUT_STACK_TOP - 8);
	assert_int_equal(LAYOUT_STACK_TOP - LAYOUT_STACK_SIZE, LAYOUT_STACK_GUARD + PAGE_SIZE);
}

static void test_monitor_structures_are_mapped(void **state)
{
	struct fixture *f = *state;
	assert_identity(f, LAYOUT_GDT);
	assert_identity(f, LAYOUT_TSS);
	assert_identity(f, LAYOUT_PML4);
	assert_identity(f, LAYOUT_BOOT_INFO);
	assert_identity(f, LAYOUT_ARGS);
}

static void test_device_window_below_4gib_is_identity(void **state)
{
	/* Not RAM, but mapped so device windows above the RAM line work. */
	struct fixture *f = *state;
	assert_identity(f, 0xE0000000ull);
	assert_identity(f, 0xFEE00000ull);
	assert_identity(f, 0xFFFFFFFFull);
	assert_identity(f, RAM_SIZE);
}

static void test_4gib_and_above_unmapped(void **state)
{
	struct fixture *f = *state;
	assert_unmapped(f, 0x100000000ull);
	assert_unmapped(f, 0x100001000ull);
	assert_unmapped(f, 0x7fffffffffffull); /* top of the lower canonical half */
	assert_unmapped(f, 0xffff800000000000ull); /* canonical, upper half */
	assert_unmapped(f, 0xffffffffffffffffull);
}

static void test_non_canonical_rejected(void **state)
{
	struct fixture *f = *state;
	/* Bits 63..48 must copy bit 47. These low bits would map if the walker
	 * ignored the top: each is 0x1000 plus junk above bit 47. */
	assert_unmapped(f, 0x0000800000001000ull);
	assert_unmapped(f, 0x0001000000001000ull);
	assert_unmapped(f, 0x8000000000001000ull);
	assert_unmapped(f, 0xfff0000000001000ull);
}

static void test_large_pages_have_ps(void **state)
{
	struct fixture *f = *state;
	/* PD 0 entry 0 is the 4 KiB page table; every other PD entry of all four
	 * directories is a 2 MiB page mapping its own address. */
	for (unsigned gib = 0; gib < LAYOUT_PD_COUNT; gib++) {
		for (unsigned i = 0; i < 512; i++) {
			uint64_t e = read_u64(&f->mem, LAYOUT_PD + gib * PAGE_SIZE + i * 8);
			assert_true(e & PTE_P);
			if (gib == 0 && i == 0) {
				assert_false(e & PTE_PS);
				assert_int_equal(e & PTE_ADDR_MASK, LAYOUT_PT0);
				continue;
			}
			assert_true(e & PTE_PS);
			assert_true(e & PTE_RW);
			assert_int_equal(e & PTE_ADDR_MASK, ((uint64_t)gib << 30) + (uint64_t)i * HUGE_PAGE_SIZE);
		}
	}
	/* Upper levels are tables, not large pages. */
	assert_false(read_u64(&f->mem, LAYOUT_PML4) & PTE_PS);
	for (unsigned gib = 0; gib < LAYOUT_PD_COUNT; gib++)
		assert_false(read_u64(&f->mem, LAYOUT_PDPT + gib * 8) & PTE_PS);
	/* Only one PML4 entry and four PDPT entries. */
	for (unsigned i = 1; i < 512; i++)
		assert_int_equal(read_u64(&f->mem, LAYOUT_PML4 + i * 8), 0);
	for (unsigned i = LAYOUT_PD_COUNT; i < 512; i++)
		assert_int_equal(read_u64(&f->mem, LAYOUT_PDPT + i * 8), 0);
}

/* ---- tables a guest has rewritten ----------------------------------------- */

static void test_pml4_pointing_outside_ram_fails_safely(void **state)
{
	struct fixture *f = *state;
	uint64_t pa = 0x5a5a;

	write_u64(&f->mem, LAYOUT_PML4, (RAM_SIZE + 0x200000) | PTE_P | PTE_RW);
	assert_false(pagetable_translate(&f->mem, f->cr3, 0x100000, &pa));
	assert_int_equal(pa, 0x5a5a); /* not written on failure */

	/* Way out, with high address bits set as far as the mask allows. */
	write_u64(&f->mem, LAYOUT_PML4, PTE_ADDR_MASK | PTE_P);
	assert_false(pagetable_translate(&f->mem, f->cr3, 0x100000, &pa));

	/* A table starting exactly at the end of RAM. */
	write_u64(&f->mem, LAYOUT_PML4, RAM_SIZE | PTE_P);
	assert_false(pagetable_translate(&f->mem, f->cr3, 0x100000, &pa));

	/* The last page of RAM is a legal (here empty) table: not present. */
	write_u64(&f->mem, LAYOUT_PML4, (RAM_SIZE - PAGE_SIZE) | PTE_P);
	assert_false(pagetable_translate(&f->mem, f->cr3, 0x100000, &pa));
}

static void test_lower_levels_pointing_outside_ram_fail_safely(void **state)
{
	struct fixture *f = *state;
	uint64_t pa;

	/* PDPT entry 0 → beyond RAM. */
	write_u64(&f->mem, LAYOUT_PDPT, 0x80000000ull | PTE_P | PTE_RW);
	assert_false(pagetable_translate(&f->mem, f->cr3, 0x300000, &pa));
	/* The other GiBs still work. */
	assert_identity(f, 0xE0000000ull);

	/* PD 0 entry 0 (the page table for the low 2 MiB) → beyond RAM. */
	write_u64(&f->mem, LAYOUT_PDPT, LAYOUT_PD | PTE_P | PTE_RW);
	write_u64(&f->mem, LAYOUT_PD, 0xfffff000ull | PTE_P | PTE_RW);
	assert_false(pagetable_translate(&f->mem, f->cr3, 0x1000, &pa));
	assert_identity(f, 0x200000);
}

static void test_cr3_outside_ram_fails_safely(void **state)
{
	struct fixture *f = *state;
	uint64_t pa;
	assert_false(pagetable_translate(&f->mem, RAM_SIZE, 0x100000, &pa));
	assert_false(pagetable_translate(&f->mem, ~0ull, 0x100000, &pa));
}

static void test_not_present_entry_unmaps(void **state)
{
	struct fixture *f = *state;
	uint64_t e = read_u64(&f->mem, LAYOUT_PD + 8); /* 2..4 MiB */
	write_u64(&f->mem, LAYOUT_PD + 8, e & ~PTE_P);
	assert_unmapped(f, 0x200000);
	assert_unmapped(f, 0x3fffff);
	assert_identity(f, 0x400000);
}

static void test_guest_1gib_page_translates(void **state)
{
	/* A guest may install a 1 GiB page at the PDPT level. */
	struct fixture *f = *state;
	write_u64(&f->mem, LAYOUT_PDPT + 8, 0x40000000ull | PTE_P | PTE_RW | PTE_PS);
	uint64_t pa;
	assert_true(pagetable_translate(&f->mem, f->cr3, 0x40000000ull + 0x12345678, &pa));
	assert_int_equal(pa, 0x40000000ull + 0x12345678);
}

/* ---- GDT and TSS ----------------------------------------------------------- */

static void test_gdt_code_descriptor_is_64bit(void **state)
{
	struct fixture *f = *state;
	uint64_t code = read_u64(&f->mem, LAYOUT_GDT + PVMM_SEL_CODE);
	assert_int_equal(read_u64(&f->mem, LAYOUT_GDT), 0);  /* null descriptor */
	assert_true(code & (1ull << 53));      /* L: 64-bit code */
	assert_false(code & (1ull << 54));     /* D must be 0 when L is 1 */
	assert_true(code & (1ull << 47));      /* present */
	assert_true(code & (1ull << 44));      /* S: code/data */
	assert_true(code & (1ull << 43));      /* executable */
	assert_int_equal((code >> 45) & 3, 0); /* DPL 0 */
}

static void test_gdt_data_descriptor_is_writable(void **state)
{
	struct fixture *f = *state;
	uint64_t data = read_u64(&f->mem, LAYOUT_GDT + PVMM_SEL_DATA);
	assert_true(data & (1ull << 47));      /* present */
	assert_true(data & (1ull << 44));      /* S */
	assert_false(data & (1ull << 43));     /* not code */
	assert_true(data & (1ull << 41));      /* writable */
}

static void test_gdt_tss_descriptor_points_at_tss(void **state)
{
	struct fixture *f = *state;
	uint64_t lo = read_u64(&f->mem, LAYOUT_GDT + PVMM_SEL_TSS);
	uint64_t hi = read_u64(&f->mem, LAYOUT_GDT + PVMM_SEL_TSS + 8);
	uint64_t base = ((lo >> 16) & 0xffffff) | (((lo >> 56) & 0xff) << 24) | ((hi & 0xffffffff) << 32);
	uint64_t limit = (lo & 0xffff) | (((lo >> 48) & 0xf) << 16);

	assert_int_equal(base, LAYOUT_TSS);
	assert_true(limit >= 103);              /* a 64-bit TSS is 104 bytes */
	assert_true(lo & (1ull << 47));         /* present */
	assert_false(lo & (1ull << 44));        /* system descriptor */
	assert_int_equal((lo >> 40) & 0xd, 0x9); /* 64-bit TSS, available (9) or busy (0xb) */
	assert_int_equal(hi >> 32, 0);          /* upper half reserved */
}

static void test_tss_ist1_is_ist_top(void **state)
{
	struct fixture *f = *state;
	/* 64-bit TSS: RSP0..2 at 4, IST1..7 at 36, I/O map base at 102. */
	assert_int_equal(read_u64(&f->mem, LAYOUT_TSS + 36), LAYOUT_IST_TOP);
	assert_int_equal(LAYOUT_IST_TOP & 15, 0); /* 16-byte aligned for the CPU */
	uint16_t iomap;
	memcpy(&iomap, f->mem.host + LAYOUT_TSS + 102, sizeof(iomap));
	assert_true(iomap >= 104); /* no I/O permission bitmap inside the TSS */
	/* The other IST slots are unused. */
	for (unsigned i = 2; i <= 7; i++)
		assert_int_equal(read_u64(&f->mem, LAYOUT_TSS + 36 + (i - 1) * 8), 0);
}

static void test_tables_do_not_touch_image_area(void **state)
{
	/* Everything cpu_write_tables writes lies below the image. */
	struct fixture *f = *state;
	static const uint8_t zero[4096];
	for (uint64_t a = PVMM_IMAGE_MIN; a < RAM_SIZE; a += sizeof(zero))
		assert_memory_equal(f->mem.host + a, zero, sizeof(zero));
}

/* ---- ring 3 ------------------------------------------------------------- */

/* Ring 3's tables, with the para-API's ports, the UART's and the trap port
 * (which must stay closed) asked for. */
static int setup_ring3(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct cpu_config cfg = { .ring = 3 };
	assert_non_null(f);
	assert_int_equal(guest_mem_init(&f->mem, RAM_SIZE, 0), 0);
	for (unsigned p = PVMM_PORT_BASE; p < PVMM_PORT_BASE + PVMM_PORT_COUNT; p++)
		cfg.ports[cfg.port_count++] = (uint16_t)p;
	for (unsigned p = 0x3f8; p < 0x400; p++)
		cfg.ports[cfg.port_count++] = (uint16_t)p;
	f->cr3 = cpu_write_tables_for(&f->mem, &cfg);
	*state = f;
	return 0;
}

/* The leaf entry for `va` (4 KiB below 2 MiB, else 2 MiB) and whether
 * every level above it has U set. */
static uint64_t leaf_entry(const struct fixture *f, uint64_t va, bool *user_path)
{
	uint64_t pml4e = read_u64(&f->mem, LAYOUT_PML4 + ((va >> 39) & 511) * 8);
	uint64_t pdpte = read_u64(&f->mem, (pml4e & PTE_ADDR_MASK) + ((va >> 30) & 511) * 8);
	uint64_t pde = read_u64(&f->mem, (pdpte & PTE_ADDR_MASK) + ((va >> 21) & 511) * 8);
	*user_path = (pml4e & PTE_US) && (pdpte & PTE_US);
	if (pde & PTE_PS)
		return pde;
	*user_path = *user_path && (pde & PTE_US);
	return read_u64(&f->mem, (pde & PTE_ADDR_MASK) + ((va >> 12) & 511) * 8);
}

static bool user_page(const struct fixture *f, uint64_t va)
{
	bool path;
	uint64_t e = leaf_entry(f, va, &path);
	return path && (e & PTE_P) && (e & PTE_US);
}

static void test_ring3_monitor_pages_are_supervisor_only(void **state)
{
	struct fixture *f = *state;
	const uint64_t monitor[] = { LAYOUT_GDT, LAYOUT_TSS, LAYOUT_PML4, LAYOUT_PDPT, LAYOUT_PD, LAYOUT_PT0,
				     LAYOUT_IST_TOP - 8, LAYOUT_AP_TSS, LAYOUT_AP_IST + 0x2000 - 8, LAYOUT_IDT,
				     LAYOUT_TRAP_STUBS };
	for (unsigned i = 0; i < sizeof(monitor) / sizeof(monitor[0]); i++) {
		assert_identity(f, monitor[i]);
		if (user_page(f, monitor[i]))
			fail_msg("%#llx is a user page", (unsigned long long)monitor[i]);
	}
	assert_unmapped(f, 0);
	assert_unmapped(f, LAYOUT_IST_GUARD);
	assert_unmapped(f, LAYOUT_STACK_GUARD);
}

static void test_ring3_guest_pages_are_user(void **state)
{
	struct fixture *f = *state;
	const uint64_t guest[] = { LAYOUT_BOOT_INFO, LAYOUT_ARGS, LAYOUT_ARGS_END - 1, LAYOUT_STACK_GUARD + PAGE_SIZE,
				   LAYOUT_STACK_TOP - 8, PVMM_IMAGE_MIN, HUGE_PAGE_SIZE, RAM_SIZE - 8, 0xd0000000ull };
	for (unsigned i = 0; i < sizeof(guest) / sizeof(guest[0]); i++)
		if (!user_page(f, guest[i]))
			fail_msg("%#llx is not a user page", (unsigned long long)guest[i]);
	assert_false(user_page(f, LAYOUT_STACK_TOP)); /* the secondaries' TSSes start there */
}

static bool port_open(const struct fixture *f, unsigned cpu, unsigned port)
{
	uint64_t tss = cpu_tss_base(cpu);
	uint16_t iomap;
	memcpy(&iomap, f->mem.host + tss + 102, sizeof(iomap));
	/* The GDT descriptor's limit: a bitmap byte beyond it denies. */
	uint64_t lo = read_u64(&f->mem, LAYOUT_GDT + PVMM_SEL_TSS_CPU(cpu));
	uint64_t limit = (lo & 0xffff) | ((lo >> 48 & 0xf) << 16);
	if (iomap + port / 8 + 1 > limit)
		return false;
	return !(f->mem.host[tss + iomap + port / 8] & (1u << (port % 8)));
}

static void test_ring3_io_bitmap_opens_exactly_the_ports(void **state)
{
	struct fixture *f = *state;
	for (unsigned cpu = 0; cpu < LAYOUT_MAX_CPUS; cpu += 21) {
		for (unsigned p = 0; p < 0x10000; p++) {
			bool want = (p >= PVMM_PORT_BASE && p < PVMM_PORT_TRAP) || (p >= 0x3f8 && p < 0x400);
			if (port_open(f, cpu, p) != want)
				fail_msg("CPU %u: port %#x is %s", cpu, p, want ? "closed" : "open");
		}
		assert_int_equal(read_u64(&f->mem, cpu_tss_base(cpu) + 4), cpu_ist_top(cpu)); /* RSP0 */
	}
}

static void test_ring3_gdt_user_segments_are_dpl3(void **state)
{
	struct fixture *f = *state;
	uint64_t code = read_u64(&f->mem, LAYOUT_GDT + (PVMM_SEL_USER_CODE & ~7));
	uint64_t data = read_u64(&f->mem, LAYOUT_GDT + (PVMM_SEL_USER_DATA & ~7));
	assert_int_equal((code >> 45) & 3, 3);
	assert_int_equal((data >> 45) & 3, 3);
	assert_true(code & (1ull << 53));  /* L: 64-bit */
	assert_true(code & (1ull << 43));  /* code */
	assert_false(data & (1ull << 43)); /* data */
	assert_int_equal((read_u64(&f->mem, LAYOUT_GDT + PVMM_SEL_CODE) >> 45) & 3, 0);
}

static void test_ring3_idt_gates_enter_the_stubs(void **state)
{
	struct fixture *f = *state;
	for (unsigned v = 0; v < TRAP_STUB_VECTORS; v++) {
		const uint8_t *g = f->mem.host + LAYOUT_IDT + v * 16;
		uint64_t off = g[0] | (uint64_t)g[1] << 8 | (uint64_t)g[6] << 16 | (uint64_t)g[7] << 24;
		assert_int_equal(off, LAYOUT_TRAP_STUBS + v * TRAP_STUB_SIZE);
		assert_int_equal(g[2] | g[3] << 8, PVMM_SEL_CODE);
		assert_int_equal(g[4], PVMM_IST_EXCEPTION);
		assert_int_equal(g[5], 0x8e); /* present, DPL 0, interrupt gate */
		const uint8_t *stub = f->mem.host + off;
		/* push $0 unless the CPU pushes an error code, then push $v. */
		bool err = v == 8 || (v >= 10 && v <= 14) || v == 17 || v == 21 || v == 29 || v == 30;
		const uint8_t *push_v = err ? stub : stub + 2;
		if (!err)
			assert_true(stub[0] == 0x6a && stub[1] == 0);
		assert_true(push_v[0] == 0x6a && push_v[1] == v);
		/* ... push %rax, push %rdx, mov $PVMM_PORT_TRAP, %dx, out %eax, %dx */
		const uint8_t tail[] = { 0x50, 0x52, 0x66, 0xba, PVMM_PORT_TRAP & 0xff, PVMM_PORT_TRAP >> 8, 0xef };
		assert_memory_equal(push_v + 2, tail, sizeof(tail));
	}
}

static uint64_t gate_offset(const uint8_t *g)
{
	return g[0] | (uint64_t)g[1] << 8 | (uint64_t)g[6] << 16 | (uint64_t)g[7] << 24;
}

/* Vectors 32..55 enter a stub that pushes 0 and the vector and jumps to
 * the shared tail; every other vector above them returns at once. */
static void test_ring3_interrupt_gates_end_and_report(void **state)
{
	struct fixture *f = *state;
	uint64_t tail = 0;
	for (unsigned v = PVMM_IRQ_VECTOR_BASE; v < PVMM_IRQ_VECTOR_BASE + TRAP_IRQ_PINS; v++) {
		const uint8_t *g = f->mem.host + LAYOUT_IDT + v * 16;
		assert_int_equal(g[5], 0x8e);
		assert_int_equal(g[4], PVMM_IST_EXCEPTION);
		uint64_t off = gate_offset(g);
		const uint8_t *stub = f->mem.host + off;
		assert_true(stub[0] == 0x6a && stub[1] == 0 && stub[2] == 0x6a && stub[3] == v && stub[4] == 0xe9);
		int32_t rel;
		memcpy(&rel, stub + 5, sizeof(rel));
		uint64_t target = off + 9 + (uint64_t)(int64_t)rel;
		if (!tail)
			tail = target;
		assert_int_equal(target, tail); /* one tail for all */
	}
	assert_true(trap_stub_is_irq_tail(tail + 1));
	assert_false(trap_stub_is_irq_tail(LAYOUT_TRAP_STUBS));
	/* The tail: push rax, push rdx, EOI at the local APIC, out to the
	 * trap port, pop, drop vector and error code, iretq. */
	const uint8_t code[] = { 0x50, 0x52, 0xb8, 0xb0, 0x00, 0xe0, 0xfe, 0xc7, 0x00, 0, 0, 0, 0,
				 0x66, 0xba, PVMM_PORT_TRAP & 0xff, PVMM_PORT_TRAP >> 8, 0xef,
				 0x5a, 0x58, 0x48, 0x83, 0xc4, 0x10, 0x48, 0xcf };
	assert_memory_equal(f->mem.host + tail, code, sizeof(code));
	for (unsigned v = PVMM_IRQ_VECTOR_BASE + TRAP_IRQ_PINS; v < TRAP_IDT_VECTORS; v++) {
		const uint8_t *g = f->mem.host + LAYOUT_IDT + v * 16;
		const uint8_t *stub = f->mem.host + gate_offset(g);
		assert_true(stub[0] == 0x48 && stub[1] == 0xcf); /* iretq */
	}
}

/* Ring 3 cannot reach the interrupt controllers; the stubs (CPL0) can. */
static void test_ring3_apic_pages_are_supervisor_only(void **state)
{
	struct fixture *f = *state;
	uint64_t pa;
	assert_true(pagetable_translate(&f->mem, f->cr3, PVMM_LAPIC_BASE + PVMM_LAPIC_EOI, &pa));
	assert_int_equal(pa, PVMM_LAPIC_BASE + PVMM_LAPIC_EOI);
	assert_false(pagetable_user_writable(&f->mem, f->cr3, PVMM_LAPIC_BASE, 4));
	assert_false(pagetable_user_writable(&f->mem, f->cr3, 0xfec00000, 4));
	assert_false(pagetable_user_writable(&f->mem, f->cr3, LAYOUT_IDT, 16));
	assert_true(pagetable_user_writable(&f->mem, f->cr3, LAYOUT_STACK_TOP - 64, 64));
	assert_true(pagetable_user_writable(&f->mem, f->cr3, PVMM_IMAGE_MIN, 4096 * 3));
	/* A range that ends in a supervisor page is refused as a whole. */
	assert_false(pagetable_user_writable(&f->mem, f->cr3, LAYOUT_STACK_TOP - 8, 16));
	uint64_t v = 7;
	assert_false(pagetable_write_user(&f->mem, f->cr3, LAYOUT_IDT, &v, sizeof(v)));
	assert_true(pagetable_write_user(&f->mem, f->cr3, PVMM_IMAGE_MIN + 4092, &v, sizeof(v)));
	uint64_t back;
	memcpy(&back, f->mem.host + PVMM_IMAGE_MIN + 4092, sizeof(back));
	assert_int_equal(back, 7);
}

static void test_ring0_has_no_io_bitmap_or_user_pages(void **state)
{
	struct fixture *f = *state;
	assert_false(user_page(f, PVMM_IMAGE_MIN));
	assert_false(user_page(f, LAYOUT_BOOT_INFO));
	assert_int_equal(read_u64(&f->mem, LAYOUT_GDT + (PVMM_SEL_USER_CODE & ~7)), 0);
	assert_int_equal(read_u64(&f->mem, LAYOUT_IDT), 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup_tables, teardown_tables)
#define T3(fn) cmocka_unit_test_setup_teardown(fn, setup_ring3, teardown_tables)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_cr3_is_the_pml4),
		T(test_ram_is_identity_mapped),
		T(test_every_ram_page_is_identity_mapped_except_holes),
		T(test_page_zero_is_unmapped),
		T(test_guard_pages_are_unmapped),
		T(test_stacks_are_mapped),
		T(test_monitor_structures_are_mapped),
		T(test_device_window_below_4gib_is_identity),
		T(test_4gib_and_above_unmapped),
		T(test_non_canonical_rejected),
		T(test_large_pages_have_ps),
		T(test_pml4_pointing_outside_ram_fails_safely),
		T(test_lower_levels_pointing_outside_ram_fail_safely),
		T(test_cr3_outside_ram_fails_safely),
		T(test_not_present_entry_unmaps),
		T(test_guest_1gib_page_translates),
		T(test_gdt_code_descriptor_is_64bit),
		T(test_gdt_data_descriptor_is_writable),
		T(test_gdt_tss_descriptor_points_at_tss),
		T(test_tss_ist1_is_ist_top),
		T(test_tables_do_not_touch_image_area),
		T(test_ring0_has_no_io_bitmap_or_user_pages),
		T3(test_ring3_monitor_pages_are_supervisor_only),
		T3(test_ring3_guest_pages_are_user),
		T3(test_ring3_io_bitmap_opens_exactly_the_ports),
		T3(test_ring3_gdt_user_segments_are_dpl3),
		T3(test_ring3_idt_gates_enter_the_stubs),
		T3(test_ring3_interrupt_gates_end_and_report),
		T3(test_ring3_apic_pages_are_supervisor_only),
		T3(test_tables_do_not_touch_image_area),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
