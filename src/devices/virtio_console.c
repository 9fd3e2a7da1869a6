/*
 * virtio-console without MULTIPORT: receiveq 0 carries input to the guest,
 * transmitq 1 output from it. EMERG_WRITE lets an early guest print a byte
 * with one config write, before any queue exists.
 *
 * Input. The I/O thread watches in_fd only while the guest has a receive
 * buffer waiting and the device has no input of its own pending, so
 * nothing is read from stdin before the guest can take it and an idle
 * console costs no wake-ups. One popped buffer waits in the device
 * (`held`) until input arrives; a receive chain with no device-writable
 * byte could never carry any, so it is returned at once with length 0
 * and counted as an error, never held. Input is read in chunks of up to 4 KiB
 * into `pending` and handed out over as many buffers as it takes. At end
 * of input the guest gets one used buffer of length 0 (Linux's console
 * driver turns that into a read() of 0, i.e. EOF), then nothing more.
 *
 * Bounds. One call of rx_pump() or tx_drain() takes at most queue-size
 * chains (each one the guest posted); if that budget runs out it kicks
 * the queue itself and returns, so the I/O thread gets back to its loop
 * (and to a stop request) between batches whatever the guest does.
 *
 * Output is written to the console sink on the I/O thread. A terminal
 * that stops reading slows the guest's output down as it would a serial
 * line; once the VM stops, the write gives up and the sink counts what
 * could not be delivered.
 */
#include "devices/virtio_console.h"

#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/virtio_console.h>
#include <linux/virtio_ids.h>

#include "console_out.h"
#include "devices/device.h"
#include "iothread.h"
#include "log.h"
#include "snapshot_format.h"

enum { RX = 0, TX = 1 };

struct console {
	struct virtio_ops ops;  /* per device: SIZE only when output is a terminal */
	struct virtio_dev *dev;
	int in_fd;
	int resize_fd;          /* watched for terminal size changes; -1: none */
	uint16_t cols, rows;    /* the terminal's size, as config reports it (dev->lock) */
	struct console_sink out;
	bool watching;          /* in_fd is on the I/O thread's list */
	bool in_eof;            /* in_fd reached its end (or there is none) */
	bool eof_sent;          /* the zero-length buffer went to this driver */
	bool out_warned;
	bool held;              /* `elem` is a receive buffer taken from the ring */
	struct virtq_elem elem;
	size_t pending_off, pending_len;
	uint8_t pending[4096];
};

/* ---- input ------------------------------------------------------------ */

static void on_input(void *opaque, uint32_t events);

static void set_watch(struct console *c, bool want)
{
	struct iothread *io = c->dev->io;

	if (want == c->watching)
		return;
	if (!want) {
		iothread_unwatch(io, c->in_fd);
		c->watching = false;
		return;
	}
	int ret = iothread_watch(io, c->in_fd, EPOLLIN, on_input, c);
	if (ret == 0) {
		c->watching = true;
		return;
	}
	/* Cannot happen for files poll() calls ready (those are read at
	 * once); anything else: give the guest end of input, not a hang. */
	log_warn("%s: cannot wait for input: %s; input ends here", c->dev->ops->name, strerror(-ret));
	c->in_eof = true;
}

/* Read the next chunk of input if some is there now (never blocks). */
static void read_input(struct console *c)
{
	if (c->pending_len || c->in_eof)
		return;
	struct pollfd p = { .fd = c->in_fd, .events = POLLIN };
	if (poll(&p, 1, 0) <= 0)
		return;
	ssize_t n = read(c->in_fd, c->pending, sizeof(c->pending));
	if (n > 0) {
		c->pending_off = 0;
		c->pending_len = (size_t)n;
	} else if (n == 0) {
		c->in_eof = true;
	} else if (errno != EINTR && errno != EAGAIN) {
		log_warn("%s: reading input failed: %s; input ends here", c->dev->ops->name, strerror(errno));
		c->in_eof = true;
	}
}

