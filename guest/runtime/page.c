/*
 * Page allocator over the boot info's usable RAM.
 *
 * Init only records the bounds: walking RAM would cost a few interpreted
 * instructions per page. Fresh pages come from a bump pointer; freed runs
 * go on an address-ordered list (their first bytes hold the list node),
 * merged with their neighbours, and a run that ends at the bump pointer
 * moves the pointer back instead. Allocation takes the first run that is
 * big enough, else bumps. Pages are handed out as they are, not zeroed:
 * zeroing is the caller's call (calloc does it), and reused pages hold old
 * data.
 *
 * Several CPUs: the public calls hold page_lock (malloc takes its own lock
 * first, never the other way round).
 *
 * Ring 3: the heap grows on demand. At init the RAM above the bump
 * pointer's 2 MiB is unmapped with the PV MMU (whole 2 MiB pages: a few
 * directory entries, one call), so a stray pointer into RAM nothing has
 * been given is a page fault, not a silent write; the bump pointer maps
 * the next 2 MiB pages back as it moves into them (one call each time).
 * At ring 0 the runtime keeps the monitor's identity map as it is.
 */
#include <stdint.h>
#include <pvmm/guest.h>
#include <pvmm/irq.h>
#include <pvmm/mmu.h>
#include <pvmm/smp.h>
#include "runtime.h"

struct free_run {
	struct free_run *next;
	size_t pages;
};

static uintptr_t bump;      /* next never-used page */
static uintptr_t bump_end;  /* end of usable RAM */
static struct free_run *free_runs; /* address order */
static size_t free_run_pages;      /* pages on free_runs */
static pvmm_spinlock_t page_lock = PVMM_SPINLOCK_INIT;

#define LARGE ((uintptr_t)2 << 20)
#define PAGES_PER_LARGE (LARGE / PVMM_PAGE_SIZE)
/* Ring 3: RAM from mapped_end to unmapped_end is unmapped until the bump
 * pointer grows into it; 0 and 0 when nothing is (ring 0, or a monitor
 * without the MMU call). */
static uintptr_t mapped_end, unmapped_end;
static struct pvmm_mmu_op heap_ops[PVMM_MMU_OPS_MAX];

/* Map (kind MAP, identity, writable) or unmap whole 2 MiB pages from
 * `from` to `to`, PVMM_MMU_OPS_MAX at a time: 0, or -1 if a call failed
 * (what earlier calls did stays done). */
static int heap_remap(uint32_t kind, uintptr_t from, uintptr_t to)
{
	while (from < to) {
		unsigned n = 0;
		for (; from < to && n < PVMM_MMU_OPS_MAX; from += LARGE, n++)
			heap_ops[n] = (struct pvmm_mmu_op){
				.va = from, .pa = kind == PVMM_MMU_MAP ? from : 0, .kind = kind,
				.flags = kind == PVMM_MMU_MAP ? PVMM_MMU_RW : 0, .pages = (uint32_t)PAGES_PER_LARGE,
			};
		if (pvmm_mmu_batch(heap_ops, n, NULL) != (int64_t)n)
			return -1;
	}
	return 0;
}

void page_init(uint64_t start, uint64_t end)
{
	bump = (uintptr_t)((start + PVMM_PAGE_SIZE - 1) & ~(uint64_t)(PVMM_PAGE_SIZE - 1));
	bump_end = (uintptr_t)(end & ~(uint64_t)(PVMM_PAGE_SIZE - 1));
	if (bump > bump_end)
		bump = bump_end;
	if (pvmm_ring() != 3)
		return;
	uintptr_t from = (bump + LARGE - 1) & ~(LARGE - 1), to = bump_end & ~(LARGE - 1);
	/* The first call either works or changes nothing (all or nothing). */
	if (from < to && heap_remap(PVMM_MMU_UNMAP, from, to) == 0) {
		mapped_end = from;
		unmapped_end = to;
	}
}

/* Map RAM back up to (at least) `need`; false if the monitor refused. */
static bool heap_grow(uintptr_t need)
{
	uintptr_t to = (need + LARGE - 1) & ~(LARGE - 1);
	if (to > unmapped_end)
		to = unmapped_end;
	if (heap_remap(PVMM_MMU_MAP, mapped_end, to))
		return false;
	mapped_end = to;
	return true;
}

static void *alloc_locked(size_t n)
{
	if (n == 0)
		return NULL;
	for (struct free_run **link = &free_runs; *link; link = &(*link)->next) {
		struct free_run *run = *link;
		if (run->pages < n)
			continue;
		if (run->pages == n) {
			*link = run->next;
		} else {
			/* Hand out the tail: the node stays where it is. */
			run->pages -= n;
			run = (struct free_run *)((uintptr_t)run + run->pages * PVMM_PAGE_SIZE);
		}
		free_run_pages -= n;
		return run;
	}
	if (n > (bump_end - bump) / PVMM_PAGE_SIZE)
		return NULL;
	void *p = (void *)bump;
	uintptr_t next = bump + n * PVMM_PAGE_SIZE;
	if (next > mapped_end && mapped_end < unmapped_end && !heap_grow(next))
		return NULL;
	bump = next;
	return p;
}

void *page_alloc(size_t n)
{
	pvmm_spin_lock_blocking(&page_lock);
	void *p = alloc_locked(n);
	pvmm_spin_unlock(&page_lock);
	return p;
}

static void free_locked(void *p, size_t n)
{
	uintptr_t start = (uintptr_t)p;
	if (!p || n == 0)
		return;
	if (start % PVMM_PAGE_SIZE || start >= bump || n > (bump - start) / PVMM_PAGE_SIZE)
		panic("page_free(%p, %zu): not pages page_alloc handed out", p, n);
	uintptr_t end = start + n * PVMM_PAGE_SIZE;

	/* Find the neighbours: prev ends at or before start, next begins at
	 * or after end. */
	struct free_run *prev = NULL, *next = free_runs;
	while (next && (uintptr_t)next < start) {
		prev = next;
		next = next->next;
	}
	uintptr_t prev_end = prev ? (uintptr_t)prev + prev->pages * PVMM_PAGE_SIZE : 0;
	if ((prev && prev_end > start) || (next && (uintptr_t)next < end))
		panic("page_free(%p, %zu): pages already free", p, n);

	struct free_run *run;
	if (prev && prev_end == start) {
		prev->pages += n; /* grow prev over the freed pages */
		run = prev;
	} else {
		run = (struct free_run *)start;
		run->pages = n;
		run->next = next;
		if (prev)
			prev->next = run;
		else
			free_runs = run;
	}
	free_run_pages += n;
	if (next && (uintptr_t)next == end) {
		run->pages += next->pages;
		run->next = next->next;
	}

	/* The last run touching the bump pointer goes back to the bump area
	 * (it is always the list's tail). */
	if ((uintptr_t)run + run->pages * PVMM_PAGE_SIZE == bump && !run->next) {
		bump = (uintptr_t)run;
		free_run_pages -= run->pages;
		if (run == free_runs) {
			free_runs = NULL;
		} else {
			struct free_run *r = free_runs;
			while (r->next != run)
				r = r->next;
			r->next = NULL;
		}
	}
}

void page_free(void *p, size_t n)
{
	pvmm_spin_lock_blocking(&page_lock);
	free_locked(p, n);
	pvmm_spin_unlock(&page_lock);
}

size_t page_free_count(void)
{
	pvmm_spin_lock_blocking(&page_lock);
	size_t n = (bump_end - bump) / PVMM_PAGE_SIZE + free_run_pages;
	pvmm_spin_unlock(&page_lock);
	return n;
}
