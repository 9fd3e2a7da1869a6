/*
 * --net parsing and the choice of back end. Syntax:
 *   tap=NAME[,mac=xx:xx:xx:xx:xx:xx][,mtu=N][,model=virtio|ne2000]
 *   user[,net=A.B.C.D/LEN][,hostfwd=udp|tcp:[HADDR]:HPORT-[GADDR]:GPORT]...
 *       [,mac=..][,mtu=N][,model=virtio|ne2000]
 *   null[,mac=..][,mtu=N][,model=virtio|ne2000]
 */
#include "net/backend.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static int parse_mac(const char *s, size_t len, uint8_t mac[6])
{
	unsigned v[6];
	char buf[32], tail;

	if (len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = 0;
	if (sscanf(buf, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &tail) != 6 ||
	    len != 17)
		return -1;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)v[i];
	return 0;
}

/* A dotted quad of exactly len bytes; empty gives `dflt`. */
static int parse_addr(const char *s, size_t len, struct in_addr dflt, struct in_addr *out)
{
	char buf[16];
	if (len == 0) {
		*out = dflt;
		return 0;
	}
	if (len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = 0;
	return inet_pton(AF_INET, buf, out) == 1 ? 0 : -1;
}

/* A port, 1 to 65535, of exactly len decimal digits. */
static int parse_port(const char *s, size_t len, uint16_t *port)
{
	unsigned long v = 0;
	if (len == 0 || len > 5)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v < 1 || v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

/* net=A.B.C.D/LEN: LEN 8 to 29 (room for .2, .3 and .15 up), the host
 * part of the address zero. */
static int parse_user_net(const char *s, size_t len, struct net_user *u)
{
	const char *slash = memchr(s, '/', len);
	struct in_addr a, none = { 0 };
	uint16_t plen;
	if (!slash || parse_addr(s, (size_t)(slash - s), none, &a) || (size_t)(slash - s) == 0 ||
	    parse_port(slash + 1, len - (size_t)(slash - s) - 1, &plen) || plen < 8 || plen > 28)
		return -1;
	uint32_t mask = ~0u << (32 - plen);
	uint32_t net = ntohl(a.s_addr);
	if (net & ~mask)
		return -1;
	u->net.s_addr = htonl(net);
	u->mask.s_addr = htonl(mask);
	u->host.s_addr = htonl(net | 2);
	u->dns.s_addr = htonl(net | 3);
	u->dhcp_start.s_addr = htonl(net | 15);
	return 0;
}

/* udp|tcp:[HADDR]:HPORT-[GADDR]:GPORT, checked; the guest address is
 * resolved against net= once all options are read. */
static int parse_hostfwd(const char *s, size_t len, struct net_hostfwd *f)
{
	struct in_addr any = { htonl(INADDR_ANY) };
	memset(f, 0, sizeof(*f));
	if (len >= sizeof(f->text))
		return -1;
	memcpy(f->text, s, len);
	if (len > 4 && !memcmp(s, "udp:", 4))
		f->udp = true;
	else if (!(len > 4 && !memcmp(s, "tcp:", 4)))
		return -1;
	const char *h = s + 4, *end = s + len;
	const char *dash = memchr(h, '-', (size_t)(end - h));
	if (!dash)
		return -1;
	const char *hc = memrchr(h, ':', (size_t)(dash - h));
	const char *g = dash + 1;
	const char *gc = memrchr(g, ':', (size_t)(end - g));
	if (!hc || !gc)
		return -1;
	if (parse_addr(h, (size_t)(hc - h), any, &f->host) ||
	    parse_port(hc + 1, (size_t)(dash - hc - 1), &f->host_port) ||
	    parse_addr(g, (size_t)(gc - g), any, &f->guest) ||
	    parse_port(gc + 1, (size_t)(end - gc - 1), &f->guest_port))
		return -1;
	return 0;
}

int net_parse(const char *arg, struct net_spec *spec)
{
	memset(spec, 0, sizeof(*spec));
	spec->mtu = NET_MTU_DEFAULT;
	if (!arg || !*arg) {
		log_error("--net needs a back end: tap=NAME[,mac=..][,mtu=N], user[,net=..][,hostfwd=..] or null");
		return -1;
	}
	bool have_kind = false;
	const char *p = arg;
	while (*p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		const char *eq = memchr(p, '=', len);
		size_t klen = eq ? (size_t)(eq - p) : len;
		const char *val = eq ? eq + 1 : NULL;
		size_t vlen = eq ? len - klen - 1 : 0;

		if (!have_kind) {
			if (klen == 3 && !memcmp(p, "tap", 3) && val) {
				if (vlen == 0 || vlen >= NET_IFNAME_MAX || memchr(val, '/', vlen)) {
					log_error("--net tap=NAME: an interface name of 1 to %d characters, no '/'",
						  NET_IFNAME_MAX - 1);
					return -1;
				}
				spec->kind = NET_TAP;
				memcpy(spec->ifname, val, vlen);
			} else if (klen == 4 && !memcmp(p, "user", 4) && !val) {
				spec->kind = NET_USER;
				strcpy(spec->ifname, "user");
				parse_user_net("10.0.2.0/24", 11, &spec->user);
			} else if (klen == 4 && !memcmp(p, "null", 4) && !val) {
				spec->kind = NET_NULL;
				strcpy(spec->ifname, "null");
			} else {
				log_error("--net '%s': the value starts with the back end, tap=NAME, user or null", arg);
				return -1;
			}
			have_kind = true;
		} else if (klen == 3 && !memcmp(p, "mac", 3) && val) {
			if (parse_mac(val, vlen, spec->mac) || (spec->mac[0] & 1)) {
				log_error("--net mac=%.*s: six hex bytes xx:xx:xx:xx:xx:xx, unicast", (int)vlen, val);
				return -1;
			}
			spec->has_mac = 1;
		} else if (klen == 5 && !memcmp(p, "model", 5) && val) {
			if (vlen == 6 && !memcmp(val, "virtio", 6))
				spec->model = NET_MODEL_VIRTIO;
			else if (vlen == 6 && !memcmp(val, "ne2000", 6))
				spec->model = NET_MODEL_NE2000;
			else {
				log_error("--net model=%.*s: use model=virtio or model=ne2000", (int)vlen, val);
				return -1;
			}
		} else if (klen == 3 && !memcmp(p, "mtu", 3) && val) {
			char buf[16], *e;
			if (vlen == 0 || vlen >= sizeof(buf))
				goto bad_mtu;
			memcpy(buf, val, vlen);
			buf[vlen] = 0;
			errno = 0;
			unsigned long m = strtoul(buf, &e, 10);
			if (*e || errno || m < NET_MTU_MIN || m > NET_MTU_MAX)
				goto bad_mtu;
			spec->mtu = (unsigned)m;
		} else if (spec->kind == NET_USER && klen == 3 && !memcmp(p, "net", 3) && val) {
			if (parse_user_net(val, vlen, &spec->user)) {
				log_error("--net user,net=%.*s: a network A.B.C.D/LEN, LEN 8 to 28, host bits zero "
					  "(default 10.0.2.0/24)", (int)vlen, val);
				return -1;
			}
		} else if (spec->kind == NET_USER && klen == 7 && !memcmp(p, "hostfwd", 7) && val) {
			if (spec->user.nfwd == NET_HOSTFWD_MAX) {
				log_error("--net user: at most %d hostfwd=", NET_HOSTFWD_MAX);
				return -1;
			}
			if (parse_hostfwd(val, vlen, &spec->user.fwd[spec->user.nfwd])) {
				log_error("--net user,hostfwd=%.*s: expected udp|tcp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT, "
					  "ports 1 to 65535, addresses A.B.C.D", (int)vlen, val);
				return -1;
			}
			spec->user.nfwd++;
		} else if (spec->kind == NET_USER) {
			log_error("--net '%s': unknown option '%.*s' (user takes net=, hostfwd=, mac=, mtu= and model=)", arg,
				  (int)len, p);
			return -1;
		} else if (spec->kind == NET_NULL) {
			log_error("--net '%s': unknown option '%.*s' (null takes mac=, mtu= and model=)", arg, (int)len, p);
			return -1;
		} else {
			log_error("--net '%s': unknown option '%.*s' (tap=NAME takes mac=, mtu= and model=)", arg, (int)len, p);
			return -1;
		}
		p = end ? end + 1 : p + len;
		if (end && !*p) {
			log_error("--net '%s': trailing comma", arg);
			return -1;
		}
	}
	if (spec->kind == NET_USER) {
		struct net_user *u = &spec->user;
		u->mtu = spec->mtu;
		for (unsigned i = 0; i < u->nfwd; i++) {
			struct net_hostfwd *f = &u->fwd[i];
			if (f->guest.s_addr == htonl(INADDR_ANY))
				f->guest = u->dhcp_start;
			else if ((f->guest.s_addr & u->mask.s_addr) != u->net.s_addr) {
				log_error("--net user,hostfwd=%s: the guest address is outside the network", f->text);
				return -1;
			}
			for (unsigned j = 0; j < i; j++)
				if (u->fwd[j].udp == f->udp && u->fwd[j].host_port == f->host_port &&
				    u->fwd[j].host.s_addr == f->host.s_addr) {
					log_error("--net user,hostfwd=%s: the host port is forwarded twice", f->text);
					return -1;
				}
		}
	}
	return 0;
bad_mtu:
	log_error("--net '%s': mtu= takes %d to %d", arg, NET_MTU_MIN, NET_MTU_MAX);
	return -1;
}

void net_default_mac(const struct net_spec *spec, uint8_t mac[6])
{
	/* FNV-1a over the interface name. */
	uint32_t h = 2166136261u;
	for (const char *c = spec->ifname; *c; c++)
		h = (h ^ (uint8_t)*c) * 16777619u;
	mac[0] = 0x02; /* locally administered, unicast */
	mac[1] = 0x70; /* 'p' */
	mac[2] = (uint8_t)(h >> 24);
	mac[3] = (uint8_t)(h >> 16);
	mac[4] = (uint8_t)(h >> 8);
	mac[5] = (uint8_t)h;
}

struct net_backend *net_backend_open(const struct net_spec *spec)
{
	switch (spec->kind) {
	case NET_TAP:
		return net_tap_open(spec);
	case NET_USER:
		return net_user_open(spec);
	case NET_NULL:
		return net_null_open(spec);
	}
	log_error("--net: this back end is not built");
	return NULL;
}

void net_backend_close(struct net_backend *b)
{
	if (b)
		b->ops->close(b);
}
