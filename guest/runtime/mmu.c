/*
 * <pvmm/mmu.h>: the PVMM_CALL_MMU wrappers. A range longer than one op
 * allows (PVMM_MMU_PAGES_MAX) becomes several ops of one batch, so it
 * still changes all at once or not at all.
 */
#include <pvmm/guest.h>
#include <pvmm/mmu.h>
#include "runtime.h"

int64_t pvmm_mmu_batch(const struct pvmm_mmu_op *ops, unsigned count, uint64_t *failed)
{
	_Alignas(8) struct pvmm_mmu_args args = {
		.ops = (uint64_t)(uintptr_t)ops,
		.count = count,
	};
	int64_t ret = pvmm_hypercall(PVMM_CALL_MMU, &args);
	if (failed)
		*failed = args.failed;
	return ret;
}

static int range(uint32_t kind, uint64_t va, uint64_t pa, size_t pages, unsigned flags)
{
	struct pvmm_mmu_op ops[8];
	unsigned n = 0;

	if (pages == 0)
		return 0;
	if (pages > (size_t)PVMM_MMU_PAGES_MAX * 8)
		return -PVMM_EINVAL;
	while (pages) {
		uint32_t chunk = pages > PVMM_MMU_PAGES_MAX ? PVMM_MMU_PAGES_MAX : (uint32_t)pages;
		ops[n++] = (struct pvmm_mmu_op){ .va = va, .pa = kind == PVMM_MMU_MAP ? pa : 0, .kind = kind,
						 .flags = flags, .pages = chunk };
		va += (uint64_t)chunk * PVMM_PAGE_SIZE;
		pa += (uint64_t)chunk * PVMM_PAGE_SIZE;
		pages -= chunk;
	}
	int64_t ret = pvmm_mmu_batch(ops, n, NULL);
	return ret < 0 ? (int)ret : 0;
}

int pvmm_mmu_map(uint64_t va, uint64_t pa, size_t pages, unsigned flags)
{
	return range(PVMM_MMU_MAP, va, pa, pages, flags);
}

int pvmm_mmu_unmap(uint64_t va, size_t pages)
{
	return range(PVMM_MMU_UNMAP, va, 0, pages, 0);
}

int pvmm_mmu_protect(uint64_t va, size_t pages, unsigned flags)
{
	return range(PVMM_MMU_PROTECT, va, 0, pages, flags);
}

/* Start-up: text and read-only data (the image from its start up to
 * _ro_end, guest.ld) become read-only, so a stray write there faults.
 * A monitor without the call (-PVMM_ENOSYS) leaves them writable. */
void mmu_protect_image(void)
{
	extern const char _image_start[], _ro_end[];
	uint64_t start = (uint64_t)(uintptr_t)_image_start;
	uint64_t end = (uint64_t)(uintptr_t)_ro_end;
	if (end > start)
		(void)pvmm_mmu_protect(start, (end - start) / PVMM_PAGE_SIZE, PVMM_MMU_RO);
}
