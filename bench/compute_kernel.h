/*
 * The compute kernels of the benchmark: one source, compiled both into
 * the guest bench/guests/compute.c and into the host harness
 * bench/bench.c, so that the guest's time per iteration can be set
 * against the host's for exactly the same code and compiler flags (-O2,
 * no -march: plain x86-64, SSE2 for doubles).
 *
 *   compute_int(n)  n rounds of a xorshift64 step folded into an FNV-style
 *                   multiply hash: integer ALU work, one serial dependency
 *                   chain, nothing in memory.
 *   compute_fp(n)   n rounds of the logistic map x = 3.7 x (1 - x) plus a
 *                   division into a running sum: double-precision
 *                   multiply, subtract, add, divide. Compiled only where
 *                   floating point is allowed (not for ring-0 guests, which
 *                   are built -mgeneral-regs-only: define COMPUTE_NO_FP).
 *
 * Both return a value that depends on every round, and the harness checks
 * that guest and host got the same value. The empty asm statements at
 * either end make each call a side effect the compiler must keep where it
 * is: without them it may treat the kernel as a pure function and drop
 * it when the value is not used, or move it out from between the two clock
 * reads that time it.
 * No headers beyond <stdint.h>: the guest has no libc of the host's.
 */
#ifndef PVMM_BENCH_COMPUTE_KERNEL_H
#define PVMM_BENCH_COMPUTE_KERNEL_H

#include <stdint.h>

static __attribute__((noinline, unused)) uint64_t compute_int(uint64_t n)
{
	uint64_t x = 0x243f6a8885a308d3ull, h = 0xcbf29ce484222325ull;
	__asm__ volatile("" : "+r"(n));
	for (uint64_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		h = (h ^ x) * 0x100000001b3ull;
	}
	__asm__ volatile("" : "+r"(h));
	return h;
}

#ifndef COMPUTE_NO_FP
static __attribute__((noinline, unused)) double compute_fp(uint64_t n)
{
	double x = 0.5, sum = 0;
	__asm__ volatile("" : "+r"(n));
	for (uint64_t i = 0; i < n; i++) {
		x = 3.7 * x * (1.0 - x);
		sum += x / (1.0 + x);
	}
	__asm__ volatile("" : "+x"(sum));
	return sum;
}
#endif

#endif
