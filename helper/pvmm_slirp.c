/*
 * pvmm-slirp: the user-networking helper of the monitor's --net user back
 * end (src/net/slirp.c). It runs libslirp, which Debian ships only as a
 * shared library needing glib, so that the release monitor can stay a
 * static executable (docs/net.md, "Linking").
 *
 * The monitor spawns it with one end of a SOCK_SEQPACKET socket pair as
 * fd 3 (argv[1]). The first message from the monitor is the whole
 * configuration (struct net_user); the helper answers "\0" (ready) or
 * "\1" and a one-line message. After that each message either way is one
 * frame with a 12-byte virtio_net_hdr in front (zeros from us, ignored
 * from the guest: no offloads are negotiated). The helper is single
 * threaded: one poll() loop over the socket and slirp's sockets, slirp's
 * timers run from the loop's timeout. EOF on the socket ends it.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <libslirp.h>

#include "net/backend.h"

#define FRAMES_PER_WAKE 256
#define GUEST_ERRORS_LOGGED 10

struct timer {
	SlirpTimerCb cb;
	void *cb_opaque;
	int64_t expire_ms; /* -1: not armed */
	struct timer *next;
};

struct helper {
	int fd;
	Slirp *slirp;
	struct timer *timers;
	struct pollfd *pfd;
	int npfd, cap_pfd;
	unsigned guest_errors;
	uint64_t tx_dropped; /* frames for the guest the socket had no room for */
};

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void answer(int fd, int ok, const char *fmt, ...)
{
	char buf[256];
	int n = 1;
	buf[0] = ok ? 0 : 1;
	if (fmt) {
		va_list ap;
		va_start(ap, fmt);
		n += vsnprintf(buf + 1, sizeof(buf) - 1, fmt, ap);
		va_end(ap);
		if (n > (int)sizeof(buf) - 1)
			n = (int)sizeof(buf) - 1;
	}
	(void)!send(fd, buf, (size_t)n, MSG_NOSIGNAL);
}

/* libslirp's callbacks. */

static ssize_t cb_send_packet(const void *buf, size_t len, void *opaque)
{
	struct helper *h = opaque;
	static const uint8_t hdr[NET_HDR_LEN]; /* all zeros */
	struct iovec iov[2] = { { (void *)hdr, sizeof(hdr) }, { (void *)buf, len } };
	struct msghdr m = { .msg_iov = iov, .msg_iovlen = 2 };
	while (sendmsg(h->fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
		if (errno == EINTR)
			continue;
		h->tx_dropped++; /* full (the device drains it on every wake-up) or gone */
		break;
	}
	return (ssize_t)len;
}

static void cb_guest_error(const char *msg, void *opaque)
{
	struct helper *h = opaque;
	if (h->guest_errors++ < GUEST_ERRORS_LOGGED)
		fprintf(stderr, "pvmm: --net user: the guest sent: %s\n", msg);
}

static int64_t cb_clock_get_ns(void *opaque)
{
	(void)opaque;
	return now_ns();
}

static void *cb_timer_new(SlirpTimerCb cb, void *cb_opaque, void *opaque)
{
	struct helper *h = opaque;
	struct timer *t = calloc(1, sizeof(*t));
	if (!t)
		abort(); /* libslirp cannot take a NULL timer */
	t->cb = cb;
	t->cb_opaque = cb_opaque;
	t->expire_ms = -1;
	t->next = h->timers;
	h->timers = t;
	return t;
}

static void cb_timer_free(void *timer, void *opaque)
{
	struct helper *h = opaque;
	for (struct timer **p = &h->timers; *p; p = &(*p)->next)
		if (*p == timer) {
			*p = ((struct timer *)timer)->next;
			free(timer);
			return;
		}
}

static void cb_timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
	(void)opaque;
	((struct timer *)timer)->expire_ms = expire_ms;
}

static void cb_register_poll_fd(int fd, void *opaque)
{
	(void)fd, (void)opaque; /* poll() takes the fds afresh each pass */
}

static void cb_notify(void *opaque)
{
	(void)opaque; /* one thread: the loop looks again after every pass */
}

static const SlirpCb callbacks = {
	.send_packet = cb_send_packet,
	.guest_error = cb_guest_error,
	.clock_get_ns = cb_clock_get_ns,
	.timer_new = cb_timer_new,
	.timer_free = cb_timer_free,
	.timer_mod = cb_timer_mod,
	.register_poll_fd = cb_register_poll_fd,
	.unregister_poll_fd = cb_register_poll_fd,
	.notify = cb_notify,
};

/* slirp_pollfds_fill / _poll. */

static int add_poll(int fd, int events, void *opaque)
{
	struct helper *h = opaque;
	if (h->npfd == h->cap_pfd) {
		int cap = h->cap_pfd ? 2 * h->cap_pfd : 16;
		struct pollfd *p = realloc(h->pfd, (size_t)cap * sizeof(*p));
		if (!p)
			abort();
		h->pfd = p;
		h->cap_pfd = cap;
	}
	short ev = 0;
	if (events & SLIRP_POLL_IN)
		ev |= POLLIN;
	if (events & SLIRP_POLL_OUT)
		ev |= POLLOUT;
	if (events & SLIRP_POLL_PRI)
		ev |= POLLPRI;
	h->pfd[h->npfd] = (struct pollfd){ .fd = fd, .events = ev };
	return h->npfd++;
}

