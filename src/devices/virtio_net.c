/*
 * virtio-net: receiveq 0, transmitq 1, one pair, on a network back end
 * (struct net_backend: the device never knows which kind). Features: MAC,
 * MTU, STATUS (the link is always up), MRG_RXBUF and the common VERSION_1,
 * EVENT_IDX, INDIRECT_DESC. No offloads: a received frame's 12-byte header
 * (virtio_net_hdr_v1) is all zeros but num_buffers, 1 unless the driver
 * took MRG_RXBUF and posted buffers smaller than the frame.
 *
 * Transmit (a kick): every available chain is taken in one pass (at most
 * a queue's worth, then the device kicks itself), each checked and copied
 * once by virtio_net_tx_parse(); a chain that fails the check is returned
 * and counted, never forwarded. While draining, the driver's kicks are
 * suppressed (EVENT_IDX: avail_event stays behind; without it,
 * VRING_USED_F_NO_NOTIFY), and still for TX_POLL_NS after the last
 * chain: a driver under load adds the next one by then, and each
 * frame's kick (an exit) is saved.
 *
 * Receive: the back end's fd is watched for the device's whole life; each
 * wake-up reads up to RX_BATCH frames (until EAGAIN), each into a bounce
 * buffer and then into the next receive chain. With no chain posted (the
 * driver is slow, stopped, or not there yet) the frame is dropped and
 * counted: the back end never backs up into the host because of one
 * guest.
 */
#include "devices/virtio_net.h"

#include <endian.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>

#include "iothread.h"
#include "log.h"

enum { RXQ = 0, TXQ = 1 };

#define NET_QUEUE_MAX 256
#define RX_BATCH 256            /* frames one wake-up reads at most */
#define TX_POLL_NS 50000        /* how long a drain waits for the next frame before asking for kicks */
#define NET_CONFIG_SIZE 12      /* mac, status, max_virtqueue_pairs, mtu */
#define NET_BUF_MAX (NET_HDR_LEN + NET_ETH_HLEN + NET_MTU_MAX)

struct vnet_counters {
	uint64_t rx_frames, rx_bytes, tx_frames, tx_bytes;
	uint64_t tx_layout, tx_short, tx_long, tx_header, tx_host;
	uint64_t rx_no_buffer, rx_bad_buffer, rx_host;
};

struct vnet {
	struct virtio_dev *dev;
	struct net_backend *be;
	uint8_t mac[6];
	unsigned mtu;
	bool watching;
	bool warned_host;
	struct vnet_counters c;
	uint8_t txbuf[NET_BUF_MAX];
	uint8_t rxbuf[NET_BUF_MAX];
};

/* ---- transmit ------------------------------------------------------------ */

enum vnet_tx_verdict virtio_net_tx_parse(const struct virtq_elem *elem, unsigned mtu, uint8_t *buf, size_t *len)
{
	if (elem->in_num != 0 || elem->out_len < NET_HDR_LEN)
		return VNET_TX_LAYOUT;
	uint64_t frame = elem->out_len - NET_HDR_LEN;
	if (frame < NET_ETH_HLEN)
		return VNET_TX_SHORT;
	if (frame > (uint64_t)mtu + NET_ETH_HLEN)
		return VNET_TX_LONG;
	size_t total = NET_HDR_LEN + (size_t)frame;
	if (virtq_read_out(elem, 0, buf, total) != total)
		return VNET_TX_LAYOUT;
	/* Checked in the copy: flags (no NEEDS_CSUM without CSUM; DATA_VALID
	 * and RSC_INFO are the device's to set) and gso_type (none without
	 * HOST_TSO/UFO). The rest is ignored, as it is without those. */
	struct virtio_net_hdr_v1 h;
	memcpy(&h, buf, sizeof(h));
	if (h.flags != 0 || h.gso_type != VIRTIO_NET_HDR_GSO_NONE)
		return VNET_TX_HEADER;
	memset(buf, 0, NET_HDR_LEN);
	*len = total;
	return VNET_TX_OK;
}

