#include "mmio_bus.h"

int mmio_register(struct mmio_bus *bus, uint64_t base, uint64_t size, const char *name, mmio_fn io,
		  void *opaque)
{
	if (bus->count == MMIO_MAX_REGIONS || size == 0 || base + size < base)
		return -1;
	for (unsigned i = 0; i < bus->count; i++) {
		const struct mmio_region *r = &bus->regions[i];
		if (base < r->base + r->size && r->base < base + size)
			return -1;
	}
	bus->regions[bus->count++] = (struct mmio_region){ base, size, name, io, opaque };
	return 0;
}

void mmio_unregister(struct mmio_bus *bus, uint64_t base)
{
	for (unsigned i = 0; i < bus->count; i++) {
		if (bus->regions[i].base == base) {
			bus->regions[i] = bus->regions[--bus->count];
			return;
		}
	}
}

bool mmio_dispatch(const struct mmio_bus *bus, uint64_t addr, bool is_write, uint8_t *data, unsigned len)
{
	for (unsigned i = 0; i < bus->count; i++) {
		const struct mmio_region *r = &bus->regions[i];
		if (addr < r->base || addr - r->base >= r->size)
			continue;
		/* An access that runs past the end is still the client's to
		 * answer (virtio-mmio warns and ignores it). */
		r->io(r->opaque, addr - r->base, is_write, data, len);
		return true;
	}
	return false;
}
