/*
 * virtio-mmio version 2: the register file, feature negotiation and the
 * device status machine (virtio 1.2, 2.1-2.2 and 4.2), plus the KVM wiring
 * of a device: an ioeventfd per queue on QueueNotify, an irqfd on its pin.
 *
 * Register accesses arrive on the vCPU thread (KVM_EXIT_MMIO) and run under
 * dev->lock; kicks arrive on the I/O thread through the ioeventfds. Every
 * access the spec does not allow (wrong width, misaligned, reading a
 * write-only register, writing a read-only one, touching a queue that does
 * not exist or is live) has a defined answer: reads see 0, writes are
 * dropped, and a rate-limited warning says what the driver did.
 */
#include "virtio/mmio.h"

#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/virtio_mmio.h>

#include "iothread.h"
#include "irq.h"
#include "log.h"
#include "vm.h"

#define MMIO_MAGIC 0x74726976u /* "virt" */
#define MMIO_VERSION 2u
#define WARNINGS_LOGGED 8

_Static_assert(VIRTIO_MMIO_MAX_DEVICES <= PVMM_MAX_DEVICES - 1, "the para console takes boot info entry 0");
_Static_assert(VIRTIO_MMIO_MAX_DEVICES <= IRQ_LAST_DEVICE_PIN - IRQ_FIRST_DEVICE_PIN + 1,
	       "every device needs a pin of its own");
_Static_assert(VIRTIO_MMIO_BASE + VIRTIO_MMIO_MAX_DEVICES * VIRTIO_MMIO_WINDOW <= 0xfec00000ull,
	       "the windows must stay below the IOAPIC");

struct mmio;

struct kick {
	struct mmio *m;
	unsigned q;
	int fd;                  /* the queue's ioeventfd */
	uint64_t own;            /* atomic: kicks the transport itself sent, not counted */
};

struct mmio {
	struct virtio_dev dev;
	unsigned slot;           /* window number */
	uint64_t base;
	unsigned pin;
	int irq_fd;              /* irqfd: a write raises the pin */
	int ready_fd;            /* vm->ready_fd[dev.index]: a write wakes POLL */
	struct kick kicks[VIRTIO_MAX_QUEUES];
	uint32_t isr;            /* InterruptStatus; atomic, set off the lock */

	/* Register state, under dev.lock. */
	uint32_t device_features_sel, driver_features_sel, queue_sel;
	uint64_t driver_features;            /* as written; FEATURES_OK commits it */
	uint32_t queue_num[VIRTIO_MAX_QUEUES]; /* QueueNum as written */
	unsigned warnings;
};

static struct mmio *to_mmio(struct virtio_dev *dev)
{
	return dev->transport_priv;
}

__attribute__((format(printf, 2, 3)))
static void warn(struct mmio *m, const char *fmt, ...)
{
	char what[200];
	va_list ap;

	if (m->warnings >= WARNINGS_LOGGED)
		return;
	m->warnings++;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	log_warn("%s (device %u): %s%s", m->dev.ops->name, m->dev.index, what,
		 m->warnings == WARNINGS_LOGGED ? " (further warnings of this device are not shown)" : "");
}

static const char *reg_name(uint64_t off)
{
	switch (off) {
	case VIRTIO_MMIO_MAGIC_VALUE: return "MagicValue";
	case VIRTIO_MMIO_VERSION: return "Version";
	case VIRTIO_MMIO_DEVICE_ID: return "DeviceID";
	case VIRTIO_MMIO_VENDOR_ID: return "VendorID";
	case VIRTIO_MMIO_DEVICE_FEATURES: return "DeviceFeatures";
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL: return "DeviceFeaturesSel";
	case VIRTIO_MMIO_DRIVER_FEATURES: return "DriverFeatures";
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL: return "DriverFeaturesSel";
	case VIRTIO_MMIO_QUEUE_SEL: return "QueueSel";
	case VIRTIO_MMIO_QUEUE_NUM_MAX: return "QueueNumMax";
	case VIRTIO_MMIO_QUEUE_NUM: return "QueueNum";
	case VIRTIO_MMIO_QUEUE_READY: return "QueueReady";
	case VIRTIO_MMIO_QUEUE_NOTIFY: return "QueueNotify";
	case VIRTIO_MMIO_INTERRUPT_STATUS: return "InterruptStatus";
	case VIRTIO_MMIO_INTERRUPT_ACK: return "InterruptACK";
	case VIRTIO_MMIO_STATUS: return "Status";
	case VIRTIO_MMIO_QUEUE_DESC_LOW: return "QueueDescLow";
	case VIRTIO_MMIO_QUEUE_DESC_HIGH: return "QueueDescHigh";
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW: return "QueueDriverLow";
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH: return "QueueDriverHigh";
	case VIRTIO_MMIO_QUEUE_USED_LOW: return "QueueDeviceLow";
	case VIRTIO_MMIO_QUEUE_USED_HIGH: return "QueueDeviceHigh";
	case VIRTIO_MMIO_SHM_SEL: return "SHMSel";
	case VIRTIO_MMIO_SHM_LEN_LOW: return "SHMLenLow";
	case VIRTIO_MMIO_SHM_LEN_HIGH: return "SHMLenHigh";
	case VIRTIO_MMIO_SHM_BASE_LOW: return "SHMBaseLow";
	case VIRTIO_MMIO_SHM_BASE_HIGH: return "SHMBaseHigh";
	case VIRTIO_MMIO_CONFIG_GENERATION: return "ConfigGeneration";
	default: return NULL;
	}
}

