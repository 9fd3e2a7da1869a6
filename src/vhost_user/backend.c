/*
 * vhost-user back end: the server loop, and the wiring of one virtio
 * device to a front end (see backend.h).
 *
 * Everything runs on one I/O loop (iothread.c): the listening socket, the
 * connection, each ring's kick fd, the device's own completions. So a
 * message is never handled while a queue is being served, and the only
 * lock taken is dev->lock, around the core calls, as every transport does.
 *
 * The front end describes rings piece by piece (SET_VRING_NUM, _ADDR,
 * _BASE, _KICK, _ENABLE) and the core wants them whole, so the back end
 * keeps the front end's view in struct vu_ring and derives the core's from
 * it in sync_device(): when every ring is started and enabled, the device
 * is reset and brought up (features, FEATURES_OK, each queue's size,
 * addresses and indices, DRIVER_OK); when any ring stops, whatever is in
 * flight is finished and answered into the ring (the device's quiesce),
 * each ring's next available index is kept for GET_VRING_BASE, and the
 * device is reset. A message that breaks the protocol, or a ring the core
 * finds damaged (NEEDS_RESET), ends the connection: the device is stopped
 * the same way, the memory table unmapped, every fd closed, and the next
 * front end accepted.
 */
#include "vhost_user/backend.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "guest_mem.h"
#include "iothread.h"
#include "log.h"
#include "status.h"
#include "vhost_user/protocol.h"
#include "virtio/virtio.h"

/* A front end that stops in the middle of a message is given this long. */
#define MSG_TIMEOUT_S 5

#define PROTOCOL_FEATURES ((1ull << VU_PROTOCOL_F_REPLY_ACK) | (1ull << VU_PROTOCOL_F_CONFIG) | \
			   (1ull << VU_PROTOCOL_F_RESET_DEVICE))

struct vu_backend;

/* One ring as the front end described it. */
struct vu_ring {
	struct vu_backend *b;
	unsigned q;
	uint32_t num;                   /* 0: not set */
	bool addr_set;
	uint64_t desc_uva, avail_uva, used_uva;
	uint16_t base;                  /* next available index, kept while the device is down */
	int kick_fd, call_fd, err_fd;
	bool started;                   /* kick fd received, no GET_VRING_BASE since */
	bool enabled;                   /* SET_VRING_ENABLE 1, or always without protocol features */
};

struct vu_backend {
	struct iothread *io;
	struct virtio_dev *dev;
	struct guest_mem mem;           /* the front end's table, as the core reads it */
	struct vu_region regions[VU_MAX_REGIONS];
	unsigned nregions;              /* 0: no table yet */
	struct vu_limits lim;
	const char *path;
	int listen_fd, conn_fd;
	int fail_fd;                    /* written when the device needs a reset: end the connection */
	int done_fd;                    /* written when a --once back end is done */
	bool once;
	unsigned connections;

	/* The connection's state; forgotten when it ends. */
	uint64_t features;
	bool features_set;
	uint64_t protocol_features;
	bool protocol_set;              /* SET_PROTOCOL_FEATURES came (the front end saw bit 30) */
	bool live;                      /* the core's device is at DRIVER_OK */
	struct vu_ring vring[VIRTIO_MAX_QUEUES];
};