static void tx_drain(struct vnet *n)
{
	struct virtio_dev *dev = n->dev;
	struct virtq *vq = &dev->queues[TXQ];
	struct virtq_elem elem;
	unsigned budget = vq->size;
	bool used = false;

	for (;;) {
		if (budget == 0) {
			virtio_queue_rekick(dev, TXQ);
			break;
		}
		/* Kicks stay off while chains come (virtio_pop_burst), and
		 * after the last one for TX_POLL_NS: under load the next
		 * frame comes within microseconds, and asking for a kick
		 * instead would cost an exit per frame. */
		if (used && !virtq_avail_pending(vq) &&
		    virtio_poll_avail(dev, TXQ, TX_POLL_NS, NULL, NULL) == VIRTIO_POLL_IDLE)
			break; /* kicks are on again, nothing came */
		if (!virtio_pop_burst(dev, TXQ, &elem))
			break;
		budget--;
		size_t len = 0;
		switch (virtio_net_tx_parse(&elem, n->mtu, n->txbuf, &len)) {
		case VNET_TX_OK: {
			struct iovec iov = { n->txbuf, len };
			ssize_t r = n->be->ops->send(n->be, &iov, 1);
			if (r < 0) {
				n->c.tx_host++;
				if (r != -EAGAIN && !n->warned_host) {
					n->warned_host = true;
					log_warn("virtio-net %s: sending failed: %s; frames are dropped", n->be->name,
						 strerror((int)-r));
				}
			} else {
				n->c.tx_frames++;
				n->c.tx_bytes += len - NET_HDR_LEN;
			}
			break;
		}
		case VNET_TX_LAYOUT: n->c.tx_layout++; dev->stats.errors++; break;
		case VNET_TX_SHORT: n->c.tx_short++; dev->stats.errors++; break;
		case VNET_TX_LONG: n->c.tx_long++; dev->stats.errors++; break;
		case VNET_TX_HEADER: n->c.tx_header++; dev->stats.errors++; break;
		}
		virtq_push(vq, elem.head, 0);
		dev->stats.requests++;
		used = true;
	}
	if (used)
		virtio_notify_used(dev, TXQ);
}

/* ---- receive ------------------------------------------------------------- */

/* Return the chains heads[0..k) empty (a dropped frame's). */
static void rx_return_empty(struct virtq *vq, const uint16_t *heads, unsigned k)
{
	for (unsigned i = 0; i < k; i++)
		virtq_push(vq, heads[i], 0);
}

enum vnet_rx_verdict virtio_net_rx_place(struct virtq *vq, bool mergeable, uint8_t *frame, size_t len,
					 struct vnet_rx_place *out)
{
	struct virtq_elem first, later; /* the frame's first chain (it holds the header), any other */
	uint16_t heads[VIRTQ_MAX_SIZE];
	uint32_t lens[VIRTQ_MAX_SIZE];
	unsigned k = 0, pops = 0;
	size_t off = 0;

	*out = (struct vnet_rx_place){ 0, 0 };
	first.in_num = 0;
	while (off < len) {
		struct virtq_elem *elem = k == 0 ? &first : &later;
		/* At most a queue's worth of chains per frame, unusable ones
		 * included: a driver re-posting bad chains as fast as they come
		 * back cannot keep the device here. */
		enum virtq_pop_result r = pops++ < vq->size ? virtq_pop(vq, elem) : VIRTQ_EMPTY;
		if (r == VIRTQ_BROKEN)
			return VNET_RX_BROKEN;
		if (r == VIRTQ_EMPTY) {
			virtq_unpop(vq, (uint16_t)k); /* the frame's chains stay posted */
			return VNET_RX_NO_BUFFER;
		}
		uint64_t need = mergeable ? NET_HDR_LEN : len;
		if (elem->out_num != 0 || elem->in_len < need) {
			out->bad++;
			virtq_push(vq, elem->head, 0);
			if (k == 0)
				continue;
			rx_return_empty(vq, heads, k);
			return VNET_RX_BAD;
		}
		size_t n = len - off;
		if (n > elem->in_len)
			n = (size_t)elem->in_len;
		virtq_write_in(elem, 0, frame + off, n);
		heads[k] = elem->head;
		lens[k] = (uint32_t)n;
		k++;
		off += n;
	}
	/* Every chain is known now: the header in the first says how many. */
	uint16_t num_buffers = htole16((uint16_t)k);
	memcpy(frame + offsetof(struct virtio_net_hdr_v1, num_buffers), &num_buffers, 2);
	virtq_write_in(&first, offsetof(struct virtio_net_hdr_v1, num_buffers), &num_buffers, 2);
	for (unsigned i = 0; i < k; i++)
		virtq_push(vq, heads[i], lens[i]);
	out->chains = k;
	return VNET_RX_OK;
}

