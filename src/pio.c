#include "pio.h"

static int add(struct pio_bus *bus, struct pio_region r)
{
	if (bus->count == PIO_MAX_REGIONS || r.count == 0 || (uint32_t)r.base + r.count > 0x10000)
		return -1;
	for (unsigned i = 0; i < bus->count; i++) {
		const struct pio_region *o = &bus->regions[i];
		if (r.base < o->base + o->count && o->base < r.base + r.count)
			return -1;
	}
	bus->regions[bus->count++] = r;
	return 0;
}

int pio_register(struct pio_bus *bus, uint16_t base, uint16_t count, const char *name, pio_fn io,
		 void *opaque)
{
	return add(bus, (struct pio_region){ .base = base, .count = count, .name = name, .io = io, .opaque = opaque });
}

int pio_register_whole(struct pio_bus *bus, uint16_t base, uint16_t count, const char *name,
		       pio_whole_fn whole, void *opaque)
{
	return add(bus, (struct pio_region){ .base = base, .count = count, .name = name, .whole = whole,
					     .opaque = opaque });
}

bool pio_dispatch(const struct pio_bus *bus, uint16_t port, bool is_write, uint8_t *data, unsigned size,
		  unsigned reps)
{
	for (unsigned i = 0; i < bus->count; i++) {
		const struct pio_region *r = &bus->regions[i];
		if (port < r->base || port - r->base >= r->count)
			continue;
		uint16_t offset = (uint16_t)(port - r->base);
		if (r->whole) {
			r->whole(r->opaque, offset, is_write, data, size, reps);
			return true;
		}
		for (unsigned n = 0; n < reps; n++)
			r->io(r->opaque, offset, is_write, data + n * size, size);
		return true;
	}
	return false;
}
