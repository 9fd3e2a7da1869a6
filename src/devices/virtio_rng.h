/* virtio-rng (virtio 1.2, 5.4): entropy from the host's getrandom(). The
 * device type is virtio_rng_type (devices/device.h). */
#ifndef PVMM_VIRTIO_RNG_H
#define PVMM_VIRTIO_RNG_H

#include "devices/device.h"

#endif
