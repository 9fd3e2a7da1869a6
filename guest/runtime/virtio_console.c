/*
 * virtio-console driver, port 0 (no MULTIPORT): receiveq 0, transmitq 1.
 *
 * Transmit: TX_SLOTS buffers of TX_SIZE bytes. A write copies into the
 * slot being filled; a full slot goes on the ring (one descriptor) and the
 * queue is kicked, which EVENT_IDX turns into no exit while the device is
 * still draining what came before. So a burst of output costs one kick per
 * TX_SIZE bytes at most, instead of one per write.
 *
 * When the slot being filled goes out early (vcons_push):
 *  - interactive: the device offers VIRTIO_CONSOLE_F_SIZE, which the
 *    monitor does exactly when its output is a terminal: at the end of
 *    every write (stdio writes once per line, so every line shows at once,
 *    as before);
 *  - otherwise (a file, a pipe: batch mode) when it has been filling for
 *    PUSH_NS and another write comes (only where reading the clock costs
 *    no exit: at ring 3, or CPL0 run natively), and before anything that
 *    blocks: vcons_flush (fflush, exit, abort, panic, the exception
 *    handler), reads that wait for input, and the runtime's other waits
 *    (sleep, device waits: stdio_before_wait). Nothing is ever left
 *    behind: every way out of the runtime drains.
 * Slots come back when the device has used them; only a writer that finds
 * none free, and vcons_flush, wait (POLL) for that.
 *
 * Receive: RX_SLOTS buffers of RX_SIZE bytes stay posted; used ones are
 * queued in arrival order, read from, and re-posted once empty. A buffer
 * that comes back empty is the monitor's end of input (its stdin
 * closed): from then on reads return 0.
 *
 * Polling only: the console never takes interrupts (its signals only wake
 * POLL), so nothing here runs in interrupt context.
 */
#include <stdio.h>
#include <string.h>
#include <pvmm/guest.h>
#include <pvmm/virtio_console.h>
#include "runtime.h"

#define TX_SLOTS 4
#define TX_SIZE 4096
#define NO_FILL TX_SLOTS
/* Batch mode: how long a slot may fill before the next write sends it. */
#define PUSH_NS (10 * PVMM_NS_PER_MS)
#define RX_SLOTS 4
#define RX_SIZE 512
#define QUEUE_SIZE 8

static struct {
	int state; /* 0 not tried, 1 open, < 0 failed with that error */
	bool stdio;
	struct virtio_dev vdev;
	struct virtqueue rx, tx;
	uint8_t *txbuf, *rxbuf;
	unsigned tx_busy;          /* bit per TX slot: with the device, or filling */
	unsigned fill;             /* the slot being filled, or NO_FILL */
	uint32_t fill_len;
	uint64_t fill_start;       /* when it began (batch mode, cheap clock only) */
	bool interactive;          /* output is a terminal: push every write */
	bool batch_timed;          /* batch mode with a cheap clock: PUSH_NS applies */
	uint8_t rx_slot[RX_SLOTS]; /* used RX slots, arrival order */
	uint32_t rx_len[RX_SLOTS];
	unsigned rx_first, rx_count;
	uint32_t rx_pos;           /* bytes consumed from the first */
	bool rx_eof;               /* a zero-length buffer came: end of input */
} vc;

#define COOKIE(slot) ((void *)(uintptr_t)((slot) + 1))
#define SLOT(cookie) ((unsigned)(uintptr_t)(cookie) - 1)

bool vcons_present(void)
{
	return virtio_find(VIRTIO_ID_CONSOLE, 0) >= 0;
}

static int post_rx(unsigned slot)
{
	struct virtq_desc d = { (uint64_t)(uintptr_t)(vc.rxbuf + slot * RX_SIZE), RX_SIZE, VIRTQ_DESC_F_WRITE, 0 };
	int r = virtq_add(&vc.rx, &d, 1, COOKIE(slot));
	return r < 0 ? r : 0;
}

