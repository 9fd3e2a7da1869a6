/*
 * The PV MMU without KVM (src/pvmmu.c): batches applied to the boot
 * tables in plain memory, checked with pagetable_translate() on the live
 * root; all-or-nothing; the pool recycled many times over.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "layout.h"
#include "pagetable.h"
#include "pvmmu.h"
#include "snapshot_format.h"

#define MEM (8ull << 20)
#define OPS_GPA 0x200000ull
#define FAR 0x80000000ull

static int setup(void **state)
{
	struct vm *vm = calloc(1, sizeof(*vm));
	if (!vm || guest_mem_init(&vm->mem, MEM, 0))
		return -1;
	vm->vm_fd = -1;
	vm->ring = 3;
	pagetable_build(&vm->mem, true);
	layout_mark_private(&vm->mem, 3);
	if (pvmmu_init(vm, false))
		return -1;
	*state = vm;
	return 0;
}

static int teardown(void **state)
{
	struct vm *vm = *state;
	pvmmu_free(vm);
	guest_mem_free(&vm->mem);
	free(vm);
	return 0;
}

static int64_t batch(struct vm *vm, const struct pvmm_mmu_op *ops, uint32_t count, uint64_t *failed)
{
	memcpy(guest_mem_ptr(&vm->mem, OPS_GPA, count * sizeof(*ops)), ops, count * sizeof(*ops));
	struct pvmm_mmu_args a = { .ops = OPS_GPA, .count = count };
	int64_t ret = pvmmu_call(vm, &a);
	if (failed)
		*failed = a.failed;
	return ret;
}

/* The live tree's translation of va, or ~0 if unmapped. */
static uint64_t xlate(struct vm *vm, uint64_t va)
{
	uint64_t pa;
	return pagetable_translate(&vm->mem, pvmmu_root(vm), va, &pa) ? pa : ~0ull;
}

static void test_map_unmap_translate(void **state)
{
	struct vm *vm = *state;
	struct pvmm_mmu_op op = { .va = FAR, .pa = 0x300000, .kind = PVMM_MMU_MAP, .flags = PVMM_MMU_WRITE, .pages = 3 };
	assert_int_equal(batch(vm, &op, 1, NULL), 1);
	assert_int_not_equal(pvmmu_root(vm), LAYOUT_PML4);
	assert_int_equal(xlate(vm, FAR + 0x10), 0x300010);
	assert_int_equal(xlate(vm, FAR + 0x2fff), 0x302fff);
	/* The rest of that 2 MiB page was split, still identity-mapped. */
	assert_int_equal(xlate(vm, FAR + 0x3000), FAR + 0x3000);
	/* Identity elsewhere, the low holes still holes. */
	assert_int_equal(xlate(vm, 0x400000), 0x400000);
	assert_int_equal(xlate(vm, 0), ~0ull);
	/* The boot tables themselves are never written. */
	uint64_t pa;
	assert_true(pagetable_translate(&vm->mem, LAYOUT_PML4, FAR + 0x10, &pa));
	assert_int_equal(pa, FAR + 0x10);

	op = (struct pvmm_mmu_op){ .va = FAR + 0x1000, .kind = PVMM_MMU_UNMAP, .pages = 1 };
	assert_int_equal(batch(vm, &op, 1, NULL), 1);
	assert_int_equal(xlate(vm, FAR + 0x1000), ~0ull);
	assert_int_equal(xlate(vm, FAR), 0x300000);
}

