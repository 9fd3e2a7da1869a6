/*
 * Emulated NE2000 (DP8390 core + the NE2000's data and reset ports): an
 * ISA NIC at ports 0x300-0x31f, IRQ 9, 32 KiB of on-card memory, on a
 * network back end (src/net/backend.h). The fully virtualized NIC, to set
 * against virtio-net: every register access and every data-port word
 * traps. docs/devices.md lists the registers and behaviours implemented.
 */
#ifndef PVMM_NE2000_H
#define PVMM_NE2000_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/backend.h"

#define NE2000_BASE 0x300
#define NE2000_PORTS 0x20
#define NE2000_IRQ 9
#define NE2000_MEM_START 0x4000   /* on-card memory: pages 0x40 .. 0xbf */
#define NE2000_MEM_SIZE 0x8000
#define NE2000_FRAME_MAX 1514     /* Ethernet header + 1500, no FCS */
#define NE2000_FRAME_MIN 60       /* received frames shorter are padded */

/* The host side of the card: its interrupt line (level: 1 asserted, 0
 * not) and a frame landing in the receive ring (POLL readiness). */
struct ne2000_host {
	void (*irq)(void *ctx, int level);
	void (*rx_ready)(void *ctx);
	void *ctx;
};

struct ne2000_stats {
	uint64_t register_accesses, tx_frames, tx_bytes, tx_loopback, rx_frames, rx_bytes;
	uint64_t drop_tx_short, drop_tx_long, drop_tx_bounds, drop_tx_host;
	uint64_t drop_rx_host, drop_rx_stopped, drop_rx_filter, drop_rx_overflow, drop_rx_bad_ring;
};

struct ne2000;

/* A card with address `mac` (its PROM) on back end `be`, which it takes
 * over: closed by ne2000_destroy (not by a failed create: NULL, and the
 * caller closes it). */
struct ne2000 *ne2000_create(const uint8_t mac[6], struct net_backend *be, const struct ne2000_host *host);
void ne2000_destroy(struct ne2000 *nic);

/* One access to the 32 ports, pio_fn shaped; serialised internally. */
void ne2000_io(void *opaque, uint16_t offset, bool is_write, uint8_t *data, unsigned size);

/* One Ethernet frame from the wire into the receive ring (address filter,
 * ring space, the 4-byte header, ISR). False if it was dropped (counted). */
bool ne2000_receive(struct ne2000 *nic, const uint8_t *frame, size_t len);

/* The back end is readable: move up to a batch of its frames into the
 * ring (I/O thread). True if the back end is gone or failing. */
bool ne2000_rx_pump(struct ne2000 *nic);

struct ne2000_stats ne2000_stats(struct ne2000 *nic);

#endif
