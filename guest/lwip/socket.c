/*
 * <pvmm/socket.h> on lwIP's raw (callback) API. lwIP's callbacks only
 * record what happened in the socket (data queued, connection accepted,
 * error); the calls wait for a socket's state to change with stack_wait,
 * which is also what runs lwIP. A socket table entry owns its pcb; lwIP
 * frees a pcb itself on a reset or abort, and says so through the error
 * callback, after which the socket holds only the error.
 */
#include <errno.h>
#include <string.h>
#include <pvmm/guest.h>
#include "lwip/tcp.h"
#include "lwip/udp.h"
#include "stack.h"

#define ACCEPT_QUEUE 16
#define DGRAM_QUEUE 32
#define CONNECT_NS (20ull * 1000000000u)
#define CLOSE_LINGER_NS (10ull * 1000000000u)

struct dgram {
	struct pbuf *p;
	uint32_t addr;
	uint16_t port;
};

struct sock {
	int type;           /* 0: free */
	bool nonblock;
	bool pending;       /* accepted by lwIP, not yet by sock_accept */
	bool listening, connecting, connected, eof, wr_shut;
	int err;            /* 0, or the -errno the connection ended with */
	struct tcp_pcb *tcp;
	struct udp_pcb *udp;
	struct pbuf *rx;    /* TCP: received, unread */
	struct sock *acc[ACCEPT_QUEUE];
	unsigned acc_first, acc_n;
	struct dgram dq[DGRAM_QUEUE];
	unsigned dq_first, dq_n;
};

static struct sock socks[SOCK_MAX];

static struct sock *get(int s, int type)
{
	if (s < 0 || s >= SOCK_MAX || !socks[s].type || socks[s].pending)
		return NULL;
	if (type && socks[s].type != type)
		return NULL;
	return &socks[s];
}

static uint64_t deadline(const struct sock *k, uint64_t ns)
{
	return k->nonblock ? 0 : (ns == NETSTACK_FOREVER ? ns : pvmm_now_ns() + ns);
}

static int errno_of(err_t e)
{
	switch (e) {
	case ERR_OK: return 0;
	case ERR_MEM: case ERR_BUF: return -ENOMEM;
	case ERR_TIMEOUT: return -ETIMEDOUT;
	case ERR_RTE: return -EHOSTUNREACH;
	case ERR_INPROGRESS: return -EINPROGRESS;
	case ERR_VAL: case ERR_ARG: return -EINVAL;
	case ERR_WOULDBLOCK: return -EAGAIN;
	case ERR_USE: return -EADDRINUSE;
	case ERR_ALREADY: return -EALREADY;
	case ERR_ISCONN: return -EISCONN;
	case ERR_CONN: case ERR_CLSD: return -ENOTCONN;
	case ERR_ABRT: return -ECONNABORTED;
	case ERR_RST: return -ECONNRESET;
	case ERR_IF: return -ENETDOWN;
	default: return -EIO;
	}
}

static ip_addr_t ip_of(uint32_t a)
{
	ip_addr_t ip;
	ip_addr_set_ip4_u32(&ip, lwip_htonl(a));
	return ip;
}

static uint32_t u32_of(const ip_addr_t *ip)
{
	return lwip_ntohl(ip4_addr_get_u32(ip_2_ip4(ip)));
}

/* ---- lwIP's callbacks -------------------------------------------------------- */

static err_t on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
	(void)pcb;
	(void)err;
	struct sock *k = arg;
	if (!p) {
		k->eof = true;
		return ERR_OK;
	}
	if (k->rx)
		pbuf_cat(k->rx, p);
	else
		k->rx = p;
	return ERR_OK;
}

/* The pcb is gone (lwIP freed it): reset by the peer, refused, or
 * aborted by lwIP (retransmissions ran out). */
static void on_err(void *arg, err_t err)
{
	struct sock *k = arg;
	k->tcp = NULL;
	k->err = (k->connecting && err == ERR_RST) ? -ECONNREFUSED : errno_of(err);
	if (!k->err)
		k->err = -ECONNABORTED;
	k->connecting = false;
}

