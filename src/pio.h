/*
 * The port I/O bus: clients claim port ranges; the run loop hands every
 * KVM_EXIT_IO to pio_dispatch(). The para-API ports, the UART and the IDE
 * disk are its clients. Regions are registered before the vCPUs start and
 * never change while they run, so dispatch takes no lock; a client
 * serialises its own state.
 */
#ifndef PVMM_PIO_H
#define PVMM_PIO_H

#include <stdbool.h>
#include <stdint.h>

#define PIO_MAX_REGIONS 16

/* One access of `size` (1, 2 or 4) bytes at `offset` into the region.
 * Reads fill `data`; writes consume it. String I/O (rep ins/outs) arrives
 * as one call per item. */
typedef void (*pio_fn)(void *opaque, uint16_t offset, bool is_write, uint8_t *data, unsigned size);

/* The whole exit at once: `reps` items of `size` bytes back to back in
 * `data`, for a client that must see (and may refuse) string I/O. */
typedef void (*pio_whole_fn)(void *opaque, uint16_t offset, bool is_write, uint8_t *data, unsigned size,
			     unsigned reps);

struct pio_region {
	uint16_t base, count;
	const char *name;
	pio_fn io;              /* one of io and whole is set */
	pio_whole_fn whole;
	void *opaque;
};

struct pio_bus {
	struct pio_region regions[PIO_MAX_REGIONS];
	unsigned count;
};

/* Claim [base, base + count). Returns 0, or -1 if full or overlapping. */
int pio_register(struct pio_bus *bus, uint16_t base, uint16_t count, const char *name, pio_fn io,
		 void *opaque);
int pio_register_whole(struct pio_bus *bus, uint16_t base, uint16_t count, const char *name,
		       pio_whole_fn whole, void *opaque);

/* Serve `reps` accesses of `size` bytes at `port` (string I/O arrives as
 * reps > 1, items back to back in `data`). False if no region claims the
 * port; then nothing was touched. */
bool pio_dispatch(const struct pio_bus *bus, uint16_t port, bool is_write, uint8_t *data, unsigned size,
		  unsigned reps);

#endif
