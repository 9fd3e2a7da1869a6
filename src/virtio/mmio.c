/*
 * virtio-mmio version 2 (virtio 1.2, 4.2): the register layout, decoded
 * into the transport-independent core (virtio/virtio.c), plus the KVM
 * wiring of a device: a window on the MMIO bus, an ioeventfd per queue on
 * QueueNotify, an irqfd on its pin, a boot info entry.
 *
 * Register accesses arrive on the vCPU thread (KVM_EXIT_MMIO) and run under
 * dev->lock; kicks arrive on the I/O thread through the ioeventfds. Every
 * access the spec does not allow (wrong width, misaligned, reading a
 * write-only register, writing a read-only one) has a defined answer:
 * reads see 0, writes are dropped, and a rate-limited warning says what
 * the driver did.
 */
#include "virtio/mmio.h"

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

_Static_assert(VIRTIO_MMIO_MAX_DEVICES <= PVMM_MAX_DEVICES - 1, "the para console takes boot info entry 0");
_Static_assert(VIRTIO_MMIO_MAX_DEVICES <= IRQ_LAST_DEVICE_PIN - IRQ_FIRST_DEVICE_PIN + 1,
	       "every device needs a pin of its own");
_Static_assert(VIRTIO_MMIO_BASE + VIRTIO_MMIO_MAX_DEVICES * VIRTIO_MMIO_WINDOW <= 0xfec00000ull,
	       "the windows must stay below the IOAPIC");
_Static_assert(VIRTIO_CONFIG_MAX <= VIRTIO_MMIO_WINDOW - VIRTIO_MMIO_CONFIG, "config space must fit the window");

struct mmio {
	struct vm *vm;
	unsigned slot;           /* window number */
	uint64_t base;
	unsigned pin;
	int irq_fd;              /* irqfd: a write raises the pin */
	int ready_fd;            /* vm->ready_fd[dev->index]: a write wakes POLL */
	unsigned ioeventfds;     /* queues whose notify ioeventfd KVM holds */
	bool irqfd_attached, on_bus;

	/* Register state, under dev->lock. */
	uint32_t device_features_sel, driver_features_sel, queue_sel;
};

