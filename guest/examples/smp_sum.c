/* Split a sum across every CPU: CPU c adds i^3 for its slice of 0..N-1,
 * prints its share, and CPU 0 joins the others, prints the total and
 * checks it against the closed form (N(N-1)/2)^2.
 *   build/pvmm run --cpus 4 build/examples/smp_sum.elf [N]
 * The total does not depend on the CPU count. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <pvmm/smp.h>

#define DEFAULT_N 20000u
#define MAX_N 2000000u /* (N^2/2)^2 stays below 2^64 */

struct slice {
	uint64_t lo, hi; /* [lo, hi) */
	uint64_t sum;
};

static struct slice slices[PVMM_MAX_CPUS];

static void add_slice(void *arg)
{
	struct slice *s = arg;
	uint64_t sum = 0;
	for (uint64_t i = s->lo; i < s->hi; i++)
		sum += i * i * i;
	s->sum = sum;
	printf("cpu %u: i^3 for i in [%llu, %llu) sums to %llu\n", pvmm_cpu_id(), (unsigned long long)s->lo,
	       (unsigned long long)s->hi, (unsigned long long)sum);
}

int main(int argc, char **argv)
{
	uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : DEFAULT_N;
	unsigned cpus = pvmm_cpu_count();
	if (n == 0 || n > MAX_N) {
		printf("N must be 1..%u\n", MAX_N);
		return 2;
	}
	for (unsigned c = 0; c < cpus; c++) {
		slices[c].lo = n * c / cpus;
		slices[c].hi = n * (c + 1) / cpus;
	}
	for (unsigned c = 1; c < cpus; c++) {
		int ret = pvmm_cpu_start(c, add_slice, &slices[c]);
		if (ret) {
			printf("cannot start cpu %u: %d\n", c, ret);
			return 1;
		}
	}
	add_slice(&slices[0]);

	uint64_t total = slices[0].sum;
	for (unsigned c = 1; c < cpus; c++) {
		pvmm_cpu_join(c);
		total += slices[c].sum;
	}
	uint64_t half = n * (n - 1) / 2;
	printf("total over %u CPUs: %llu\n", cpus, (unsigned long long)total);
	if (total != half * half) {
		printf("wrong: expected %llu\n", (unsigned long long)(half * half));
		return 1;
	}
	puts("total matches (N(N-1)/2)^2");
	return 0;
}
