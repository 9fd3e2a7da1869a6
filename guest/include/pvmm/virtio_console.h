/*
 * virtio-console (virtio 1.2, 5.3), port 0 only: the console a VM gets
 * with `pvmm run --console virtio`.
 *
 * When the monitor lists a virtio console, the runtime opens it before
 * main() and sends stdout/stderr (printf & co.) to it, and getchar() reads
 * from it; the para-API console stays the boot console (messages before
 * that point, and the monitor's own reports). Output is asynchronous and
 * batched: a write is a copy into a 4 KiB transmit buffer, which goes to
 * the device (at most one QueueNotify) when full; when the monitor's
 * output is a terminal (the device offers VIRTIO_CONSOLE_F_SIZE) also at
 * the end of every write, so each line shows at once. Otherwise it goes
 * before the runtime blocks (sleeps, device and input waits), after 10 ms
 * at the next write where the clock is cheap (ring 3), and at exit.
 * exit(), abort(), panic() and fflush() wait until the device has taken
 * everything; code that blocks by calling pvmm_poll() itself, or writes
 * to another console and needs the order kept, calls fflush() or
 * vcons_push() first. Input: when the monitor's stdin ends, the device returns an
 * empty receive buffer, and reads return 0 (getchar: EOF) from then on.
 *
 * Functions return bytes / 0 on success and -VIRTIO_E* on failure.
 */
#ifndef PVMM_VIRTIO_CONSOLE_H
#define PVMM_VIRTIO_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pvmm/virtio.h>

/* Is there a virtio console (no device access after the first call)? */
bool vcons_present(void);

/* Bring it up (idempotent): 0, or -VIRTIO_ENODEV / -VIRTIO_E*. */
int vcons_open(void);

/* Queue len bytes for output (copied; the caller may reuse buf at once).
 * Returns len, or -VIRTIO_E*. Waits only when all transmit buffers are
 * still with the device. */
int64_t vcons_write(const void *buf, size_t len);

/* Send what is held back for batching now (never blocks). */
void vcons_push(void);

/* Wait until the device has consumed all queued output, or deadline_ns:
 * 0, -VIRTIO_ETIMEDOUT, -VIRTIO_EBROKEN. */
int vcons_flush(uint64_t deadline_ns);

/* Read up to len bytes of input that has arrived: bytes (> 0), 0 at end
 * of input, or -VIRTIO_EAGAIN if none yet. Never blocks. */
int64_t vcons_read(void *buf, size_t len);

/* Wait for input (or deadline_ns; UINT64_MAX: none), then read it: bytes
 * (> 0), 0 at end of input, -VIRTIO_ETIMEDOUT, or another -VIRTIO_E*. */
int64_t vcons_read_wait(void *buf, size_t len, uint64_t deadline_ns);

/* Next input byte (0..255), waiting for it; -1 (EOF) at end of input or
 * on error. */
int vcons_getc(void);

/* Does stdio (printf, getchar) go to the virtio console? Switch it (on:
 * opens the console; off: back to the para console). 0 or -VIRTIO_E*. */
bool vcons_is_stdio(void);
int vcons_set_stdio(bool on);

#endif /* PVMM_VIRTIO_CONSOLE_H */