static err_t on_connected(void *arg, struct tcp_pcb *pcb, err_t err)
{
	(void)pcb;
	(void)err;
	struct sock *k = arg;
	k->connecting = false;
	k->connected = true;
	return ERR_OK;
}

static void tcp_setup(struct sock *k, struct tcp_pcb *pcb)
{
	k->tcp = pcb;
	tcp_arg(pcb, k);
	tcp_recv(pcb, on_recv);
	tcp_err(pcb, on_err);
	/* Small writes go out at once: request/response protocols would
	 * otherwise wait on the peer's delayed ACK. sock_send queues large
	 * writes whole, so they still fill segments. */
	tcp_nagle_disable(pcb);
}

static struct sock *alloc_sock(int type)
{
	for (int i = 0; i < SOCK_MAX; i++) {
		if (!socks[i].type) {
			memset(&socks[i], 0, sizeof socks[i]);
			socks[i].type = type;
			return &socks[i];
		}
	}
	return NULL;
}

/* A connection completed the handshake: it gets a socket now, so that
 * data arriving before sock_accept is kept. A full table refuses it
 * (lwIP then resets it). */
static err_t on_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
	struct sock *l = arg;
	if (err != ERR_OK || !pcb)
		return ERR_VAL;
	struct sock *k = l->acc_n < ACCEPT_QUEUE ? alloc_sock(SOCK_STREAM) : NULL;
	if (!k) {
		stack_stats.accept_refused++;
		return ERR_MEM;
	}
	k->pending = true;
	k->connected = true;
	tcp_setup(k, pcb);
	/* Counts against the listener's backlog until sock_accept takes it. */
	tcp_backlog_delayed(pcb);
	l->acc[(l->acc_first + l->acc_n++) % ACCEPT_QUEUE] = k;
	return ERR_OK;
}

static void on_udp(void *arg, struct udp_pcb *pcb, struct pbuf *p, const ip_addr_t *addr, u16_t port)
{
	(void)pcb;
	struct sock *k = arg;
	if (k->dq_n == DGRAM_QUEUE) {
		stack_stats.udp_queue_full++;
		pbuf_free(p);
		return;
	}
	struct dgram *d = &k->dq[(k->dq_first + k->dq_n++) % DGRAM_QUEUE];
	d->p = p;
	d->addr = u32_of(addr);
	d->port = port;
}

/* ---- Calls ------------------------------------------------------------------- */

int sock_socket(int type)
{
	bool nonblock = type & SOCK_NONBLOCK;
	type &= ~SOCK_NONBLOCK;
	if (type != SOCK_STREAM && type != SOCK_DGRAM)
		return -EPROTONOSUPPORT;
	if (!stack_up())
		return -ENETDOWN;
	struct sock *k = alloc_sock(type);
	if (!k)
		return -EMFILE;
	k->nonblock = nonblock;
	if (type == SOCK_STREAM) {
		struct tcp_pcb *pcb = tcp_new_ip_type(IPADDR_TYPE_V4);
		if (!pcb) {
			k->type = 0;
			return -ENOMEM;
		}
		tcp_setup(k, pcb);
	} else {
		k->udp = udp_new_ip_type(IPADDR_TYPE_V4);
		if (!k->udp) {
			k->type = 0;
			return -ENOMEM;
		}
		udp_recv(k->udp, on_udp, k);
	}
	return (int)(k - socks);
}

int sock_set_nonblock(int s, int on)
{
	struct sock *k = get(s, 0);
	if (!k)
		return -EBADF;
	k->nonblock = on != 0;
	return 0;
}

int sock_bind(int s, const struct sock_addr *a)
{
	struct sock *k = get(s, 0);
	if (!k)
		return -EBADF;
	ip_addr_t ip = ip_of(a->addr);
	if (k->type == SOCK_DGRAM)
		return errno_of(udp_bind(k->udp, &ip, a->port));
	if (!k->tcp || k->listening || k->connected || k->connecting)
		return -EINVAL;
	return errno_of(tcp_bind(k->tcp, &ip, a->port));
}

