/*
 * <unistd.h> for pvmm guests: sleeping. Both sleep in the monitor (one
 * POLL call, the vCPU does not spin); see <pvmm/guest.h> for ns-resolution
 * sleep_ns and pvmm_sleep_until.
 */
#ifndef PVMM_UNISTD_H
#define PVMM_UNISTD_H

#include <stddef.h>

#ifndef PVMM_SSIZE_T_DEFINED
#define PVMM_SSIZE_T_DEFINED
typedef long ssize_t;
#endif

/* Sleep for `seconds`; returns 0 (no signals interrupt it). */
unsigned int sleep(unsigned int seconds);
/* Sleep for `usec` microseconds; returns 0. */
int usleep(unsigned int usec);

#endif /* PVMM_UNISTD_H */
