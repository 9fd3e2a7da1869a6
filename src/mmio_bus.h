/*
 * The MMIO bus: clients claim guest-physical ranges outside RAM; the run
 * loop hands every KVM_EXIT_MMIO to mmio_dispatch(). Each virtio-mmio
 * window is a client. Like the port bus, it is filled before the vCPUs
 * start and read without a lock afterwards.
 */
#ifndef PVMM_MMIO_BUS_H
#define PVMM_MMIO_BUS_H

#include <stdbool.h>
#include <stdint.h>

#define MMIO_MAX_REGIONS 16

/* One access of `len` (1..8) bytes at `offset` into the region. */
typedef void (*mmio_fn)(void *opaque, uint64_t offset, bool is_write, uint8_t *data, unsigned len);

struct mmio_region {
	uint64_t base, size;
	const char *name;
	mmio_fn io;
	void *opaque;
};

struct mmio_bus {
	struct mmio_region regions[MMIO_MAX_REGIONS];
	unsigned count;
};

/* Claim [base, base + size). Returns 0, or -1 if full, empty, wrapping or
 * overlapping another region. */
int mmio_register(struct mmio_bus *bus, uint64_t base, uint64_t size, const char *name, mmio_fn io,
		  void *opaque);

/* Stop routing the region that starts at `base` (a device going away). */
void mmio_unregister(struct mmio_bus *bus, uint64_t base);

/* Serve one access. False if no region claims `addr` (then nothing was
 * touched). An access that starts inside a region but runs past its end
 * goes to that region's client, which must check offset + len. */
bool mmio_dispatch(const struct mmio_bus *bus, uint64_t addr, bool is_write, uint8_t *data, unsigned len);

#endif