int sock_listen(int s, int backlog)
{
	struct sock *k = get(s, SOCK_STREAM);
	if (!k)
		return -EBADF;
	if (k->listening)
		return 0;
	if (!k->tcp || k->connected || k->connecting)
		return -EINVAL;
	if (backlog < 1)
		backlog = 1;
	if (backlog > ACCEPT_QUEUE)
		backlog = ACCEPT_QUEUE;
	err_t e = ERR_OK;
	/* lwIP's listening pcb is a smaller new one; the old is freed. */
	struct tcp_pcb *l = tcp_listen_with_backlog_and_err(k->tcp, (u8_t)backlog, &e);
	if (!l)
		return errno_of(e);
	k->tcp = l;
	k->listening = true;
	tcp_arg(l, k);
	tcp_accept(l, on_accept);
	return 0;
}

static bool accept_ready(void *arg)
{
	const struct sock *k = arg;
	return k->acc_n > 0;
}

int sock_accept(int s, struct sock_addr *peer)
{
	struct sock *k = get(s, SOCK_STREAM);
	if (!k)
		return -EBADF;
	if (!k->listening)
		return -EINVAL;
	if (!stack_wait(accept_ready, k, deadline(k, NETSTACK_FOREVER)))
		return -EAGAIN;
	struct sock *c = k->acc[k->acc_first];
	k->acc_first = (k->acc_first + 1) % ACCEPT_QUEUE;
	k->acc_n--;
	c->pending = false;
	if (c->tcp)
		tcp_backlog_accepted(c->tcp);
	int cs = (int)(c - socks);
	if (peer)
		sock_name(cs, NULL, peer);
	return cs;
}

static bool connect_done(void *arg)
{
	const struct sock *k = arg;
	return !k->connecting;
}

int sock_connect(int s, const struct sock_addr *a)
{
	struct sock *k = get(s, 0);
	if (!k)
		return -EBADF;
	ip_addr_t ip = ip_of(a->addr);
	if (k->type == SOCK_DGRAM)
		return errno_of(udp_connect(k->udp, &ip, a->port));
	if (k->connected)
		return -EISCONN;
	if (k->connecting)
		return -EALREADY;
	if (!k->tcp || k->listening)
		return k->err ? k->err : -EINVAL;
	err_t e = tcp_connect(k->tcp, &ip, a->port, on_connected);
	if (e != ERR_OK)
		return errno_of(e);
	k->connecting = true;
	if (k->nonblock)
		return -EINPROGRESS;
	if (!stack_wait(connect_done, k, pvmm_now_ns() + CONNECT_NS)) {
		tcp_abort(k->tcp); /* on_err clears k->tcp */
		k->err = -ETIMEDOUT;
		return -ETIMEDOUT;
	}
	return k->connected ? 0 : k->err;
}

static bool can_send(void *arg)
{
	const struct sock *k = arg;
	return !k->tcp || k->err ||
	       (tcp_sndbuf(k->tcp) > 0 && tcp_sndqueuelen(k->tcp) < TCP_SND_QUEUELEN - 4);
}

static long tcp_send_bytes(struct sock *k, const uint8_t *buf, size_t len)
{
	if (k->err)
		return k->err;
	if (!k->connected || !k->tcp)
		return -ENOTCONN;
	if (k->wr_shut)
		return -EPIPE;
	size_t done = 0;
	while (done < len) {
		if (!stack_wait(can_send, k, deadline(k, NETSTACK_FOREVER)))
			return done ? (long)done : -EAGAIN;
		if (!k->tcp || k->err)
			return done ? (long)done : (k->err ? k->err : -ECONNRESET);
		size_t n = len - done;
		if (n > tcp_sndbuf(k->tcp))
			n = tcp_sndbuf(k->tcp);
		err_t e = tcp_write(k->tcp, buf + done, (u16_t)n,
				    TCP_WRITE_FLAG_COPY | (done + n < len ? TCP_WRITE_FLAG_MORE : 0));
		if (e == ERR_MEM) {
			/* Out of segments or memory: let what is queued drain. */
			tcp_output(k->tcp);
			stack_wait(NULL, NULL, k->nonblock ? 0 : pvmm_now_ns() + 1000000u);
			if (k->nonblock)
				return done ? (long)done : -EAGAIN;
			continue;
		}
		if (e != ERR_OK)
			return done ? (long)done : errno_of(e);
		done += n;
		tcp_output(k->tcp);
	}
	return (long)done;
}

