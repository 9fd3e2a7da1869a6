/*
 * Writing guest console output to a host fd without ever blocking a stop.
 *
 * stdout is usually a blocking pipe or terminal that pvmm shares with
 * other processes, so it cannot be made non-blocking. Instead: wait for
 * room with poll() in short ticks (rechecking the stop between them), then
 * write; a write that still blocks is interrupted by the stop's kick
 * signal (vm_kick_all on vCPU threads, iothread_stop's SIGUSR1 on the I/O
 * thread), which the supervisor repeats until every thread has left.
 */
#include "console_out.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <unistd.h>

#include "stats.h"
#include "vm.h"

size_t console_out_write(struct vm *vm, int fd, const void *buf, size_t len, bool may_park)
{
	const uint8_t *p = buf;
	size_t done = 0;

	while (done < len) {
		if (vm && (may_park ? vm_checkpoint(vm) : vm_stopped(vm)))
			break;
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		int ready = poll(&pfd, 1, CONSOLE_OUT_TICK_MS);
		if (ready == 0 || (ready < 0 && errno == EINTR))
			continue;
		if (ready < 0 || (pfd.revents & POLLNVAL))
			break;
		/* POLLERR/POLLHUP: let write() say what went wrong. */
		ssize_t n = write(fd, p + done, len - done);
		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		break; /* EPIPE, EIO...: the reader is gone */
	}
	if (vm && done < len)
		STATS_ADD(vm->stats.console_bytes_dropped, len - done);
	return done;
}