static void signal_fd(int fd)
{
	uint64_t one = 1;
	if (fd >= 0 && write(fd, &one, sizeof(one)) < 0) {
		/* EAGAIN: saturated; the reader wakes anyway. A front end's
		 * call fd that went away: nothing to tell. */
	}
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* ---- the transport ------------------------------------------------------ */

/* dev->lock held, on the I/O loop. */
static void vu_interrupt(struct virtio_dev *dev, int source)
{
	struct vu_backend *b = dev->transport_priv;
	virtio_isr_take(dev);

	if (dev->status & VIRTIO_CONFIG_S_NEEDS_RESET) {
		signal_fd(b->fail_fd); /* the core logged why; end the connection */
		return;
	}
	/* Each ring has its own call fd: only the one with new used buffers
	 * is told. A config change has no fd here (no back-end channel). */
	if (source >= 0 && (unsigned)source < b->lim.num_queues && dev->queues[source].ready)
		signal_fd(b->vring[source].call_fd);
}

static void vu_detach(struct virtio_dev *dev)
{
	dev->transport = NULL;
	dev->transport_priv = NULL;
}

static const struct virtio_transport vu_transport = {
	.name = "vhost-user",
	.interrupt = vu_interrupt,
	.detach = vu_detach,
};

/* ---- the device, from the rings' state ------------------------------------ */

/* Finish and answer everything in flight, keep each ring's next available
 * index, reset the device. dev->lock held. */
static void stop_device_locked(struct vu_backend *b)
{
	struct virtio_dev *dev = b->dev;

	if (!b->live)
		return;
	if (dev->ops->quiesce)
		dev->ops->quiesce(dev);
	for (unsigned q = 0; q < b->lim.num_queues; q++)
		if (dev->queues[q].ready)
			b->vring[q].base = dev->queues[q].last_avail;
	virtio_reset(dev);
	b->live = false;
}

static void stop_device(struct vu_backend *b)
{
	pthread_mutex_lock(&b->dev->lock);
	stop_device_locked(b);
	pthread_mutex_unlock(&b->dev->lock);
}

static bool ring_complete(const struct vu_ring *v)
{
	return v->started && v->enabled && v->num && v->addr_set;
}

/* Ring q's three parts as guest-physical addresses, checked against the
 * memory table. 0, or -1 with a reason. */
static int translate_ring(struct vu_backend *b, unsigned q, uint64_t gpa[3], char *why, size_t why_len)
{
	const struct vu_ring *v = &b->vring[q];
	const uint64_t uva[3] = { v->desc_uva, v->avail_uva, v->used_uva };
	const uint64_t len[3] = { vu_desc_bytes(v->num), vu_avail_bytes(v->num), vu_used_bytes(v->num) };
	static const char *const part[3] = { "descriptor table", "available ring", "used ring" };

	for (unsigned i = 0; i < 3; i++) {
		if (!vu_uva_to_gpa(b->regions, b->nregions, uva[i], len[i], &gpa[i])) {
			snprintf(why, why_len, "ring %u: the %s at %#llx (%llu bytes) is not inside one memory region", q,
				 part[i], (unsigned long long)uva[i], (unsigned long long)len[i]);
			return -1;
		}
	}
	return 0;
}

/* Bring the core's device in line with the rings: up when all are
 * complete, down when one is not. 0, or -1 with a reason (the connection
 * then ends). */
static int sync_device(struct vu_backend *b, char *why, size_t why_len)
{
	struct virtio_dev *dev = b->dev;
	bool want = b->features_set && b->nregions;
	uint64_t gpa[VIRTIO_MAX_QUEUES][3];
	int ret = -1;

	for (unsigned q = 0; q < b->lim.num_queues; q++)
		want = want && ring_complete(&b->vring[q]);
	if (want == b->live)
		return 0;
	if (!want) {
		stop_device(b);
		return 0;
	}
	for (unsigned q = 0; q < b->lim.num_queues; q++)
		if (translate_ring(b, q, gpa[q], why, why_len))
			return -1;

	pthread_mutex_lock(&dev->lock);
	virtio_reset(dev);
	uint64_t features = b->features & ~(1ull << VU_F_PROTOCOL_FEATURES);
	virtio_driver_features_write(dev, 0, (uint32_t)features);
	virtio_driver_features_write(dev, 1, (uint32_t)(features >> 32));
	virtio_status_write(dev, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK);
	if (!(dev->status & VIRTIO_CONFIG_S_FEATURES_OK)) {
		snprintf(why, why_len, "the device refused features %#llx", (unsigned long long)features);
		goto out;
	}
	for (unsigned q = 0; q < b->lim.num_queues; q++) {
		virtio_queue_set_num(dev, q, b->vring[q].num);
		struct virtq *vq = virtio_queue_setup(dev, q, "SET_VRING_ADDR");
		if (!vq) {
			snprintf(why, why_len, "ring %u cannot be set up", q);
			goto out;
		}
		vq->desc_gpa = gpa[q][0];
		vq->avail_gpa = gpa[q][1];
		vq->used_gpa = gpa[q][2];
		virtio_queue_set_ready(dev, q, 1);
		if (!vq->ready) {
			snprintf(why, why_len, "ring %u: %s", q, vq->error[0] ? vq->error : "refused");
			goto out;
		}
		/* Continue where the front end says the driver is: the next
		 * entry to take is its base, the next to fill what the used
		 * ring's own index says (they differ only by what was in flight
		 * when an earlier back end died). */
		virtio_queue_set_indices(dev, q, b->vring[q].base, le16toh(__atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE)));
	}
	virtio_status_write(dev, dev->status | VIRTIO_CONFIG_S_DRIVER_OK);
	if ((dev->status & (VIRTIO_CONFIG_S_DRIVER_OK | VIRTIO_CONFIG_S_NEEDS_RESET)) != VIRTIO_CONFIG_S_DRIVER_OK) {
		snprintf(why, why_len, "the device did not start");
		goto out;
	}
	b->live = true;
	ret = 0;
out:
	if (ret)
		virtio_reset(dev);
	pthread_mutex_unlock(&dev->lock);
	return ret;
}