/* Move input into receive buffers until one or the other runs out. */
static void rx_pump(struct console *c)
{
	struct virtio_dev *dev = c->dev;
	struct virtq *vq = &dev->queues[RX];
	unsigned budget = vq->size; /* chains one call may take */
	bool used = false;

	if (!virtio_queue_live(dev, RX)) {
		c->held = false; /* a buffer of rings that are gone */
		set_watch(c, false);
		return;
	}
	for (;;) {
		if (!c->held) {
			if (budget == 0) {
				virtio_queue_rekick(dev, RX); /* the rest on the next pass */
				break;
			}
			budget--;
			if (!virtio_pop(dev, RX, &c->elem)) {
				if (!virtio_queue_live(dev, RX)) {
					set_watch(c, false); /* it broke */
					return;
				}
				break;
			}
			if (c->elem.in_len == 0) {
				/* No room for a single byte: it can never carry
				 * input, so it goes back now rather than being
				 * held (or answered over and over). */
				virtq_push(vq, c->elem.head, 0);
				dev->stats.requests++;
				dev->stats.errors++;
				used = true;
				continue;
			}
			c->held = true;
		}
		read_input(c);
		uint32_t len;
		if (c->pending_len) {
			/* in_len > 0 (checked at pop), so this moves >= 1 byte. */
			len = (uint32_t)virtq_write_in(&c->elem, 0, c->pending + c->pending_off, c->pending_len);
			c->pending_off += len;
			c->pending_len -= len;
		} else if (c->in_eof && !c->eof_sent) {
			len = 0;
			c->eof_sent = true;
		} else {
			break; /* keep the buffer until input comes */
		}
		virtq_push(vq, c->elem.head, len);
		c->held = false;
		dev->stats.requests++;
		used = true;
	}
	if (used)
		virtio_notify_used(dev, RX);
	set_watch(c, c->held && !c->pending_len && !c->in_eof);
}

static void on_input(void *opaque, uint32_t events)
{
	struct console *c = opaque;

	(void)events;
	pthread_mutex_lock(&c->dev->lock);
	rx_pump(c);
	pthread_mutex_unlock(&c->dev->lock);
}

/* ---- output ----------------------------------------------------------- */

static void write_out(struct console *c, const void *buf, size_t len)
{
	/* Waits while nobody reads; gives up (the sink counts the loss) once
	 * the VM stops, so a stalled terminal never holds up the exit. */
	if (console_sink_write(&c->out, buf, len) < len && !(c->out.stopped && c->out.stopped(c->out.ctx)) &&
	    !c->out_warned) {
		c->out_warned = true;
		log_warn("%s: writing output failed; output is dropped", c->dev->ops->name);
	}
}

static void tx_drain(struct console *c)
{
	struct virtio_dev *dev = c->dev;
	struct virtq *vq = &dev->queues[TX];
	struct virtq_elem elem;
	unsigned budget = vq->size; /* chains one call may take */
	bool used = false;

	for (;;) {
		if (budget == 0) {
			virtio_queue_rekick(dev, TX); /* the rest on the next pass */
			break;
		}
		budget--;
		if (!virtio_pop(dev, TX, &elem))
			break;
		for (unsigned i = 0; i < elem.out_num; i++)
			write_out(c, elem.iov[i].iov_base, elem.iov[i].iov_len);
		virtq_push(vq, elem.head, 0); /* nothing written into the buffer */
		dev->stats.requests++;
		used = true;
	}
	if (used)
		virtio_notify_used(dev, TX);
}

/* ---- ops -------------------------------------------------------------- */

static void console_notify(struct virtio_dev *dev, unsigned q)
{
	struct console *c = dev->priv;
	if (q == RX)
		rx_pump(c);
	else
		tx_drain(c);
}

static void console_config_read(struct virtio_dev *dev, uint32_t offset, void *data, unsigned len)
{
	/* No MULTIPORT; cols and rows are 0 unless SIZE is offered. */
	const struct console *c = dev->priv;
	struct virtio_console_config cfg = { .cols = htole16(c->cols), .rows = htole16(c->rows) };
	memcpy(data, (const uint8_t *)&cfg + offset, len);
}

/* The output terminal's size; false if output is not a terminal. */
static bool terminal_size(int fd, uint16_t *cols, uint16_t *rows)
{
	struct winsize ws;
	if (fd < 0 || ioctl(fd, TIOCGWINSZ, &ws) < 0)
		return false;
	*cols = ws.ws_col;
	*rows = ws.ws_row;
	return true;
}

/* I/O thread: the terminal may have changed size (SIGWINCH). A new size
 * is a config change: the generation moves and the driver is told. */
static void on_resize(void *opaque, uint32_t events)
{
	struct console *c = opaque;
	struct virtio_dev *dev = c->dev;
	uint64_t count;
	uint16_t cols, rows;

	(void)events;
	if (read(c->resize_fd, &count, sizeof(count)) < 0 || !terminal_size(c->out.fd, &cols, &rows))
		return;
	pthread_mutex_lock(&dev->lock);
	if (cols != c->cols || rows != c->rows) {
		c->cols = cols;
		c->rows = rows;
		virtio_config_changed(dev);
	}
	pthread_mutex_unlock(&dev->lock);
}

