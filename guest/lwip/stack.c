/*
 * lwIP's one interface, on the runtime's virtio-net raw frames, and the
 * loop that drives the stack: frames in, timers, sleep until either has
 * something. Polling only (lwIP never runs from an interrupt), so lwIP
 * needs no locks. Addresses come from the guest's arguments or DHCP.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pvmm/guest.h>
#define PVMM_NET_RAW_ONLY
#include <pvmm/net.h>
#include "lwip/dhcp.h"
#include "lwip/etharp.h"
#include "lwip/init.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/timeouts.h"
#include "netif/ethernet.h"
#include "stack.h"

/* Frames taken from the NIC per pass, so that a flood still lets the
 * waiting call look at its condition. */
#define RX_BATCH 64

struct netstack_stats stack_stats;

static struct {
	bool up;
	unsigned nic, mtu;
	bool dhcp;
	struct netif netif;
	uint8_t tx[9000 + NET_ETH_HLEN]; /* a chained pbuf, made contiguous */
} st;

bool stack_up(void)
{
	return st.up;
}

uint32_t netstack_aton(const char *s, const char **end)
{
	uint32_t a = 0;
	for (int i = 0; i < 4; i++) {
		if (*s < '0' || *s > '9')
			return 0;
		unsigned v = 0;
		int digits = 0;
		while (*s >= '0' && *s <= '9' && digits < 4) {
			v = v * 10 + (unsigned)(*s++ - '0');
			digits++;
		}
		if (v > 255 || digits > 3)
			return 0;
		a = a << 8 | v;
		if (i < 3 && *s++ != '.')
			return 0;
	}
	if (end)
		*end = s;
	return a;
}

int netstack_config_from_args(int argc, char **argv, struct netstack_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *e;
		if (!strncmp(a, "ip=", 3)) {
			cfg->addr = netstack_aton(a + 3, &e);
			char *end = NULL;
			unsigned long len = cfg->addr && *e == '/' ? strtoul(e + 1, &end, 10) : 0;
			if (!end || end == e + 1 || *end || len < 1 || len > 30) {
				printf("netstack: '%s': expected ip=A.B.C.D/LEN (LEN 1 to 30)\n", a);
				return -EINVAL;
			}
			cfg->netmask = (uint32_t)(0xffffffffull << (32 - len));
		} else if (!strncmp(a, "gw=", 3)) {
			cfg->gateway = netstack_aton(a + 3, &e);
			if (!cfg->gateway || *e) { /* e is set when the address is */
				printf("netstack: '%s': expected gw=A.B.C.D\n", a);
				return -EINVAL;
			}
		} else if (!strncmp(a, "nic=", 4)) {
			char *end;
			unsigned long n = strtoul(a + 4, &end, 10);
			if (end == a + 4 || *end || n >= NET_MAX_NICS) {
				printf("netstack: '%s': expected nic=0 to %d\n", a, NET_MAX_NICS - 1);
				return -EINVAL;
			}
			cfg->nic = (unsigned)n;
		}
	}
	if (cfg->gateway && !cfg->addr) {
		printf("netstack: gw= needs ip= (without ip=, DHCP gives both)\n");
		return -EINVAL;
	}
	return 0;
}

