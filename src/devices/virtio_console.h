/* virtio-console (virtio 1.2, 5.3), a single port: stdin in, stdout out. */
#ifndef PVMM_VIRTIO_CONSOLE_H
#define PVMM_VIRTIO_CONSOLE_H

#include "virtio/virtio.h"

/* Add a virtio console reading `in_fd` (-1: no input, end of input at
 * once) and writing `out_fd`. The device owns neither fd. NULL with a
 * message on failure. */
struct virtio_dev *virtio_console_create(struct vm *vm, int in_fd, int out_fd);

#endif