static uint64_t offered_features(const struct virtio_dev *dev)
{
	return dev->ops->features | VIRTIO_COMMON_FEATURES;
}

static uint16_t queue_max(const struct virtio_dev *dev)
{
	return dev->ops->queue_max;
}

/* The selected queue, or NULL if QueueSel names none. */
static struct virtq *selected_queue(struct mmio *m)
{
	if (m->queue_sel >= m->dev.ops->num_queues)
		return NULL;
	return &m->dev.queues[m->queue_sel];
}

static void signal_fd(int fd)
{
	uint64_t one = 1;
	if (fd >= 0 && write(fd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is saturated, the reader is woken anyway. */
	}
}

static void mmio_interrupt(struct virtio_dev *dev, uint32_t isr_bits)
{
	struct mmio *m = to_mmio(dev);
	__atomic_fetch_or(&m->isr, isr_bits, __ATOMIC_SEQ_CST);
	signal_fd(m->irq_fd);
	signal_fd(m->ready_fd);
}

/* ---- status machine -------------------------------------------------- */

static void device_reset(struct mmio *m)
{
	struct virtio_dev *dev = &m->dev;

	/* The device drains its in-flight requests while the rings are
	 * still valid, then everything the driver set up is forgotten. */
	if (dev->ops->reset)
		dev->ops->reset(dev);
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		virtq_reset(&dev->queues[q]);
		m->queue_num[q] = 0;
	}
	dev->status = 0;
	dev->driver_features = 0;
	m->driver_features = 0;
	m->device_features_sel = m->driver_features_sel = m->queue_sel = 0;
	__atomic_store_n(&m->isr, 0, __ATOMIC_SEQ_CST);
}

static bool features_acceptable(struct mmio *m)
{
	uint64_t extra = m->driver_features & ~offered_features(&m->dev);
	bool v1 = m->driver_features & (1ull << VIRTIO_F_VERSION_1);

	if (extra || !v1) {
		warn(m, "FEATURES_OK refused: driver features %#llx %s", (unsigned long long)m->driver_features,
		     extra ? "include bits the device did not offer" : "lack VERSION_1 (legacy drivers are not supported)");
		return false;
	}
	return true;
}

static void activate(struct mmio *m)
{
	struct virtio_dev *dev = &m->dev;

	if (dev->ops->activate && dev->ops->activate(dev) != 0) {
		virtio_fail(dev, "the device could not start");
		return;
	}
	/* One kick per ready queue, through the I/O thread like any other:
	 * buffers the driver made available before DRIVER_OK get served
	 * even if it (rightly) did not notify before DRIVER_OK. */
	for (unsigned q = 0; q < dev->ops->num_queues; q++) {
		if (dev->queues[q].ready) {
			__atomic_fetch_add(&m->kicks[q].own, 1, __ATOMIC_RELAXED);
			signal_fd(m->kicks[q].fd);
		}
	}
}

