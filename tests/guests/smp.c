/*
 * Secondary CPUs (pvmm run --cpus N). Modes (argv[1]):
 *   (none)   start every other CPU on its own stack; each writes its index
 *            into checked_in[] and prints "cpu N up"; CPU 0 waits with
 *            short POLLs (bounded) until all are in, prints "cpus: N",
 *            "all N CPUs checked in" and exits 0
 *   fault    as above, but CPU 2 then executes ud2: status 65
 *   exit     CPU 1 exits the VM with status 42 while CPU 0 waits
 *   spin     every CPU (0 included) spins without a para-API call
 *   badstart CPU_START blocks the monitor must refuse; prints each ret
 */
#include <stdio.h>
#include <string.h>
#include <pvmm/guest.h>
#include <pvmm/smp.h>

#define STACK_SIZE 8192

static volatile unsigned checked_in[PVMM_MAX_CPUS];
static unsigned char raw_stack[STACK_SIZE] __attribute__((aligned(16))); /* for refused raw starts */
static const char *mode = "";

static void say(const char *text, unsigned cpu)
{
	char line[48];
	int n = snprintf(line, sizeof(line), text, cpu);
	pvmm_console_write(line, (size_t)n);
}

static void secondary(void *arg)
{
	unsigned cpu = pvmm_cpu_id();
	(void)arg;
	checked_in[cpu] = cpu;
	say("cpu %u up\n", cpu);
	if (strcmp(mode, "fault") == 0 && cpu == 2)
		__asm__ volatile("ud2");
	if (strcmp(mode, "exit") == 0 && cpu == 1)
		pvmm_exit(42);
	if (strcmp(mode, "spin") == 0)
		for (;;)
			__asm__ volatile("");
}

static int start_all(unsigned n)
{
	for (unsigned cpu = 1; cpu < n; cpu++) {
		int ret = pvmm_cpu_start(cpu, secondary, NULL);
		if (ret) {
			printf("starting cpu %u failed: %d\n", cpu, ret);
			return 1;
		}
	}
	return 0;
}

/* Wait, bounded, until every secondary wrote its index. */
static unsigned wait_all(unsigned n)
{
	unsigned in = 1;
	for (int round = 0; round < 3000 && in < n; round++) {
		pvmm_poll(pvmm_now_ns() + 10 * PVMM_NS_PER_MS, 0, NULL);
		in = 1;
		for (unsigned cpu = 1; cpu < n; cpu++)
			in += checked_in[cpu] == cpu;
	}
	return in;
}

static void bad_start(void)
{
	uint64_t entry = (uint64_t)(uintptr_t)bad_start;
	uint64_t stack = (uint64_t)(uintptr_t)raw_stack + STACK_SIZE;
	uint64_t ram = pvmm_boot_info()->mem_size;
	unsigned n = pvmm_cpu_count();

	printf("out of range: %lld\n", (long long)pvmm_cpu_start_raw(n, entry, stack, 0));
	printf("way out of range: %lld\n", (long long)pvmm_cpu_start_raw(0xffffffffu, entry, stack, 0));
	printf("cpu 0: %lld\n", (long long)pvmm_cpu_start_raw(0, entry, stack, 0));
	printf("entry outside RAM: %lld\n", (long long)pvmm_cpu_start_raw(1, ram + 0x1000, stack, 0));
	printf("stack outside RAM: %lld\n", (long long)pvmm_cpu_start_raw(1, entry, ram + 0x1000, 0));
	printf("stack misaligned: %lld\n", (long long)pvmm_cpu_start_raw(1, entry, stack - 8, 0));
	/* A good start, then the same CPU again. */
	printf("first: %d\n", pvmm_cpu_start(1, secondary, NULL));
	printf("twice: %d\n", pvmm_cpu_start(1, secondary, NULL));
	printf("checked in: %u\n", wait_all(2));
}

int main(int argc, char **argv)
{
	unsigned n = pvmm_cpu_count();

	if (argc > 1)
		mode = argv[1];
	printf("cpus: %u\n", n);
	fflush(stdout);
	if (strcmp(mode, "badstart") == 0) {
		bad_start();
		return 0;
	}
	if (start_all(n))
		return 1;
	if (strcmp(mode, "spin") == 0)
		for (;;)
			__asm__ volatile("");
	unsigned in = wait_all(n);
	if (strcmp(mode, "") != 0) {
		/* fault / exit: a secondary ends the VM; wait for it (bounded). */
		for (int round = 0; round < 3000; round++)
			pvmm_poll(pvmm_now_ns() + 10 * PVMM_NS_PER_MS, 0, NULL);
		printf("still running after %u checked in\n", in);
		return 1;
	}
	printf("all %u CPUs checked in\n", in);
	return in == n ? 0 : 1;
}