/* Put the frame in rxbuf[0..len) into the next receive chains; false if
 * it was dropped (counted). */
static bool rx_deliver(struct vnet *n, size_t len, bool *used)
{
	struct virtio_dev *dev = n->dev;
	struct vnet_rx_place place;

	if (!virtio_queue_live(dev, RXQ)) {
		n->c.rx_no_buffer++;
		return false;
	}
	bool mergeable = dev->driver_features & (1ull << VIRTIO_NET_F_MRG_RXBUF);
	enum vnet_rx_verdict v = virtio_net_rx_place(&dev->queues[RXQ], mergeable, n->rxbuf, len, &place);
	n->c.rx_bad_buffer += place.bad;
	dev->stats.errors += place.bad;
	dev->stats.requests += place.chains + place.bad;
	if (place.chains || place.bad)
		*used = true;
	switch (v) {
	case VNET_RX_OK:
		return true;
	case VNET_RX_NO_BUFFER:
	case VNET_RX_BAD:
		n->c.rx_no_buffer++;
		return false;
	case VNET_RX_BROKEN:
		virtio_queue_broken(dev, RXQ);
		n->c.rx_no_buffer++;
		return false;
	}
	return false;
}

/* Frames from the back end into posted rx buffers, RX_BATCH at most.
 * True if the back end is gone or failing (end of file, an error). */
static bool rx_pump(struct vnet *n)
{
	bool used = false, dead = false;

	for (unsigned i = 0; i < RX_BATCH; i++) {
		ssize_t len = n->be->ops->recv(n->be, n->rxbuf, NET_HDR_LEN + NET_ETH_HLEN + n->mtu);
		if (len == -EAGAIN || len == -EWOULDBLOCK)
			break;
		if (len == 0) {
			dead = true; /* end of file: the back end is gone (no frame is empty) */
			break;
		}
		if (len < 0) {
			dead = true;
			n->c.rx_host++;
			if (!n->warned_host) {
				n->warned_host = true;
				log_warn("virtio-net %s: receiving failed: %s", n->be->name, strerror((int)-len));
			}
			break;
		}
		struct virtio_net_hdr_v1 h;
		if ((size_t)len > NET_HDR_LEN + NET_ETH_HLEN + n->mtu || (size_t)len < NET_HDR_LEN + NET_ETH_HLEN) {
			n->c.rx_host++; /* longer than the MTU, or no Ethernet header */
			continue;
		}
		memcpy(&h, n->rxbuf, sizeof(h));
		if (h.gso_type != VIRTIO_NET_HDR_GSO_NONE || (h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)) {
			n->c.rx_host++; /* offloads were never enabled on the back end */
			continue;
		}
		memset(&h, 0, sizeof(h));
		h.num_buffers = htole16(1);
		memcpy(n->rxbuf, &h, sizeof(h));
		if (!rx_deliver(n, (size_t)len, &used))
			continue;
		n->c.rx_frames++;
		n->c.rx_bytes += (uint64_t)len - NET_HDR_LEN;
	}
	if (used)
		virtio_notify_used(n->dev, RXQ);
	return dead;
}

static void on_backend(void *opaque, uint32_t events)
{
	struct vnet *n = opaque;

	pthread_mutex_lock(&n->dev->lock);
	bool dead = rx_pump(n);
	/* A back end that hung up or fails stays readable for good: stop
	 * watching it, or the level-triggered watch spins the I/O thread.
	 * The guest's transmits keep being counted as host drops. */
	if ((dead || (events & (EPOLLHUP | EPOLLERR))) && n->watching) {
		iothread_unwatch(n->dev->io, n->be->fd);
		n->watching = false;
		log_warn("virtio-net %s: the back end hung up or failed; no more frames will arrive", n->be->name);
	}
	pthread_mutex_unlock(&n->dev->lock);
}

/* ---- ops ----------------------------------------------------------------- */

static void net_notify(struct virtio_dev *dev, unsigned q)
{
	struct vnet *n = dev->priv;

	if (q == TXQ)
		tx_drain(n);
	else
		rx_pump(n); /* new buffers: take what waits in the back end now */
}

