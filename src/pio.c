#include "pio.h"

int pio_register(struct pio_bus *bus, uint16_t base, uint16_t count, const char *name, pio_fn io,
		 void *opaque)
{
	if (bus->count == PIO_MAX_REGIONS || count == 0 || (uint32_t)base + count > 0x10000)
		return -1;
	for (unsigned i = 0; i < bus->count; i++) {
		const struct pio_region *r = &bus->regions[i];
		if (base < r->base + r->count && r->base < base + count)
			return -1;
	}
	bus->regions[bus->count++] = (struct pio_region){ base, count, name, io, opaque };
	return 0;
}

bool pio_dispatch(struct pio_bus *bus, uint16_t port, bool is_write, uint8_t *data, unsigned size,
		  unsigned reps)
{
	for (unsigned i = 0; i < bus->count; i++) {
		const struct pio_region *r = &bus->regions[i];
		if (port < r->base || port - r->base >= r->count)
			continue;
		for (unsigned n = 0; n < reps; n++)
			r->io(r->opaque, (uint16_t)(port - r->base), is_write, data + n * size, size);
		return true;
	}
	return false;
}
