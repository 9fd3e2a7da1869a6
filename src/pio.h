/*
 * The port I/O bus: emulated devices claim port ranges; the run loop hands
 * every port access outside the para-API to pio_dispatch().
 */
#ifndef PVMM_PIO_H
#define PVMM_PIO_H

#include <stdbool.h>
#include <stdint.h>

#define PIO_MAX_REGIONS 8

/* One access of `size` (1, 2 or 4) bytes at `offset` into the region.
 * Reads fill `data`; writes consume it. */
typedef void (*pio_fn)(void *opaque, uint16_t offset, bool is_write, uint8_t *data, unsigned size);

struct pio_region {
	uint16_t base, count;
	const char *name;
	pio_fn io;
	void *opaque;
};

struct pio_bus {
	struct pio_region regions[PIO_MAX_REGIONS];
	unsigned count;
};

/* Claim [base, base + count). Returns 0, or -1 if full or overlapping. */
int pio_register(struct pio_bus *bus, uint16_t base, uint16_t count, const char *name, pio_fn io,
		 void *opaque);

/* Serve `reps` accesses of `size` bytes at `port` (string I/O arrives as
 * reps > 1, items back to back in `data`). False if no region claims the
 * port; then nothing was touched. */
bool pio_dispatch(struct pio_bus *bus, uint16_t port, bool is_write, uint8_t *data, unsigned size,
		  unsigned reps);

#endif