static int get_revents(int idx, void *opaque)
{
	struct helper *h = opaque;
	if (idx < 1 || idx >= h->npfd)
		return 0;
	short r = h->pfd[idx].revents;
	int ev = 0;
	if (r & POLLIN)
		ev |= SLIRP_POLL_IN;
	if (r & POLLOUT)
		ev |= SLIRP_POLL_OUT;
	if (r & POLLPRI)
		ev |= SLIRP_POLL_PRI;
	if (r & POLLERR)
		ev |= SLIRP_POLL_ERR;
	if (r & POLLHUP)
		ev |= SLIRP_POLL_HUP;
	return ev;
}

/* Run the timers that are due, one at a time: a callback may re-arm or
 * free any timer, so the scan starts again after each. */
static void run_timers(struct helper *h)
{
	for (;;) {
		int64_t now = now_ns() / 1000000;
		struct timer *t = h->timers;
		while (t && !(t->expire_ms >= 0 && t->expire_ms <= now))
			t = t->next;
		if (!t)
			return;
		t->expire_ms = -1;
		t->cb(t->cb_opaque);
	}
}

/* Frames from the guest: 0, or -1 at EOF or a socket error. */
static int drain_guest(struct helper *h)
{
	static uint8_t buf[NET_HDR_LEN + NET_ETH_HLEN + NET_MTU_MAX];
	for (int i = 0; i < FRAMES_PER_WAKE; i++) {
		ssize_t n = recv(h->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
		}
		if (n == 0)
			return -1;
		if (n > NET_HDR_LEN + NET_ETH_HLEN)
			slirp_input(h->slirp, buf + NET_HDR_LEN, (int)(n - NET_HDR_LEN));
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct helper h = { .fd = argc == 2 ? atoi(argv[1]) : -1 };
	struct net_user u;

	if (h.fd < 3) {
		fprintf(stderr, "pvmm-slirp: started by pvmm for --net user, not by hand\n");
		return 2;
	}
	/* Terminal signals are the monitor's business; we end at EOF. */
	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);

	ssize_t n = recv(h.fd, &u, sizeof(u), 0);
	if (n != (ssize_t)sizeof(u) || u.nfwd > NET_HOSTFWD_MAX) {
		answer(h.fd, 0, "--net user: pvmm-slirp got a bad configuration (a helper from another build?)");
		return 2;
	}

	SlirpConfig cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.version = 1;
	cfg.restricted = 0;
	cfg.in_enabled = true;
	cfg.vnetwork = u.net;
	cfg.vnetmask = u.mask;
	cfg.vhost = u.host;
	cfg.vdhcp_start = u.dhcp_start;
	cfg.vnameserver = u.dns;
	cfg.vhostname = "pvmm";
	cfg.if_mtu = u.mtu;
	cfg.if_mru = u.mtu;
	h.slirp = slirp_new(&cfg, &callbacks, &h);
	if (!h.slirp) {
		answer(h.fd, 0, "--net user: libslirp could not start");
		return 2;
	}
	for (unsigned i = 0; i < u.nfwd; i++) {
		const struct net_hostfwd *f = &u.fwd[i];
		errno = 0;
		if (slirp_add_hostfwd(h.slirp, f->udp, f->host, f->host_port, f->guest, f->guest_port) < 0) {
			int e = errno;
			answer(h.fd, 0, "--net user,hostfwd=%s: cannot listen on the host port%s%s", f->text,
			       e ? ": " : " (in use?)", e ? strerror(e) : "");
			slirp_cleanup(h.slirp);
			return 2;
		}
	}
	answer(h.fd, 1, NULL);

	for (;;) {
		uint32_t timeout = UINT32_MAX;
		h.npfd = 0;
		add_poll(h.fd, SLIRP_POLL_IN, &h);
		slirp_pollfds_fill(h.slirp, &timeout, add_poll, &h);
		int64_t now = now_ns() / 1000000;
		for (struct timer *t = h.timers; t; t = t->next)
			if (t->expire_ms >= 0) {
				int64_t d = t->expire_ms > now ? t->expire_ms - now : 0;
				if ((uint64_t)d < timeout)
					timeout = (uint32_t)d;
			}
		int r = poll(h.pfd, (nfds_t)h.npfd, timeout == UINT32_MAX ? -1 : (int)timeout);
		if (r < 0 && errno != EINTR)
			break;
		if (r > 0 && h.pfd[0].revents) {
			if (!(h.pfd[0].revents & POLLIN) || drain_guest(&h))
				break; /* the monitor closed its end */
		}
		slirp_pollfds_poll(h.slirp, r < 0, get_revents, &h);
		run_timers(&h);
	}
	slirp_cleanup(h.slirp);
	while (h.timers) {
		struct timer *t = h.timers;
		h.timers = t->next;
		free(t);
	}
	free(h.pfd);
	return 0;
}
