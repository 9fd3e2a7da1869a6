/*
 * virtio-rng (virtio 1.2, 5.4): the entropy device a VM gets with
 * `pvmm run --rng`. Without it, pvmm_getrandom() (<pvmm/guest.h>, the
 * para-API RANDOM call) is always there.
 */
#ifndef PVMM_RNG_H
#define PVMM_RNG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pvmm/virtio.h>

/* Is there a virtio-rng device? */
bool rng_present(void);

/* Bring it up (idempotent; rng_read does it on first use): 0 or
 * -VIRTIO_E*. */
int rng_open(void);

/* Fill buf with len random bytes from the device (written in place; each
 * request waits for the device). Returns len, or -VIRTIO_E*. */
int64_t rng_read(void *buf, size_t len);

#endif /* PVMM_RNG_H */