static int open_device(void)
{
	int index = virtio_find(VIRTIO_ID_CONSOLE, 0);
	if (index < 0)
		return -VIRTIO_ENODEV;
	int err = virtio_init(&vc.vdev, (unsigned)index, VIRTIO_ID_CONSOLE);
	if (!err)
		err = virtio_negotiate(&vc.vdev, VIRTIO_BIT(VIRTIO_F_EVENT_IDX) | VIRTIO_BIT(VIRTIO_CONSOLE_F_SIZE) |
						     VIRTIO_NEGOTIATE_EXACT);
	if (!err)
		err = virtio_queue_init(&vc.vdev, &vc.rx, VIRTIO_CONSOLE_RX_QUEUE, QUEUE_SIZE);
	if (!err)
		err = virtio_queue_init(&vc.vdev, &vc.tx, VIRTIO_CONSOLE_TX_QUEUE, QUEUE_SIZE);
	if (err)
		return err;
	if (vc.rx.size < RX_SLOTS || vc.tx.size < TX_SLOTS)
		return -VIRTIO_EQUEUE;
	size_t pages = (TX_SLOTS * TX_SIZE + RX_SLOTS * RX_SIZE + PVMM_PAGE_SIZE - 1) / PVMM_PAGE_SIZE;
	vc.txbuf = page_alloc(pages);
	if (!vc.txbuf)
		return -VIRTIO_ENOMEM;
	vc.rxbuf = vc.txbuf + TX_SLOTS * TX_SIZE;
	vc.fill = NO_FILL;
	/* SIZE is offered exactly when the monitor's output is a terminal. */
	vc.interactive = virtio_has(&vc.vdev, VIRTIO_CONSOLE_F_SIZE);
	vc.batch_timed = !vc.interactive && runtime_clock_cheap();
	for (unsigned i = 0; i < RX_SLOTS; i++)
		if ((err = post_rx(i)))
			return err;
	virtio_driver_ok(&vc.vdev);
	virtq_kick(&vc.rx);
	return 0;
}

int vcons_open(void)
{
	if (vc.state == 0) {
		int err = open_device();
		if (err && vc.vdev.regs)
			virtio_set_failed(&vc.vdev);
		vc.state = err ? err : 1;
	}
	return vc.state == 1 ? 0 : vc.state;
}

/* ---- Output ------------------------------------------------------------ */

static void tx_reap(void)
{
	void *cookie;
	uint32_t len;
	while (virtq_get(&vc.tx, &cookie, &len) > 0)
		vc.tx_busy &= ~(1u << SLOT(cookie));
}

/* Wait for the device to signal, up to deadline: 0 signalled (or
 * something to reap), -VIRTIO_ETIMEDOUT, -VIRTIO_EBROKEN. */
static int wait_signal(struct virtqueue *vq, uint16_t n, uint64_t deadline)
{
	if (vq->broken)
		return -VIRTIO_EBROKEN;
	if (virtq_arm(vq, n))
		return 0;
	int r = virtio_wait(&vc.vdev, deadline);
	if (r < 0)
		return r;
	if (virtq_has_used(vq))
		return 0;
	if (r == 0 && pvmm_now_ns() >= deadline)
		return -VIRTIO_ETIMEDOUT;
	if (r > 0 && virtio_needs_reset(&vc.vdev))
		return -VIRTIO_EBROKEN;
	return 0;
}

/* The slot being filled onto the ring, and kick (no exit while the
 * device is still busy with the previous ones). Never blocks. */
static int push_fill(void)
{
	stdio_push_wanted = false;
	if (vc.fill == NO_FILL)
		return 0;
	unsigned slot = vc.fill;
	vc.fill = NO_FILL;
	if (vc.fill_len == 0) {
		vc.tx_busy &= ~(1u << slot);
		return 0;
	}
	struct virtq_desc d = { (uint64_t)(uintptr_t)(vc.txbuf + slot * TX_SIZE), vc.fill_len, 0, 0 };
	int r = virtq_add(&vc.tx, &d, 1, COOKIE(slot));
	if (r < 0) {
		vc.tx_busy &= ~(1u << slot);
		return r;
	}
	virtq_kick(&vc.tx);
	return 0;
}

void vcons_push(void)
{
	if (vc.state == 1)
		push_fill();
}

int64_t vcons_write(const void *buf, size_t len)
{
	int err = vcons_open();
	if (err)
		return err;
	const uint8_t *p = buf;
	size_t left = len;
	while (left) {
		if (vc.fill == NO_FILL) {
			tx_reap();
			if (vc.tx_busy == (1u << TX_SLOTS) - 1) {
				if ((err = wait_signal(&vc.tx, 1, UINT64_MAX)))
					return err;
				continue;
			}
			vc.fill = (unsigned)__builtin_ctz(~vc.tx_busy);
			vc.tx_busy |= 1u << vc.fill;
			vc.fill_len = 0;
			if (vc.batch_timed)
				vc.fill_start = pvmm_now_ns();
		}
		size_t room = TX_SIZE - vc.fill_len;
		size_t chunk = left < room ? left : room;
		memcpy(vc.txbuf + vc.fill * TX_SIZE + vc.fill_len, p, chunk);
		vc.fill_len += (uint32_t)chunk;
		p += chunk;
		left -= chunk;
		if (vc.fill_len == TX_SIZE && (err = push_fill()))
			return err;
	}
	if (vc.fill != NO_FILL) {
		if (vc.interactive || (vc.batch_timed && pvmm_now_ns() - vc.fill_start >= PUSH_NS)) {
			if ((err = push_fill()))
				return err;
		} else {
			stdio_push_wanted = true;
		}
	}
	return (int64_t)len;
}

