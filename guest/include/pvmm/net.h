/*
 * Networking for pvmm guests: the virtio-net driver's raw-frame API and a
 * minimal IPv4 layer on top of it (ARP, ICMP echo replies, UDP) with a
 * static address. TCP (and UDP sockets) are <pvmm/socket.h>, on lwIP.
 *
 * Raw frames are Ethernet frames without the virtio-net header (the
 * driver adds and strips it): destination MAC, source MAC, EtherType,
 * payload, no FCS, 14 to 14 + MTU bytes. Polling only: the device's
 * signals wake POLL (net_wait), nothing runs in interrupt context.
 * Functions return >= 0 on success and -VIRTIO_E* on failure.
 */
#ifndef PVMM_NET_H
#define PVMM_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pvmm/virtio.h>

#define NET_MAX_NICS 4
#define NET_ETH_HLEN 14
#define NET_ETH_MIN 60 /* shortest frame on a wire (without FCS); shorter ones are padded */

/* virtio-net (virtio 1.2, 5.1) feature bits and header, for drivers. */
#define VIRTIO_NET_F_MTU    3
#define VIRTIO_NET_F_MAC    5
#define VIRTIO_NET_F_STATUS 16
#define VIRTIO_NET_F_MRG_RXBUF 15
#define VIRTIO_NET_CFG_MAC    0  /* 6 bytes */
#define VIRTIO_NET_CFG_STATUS 6  /* le16: VIRTIO_NET_S_LINK_UP */
#define VIRTIO_NET_CFG_MTU    10 /* le16 */
#define VIRTIO_NET_S_LINK_UP  1u
#define VIRTIO_NET_RX_QUEUE 0
#define VIRTIO_NET_TX_QUEUE 1
struct virtio_net_hdr {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len, gso_size, csum_start, csum_offset;
	uint16_t num_buffers;
};
#define VIRTIO_NET_HDR_LEN 12u

/* ---- Raw frames ----------------------------------------------------------- */

/* Number of virtio-net NICs the monitor gave (no device access after the
 * first call). */
unsigned net_count(void);

/* Bring NIC `nic` (0-based, command-line order) up; idempotent. 0 or
 * -VIRTIO_E*. The other calls open it on first use. */
int net_open(unsigned nic);

/* Its MAC address and MTU (from the device's config space). */
int net_mac(unsigned nic, uint8_t mac[6]);
unsigned net_mtu(unsigned nic);
bool net_link_up(unsigned nic);

/* Send one Ethernet frame (copied: buf may be reused at once). len 14 to
 * 14 + MTU. 0, or -VIRTIO_EINVAL, -VIRTIO_EBROKEN. Waits only when every
 * transmit buffer is still with the device. */
int net_send(unsigned nic, const void *frame, size_t len);

/* The next received frame into buf: its length (a longer frame is cut to
 * cap), or -VIRTIO_EAGAIN if none has arrived. Never blocks. */
int net_recv(unsigned nic, void *buf, size_t cap);

/* Wait until any opened NIC has a received frame, or deadline_ns: 1, or 0
 * at the deadline. */
int net_wait(uint64_t deadline_ns);

/* Driver counters. */
struct net_nic_stats {
	uint64_t tx_frames, rx_frames, tx_waits, kicks;
};
void net_nic_stats(unsigned nic, struct net_nic_stats *st);

/* ---- IPv4 ------------------------------------------------------------------ */

/* lwIP's own ip_init, udp_send and udp_recv clash with these: code that
 * includes lwIP's headers (guest/lwip/) defines PVMM_NET_RAW_ONLY. */
#ifndef PVMM_NET_RAW_ONLY

/* Addresses are in host byte order: 10.0.2.15 is 0x0a00020f. */
struct ip_config {
	unsigned nic;
	uint32_t addr, netmask, gateway; /* gateway 0: none */
};

/* Parse the guest arguments `ip=A.B.C.D/LEN` and `gw=A.B.C.D` (and
 * `nic=N`) among argv[1..argc-1] into cfg: 0, or -VIRTIO_EINVAL if there
 * is no valid ip=. */
int ip_config_from_args(int argc, char **argv, struct ip_config *cfg);
/* "a.b.c.d" → address; 0 on a malformed one. */
uint32_t ip_parse_addr(const char *s, const char **end);

/* Start IPv4 on cfg->nic (opens it); one interface per guest. 0 or
 * -VIRTIO_E*. */
int ip_init(const struct ip_config *cfg);

/* Handle every frame that has arrived: ARP requests for our address are
 * answered, ICMP echo requests get their reply, UDP datagrams are queued
 * for udp_recv. Returns the frames handled. */
int ip_poll(void);

struct udp_datagram {
	uint32_t src;          /* sender's address */
	uint16_t sport, dport;
	uint16_t len;
	uint8_t data[1500];
};

/* Send a datagram of len bytes (up to MTU - 28) from port sport to
 * dst:dport; resolves the next hop with ARP (waits up to 1 s for it).
 * 0, -VIRTIO_EINVAL, -VIRTIO_ETIMEDOUT (no ARP reply), -VIRTIO_E*. */
int udp_send(uint32_t dst, uint16_t sport, uint16_t dport, const void *data, size_t len);

/* The next queued datagram for port `port` (0: any), polling and waiting
 * up to deadline_ns: 0 with *d filled, or -VIRTIO_ETIMEDOUT. */
int udp_recv(uint16_t port, struct udp_datagram *d, uint64_t deadline_ns);

/* What the IPv4 layer saw. */
struct ip_stats {
	uint64_t frames_in, arp_replies_sent, arp_requests_sent, icmp_echo_replies;
	uint64_t udp_in, udp_out, udp_queue_full;
	uint64_t dropped_malformed; /* short, bad header/checksum/length, fragments */
	uint64_t dropped_other;     /* not for us, unknown EtherType or protocol */
};
void ip_get_stats(struct ip_stats *st);
#endif /* PVMM_NET_RAW_ONLY */

#endif /* PVMM_NET_H */
