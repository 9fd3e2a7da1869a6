/* virtio-console (virtio 1.2, 5.3), a single port: stdin in, stdout out. */
#ifndef PVMM_VIRTIO_CONSOLE_H
#define PVMM_VIRTIO_CONSOLE_H

#include "console_out.h"
#include "virtio/virtio.h"

/* A virtio console reading `in_fd` (-1: no input, end of input at once)
 * and writing to `out` (copied), not yet on a transport. The device owns
 * neither fd. When output is a terminal the device offers
 * VIRTIO_CONSOLE_F_SIZE with its size, and follows it: each time
 * `resize_fd` (an eventfd, -1: none) becomes readable it reads the size
 * again and, if it changed, raises a configuration change. NULL with a message on failure. Its device type is
 * virtio_console_type (devices/device.h). */
struct virtio_dev *virtio_console_new(const struct virtio_ctx *ctx, int in_fd, const struct console_sink *out,
				      int resize_fd);

#endif
