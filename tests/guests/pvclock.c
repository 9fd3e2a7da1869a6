/*
 * The PV clock page: pvclock [READS] reads the page's time READS times
 * (default 10000) and checks it never goes back, then brackets page reads
 * between CLOCK calls and reports the worst disagreement, across a sleep
 * too. The test counts the VM's exits (--stats-json) to see that the
 * reads made none. Prints "pvclock ok" when every check held.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <pvmm/guest.h>

#define AGREE_NS (5 * PVMM_NS_PER_MS)

static uint64_t clock_call(void)
{
	return pvmm_clock(PVMM_CLOCK_MONOTONIC);
}

/* |page - CLOCK| at worst, the page read between two CLOCK calls: 0 if
 * it lies between them, else how far outside. */
static uint64_t disagreement(void)
{
	uint64_t before = clock_call(), page = 0;
	if (!pvmm_clock_page_ns(&page))
		panic("the clock page went away");
	uint64_t after = clock_call();
	if (page < before)
		return before - page;
	if (page > after)
		return page - after;
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long reads = argc > 1 ? strtoul(argv[1], NULL, 10) : 10000;
	const struct pvmm_boot_info *bi = pvmm_boot_info();
	uint64_t first, prev, ns, worst = 0;
	int ok = 1;

	if (!bi->clock_page || !pvmm_clock_page_ns(&first)) {
		puts("pvclock: no clock page");
		return 1;
	}
	printf("clock page at 0x%llx\n", (unsigned long long)bi->clock_page);

	prev = first;
	for (unsigned long i = 0; i < reads; i++) {
		if (!pvmm_clock_page_ns(&ns)) {
			printf("read %lu failed\n", i);
			return 1;
		}
		if (ns < prev) {
			printf("went back at read %lu: %llu after %llu\n", i, (unsigned long long)ns,
			       (unsigned long long)prev);
			ok = 0;
		}
		prev = ns;
	}
	printf("reads %lu monotonic: %s\n", reads, ok ? "yes" : "no");

	/* Agreement now, and after sleeping (the page must advance at the
	 * CLOCK call's rate). pvmm_now_ns() must be the page too. */
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 20; i++) {
			uint64_t d = disagreement();
			worst = d > worst ? d : worst;
		}
		if (round == 0)
			sleep_ns(200 * PVMM_NS_PER_MS);
	}
	uint64_t now = pvmm_now_ns(), page = 0;
	pvmm_clock_page_ns(&page);
	if (now > page) {
		puts("pvmm_now_ns is ahead of the page read after it");
		ok = 0;
	}
	if (page - first < 200 * PVMM_NS_PER_MS) {
		printf("the page's clock ran %llu us over a 200 ms sleep\n",
		       (unsigned long long)((page - first) / PVMM_NS_PER_US));
		ok = 0;
	}
	printf("worst disagreement with CLOCK: %llu us\n", (unsigned long long)(worst / PVMM_NS_PER_US));
	if (worst > AGREE_NS) {
		puts("page and CLOCK call disagree");
		ok = 0;
	}
	puts(ok ? "pvclock ok" : "pvclock FAILED");
	return ok ? 0 : 1;
}
