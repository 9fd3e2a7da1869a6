/*
 * Writing guest console output to a host fd without ever blocking a stop.
 *
 * stdout is usually a blocking pipe or terminal that pvmm shares with
 * other processes, so it cannot be made non-blocking. So: write at once
 * (one system call when the reader keeps up, the common case); a write
 * that blocks is interrupted by the stop's kick signal (vm_kick_all on
 * vCPU threads, iothread_stop's SIGUSR1 on the I/O thread), which is
 * repeated until every thread has left, and the stop is checked again. A
 * non-blocking fd that is full waits in poll() ticks instead.
 */
#include "console_out.h"

#include <errno.h>
#include <string.h>
#include <poll.h>
#include <stdint.h>
#include <unistd.h>

#include "log.h"
#include "stats.h"
#include "status.h"
#include "vm.h"

/* `done`: the bytes written so far. */
typedef bool give_up_fn(void *ctx, size_t done);

/* Writes `len` bytes unless given up; *closed is set on EPIPE (the
 * reader is gone for good). give_up is asked only while the write has to
 * wait (a kick, a full fd), never before bytes that can go at once, so a
 * pause does not hold up output that has room. */
static size_t write_all(int fd, const void *buf, size_t len, give_up_fn *give_up, void *ctx, bool *closed)
{
	const uint8_t *p = buf;
	size_t done = 0;

	if (fd < 0)
		return 0;
	while (done < len) {
		ssize_t n = write(fd, p + done, len - done);
		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		int err = n < 0 ? errno : 0;
		if (err == EINTR || err == EAGAIN) {
			/* A kick, or no room: look at the stop (and a pause). */
			if (give_up && give_up(ctx, done))
				break;
			if (err == EAGAIN) {
				struct pollfd pfd = { .fd = fd, .events = POLLOUT };
				if (poll(&pfd, 1, CONSOLE_OUT_TICK_MS) < 0 && errno != EINTR)
					break;
			}
			continue;
		}
		errno = err;
		if (n < 0 && errno == EPIPE && closed)
			*closed = true;
		break; /* EPIPE, EIO...: the reader is gone */
	}
	return done;
}

static bool sink_gives_up(void *ctx, size_t done)
{
	const struct console_sink *sink = ctx;
	(void)done;
	return sink->stopped(sink->ctx);
}

size_t console_sink_write(const struct console_sink *sink, const void *buf, size_t len)
{
	bool closed = false;
	if (sink->copy)
		sink->copy(sink->ctx, buf, len);
	size_t done = write_all(sink->fd, buf, len, sink->stopped ? sink_gives_up : NULL, (void *)sink, &closed);
	if (done < len && sink->dropped)
		sink->dropped(sink->ctx, len - done);
	if (closed && sink->closed)
		sink->closed(sink->ctx);
	return done;
}

struct para_write {
	struct vm *vm;
	bool may_park;
	bool for_pause; /* ended short for a pause: the guest writes the rest */
};

/* A para console write waiting for room when a pause comes: with nothing
 * written yet it parks (vm_checkpoint), and a snapshot then restarts the
 * whole call; with part written it ends as a short write, so that no
 * snapshot holds a call half done (restarting it would repeat that part)
 * and the guest writes the rest when it runs on, here or restored. */
static bool para_write_gives_up(void *ctx, size_t done)
{
	struct para_write *w = ctx;
	if (!w->may_park)
		return vm_stopped(w->vm);
	if (done && vm_pause_pending(w->vm)) {
		w->for_pause = true;
		return true;
	}
	return vm_checkpoint(w->vm);
}

static void vm_dropped(void *ctx, size_t bytes)
{
	struct vm *vm = ctx;
	STATS_ADD(vm->stats.console_bytes_dropped, bytes);
}

/* --console-log: a regular file, written whole, whatever the terminal
 * does. A failure is said once and the log given up. */
static void vm_copy(void *ctx, const void *buf, size_t len)
{
	struct vm *vm = ctx;
	if (!vm->console_log_open)
		return;
	int fd = __atomic_load_n(&vm->console_log_fd, __ATOMIC_ACQUIRE);
	if (fd < 0)
		return;
	if (write_all(fd, buf, len, NULL, NULL, NULL) < len) {
		int expected = fd;
		if (__atomic_compare_exchange_n(&vm->console_log_fd, &expected, -1, false, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE))
			log_error("--console-log: cannot write: %s; console output is no longer logged",
				  strerror(errno ? errno : ENOSPC));
	}
}

/* Nobody reads the console any more (stdout closed: EPIPE): running on
 * would only drop everything the guest says, so stop it. */
static void vm_closed(void *ctx)
{
	struct vm *vm = ctx;
	if (vm_stop(vm, PVMM_STATUS_CONSOLE_CLOSED))
		log_error("console output closed (nobody reads it: EPIPE); stopped the guest");
}

static bool vm_gives_up(void *ctx)
{
	return vm_stopped(ctx);
}

struct console_sink console_sink_for_vm(struct vm *vm, int fd)
{
	return (struct console_sink){ .fd = fd, .stopped = vm_gives_up, .dropped = vm_dropped, .copy = vm_copy,
				      .closed = vm_closed, .ctx = vm };
}

size_t console_out_write(struct vm *vm, int fd, const void *buf, size_t len, bool may_park)
{
	bool closed = false;
	if (!vm)
		return write_all(fd, buf, len, NULL, NULL, NULL);
	struct para_write w = { .vm = vm, .may_park = may_park };
	size_t done = write_all(fd, buf, len, para_write_gives_up, &w, &closed);
	/* The log after the write: what a pause cut short is logged when the
	 * guest writes it again. */
	vm_copy(vm, buf, w.for_pause ? done : len);
	if (done < len && !w.for_pause)
		vm_dropped(vm, len - done);
	if (closed)
		vm_closed(vm);
	return done;
}