static void test_refused_batch_changes_nothing(void **state)
{
	struct vm *vm = *state;
	struct pvmm_mmu_op ops[3] = {
		{ .va = FAR, .pa = 0x300000, .kind = PVMM_MMU_MAP, .pages = 1 },
		{ .va = 0x500000, .kind = PVMM_MMU_UNMAP, .pages = 1 },
		{ .va = 0x600000, .pa = LAYOUT_PML4, .kind = PVMM_MMU_MAP, .pages = 1 }, /* private: EFAULT */
	};
	uint64_t failed = 99, root = pvmmu_root(vm);
	assert_int_equal(batch(vm, ops, 3, &failed), -PVMM_EFAULT);
	assert_int_equal(failed, 2);
	assert_int_equal(pvmmu_root(vm), root);
	assert_int_equal(xlate(vm, FAR), FAR);
	assert_int_equal(xlate(vm, 0x500000), 0x500000);

	/* A PROTECT of an unmapped page is found while applying: the staged
	 * pages go back, the live tree stays. */
	ops[1] = (struct pvmm_mmu_op){ .va = 0x500000, .kind = PVMM_MMU_UNMAP, .pages = 1 };
	ops[2] = (struct pvmm_mmu_op){ .va = 0x500000, .kind = PVMM_MMU_PROTECT, .pages = 1 };
	assert_int_equal(batch(vm, ops, 3, &failed), -PVMM_EINVAL);
	assert_int_equal(failed, 2);
	assert_int_equal(pvmmu_root(vm), root);
	assert_int_equal(xlate(vm, 0x500000), 0x500000);

	struct pvmm_mmu_args a = { .ops = LAYOUT_IDT, .count = 1 };
	assert_int_equal(pvmmu_call(vm, &a), -PVMM_EFAULT);
	a = (struct pvmm_mmu_args){ .ops = OPS_GPA, .count = PVMM_MMU_OPS_MAX + 1 };
	assert_int_equal(pvmmu_call(vm, &a), -PVMM_EINVAL);
}

static void test_protect_and_user_bits(void **state)
{
	struct vm *vm = *state;
	struct pvmm_mmu_op op = { .va = 0x300000, .kind = PVMM_MMU_PROTECT, .pages = 1 };
	assert_int_equal(batch(vm, &op, 1, NULL), 1);
	/* Walk by hand: the leaf is present, user, read-only. */
	const uint64_t *t = guest_mem_ptr_private(&vm->mem, pvmmu_root(vm), 4096);
	for (int level = 3; level >= 1; level--) {
		uint64_t e = t[(0x300000ull >> (12 + 9 * level)) & 511];
		assert_true((e & (PTE_P | PTE_US | PTE_RW)) == (PTE_P | PTE_US | PTE_RW));
		assert_false(e & PTE_PS);
		t = guest_mem_ptr_private(&vm->mem, e & PTE_ADDR_MASK, 4096);
	}
	assert_int_equal(t[0x300000 >> 12 & 511] & (PTE_P | PTE_US | PTE_RW), PTE_P | PTE_US);
}

/* Far more batches than the pool has pages for: recycling keeps it going
 * and the tree stays right. */
static void test_pool_recycles(void **state)
{
	struct vm *vm = *state;
	for (unsigned i = 0; i < 3000; i++) {
		struct pvmm_mmu_op op = { .va = FAR + (i % 7) * 0x200000, .pa = 0x300000 + (i % 5) * 0x1000,
					  .kind = PVMM_MMU_MAP, .pages = 1 };
		assert_int_equal(batch(vm, &op, 1, NULL), 1);
		assert_int_equal(xlate(vm, op.va + 8), op.pa + 8);
	}
	assert_true(pvmmu_recycles(vm) > 0);
	for (unsigned k = 0; k < 7; k++)
		assert_int_not_equal(xlate(vm, FAR + k * 0x200000), ~0ull);
}

/* The saved state loads back; a used[] byte other than 0 or 1 (found by
 * tests/fuzz/fuzz_snapshot: it was read straight into a bool, undefined
 * behaviour under UBSan) is refused. */
static void test_load_checks_used_bytes(void **state)
{
	struct vm *vm = *state;
	struct snap_writer w;
	struct snap_reader r;
	char err[128] = "";

	snap_writer_init(&w);
	snap_begin(&w, 4);
	pvmmu_save(vm, &w);
	snap_end(&w);
	assert_false(w.failed);
	struct snap_section_header *sh = (void *)(w.buf + sizeof(struct snap_header));
	struct snap_section sec = { .type = 4, .data = (uint8_t *)(sh + 1), .length = sh->length };
	snap_reader_init(&r, &sec);
	assert_int_equal(pvmmu_load(vm, &r, err, sizeof(err)), 0);
	assert_int_equal(r.left, 0);
	/* u32 pages, u64 root, gen, user, u32 batch, cursor, fresh, u64
	 * recycles: used[] starts 48 bytes in. */
	((uint8_t *)(sh + 1))[48 + 5] = 0x10;
	snap_reader_init(&r, &sec);
	assert_int_equal(pvmmu_load(vm, &r, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "malformed"));
	snap_writer_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_map_unmap_translate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_batch_changes_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_protect_and_user_bits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pool_recycles, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_checks_used_bytes, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
