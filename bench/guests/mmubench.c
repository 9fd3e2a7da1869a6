/*
 * mmubench: the cost of changing page mappings, through the PV MMU call
 * (PVMM_CALL_MMU) against a ring-0 guest writing its own page-table
 * entries.
 *
 *   mmubench [n=N] [rounds=R] [mode=pv|direct|all]
 *
 * Each round maps N consecutive 4 KiB pages at 2 GiB onto N pages of RAM,
 * then unmaps them. mode=pv: one batch of N MAP ops and one of N UNMAP
 * ops per round (one call, one exit, each). mode=direct: the guest builds
 * its own identity-mapped tables, loads them into CR3 and writes each PTE
 * itself followed by invlpg (ring 0 only: at ring 3 the guest can neither
 * write the monitor's tables nor load CR3, and the mode refuses). Prints
 * one line per mode:
 *   mmubench mode=pv n=256 rounds=R ns_per_map=... ns_per_unmap=...
 *     ns_per_batch=... calls_per_batch=1
 *   mmubench mode=direct n=256 rounds=R ns_per_map=... ns_per_unmap=...
 * (`--stats` gives the run's exits; pv makes 2 * rounds MMU calls.)
 * Default n=256 (max PVMM_MMU_OPS_MAX), rounds=20, mode=all.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pvmm/guest.h>
#include <pvmm/mmu.h>

#define FAR 0x80000000ull

static struct pvmm_mmu_op ops[PVMM_MMU_OPS_MAX];

static int pv(unsigned n, unsigned rounds, uint64_t ram)
{
	uint64_t map_ns = 0, unmap_ns = 0;
	for (unsigned r = 0; r < rounds; r++) {
		for (unsigned i = 0; i < n; i++)
			ops[i] = (struct pvmm_mmu_op){ .va = FAR + i * 4096ull, .pa = ram + i * 4096ull,
						       .kind = PVMM_MMU_MAP, .flags = PVMM_MMU_WRITE, .pages = 1 };
		uint64_t t0 = pvmm_now_ns();
		int64_t ret = pvmm_mmu_batch(ops, n, NULL);
		uint64_t t1 = pvmm_now_ns();
		if (ret != (int64_t)n) {
			printf("mmubench FAIL: map batch returned %lld\n", (long long)ret);
			return 1;
		}
		for (unsigned i = 0; i < n; i++)
			ops[i] = (struct pvmm_mmu_op){ .va = FAR + i * 4096ull, .kind = PVMM_MMU_UNMAP, .pages = 1 };
		uint64_t t2 = pvmm_now_ns();
		ret = pvmm_mmu_batch(ops, n, NULL);
		uint64_t t3 = pvmm_now_ns();
		if (ret != (int64_t)n) {
			printf("mmubench FAIL: unmap batch returned %lld\n", (long long)ret);
			return 1;
		}
		map_ns += t1 - t0;
		unmap_ns += t3 - t2;
	}
	printf("mmubench mode=pv n=%u rounds=%u ns_per_map=%llu ns_per_unmap=%llu ns_per_batch=%llu calls_per_batch=1\n",
	       n, rounds, (unsigned long long)(map_ns / ((uint64_t)rounds * n)),
	       (unsigned long long)(unmap_ns / ((uint64_t)rounds * n)), (unsigned long long)(map_ns / rounds));
	return 0;
}

static inline void invlpg(uint64_t va)
{
	__asm__ volatile("invlpg (%0)" : : "r"(va) : "memory");
}

static int direct(unsigned n, unsigned rounds, uint64_t ram)
{
	if (pvmm_boot_info()->ring != 0) {
		printf("mmubench mode=direct refused: the guest runs at ring %u; writing page tables needs ring 0\n",
		       pvmm_boot_info()->ring);
		return 1;
	}
	/* Own tables: PML4, PDPT, 4 directories of 2 MiB identity pages,
	 * and one page table for the 2 MiB at FAR. */
	uint64_t *t = page_alloc(7);
	if (!t) {
		puts("mmubench FAIL: no RAM for page tables");
		return 1;
	}
	memset(t, 0, 7 * 4096);
	uint64_t *pml4 = t, *pdpt = t + 512, *pd = t + 1024, *pt = t + 6 * 512;
	pml4[0] = (uint64_t)(uintptr_t)pdpt | 3;
	for (unsigned g = 0; g < 4; g++) {
		pdpt[g] = (uint64_t)(uintptr_t)(pd + g * 512) | 3;
		for (unsigned i = 0; i < 512; i++)
			pd[g * 512 + i] = (((uint64_t)g << 30) + ((uint64_t)i << 21)) | 0x83;
	}
	pd[(FAR >> 21) & 2047] = (uint64_t)(uintptr_t)pt | 3;
	uint64_t old_cr3;
	__asm__ volatile("mov %%cr3, %0" : "=r"(old_cr3));
	__asm__ volatile("mov %0, %%cr3" : : "r"((uint64_t)(uintptr_t)pml4) : "memory");

	uint64_t map_ns = 0, unmap_ns = 0;
	for (unsigned r = 0; r < rounds; r++) {
		uint64_t t0 = pvmm_now_ns();
		for (unsigned i = 0; i < n; i++) {
			pt[i] = (ram + i * 4096ull) | 3;
			invlpg(FAR + i * 4096ull);
		}
		uint64_t t1 = pvmm_now_ns();
		for (unsigned i = 0; i < n; i++) {
			pt[i] = 0;
			invlpg(FAR + i * 4096ull);
		}
		uint64_t t2 = pvmm_now_ns();
		map_ns += t1 - t0;
		unmap_ns += t2 - t1;
	}
	__asm__ volatile("mov %0, %%cr3" : : "r"(old_cr3) : "memory");
	printf("mmubench mode=direct n=%u rounds=%u ns_per_map=%llu ns_per_unmap=%llu\n", n, rounds,
	       (unsigned long long)(map_ns / ((uint64_t)rounds * n)),
	       (unsigned long long)(unmap_ns / ((uint64_t)rounds * n)));
	return 0;
}

int main(int argc, char **argv)
{
	unsigned n = 256, rounds = 20;
	const char *mode = "all";
	for (int i = 1; i < argc; i++) {
		if (!strncmp(argv[i], "n=", 2))
			n = (unsigned)strtoul(argv[i] + 2, NULL, 0);
		else if (!strncmp(argv[i], "rounds=", 7))
			rounds = (unsigned)strtoul(argv[i] + 7, NULL, 0);
		else if (!strncmp(argv[i], "mode=", 5))
			mode = argv[i] + 5;
		else {
			printf("mmubench: unknown argument '%s'\n", argv[i]);
			return 2;
		}
	}
	if (n == 0 || n > PVMM_MMU_OPS_MAX || n > 512 || rounds == 0) {
		printf("mmubench: n must be 1..%u, rounds at least 1\n", PVMM_MMU_OPS_MAX);
		return 2;
	}
	void *ram = page_alloc(n);
	if (!ram) {
		puts("mmubench FAIL: no RAM to map");
		return 1;
	}
	uint64_t pa = (uint64_t)(uintptr_t)ram;
	int all = !strcmp(mode, "all");
	if (all || !strcmp(mode, "pv"))
		if (pv(n, rounds, pa))
			return 1;
	if (all || !strcmp(mode, "direct")) {
		int ret = direct(n, rounds, pa);
		/* mode=all at ring 3: the refusal is the answer, not a failure. */
		if (ret && !(all && pvmm_boot_info()->ring != 0))
			return 1;
	}
	return 0;
}
