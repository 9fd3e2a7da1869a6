/*
 * A minimal IPv4 host for tests and examples, on one virtio-net NIC:
 * ARP (answers requests for our address, asks for next hops, an 8-entry
 * cache that also learns from every IPv4 frame addressed to us), ICMP
 * echo replies, and UDP (checksummed both ways; datagrams queue in a
 * small ring for udp_recv). No fragments (dropped), no options (skipped),
 * no TCP.
 */
#include <stdlib.h>
#include <string.h>
#include <pvmm/guest.h>
#include <pvmm/net.h>

#define ETH_ARP  0x0806
#define ETH_IPV4 0x0800
#define ARP_CACHE 8
#define UDP_QUEUE 16
#define IP_PROTO_ICMP 1
#define IP_PROTO_UDP 17

static struct {
	bool up;
	struct ip_config cfg;
	uint8_t mac[6];
	unsigned mtu;
	struct { uint32_t ip; uint8_t mac[6]; bool valid; } arp[ARP_CACHE];
	unsigned arp_next;
	struct udp_datagram q[UDP_QUEUE];
	unsigned q_first, q_count;
	struct ip_stats st;
	uint8_t frame[9000 + NET_ETH_HLEN];
	uint8_t out[9000 + NET_ETH_HLEN];
} ip;

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)(v >> 16)); put16(p + 2, (uint16_t)v); }

static uint32_t sum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += get16(p + i);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static uint16_t sum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

uint32_t ip_parse_addr(const char *s, const char **end)
{
	uint32_t a = 0;
	for (int i = 0; i < 4; i++) {
		if (*s < '0' || *s > '9')
			return 0;
		char *e;
		unsigned long v = strtoul(s, &e, 10);
		if (v > 255 || e == s)
			return 0;
		a = a << 8 | (uint32_t)v;
		s = e;
		if (i < 3) {
			if (*s != '.')
				return 0;
			s++;
		}
	}
	if (end)
		*end = s;
	return a;
}

int ip_config_from_args(int argc, char **argv, struct ip_config *cfg)
{
	bool have = false;
	memset(cfg, 0, sizeof(*cfg));
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *e;
		if (!strncmp(a, "ip=", 3)) {
			cfg->addr = ip_parse_addr(a + 3, &e);
			if (!cfg->addr || *e != '/')
				return -VIRTIO_EINVAL;
			unsigned long len = strtoul(e + 1, NULL, 10);
			if (len == 0 || len > 30)
				return -VIRTIO_EINVAL;
			cfg->netmask = ~0u << (32 - len);
			have = true;
		} else if (!strncmp(a, "gw=", 3)) {
			cfg->gateway = ip_parse_addr(a + 3, &e);
			if (!cfg->gateway || *e)
				return -VIRTIO_EINVAL;
		} else if (!strncmp(a, "nic=", 4)) {
			cfg->nic = (unsigned)strtoul(a + 4, NULL, 10);
		}
	}
	return have ? 0 : -VIRTIO_EINVAL;
}

int ip_init(const struct ip_config *cfg)
{
	int err = net_open(cfg->nic);
	if (err)
		return err;
	memset(&ip.arp, 0, sizeof(ip.arp));
	ip.cfg = *cfg;
	net_mac(cfg->nic, ip.mac);
	ip.mtu = net_mtu(cfg->nic);
	ip.up = true;
	return 0;
}

void ip_get_stats(struct ip_stats *st)
{
	*st = ip.st;
}

static void arp_learn(uint32_t addr, const uint8_t *mac)
{
	if (!addr || (mac[0] & 1))
		return;
	for (unsigned i = 0; i < ARP_CACHE; i++)
		if (ip.arp[i].valid && ip.arp[i].ip == addr) {
			memcpy(ip.arp[i].mac, mac, 6);
			return;
		}
	unsigned i = ip.arp_next++ % ARP_CACHE;
	ip.arp[i].ip = addr;
	memcpy(ip.arp[i].mac, mac, 6);
	ip.arp[i].valid = true;
}

static const uint8_t *arp_lookup(uint32_t addr)
{
	for (unsigned i = 0; i < ARP_CACHE; i++)
		if (ip.arp[i].valid && ip.arp[i].ip == addr)
			return ip.arp[i].mac;
	return NULL;
}

static void eth_header(uint8_t *f, const uint8_t *dst, uint16_t type)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, ip.mac, 6);
	put16(f + 12, type);
}

static void send_frame(uint8_t *f, size_t len)
{
	/* Pad to the wire minimum as a NIC would. */
	if (len < NET_ETH_MIN) {
		memset(f + len, 0, NET_ETH_MIN - len);
		len = NET_ETH_MIN;
	}
	net_send(ip.cfg.nic, f, len);
}

