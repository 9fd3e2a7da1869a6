/*
 * <time.h> over the runtime's clocks: only the public calls of
 * <pvmm/guest.h> (pvmm_now_ns, pvmm_wall_ns, sleep_ns), so how time.c reads
 * the clocks (para call or PV clock page) is its own business.
 */
#include <errno.h>
#include <time.h>
#include <pvmm/guest.h>

static void ns_to_timespec(uint64_t ns, struct timespec *tp)
{
	tp->tv_sec = (time_t)(ns / PVMM_NS_PER_S);
	tp->tv_nsec = (long)(ns % PVMM_NS_PER_S);
}

int clock_gettime(clockid_t clock, struct timespec *tp)
{
	if (!tp) {
		errno = EINVAL;
		return -1;
	}
	switch (clock) {
	case CLOCK_MONOTONIC:
		ns_to_timespec(pvmm_now_ns(), tp);
		return 0;
	case CLOCK_REALTIME:
		ns_to_timespec(pvmm_wall_ns(), tp);
		return 0;
	default:
		errno = EINVAL;
		return -1;
	}
}

int clock_getres(clockid_t clock, struct timespec *res)
{
	if (clock != CLOCK_MONOTONIC && clock != CLOCK_REALTIME) {
		errno = EINVAL;
		return -1;
	}
	if (res) {
		res->tv_sec = 0;
		res->tv_nsec = 1;
	}
	return 0;
}

time_t time(time_t *t)
{
	time_t now = (time_t)(pvmm_wall_ns() / PVMM_NS_PER_S);
	if (t)
		*t = now;
	return now;
}

int nanosleep(const struct timespec *req, struct timespec *rem)
{
	if (!req || req->tv_sec < 0 || req->tv_nsec < 0 || req->tv_nsec >= (long)PVMM_NS_PER_S) {
		errno = EINVAL;
		return -1;
	}
	uint64_t sec = (uint64_t)req->tv_sec;
	uint64_t ns = sec >= UINT64_MAX / PVMM_NS_PER_S ? UINT64_MAX
						       : sec * PVMM_NS_PER_S + (uint64_t)req->tv_nsec;
	sleep_ns(ns);
	if (rem)
		rem->tv_sec = 0, rem->tv_nsec = 0;
	return 0;
}

clock_t clock(void)
{
	return (clock_t)(pvmm_now_ns() / PVMM_NS_PER_US);
}
