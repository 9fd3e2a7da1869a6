/*
 * The PV MMU (PVMM_CALL_MMU, <pvmm/mmu.h>), one case per run:
 * `mmu.elf CASE [N]`. Cases that end in a fault print what they are about
 * to touch first; the monitor's fault report (status 65) is the result.
 *   text_write    write into the runtime's own text (read-only at start-up)
 *   rodata_write  write into read-only data
 *   unmap         unmap a page that was just written, then read it
 *   map           map a far virtual page onto a buffer, write through it,
 *                 read the buffer through its identity address; exit 0
 *   protect       make a page read-only: reading works, writing faults
 *   bad           refused batches: each prints `NAME ret=R failed=F`, and
 *                 nothing a refused batch held is applied; exit 0
 *   cycles N      N map/write/check/unmap rounds on one virtual page
 *                 (exhausts and recycles the monitor's table pool); exit 0
 *   smp           (--cpus 2) CPU 1 reads a mapped page in a loop; CPU 0
 *                 unmaps it: CPU 1 must fault before CPU 0 can see it read
 *                 again
 *   guard         (--cpus 2) CPU 1 overflows its stack into the guard page
 *   heap_beyond   read RAM 4 MiB past the heap's end, which nothing has
 *                 been given (ring 3: unmapped until the heap grows there)
 *   heap_grow N   malloc N MiB in 1 MiB blocks, write and check every page,
 *                 then free them: "heap ok N MiB"; exit 0
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pvmm/guest.h>
#include <pvmm/mmu.h>
#include <pvmm/smp.h>

#define FAR_VA 0x80000000ull /* 2 GiB: far above any test's RAM */

static unsigned char page_a[4096] __attribute__((aligned(4096)));
static unsigned char page_b[4096] __attribute__((aligned(4096)));
static const char rodata_word[4096] __attribute__((aligned(4096))) = "read-only";

static uint64_t addr(const void *p)
{
	return (uint64_t)(uintptr_t)p;
}

static void check(int ret, const char *what)
{
	if (ret) {
		printf("%s failed: %d\n", what, ret);
		exit(1);
	}
}

static void text_target(void)
{
}

static int case_text_write(void)
{
	volatile unsigned char *p = (volatile unsigned char *)(uintptr_t)text_target;
	printf("writing text at %#llx\n", (unsigned long long)addr((const void *)p));
	fflush(stdout);
	*p = 0xc3;
	puts("text write went through");
	return 1;
}

static int case_rodata_write(void)
{
	volatile char *p = (volatile char *)(uintptr_t)rodata_word;
	printf("writing rodata at %#llx\n", (unsigned long long)addr(rodata_word));
	fflush(stdout);
	*p = 'X';
	puts("rodata write went through");
	return 1;
}

static int case_unmap(void)
{
	volatile unsigned char *p = page_a;
	p[0] = 1;
	check(pvmm_mmu_unmap(addr(page_a), 1), "unmap");
	printf("unmapped %#llx\n", (unsigned long long)addr(page_a));
	fflush(stdout);
	unsigned v = p[0];
	printf("read %u from an unmapped page\n", v);
	return 1;
}

static int case_map(void)
{
	check(pvmm_mmu_map(FAR_VA, addr(page_b), 1, PVMM_MMU_RW), "map");
	volatile uint64_t *far = (volatile uint64_t *)(uintptr_t)FAR_VA;
	far[7] = 0x1234567890abcdefull;
	uint64_t seen = ((volatile uint64_t *)page_b)[7];
	printf("map %s: wrote via %#llx, read %#llx via %#llx\n", seen == 0x1234567890abcdefull ? "ok" : "BROKEN",
	       FAR_VA, (unsigned long long)seen, (unsigned long long)addr(page_b));
	/* A second mapping of the same page, read-only: reads see the data. */
	check(pvmm_mmu_map(FAR_VA + 4096, addr(page_b), 1, PVMM_MMU_RO), "map ro");
	printf("alias %s\n", ((volatile uint64_t *)(uintptr_t)(FAR_VA + 4096))[7] == seen ? "ok" : "BROKEN");
	check(pvmm_mmu_unmap(FAR_VA, 2), "unmap");
	return seen == 0x1234567890abcdefull ? 0 : 1;
}

