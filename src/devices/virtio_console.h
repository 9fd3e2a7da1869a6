/* virtio-console (virtio 1.2, 5.3), a single port: stdin in, stdout out. */
#ifndef PVMM_VIRTIO_CONSOLE_H
#define PVMM_VIRTIO_CONSOLE_H

#include "console_out.h"
#include "virtio/virtio.h"

/* A virtio console reading `in_fd` (-1: no input, end of input at once)
 * and writing to `out` (copied), not yet on a transport. The device owns
 * neither fd. NULL with a message on failure. Its device type is
 * virtio_console_type (devices/device.h). */
struct virtio_dev *virtio_console_new(const struct virtio_ctx *ctx, int in_fd, const struct console_sink *out);

#endif
