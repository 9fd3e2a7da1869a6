/*
 * WAKE and the runtime's SMP pieces (pvmm run --cpus N). Modes (argv[1]):
 *   woken    CPU 1 POLLs with PVMM_POLL_WAKE and a deadline 10 s away;
 *            CPU 0 WAKEs it. CPU 1 prints "cpu 1 woken" if the POLL came
 *            back with the wake bit before its deadline, CPU 0 joins it
 *            and prints "joined 1"
 *   badwake  WAKE blocks the monitor must refuse; prints each ret
 *   lock     every CPU adds 1 to a counter ROUNDS times under a blocking
 *            lock (with a para-API call inside, so holders get preempted
 *            there) and mallocs/frees meanwhile; CPU 0 prints the count
 *   id       every CPU prints the id pvmm_cpu_id() gives it
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pvmm/guest.h>
#include <pvmm/smp.h>

#define ROUNDS 100

static volatile unsigned cpu1_polling;
static pvmm_spinlock_t lock = PVMM_SPINLOCK_INIT;
static uint64_t counter;
static unsigned bad_blocks;

static void wait_for_wake(void *arg)
{
	(void)arg;
	uint64_t deadline = pvmm_now_ns() + 10 * PVMM_NS_PER_S;
	uint64_t ready = 0;
	pvmm_atomic_store(&cpu1_polling, 1);
	int64_t ret = pvmm_poll(deadline, PVMM_POLL_WAKE, &ready);
	if (ret == 1 && ready == PVMM_POLL_WAKE && pvmm_now_ns() < deadline)
		printf("cpu 1 woken\n");
	else
		printf("cpu 1 not woken: ret %lld ready %#llx\n", (long long)ret, (unsigned long long)ready);
}

static int woken(void)
{
	int ret = pvmm_cpu_start(1, wait_for_wake, NULL);
	if (ret) {
		printf("start: %d\n", ret);
		return 1;
	}
	/* Bounded: CPU 1 says it is about to POLL. The wake is kept even if
	 * it comes before the POLL, so no exact timing is needed. */
	for (int i = 0; i < 2000 && !pvmm_atomic_load(&cpu1_polling); i++)
		sleep_ns(PVMM_NS_PER_MS);
	sleep_ns(20 * PVMM_NS_PER_MS);
	printf("wake: %d\n", pvmm_cpu_wake(1));
	printf("joined 1: %d\n", pvmm_cpu_join(1));
	return 0;
}

static int64_t raw_wake(uint32_t cpu, uint32_t reserved)
{
	_Alignas(8) struct pvmm_wake_args a = { .cpu = cpu, .reserved = reserved };
	return pvmm_hypercall(PVMM_CALL_WAKE, &a);
}

static int badwake(void)
{
	unsigned n = pvmm_cpu_count();
	printf("cpu count: %lld\n", (long long)raw_wake(n, 0));
	printf("cpu 64: %lld\n", (long long)raw_wake(PVMM_MAX_CPUS, 0));
	printf("cpu max: %lld\n", (long long)raw_wake(0xffffffffu, 0));
	printf("reserved: %lld\n", (long long)raw_wake(0, 1));
	printf("self: %lld\n", (long long)raw_wake(0, 0));
	/* The good one is kept for this CPU's next POLL with the bit. */
	uint64_t ready = 0;
	int64_t ret = pvmm_poll(pvmm_now_ns() + 10 * PVMM_NS_PER_S, PVMM_POLL_WAKE, &ready);
	printf("poll after self wake: %lld %s\n", (long long)ret, ready == PVMM_POLL_WAKE ? "woken" : "not woken");
	printf("join cpu 0: %d\n", pvmm_cpu_join(0));
	printf("join unstarted: %d\n", pvmm_cpu_join(n > 1 ? 1 : 0));
	return 0;
}

static void add_rounds(void *arg)
{
	(void)arg;
	for (int i = 0; i < ROUNDS; i++) {
		char *p = malloc(64 + (size_t)i);
		if (!p) {
			pvmm_atomic_fetch_add(&bad_blocks, 1);
			continue;
		}
		memset(p, (int)pvmm_cpu_id(), 64);
		pvmm_spin_lock_blocking(&lock);
		uint64_t v = counter;
		pvmm_nop(); /* an exit inside the section: others must wait */
		counter = v + 1;
		pvmm_spin_unlock(&lock);
		for (int j = 0; j < 64; j++)
			if (p[j] != (char)pvmm_cpu_id())
				pvmm_atomic_fetch_add(&bad_blocks, 1);
		free(p);
	}
}

static int lock_test(void)
{
	unsigned n = pvmm_cpu_count();
	for (unsigned c = 1; c < n; c++)
		if (pvmm_cpu_start(c, add_rounds, NULL))
			return 1;
	add_rounds(NULL);
	for (unsigned c = 1; c < n; c++)
		pvmm_cpu_join(c);
	printf("counter: %llu of %u\n", (unsigned long long)counter, n * ROUNDS);
	printf("bad blocks: %u\n", bad_blocks);
	return counter == (uint64_t)n * ROUNDS && bad_blocks == 0 ? 0 : 1;
}

static void say_id(void *arg)
{
	printf("cpu %u says id %u\n", (unsigned)(uintptr_t)arg, pvmm_cpu_id());
}

static int id_test(void)
{
	unsigned n = pvmm_cpu_count();
	say_id((void *)0);
	for (unsigned c = 1; c < n; c++)
		if (pvmm_cpu_start(c, say_id, (void *)(uintptr_t)c))
			return 1;
	for (unsigned c = 1; c < n; c++)
		pvmm_cpu_join(c);
	return 0;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "woken";
	if (strcmp(mode, "woken") == 0)
		return woken();
	if (strcmp(mode, "badwake") == 0)
		return badwake();
	if (strcmp(mode, "lock") == 0)
		return lock_test();
	if (strcmp(mode, "id") == 0)
		return id_test();
	printf("unknown mode %s\n", mode);
	return 2;
}
