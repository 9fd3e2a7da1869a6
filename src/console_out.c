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
#include <poll.h>
#include <stdint.h>
#include <unistd.h>

#include "stats.h"
#include "vm.h"

typedef bool give_up_fn(void *ctx);

static size_t write_all(int fd, const void *buf, size_t len, give_up_fn *give_up, void *ctx)
{
	const uint8_t *p = buf;
	size_t done = 0;

	if (fd < 0)
		return 0;
	while (done < len) {
		if (give_up && give_up(ctx))
			break;
		ssize_t n = write(fd, p + done, len - done);
		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue; /* a kick: look at the stop again */
		if (n < 0 && errno == EAGAIN) {
			struct pollfd pfd = { .fd = fd, .events = POLLOUT };
			if (poll(&pfd, 1, CONSOLE_OUT_TICK_MS) < 0 && errno != EINTR)
				break;
			continue;
		}
		break; /* EPIPE, EIO...: the reader is gone */
	}
	return done;
}

size_t console_sink_write(const struct console_sink *sink, const void *buf, size_t len)
{
	size_t done = write_all(sink->fd, buf, len, sink->stopped, sink->ctx);
	if (done < len && sink->dropped)
		sink->dropped(sink->ctx, len - done);
	return done;
}

static bool vm_gives_up(void *ctx)
{
	return vm_stopped(ctx);
}

static bool vm_gives_up_or_parks(void *ctx)
{
	return vm_checkpoint(ctx);
}

static void vm_dropped(void *ctx, size_t bytes)
{
	struct vm *vm = ctx;
	STATS_ADD(vm->stats.console_bytes_dropped, bytes);
}

struct console_sink console_sink_for_vm(struct vm *vm, int fd)
{
	return (struct console_sink){ .fd = fd, .stopped = vm_gives_up, .dropped = vm_dropped, .ctx = vm };
}

size_t console_out_write(struct vm *vm, int fd, const void *buf, size_t len, bool may_park)
{
	if (!vm)
		return write_all(fd, buf, len, NULL, NULL);
	size_t done = write_all(fd, buf, len, may_park ? vm_gives_up_or_parks : vm_gives_up, vm);
	if (done < len)
		vm_dropped(vm, len - done);
	return done;
}