int vcons_flush(uint64_t deadline_ns)
{
	if (vc.state != 1)
		return vc.state < 0 ? vc.state : 0;
	int err = push_fill();
	if (err)
		return err;
	for (;;) {
		tx_reap();
		unsigned busy = virtq_in_flight(&vc.tx);
		if (busy == 0)
			return 0;
		if ((err = wait_signal(&vc.tx, (uint16_t)busy, deadline_ns)))
			return err;
	}
}

/* ---- Input ---------------------------------------------------------------- */

static void rx_reap(void)
{
	void *cookie;
	uint32_t len;
	while (vc.rx_count < RX_SLOTS && virtq_get(&vc.rx, &cookie, &len) > 0) {
		unsigned at = (vc.rx_first + vc.rx_count) % RX_SLOTS;
		vc.rx_slot[at] = (uint8_t)SLOT(cookie);
		vc.rx_len[at] = len > RX_SIZE ? RX_SIZE : len;
		vc.rx_count++;
	}
}

int64_t vcons_read(void *buf, size_t len)
{
	int err = vcons_open();
	if (err)
		return err;
	if (vc.rx.broken)
		return -VIRTIO_EBROKEN;
	for (;;) {
		if (vc.rx_eof)
			return 0;
		rx_reap();
		if (vc.rx_count == 0)
			return -VIRTIO_EAGAIN;
		unsigned slot = vc.rx_slot[vc.rx_first];
		if (vc.rx_len[vc.rx_first] == 0)
			vc.rx_eof = true; /* returned below, after the buffer goes back */
		uint32_t avail = vc.rx_len[vc.rx_first] - vc.rx_pos;
		size_t n = len < avail ? len : avail;
		memcpy(buf, vc.rxbuf + slot * RX_SIZE + vc.rx_pos, n);
		vc.rx_pos += (uint32_t)n;
		if (vc.rx_pos == vc.rx_len[vc.rx_first]) {
			/* Consumed (or the end-of-input marker): give it back. */
			vc.rx_first = (vc.rx_first + 1) % RX_SLOTS;
			vc.rx_count--;
			vc.rx_pos = 0;
			if ((err = post_rx(slot)))
				return err;
			virtq_kick(&vc.rx);
		}
		if (n > 0 || len == 0 || vc.rx_eof)
			return (int64_t)n;
	}
}

int64_t vcons_read_wait(void *buf, size_t len, uint64_t deadline_ns)
{
	/* A prompt shows before the wait. Through stdio when stdio owns the
	 * console: with several CPUs that takes its lock (without waiting). */
	if (vc.stdio)
		stdio_before_wait();
	else
		vcons_push();
	for (;;) {
		int64_t r = vcons_read(buf, len);
		if (r != -VIRTIO_EAGAIN)
			return r;
		int err = wait_signal(&vc.rx, 1, deadline_ns);
		if (err)
			return err;
	}
}

static unsigned char getc_buf[256];
static size_t getc_pos, getc_len;

int vcons_getc(void)
{
	if (getc_pos == getc_len) {
		stdio_flush(); /* a prompt without its newline yet */
		int64_t r = vcons_read_wait(getc_buf, sizeof(getc_buf), UINT64_MAX);
		if (r <= 0)
			return EOF; /* end of input, or an error */
		getc_pos = 0;
		getc_len = (size_t)r;
	}
	return getc_buf[getc_pos++];
}

/* ---- stdio ------------------------------------------------------------------ */

/* How long exit() & co. wait for output to leave before giving up. */
#define DRAIN_NS (2 * PVMM_NS_PER_S)

static int stdio_drain_vcons(void)
{
	return vcons_flush(pvmm_now_ns() + DRAIN_NS);
}

bool vcons_is_stdio(void)
{
	return vc.stdio;
}

int vcons_set_stdio(bool on)
{
	if (on == vc.stdio)
		return 0;
	if (on) {
		int err = vcons_open();
		if (err)
			return err;
	}
	stdio_flush(); /* what is pending goes where it was headed */
	if (on) {
		stdio_set_sink(vcons_write, stdio_drain_vcons);
		stdio_set_push(vcons_push);
	} else {
		stdio_drain_vcons(); /* what it holds leaves first */
		stdio_set_sink(NULL, NULL);
		stdio_set_push(NULL);
	}
	vc.stdio = on;
	return 0;
}

void vcons_stdio_autostart(void)
{
	/* Only virtio entries can be a console: no device access at
	 * all for guests without them. */
	const struct pvmm_boot_info *bi = pvmm_boot_info();
	bool any = false;
	for (uint32_t i = 0; i < bi->device_count && i < PVMM_MAX_DEVICES; i++)
		any |= virtio_entry_type(bi->devices[i].type);
	if (!any || !vcons_present())
		return;
	int err = vcons_set_stdio(true);
	if (err) {
		char msg[96];
		int n = snprintf(msg, sizeof(msg), "pvmm runtime: virtio console unusable (%s); stdio stays on the para console\n",
				 virtio_strerror(err));
		pvmm_console_write(msg, (size_t)n);
	}
}