static void arp_send(uint16_t op, const uint8_t *tha, uint32_t tpa)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	uint8_t f[64];
	eth_header(f, op == 1 ? bcast : tha, ETH_ARP);
	uint8_t *a = f + NET_ETH_HLEN;
	put16(a, 1);        /* Ethernet */
	put16(a + 2, ETH_IPV4);
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, op);
	memcpy(a + 8, ip.mac, 6);
	put32(a + 14, ip.cfg.addr);
	if (op == 1)
		memset(a + 18, 0, 6);
	else
		memcpy(a + 18, tha, 6);
	put32(a + 24, tpa);
	send_frame(f, NET_ETH_HLEN + 28);
	if (op == 1)
		ip.st.arp_requests_sent++;
	else
		ip.st.arp_replies_sent++;
}

static void handle_arp(const uint8_t *f, size_t len)
{
	const uint8_t *a = f + NET_ETH_HLEN;
	if (len < NET_ETH_HLEN + 28 || get16(a) != 1 || get16(a + 2) != ETH_IPV4 || a[4] != 6 || a[5] != 4) {
		ip.st.dropped_malformed++;
		return;
	}
	uint16_t op = get16(a + 6);
	uint32_t spa = get32(a + 14), tpa = get32(a + 24);
	if (tpa != ip.cfg.addr) {
		ip.st.dropped_other++;
		return;
	}
	arp_learn(spa, a + 8);
	if (op == 1)
		arp_send(2, a + 8, spa);
}

/* Build and send an IPv4 packet whose payload is already at
 * ip.out[34..34+plen). */
static void ip_output(const uint8_t *dst_mac, uint32_t dst, uint8_t proto, size_t plen)
{
	static uint16_t ident;
	uint8_t *h = ip.out + NET_ETH_HLEN;
	eth_header(ip.out, dst_mac, ETH_IPV4);
	h[0] = 0x45;
	h[1] = 0;
	put16(h + 2, (uint16_t)(20 + plen));
	put16(h + 4, ident++);
	put16(h + 6, 0x4000); /* DF */
	h[8] = 64;
	h[9] = proto;
	put16(h + 10, 0);
	put32(h + 12, ip.cfg.addr);
	put32(h + 16, dst);
	put16(h + 10, sum_fold(sum_add(0, h, 20)));
	send_frame(ip.out, NET_ETH_HLEN + 20 + plen);
}

static void handle_icmp(const uint8_t *f, uint32_t src, const uint8_t *p, size_t plen)
{
	if (plen < 8 || sum_fold(sum_add(0, p, plen)) != 0) {
		ip.st.dropped_malformed++;
		return;
	}
	if (p[0] != 8) { /* only echo requests */
		ip.st.dropped_other++;
		return;
	}
	if (20 + plen > ip.mtu)
		return;
	uint8_t *r = ip.out + NET_ETH_HLEN + 20;
	memmove(r, p, plen);
	r[0] = 0; /* echo reply */
	r[1] = 0;
	put16(r + 2, 0);
	put16(r + 2, sum_fold(sum_add(0, r, plen)));
	ip_output(f + 6, src, IP_PROTO_ICMP, plen);
	ip.st.icmp_echo_replies++;
}

static uint16_t udp_checksum(uint32_t src, uint32_t dst, const uint8_t *u, size_t len)
{
	uint8_t pseudo[12];
	put32(pseudo, src);
	put32(pseudo + 4, dst);
	pseudo[8] = 0;
	pseudo[9] = IP_PROTO_UDP;
	put16(pseudo + 10, (uint16_t)len);
	uint16_t c = sum_fold(sum_add(sum_add(0, pseudo, 12), u, len));
	return c;
}

static void handle_udp(uint32_t src, uint32_t dst, const uint8_t *u, size_t plen)
{
	if (plen < 8) {
		ip.st.dropped_malformed++;
		return;
	}
	uint16_t ulen = get16(u + 4);
	if (ulen < 8 || ulen > plen || (size_t)ulen - 8 > sizeof(ip.q[0].data)) {
		ip.st.dropped_malformed++;
		return;
	}
	if (get16(u + 6) != 0 && udp_checksum(src, dst, u, ulen) != 0) {
		ip.st.dropped_malformed++;
		return;
	}
	if (ip.q_count == UDP_QUEUE) {
		ip.st.udp_queue_full++;
		return;
	}
	struct udp_datagram *d = &ip.q[(ip.q_first + ip.q_count) % UDP_QUEUE];
	d->src = src;
	d->sport = get16(u);
	d->dport = get16(u + 2);
	d->len = (uint16_t)(ulen - 8);
	memcpy(d->data, u + 8, d->len);
	ip.q_count++;
	ip.st.udp_in++;
}

