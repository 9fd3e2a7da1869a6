/*
 * Clocks and sleeping. Waiting is always a POLL call with no devices of
 * interest and a deadline: the vCPU sleeps in the monitor instead of
 * spinning (a spin loop would burn interpreted instructions and host CPU).
 */
#include <pvmm/guest.h>

uint64_t pvmm_now_ns(void)
{
	return pvmm_clock(PVMM_CLOCK_MONOTONIC);
}

uint64_t pvmm_wall_ns(void)
{
	return pvmm_clock(PVMM_CLOCK_WALL);
}

void pvmm_sleep_until(uint64_t deadline_ns)
{
	/* POLL may come back early (a monitor may cap how long it blocks), so
	 * go round until the clock itself says the deadline has passed. A
	 * deadline already past makes POLL return at once. */
	do {
		if (pvmm_poll(deadline_ns, 0, NULL) < 0)
			panic("sleep: poll failed");
	} while (pvmm_now_ns() < deadline_ns);
}

void sleep_ns(uint64_t ns)
{
	uint64_t now = pvmm_now_ns();
	pvmm_sleep_until(ns > UINT64_MAX - now ? UINT64_MAX : now + ns);
}

int usleep(unsigned int usec)
{
	sleep_ns(usec * PVMM_NS_PER_US);
	return 0;
}

unsigned int sleep(unsigned int seconds)
{
	sleep_ns(seconds * PVMM_NS_PER_S);
	return 0;
}
