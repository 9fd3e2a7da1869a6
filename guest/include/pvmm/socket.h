/*
 * TCP and UDP sockets for pvmm guests, on lwIP (built from Debian's source
 * package, guest/lwip/) over the first virtio-net NIC's raw frames.
 * Link with libpvmm-net.a (the repository's build does it for the examples
 * that include this header: see guest/guest.mk).
 *
 * There is no background activity: the stack runs only inside these calls.
 * A blocking call feeds lwIP the frames that arrived, runs its timers, and
 * sleeps (POLL) until a frame arrives or lwIP's next timer is due, until
 * it can complete. A guest that computes for a long time without calling
 * any of them answers nothing meanwhile; netstack_poll() lets it catch up.
 *
 * Addresses and ports are in host byte order: 10.0.2.15 is 0x0a00020f.
 * Calls return >= 0 on success and a negative errno value (<errno.h>:
 * -EAGAIN, -ECONNRESET, ...) on failure. Deadlines are pvmm_now_ns()
 * values: 0 returns at once, NETSTACK_FOREVER never.
 */
#ifndef PVMM_SOCKET_H
#define PVMM_SOCKET_H

#include <stddef.h>
#include <stdint.h>

#define NETSTACK_FOREVER UINT64_MAX

/* ---- The interface ---------------------------------------------------------- */

struct netstack_config {
	unsigned nic;                     /* NIC index (nic=N), default 0 */
	uint32_t addr, netmask, gateway;  /* all 0: DHCP */
};

/* Guest arguments `ip=A.B.C.D/LEN`, `gw=A.B.C.D`, `nic=N` among
 * argv[1..argc-1]; without ip= the config asks for DHCP. 0, or -EINVAL
 * for a malformed one (which is named on the console). */
int netstack_config_from_args(int argc, char **argv, struct netstack_config *cfg);

/* Bring the interface up: a static address at once, or DHCP, waiting for
 * a lease until deadline_ns. 0, -ENODEV (no such NIC), -ETIMEDOUT (no
 * lease), -ENOMEM. Once per guest. */
int netstack_init(const struct netstack_config *cfg, uint64_t deadline_ns);

/* The interface's address, netmask and gateway now (0 before it has one). */
void netstack_addr(uint32_t *addr, uint32_t *netmask, uint32_t *gateway);

/* Run the stack once: what arrived, due timers. Never waits. */
void netstack_poll(void);

/* "a.b.c.d" at s: the address, *end after it (if end is not NULL); 0
 * for a malformed one. */
uint32_t netstack_aton(const char *s, const char **end);
/* "a.b.c.d" into *buf (16 bytes); returns buf. */
char *netstack_ntoa(uint32_t addr, char buf[16]);

/* ---- Sockets ---------------------------------------------------------------- */

#define SOCK_STREAM 1   /* TCP */
#define SOCK_DGRAM  2   /* UDP */
#define SOCK_NONBLOCK 0x800 /* or'ed into the type: calls return -EAGAIN instead of waiting */
#define SOCK_MAX 32     /* sockets open at once, accepted ones included */

struct sock_addr {
	uint32_t addr;  /* 0 in bind: any */
	uint16_t port;  /* 0 in bind: an ephemeral port */
};

/* A socket (a small integer), or -EPROTONOSUPPORT, -EMFILE. */
int sock_socket(int type);
int sock_set_nonblock(int s, int on);
/* 0, -EADDRINUSE, -EINVAL (already bound). */
int sock_bind(int s, const struct sock_addr *a);
/* TCP: accept connections, up to backlog (1 to 16) waiting. */
int sock_listen(int s, int backlog);
/* TCP: the next connection (a new socket, *peer filled if not NULL), or
 * -EAGAIN (non-blocking, none waiting). */
int sock_accept(int s, struct sock_addr *peer);
/* TCP: connect (blocking: until established, refused -ECONNREFUSED, or
 * 20 s -ETIMEDOUT; non-blocking: -EINPROGRESS, then poll for SOCK_POLLOUT).
 * UDP: sets the default destination and the only accepted source. */
int sock_connect(int s, const struct sock_addr *a);
/* TCP: bytes queued. Blocking sends all of len (or fails with what
 * happened to the connection); non-blocking what fits, or -EAGAIN.
 * UDP on a connected socket: one datagram. */
long sock_send(int s, const void *buf, size_t len);
/* TCP: up to len bytes, 0 at the end of the stream (the peer closed).
 * UDP: one datagram, cut to len. Blocking waits for data. */
long sock_recv(int s, void *buf, size_t len);
/* UDP: one datagram of len (up to 65507) bytes to *to. */
long sock_sendto(int s, const void *buf, size_t len, const struct sock_addr *to);
/* UDP: one datagram, cut to len; *from is its sender. */
long sock_recvfrom(int s, void *buf, size_t len, struct sock_addr *from);
/* TCP: no more sending (FIN after what is queued). */
int sock_shutdown_write(int s);
/* Close. TCP: a blocking socket first waits (up to 10 s) for what it
 * queued to be acknowledged, so that nothing is lost if the guest exits
 * right after; then FIN. Unread received data is dropped (with the
 * window given back, so the peer gets a FIN, not a reset). */
int sock_close(int s);
/* The local and remote address of a socket. */
int sock_name(int s, struct sock_addr *local, struct sock_addr *peer);

/* Wait until one of the sockets is ready, or deadline_ns: how many are
 * (revents set), 0 at the deadline, -EBADF for a bad one. */
#define SOCK_POLLIN  0x1 /* data, a connection to accept, or end of stream */
#define SOCK_POLLOUT 0x4 /* room to send (TCP connected) */
#define SOCK_POLLERR 0x8 /* the connection failed (reset, refused) */
#define SOCK_POLLHUP 0x10 /* the peer closed its side */
struct sock_pollfd {
	int sock;
	short events, revents;
};
int sock_poll(struct sock_pollfd *fds, unsigned n, uint64_t deadline_ns);

/* What the stack and its interface counted. */
struct netstack_stats {
	uint64_t frames_in, frames_out, bytes_in, bytes_out;
	uint64_t drop_in_nomem, drop_out_err, udp_queue_full, accept_refused;
};
void netstack_get_stats(struct netstack_stats *st);

#endif /* PVMM_SOCKET_H */
