#include "pagetable.h"

#include "layout.h"

#include <string.h>

#define IOAPIC_BASE 0xfec00000ull /* KVM's in-kernel IOAPIC window */

static void put_entry(struct guest_mem *mem, uint64_t table, unsigned index, uint64_t value)
{
	uint64_t *entries = guest_mem_ptr_private(mem, table, PAGE_SIZE);
	entries[index] = value;
}

/* 4 KiB pages below 2 MiB that stay unmapped: NULL and the two guards. */
static bool low_page_is_hole(uint64_t addr)
{
	return addr == 0 || addr == LAYOUT_IST_GUARD || addr == LAYOUT_STACK_GUARD;
}

/* Ring 3: the low pages CPL3 may touch: the boot info and argument
 * strings, the main stack, and (read-only) the PV clock page. Everything
 * else below 1 MiB is the monitor's (GDT, TSSes, page tables, IST stacks,
 * IDT, exception stubs). */
static bool low_page_is_user(uint64_t addr)
{
	return (addr >= LAYOUT_BOOT_INFO && addr < LAYOUT_ARGS_END) ||
	       (addr >= LAYOUT_STACK_GUARD + PAGE_SIZE && addr < LAYOUT_STACK_TOP) || addr >= LAYOUT_LOW_END;
}

uint64_t pagetable_build(struct guest_mem *mem, bool user)
{
	/* A CPL3 access needs U at every level of its walk. */
	const uint64_t flags = PTE_P | PTE_RW | (user ? PTE_US : 0);

	put_entry(mem, LAYOUT_PML4, 0, LAYOUT_PDPT | flags);
	for (unsigned gib = 0; gib < LAYOUT_PD_COUNT; gib++) {
		uint64_t pd = LAYOUT_PD + gib * PAGE_SIZE;
		put_entry(mem, LAYOUT_PDPT, gib, pd | flags);
		for (unsigned i = 0; i < 512; i++) {
			uint64_t addr = ((uint64_t)gib << 30) + (uint64_t)i * HUGE_PAGE_SIZE;
			/* Ring 3: the interrupt controllers are the monitor's (its
			 * stubs end interrupts); the guest cannot reach them. */
			bool apic = addr == (IOAPIC_BASE) ||
				    addr == (PVMM_LAPIC_BASE & ~(HUGE_PAGE_SIZE - 1));
			put_entry(mem, pd, i, addr | (apic ? flags & ~PTE_US : flags) | PTE_PS);
		}
	}
	/* The first 2 MiB goes through a page table so it can have holes
	 * (and, with ring 3, supervisor-only pages). */
	put_entry(mem, LAYOUT_PD, 0, LAYOUT_PT0 | flags);
	for (unsigned i = 0; i < 512; i++) {
		uint64_t addr = (uint64_t)i * PAGE_SIZE;
		uint64_t leaf = user && !low_page_is_user(addr) ? flags & ~PTE_US : flags;
		/* The PV clock page: the guest reads it, only the monitor writes. */
		if (user && addr == LAYOUT_CLOCK_PAGE)
			leaf = (flags | PTE_US) & ~PTE_RW;
		put_entry(mem, LAYOUT_PT0, i, low_page_is_hole(addr) ? 0 : (addr | leaf));
	}
	return LAYOUT_PML4;
}

bool pagetable_protect_boot(struct guest_mem *mem, uint64_t va)
{
	if (va >= HUGE_PAGE_SIZE)
		return false;
	uint64_t *entries = guest_mem_ptr_private(mem, LAYOUT_PT0, PAGE_SIZE);
	entries[va / PAGE_SIZE] &= ~PTE_RW;
	return true;
}

/* Read entry `index` of the table at `table_pa`; false if outside RAM. */
static bool read_entry(const struct guest_mem *mem, uint64_t table_pa, unsigned index, uint64_t *entry)
{
	const uint64_t *entries = guest_mem_ptr_private(mem, table_pa & PTE_ADDR_MASK, PAGE_SIZE);
	if (!entries)
		return false;
	*entry = entries[index];
	return true;
}

/* Walk the tables at `cr3` for `va`: the physical address and, in
 * *perm, the PTE_RW and PTE_US bits that hold at every level (a CPL3
 * write needs both everywhere). */
static bool walk(const struct guest_mem *mem, uint64_t cr3, uint64_t va, uint64_t *pa, uint64_t *perm)
{
	/* Canonical: bits 63..47 all equal. */
	uint64_t top = va >> 47;
	if (top != 0 && top != 0x1ffff)
		return false;

	uint64_t table = cr3;
	*perm = PTE_RW | PTE_US;
	for (int level = 3; level >= 0; level--) {
		unsigned shift = 12 + 9 * (unsigned)level;
		uint64_t entry;
		if (!read_entry(mem, table, (va >> shift) & 511, &entry) || !(entry & PTE_P))
			return false;
		*perm &= entry;
		/* PS at the PDPT (1 GiB) or PD (2 MiB) level ends the walk. */
		if ((level == 2 || level == 1) && (entry & PTE_PS)) {
			uint64_t page_mask = (1ull << shift) - 1;
			*pa = (entry & PTE_ADDR_MASK & ~page_mask) | (va & page_mask);
			return true;
		}
		if (level == 0) {
			*pa = (entry & PTE_ADDR_MASK) | (va & 0xfff);
			return true;
		}
		table = entry;
	}
	return false;
}

bool pagetable_translate(const struct guest_mem *mem, uint64_t cr3, uint64_t va, uint64_t *pa)
{
	uint64_t perm;
	return walk(mem, cr3, va, pa, &perm);
}

bool pagetable_user_writable(const struct guest_mem *mem, uint64_t cr3, uint64_t va, size_t len)
{
	uint64_t end = va + len;
	if (end < va)
		return false;
	for (uint64_t page = va & ~(PAGE_SIZE - 1); page < end; page += PAGE_SIZE) {
		uint64_t pa, perm;
		if (!walk(mem, cr3, page, &pa, &perm) || (perm & (PTE_RW | PTE_US)) != (PTE_RW | PTE_US) ||
		    !guest_mem_ptr(mem, pa, PAGE_SIZE - (pa & (PAGE_SIZE - 1))))
			return false;
	}
	return true;
}

bool pagetable_write_user(struct guest_mem *mem, uint64_t cr3, uint64_t va, const void *src, size_t len)
{
	const uint8_t *bytes = src;
	while (len) {
		uint64_t pa, perm;
		size_t chunk = PAGE_SIZE - (va & (PAGE_SIZE - 1));
		if (chunk > len)
			chunk = len;
		if (!walk(mem, cr3, va, &pa, &perm) || (perm & (PTE_RW | PTE_US)) != (PTE_RW | PTE_US))
			return false;
		uint8_t *dst = guest_mem_ptr(mem, pa, chunk);
		if (!dst)
			return false;
		memcpy(dst, bytes, chunk);
		bytes += chunk;
		va += chunk;
		len -= chunk;
	}
	return true;
}