static void status_write(struct mmio *m, uint32_t value)
{
	struct virtio_dev *dev = &m->dev;
	const uint32_t device_owned = VIRTIO_CONFIG_S_NEEDS_RESET;
	uint32_t old = dev->status;

	if (value == 0) {
		device_reset(m);
		return;
	}
	if (value > 0xff)
		warn(m, "Status %#x has bits above the 8 the spec defines; they are ignored", value);
	uint32_t new = (value & 0xff & ~device_owned) | (old & device_owned);
	if (old & ~new) {
		warn(m, "Status %#x would clear bits of %#x; only a reset (0) clears them; ignored", value, old);
		return;
	}
	uint32_t added = new & ~old;
	if (added & VIRTIO_CONFIG_S_FEATURES_OK) {
		if (features_acceptable(m))
			dev->driver_features = m->driver_features;
		else
			new &= ~VIRTIO_CONFIG_S_FEATURES_OK; /* the driver reads it back and gives up */
	}
	if ((added & VIRTIO_CONFIG_S_DRIVER_OK) && !(new & VIRTIO_CONFIG_S_FEATURES_OK)) {
		warn(m, "DRIVER_OK without FEATURES_OK; ignored");
		new &= ~VIRTIO_CONFIG_S_DRIVER_OK;
	}
	dev->status = new;
	added = new & ~old;
	if ((added & VIRTIO_CONFIG_S_DRIVER_OK) &&
	    !(new & (VIRTIO_CONFIG_S_NEEDS_RESET | VIRTIO_CONFIG_S_FAILED)))
		activate(m);
}

/* ---- queues ----------------------------------------------------------- */

/* The selected queue if its set-up registers may be written now. */
static struct virtq *queue_for_setup(struct mmio *m, uint64_t off)
{
	struct virtq *vq = selected_queue(m);
	if (!vq) {
		warn(m, "%s for queue %u, which does not exist; ignored", reg_name(off), m->queue_sel);
		return NULL;
	}
	if (vq->ready) {
		warn(m, "%s for queue %u while it is ready; ignored", reg_name(off), m->queue_sel);
		return NULL;
	}
	return vq;
}

static void set_half(uint64_t *addr, bool high, uint32_t value)
{
	if (high)
		*addr = (*addr & 0xffffffffull) | (uint64_t)value << 32;
	else
		*addr = (*addr & ~0xffffffffull) | value;
}

static void queue_ready_write(struct mmio *m, uint32_t value)
{
	struct virtio_dev *dev = &m->dev;
	unsigned q = m->queue_sel;
	struct virtq *vq = selected_queue(m);

	if (!vq) {
		warn(m, "QueueReady for queue %u, which does not exist; ignored", q);
		return;
	}
	if (value == 0) {
		/* Stop using the queue; what is in flight completes into nothing. */
		if (vq->ready)
			virtq_reset(vq);
		return;
	}
	if (value != 1) {
		warn(m, "QueueReady %#x for queue %u is neither 0 nor 1; ignored", value, q);
		return;
	}
	if (vq->ready || (dev->status & VIRTIO_CONFIG_S_NEEDS_RESET))
		return;
	if (!(dev->status & VIRTIO_CONFIG_S_FEATURES_OK)) {
		virtio_fail(dev, "queue %u made ready before FEATURES_OK", q);
		return;
	}
	if (m->queue_num[q] > queue_max(dev)) {
		virtio_fail(dev, "queue %u: QueueNum %u is larger than QueueNumMax %u", q, m->queue_num[q],
			    queue_max(dev));
		return;
	}
	vq->size = (uint16_t)m->queue_num[q];
	vq->event_idx = dev->driver_features & (1ull << VIRTIO_RING_F_EVENT_IDX);
	vq->indirect = dev->driver_features & (1ull << VIRTIO_RING_F_INDIRECT_DESC);
	if (virtq_enable(vq, &dev->vm->mem))
		virtio_fail(dev, "queue %u: %s", q, vq->error);
}

/* ---- registers -------------------------------------------------------- */

