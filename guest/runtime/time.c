/*
 * Clocks and sleeping. Monotonic time comes from the PV clock page when
 * the monitor offers one and guest code runs natively (rdtsc and a few
 * loads, no exit), otherwise from the CLOCK call; both count ns from the same start, the one POLL's
 * deadlines use. Waiting is always a POLL call with no devices of
 * interest and a deadline: the vCPU sleeps in the monitor instead of
 * spinning (a spin loop would burn interpreted instructions and host CPU).
 */
#include <stdbool.h>

#include <pvmm/guest.h>
#include "runtime.h"

/* Plain rdtsc, at CPL0 and CPL3 alike (CR4.TSD is clear). No lfence: the
 * CPL0 emulator of hosts without VT-x has no SSE2 fences, and none is
 * needed here: the monitor rewrites the page only while every vCPU is out
 * of the guest, and a VM exit orders the TSC read like any instruction. */
static uint64_t read_tsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi)::"memory");
	return ((uint64_t)hi << 32) | lo;
}

int pvmm_clock_page_ns(uint64_t *ns)
{
	const struct pvmm_boot_info *bi = pvmm_boot_info();

	if (!bi || !bi->clock_page)
		return 0;
	return pvmm_clock_page_read((const struct pvmm_clock_page *)(uintptr_t)bi->clock_page, read_tsc, ns);
}

/* The page costs rdtsc and ~50 instructions, the CLOCK call one exit.
 * Where CPL0 code is interpreted (ring 0 on a host without VT-x/AMD-V:
 * ~77 us a read against ~25-50 us an exit, measured by make bench) the
 * exit is cheaper; everywhere else the page wins by far. */
static bool page_is_cheaper(const struct pvmm_boot_info *bi)
{
	return bi && (bi->ring == 3 || (bi->flags & PVMM_BOOT_F_CPL0_NATIVE));
}

bool runtime_clock_cheap(void)
{
	return page_is_cheaper(pvmm_boot_info());
}

uint64_t pvmm_now_ns(void)
{
	uint64_t ns;

	if (page_is_cheaper(pvmm_boot_info()) && pvmm_clock_page_ns(&ns))
		return ns;
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
	stdio_before_wait();
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
