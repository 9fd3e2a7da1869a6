/*
 * Console output that a stop can always interrupt: the para console, the
 * UART and the virtio console all write the guest's output through here.
 */
#ifndef PVMM_CONSOLE_OUT_H
#define PVMM_CONSOLE_OUT_H

#include <stdbool.h>
#include <stddef.h>

struct vm;

/* How often a write waiting for room rechecks whether the VM stopped. */
#define CONSOLE_OUT_TICK_MS 100

/* Write all `len` bytes to `fd`, waiting (poll) while it has no room, so
 * a slow reader slows the guest down. Gives up when `vm` stops (a waiting
 * write notices within CONSOLE_OUT_TICK_MS, a blocked one at the kick
 * signal) and when the fd fails (reader gone). With `may_park`, a vCPU
 * thread waiting here parks while the VM is paused; only callers holding
 * no lock may park (a parked lock holder could block the I/O thread, and
 * so the pause itself). Bytes not written are added to
 * vm->stats.console_bytes_dropped. `vm` may be NULL (no stop to obey).
 * Returns the bytes written. */
size_t console_out_write(struct vm *vm, int fd, const void *buf, size_t len, bool may_park);

#endif
