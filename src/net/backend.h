/*
 * A network back end: where a virtio-net device's frames go and come
 * from. The device (src/devices/virtio_net.c) sees only this interface;
 * each kind lives in its own file (src/net/tap.c today; user networking
 * through libslirp would be src/net/slirp.c).
 *
 * Frames cross the interface with the 12-byte virtio_net_hdr (virtio 1.x
 * layout) in front, the layout a TAP with IFF_VNET_HDR and
 * TUNSETVNETHDRSZ 12 reads and writes, so TAP needs no copy of its own.
 * Every call is non-blocking and made on the I/O thread.
 */
#ifndef PVMM_NET_BACKEND_H
#define PVMM_NET_BACKEND_H

#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#define NET_HDR_LEN 12           /* struct virtio_net_hdr_v1 */
#define NET_ETH_HLEN 14          /* destination, source, EtherType */
#define NET_MTU_DEFAULT 1500
#define NET_MTU_MIN 68           /* IPv4's minimum */
#define NET_MTU_MAX 9000
#define NET_IFNAME_MAX 16        /* IFNAMSIZ, with the NUL */

enum net_kind { NET_TAP, NET_USER };

/* One --net value, parsed. */
struct net_spec {
	enum net_kind kind;
	char ifname[NET_IFNAME_MAX]; /* tap=NAME */
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

#endif
