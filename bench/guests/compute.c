/*
 * compute: the benchmark's compute kernels (bench/compute_kernel.h) timed
 * inside a guest with the PV clock (clock_gettime, CLOCK_MONOTONIC).
 *
 *   compute [int N] [fp N]
 *
 * For each kernel asked, in order, prints one line
 *
 *   compute kernel=int n=N ns=T result=HEX
 *   compute kernel=fp n=N ns=T result=HEX     (HEX: the double's bits)
 *
 * and exits 0; "compute FAIL: ..." and exit 1 on bad arguments.
 *
 * Built twice (guest/guest.mk): compute.elf with SSE allowed, for
 * `pvmm run --ring 3`, and compute-ring0.elf general-registers-only with
 * COMPUTE_NO_FP (KVM's emulator, which runs CPL0 code on hosts without
 * VT-x, has no SSE), where `fp` is refused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../compute_kernel.h"

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	if (argc < 3 || argc % 2 == 0) {
		printf("compute FAIL: usage: compute [int N] [fp N]\n");
		return 1;
	}
	for (int i = 1; i + 1 < argc; i += 2) {
		char *end;
		uint64_t n = strtoull(argv[i + 1], &end, 0);
		if (end == argv[i + 1] || *end) {
			printf("compute FAIL: '%s' is not a count\n", argv[i + 1]);
			return 1;
		}
		uint64_t result, start, ns;
		if (strcmp(argv[i], "int") == 0) {
			start = now_ns();
			result = compute_int(n);
			ns = now_ns() - start;
		} else if (strcmp(argv[i], "fp") == 0) {
#ifdef COMPUTE_NO_FP
			printf("compute FAIL: this build has no floating point (built for ring 0)\n");
			return 1;
#else
			start = now_ns();
			double v = compute_fp(n);
			ns = now_ns() - start;
			memcpy(&result, &v, sizeof(result));
#endif
		} else {
			printf("compute FAIL: unknown kernel '%s' (int or fp)\n", argv[i]);
			return 1;
		}
		printf("compute kernel=%s n=%llu ns=%llu result=%llx\n", argv[i], (unsigned long long)n,
		       (unsigned long long)ns, (unsigned long long)result);
	}
	return 0;
}