static void handle_ipv4(const uint8_t *f, size_t len)
{
	const uint8_t *h = f + NET_ETH_HLEN;
	size_t avail = len - NET_ETH_HLEN;
	if (avail < 20 || (h[0] >> 4) != 4) {
		ip.st.dropped_malformed++;
		return;
	}
	size_t ihl = (size_t)(h[0] & 15) * 4;
	size_t total = get16(h + 2);
	if (ihl < 20 || ihl > total || total > avail || sum_fold(sum_add(0, h, ihl)) != 0) {
		ip.st.dropped_malformed++;
		return;
	}
	if (get16(h + 6) & 0x3fff) { /* MF or an offset: a fragment */
		ip.st.dropped_malformed++;
		return;
	}
	uint32_t src = get32(h + 12), dst = get32(h + 16);
	if (dst != ip.cfg.addr) {
		ip.st.dropped_other++;
		return;
	}
	arp_learn(src, f + 6);
	const uint8_t *p = h + ihl;
	size_t plen = total - ihl;
	if (h[9] == IP_PROTO_ICMP)
		handle_icmp(f, src, p, plen);
	else if (h[9] == IP_PROTO_UDP)
		handle_udp(src, dst, p, plen);
	else
		ip.st.dropped_other++;
}

int ip_poll(void)
{
	int handled = 0;
	if (!ip.up)
		return 0;
	for (;;) {
		int len = net_recv(ip.cfg.nic, ip.frame, sizeof(ip.frame));
		if (len < 0)
			break;
		handled++;
		ip.st.frames_in++;
		if (len < NET_ETH_HLEN) {
			ip.st.dropped_malformed++;
			continue;
		}
		const uint8_t *dst = ip.frame;
		bool bcast = (dst[0] & 1) != 0;
		if (!bcast && memcmp(dst, ip.mac, 6)) {
			ip.st.dropped_other++;
			continue;
		}
		uint16_t type = get16(ip.frame + 12);
		if (type == ETH_ARP)
			handle_arp(ip.frame, (size_t)len);
		else if (type == ETH_IPV4)
			handle_ipv4(ip.frame, (size_t)len);
		else
			ip.st.dropped_other++;
	}
	return handled;
}

int udp_send(uint32_t dst, uint16_t sport, uint16_t dport, const void *data, size_t len)
{
	if (!ip.up)
		return -VIRTIO_ENODEV;
	if (len + 28 > ip.mtu)
		return -VIRTIO_EINVAL;
	uint32_t hop = dst;
	if ((dst & ip.cfg.netmask) != (ip.cfg.addr & ip.cfg.netmask)) {
		if (!ip.cfg.gateway)
			return -VIRTIO_EINVAL;
		hop = ip.cfg.gateway;
	}
	const uint8_t *mac = arp_lookup(hop);
	uint64_t deadline = pvmm_now_ns() + PVMM_NS_PER_S;
	uint64_t next_ask = 0;
	while (!mac) {
		uint64_t now = pvmm_now_ns();
		if (now >= deadline)
			return -VIRTIO_ETIMEDOUT;
		if (now >= next_ask) {
			arp_send(1, NULL, hop);
			next_ask = now + PVMM_NS_PER_S / 4;
		}
		net_wait(next_ask < deadline ? next_ask : deadline);
		ip_poll();
		mac = arp_lookup(hop);
	}
	uint8_t *u = ip.out + NET_ETH_HLEN + 20;
	put16(u, sport);
	put16(u + 2, dport);
	put16(u + 4, (uint16_t)(8 + len));
	put16(u + 6, 0);
	memcpy(u + 8, data, len);
	uint16_t c = udp_checksum(ip.cfg.addr, dst, u, 8 + len);
	put16(u + 6, c ? c : 0xffff);
	uint8_t m[6];
	memcpy(m, mac, 6);
	ip_output(m, dst, IP_PROTO_UDP, 8 + len);
	ip.st.udp_out++;
	return 0;
}

int udp_recv(uint16_t port, struct udp_datagram *d, uint64_t deadline_ns)
{
	for (;;) {
		ip_poll();
		while (ip.q_count) {
			struct udp_datagram *q = &ip.q[ip.q_first];
			ip.q_first = (ip.q_first + 1) % UDP_QUEUE;
			ip.q_count--;
			if (port == 0 || q->dport == port) {
				memcpy(d, q, sizeof(*d) - sizeof(d->data) + q->len);
				return 0;
			}
			ip.st.dropped_other++;
		}
		if (pvmm_now_ns() >= deadline_ns)
			return -VIRTIO_ETIMEDOUT;
		net_wait(deadline_ns);
	}
}
