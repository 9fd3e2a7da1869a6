/*
 * The I/O thread: one epoll loop per VM that serves device work (queue
 * kicks via ioeventfd, io_uring completions, console input) so the vCPU
 * thread never does device I/O.
 */
#ifndef PVMM_IOTHREAD_H
#define PVMM_IOTHREAD_H

#include <stdbool.h>
#include <stdint.h>

#include "stats.h"
#include "syscall_filter.h"

struct iothread;

/* Called on the I/O thread with the epoll events that fired. */
typedef void (*io_handler_fn)(void *opaque, uint32_t events);

/* Create the loop (not yet running). Returns NULL with a message. */
struct iothread *iothread_create(void);

/* Watch `fd` for `events` (EPOLLIN...); may be called before or after
 * iothread_start(), from any thread. Returns 0 or -errno (-EPERM: the fd
 * cannot be polled, e.g. a regular file). Level-triggered: a handler must
 * consume what woke it, or unwatch. */
int iothread_watch(struct iothread *t, int fd, uint32_t events, io_handler_fn fn, void *opaque);
/* Stop watching `fd`; never blocks (callers hold device locks that the
 * handlers take). From a handler on the I/O thread it takes effect at once.
 * From another thread, a call of the fd's handler may already be under
 * way: handlers must tolerate that one late call, and `opaque` must stay
 * valid until iothread_destroy(). Safe on NULL (returns 0). */
int iothread_unwatch(struct iothread *t, int fd);

/* Start the thread. It runs with every signal blocked except SIGUSR1,
 * which iothread_destroy() uses to interrupt a handler stuck in a blocking
 * write (say, to a terminal that stopped reading). */
int iothread_start(struct iothread *t);

/* The seccomp role the loop loads as it starts (default the VM's I/O
 * role; `pvmm vhost-user` gives its own). Before iothread_start(). */
void iothread_set_role(struct iothread *t, enum sysfilter_role role);

/* Interrupt whatever blocking call the thread's handler is in (EINTR), so
 * that it looks at the VM's stop again. Async-signal-safe; safe on NULL
 * and before the thread starts. */
void iothread_kick(struct iothread *t);

/* True once iothread_destroy() began: a handler whose blocking call failed
 * with EINTR should give up rather than retry. Safe on NULL (true). */
bool iothread_stopping(const struct iothread *t);

/* For a handler that polls for a while before it returns (a device's
 * poll window): false once a pause or a stop is asked for, so that it
 * returns at once. No system call, no lock. True on NULL (no loop: a unit
 * test driving a device). */
bool iothread_busy_ok(const struct iothread *t);

/* Pause the loop: the handler it is in finishes, then it dispatches
 * nothing until iothread_resume(). Returns once it is parked (or
 * stopping). Not from the I/O thread. Safe on NULL and before start. */
void iothread_pause(struct iothread *t);
void iothread_resume(struct iothread *t);
/* True while the loop is parked by iothread_pause(). Safe on NULL. */
bool iothread_paused(struct iothread *t);

/* Stop the loop and join the thread; idempotent (iothread_destroy() does
 * it too). If `cpu` is not NULL it receives the CPU time the thread used
 * in all, which the thread reads itself as it ends (cpu->valid is false if
 * it never ran). Safe on NULL (then *cpu is marked invalid). */
void iothread_stop(struct iothread *t, struct thread_cpu *cpu);

/* Stop the loop, join the thread, free it. Safe on NULL. */
void iothread_destroy(struct iothread *t);

#endif
