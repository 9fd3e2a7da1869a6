/*
 * malloc and friends, on top of the page allocator.
 *
 * Small requests (block of header + payload up to 2 KiB) use power-of-two
 * size classes of 32 .. 2048 bytes: each class has a free list and a bump
 * pointer into its current page, so an allocation is a pop or a bump, a
 * few dozen instructions with no carving loop. Larger requests get their
 * own run of pages, returned to the page allocator on free.
 *
 * Every block starts with a 16-byte header (so payloads stay 16-byte
 * aligned) holding a magic that says "in use" or "free": free() and
 * realloc() check it to catch double frees and pointers malloc never
 * returned, and abort the VM with a message instead of corrupting memory.
 *
 * Several CPUs: the size classes are under heap_lock (a blocking lock);
 * the page allocator has a lock of its own, always taken after this one.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <pvmm/guest.h>
#include <pvmm/smp.h>
#include "runtime.h"

#define MAGIC_USED 0x4b4f4c42u /* "BLOK" */
#define MAGIC_FREE 0x45455246u /* "FREE" */

#define MIN_SHIFT 5            /* smallest block: 32 bytes */
#define CLASS_COUNT 7          /* 32, 64, ..., 2048 */
#define CLASS_LARGE 0xffffu
#define RUN_HEADER_OFFSET 16
#define MAX_SMALL_BLOCK (1u << (MIN_SHIFT + CLASS_COUNT - 1))

struct block_header {
	uint32_t magic;
	uint16_t class;       /* size class, or CLASS_LARGE */
	uint16_t reserved;
	uint32_t pages;       /* large: pages in the run */
	uint32_t lead_pages;  /* large: pages of the run before the header's page */
};
_Static_assert(sizeof(struct block_header) == 16, "header keeps payloads 16-aligned");

struct free_block {
	struct free_block *next;
};

struct size_class {
	struct free_block *free;  /* freed payloads */
	uintptr_t bump, bump_end; /* rest of the current page */
};

static struct size_class classes[CLASS_COUNT];
static pvmm_spinlock_t heap_lock = PVMM_SPINLOCK_INIT;

static struct block_header *header_of(void *p)
{
	return (struct block_header *)p - 1;
}

/* The header of p, or an abort if p is not a live block. */
static struct block_header *checked_header(void *p, const char *who)
{
	const struct pvmm_boot_info *bi = pvmm_boot_info();
	uintptr_t addr = (uintptr_t)p;
	if (addr % 16 || addr < bi->usable_start + sizeof(struct block_header) ||
	    addr >= bi->usable_end)
		panic("%s(%p): invalid pointer (not from malloc)", who, p);
	struct block_header *h = header_of(p);
	if (h->magic == MAGIC_FREE)
		panic("%s(%p): double free", who, p);
	if (h->magic != MAGIC_USED || (h->class >= CLASS_COUNT && h->class != CLASS_LARGE))
		panic("%s(%p): invalid pointer or corrupted heap", who, p);
	return h;
}

static size_t usable_size(void *p, struct block_header *h)
{
	if (h->class != CLASS_LARGE)
		return ((size_t)1 << (h->class + MIN_SHIFT)) - sizeof(*h);
	uintptr_t run = ((uintptr_t)h & ~(uintptr_t)(PVMM_PAGE_SIZE - 1)) -
			(uintptr_t)h->lead_pages * PVMM_PAGE_SIZE;
	return run + (size_t)h->pages * PVMM_PAGE_SIZE - (uintptr_t)p;
}

