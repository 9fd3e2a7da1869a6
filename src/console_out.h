/*
 * Console output that a stop can always interrupt: the para console, the
 * UART and the virtio console all write the guest's output through here.
 *
 * Devices get a struct console_sink from their context: the fd, and how
 * to tell that the VM stopped and to count what could not be delivered,
 * without knowing the VM. The para console, on the vCPU thread, uses
 * console_out_write() with the VM itself (it may also park for a pause).
 */
#ifndef PVMM_CONSOLE_OUT_H
#define PVMM_CONSOLE_OUT_H

#include <stdbool.h>
#include <stddef.h>

struct vm;

/* How often a write waiting for room on a non-blocking fd rechecks
 * whether the VM stopped (a blocking one is woken by the stop's kick). */
#define CONSOLE_OUT_TICK_MS 100

struct console_sink {
	int fd;                                 /* -1: output is discarded */
	bool (*stopped)(void *ctx);             /* optional: give up once true */
	void (*dropped)(void *ctx, size_t bytes); /* optional: count undelivered bytes */
	void (*copy)(void *ctx, const void *buf, size_t len); /* optional: also log all output (--console-log) */
	void (*closed)(void *ctx);              /* optional: the reader went away (EPIPE) */
	void *ctx;
};

/* Write all `len` bytes to the sink's fd, waiting while it has no room, so
 * a slow reader slows the guest down. Gives up when the sink says it
 * stopped (a blocked write notices at the stop's kick signal, one waiting
 * on a full non-blocking fd within CONSOLE_OUT_TICK_MS) and when the fd
 * fails (reader gone); bytes not written go to sink->dropped. Returns the
 * bytes written. */
size_t console_sink_write(const struct console_sink *sink, const void *buf, size_t len);

/* The sink for `vm`'s console output on `fd`: stops with the VM, counts
 * drops in vm->stats.console_bytes_dropped. */
struct console_sink console_sink_for_vm(struct vm *vm, int fd);

/* The same for callers that have the VM. With `may_park`, a vCPU thread
 * waiting here parks while the VM is paused if nothing is written yet,
 * and returns the short count if part is (the caller writes the rest);
 * only callers holding no lock may park (a parked lock holder could block
 * the I/O thread, and so the pause itself). `vm` may be NULL (no stop to
 * obey). */
size_t console_out_write(struct vm *vm, int fd, const void *buf, size_t len, bool may_park);

#endif