static uint32_t reg_read(struct mmio *m, uint64_t off)
{
	struct virtio_dev *dev = &m->dev;
	struct virtq *vq = selected_queue(m);
	uint64_t features = offered_features(dev);

	switch (off) {
	case VIRTIO_MMIO_MAGIC_VALUE: return MMIO_MAGIC;
	case VIRTIO_MMIO_VERSION: return MMIO_VERSION;
	case VIRTIO_MMIO_DEVICE_ID: return dev->ops->device_id;
	case VIRTIO_MMIO_VENDOR_ID: return VIRTIO_MMIO_VENDOR;
	case VIRTIO_MMIO_DEVICE_FEATURES:
		if (m->device_features_sel == 0)
			return (uint32_t)features;
		return m->device_features_sel == 1 ? (uint32_t)(features >> 32) : 0;
	case VIRTIO_MMIO_QUEUE_NUM_MAX: return vq ? queue_max(dev) : 0; /* 0: no such queue */
	case VIRTIO_MMIO_QUEUE_READY: return vq ? vq->ready : 0;
	case VIRTIO_MMIO_INTERRUPT_STATUS: return __atomic_load_n(&m->isr, __ATOMIC_SEQ_CST);
	case VIRTIO_MMIO_STATUS: return dev->status;
	case VIRTIO_MMIO_CONFIG_GENERATION: return dev->config_generation;
	case VIRTIO_MMIO_SHM_LEN_LOW:
	case VIRTIO_MMIO_SHM_LEN_HIGH:
	case VIRTIO_MMIO_SHM_BASE_LOW:
	case VIRTIO_MMIO_SHM_BASE_HIGH:
		return 0xffffffffu; /* no shared memory regions: length -1 */
	}
	if (reg_name(off))
		warn(m, "read of write-only register %s; reads as 0", reg_name(off));
	else
		warn(m, "read of register offset %#llx, which does not exist; reads as 0", (unsigned long long)off);
	return 0;
}

static void reg_write(struct mmio *m, uint64_t off, uint32_t value)
{
	struct virtio_dev *dev = &m->dev;
	struct virtq *vq;

	switch (off) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL: m->device_features_sel = value; return;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL: m->driver_features_sel = value; return;
	case VIRTIO_MMIO_QUEUE_SEL: m->queue_sel = value; return;
	case VIRTIO_MMIO_SHM_SEL: return; /* any region: none exists */
	case VIRTIO_MMIO_DRIVER_FEATURES:
		if (dev->status & VIRTIO_CONFIG_S_FEATURES_OK)
			warn(m, "DriverFeatures written after FEATURES_OK; ignored");
		else if (m->driver_features_sel <= 1)
			set_half(&m->driver_features, m->driver_features_sel == 1, value);
		else if (value)
			warn(m, "DriverFeatures word %u = %#x: no such features; ignored", m->driver_features_sel, value);
		return;
	case VIRTIO_MMIO_QUEUE_NUM:
		if (queue_for_setup(m, off))
			m->queue_num[m->queue_sel] = value;
		return;
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
		if ((vq = queue_for_setup(m, off)))
			set_half(&vq->desc_gpa, off == VIRTIO_MMIO_QUEUE_DESC_HIGH, value);
		return;
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
		if ((vq = queue_for_setup(m, off)))
			set_half(&vq->avail_gpa, off == VIRTIO_MMIO_QUEUE_AVAIL_HIGH, value);
		return;
	case VIRTIO_MMIO_QUEUE_USED_LOW:
	case VIRTIO_MMIO_QUEUE_USED_HIGH:
		if ((vq = queue_for_setup(m, off)))
			set_half(&vq->used_gpa, off == VIRTIO_MMIO_QUEUE_USED_HIGH, value);
		return;
	case VIRTIO_MMIO_QUEUE_READY: queue_ready_write(m, value); return;
	case VIRTIO_MMIO_QUEUE_NOTIFY:
		/* A valid 32-bit kick is caught by the ioeventfd in KVM and never
		 * gets here; without KVM (unit tests) forward it the same way. */
		if (value < dev->ops->num_queues)
			signal_fd(m->kicks[value].fd);
		else
			warn(m, "QueueNotify for queue %u, which does not exist; ignored", value);
		return;
	case VIRTIO_MMIO_INTERRUPT_ACK: __atomic_fetch_and(&m->isr, ~value, __ATOMIC_SEQ_CST); return;
	case VIRTIO_MMIO_STATUS: status_write(m, value); return;
	}
	if (reg_name(off))
		warn(m, "write to read-only register %s; ignored", reg_name(off));
	else
		warn(m, "write to register offset %#llx, which does not exist; ignored", (unsigned long long)off);
}

/* Device config space: natural-width, naturally aligned accesses inside
 * the device's config_size; anything else reads 0 / is dropped. */
