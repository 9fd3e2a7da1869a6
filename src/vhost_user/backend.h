/*
 * A vhost-user back end: serves one pvmm virtio device (the same device
 * file that sits behind virtio-mmio) to a vhost-user front end such as
 * QEMU, over a unix socket. The back end is a virtio transport: the front
 * end's messages become the core's feature, queue and status calls, its
 * kick fds drive the queues from the I/O loop, and its call fds are the
 * interrupts. One front end at a time; when a connection ends, for any
 * reason, the device is reset and the next one is accepted (or, with
 * `once`, the back end returns). docs/vhost-user.md has the details.
 */
#ifndef PVMM_VHOST_USER_BACKEND_H
#define PVMM_VHOST_USER_BACKEND_H

#include <stdbool.h>

struct virtio_ctx;
struct virtio_dev;

/* Makes the device, given the memory (empty until a front end sends its
 * table) and the I/O loop it will live on. NULL after a message. */
typedef struct virtio_dev *vu_create_fn(const struct virtio_ctx *ctx, void *arg);

/* Listen on `socket_path` (a stale socket there is replaced) and serve
 * until SIGINT/SIGTERM/SIGHUP, or, with `once`, until the first
 * connection ends. Returns a process exit status: 0, or PVMM_STATUS_HOST
 * if the back end could not start. */
int vu_serve(const char *socket_path, bool once, vu_create_fn *create, void *arg);

#endif