long sock_send(int s, const void *buf, size_t len)
{
	struct sock *k = get(s, 0);
	if (!k)
		return -EBADF;
	if (k->type == SOCK_STREAM)
		return tcp_send_bytes(k, buf, len);
	return sock_sendto(s, buf, len, NULL);
}

long sock_sendto(int s, const void *buf, size_t len, const struct sock_addr *to)
{
	struct sock *k = get(s, SOCK_DGRAM);
	if (!k)
		return get(s, 0) ? -EOPNOTSUPP : -EBADF;
	if (len > 65507)
		return -EMSGSIZE;
	struct pbuf *p = pbuf_alloc(PBUF_TRANSPORT, (u16_t)len, PBUF_RAM);
	if (!p)
		return -ENOMEM;
	memcpy(p->payload, buf, len);
	err_t e;
	if (to) {
		ip_addr_t ip = ip_of(to->addr);
		e = udp_sendto(k->udp, p, &ip, to->port);
	} else {
		e = (k->udp->flags & UDP_FLAGS_CONNECTED) ? udp_send(k->udp, p) : ERR_CONN;
	}
	pbuf_free(p);
	if (e == ERR_CONN)
		return -ENOTCONN;
	return e == ERR_OK ? (long)len : errno_of(e);
}

static bool can_recv(void *arg)
{
	const struct sock *k = arg;
	if (k->type == SOCK_DGRAM)
		return k->dq_n > 0;
	return k->rx || k->eof || k->err || !k->tcp;
}

long sock_recvfrom(int s, void *buf, size_t len, struct sock_addr *from)
{
	struct sock *k = get(s, 0);
	if (!k)
		return -EBADF;
	if (k->type == SOCK_STREAM && (k->listening || (!k->connected && !k->err)))
		return -ENOTCONN;
	if (!stack_wait(can_recv, k, deadline(k, NETSTACK_FOREVER)))
		return -EAGAIN;
	if (k->type == SOCK_DGRAM) {
		struct dgram *d = &k->dq[k->dq_first];
		k->dq_first = (k->dq_first + 1) % DGRAM_QUEUE;
		k->dq_n--;
		size_t n = d->p->tot_len < len ? d->p->tot_len : len;
		pbuf_copy_partial(d->p, buf, (u16_t)n, 0);
		pbuf_free(d->p);
		if (from) {
			from->addr = d->addr;
			from->port = d->port;
		}
		return (long)n;
	}
	if (k->rx) {
		size_t n = k->rx->tot_len < len ? k->rx->tot_len : len;
		if (n > 0xffff)
			n = 0xffff;
		pbuf_copy_partial(k->rx, buf, (u16_t)n, 0);
		k->rx = pbuf_free_header(k->rx, (u16_t)n);
		/* Only now does the window open again: a reader that falls
		 * behind slows the sender instead of filling the guest's RAM. */
		if (k->tcp)
			tcp_recved(k->tcp, (u16_t)n);
		if (from)
			sock_name(s, NULL, from);
		return (long)n;
	}
	if (k->eof)
		return 0;
	return k->err ? k->err : -ENOTCONN;
}

long sock_recv(int s, void *buf, size_t len)
{
	return sock_recvfrom(s, buf, len, NULL);
}

int sock_shutdown_write(int s)
{
	struct sock *k = get(s, SOCK_STREAM);
	if (!k)
		return -EBADF;
	if (!k->tcp || !k->connected)
		return k->err ? k->err : -ENOTCONN;
	if (k->wr_shut)
		return 0;
	k->wr_shut = true;
	return errno_of(tcp_shutdown(k->tcp, 0, 1));
}

static bool all_acked(void *arg)
{
	const struct sock *k = arg;
	return !k->tcp || k->err || (k->tcp->unsent == NULL && k->tcp->unacked == NULL);
}