static void net_config_read(struct virtio_dev *dev, uint32_t offset, void *data, unsigned len)
{
	const struct vnet *n = dev->priv;
	uint8_t cfg[NET_CONFIG_SIZE];
	uint16_t status = htole16(VIRTIO_NET_S_LINK_UP), pairs = htole16(1), mtu = htole16((uint16_t)n->mtu);

	memcpy(cfg, n->mac, 6);
	memcpy(cfg + 6, &status, 2);
	memcpy(cfg + 8, &pairs, 2);
	memcpy(cfg + 10, &mtu, 2);
	memcpy(data, cfg + offset, len);
}

static void net_stats_extra(const struct virtio_dev *dev, FILE *out, bool json)
{
	const struct vnet *n = dev->priv;
	const struct vnet_counters *c = &n->c;
	const char *fmt = json ? ", \"%s\": %llu" : ", %s %llu";
	const struct { const char *name; uint64_t v; } f[] = {
		{ "rx_frames", c->rx_frames }, { "rx_bytes", c->rx_bytes },
		{ "tx_frames", c->tx_frames }, { "tx_bytes", c->tx_bytes },
		{ "drop_tx_layout", c->tx_layout }, { "drop_tx_short", c->tx_short },
		{ "drop_tx_long", c->tx_long }, { "drop_tx_header", c->tx_header },
		{ "drop_tx_host", c->tx_host }, { "drop_rx_no_buffer", c->rx_no_buffer },
		{ "drop_rx_bad_buffer", c->rx_bad_buffer }, { "drop_rx_host", c->rx_host },
	};
	if (json)
		fprintf(out, ", \"backend\": \"%s\"", n->be->name);
	else
		fprintf(out, ", %s", n->be->name);
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		fprintf(out, fmt, f[i].name, (unsigned long long)f[i].v);
}

static void net_destroy(struct virtio_dev *dev)
{
	struct vnet *n = dev->priv;

	if (n->watching)
		iothread_unwatch(dev->io, n->be->fd);
	net_backend_close(n->be);
	free(n);
}

static const struct virtio_ops net_ops = {
	.name = "virtio-net",
	.device_id = VIRTIO_ID_NET,
	.features = (1ull << VIRTIO_NET_F_MAC) | (1ull << VIRTIO_NET_F_MTU) | (1ull << VIRTIO_NET_F_STATUS) |
		    (1ull << VIRTIO_NET_F_MRG_RXBUF),
	.num_queues = 2,
	.queue_max = NET_QUEUE_MAX,
	.config_size = NET_CONFIG_SIZE,
	.config_read = net_config_read,
	.queue_notify = net_notify,
	.destroy = net_destroy,
	.stats_extra = net_stats_extra,
};

static int net_check(const char *arg)
{
	struct net_spec spec;
	return net_parse(arg, &spec);
}

static struct virtio_dev *net_create(const struct device_env *env, const char *arg)
{
	struct net_spec spec;

	if (net_parse(arg, &spec))
		return NULL;
	struct vnet *n = calloc(1, sizeof(*n));
	if (!n) {
		log_error("out of memory adding a virtio-net device");
		return NULL;
	}
	n->mtu = spec.mtu;
	if (spec.has_mac)
		memcpy(n->mac, spec.mac, 6);
	else
		net_default_mac(&spec, n->mac);
	n->be = net_backend_open(&spec);
	if (!n->be) {
		free(n);
		return NULL;
	}
	n->dev = virtio_dev_new(&env->virtio, &net_ops, n);
	if (!n->dev) {
		net_backend_close(n->be);
		free(n);
		return NULL;
	}
	if (n->be->fd >= 0) {
		int ret = iothread_watch(env->virtio.io, n->be->fd, EPOLLIN, on_backend, n);
		if (ret) {
			log_error("virtio-net %s: cannot watch the back end: %s", n->be->name, strerror(-ret));
			virtio_destroy(n->dev); /* closes the back end, frees n */
			return NULL;
		}
		n->watching = true;
	}
	return n->dev;
}

const struct device_type virtio_net_type = {
	.name = "virtio-net",
	.kind = DEVICE_VIRTIO,
	.max_count = 0,
	.interrupts = true,
	.parse = net_check,
	.create_virtio = net_create,
};