static struct mmio *to_mmio(struct virtio_dev *dev)
{
	return dev->transport_priv;
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

static void signal_fd(int fd)
{
	uint64_t one = 1;
	if (fd >= 0 && write(fd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is saturated, the reader is woken anyway. */
	}
}

static void mmio_interrupt(struct virtio_dev *dev, int source)
{
	(void)source; /* one interrupt for every source: InterruptStatus says which kind */
	struct mmio *m = to_mmio(dev);
	signal_fd(m->irq_fd);
	signal_fd(m->ready_fd);
}

/* ---- registers -------------------------------------------------------- */

static void set_half(uint64_t *addr, bool high, uint32_t value)
{
	if (high)
		*addr = (*addr & 0xffffffffull) | (uint64_t)value << 32;
	else
		*addr = (*addr & ~0xffffffffull) | value;
}

static uint32_t reg_read(struct virtio_dev *dev, struct mmio *m, uint64_t off)
{
	bool queue_exists = m->queue_sel < dev->ops->num_queues;

	switch (off) {
	case VIRTIO_MMIO_MAGIC_VALUE: return MMIO_MAGIC;
	case VIRTIO_MMIO_VERSION: return MMIO_VERSION;
	case VIRTIO_MMIO_DEVICE_ID: return dev->ops->device_id;
	case VIRTIO_MMIO_VENDOR_ID: return VIRTIO_MMIO_VENDOR;
	case VIRTIO_MMIO_DEVICE_FEATURES: return virtio_device_features_word(dev, m->device_features_sel);
	case VIRTIO_MMIO_QUEUE_NUM_MAX: return queue_exists ? dev->ops->queue_max : 0; /* 0: no such queue */
	case VIRTIO_MMIO_QUEUE_READY: return queue_exists ? dev->queues[m->queue_sel].ready : 0;
	case VIRTIO_MMIO_INTERRUPT_STATUS: return virtio_isr_read(dev);
	case VIRTIO_MMIO_STATUS: return dev->status;
	case VIRTIO_MMIO_CONFIG_GENERATION: return dev->config_generation;
	case VIRTIO_MMIO_SHM_LEN_LOW:
	case VIRTIO_MMIO_SHM_LEN_HIGH:
	case VIRTIO_MMIO_SHM_BASE_LOW:
	case VIRTIO_MMIO_SHM_BASE_HIGH:
		return 0xffffffffu; /* no shared memory regions: length -1 */
	}
	if (reg_name(off))
		virtio_warn(dev, "read of write-only register %s; reads as 0", reg_name(off));
	else
		virtio_warn(dev, "read of register offset %#llx, which does not exist; reads as 0",
			    (unsigned long long)off);
	return 0;
}

static void reg_write(struct virtio_dev *dev, struct mmio *m, uint64_t off, uint32_t value)
{
	struct virtq *vq;

	switch (off) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL: m->device_features_sel = value; return;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL: m->driver_features_sel = value; return;
	case VIRTIO_MMIO_QUEUE_SEL: m->queue_sel = value; return;
	case VIRTIO_MMIO_SHM_SEL: return; /* any region: none exists */
	case VIRTIO_MMIO_DRIVER_FEATURES: virtio_driver_features_write(dev, m->driver_features_sel, value); return;
	case VIRTIO_MMIO_QUEUE_NUM: virtio_queue_set_num(dev, m->queue_sel, value); return;
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
		if ((vq = virtio_queue_setup(dev, m->queue_sel, reg_name(off))))
			set_half(&vq->desc_gpa, off == VIRTIO_MMIO_QUEUE_DESC_HIGH, value);
		return;
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
		if ((vq = virtio_queue_setup(dev, m->queue_sel, reg_name(off))))
			set_half(&vq->avail_gpa, off == VIRTIO_MMIO_QUEUE_AVAIL_HIGH, value);
		return;
	case VIRTIO_MMIO_QUEUE_USED_LOW:
	case VIRTIO_MMIO_QUEUE_USED_HIGH:
		if ((vq = virtio_queue_setup(dev, m->queue_sel, reg_name(off))))
			set_half(&vq->used_gpa, off == VIRTIO_MMIO_QUEUE_USED_HIGH, value);
		return;
	case VIRTIO_MMIO_QUEUE_READY: virtio_queue_set_ready(dev, m->queue_sel, value); return;
	case VIRTIO_MMIO_QUEUE_NOTIFY:
		/* A valid 32-bit kick is caught by the ioeventfd in KVM and never
		 * gets here; without KVM (unit tests) forward it the same way. */
		virtio_queue_notify(dev, value);
		return;
	case VIRTIO_MMIO_INTERRUPT_ACK: virtio_isr_ack(dev, value); return;
	case VIRTIO_MMIO_STATUS:
		virtio_status_write(dev, value);
		if (value == 0)
			m->device_features_sel = m->driver_features_sel = m->queue_sel = 0;
		return;
	}
	if (reg_name(off))
		virtio_warn(dev, "write to read-only register %s; ignored", reg_name(off));
	else
		virtio_warn(dev, "write to register offset %#llx, which does not exist; ignored",
			    (unsigned long long)off);
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
		virtio_warn(dev, "%u-byte access at window offset %#llx crosses the end of the window; ignored", len,
			    (unsigned long long)offset);
	} else if (offset >= VIRTIO_MMIO_CONFIG) {
		virtio_config_access(dev, (uint32_t)(offset - VIRTIO_MMIO_CONFIG), data, len, is_write);
	} else if (len != 4 || offset % 4) {
		if (!is_write)
			memset(data, 0, len);
		virtio_warn(dev, "%u-byte %s at register offset %#llx: registers take aligned 32-bit accesses; %s",
			    len, is_write ? "write" : "read", (unsigned long long)offset,
			    is_write ? "ignored" : "reads as 0");
	} else if (is_write) {
		uint32_t v;
		memcpy(&v, data, sizeof(v));
		reg_write(dev, m, offset, le32toh(v));
	} else {
		uint32_t v = htole32(reg_read(dev, m, offset));
		memcpy(data, &v, sizeof(v));
	}
	pthread_mutex_unlock(&dev->lock);
}

static void window_io(void *opaque, uint64_t offset, bool is_write, uint8_t *data, unsigned len)
{
	virtio_mmio_handle(opaque, offset, data, len, is_write);
}

/* ---- attaching and detaching ------------------------------------------ */

static struct kvm_ioeventfd notify_ioeventfd(const struct mmio *m, const struct virtio_dev *dev, unsigned q)
{
	return (struct kvm_ioeventfd){
		.datamatch = q,
		.addr = m->base + VIRTIO_MMIO_QUEUE_NOTIFY,
		.len = 4,
		.fd = dev->kicks[q].fd,
		.flags = KVM_IOEVENTFD_FLAG_DATAMATCH,
	};
}

/* Give back everything attach took, in reverse: KVM's ioeventfds and
 * irqfd, the window, the pin, the boot info's ready fd. */
