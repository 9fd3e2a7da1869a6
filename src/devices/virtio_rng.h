/* virtio-rng (virtio 1.2, 5.4): random bytes from the host's getrandom(). */
#ifndef PVMM_VIRTIO_RNG_H
#define PVMM_VIRTIO_RNG_H

#include "virtio/virtio.h"

/* Add a virtio-rng device to the VM. NULL with a message on failure. */
struct virtio_dev *virtio_rng_create(struct vm *vm);

#endif