static void config_access(struct mmio *m, uint64_t off, uint8_t *data, unsigned len, bool is_write)
{
	struct virtio_dev *dev = &m->dev;
	const struct virtio_ops *ops = dev->ops;
	bool width_ok = (len == 1 || len == 2 || len == 4 || len == 8) && off % len == 0;
	bool inside = off + len <= ops->config_size;

	if (!is_write)
		memset(data, 0, len);
	if (!width_ok) {
		warn(m, "%u-byte %s at config offset %#llx: config fields take aligned 1, 2, 4 or 8-byte accesses; %s",
		     len, is_write ? "write" : "read", (unsigned long long)off, is_write ? "ignored" : "reads as 0");
		return;
	}
	if (!inside) {
		warn(m, "%s at config offset %#llx, past the %u-byte config space; %s", is_write ? "write" : "read",
		     (unsigned long long)off, ops->config_size, is_write ? "ignored" : "reads as 0");
		return;
	}
	if (!is_write) {
		if (ops->config_read)
			ops->config_read(dev, (uint32_t)off, data, len);
	} else if (ops->config_write) {
		ops->config_write(dev, (uint32_t)off, data, len);
	} else {
		warn(m, "write to config offset %#llx: the config space is read-only; ignored", (unsigned long long)off);
	}
}

void virtio_mmio_handle(struct virtio_dev *dev, uint64_t offset, uint8_t *data, unsigned len, bool is_write)
{
	struct mmio *m = to_mmio(dev);

	if (len == 0 || len > 8)
		return; /* KVM never sends these */
	pthread_mutex_lock(&dev->lock);
	if (offset >= VIRTIO_MMIO_WINDOW || len > VIRTIO_MMIO_WINDOW - offset) {
		if (!is_write)
			memset(data, 0, len);
		warn(m, "%u-byte access at window offset %#llx crosses the end of the window; ignored", len,
		     (unsigned long long)offset);
	} else if (offset >= VIRTIO_MMIO_CONFIG) {
		config_access(m, offset - VIRTIO_MMIO_CONFIG, data, len, is_write);
	} else if (len != 4 || offset % 4) {
		if (!is_write)
			memset(data, 0, len);
		warn(m, "%u-byte %s at register offset %#llx: registers take aligned 32-bit accesses; %s", len,
		     is_write ? "write" : "read", (unsigned long long)offset, is_write ? "ignored" : "reads as 0");
	} else if (is_write) {
		uint32_t v;
		memcpy(&v, data, sizeof(v));
		reg_write(m, offset, le32toh(v));
	} else {
		uint32_t v = htole32(reg_read(m, offset));
		memcpy(data, &v, sizeof(v));
	}
	pthread_mutex_unlock(&dev->lock);
}

static void window_io(void *opaque, uint64_t offset, bool is_write, uint8_t *data, unsigned len)
{
	virtio_mmio_handle(opaque, offset, data, len, is_write);
}

/* ---- creation and teardown ------------------------------------------- */

static void on_kick(void *opaque, uint32_t events)
{
	struct kick *k = opaque;
	uint64_t count;

	(void)events;
	if (read(k->fd, &count, sizeof(count)) != sizeof(count))
		return; /* nothing pending (a late call after a reset) */
	uint64_t own = __atomic_exchange_n(&k->own, 0, __ATOMIC_RELAXED);
	virtio_queue_kick(&k->m->dev, k->q, count > own ? count - own : 0);
}

static void mmio_destroy(struct virtio_dev *dev)
{
	struct mmio *m = to_mmio(dev);
	struct vm *vm = dev->vm;

	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		if (m->kicks[q].fd < 0)
			continue;
		iothread_unwatch(vm->iothread, m->kicks[q].fd);
		close(m->kicks[q].fd);
	}
	if (m->irq_fd >= 0)
		close(m->irq_fd);
	if (m->ready_fd >= 0)
		close(m->ready_fd);
	if (vm->ready_fd[dev->index] == m->ready_fd)
		vm->ready_fd[dev->index] = -1;
	mmio_unregister(&vm->mmio, m->base);
	for (unsigned i = 0; i < vm->virtio_count; i++)
		if (vm->virtio[i] == dev)
			vm->virtio[i] = NULL;
	pthread_mutex_destroy(&dev->lock);
	free(m);
}

static const struct virtio_transport mmio_transport = {
	.interrupt = mmio_interrupt,
	.destroy = mmio_destroy,
};

static bool ops_valid(const struct virtio_ops *ops)
{
	uint16_t n = ops->queue_max;
	return ops->name && ops->queue_notify && ops->num_queues >= 1 && ops->num_queues <= VIRTIO_MAX_QUEUES &&
	       n >= 1 && n <= VIRTQ_MAX_SIZE && !(n & (n - 1)) &&
	       ops->config_size <= VIRTIO_MMIO_WINDOW - VIRTIO_MMIO_CONFIG;
}