char *netstack_ntoa(uint32_t a, char buf[16])
{
	snprintf(buf, 16, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
	return buf;
}

static err_t linkoutput(struct netif *nif, struct pbuf *p)
{
	(void)nif;
	const void *frame = p->payload;
	if (p->tot_len > NET_ETH_HLEN + st.mtu) {
		stack_stats.drop_out_err++;
		return ERR_IF;
	}
	if (p->next) {
		pbuf_copy_partial(p, st.tx, p->tot_len, 0);
		frame = st.tx;
	}
	if (net_send(st.nic, frame, p->tot_len) < 0) {
		stack_stats.drop_out_err++;
		return ERR_IF;
	}
	stack_stats.frames_out++;
	stack_stats.bytes_out += p->tot_len;
	return ERR_OK;
}

static err_t netif_setup(struct netif *nif)
{
	nif->name[0] = 'p';
	nif->name[1] = 'v';
	nif->hwaddr_len = ETH_HWADDR_LEN;
	net_mac(st.nic, nif->hwaddr);
	nif->mtu = (u16_t)st.mtu;
	nif->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET;
	nif->output = etharp_output;
	nif->linkoutput = linkoutput;
	return ERR_OK;
}

/* Every frame that has arrived (up to RX_BATCH) into lwIP, each received
 * straight into a pbuf. */
static void pump(void)
{
	for (int i = 0; i < RX_BATCH; i++) {
		struct pbuf *p = pbuf_alloc(PBUF_RAW, (u16_t)(NET_ETH_HLEN + st.mtu), PBUF_RAM);
		if (!p) {
			/* No memory: the frame is dropped, not left to block the ring. */
			if (net_recv(st.nic, st.tx, sizeof st.tx) < 0)
				return;
			stack_stats.drop_in_nomem++;
			continue;
		}
		int n = net_recv(st.nic, p->payload, p->len);
		if (n <= 0) {
			pbuf_free(p);
			return;
		}
		stack_stats.frames_in++;
		stack_stats.bytes_in += (unsigned)n;
		pbuf_realloc(p, (u16_t)n);
		if (st.netif.input(p, &st.netif) != ERR_OK)
			pbuf_free(p);
	}
}

bool stack_wait(bool (*ready)(void *arg), void *arg, uint64_t deadline_ns)
{
	for (;;) {
		pump();
		sys_check_timeouts();
		if (ready && ready(arg))
			return true;
		uint64_t now = pvmm_now_ns();
		if (now >= deadline_ns)
			return false;
		uint64_t wake = deadline_ns;
		u32_t ms = sys_timeouts_sleeptime();
		if (ms != SYS_TIMEOUTS_SLEEPTIME_INFINITE && wake - now > (uint64_t)ms * 1000000u)
			wake = now + (uint64_t)ms * 1000000u;
		if (wake > now)
			net_wait(wake);
	}
}

void netstack_poll(void)
{
	if (st.up)
		stack_wait(NULL, NULL, 0);
}

static bool dhcp_bound(void *arg)
{
	(void)arg;
	return dhcp_supplied_address(&st.netif);
}

int netstack_init(const struct netstack_config *cfg, uint64_t deadline_ns)
{
	if (st.up)
		return -EALREADY;
	if (cfg->nic >= net_count())
		return -ENODEV;
	if (net_open(cfg->nic) < 0)
		return -ENODEV;
	st.nic = cfg->nic;
	st.mtu = net_mtu(cfg->nic);
	if (st.mtu < 576 || st.mtu > 9000)
		return -EINVAL;
	lwip_init();
	ip4_addr_t addr, mask, gw;
	ip4_addr_set_u32(&addr, lwip_htonl(cfg->addr));
	ip4_addr_set_u32(&mask, lwip_htonl(cfg->netmask));
	ip4_addr_set_u32(&gw, lwip_htonl(cfg->gateway));
	if (!netif_add(&st.netif, &addr, &mask, &gw, NULL, netif_setup, ethernet_input))
		return -ENOMEM;
	netif_set_default(&st.netif);
	netif_set_link_up(&st.netif);
	netif_set_up(&st.netif);
	st.up = true;
	if (cfg->addr)
		return 0;
	st.dhcp = true;
	if (dhcp_start(&st.netif) != ERR_OK)
		return -ENOMEM;
	return stack_wait(dhcp_bound, NULL, deadline_ns) ? 0 : -ETIMEDOUT;
}

void netstack_addr(uint32_t *addr, uint32_t *netmask, uint32_t *gateway)
{
	if (addr)
		*addr = st.up ? lwip_ntohl(ip4_addr_get_u32(netif_ip4_addr(&st.netif))) : 0;
	if (netmask)
		*netmask = st.up ? lwip_ntohl(ip4_addr_get_u32(netif_ip4_netmask(&st.netif))) : 0;
	if (gateway)
		*gateway = st.up ? lwip_ntohl(ip4_addr_get_u32(netif_ip4_gw(&st.netif))) : 0;
}

void netstack_get_stats(struct netstack_stats *out)
{
	*out = stack_stats;
}
