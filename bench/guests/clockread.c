/*
 * clockread PAGE CALLS: PAGE monotonic-clock reads through the PV clock
 * page, then CALLS through the CLOCK call, then exit 0. Prints the time
 * per read of each, timed with the page's clock:
 *   clockread page=N call=M page_ns=X call_ns=Y
 * Exits 1 if the monitor offers no clock page.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <pvmm/guest.h>

static uint64_t page_now(void)
{
	uint64_t ns;
	if (!pvmm_clock_page_ns(&ns))
		panic("clockread: no usable clock page");
	return ns;
}

int main(int argc, char **argv)
{
	unsigned long page = argc > 1 ? strtoul(argv[1], NULL, 0) : 1000;
	unsigned long calls = argc > 2 ? strtoul(argv[2], NULL, 0) : 1000;
	uint64_t ns;

	if (!pvmm_clock_page_ns(&ns)) {
		puts("clockread: no clock page");
		return 1;
	}
	uint64_t t0 = page_now();
	/* Neither read can be optimised away: one is a call into the
	 * runtime library, the other an asm volatile `out`. */
	for (unsigned long i = 0; i < page; i++)
		pvmm_clock_page_ns(&ns);
	uint64_t t1 = page_now();
	for (unsigned long i = 0; i < calls; i++)
		pvmm_clock(PVMM_CLOCK_MONOTONIC);
	uint64_t t2 = page_now();
	printf("clockread page=%lu call=%lu page_ns=%llu call_ns=%llu\n", page, calls,
	       (unsigned long long)(page ? (t1 - t0) / page : 0), (unsigned long long)(calls ? (t2 - t1) / calls : 0));
	return 0;
}
