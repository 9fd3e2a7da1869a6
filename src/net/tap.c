/*
 * TAP back end: an existing TAP interface, or one created for the VM (it
 * goes away when the monitor exits), opened through /dev/net/tun with
 * IFF_TAP | IFF_NO_PI | IFF_VNET_HDR and a 12-byte header
 * (TUNSETVNETHDRSZ), so frames pass with the virtio-net header in front
 * and no copy of our own. No offloads are enabled (TUNSETOFFLOAD stays 0),
 * so the kernel hands us only complete, checksummed frames without GSO.
 * The fd is non-blocking: the device reads it until EAGAIN on the I/O
 * thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <linux/if_tun.h>

#include "log.h"
#include "net/backend.h"

struct tap {
	struct net_backend b;
};

static ssize_t tap_send(struct net_backend *b, const struct iovec *iov, int iovcnt)
{
	for (;;) {
		ssize_t n = writev(b->fd, iov, iovcnt);
		if (n >= 0)
			return n;
		if (errno != EINTR)
			return -errno;
	}
}

static ssize_t tap_recv(struct net_backend *b, void *buf, size_t cap)
{
	/* One byte more than the caller can take: a frame that fills it was
	 * longer than cap (tun truncates to the buffer it is given). */
	struct iovec iov[2];
	uint8_t spill;
	iov[0] = (struct iovec){ buf, cap };
	iov[1] = (struct iovec){ &spill, 1 };
	for (;;) {
		ssize_t n = readv(b->fd, iov, 2);
		if (n >= 0)
			return n;
		if (errno != EINTR)
			return -errno;
	}
}

static void tap_close(struct net_backend *b)
{
	if (b->fd >= 0)
		close(b->fd);
	free(b);
}

static const struct net_backend_ops tap_ops = {
	.kind = "tap",
	.send = tap_send,
	.recv = tap_recv,
	.close = tap_close,
};

struct net_backend *net_tap_open(const struct net_spec *spec)
{
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		if (e == ENOENT || e == ENODEV)
			log_error("--net tap=%s: /dev/net/tun is missing (no TUN/TAP support in this kernel or container)",
				  spec->ifname);
		else if (e == EACCES || e == EPERM)
			log_error("--net tap=%s: cannot open /dev/net/tun: %s (give this user access to it, or run with CAP_NET_ADMIN)",
				  spec->ifname, strerror(e));
		else
			log_error("--net tap=%s: cannot open /dev/net/tun: %s", spec->ifname, strerror(e));
		return NULL;
	}
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	memcpy(ifr.ifr_name, spec->ifname, strnlen(spec->ifname, IFNAMSIZ - 1));
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		int e = errno;
		if (e == EPERM || e == EACCES)
			log_error("--net tap=%s: not permitted to create or attach this TAP (create it first with "
				  "'ip tuntap add dev %s mode tap user USER', or run with CAP_NET_ADMIN)",
				  spec->ifname, spec->ifname);
		else if (e == EINVAL)
			log_error("--net tap=%s: an interface of that name exists and is not a TAP", spec->ifname);
		else if (e == EBUSY)
			log_error("--net tap=%s: the TAP is already in use (by another NIC or process), or is not a TAP",
				  spec->ifname);
		else
			log_error("--net tap=%s: TUNSETIFF failed: %s", spec->ifname, strerror(e));
		close(fd);
		return NULL;
	}
	int hdr = NET_HDR_LEN;
	if (ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0) {
		log_error("--net tap=%s: TUNSETVNETHDRSZ %d failed: %s", spec->ifname, hdr, strerror(errno));
		close(fd);
		return NULL;
	}
	/* No offloads: a persistent TAP keeps what its last user enabled,
	 * and the device offers none (GSO or partial-checksum frames would
	 * be dropped as host errors). */
	if (ioctl(fd, TUNSETOFFLOAD, 0) < 0) {
		log_error("--net tap=%s: TUNSETOFFLOAD 0 failed: %s", spec->ifname, strerror(errno));
		close(fd);
		return NULL;
	}
	struct tap *t = calloc(1, sizeof(*t));
	if (!t) {
		log_error("out of memory opening tap %s", spec->ifname);
		close(fd);
		return NULL;
	}
	t->b.ops = &tap_ops;
	t->b.fd = fd;
	snprintf(t->b.name, sizeof(t->b.name), "tap:%s", ifr.ifr_name);
	return &t->b;
}
