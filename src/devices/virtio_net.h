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

#endif
