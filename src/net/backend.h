/*
 * A network back end: where a virtio-net device's frames go and come
 * from. The device (src/devices/virtio_net.c) sees only this interface;
 * each kind lives in its own file (src/net/tap.c, src/net/slirp.c: user
 * networking through libslirp, run in the helper process pvmm-slirp;
 * src/net/null.c: frames dropped, none arriving).
 *
 * Frames cross the interface with the 12-byte virtio_net_hdr (virtio 1.x
 * layout) in front, the layout a TAP with IFF_VNET_HDR and
 * TUNSETVNETHDRSZ 12 reads and writes, so TAP needs no copy of its own.
 * Every call is non-blocking and made on the I/O thread.
 */
#ifndef PVMM_NET_BACKEND_H
#define PVMM_NET_BACKEND_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#define NET_HDR_LEN 12           /* struct virtio_net_hdr_v1 */
#define NET_ETH_HLEN 14          /* destination, source, EtherType */
#define NET_MTU_DEFAULT 1500
#define NET_MTU_MIN 68           /* IPv4's minimum */
#define NET_MTU_MAX 9000
#define NET_IFNAME_MAX 16        /* IFNAMSIZ, with the NUL */

enum net_kind { NET_TAP, NET_USER, NET_NULL };

#define NET_HOSTFWD_MAX 16

/* hostfwd=udp|tcp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT */
struct net_hostfwd {
	bool udp;
	struct in_addr host;         /* INADDR_ANY when HOSTADDR is empty */
	uint16_t host_port;
	struct in_addr guest;        /* the DHCP start address when GUESTADDR is empty */
	uint16_t guest_port;
	char text[64];               /* as given, for messages */
};

/* --net user: the virtual network (net=A.B.C.D/LEN, default 10.0.2.0/24;
 * the host is .2, DNS .3, DHCP hands out .15 up) and the forwards. Also
 * the whole configuration the monitor hands to the pvmm-slirp helper. */
struct net_user {
	struct in_addr net, mask, host, dns, dhcp_start; /* network byte order */
	unsigned mtu;
	unsigned nfwd;
	struct net_hostfwd fwd[NET_HOSTFWD_MAX];
};

/* The NIC a --net value asks for: model=, or --net-model when absent. */
enum net_model { NET_MODEL_UNSET, NET_MODEL_VIRTIO, NET_MODEL_NE2000 };

/* One --net value, parsed. */
struct net_spec {
	enum net_model model;        /* model=virtio|ne2000; UNSET without it */
	enum net_kind kind;
	char ifname[NET_IFNAME_MAX]; /* tap=NAME; "user" for user, "null" for null */
	struct net_user user;        /* kind NET_USER */
	uint8_t mac[6];
	int has_mac;                 /* mac= given; else net_default_mac() */
	unsigned mtu;                /* mtu=N, NET_MTU_DEFAULT if absent */
};

struct net_backend;

struct net_backend_ops {
	const char *kind;                  /* "tap" */
	/* Hand one frame (header + Ethernet frame) to the host: the bytes
	 * taken, or -errno (-EAGAIN: the host's queue is full now). */
	ssize_t (*send)(struct net_backend *b, const struct iovec *iov, int iovcnt);
	/* The next frame from the host (header + Ethernet frame) into buf:
	 * its length, or -EAGAIN when none waits, or another -errno. A frame
	 * longer than cap comes back truncated to cap bytes and its length
	 * is then reported as cap + 1 (the caller drops it). */
	ssize_t (*recv)(struct net_backend *b, void *buf, size_t cap);
	void (*close)(struct net_backend *b);
};

struct net_backend {
	const struct net_backend_ops *ops;
	int fd;                            /* readable when recv() has a frame; -1: never */
	char name[32];                     /* "tap:pvmm0", for messages */
};

/* Parse one --net value (checks only; nothing is opened). -1 after one
 * line saying what is wrong. */
int net_parse(const char *arg, struct net_spec *spec);

/* The MAC a NIC gets without mac=: locally administered, unicast, derived
 * from the back end's name so that each NIC (and each TAP) has its own. */
void net_default_mac(const struct net_spec *spec, uint8_t mac[6]);

/* Open the back end the spec names: NULL after one line saying why. */
struct net_backend *net_backend_open(const struct net_spec *spec);
void net_backend_close(struct net_backend *b);

/* Kinds. */
struct net_backend *net_tap_open(const struct net_spec *spec);
struct net_backend *net_user_open(const struct net_spec *spec);
struct net_backend *net_null_open(const struct net_spec *spec);

#endif
