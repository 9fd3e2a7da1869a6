/* virtio-net (virtio 1.2, 5.1): one rx/tx queue pair on a network back
 * end (src/net/backend.h). The device type is virtio_net_type
 * (devices/device.h); the transmit check is exported for the fuzz target. */
#ifndef PVMM_VIRTIO_NET_H
#define PVMM_VIRTIO_NET_H

#include <stddef.h>
#include <stdint.h>

#include "devices/device.h"
#include "net/backend.h"

/* What the device makes of one transmit chain. */
enum vnet_tx_verdict {
	VNET_TX_OK,
	VNET_TX_LAYOUT,   /* a device-writable buffer, or no complete 12-byte header */
	VNET_TX_SHORT,    /* frame under 14 bytes (no Ethernet header) */
	VNET_TX_LONG,     /* frame over MTU + 14 bytes */
	VNET_TX_HEADER,   /* header asks for what was not negotiated (checksum offload, GSO) */
};

/* Check one transmit chain against `mtu` and copy it (header + frame,
 * read once, so the driver cannot change it afterwards) into buf, which
 * holds NET_HDR_LEN + NET_ETH_HLEN + mtu bytes, with the header rewritten
 * clean. *len is the bytes in buf when VNET_TX_OK. */
enum vnet_tx_verdict virtio_net_tx_parse(const struct virtq_elem *elem, unsigned mtu, uint8_t *buf, size_t *len);

/* Where virtio_net_rx_place() put one received frame. */
enum vnet_rx_verdict {
	VNET_RX_OK,        /* in out->chains receive chains, pushed */
	VNET_RX_NO_BUFFER, /* too few chains posted: dropped, the chains stay posted */
	VNET_RX_BAD,       /* a chain was unusable: dropped, every chain it took returned empty */
	VNET_RX_BROKEN,    /* the ring is damaged (vq->error says how) */
};

struct vnet_rx_place {
	unsigned chains;   /* chains holding the frame */
	unsigned bad;      /* unusable chains returned empty */
};

/* Put a received frame (the 12-byte header, then the Ethernet frame; len
 * bytes in all) into the next receive chains of vq, with the header's
 * num_buffers set. Without mergeable buffers it takes one chain that holds
 * the whole frame; with them (VIRTIO_NET_F_MRG_RXBUF) as many chains as it
 * needs, each filled before the next, every one at least a header long.
 * An unusable chain (a device-readable buffer in it, or too small) met
 * before the frame has a chain is returned empty and the next one tried;
 * met after, the frame is dropped and its chains are returned empty too,
 * so no used entry ever splits a frame. The caller holds the device lock
 * and pushes the interrupt. */
enum vnet_rx_verdict virtio_net_rx_place(struct virtq *vq, bool mergeable, uint8_t *frame, size_t len,
					 struct vnet_rx_place *out);

#endif