static void mmio_detach(struct virtio_dev *dev)
{
	struct mmio *m = to_mmio(dev);
	struct vm *vm = m->vm;

	for (unsigned q = 0; q < m->ioeventfds; q++) {
		struct kvm_ioeventfd ioe = notify_ioeventfd(m, dev, q);
		ioe.flags |= KVM_IOEVENTFD_FLAG_DEASSIGN;
		if (ioctl(vm->vm_fd, KVM_IOEVENTFD, &ioe) < 0)
			log_warn("%s: cannot release the queue %u notifier: %s", dev->ops->name, q, strerror(errno));
	}
	if (m->irqfd_attached)
		irq_detach_eventfd(vm, m->pin, m->irq_fd);
	if (m->on_bus)
		mmio_unregister(&vm->mmio, m->base);
	irq_free_pin(vm, m->pin);
	if (m->irq_fd >= 0)
		close(m->irq_fd);
	if (m->ready_fd >= 0) {
		if (dev->index < PVMM_MAX_DEVICES && vm->ready_fd[dev->index] == m->ready_fd)
			vm->ready_fd[dev->index] = -1;
		close(m->ready_fd);
	}
	for (unsigned i = 0; i < vm->virtio_count; i++)
		if (vm->virtio[i] == dev)
			vm->virtio[i] = NULL;
	dev->transport = NULL;
	dev->transport_priv = NULL;
	free(m);
}

static const struct virtio_transport mmio_transport = {
	.name = "virtio-mmio",
	.interrupt = mmio_interrupt,
	.detach = mmio_detach,
};

/* ioeventfd on QueueNotify with the queue index as data, and irqfd. */
static int wire_kvm(struct mmio *m, struct virtio_dev *dev)
{
	struct vm *vm = m->vm;

	if (irq_attach_eventfd(vm, m->pin, m->irq_fd))
		return -1;
	m->irqfd_attached = true;
	for (unsigned q = 0; q < dev->ops->num_queues; q++) {
		struct kvm_ioeventfd ioe = notify_ioeventfd(m, dev, q);
		if (ioctl(vm->vm_fd, KVM_IOEVENTFD, &ioe) < 0) {
			log_error("%s: cannot register the queue %u notifier (KVM_IOEVENTFD): %s", dev->ops->name, q,
				  strerror(errno));
			return -1;
		}
		m->ioeventfds = q + 1;
	}
	return 0;
}

int virtio_mmio_attach(struct vm *vm, struct virtio_dev *dev)
{
	const char *name = dev->ops->name;
	unsigned slots = 0;

	for (unsigned i = 0; i < vm->virtio_count; i++)
		if (vm->virtio[i] && vm->virtio[i]->transport == &mmio_transport)
			slots++;
	if (slots >= VIRTIO_MMIO_MAX_DEVICES || vm->device_count >= PVMM_MAX_DEVICES ||
	    vm->virtio_count >= PVMM_MAX_DEVICES) {
		log_error("cannot add %s: a VM has at most %u virtio devices", name, VIRTIO_MMIO_MAX_DEVICES);
		return -1;
	}
	int pin = irq_alloc_pin(vm);
	if (pin < 0) {
		log_error("cannot add %s: no free interrupt pin", name);
		return -1;
	}
	struct mmio *m = calloc(1, sizeof(*m));
	if (!m) {
		irq_free_pin(vm, (unsigned)pin);
		log_error("out of memory adding %s", name);
		return -1;
	}
	m->vm = vm;
	m->slot = slots;
	m->base = VIRTIO_MMIO_BASE + slots * VIRTIO_MMIO_WINDOW;
	m->pin = (unsigned)pin;
	m->irq_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	m->ready_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	dev->index = vm->device_count;
	virtio_set_transport(dev, &mmio_transport, m);
	if (m->irq_fd < 0 || m->ready_fd < 0) {
		log_error("cannot create eventfds for %s: %s", name, strerror(errno));
		goto fail;
	}
	if (vm->vm_fd >= 0 && wire_kvm(m, dev))
		goto fail;
	if (mmio_register(&vm->mmio, m->base, VIRTIO_MMIO_WINDOW, name, window_io, dev)) {
		log_error("cannot add %s: its window at %#llx is taken", name, (unsigned long long)m->base);
		goto fail;
	}
	m->on_bus = true;

	vm->devices[dev->index] = (struct pvmm_device_info){
		.type = PVMM_DEV_VIRTIO_MMIO,
		.irq = m->pin,
		.mmio_base = m->base,
		.mmio_size = VIRTIO_MMIO_WINDOW,
	};
	vm->ready_fd[dev->index] = m->ready_fd;
	vm->device_count++;
	vm->virtio[vm->virtio_count++] = dev;
	return 0;

fail:
	mmio_detach(dev);
	return -1;
}
