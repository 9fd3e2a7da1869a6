/*
 * For pause tests: prints "ready", then computes in slices of about
 * 100 ms of guest time (a checksum, with a short POLL after each) until
 * 3 s of wall-clock time have passed, and prints the checksum of a fixed
 * number of slices, the monotonic (guest) and wall-clock time it took, in
 * ms. While the VM is paused the wall clock runs on and the monotonic
 * clock does not, so a pause of P ms shows as wall - mono ~ P. The
 * monotonic time is measured twice: pvmm_now_ns() (the PV clock page if
 * the monitor offers one) and the CLOCK call.
 */
#include <stdint.h>
#include <stdio.h>
#include <pvmm/guest.h>

int main(void)
{
	uint64_t mono0 = pvmm_now_ns(), wall0 = pvmm_wall_ns();
	uint64_t call0 = pvmm_clock(PVMM_CLOCK_MONOTONIC);
	uint64_t sum = 0, slices = 0;

	puts("ready");
	fflush(stdout);
	while (pvmm_wall_ns() - wall0 < 3 * PVMM_NS_PER_S) {
		for (uint32_t i = 0; i < 2000; i++)
			sum = sum * 31 + i;
		slices++;
		pvmm_poll(pvmm_now_ns() + 20 * PVMM_NS_PER_MS, 0, NULL);
	}
	uint64_t mono = pvmm_now_ns() - mono0, wall = pvmm_wall_ns() - wall0;
	uint64_t call = pvmm_clock(PVMM_CLOCK_MONOTONIC) - call0;
	/* The checksum of the first 10 slices only: fixed, so a test can
	 * check the computation came out right whatever the timing. */
	uint64_t check = 0;
	for (int s = 0; s < 10; s++)
		for (uint32_t i = 0; i < 2000; i++)
			check = check * 31 + i;
	printf("slices>=10: %s\n", slices >= 10 ? "yes" : "no");
	printf("check %llx\n", (unsigned long long)check);
	printf("mono_ms %llu wall_ms %llu\n", (unsigned long long)(mono / PVMM_NS_PER_MS),
	       (unsigned long long)(wall / PVMM_NS_PER_MS));
	/* pvmm_now_ns() reads the PV clock page where there is one; the
	 * CLOCK call's own view of the same interval: */
	printf("call_ms %llu page %s\n", (unsigned long long)(call / PVMM_NS_PER_MS),
	       pvmm_boot_info()->clock_page ? "yes" : "no");
	return 0;
}