static int case_protect(void)
{
	volatile unsigned char *p = page_a;
	p[5] = 42;
	check(pvmm_mmu_protect(addr(page_a), 1, PVMM_MMU_RO), "protect");
	printf("read-only page reads %u\n", p[5]);
	printf("writing read-only page %#llx\n", (unsigned long long)addr(page_a));
	fflush(stdout);
	p[5] = 43;
	puts("write to a read-only page went through");
	return 1;
}

/* ---- bad batches ---------------------------------------------------- */

static struct pvmm_mmu_op ops[PVMM_MMU_OPS_MAX + 1];

static void bad(const char *name, unsigned count)
{
	uint64_t failed = 999;
	int64_t ret = pvmm_mmu_batch(ops, count, &failed);
	printf("%s ret=%lld failed=%llu\n", name, (long long)ret, (unsigned long long)failed);
}

/* ops[0]: a valid op (unmap page_a); ops[1]: `op`. */
static void bad_second(const char *name, struct pvmm_mmu_op op)
{
	ops[0] = (struct pvmm_mmu_op){ .va = addr(page_a), .kind = PVMM_MMU_UNMAP, .pages = 1 };
	ops[1] = op;
	bad(name, 2);
}

static int case_bad(void)
{
	const uint64_t b = addr(page_b);
	uint64_t mem = pvmm_boot_info()->mem_size;
	volatile unsigned char *pa = page_a;
	pa[0] = 7;
	/* A mapping that must survive every refused batch. */
	check(pvmm_mmu_map(FAR_VA, b, 1, PVMM_MMU_RW), "map");
	check(pvmm_mmu_unmap(FAR_VA + 4096, 1), "unmap"); /* for protect_unmapped */

	bad_second("va_unaligned", (struct pvmm_mmu_op){ .va = FAR_VA + 8, .kind = PVMM_MMU_UNMAP, .pages = 1 });
	bad_second("va_low", (struct pvmm_mmu_op){ .va = 0xd6000, .kind = PVMM_MMU_UNMAP, .pages = 1 });
	bad_second("va_high", (struct pvmm_mmu_op){ .va = PVMM_MMU_VA_END, .kind = PVMM_MMU_UNMAP, .pages = 1 });
	bad_second("va_straddles_end",
		   (struct pvmm_mmu_op){ .va = PVMM_MMU_VA_END - 4096, .kind = PVMM_MMU_UNMAP, .pages = 2 });
	bad_second("va_noncanonical",
		   (struct pvmm_mmu_op){ .va = 0x800000000000ull, .kind = PVMM_MMU_UNMAP, .pages = 1 });
	bad_second("pages_zero", (struct pvmm_mmu_op){ .va = FAR_VA, .kind = PVMM_MMU_UNMAP, .pages = 0 });
	bad_second("pages_many",
		   (struct pvmm_mmu_op){ .va = FAR_VA, .kind = PVMM_MMU_UNMAP, .pages = PVMM_MMU_PAGES_MAX + 1 });
	bad_second("kind_zero", (struct pvmm_mmu_op){ .va = FAR_VA, .kind = 0, .pages = 1 });
	bad_second("kind_unknown", (struct pvmm_mmu_op){ .va = FAR_VA, .kind = 99, .pages = 1 });
	bad_second("flags_unknown",
		   (struct pvmm_mmu_op){ .va = FAR_VA, .pa = b, .kind = PVMM_MMU_MAP, .flags = 2, .pages = 1 });
	bad_second("reserved", (struct pvmm_mmu_op){ .va = FAR_VA, .kind = PVMM_MMU_UNMAP, .pages = 1, .reserved = 1 });
	bad_second("unmap_pa", (struct pvmm_mmu_op){ .va = FAR_VA, .pa = b, .kind = PVMM_MMU_UNMAP, .pages = 1 });
	bad_second("pa_unaligned",
		   (struct pvmm_mmu_op){ .va = FAR_VA, .pa = b + 1, .kind = PVMM_MMU_MAP, .pages = 1 });
	bad_second("pa_outside_ram",
		   (struct pvmm_mmu_op){ .va = FAR_VA, .pa = mem, .kind = PVMM_MMU_MAP, .pages = 1 });
	bad_second("pa_runs_out_of_ram",
		   (struct pvmm_mmu_op){ .va = FAR_VA, .pa = mem - 4096, .kind = PVMM_MMU_MAP, .pages = 2 });
	bad_second("pa_page_tables",
		   (struct pvmm_mmu_op){ .va = FAR_VA, .pa = 0x2000, .kind = PVMM_MMU_MAP, .pages = 1 });
	bad_second("pa_idt", (struct pvmm_mmu_op){ .va = FAR_VA, .pa = 0xd6000, .kind = PVMM_MMU_MAP, .pages = 1 });
	bad_second("pa_pool",
		   (struct pvmm_mmu_op){ .va = FAR_VA, .pa = 0x100000000ull, .kind = PVMM_MMU_MAP, .pages = 1 });
	bad_second("protect_unmapped",
		   (struct pvmm_mmu_op){ .va = FAR_VA + 4096, .kind = PVMM_MMU_PROTECT, .pages = 1 });
	bad("count_zero", 0);
	bad("count_many", PVMM_MMU_OPS_MAX + 1);
	{
		_Alignas(8) struct pvmm_mmu_args args = { .ops = 0xd6000, .count = 1 };
		int64_t ret = pvmm_hypercall(PVMM_CALL_MMU, &args);
		printf("ops_private ret=%lld\n", (long long)ret);
		args = (struct pvmm_mmu_args){ .ops = mem - 16, .count = 1 };
		ret = pvmm_hypercall(PVMM_CALL_MMU, &args);
		printf("ops_outside_ram ret=%lld\n", (long long)ret);
		args = (struct pvmm_mmu_args){ .ops = addr(ops), .count = 1, .reserved = 1 };
		ret = pvmm_hypercall(PVMM_CALL_MMU, &args);
		printf("block_reserved ret=%lld\n", (long long)ret);
	}
	/* Nothing changed: page_a is still mapped and writable (each batch's
	 * first op would have unmapped it), and FAR_VA still maps page_b. */
	pa[0] = 8;
	((volatile unsigned char *)(uintptr_t)FAR_VA)[1] = 9;
	printf("intact %s\n", pa[0] == 8 && page_b[1] == 9 ? "yes" : "NO");
	return 0;
}

