/*
 * <time.h> for pvmm guests: the monitor's clocks as POSIX sees them.
 *
 *   CLOCK_MONOTONIC  pvmm_now_ns(): never goes back, ns resolution
 *   CLOCK_REALTIME   pvmm_wall_ns(): ns since 1970-01-01 00:00 UTC
 *
 * time(), clock_gettime(), clock_getres(), nanosleep() and clock() (CPU
 * time is not measured: clock() is the monotonic clock in microseconds,
 * good for intervals). No time zones, no strftime. Implemented in
 * runtime/posix_time.c over the clock calls of <pvmm/guest.h>.
 */
#ifndef PVMM_TIME_H
#define PVMM_TIME_H

#include <stddef.h>

typedef long time_t;
typedef long clock_t;
typedef int clockid_t;

struct timespec {
	time_t tv_sec;
	long tv_nsec; /* 0 .. 999999999 */
};

#define CLOCK_REALTIME  0
#define CLOCK_MONOTONIC 1
#define CLOCKS_PER_SEC  1000000L

/* 0, or -1 with errno EINVAL for an unknown clock or a NULL tp. */
int clock_gettime(clockid_t clock, struct timespec *tp);
/* Resolution of `clock`: 1 ns. */
int clock_getres(clockid_t clock, struct timespec *res);
/* Seconds since 1970-01-01 UTC; also stored in *t when t is not NULL. */
time_t time(time_t *t);
/* Sleep for *req (-1, errno EINVAL, if tv_nsec is outside 0..999999999 or
 * tv_sec is negative). Never interrupted, so *rem (if not NULL) is zeroed. */
int nanosleep(const struct timespec *req, struct timespec *rem);
clock_t clock(void);

#endif /* PVMM_TIME_H */
