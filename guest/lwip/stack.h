/* Shared between the pvmm lwIP glue files (not installed): the interface
 * (stack.c) drives lwIP; the sockets (socket.c) wait on it. */
#ifndef PVMM_LWIP_STACK_H
#define PVMM_LWIP_STACK_H

#include <stdbool.h>
#include <stdint.h>
#include <pvmm/socket.h>

/* Whether netstack_init has run. */
bool stack_up(void);

/* Run lwIP until ready(arg) is true or deadline_ns: feed it the frames
 * that arrived, run due timers, and sleep (net_wait) until a frame
 * arrives or the next timer is due. true when ready. ready is checked
 * before any waiting, so a deadline of 0 is one pass. */
bool stack_wait(bool (*ready)(void *arg), void *arg, uint64_t deadline_ns);

/* Counters the sockets add to. */
extern struct netstack_stats stack_stats;

#endif /* PVMM_LWIP_STACK_H */