static void console_config_write(struct virtio_dev *dev, uint32_t offset, const void *data, unsigned len)
{
	struct console *c = dev->priv;
	uint32_t ch;

	if (offset != offsetof(struct virtio_console_config, emerg_wr) || len != sizeof(ch))
		return; /* the other fields are read-only */
	memcpy(&ch, data, sizeof(ch));
	uint8_t byte = (uint8_t)ch;
	/* On the vCPU thread: one attempt, never a wait. */
	if (c->out.fd >= 0 && write(c->out.fd, &byte, 1) < 0) {
		/* an emergency byte that cannot be written is lost */
	}
}

/* The receive buffer held from the old ring is the driver's again. */
static void console_queue_stop(struct virtio_dev *dev, unsigned q)
{
	struct console *c = dev->priv;

	if (q == RX) {
		c->held = false;
		set_watch(c, false);
	}
}

static void console_reset(struct virtio_dev *dev)
{
	struct console *c = dev->priv;

	/* Input already read stays pending for the next driver. */
	c->eof_sent = false;
}

static void console_destroy(struct virtio_dev *dev)
{
	struct console *c = dev->priv;
	if (c->resize_fd >= 0)
		iothread_unwatch(dev->io, c->resize_fd);
	free(c);
}

/* Snapshot. The receive buffer held (if any) is the last one popped: a
 * restore hands it back to the ring (last_avail one back), and the
 * restored device pops it again on its first pass. Input read from stdin
 * but not yet delivered goes with the snapshot; the terminal's size is
 * the new terminal's. */
static void console_save(struct virtio_dev *dev, struct snap_writer *w)
{
	struct console *c = dev->priv;
	snap_put_u32(w, (uint32_t)c->held | (uint32_t)c->in_eof << 1 | (uint32_t)c->eof_sent << 2);
	snap_put_u32(w, (uint32_t)c->pending_len);
	snap_put(w, c->pending + c->pending_off, c->pending_len);
}

static int console_load(struct virtio_dev *dev, struct snap_reader *r, char *err, size_t err_len)
{
	(void)err;
	(void)err_len; /* the core's "malformed" says it */
	struct console *c = dev->priv;
	uint32_t flags = snap_get_u32(r), n = snap_get_u32(r);
	if (r->bad || n > sizeof(c->pending))
		return -1;
	snap_get(r, c->pending, n);
	c->pending_off = 0;
	c->pending_len = n;
	c->in_eof |= (flags & 2) != 0;
	c->eof_sent = flags & 4;
	c->held = false;
	if (flags & 1)
		dev->queues[RX].last_avail--;
	return r->bad ? -1 : 0;
}

static const struct virtio_ops console_template = {
	.name = "virtio-console",
	.device_id = VIRTIO_ID_CONSOLE,
	.features = 1ull << VIRTIO_CONSOLE_F_EMERG_WRITE,
	.num_queues = 2,
	.queue_max = 256,
	.config_size = sizeof(struct virtio_console_config),
	.config_read = console_config_read,
	.config_write = console_config_write,
	.queue_notify = console_notify,
	.queue_stop = console_queue_stop,
	.reset = console_reset,
	.save = console_save,
	.load = console_load,
	.destroy = console_destroy,
};

struct virtio_dev *virtio_console_new(const struct virtio_ctx *ctx, int in_fd, const struct console_sink *out,
				      int resize_fd)
{
	struct console *c = calloc(1, sizeof(*c));
	if (!c) {
		log_error("out of memory adding a virtio console");
		return NULL;
	}
	c->in_fd = in_fd;
	c->out = *out;
	c->in_eof = in_fd < 0;
	c->resize_fd = -1;
	c->ops = console_template;
	/* On a terminal the driver learns its size, and each change. */
	if (terminal_size(out->fd, &c->cols, &c->rows))
		c->ops.features |= 1ull << VIRTIO_CONSOLE_F_SIZE;
	c->dev = virtio_dev_new(ctx, &c->ops, c);
	if (!c->dev) {
		free(c);
		return NULL;
	}
	if ((c->ops.features & (1ull << VIRTIO_CONSOLE_F_SIZE)) && resize_fd >= 0) {
		int ret = iothread_watch(ctx->io, resize_fd, EPOLLIN, on_resize, c);
		if (ret == 0)
			c->resize_fd = resize_fd;
		else
			log_warn("%s: cannot follow the terminal's size: %s", c->ops.name, strerror(-ret));
	}
	return c->dev;
}

static struct virtio_dev *console_create(const struct device_env *env, const char *arg)
{
	(void)arg;
	return virtio_console_new(&env->virtio, env->in_fd, &env->out, env->resize_fd);
}

const struct device_type virtio_console_type = {
	.name = "virtio-console",
	.kind = DEVICE_VIRTIO,
	.max_count = 1,
	.interrupts = true,
	.create_virtio = console_create,
};