static int case_cycles(unsigned long n)
{
	volatile uint64_t *far = (volatile uint64_t *)(uintptr_t)FAR_VA;
	for (unsigned long i = 0; i < n; i++) {
		unsigned char *target = i & 1 ? page_b : page_a;
		check(pvmm_mmu_map(FAR_VA, addr(target), 1, PVMM_MMU_RW), "map");
		far[i % 512] = i;
		if (((volatile uint64_t *)target)[i % 512] != i) {
			printf("round %lu: the write through %#llx missed %#llx\n", i, FAR_VA,
			       (unsigned long long)addr(target));
			return 1;
		}
		check(pvmm_mmu_unmap(FAR_VA, 1), "unmap");
	}
	printf("cycles %lu ok\n", n);
	return 0;
}

/* ---- several CPUs --------------------------------------------------- */

static volatile uint64_t reads;

static void reader(void *arg)
{
	(void)arg;
	volatile uint64_t *far = (volatile uint64_t *)(uintptr_t)FAR_VA;
	for (;;) {
		(void)far[0];
		__atomic_fetch_add(&reads, 1, __ATOMIC_SEQ_CST);
	}
}

static int case_smp(void)
{
	check(pvmm_mmu_map(FAR_VA, addr(page_a), 1, PVMM_MMU_RW), "map");
	check(pvmm_cpu_start(1, reader, NULL), "cpu_start");
	while (__atomic_load_n(&reads, __ATOMIC_SEQ_CST) < 1000)
		sleep_ns(PVMM_NS_PER_MS);
	printf("cpu 1 reads %#llx\n", FAR_VA);
	fflush(stdout);
	check(pvmm_mmu_unmap(FAR_VA, 1), "unmap");
	/* CPU 1 is now at most one read past the unmap; it faults on the
	 * next. If it still reads, the unmap did not reach it. */
	uint64_t after = __atomic_load_n(&reads, __ATOMIC_SEQ_CST);
	sleep_ns(200 * PVMM_NS_PER_MS);
	printf("cpu 1 still reads: %llu more reads after the unmap\n",
	       (unsigned long long)(__atomic_load_n(&reads, __ATOMIC_SEQ_CST) - after));
	return 1;
}

