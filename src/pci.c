/*
 * PCI host bridge and configuration space (see pci.h).
 *
 * Config accesses arrive on the vCPU thread through the port bus; BAR
 * accesses through the one MMIO bus region that covers the window. Both
 * run under host->lock, so a BAR move and a BAR access never race; the
 * owner's bar_io and bar_map run with host->lock held.
 */
#include "pci.h"

#include <endian.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

_Static_assert(PCI_MMIO_BASE >= (3ull << 30), "the BAR window must stay above RAM (MEM_MAX is 3 GiB)");

static void put16(struct pci_func *f, unsigned off, uint16_t v)
{
	f->cfg[off] = (uint8_t)v;
	f->cfg[off + 1] = (uint8_t)(v >> 8);
}

static void put32(struct pci_func *f, unsigned off, uint32_t v)
{
	for (unsigned i = 0; i < 4; i++)
		f->cfg[off + i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const struct pci_func *f, unsigned off)
{
	uint32_t v = 0;
	for (unsigned i = 0; i < 4; i++)
		v |= (uint32_t)f->cfg[off + i] << (8 * i);
	return v;
}

void pci_func_init(struct pci_func *f, uint16_t vendor, uint16_t device, uint32_t class_code, uint8_t revision,
		   uint16_t subsys_vendor, uint16_t subsys_id)
{
	memset(f, 0, sizeof(*f));
	put16(f, PCI_VENDOR_ID, vendor);
	put16(f, PCI_DEVICE_ID, device);
	f->cfg[PCI_REVISION_ID] = revision;
	f->cfg[PCI_CLASS_PROG] = (uint8_t)class_code;
	f->cfg[PCI_CLASS_PROG + 1] = (uint8_t)(class_code >> 8);
	f->cfg[PCI_CLASS_PROG + 2] = (uint8_t)(class_code >> 16);
	put16(f, PCI_SUBSYSTEM_VENDOR_ID, subsys_vendor);
	put16(f, PCI_SUBSYSTEM_ID, subsys_id);
	/* Command: memory space, bus master and INTx disable are writable. */
	f->wmask[PCI_COMMAND] = PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	f->wmask[PCI_COMMAND + 1] = PCI_COMMAND_INTX_DISABLE >> 8;
	f->wmask[PCI_INTERRUPT_LINE] = 0xff;
	f->cap_end = PCI_CAP_START;
}

void pci_func_set_bar(struct pci_func *f, unsigned bar, uint64_t size)
{
	if (bar >= PCI_NUM_BARS || size < 16 || (size & (size - 1)) || size > (1ull << 31))
		return;
	f->bars[bar].size = size;
	/* The address bits above the size are writable; the flag bits (memory,
	 * 32-bit, non-prefetchable: all 0) and the size bits are not. */
	uint32_t mask = (uint32_t)~(size - 1);
	for (unsigned i = 0; i < 4; i++)
		f->wmask[PCI_BAR0 + 4 * bar + i] = (uint8_t)(mask >> (8 * i));
}

unsigned pci_func_add_cap(struct pci_func *f, uint8_t id, unsigned len)
{
	unsigned off = (f->cap_end + 3u) & ~3u;
	if (len < 2 || off + len > PCI_CONFIG_SIZE)
		return 0;
	f->cfg[off] = id;
	f->cfg[off + 1] = 0;
	if (f->cap_last)
		f->cfg[f->cap_last + 1] = (uint8_t)off;
	else
		f->cfg[PCI_CAPABILITY_LIST] = (uint8_t)off;
	f->cfg[PCI_STATUS] |= PCI_STATUS_CAP_LIST;
	f->cap_last = (uint8_t)off;
	f->cap_end = (uint8_t)(off + len < PCI_CONFIG_SIZE ? off + len : PCI_CONFIG_SIZE - 1);
	return off;
}

struct pci_host *pci_host_new(void)
{
	struct pci_host *host = calloc(1, sizeof(*host));
	if (!host) {
		log_error("out of memory creating the PCI host bridge");
		return NULL;
	}
	pthread_mutex_init(&host->lock, NULL);
	pci_func_init(&host->bridge, PCI_BRIDGE_VENDOR, PCI_BRIDGE_DEVICE, 0x060000, 0, PCI_BRIDGE_VENDOR,
		      PCI_BRIDGE_DEVICE);
	host->bridge.cfg[PCI_COMMAND] = PCI_COMMAND_MEMORY;
	host->funcs[0] = &host->bridge;
	host->next_bar = PCI_MMIO_BASE;
	return host;
}

void pci_host_free(struct pci_host *host)
{
	if (!host)
		return;
	pthread_mutex_destroy(&host->lock);
	free(host);
}

/* ---- BAR decoding --------------------------------------------------------- */

static bool overlaps_decoding(const struct pci_host *host, const struct pci_func *self, unsigned self_bar,
			      uint64_t addr, uint64_t size)
{
	for (unsigned s = 0; s < PCI_MAX_DEVICES; s++) {
		const struct pci_func *f = host->funcs[s];
		for (unsigned b = 0; f && b < PCI_NUM_BARS; b++) {
			const struct pci_bar *o = &f->bars[b];
			if ((f == self && b == self_bar) || !o->decoding)
				continue;
			if (addr < o->decoded_addr + o->size && o->decoded_addr < addr + size)
				return true;
		}
	}
	return false;
}

/* Work out where each BAR of f should decode now and tell the owner of
 * every change. Stops go out before starts, so that an owner never holds
 * two KVM registrations at once. */
static void update_bars(struct pci_host *host, struct pci_func *f)
{
	bool mem = f->cfg[PCI_COMMAND] & PCI_COMMAND_MEMORY;

	for (unsigned b = 0; b < PCI_NUM_BARS; b++) {
		struct pci_bar *bar = &f->bars[b];
		if (!bar->size)
			continue;
		bar->addr = get32(f, PCI_BAR0 + 4 * b) & ~0xfull;
		if (bar->decoding && (!mem || bar->decoded_addr != bar->addr)) {
			bar->decoding = false;
			if (f->ops && f->ops->bar_map)
				f->ops->bar_map(f->opaque, b, bar->decoded_addr, false);
		}
	}
	for (unsigned b = 0; mem && b < PCI_NUM_BARS; b++) {
		struct pci_bar *bar = &f->bars[b];
		if (!bar->size || bar->decoding)
			continue;
		uint64_t a = bar->addr;
		if (a < PCI_MMIO_BASE || a + bar->size > PCI_MMIO_END || (a & (bar->size - 1)) ||
		    overlaps_decoding(host, f, b, a, bar->size)) {
			host->stats.refused_bars++;
			log_debug("PCI %02x.0: BAR%u at %#llx is outside the window [%#llx, %#llx) or on another BAR; "
				  "it decodes nothing",
				  f->slot, b, (unsigned long long)a, PCI_MMIO_BASE, PCI_MMIO_END);
			continue;
		}
		bar->decoding = true;
		bar->decoded_addr = a;
		host->stats.bar_moves++;
		if (f->ops && f->ops->bar_map)
			f->ops->bar_map(f->opaque, b, a, true);
	}
}

int pci_host_add(struct pci_host *host, struct pci_func *f, const struct pci_func_ops *ops, void *opaque)
{
	pthread_mutex_lock(&host->lock);
	int slot = -1;
	for (unsigned s = 1; s < PCI_MAX_DEVICES; s++) {
		if (!host->funcs[s]) {
			slot = (int)s;
			break;
		}
	}
	if (slot < 0)
		goto out;
	/* Boot placement: each BAR at the next address aligned to its size. */
	uint64_t next = host->next_bar;
	for (unsigned b = 0; b < PCI_NUM_BARS; b++) {
		uint64_t size = f->bars[b].size;
		if (!size)
			continue;
		next = (next + size - 1) & ~(size - 1);
		if (next + size > PCI_MMIO_END) {
			slot = -1;
			goto out;
		}
		put32(f, PCI_BAR0 + 4 * b, (uint32_t)next);
		next += size;
	}
	host->next_bar = next;
	f->ops = ops;
	f->opaque = opaque;
	f->slot = (unsigned)slot;
	f->cfg[PCI_COMMAND] |= PCI_COMMAND_MEMORY;
	host->funcs[slot] = f;
	update_bars(host, f);
out:
	pthread_mutex_unlock(&host->lock);
	return slot;
}

void pci_host_remove(struct pci_host *host, struct pci_func *f)
{
	pthread_mutex_lock(&host->lock);
	if (f->slot && f->slot < PCI_MAX_DEVICES && host->funcs[f->slot] == f) {
		f->cfg[PCI_COMMAND] &= (uint8_t)~PCI_COMMAND_MEMORY;
		update_bars(host, f);
		host->funcs[f->slot] = NULL;
	}
	pthread_mutex_unlock(&host->lock);
}

/* ---- configuration space -------------------------------------------------- */

static void config_locked(struct pci_host *host, unsigned slot, unsigned offset, bool is_write, uint8_t *data,
			  unsigned len)
{
	struct pci_func *f = slot < PCI_MAX_DEVICES ? host->funcs[slot] : NULL;

	if (!f || (len != 1 && len != 2 && len != 4) || offset % len || offset >= PCI_CONFIG_SIZE ||
	    len > PCI_CONFIG_SIZE - offset) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	if (!is_write) {
		host->stats.config_reads++;
		if (f->ops && f->ops->config_read && f->ops->config_read(f->opaque, offset, data, len))
			return;
		memcpy(data, &f->cfg[offset], len);
		return;
	}
	host->stats.config_writes++;
	bool bar_or_cmd = false;
	for (unsigned i = 0; i < len; i++) {
		unsigned o = offset + i;
		f->cfg[o] = (uint8_t)((f->cfg[o] & ~f->wmask[o]) | (data[i] & f->wmask[o]));
		bar_or_cmd |= o == PCI_COMMAND || (o >= PCI_BAR0 && o < PCI_BAR0 + 4 * PCI_NUM_BARS);
	}
	if (bar_or_cmd)
		update_bars(host, f);
	if (f->ops && f->ops->config_written)
		f->ops->config_written(f->opaque, offset, len);
}

void pci_config_access(struct pci_host *host, unsigned slot, unsigned offset, bool is_write, uint8_t *data,
		       unsigned len)
{
	if (len == 0 || len > 4) {
		if (!is_write)
			memset(data, 0xff, len > 8 ? 8 : len);
		return;
	}
	pthread_mutex_lock(&host->lock);
	config_locked(host, slot, offset, is_write, data, len);
	pthread_mutex_unlock(&host->lock);
}

void pci_config_port_io(struct pci_host *host, uint16_t port_offset, bool is_write, uint8_t *data, unsigned size)
{
	if (size != 1 && size != 2 && size != 4)
		return;
	if (port_offset < 4) {
		/* CONFIG_ADDRESS takes only whole 32-bit accesses at 0xcf8. */
		pthread_mutex_lock(&host->lock);
		if (port_offset == 0 && size == 4) {
			uint32_t v;
			if (is_write) {
				memcpy(&v, data, 4);
				host->config_address = le32toh(v) & 0x80fffffcu;
			} else {
				v = htole32(host->config_address);
				memcpy(data, &v, 4);
			}
		} else if (!is_write) {
			memset(data, 0xff, size);
		}
		pthread_mutex_unlock(&host->lock);
		return;
	}
	unsigned byte = port_offset - 4u;
	if (byte % size || byte + size > 4) {
		if (!is_write)
			memset(data, 0xff, size);
		return;
	}
	pthread_mutex_lock(&host->lock);
	uint32_t a = host->config_address;
	unsigned bus = (a >> 16) & 0xff, dev = (a >> 11) & 0x1f, fn = (a >> 8) & 7;
	if (!(a & 0x80000000u) || bus != 0 || fn != 0) {
		if (!is_write)
			memset(data, 0xff, size);
	} else {
		config_locked(host, dev, (a & 0xfc) + byte, is_write, data, size);
	}
	pthread_mutex_unlock(&host->lock);
}

static void ports_io(void *opaque, uint16_t offset, bool is_write, uint8_t *data, unsigned size)
{
	pci_config_port_io(opaque, offset, is_write, data, size);
}

void pci_mmio_access(struct pci_host *host, uint64_t addr, bool is_write, uint8_t *data, unsigned len)
{
	pthread_mutex_lock(&host->lock);
	for (unsigned s = 1; s < PCI_MAX_DEVICES; s++) {
		struct pci_func *f = host->funcs[s];
		for (unsigned b = 0; f && b < PCI_NUM_BARS; b++) {
			struct pci_bar *bar = &f->bars[b];
			if (!bar->decoding || addr < bar->decoded_addr || addr - bar->decoded_addr >= bar->size)
				continue;
			f->ops->bar_io(f->opaque, b, addr - bar->decoded_addr, is_write, data, len);
			pthread_mutex_unlock(&host->lock);
			return;
		}
	}
	pthread_mutex_unlock(&host->lock);
	if (!is_write)
		memset(data, 0xff, len);
}

static void window_io(void *opaque, uint64_t offset, bool is_write, uint8_t *data, unsigned len)
{
	pci_mmio_access(opaque, PCI_MMIO_BASE + offset, is_write, data, len);
}

int pci_host_register(struct pci_host *host, struct pio_bus *pio, struct mmio_bus *mmio)
{
	if (pio_register(pio, PCI_CONFIG_ADDRESS, 8, "pci-config", ports_io, host)) {
		log_error("cannot claim the PCI configuration ports %#x..%#x", PCI_CONFIG_ADDRESS,
			  PCI_CONFIG_ADDRESS + 7);
		return -1;
	}
	if (mmio_register(mmio, PCI_MMIO_BASE, PCI_MMIO_END - PCI_MMIO_BASE, "pci-bars", window_io, host)) {
		log_error("cannot claim the PCI BAR window at %#llx", PCI_MMIO_BASE);
		return -1;
	}
	return 0;
}