/* ---- rings ---------------------------------------------------------------- */

static void drop_kick(struct vu_backend *b, struct vu_ring *v);

/* I/O loop: the front end kicked ring v. */
static void on_kick(void *opaque, uint32_t events)
{
	struct vu_ring *v = opaque;
	uint64_t count;

	(void)events;
	if (v->kick_fd < 0)
		return;
	ssize_t n = read(v->kick_fd, &count, sizeof(count));
	if (n == sizeof(count)) {
		virtio_queue_kick(v->b->dev, v->q, count);
		return;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return; /* nothing pending */
	/* Not an eventfd that works (end of file, a short read, an error):
	 * stop watching it, or a level-triggered watch would spin the loop. */
	log_error("vhost-user: ring %u's kick fd %s; the ring waits for a new one", v->q,
		  n == 0 ? "reached end of file" : n < 0 ? strerror(errno) : "gave a short read");
	drop_kick(v->b, v);
}

static void drop_kick(struct vu_backend *b, struct vu_ring *v)
{
	if (v->kick_fd >= 0)
		iothread_unwatch(b->io, v->kick_fd);
	close_fd(&v->kick_fd);
	v->started = false;
}

static void forget_ring(struct vu_backend *b, struct vu_ring *v)
{
	drop_kick(b, v);
	close_fd(&v->call_fd);
	close_fd(&v->err_fd);
	*v = (struct vu_ring){ .b = b, .q = v->q, .kick_fd = -1, .call_fd = -1, .err_fd = -1 };
}

/* ---- connections ---------------------------------------------------------- */

static void on_listen(void *opaque, uint32_t events);
static void on_conn(void *opaque, uint32_t events);

/* Stop the device, forget everything the front end set up. */
static void reset_state(struct vu_backend *b)
{
	stop_device(b);
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		forget_ring(b, &b->vring[q]);
	guest_mem_free(&b->mem);
	b->nregions = 0;
	b->features = 0;
	b->features_set = false;
	b->protocol_features = 0;
	b->protocol_set = false;
}

/* End the connection (why: NULL when the front end simply left). */
static void drop_connection(struct vu_backend *b, const char *why)
{
	if (b->conn_fd < 0)
		return;
	if (why)
		log_error("vhost-user: %s; connection %u closed", why, b->connections);
	else
		log_info("vhost-user: front end %u disconnected", b->connections);
	reset_state(b);
	iothread_unwatch(b->io, b->conn_fd);
	close_fd(&b->conn_fd);
	if (b->once) {
		signal_fd(b->done_fd);
		return;
	}
	int ret = iothread_watch(b->io, b->listen_fd, EPOLLIN, on_listen, b);
	if (ret) {
		log_error("vhost-user: cannot listen again: %s", strerror(-ret));
		signal_fd(b->done_fd);
	}
}

static void on_listen(void *opaque, uint32_t events)
{
	struct vu_backend *b = opaque;
	struct timeval tv = { .tv_sec = MSG_TIMEOUT_S };

	(void)events;
	int fd = accept4(b->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return; /* EAGAIN, ECONNABORTED: wait for the next one */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	int ret = iothread_watch(b->io, fd, EPOLLIN, on_conn, b);
	if (ret) {
		log_error("vhost-user: cannot serve a connection: %s", strerror(-ret));
		close(fd);
		return;
	}
	/* One front end at a time: the next waits in the backlog. */
	iothread_unwatch(b->io, b->listen_fd);
	b->conn_fd = fd;
	b->connections++;
	log_info("vhost-user: front end %u connected", b->connections);
}

/* The device needs a reset (the core logged why): the front end broke a
 * ring, so the connection ends. */
static void on_fail(void *opaque, uint32_t events)
{
	struct vu_backend *b = opaque;
	uint64_t n;

	(void)events;
	if (read(b->fail_fd, &n, sizeof(n)) != sizeof(n))
		return;
	pthread_mutex_lock(&b->dev->lock);
	bool failed = b->dev->status & VIRTIO_CONFIG_S_NEEDS_RESET;
	pthread_mutex_unlock(&b->dev->lock);
	if (failed)
		drop_connection(b, "the front end's rings are damaged (see above)");
}

/* ---- messages ---------------------------------------------------------------- */

/* Read one message: header with its fds, checked, then the payload.
 * Returns its length, 0 at end of stream, -1 with a reason. */
static ssize_t recv_msg(struct vu_backend *b, uint8_t *buf, int *fds, unsigned *nfds, char *why, size_t why_len)
{
	union {
		char buf[CMSG_SPACE(VU_MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} control;
	struct iovec iov = { .iov_base = buf, .iov_len = VU_HDR_SIZE };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
			     .msg_controllen = sizeof(control.buf) };
	size_t got = 0;

	*nfds = 0;
	ssize_t n = recvmsg(b->conn_fd, &mh, MSG_CMSG_CLOEXEC);
	if (n == 0)
		return 0;
	if (n < 0) {
		snprintf(why, why_len, "cannot read from the front end: %s", strerror(errno));
		return -1;
	}
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		unsigned k = (unsigned)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		for (unsigned i = 0; i < k && *nfds < VU_MAX_FDS; i++)
			memcpy(&fds[(*nfds)++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
	}
	if (mh.msg_flags & MSG_CTRUNC) {
		snprintf(why, why_len, "a message came with more than %u file descriptors", VU_MAX_FDS);
		return -1;
	}
	got = (size_t)n;
	while (got < VU_HDR_SIZE) {
		n = recv(b->conn_fd, buf + got, VU_HDR_SIZE - got, 0);
		if (n <= 0) {
			snprintf(why, why_len, "the front end stopped in the middle of a message header");
			return -1;
		}
		got += (size_t)n;
	}
	if (vu_check_header(buf, &b->lim, why, why_len))
		return -1;
	uint32_t size;
	memcpy(&size, buf + 8, 4);
	while (got < VU_HDR_SIZE + size) {
		n = recv(b->conn_fd, buf + got, VU_HDR_SIZE + size - got, 0);
		if (n <= 0) {
			snprintf(why, why_len, "the front end sent %zu of a %u-byte payload and stopped",
				 got - VU_HDR_SIZE, size);
			return -1;
		}
		got += (size_t)n;
	}
	return (ssize_t)got;
}

static int send_reply(struct vu_backend *b, const struct vu_msg *m, const void *payload, uint32_t size, char *why,
		      size_t why_len)
{
	uint8_t buf[VU_HDR_SIZE + VU_PAYLOAD_MAX];
	uint32_t flags = VU_VERSION | VU_FLAG_REPLY;

	memcpy(buf, &m->request, 4);
	memcpy(buf + 4, &flags, 4);
	memcpy(buf + 8, &size, 4);
	memcpy(buf + VU_HDR_SIZE, payload, size);
	size_t len = VU_HDR_SIZE + size, done = 0;
	while (done < len) {
		ssize_t n = send(b->conn_fd, buf + done, len - done, MSG_NOSIGNAL);
		if (n <= 0) {
			snprintf(why, why_len, "cannot reply to %s: %s", vu_request_name(m->request),
				 n < 0 ? strerror(errno) : "short write");
			return -1;
		}
		done += (size_t)n;
	}
	return 0;
}

static int reply_u64(struct vu_backend *b, const struct vu_msg *m, uint64_t v, char *why, size_t why_len)
{
	return send_reply(b, m, &v, sizeof(v), why, why_len);
}

static int set_mem_table(struct vu_backend *b, const struct vu_msg *m, int *fds, char *why, size_t why_len)
{
	struct guest_mem_share share[VU_MAX_REGIONS];
	struct guest_mem mem;
	unsigned n = m->u.mem.nregions;
	bool unsealed = false;

	for (unsigned i = 0; i < n; i++) {
		const struct vu_region *r = &m->u.mem.region[i];
		share[i] = (struct guest_mem_share){ .gpa = r->gpa, .size = r->size, .fd = fds[i],
						     .fd_offset = r->mmap_offset };
		/* A file the front end can still shrink could fault us (SIGBUS)
		 * on a later access; QEMU's memfd backends seal it by default. */
		int seals = fcntl(fds[i], F_GET_SEALS);
		unsealed = unsealed || seals < 0 || !(seals & F_SEAL_SHRINK);
	}
	if (unsealed)
		log_warn("vhost-user: the front end's memory is not sealed against shrinking; a front end that "
			 "shrinks it under the back end can crash it");
	if (guest_mem_import(&mem, share, n, why, why_len))
		return -1;
	/* The device may be reading the old table: stop it, swap, resume. */
	stop_device(b);
	guest_mem_free(&b->mem);
	b->mem = mem;
	memcpy(b->regions, m->u.mem.region, n * sizeof(b->regions[0]));
	b->nregions = n;
	return sync_device(b, why, why_len);
}

static int set_vring_fd(struct vu_backend *b, const struct vu_msg *m, int *fds, char *why, size_t why_len)
{
	struct vu_ring *v = &b->vring[m->u.u64 & VU_VRING_INDEX_MASK];
	int fd = m->u.u64 & VU_VRING_NOFD ? -1 : fds[0];

	if (fd >= 0)
		fds[0] = -1; /* ours now */
	switch (m->request) {
	case VU_SET_VRING_KICK:
		if (fd < 0) {
			snprintf(why, why_len, "SET_VRING_KICK without a fd (a polled ring) is not supported");
			return -1;
		}
		stop_device(b); /* the new fd takes over from the old one */
		drop_kick(b, v);
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		v->kick_fd = fd;
		int ret = iothread_watch(b->io, fd, EPOLLIN, on_kick, v);
		if (ret) {
			snprintf(why, why_len, "cannot watch ring %u's kick fd: %s", v->q, strerror(-ret));
			return -1;
		}
		v->started = true;
		/* Without the protocol features a ring is enabled as it starts. */
		if (!(b->features & (1ull << VU_F_PROTOCOL_FEATURES)))
			v->enabled = true;
		return sync_device(b, why, why_len);
	case VU_SET_VRING_CALL:
		close_fd(&v->call_fd);
		/* Non-blocking: a front end that saturates its eventfd (or
		 * hands us a full pipe) must not block the I/O loop. */
		if (fd >= 0)
			fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		v->call_fd = fd;
		return 0;
	default: /* SET_VRING_ERR: kept, never written (nothing reports ring errors that way) */
		close_fd(&v->err_fd);
		if (fd >= 0)
			fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		v->err_fd = fd;
		return 0;
	}
}

static int get_config(struct vu_backend *b, const struct vu_msg *m, char *why, size_t why_len)
{
	uint8_t out[VU_CONFIG_HDR + VU_CONFIG_MAX];
	struct virtio_dev *dev = b->dev;

	memcpy(out, &m->u.config.offset, 4);
	memcpy(out + 4, &m->u.config.size, 4);
	memcpy(out + 8, &m->u.config.flags, 4);
	memset(out + VU_CONFIG_HDR, 0, m->u.config.size);
	pthread_mutex_lock(&dev->lock);
	/* Byte by byte, through the core's checks; past the device's config
	 * space the front end reads zeros. */
	for (uint32_t i = 0; i < m->u.config.size; i++)
		if (m->u.config.offset + i < dev->ops->config_size)
			virtio_config_access(dev, m->u.config.offset + i, out + VU_CONFIG_HDR + i, 1, false);
	pthread_mutex_unlock(&dev->lock);
	return send_reply(b, m, out, VU_CONFIG_HDR + m->u.config.size, why, why_len);
}

/* Act on a checked message. 0, or -1 with a reason. *acked: the request
 * already answered (or answered with failure). */
static int handle(struct vu_backend *b, const struct vu_msg *m, int *fds, bool *replied, uint64_t *status,
		  char *why, size_t why_len)
{
	struct virtio_dev *dev = b->dev;
	uint64_t offered = virtio_offered_features(dev) | (1ull << VU_F_PROTOCOL_FEATURES);

	*replied = false;
	*status = 0;
	switch (m->request) {
	case VU_GET_FEATURES:
		*replied = true;
		return reply_u64(b, m, offered, why, why_len);
	case VU_SET_FEATURES:
		if (m->u.u64 & ~offered) {
			snprintf(why, why_len, "SET_FEATURES %#llx has bits that were not offered (%#llx)",
				 (unsigned long long)m->u.u64, (unsigned long long)(m->u.u64 & ~offered));
			return -1;
		}
		if (!(m->u.u64 & (1ull << VIRTIO_F_VERSION_1))) {
			snprintf(why, why_len, "SET_FEATURES without VERSION_1: legacy drivers are not supported");
			return -1;
		}
		if (b->live && m->u.u64 != b->features)
			stop_device(b); /* brought up again with the new ones */
		b->features = m->u.u64;
		b->features_set = true;
		return sync_device(b, why, why_len);
	case VU_GET_PROTOCOL_FEATURES:
		*replied = true;
		return reply_u64(b, m, PROTOCOL_FEATURES, why, why_len);
	case VU_SET_PROTOCOL_FEATURES:
		if (m->u.u64 & ~PROTOCOL_FEATURES) {
			snprintf(why, why_len, "SET_PROTOCOL_FEATURES %#llx has bits that were not offered",
				 (unsigned long long)m->u.u64);
			return -1;
		}
		b->protocol_features = m->u.u64;
		b->protocol_set = true;
		return 0;
	case VU_SET_OWNER:
		return 0;
	case VU_RESET_OWNER:
	case VU_RESET_DEVICE: {
		uint64_t protocol = b->protocol_features;
		bool protocol_set = b->protocol_set;
		stop_device(b);
		for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
			forget_ring(b, &b->vring[q]);
		b->features = 0;
		b->features_set = false;
		/* RESET_DEVICE keeps the session: protocol features and memory. */
		if (m->request == VU_RESET_OWNER) {
			guest_mem_free(&b->mem);
			b->nregions = 0;
			protocol = 0;
			protocol_set = false;
		}
		b->protocol_features = protocol;
		b->protocol_set = protocol_set;
		return 0;
	}
	case VU_SET_MEM_TABLE:
		return set_mem_table(b, m, fds, why, why_len);
	case VU_SET_VRING_NUM:
	case VU_SET_VRING_ADDR:
	case VU_SET_VRING_BASE: {
		unsigned q = m->request == VU_SET_VRING_ADDR ? m->u.addr.index : m->u.state.index;
		struct vu_ring *v = &b->vring[q];
		if (v->started) {
			snprintf(why, why_len, "%s for ring %u while it runs (stop it with GET_VRING_BASE first)",
				 vu_request_name(m->request), q);
			return -1;
		}
		if (m->request == VU_SET_VRING_NUM) {
			v->num = m->u.state.num;
		} else if (m->request == VU_SET_VRING_BASE) {
			v->base = (uint16_t)m->u.state.num;
		} else {
			v->desc_uva = m->u.addr.desc;
			v->avail_uva = m->u.addr.avail;
			v->used_uva = m->u.addr.used;
			v->addr_set = true;
			uint64_t gpa[3];
			/* Checked now if the table and size are known, and again
			 * whenever the device starts. */
			if (b->nregions && v->num && translate_ring(b, q, gpa, why, why_len))
				return -1;
		}
		return 0;
	}
	case VU_GET_VRING_BASE: {
		struct vu_ring *v = &b->vring[m->u.state.index];
		drop_kick(b, v);
		if (sync_device(b, why, why_len))
			return -1;
		uint32_t state[2] = { m->u.state.index, v->base };
		*replied = true;
		return send_reply(b, m, state, sizeof(state), why, why_len);
	}
	case VU_SET_VRING_KICK:
	case VU_SET_VRING_CALL:
	case VU_SET_VRING_ERR:
		return set_vring_fd(b, m, fds, why, why_len);
	case VU_SET_VRING_ENABLE:
		/* QEMU's net front end disables the rings at start-up, before
		 * SET_FEATURES: SET_PROTOCOL_FEATURES is proof enough that it
		 * saw bit 30 (the spec's condition for sending this). */
		if (!(b->features & (1ull << VU_F_PROTOCOL_FEATURES)) && !b->protocol_set) {
			snprintf(why, why_len, "SET_VRING_ENABLE before the protocol features were negotiated");
			return -1;
		}
		b->vring[m->u.state.index].enabled = m->u.state.num;
		return sync_device(b, why, why_len);
	case VU_GET_QUEUE_NUM:
		*replied = true;
		return reply_u64(b, m, b->lim.num_queues, why, why_len);
	case VU_GET_CONFIG:
		*replied = true;
		return get_config(b, m, why, why_len);
	case VU_SET_CONFIG:
		/* Nothing in a pvmm device's config space is the driver's to write. */
		log_warn("vhost-user: SET_CONFIG of %u bytes at offset %u refused: %s's config space is read-only",
			 m->u.config.size, m->u.config.offset, dev->ops->name);
		*status = 1;
		return 0;
	}
	snprintf(why, why_len, "request %u is not supported", m->request);
	return -1;
}

static void on_conn(void *opaque, uint32_t events)
{
	struct vu_backend *b = opaque;
	uint8_t buf[VU_HDR_SIZE + VU_PAYLOAD_MAX];
	int fds[VU_MAX_FDS];
	unsigned nfds = 0;
	char why[256] = "";
	struct vu_msg m;
	bool replied;
	uint64_t status;

	(void)events;
	if (b->conn_fd < 0)
		return;
	ssize_t len = recv_msg(b, buf, fds, &nfds, why, sizeof(why));
	if (len <= 0 || vu_parse(buf, (size_t)len, nfds, &b->lim, &m, why, sizeof(why))) {
		for (unsigned i = 0; i < nfds; i++)
			close(fds[i]);
		drop_connection(b, len == 0 ? NULL : why);
		return;
	}
	int ret = handle(b, &m, fds, &replied, &status, why, sizeof(why));
	for (unsigned i = 0; i < nfds; i++)
		if (fds[i] >= 0)
			close(fds[i]); /* the mappings and watched fds hold their own */
	if (!ret && !replied && (m.flags & VU_FLAG_NEED_REPLY) &&
	    (b->protocol_features & (1ull << VU_PROTOCOL_F_REPLY_ACK)))
		ret = reply_u64(b, &m, status, why, sizeof(why));
	if (ret)
		drop_connection(b, why);
}

/* ---- start and end ------------------------------------------------------------- */

static int listen_on(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct stat st;

	if (strlen(path) >= sizeof(addr.sun_path)) {
		log_error("vhost-user: socket path '%s' is too long (at most %zu bytes)", path, sizeof(addr.sun_path) - 1);
		return -1;
	}
	strcpy(addr.sun_path, path);
	/* A socket left by an earlier back end is replaced; anything else
	 * at the path is not ours to remove. */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			log_error("vhost-user: '%s' exists and is not a socket", path);
			return -1;
		}
		unlink(path);
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) || listen(fd, 4)) {
		log_error("vhost-user: cannot listen on '%s': %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

int vu_serve(const char *socket_path, bool once, vu_create_fn *create, void *arg)
{
	struct vu_backend *b = calloc(1, sizeof(*b));
	int status = PVMM_STATUS_HOST, sig_fd = -1;
	sigset_t stops;

	if (!b) {
		log_error("vhost-user: out of memory");
		return PVMM_STATUS_HOST;
	}
	b->mem = (struct guest_mem){ .fd = -1 };
	b->listen_fd = b->conn_fd = -1;
	b->path = socket_path;
	b->once = once;
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		b->vring[q] = (struct vu_ring){ .b = b, .q = q, .kick_fd = -1, .call_fd = -1, .err_fd = -1 };
	}
	/* The signals that end the back end arrive on a signalfd here; the
	 * I/O thread blocks everything anyway. A front end that vanishes
	 * must not kill us with SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&stops);
	sigaddset(&stops, SIGINT);
	sigaddset(&stops, SIGTERM);
	sigaddset(&stops, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &stops, NULL);
	sig_fd = signalfd(-1, &stops, SFD_CLOEXEC);
	b->fail_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	b->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (sig_fd < 0 || b->fail_fd < 0 || b->done_fd < 0) {
		log_error("vhost-user: cannot create eventfds: %s", strerror(errno));
		goto out;
	}
	b->io = iothread_create();
	if (!b->io)
		goto out;
	struct virtio_ctx ctx = { .mem = &b->mem, .io = b->io };
	b->dev = create(&ctx, arg);
	if (!b->dev)
		goto out;
	b->dev->index = 0;
	virtio_set_transport(b->dev, &vu_transport, b);
	b->lim = (struct vu_limits){ .num_queues = b->dev->ops->num_queues, .queue_max = b->dev->ops->queue_max };
	b->listen_fd = listen_on(socket_path);
	if (b->listen_fd < 0)
		goto out;
	iothread_set_role(b->io, SECCOMP_ROLE_VHOST_USER);
	if (iothread_watch(b->io, b->listen_fd, EPOLLIN, on_listen, b) ||
	    iothread_watch(b->io, b->fail_fd, EPOLLIN, on_fail, b) || iothread_start(b->io)) {
		log_error("vhost-user: cannot start the I/O loop");
		goto out;
	}
	/* Set-up is over: the disk, the socket and the loop exist. This
	 * thread only waits for a stop and takes things apart; a front end
	 * talks to the loop, which loads the same filter as it starts. */
	if (sysfilter_enter(SECCOMP_ROLE_VHOST_USER, false))
		goto out;
	log_info("vhost-user: %s back end listening on %s", b->dev->ops->name, socket_path);

	struct pollfd p[2] = { { .fd = sig_fd, .events = POLLIN }, { .fd = b->done_fd, .events = POLLIN } };
	while (poll(p, 2, -1) < 0 && errno == EINTR) {
	}
	status = 0;
out:
	/* Nothing runs on the loop once it is stopped: the connection and
	 * the device can be taken apart from here. */
	iothread_stop(b->io, NULL);
	if (b->dev && b->conn_fd >= 0) {
		reset_state(b);
		close_fd(&b->conn_fd);
	}
	if (b->listen_fd >= 0) {
		close(b->listen_fd);
		unlink(socket_path);
	}
	virtio_destroy(b->dev);
	iothread_destroy(b->io);
	guest_mem_free(&b->mem);
	if (sig_fd >= 0)
		close(sig_fd);
	if (b->fail_fd >= 0)
		close(b->fail_fd);
	if (b->done_fd >= 0)
		close(b->done_fd);
	free(b);
	return status;
}