static unsigned recurse(unsigned n)
{
	volatile unsigned char pad[256];
	pad[0] = (unsigned char)n;
	return n ? recurse(n - 1) + pad[0] : 0;
}

static void overflow(void *arg)
{
	(void)arg;
	uint64_t sp = (uint64_t)(uintptr_t)__builtin_frame_address(0);
	printf("guard page %#llx\n", (unsigned long long)(sp & ~(uint64_t)(PVMM_CPU_STACK_SIZE - 1)));
	puts("cpu 1 overflows its stack");
	fflush(stdout);
	printf("recursion returned %u\n", recurse(100000));
}

static int case_guard(void)
{
	check(pvmm_cpu_start(1, overflow, NULL), "cpu_start");
	pvmm_cpu_join(1);
	puts("cpu 1 came back");
	return 1;
}

static int case_heap_beyond(void)
{
	void *p = malloc(64);
	uint64_t at = ((uint64_t)(uintptr_t)p + (4u << 20)) & ~4095ull;
	if (at >= pvmm_boot_info()->usable_end) {
		puts("heap_beyond needs more RAM");
		return 2;
	}
	printf("beyond %#llx\n", (unsigned long long)at);
	fflush(stdout);
	unsigned long long v = *(volatile uint64_t *)(uintptr_t)at;
	printf("read %llu from RAM the heap has not grown into\n", v);
	return 1;
}

static int case_heap_grow(unsigned long mib)
{
	enum { BLOCKS = 64 };
	void *blocks[BLOCKS];
	if (mib == 0 || mib > BLOCKS) {
		puts("heap_grow takes 1 to 64 (MiB)");
		return 2;
	}
	for (unsigned long i = 0; i < mib; i++) {
		unsigned char *b = malloc(1u << 20);
		check(b ? 0 : -1, "malloc");
		for (unsigned off = 0; off < (1u << 20); off += 4096)
			b[off] = (unsigned char)(i + off / 4096);
		blocks[i] = b;
	}
	for (unsigned long i = 0; i < mib; i++) {
		unsigned char *b = blocks[i];
		for (unsigned off = 0; off < (1u << 20); off += 4096)
			check(b[off] == (unsigned char)(i + off / 4096) ? 0 : -1, "heap data");
		free(b);
	}
	printf("heap ok %lu MiB\n", mib);
	return 0;
}

int main(int argc, char **argv)
{
	const char *c = argc > 1 ? argv[1] : "";
	if (!strcmp(c, "text_write"))
		return case_text_write();
	if (!strcmp(c, "rodata_write"))
		return case_rodata_write();
	if (!strcmp(c, "unmap"))
		return case_unmap();
	if (!strcmp(c, "map"))
		return case_map();
	if (!strcmp(c, "protect"))
		return case_protect();
	if (!strcmp(c, "bad"))
		return case_bad();
	if (!strcmp(c, "cycles"))
		return case_cycles(argc > 2 ? strtoul(argv[2], NULL, 10) : 1000);
	if (!strcmp(c, "smp"))
		return case_smp();
	if (!strcmp(c, "guard"))
		return case_guard();
	if (!strcmp(c, "heap_beyond"))
		return case_heap_beyond();
	if (!strcmp(c, "heap_grow"))
		return case_heap_grow(argc > 2 ? strtoul(argv[2], NULL, 10) : 8);
	puts("cases: text_write rodata_write unmap map protect bad cycles smp guard heap_beyond heap_grow");
	return 2;
}