static void release(struct sock *k)
{
	if (k->type == SOCK_STREAM && k->tcp) {
		struct tcp_pcb *pcb = k->tcp;
		tcp_arg(pcb, NULL);
		if (k->listening) {
			tcp_accept(pcb, NULL); /* a listening pcb has no err or recv callback */
		} else {
			tcp_err(pcb, NULL);
			tcp_recv(pcb, NULL);
			/* Unread data is dropped and the window given back first:
			 * lwIP would answer a close with unread data by a reset,
			 * which can destroy a reply the peer has not read yet. */
			if (k->rx)
				for (u32_t left = k->rx->tot_len; left;) {
					u16_t n = left > 0xffff ? 0xffff : (u16_t)left;
					tcp_recved(pcb, n);
					left -= n;
				}
		}
		if (tcp_close(pcb) != ERR_OK)
			tcp_abort(pcb);
		k->tcp = NULL;
	}
	if (k->rx)
		pbuf_free(k->rx);
	while (k->dq_n) {
		pbuf_free(k->dq[k->dq_first].p);
		k->dq_first = (k->dq_first + 1) % DGRAM_QUEUE;
		k->dq_n--;
	}
	if (k->udp)
		udp_remove(k->udp);
	while (k->acc_n) {
		release(k->acc[k->acc_first]);
		k->acc_first = (k->acc_first + 1) % ACCEPT_QUEUE;
		k->acc_n--;
	}
	memset(k, 0, sizeof *k);
}

int sock_close(int s)
{
	struct sock *k = get(s, 0);
	if (!k)
		return -EBADF;
	if (k->type == SOCK_STREAM && k->tcp && k->connected && !k->nonblock) {
		tcp_output(k->tcp);
		stack_wait(all_acked, k, pvmm_now_ns() + CLOSE_LINGER_NS);
	}
	release(k);
	return 0;
}

int sock_name(int s, struct sock_addr *local, struct sock_addr *peer)
{
	struct sock *k = get(s, 0);
	if (!k)
		return -EBADF;
	const ip_addr_t *lip = NULL, *rip = NULL;
	u16_t lport = 0, rport = 0;
	if (k->tcp) {
		lip = &k->tcp->local_ip;
		lport = k->tcp->local_port;
		if (!k->listening) {
			rip = &k->tcp->remote_ip;
			rport = k->tcp->remote_port;
		}
	} else if (k->udp) {
		lip = &k->udp->local_ip;
		lport = k->udp->local_port;
		rip = &k->udp->remote_ip;
		rport = k->udp->remote_port;
	}
	if (local) {
		local->addr = lip ? u32_of(lip) : 0;
		local->port = lport;
	}
	if (peer) {
		peer->addr = rip ? u32_of(rip) : 0;
		peer->port = rport;
	}
	return 0;
}

/* ---- Poll -------------------------------------------------------------------- */

struct poll_set {
	struct sock_pollfd *fds;
	unsigned n;
	int ready;
};

static short revents_of(const struct sock *k)
{
	short r = 0;
	if (k->type == SOCK_DGRAM)
		return (short)((k->dq_n ? SOCK_POLLIN : 0) | SOCK_POLLOUT);
	if (k->listening)
		return k->acc_n ? SOCK_POLLIN : 0;
	if (k->rx || k->eof)
		r |= SOCK_POLLIN;
	if (k->eof)
		r |= SOCK_POLLHUP;
	if (k->err)
		r |= SOCK_POLLERR | SOCK_POLLIN;
	if (k->connected && k->tcp && !k->wr_shut && can_send((void *)k))
		r |= SOCK_POLLOUT;
	return r;
}

static bool poll_ready(void *arg)
{
	struct poll_set *ps = arg;
	ps->ready = 0;
	for (unsigned i = 0; i < ps->n; i++) {
		const struct sock *k = get(ps->fds[i].sock, 0);
		/* Errors and hang-ups are reported whether asked for or not. */
		short want = (short)(ps->fds[i].events | SOCK_POLLERR | SOCK_POLLHUP);
		ps->fds[i].revents = k ? (short)(revents_of(k) & want) : 0;
		if (ps->fds[i].revents)
			ps->ready++;
	}
	return ps->ready > 0;
}

int sock_poll(struct sock_pollfd *fds, unsigned n, uint64_t deadline_ns)
{
	for (unsigned i = 0; i < n; i++)
		if (!get(fds[i].sock, 0))
			return -EBADF;
	struct poll_set ps = { fds, n, 0 };
	stack_wait(poll_ready, &ps, deadline_ns);
	return ps.ready;
}
