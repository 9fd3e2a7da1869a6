/*
 * A PCI host bridge for bus 0: configuration mechanism #1 on ports
 * 0xcf8 (CONFIG_ADDRESS) and 0xcfc..0xcff (CONFIG_DATA), a 256-byte
 * configuration space per function with a capability list, and memory
 * BARs decoded inside one MMIO window below the IOAPIC.
 *
 * Device 0 is the host bridge itself (vendor 0x1b36, device 0x0008, class
 * 0x060000: the generic host bridge id that Linux and other guests know
 * for virtual machines; pvmm documents it as its own bridge's id).
 * Devices 1..PCI_MAX_DEVICES-1 are functions 0 that a transport adds
 * (virtio-pci). Only function 0 exists on any device; every other
 * function, and every bus but 0, reads as all-ones (no device).
 *
 * BARs: the monitor places each memory BAR at boot inside
 * [PCI_MMIO_BASE, PCI_MMIO_END) and sets the command register's memory
 * space bit; the guest may size them (write all-ones, read the mask) and
 * move them. A BAR decodes only while memory space is enabled, its address
 * is aligned to its size, it lies inside the window and it overlaps no
 * other decoding BAR; otherwise it keeps the value written but answers
 * nothing (reads of the window there see all-ones, writes are dropped).
 * RAM is never shadowed: the window lies above the largest RAM. Each
 * change of where a BAR decodes is told to its owner (bar_map), which
 * moves what it set up in KVM (ioeventfds).
 *
 * The whole window is one region on the VM's MMIO bus, so the bus itself
 * never changes after boot; BAR lookups run under the host's lock, which
 * is taken before any device's lock and never inside one.
 */
#ifndef PVMM_PCI_H
#define PVMM_PCI_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "mmio_bus.h"
#include "pio.h"

#define PCI_CONFIG_ADDRESS 0xcf8
#define PCI_CONFIG_DATA 0xcfc
#define PCI_MAX_DEVICES 32
#define PCI_CONFIG_SIZE 256
#define PCI_NUM_BARS 6

#define PCI_MMIO_BASE 0xe0000000ull
#define PCI_MMIO_END 0xfec00000ull /* the IOAPIC */

/* pvmm's host bridge id (see above). */
#define PCI_BRIDGE_VENDOR 0x1b36
#define PCI_BRIDGE_DEVICE 0x0008

/* Standard header offsets and bits (type 0). */
#define PCI_VENDOR_ID 0x00
#define PCI_DEVICE_ID 0x02
#define PCI_COMMAND 0x04
#define PCI_COMMAND_MEMORY 0x2
#define PCI_COMMAND_MASTER 0x4
#define PCI_COMMAND_INTX_DISABLE 0x400
#define PCI_STATUS 0x06
#define PCI_STATUS_CAP_LIST 0x10
#define PCI_REVISION_ID 0x08
#define PCI_CLASS_PROG 0x09
#define PCI_HEADER_TYPE 0x0e
#define PCI_BAR0 0x10
#define PCI_SUBSYSTEM_VENDOR_ID 0x2c
#define PCI_SUBSYSTEM_ID 0x2e
#define PCI_CAPABILITY_LIST 0x34
#define PCI_INTERRUPT_LINE 0x3c
#define PCI_INTERRUPT_PIN 0x3d
#define PCI_CAP_ID_VNDR 0x09
#define PCI_CAP_START 0x40

struct pci_host;

struct pci_func_ops {
	/* An access of `len` (1..8) bytes at `offset` of memory BAR `bar`. */
	void (*bar_io)(void *opaque, unsigned bar, uint64_t offset, bool is_write, uint8_t *data, unsigned len);
	/* BAR `bar` now decodes at `addr` (mapped), or stopped decoding
	 * (!mapped, addr its old address). Under the host's lock. Optional. */
	void (*bar_map)(void *opaque, unsigned bar, uint64_t addr, bool mapped);
	/* A config write at `offset` (after the generic handling stored the
	 * writable bits): for registers with side effects (the virtio PCI
	 * configuration access capability). Optional. */
	void (*config_written)(void *opaque, unsigned offset, unsigned len);
	/* A config read: may fill data itself and return true. Optional. */
	bool (*config_read)(void *opaque, unsigned offset, uint8_t *data, unsigned len);
};

struct pci_bar {
	uint64_t size;          /* a power of two >= 16; 0: no BAR */
	uint64_t addr;          /* as programmed (without the flag bits) */
	bool decoding;          /* mapped at addr right now */
	uint64_t decoded_addr;
};

struct pci_func {
	uint8_t cfg[PCI_CONFIG_SIZE];
	uint8_t wmask[PCI_CONFIG_SIZE]; /* bits the guest may write */
	struct pci_bar bars[PCI_NUM_BARS];
	const struct pci_func_ops *ops;
	void *opaque;
	uint8_t cap_end;        /* next free byte for a capability */
	uint8_t cap_last;       /* offset of the last capability, 0 if none */
	unsigned slot;          /* device number on bus 0 */
};

struct pci_host {
	pthread_mutex_t lock;
	uint32_t config_address;
	struct pci_func bridge;
	struct pci_func *funcs[PCI_MAX_DEVICES]; /* [0] = &bridge */
	uint64_t next_bar;      /* boot-time BAR placement */
	struct pci_stats {
		uint64_t config_reads, config_writes, bar_moves, refused_bars;
	} stats;
};

/* A host bridge with only itself on bus 0. NULL on failure (logged). */
struct pci_host *pci_host_new(void);
void pci_host_free(struct pci_host *host);

/* Claim ports 0xcf8..0xcff on `pio` and the BAR window on `mmio`. */
int pci_host_register(struct pci_host *host, struct pio_bus *pio, struct mmio_bus *mmio);

/* Fill the fixed header of a type-0 function. */
void pci_func_init(struct pci_func *f, uint16_t vendor, uint16_t device, uint32_t class_code, uint8_t revision,
		   uint16_t subsys_vendor, uint16_t subsys_id);
/* Declare memory BAR `bar` of `size` bytes (a power of two, 32-bit,
 * non-prefetchable). */
void pci_func_set_bar(struct pci_func *f, unsigned bar, uint64_t size);
/* Append a capability of `len` bytes with `id` to the list; returns its
 * offset (the caller fills bytes 2..len-1), 0 if there is no room. */
unsigned pci_func_add_cap(struct pci_func *f, uint8_t id, unsigned len);

/* Put `f` on bus 0 at the next free device number, place its BARs in the
 * window and enable memory space. Returns the device number, or -1. */
int pci_host_add(struct pci_host *host, struct pci_func *f, const struct pci_func_ops *ops, void *opaque);
/* Take `f` off the bus (its BARs stop decoding first). */
void pci_host_remove(struct pci_host *host, struct pci_func *f);

/* One access through the configuration ports (what the port bus calls):
 * `port_offset` 0..7 from 0xcf8. */
void pci_config_port_io(struct pci_host *host, uint16_t port_offset, bool is_write, uint8_t *data, unsigned size);

/* Direct config access to device `slot` of bus 0 (tests, fuzzing, and
 * the port handler): `len` 1, 2 or 4 bytes at `offset`, aligned to len;
 * anything else (or no such device) reads as all-ones and writes nothing.
 * Takes the host's lock. */
void pci_config_access(struct pci_host *host, unsigned slot, unsigned offset, bool is_write, uint8_t *data,
		       unsigned len);

/* One access in the BAR window at `addr` (guest-physical). */
void pci_mmio_access(struct pci_host *host, uint64_t addr, bool is_write, uint8_t *data, unsigned len);

#endif