/* ioeventfd on QueueNotify with the queue index as data, and irqfd. */
static int wire_kvm(struct mmio *m)
{
	struct vm *vm = m->dev.vm;

	if (irq_attach_eventfd(vm, m->pin, m->irq_fd))
		return -1;
	for (unsigned q = 0; q < m->dev.ops->num_queues; q++) {
		struct kvm_ioeventfd ioe = {
			.datamatch = q,
			.addr = m->base + VIRTIO_MMIO_QUEUE_NOTIFY,
			.len = 4,
			.fd = m->kicks[q].fd,
			.flags = KVM_IOEVENTFD_FLAG_DATAMATCH,
		};
		if (ioctl(vm->vm_fd, KVM_IOEVENTFD, &ioe) < 0) {
			log_error("%s: cannot register the queue %u notifier (KVM_IOEVENTFD): %s", m->dev.ops->name, q,
				  strerror(errno));
			return -1;
		}
	}
	return 0;
}

struct virtio_dev *virtio_mmio_create(struct vm *vm, const struct virtio_ops *ops, void *priv)
{
	unsigned slots = 0;

	if (!ops_valid(ops)) {
		log_error("internal error: %s has invalid virtio_ops", ops->name ? ops->name : "a device");
		return NULL;
	}
	for (unsigned i = 0; i < vm->virtio_count; i++)
		if (vm->virtio[i] && vm->virtio[i]->transport == &mmio_transport)
			slots++;
	if (slots >= VIRTIO_MMIO_MAX_DEVICES || vm->device_count >= PVMM_MAX_DEVICES ||
	    vm->virtio_count >= PVMM_MAX_DEVICES) {
		log_error("cannot add %s: a VM has at most %u virtio devices", ops->name, VIRTIO_MMIO_MAX_DEVICES);
		return NULL;
	}
	int pin = irq_alloc_pin(vm);
	if (pin < 0) {
		log_error("cannot add %s: no free interrupt pin", ops->name);
		return NULL;
	}
	if (!vm->iothread && !(vm->iothread = iothread_create()))
		return NULL;

	struct mmio *m = calloc(1, sizeof(*m));
	if (!m) {
		log_error("out of memory adding %s", ops->name);
		return NULL;
	}
	struct virtio_dev *dev = &m->dev;
	dev->ops = ops;
	dev->priv = priv;
	dev->vm = vm;
	dev->index = vm->device_count;
	dev->transport = &mmio_transport;
	dev->transport_priv = m;
	pthread_mutex_init(&dev->lock, NULL);
	m->slot = slots;
	m->base = VIRTIO_MMIO_BASE + slots * VIRTIO_MMIO_WINDOW;
	m->pin = (unsigned)pin;
	m->irq_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	m->ready_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		m->kicks[q] = (struct kick){ .m = m, .q = q, .fd = -1 };
	bool ok = m->irq_fd >= 0 && m->ready_fd >= 0;
	for (unsigned q = 0; ok && q < ops->num_queues; q++) {
		m->kicks[q].fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		ok = m->kicks[q].fd >= 0;
	}
	if (!ok) {
		log_error("cannot create eventfds for %s: %s", ops->name, strerror(errno));
		goto fail;
	}
	for (unsigned q = 0; q < ops->num_queues; q++) {
		int ret = iothread_watch(vm->iothread, m->kicks[q].fd, EPOLLIN, on_kick, &m->kicks[q]);
		if (ret) {
			log_error("cannot watch %s's queue %u notifier: %s", ops->name, q, strerror(-ret));
			goto fail;
		}
	}
	if (vm->vm_fd >= 0 && wire_kvm(m))
		goto fail;
	if (mmio_register(&vm->mmio, m->base, VIRTIO_MMIO_WINDOW, ops->name, window_io, dev)) {
		log_error("cannot add %s: its window at %#llx is taken", ops->name, (unsigned long long)m->base);
		goto fail;
	}

	vm->devices[dev->index] = (struct pvmm_device_info){
		.type = PVMM_DEV_VIRTIO_MMIO,
		.irq = m->pin,
		.mmio_base = m->base,
		.mmio_size = VIRTIO_MMIO_WINDOW,
	};
	vm->ready_fd[dev->index] = m->ready_fd;
	vm->device_count++;
	vm->virtio[vm->virtio_count++] = dev;
	return dev;

fail:
	mmio_destroy(dev);
	return NULL;
}