/* A large block whose payload is aligned to `alignment` (a power of two). */
static void *large_alloc(size_t size, size_t alignment)
{
	if (size > SIZE_MAX / 2 || alignment > SIZE_MAX / 4)
		return NULL;
	/* The header sits 16 bytes into the run, clear of the node page_free
	 * writes at the run's start, so a double free still finds "FREE". */
	size_t need = size + RUN_HEADER_OFFSET + sizeof(struct block_header);
	if (alignment > 16)
		need += alignment; /* room to slide the payload up */
	size_t pages = (need + PVMM_PAGE_SIZE - 1) / PVMM_PAGE_SIZE;
	if (pages > UINT32_MAX)
		return NULL;
	uintptr_t run = (uintptr_t)page_alloc(pages);
	if (!run)
		return NULL;
	uintptr_t payload = run + RUN_HEADER_OFFSET + sizeof(struct block_header);
	if (alignment > 16)
		payload = (payload + alignment - 1) & ~(uintptr_t)(alignment - 1);
	struct block_header *h = header_of((void *)payload);
	h->magic = MAGIC_USED;
	h->class = CLASS_LARGE;
	h->reserved = 0;
	h->pages = (uint32_t)pages;
	h->lead_pages = (uint32_t)((((uintptr_t)h & ~(uintptr_t)(PVMM_PAGE_SIZE - 1)) - run) / PVMM_PAGE_SIZE);
	return (void *)payload;
}

static void *malloc_locked(size_t size)
{
	if (size > MAX_SMALL_BLOCK - sizeof(struct block_header))
		return large_alloc(size, 16);

	/* Smallest class whose block holds header + size. */
	unsigned int cls = 0;
	while (((size_t)1 << (cls + MIN_SHIFT)) < size + sizeof(struct block_header))
		cls++;
	struct size_class *c = &classes[cls];
	size_t block = (size_t)1 << (cls + MIN_SHIFT);

	struct block_header *h;
	if (c->free) {
		h = header_of(c->free);
		c->free = c->free->next;
	} else {
		if (c->bump == c->bump_end) {
			c->bump = (uintptr_t)page_alloc(1);
			if (!c->bump)
				return NULL;
			c->bump_end = c->bump + PVMM_PAGE_SIZE;
		}
		h = (struct block_header *)c->bump;
		c->bump += block;
		h->class = (uint16_t)cls;
	}
	h->magic = MAGIC_USED;
	return h + 1;
}

void *malloc(size_t size)
{
	pvmm_spin_lock_blocking(&heap_lock);
	void *p = malloc_locked(size);
	pvmm_spin_unlock(&heap_lock);
	return p;
}

static void free_locked(void *p)
{
	struct block_header *h = checked_header(p, "free");
	h->magic = MAGIC_FREE;
	if (h->class == CLASS_LARGE) {
		uintptr_t run = ((uintptr_t)h & ~(uintptr_t)(PVMM_PAGE_SIZE - 1)) -
				(uintptr_t)h->lead_pages * PVMM_PAGE_SIZE;
		page_free((void *)run, h->pages);
		return;
	}
	struct free_block *b = p;
	b->next = classes[h->class].free;
	classes[h->class].free = b;
}

void free(void *p)
{
	if (!p)
		return;
	pvmm_spin_lock_blocking(&heap_lock);
	free_locked(p);
	pvmm_spin_unlock(&heap_lock);
}

void *calloc(size_t count, size_t size)
{
	if (size && count > SIZE_MAX / size)
		return NULL;
	void *p = malloc(count * size);
	if (p)
		memset(p, 0, count * size);
	return p;
}

void *realloc(void *p, size_t size)
{
	if (!p)
		return malloc(size);
	pvmm_spin_lock_blocking(&heap_lock);
	struct block_header *h = checked_header(p, "realloc");
	size_t have = usable_size(p, h);
	pvmm_spin_unlock(&heap_lock);
	if (size <= have)
		return p;
	void *q = malloc(size);
	if (!q)
		return NULL;
	memcpy(q, p, have);
	free(p);
	return q;
}

void *aligned_alloc(size_t alignment, size_t size)
{
	if (alignment == 0 || (alignment & (alignment - 1)))
		return NULL;
	if (alignment <= 16)
		return malloc(size);
	/* Small blocks are only 16-aligned in general, so take pages. */
	pvmm_spin_lock_blocking(&heap_lock);
	void *p = large_alloc(size, alignment);
	pvmm_spin_unlock(&heap_lock);
	return p;
}
