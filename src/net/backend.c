/*
 * --net parsing and the choice of back end. Syntax:
 *   tap=NAME[,mac=xx:xx:xx:xx:xx:xx][,mtu=N]
 *   user[,...]          (reserved: user networking is not built yet)
 */
#include "net/backend.h"

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

int net_parse(const char *arg, struct net_spec *spec)
{
	memset(spec, 0, sizeof(*spec));
	spec->mtu = NET_MTU_DEFAULT;
	if (!arg || !*arg) {
		log_error("--net needs a back end: tap=NAME[,mac=..][,mtu=N]");
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
			} else if (klen == 4 && !memcmp(p, "user", 4)) {
				log_error("--net user: user networking (libslirp) is not built into this pvmm yet; "
					  "use --net tap=NAME");
				return -1;
			} else {
				log_error("--net '%s': the value starts with the back end, tap=NAME", arg);
				return -1;
			}
			have_kind = true;
		} else if (klen == 3 && !memcmp(p, "mac", 3) && val) {
			if (parse_mac(val, vlen, spec->mac) || (spec->mac[0] & 1)) {
				log_error("--net mac=%.*s: six hex bytes xx:xx:xx:xx:xx:xx, unicast", (int)vlen, val);
				return -1;
			}
			spec->has_mac = 1;
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
		} else {
			log_error("--net '%s': unknown option '%.*s' (tap=NAME takes mac= and mtu=)", arg, (int)len, p);
			return -1;
		}
		p = end ? end + 1 : p + len;
		if (end && !*p) {
			log_error("--net '%s': trailing comma", arg);
			return -1;
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
		break;
	}
	log_error("--net: this back end is not built");
	return NULL;
}

void net_backend_close(struct net_backend *b)
{
	if (b)
		b->ops->close(b);
}
