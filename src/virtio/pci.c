/*
 * virtio-pci, modern (virtio 1.2, 4.1): the common configuration layout
 * decoded into the transport-independent core (virtio/virtio.c), exactly
 * as virtio/mmio.c decodes its registers, plus the KVM wiring of a device:
 * a function on the PCI bus, an ioeventfd per queue notify address (moved
 * with the BAR), an irqfd on its INTx pin, a boot info entry.
 *
 * BAR accesses arrive on the vCPU thread through pci.c (host lock held)
 * and run under dev->lock; kicks arrive on the I/O thread through the
 * ioeventfds. Accesses the spec does not allow (a common configuration
 * field at the wrong width or misaligned, writing a read-only field,
 * a notify for a queue that does not exist) read 0 and are dropped, with
 * a rate-limited warning, as on virtio-mmio.
 *
 * MSI-X (PCI 3.0 6.8.2, virtio 1.2 4.1.4.5 and 4.1.5.1.2): one vector per
 * queue plus one for the configuration, the table and PBA in BAR 0. Each
 * vector has an eventfd of its own: an irqfd on a GSI that KVM routes
 * (KVM_SET_GSI_ROUTING, irq.c) to the message the guest wrote, so the I/O
 * thread interrupts without an exit. Masking is ours, not KVM's: an
 * interrupt on a masked vector (or with the function masked) sets its
 * pending bit, and unmasking delivers it. With MSI-X disabled the device
 * uses INTx as before. The MSI-X state is under p->msix_lock, taken inside
 * dev->lock or alone (the interrupt path), never the other way round.
 */
#include "virtio/pci.h"

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/virtio_ids.h>
#include <linux/virtio_pci.h>

#include "irq.h"
#include "log.h"
#include "../pci.h" /* the host bridge; "pci.h" here is virtio/pci.h */
#include "vm.h"

#define COMMON_LEN 0x38u /* up to queue_device; no notify data, no queue reset */
#define NOTIFY_IOEVENTFDS 2 /* per queue: 16-bit (Linux) and 32-bit (pvmm) writes */
#define MSIX_VECTORS (VIRTIO_MAX_QUEUES + 1) /* the most a device has: its queues and the config */
#define MSIX_ENTRY 16u
#define MSIX_CAP_LEN 12u
#define PCI_CAP_ID_MSIX 0x11
#define MSIX_CTRL_ENABLE 0x8000u
#define MSIX_CTRL_MASKALL 0x4000u
#define MSIX_VCTRL_MASKED 1u

_Static_assert(PVMM_VIRTIO_PCI_NOTIFY + VIRTIO_MAX_QUEUES * PVMM_VIRTIO_PCI_NOTIFY_MULT <= PVMM_VIRTIO_PCI_IDENT,
	       "notify addresses run into the ident word");
_Static_assert(VIRTIO_CONFIG_MAX <= PVMM_VIRTIO_PCI_NOTIFY - PVMM_VIRTIO_PCI_DEVICE, "config space must fit");
_Static_assert(PVMM_VIRTIO_PCI_MSIX_TABLE > PVMM_VIRTIO_PCI_ISR &&
		       PVMM_VIRTIO_PCI_MSIX_TABLE + MSIX_VECTORS * MSIX_ENTRY <= PVMM_VIRTIO_PCI_MSIX_PBA &&
		       PVMM_VIRTIO_PCI_MSIX_PBA + 8 <= PVMM_VIRTIO_PCI_DEVICE,
	       "the MSI-X table and PBA must fit between the ISR and the device config");
_Static_assert(PVMM_VIRTIO_PCI_MSIX_TABLE % 8 == 0 && PVMM_VIRTIO_PCI_MSIX_PBA % 8 == 0,
	       "MSI-X table and PBA offsets are 8-byte aligned (the low 3 bits are the BIR)");
_Static_assert(VIRTIO_PCI_MAX_DEVICES <= IRQ_LAST_DEVICE_PIN - IRQ_FIRST_DEVICE_PIN + 1,
	       "every device needs a pin of its own");

struct vpci {
	struct vm *vm;
	struct virtio_dev *dev;
	struct pci_func func;
	unsigned pin;
	int irq_fd;              /* irqfd: a write raises the pin */
	int ready_fd;            /* vm->ready_fd[dev->index]: a write wakes POLL */
	bool irqfd_attached, on_bus;
	uint64_t notify_base;    /* where the ioeventfds are, while notify_on */
	unsigned ioeventfds;     /* of dev->ops->num_queues * NOTIFY_IOEVENTFDS */
	unsigned cfg_cap;        /* offset of the PCI configuration access capability */

	/* Register state, under dev->lock. */
	uint32_t device_features_sel, driver_features_sel, queue_sel;

	/* MSI-X, under msix_lock (config_vector and queue_vector also only
	 * written under dev->lock). */
	pthread_mutex_t msix_lock;
	unsigned msix_cap;       /* offset of the capability in config space */
	unsigned nvec;           /* table size: num_queues + 1 */
	bool msix_enabled, msix_masked; /* Message Control's enable and function mask */
	struct msix_entry {
		uint32_t addr_lo, addr_hi, data, ctrl;
	} table[MSIX_VECTORS];
	uint64_t pba;
	uint16_t config_vector, queue_vector[VIRTIO_MAX_QUEUES];
	int vec_fd[MSIX_VECTORS]; /* eventfd per vector: an irqfd on gsi[v] */
	int gsi[MSIX_VECTORS];
	bool vec_irqfd[MSIX_VECTORS];
	struct {
		uint64_t msix, intx, held; /* interrupts sent each way; MSI-X ones held pending by a mask */
	} istats;
};

static struct vpci *to_vpci(struct virtio_dev *dev)
{
	return dev->transport_priv;
}

static void signal_fd(int fd)
{
	uint64_t one = 1;
	if (fd >= 0 && write(fd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is saturated, the reader is woken anyway. */
	}
}

/* ---- MSI-X ---------------------------------------------------------------- */

static bool vector_masked(const struct vpci *p, unsigned v)
{
	return p->msix_masked || (p->table[v].ctrl & MSIX_VCTRL_MASKED);
}

/* Vector v fires: delivered, or held in the PBA while masked. msix_lock held. */
static void msix_fire(struct vpci *p, unsigned v)
{
	if (vector_masked(p, v)) {
		if (!(p->pba & (1ull << v)))
			p->istats.held++;
		p->pba |= 1ull << v;
		return;
	}
	p->istats.msix++;
	signal_fd(p->vec_fd[v]);
}

/* After a mask changed: deliver what is pending and now unmasked. */
static void msix_deliver_pending(struct vpci *p)
{
	if (!p->msix_enabled)
		return;
	for (unsigned v = 0; v < p->nvec; v++) {
		if ((p->pba & (1ull << v)) && !vector_masked(p, v)) {
			p->pba &= ~(1ull << v);
			p->istats.msix++;
			signal_fd(p->vec_fd[v]);
		}
	}
}

/* Route vector v's GSI to its entry's message, or unroute it if the
 * message is not one pvmm delivers (it then interrupts nothing). */
static void warn_unroutable(struct vpci *p, unsigned v)
{
	const struct msix_entry *e = &p->table[v];
	if (!irq_msi_valid(e->addr_lo, e->addr_hi, e->data))
		virtio_warn(p->dev, "MSI-X vector %u: address %#x:%08x data %#x is not a local APIC fixed or lowest-"
			    "priority interrupt with a vector of 16 or more; it delivers nothing",
			    v, e->addr_hi, e->addr_lo, e->data);
}

/* The route follows every write, masked or not; only an unmasked vector's
 * message is final (a driver writes the three fields one by one), so only
 * that gets a warning. */
static void msix_route(struct vpci *p, unsigned v)
{
	const struct msix_entry *e = &p->table[v];
	if (p->gsi[v] < 0)
		return;
	if (!(e->ctrl & MSIX_VCTRL_MASKED))
		warn_unroutable(p, v);
	irq_set_msi(p->vm, (unsigned)p->gsi[v], irq_msi_valid(e->addr_lo, e->addr_hi, e->data), e->addr_lo,
		    e->addr_hi, e->data);
}

/* A 4-byte access to table entry v's dword `w`. msix_lock held. */
static void table_dword(struct vpci *p, unsigned v, unsigned w, uint32_t *value, bool is_write)
{
	struct msix_entry *e = &p->table[v];
	uint32_t *field[4] = { &e->addr_lo, &e->addr_hi, &e->data, &e->ctrl };
	if (!is_write) {
		*value = *field[w];
		return;
	}
	if (w == 3) {
		if ((e->ctrl & MSIX_VCTRL_MASKED) && !(*value & MSIX_VCTRL_MASKED))
			warn_unroutable(p, v);
		e->ctrl = *value & MSIX_VCTRL_MASKED; /* the other bits are reserved */
		msix_deliver_pending(p);
		return;
	}
	if (*field[w] == *value)
		return;
	*field[w] = *value;
	msix_route(p, v);
}

static void msix_table_access(struct vpci *p, unsigned off, uint8_t *data, unsigned len, bool is_write)
{
	/* Dword or aligned qword accesses (PCI 3.0 6.8.2); anything else is
	 * dropped, as is anything past the last entry. */
	if ((len != 4 && len != 8) || off % len || off + len > p->nvec * MSIX_ENTRY) {
		if (!is_write)
			memset(data, 0, len);
		virtio_warn(p->dev, "%u-byte %s at MSI-X table offset %#x: %s; ignored", len,
			    is_write ? "write" : "read", off,
			    off + len > p->nvec * MSIX_ENTRY ? "past the last vector" : "not an aligned dword or qword");
		return;
	}
	pthread_mutex_lock(&p->msix_lock);
	for (unsigned i = 0; i < len; i += 4) {
		uint32_t v = 0;
		if (is_write) {
			memcpy(&v, data + i, 4);
			v = le32toh(v);
		}
		table_dword(p, (off + i) / MSIX_ENTRY, (off + i) % MSIX_ENTRY / 4, &v, is_write);
		if (!is_write) {
			v = htole32(v);
			memcpy(data + i, &v, 4);
		}
	}
	pthread_mutex_unlock(&p->msix_lock);
}

static void msix_pba_access(struct vpci *p, unsigned off, uint8_t *data, unsigned len, bool is_write)
{
	if (is_write || (len != 4 && len != 8) || off % len || off + len > 8) {
		if (!is_write)
			memset(data, 0, len);
		virtio_warn(p->dev, "%u-byte %s at MSI-X PBA offset %#x: the PBA is read-only, dword or qword; ignored",
			    len, is_write ? "write" : "read", off);
		return;
	}
	pthread_mutex_lock(&p->msix_lock);
	uint64_t v = htole64(p->pba >> (8 * off));
	pthread_mutex_unlock(&p->msix_lock);
	memcpy(data, &v, len);
}

/* Message Control was written: take its enable and function mask. */
static void msix_control_written(struct vpci *p)
{
	uint16_t ctrl = (uint16_t)(p->func.cfg[p->msix_cap + 2] | p->func.cfg[p->msix_cap + 3] << 8);
	pthread_mutex_lock(&p->msix_lock);
	p->msix_enabled = ctrl & MSIX_CTRL_ENABLE;
	p->msix_masked = ctrl & MSIX_CTRL_MASKALL;
	msix_deliver_pending(p);
	pthread_mutex_unlock(&p->msix_lock);
}

/* msix_config / queue_msix_vector: a vector past the table reads back
 * NO_VECTOR, which tells the driver the mapping failed (4.1.5.1.2). */
static uint16_t vector_or_none(const struct vpci *p, uint32_t value)
{
	return value < p->nvec ? (uint16_t)value : VIRTIO_MSI_NO_VECTOR;
}

static void vpci_interrupt(struct virtio_dev *dev, int source)
{
	struct vpci *p = to_vpci(dev);
	pthread_mutex_lock(&p->msix_lock);
	if (p->msix_enabled) {
		uint16_t v = source == VIRTIO_SOURCE_CONFIG                    ? p->config_vector
			     : source >= 0 && (unsigned)source < dev->ops->num_queues ? p->queue_vector[source]
										    : VIRTIO_MSI_NO_VECTOR;
		/* NO_VECTOR: the driver asked for no interrupt from this source. */
		if (v < p->nvec)
			msix_fire(p, v);
	} else if (!(__atomic_load_n(&p->func.cfg[PCI_COMMAND + 1], __ATOMIC_RELAXED) &
		     (PCI_COMMAND_INTX_DISABLE >> 8))) {
		/* Command bit 10 masks INTx; POLL still sees the device. A plain
		 * byte read: a stale value only delays the mask by one interrupt. */
		p->istats.intx++;
		signal_fd(p->irq_fd);
	}
	pthread_mutex_unlock(&p->msix_lock);
	signal_fd(p->ready_fd);
}

static void vpci_stats_extra(const struct virtio_dev *dev, FILE *out, bool json)
{
	struct vpci *p = dev->transport_priv;
	pthread_mutex_lock(&p->msix_lock);
	unsigned long long msix = p->istats.msix, intx = p->istats.intx, held = p->istats.held;
	pthread_mutex_unlock(&p->msix_lock);
	if (json)
		fprintf(out, ", \"msix_interrupts\": %llu, \"intx_interrupts\": %llu, \"msix_held\": %llu", msix, intx,
			held);
	else
		fprintf(out, " (MSI-X %llu, INTx %llu, held masked %llu)", msix, intx, held);
}

/* ---- common configuration ----------------------------------------------- */

struct field {
	uint8_t off, size;
	bool writable;
	const char *name;
};

static const struct field fields[] = {
	{ VIRTIO_PCI_COMMON_DFSELECT, 4, true, "device_feature_select" },
	{ VIRTIO_PCI_COMMON_DF, 4, false, "device_feature" },
	{ VIRTIO_PCI_COMMON_GFSELECT, 4, true, "driver_feature_select" },
	{ VIRTIO_PCI_COMMON_GF, 4, true, "driver_feature" },
	{ VIRTIO_PCI_COMMON_MSIX, 2, true, "msix_config" },
	{ VIRTIO_PCI_COMMON_NUMQ, 2, false, "num_queues" },
	{ VIRTIO_PCI_COMMON_STATUS, 1, true, "device_status" },
	{ VIRTIO_PCI_COMMON_CFGGENERATION, 1, false, "config_generation" },
	{ VIRTIO_PCI_COMMON_Q_SELECT, 2, true, "queue_select" },
	{ VIRTIO_PCI_COMMON_Q_SIZE, 2, true, "queue_size" },
	{ VIRTIO_PCI_COMMON_Q_MSIX, 2, true, "queue_msix_vector" },
	{ VIRTIO_PCI_COMMON_Q_ENABLE, 2, true, "queue_enable" },
	{ VIRTIO_PCI_COMMON_Q_NOFF, 2, false, "queue_notify_off" },
	{ VIRTIO_PCI_COMMON_Q_DESCLO, 4, true, "queue_desc_lo" },
	{ VIRTIO_PCI_COMMON_Q_DESCHI, 4, true, "queue_desc_hi" },
	{ VIRTIO_PCI_COMMON_Q_AVAILLO, 4, true, "queue_driver_lo" },
	{ VIRTIO_PCI_COMMON_Q_AVAILHI, 4, true, "queue_driver_hi" },
	{ VIRTIO_PCI_COMMON_Q_USEDLO, 4, true, "queue_device_lo" },
	{ VIRTIO_PCI_COMMON_Q_USEDHI, 4, true, "queue_device_hi" },
};

static const struct field *find_field(uint64_t off)
{
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (fields[i].off == off)
			return &fields[i];
	return NULL;
}

static void set_half(uint64_t *addr, bool high, uint32_t value)
{
	if (high)
		*addr = (*addr & 0xffffffffull) | (uint64_t)value << 32;
	else
		*addr = (*addr & ~0xffffffffull) | value;
}

static uint32_t common_read(struct virtio_dev *dev, struct vpci *p, unsigned off)
{
	unsigned q = p->queue_sel;
	bool queue_exists = q < dev->ops->num_queues;
	const struct virtq *vq = queue_exists ? &dev->queues[q] : NULL;

	switch (off) {
	case VIRTIO_PCI_COMMON_DFSELECT: return p->device_features_sel;
	case VIRTIO_PCI_COMMON_DF: return virtio_device_features_word(dev, p->device_features_sel);
	case VIRTIO_PCI_COMMON_GFSELECT: return p->driver_features_sel;
	case VIRTIO_PCI_COMMON_GF: {
		uint64_t f = (dev->status & VIRTIO_CONFIG_S_FEATURES_OK) ? dev->driver_features : dev->staged_features;
		return p->driver_features_sel < 2 ? (uint32_t)(f >> (32 * p->driver_features_sel)) : 0;
	}
	case VIRTIO_PCI_COMMON_MSIX: return p->config_vector;
	case VIRTIO_PCI_COMMON_NUMQ: return dev->ops->num_queues;
	case VIRTIO_PCI_COMMON_STATUS: return dev->status & 0xff;
	case VIRTIO_PCI_COMMON_CFGGENERATION: return dev->config_generation & 0xff;
	case VIRTIO_PCI_COMMON_Q_SELECT: return q;
	case VIRTIO_PCI_COMMON_Q_SIZE:
		/* 0: no such queue; else the size set, the maximum until then. */
		return !queue_exists ? 0 : dev->queue_num[q] ? dev->queue_num[q] : dev->ops->queue_max;
	case VIRTIO_PCI_COMMON_Q_MSIX: return queue_exists ? p->queue_vector[q] : VIRTIO_MSI_NO_VECTOR;
	case VIRTIO_PCI_COMMON_Q_ENABLE: return vq ? vq->ready : 0;
	case VIRTIO_PCI_COMMON_Q_NOFF: return queue_exists ? q : 0;
	case VIRTIO_PCI_COMMON_Q_DESCLO: return vq ? (uint32_t)vq->desc_gpa : 0;
	case VIRTIO_PCI_COMMON_Q_DESCHI: return vq ? (uint32_t)(vq->desc_gpa >> 32) : 0;
	case VIRTIO_PCI_COMMON_Q_AVAILLO: return vq ? (uint32_t)vq->avail_gpa : 0;
	case VIRTIO_PCI_COMMON_Q_AVAILHI: return vq ? (uint32_t)(vq->avail_gpa >> 32) : 0;
	case VIRTIO_PCI_COMMON_Q_USEDLO: return vq ? (uint32_t)vq->used_gpa : 0;
	case VIRTIO_PCI_COMMON_Q_USEDHI: return vq ? (uint32_t)(vq->used_gpa >> 32) : 0;
	}
	return 0;
}

static void common_write(struct virtio_dev *dev, struct vpci *p, const struct field *fl, uint32_t value)
{
	struct virtq *vq;
	unsigned off = fl->off;

	switch (off) {
	case VIRTIO_PCI_COMMON_DFSELECT: p->device_features_sel = value; return;
	case VIRTIO_PCI_COMMON_GFSELECT: p->driver_features_sel = value; return;
	case VIRTIO_PCI_COMMON_GF: virtio_driver_features_write(dev, p->driver_features_sel, value); return;
	case VIRTIO_PCI_COMMON_MSIX:
		pthread_mutex_lock(&p->msix_lock);
		p->config_vector = vector_or_none(p, value);
		pthread_mutex_unlock(&p->msix_lock);
		return;
	case VIRTIO_PCI_COMMON_Q_MSIX:
		if (p->queue_sel >= dev->ops->num_queues) {
			virtio_warn(dev, "queue_msix_vector for queue %u, which does not exist; ignored", p->queue_sel);
			return;
		}
		pthread_mutex_lock(&p->msix_lock);
		p->queue_vector[p->queue_sel] = vector_or_none(p, value);
		pthread_mutex_unlock(&p->msix_lock);
		return;
	case VIRTIO_PCI_COMMON_STATUS:
		virtio_status_write(dev, value);
		if (value == 0) {
			p->device_features_sel = p->driver_features_sel = p->queue_sel = 0;
			/* A reset unmaps the vectors (the table is PCI's, it stays). */
			pthread_mutex_lock(&p->msix_lock);
			p->config_vector = VIRTIO_MSI_NO_VECTOR;
			for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
				p->queue_vector[q] = VIRTIO_MSI_NO_VECTOR;
			pthread_mutex_unlock(&p->msix_lock);
		}
		return;
	case VIRTIO_PCI_COMMON_Q_SELECT: p->queue_sel = value; return;
	case VIRTIO_PCI_COMMON_Q_SIZE: virtio_queue_set_num(dev, p->queue_sel, value); return;
	case VIRTIO_PCI_COMMON_Q_ENABLE:
		/* The driver may keep the maximum size without writing it. A
		 * write of 0, which the spec does not allow a driver (it resets
		 * instead), stops the queue as virtio-mmio's QueueReady 0 does. */
		if (value == 1 && p->queue_sel < dev->ops->num_queues && !dev->queue_num[p->queue_sel] &&
		    !dev->queues[p->queue_sel].ready)
			dev->queue_num[p->queue_sel] = dev->ops->queue_max;
		virtio_queue_set_ready(dev, p->queue_sel, value);
		return;
	case VIRTIO_PCI_COMMON_Q_DESCLO:
	case VIRTIO_PCI_COMMON_Q_DESCHI:
		if ((vq = virtio_queue_setup(dev, p->queue_sel, fl->name)))
			set_half(&vq->desc_gpa, off == VIRTIO_PCI_COMMON_Q_DESCHI, value);
		return;
	case VIRTIO_PCI_COMMON_Q_AVAILLO:
	case VIRTIO_PCI_COMMON_Q_AVAILHI:
		if ((vq = virtio_queue_setup(dev, p->queue_sel, fl->name)))
			set_half(&vq->avail_gpa, off == VIRTIO_PCI_COMMON_Q_AVAILHI, value);
		return;
	case VIRTIO_PCI_COMMON_Q_USEDLO:
	case VIRTIO_PCI_COMMON_Q_USEDHI:
		if ((vq = virtio_queue_setup(dev, p->queue_sel, fl->name)))
			set_half(&vq->used_gpa, off == VIRTIO_PCI_COMMON_Q_USEDHI, value);
		return;
	}
}

static void common_access(struct virtio_dev *dev, struct vpci *p, unsigned off, uint8_t *data, unsigned len,
			  bool is_write)
{
	const struct field *fl = find_field(off);
	/* A 64-bit field may also be accessed whole (two 32-bit halves). */
	if (fl && len == 8 && fl->size == 4 && off >= VIRTIO_PCI_COMMON_Q_DESCLO && (off - VIRTIO_PCI_COMMON_Q_DESCLO) % 8 == 0) {
		common_access(dev, p, off, data, 4, is_write);
		common_access(dev, p, off + 4, data + 4, 4, is_write);
		return;
	}
	if (!fl || fl->size != len) {
		if (!is_write)
			memset(data, 0, len);
		virtio_warn(dev, "%u-byte %s at common configuration offset %#x: %s", len, is_write ? "write" : "read",
			    off, fl ? "wrong width for the field; ignored" : "no field starts there; ignored");
		return;
	}
	if (!is_write) {
		uint32_t v = htole32(common_read(dev, p, off));
		memcpy(data, &v, len);
		return;
	}
	if (!fl->writable) {
		virtio_warn(dev, "write to read-only field %s; ignored", fl->name);
		return;
	}
	uint32_t v = 0;
	memcpy(&v, data, len);
	common_write(dev, p, fl, le32toh(v));
}

void virtio_pci_bar_access(struct virtio_dev *dev, uint64_t offset, uint8_t *data, unsigned len, bool is_write)
{
	struct vpci *p = to_vpci(dev);

	if (len == 0 || len > 8)
		return;
	pthread_mutex_lock(&dev->lock);
	if (offset >= PVMM_VIRTIO_PCI_BAR_SIZE || len > PVMM_VIRTIO_PCI_BAR_SIZE - offset) {
		if (!is_write)
			memset(data, 0, len);
		virtio_warn(dev, "%u-byte access at BAR offset %#llx crosses the end of the BAR; ignored", len,
			    (unsigned long long)offset);
	} else if (offset < PVMM_VIRTIO_PCI_COMMON + COMMON_LEN) {
		common_access(dev, p, (unsigned)offset, data, len, is_write);
	} else if (offset == PVMM_VIRTIO_PCI_ISR && !is_write) {
		memset(data, 0, len);
		data[0] = (uint8_t)virtio_isr_take(dev);
	} else if (offset >= PVMM_VIRTIO_PCI_MSIX_TABLE && offset < PVMM_VIRTIO_PCI_MSIX_PBA) {
		msix_table_access(p, (unsigned)(offset - PVMM_VIRTIO_PCI_MSIX_TABLE), data, len, is_write);
	} else if (offset >= PVMM_VIRTIO_PCI_MSIX_PBA && offset < PVMM_VIRTIO_PCI_DEVICE) {
		msix_pba_access(p, (unsigned)(offset - PVMM_VIRTIO_PCI_MSIX_PBA), data, len, is_write);
	} else if (offset >= PVMM_VIRTIO_PCI_DEVICE && offset < PVMM_VIRTIO_PCI_DEVICE + VIRTIO_CONFIG_MAX) {
		virtio_config_access(dev, (uint32_t)(offset - PVMM_VIRTIO_PCI_DEVICE), data, len, is_write);
	} else if (offset >= PVMM_VIRTIO_PCI_NOTIFY && offset < PVMM_VIRTIO_PCI_IDENT && is_write) {
		uint64_t q = (offset - PVMM_VIRTIO_PCI_NOTIFY) / PVMM_VIRTIO_PCI_NOTIFY_MULT;
		/* A 16- or 32-bit write at a valid queue's address is caught by
		 * its ioeventfd in KVM and never gets here; other widths, and
		 * runs without KVM, are forwarded the same way. */
		if ((offset - PVMM_VIRTIO_PCI_NOTIFY) % PVMM_VIRTIO_PCI_NOTIFY_MULT == 0 && q < dev->ops->num_queues)
			virtio_queue_notify(dev, (unsigned)q);
		else
			virtio_warn(dev, "notify at BAR offset %#llx: no queue has that address; ignored",
				    (unsigned long long)offset);
	} else if (offset == PVMM_VIRTIO_PCI_IDENT && len == 4 && !is_write) {
		uint32_t v = htole32(dev->ops->device_id);
		memcpy(data, &v, 4);
	} else {
		if (!is_write)
			memset(data, 0, len);
		virtio_warn(dev, "%u-byte %s at BAR offset %#llx, where nothing is; %s", len,
			    is_write ? "write" : "read", (unsigned long long)offset, is_write ? "ignored" : "reads as 0");
	}
	pthread_mutex_unlock(&dev->lock);
}

/* ---- PCI function hooks ---------------------------------------------------- */

static struct kvm_ioeventfd notify_ioeventfd(uint64_t base, const struct virtio_dev *dev, unsigned i)
{
	unsigned q = i / NOTIFY_IOEVENTFDS;
	return (struct kvm_ioeventfd){
		.addr = base + PVMM_VIRTIO_PCI_NOTIFY + q * PVMM_VIRTIO_PCI_NOTIFY_MULT,
		.len = i % NOTIFY_IOEVENTFDS ? 2 : 4,
		.fd = dev->kicks[q].fd,
	};
}

static void unwire_notify(struct vpci *p)
{
	for (unsigned i = 0; i < p->ioeventfds; i++) {
		struct kvm_ioeventfd ioe = notify_ioeventfd(p->notify_base, p->dev, i);
		ioe.flags |= KVM_IOEVENTFD_FLAG_DEASSIGN;
		if (ioctl(p->vm->vm_fd, KVM_IOEVENTFD, &ioe) < 0)
			log_warn("%s: cannot release a queue notifier: %s", p->dev->ops->name, strerror(errno));
	}
	p->ioeventfds = 0;
}

static int wire_notify(struct vpci *p, uint64_t base)
{
	unsigned n = p->dev->ops->num_queues * NOTIFY_IOEVENTFDS;
	p->notify_base = base;
	for (unsigned i = 0; i < n; i++) {
		struct kvm_ioeventfd ioe = notify_ioeventfd(base, p->dev, i);
		if (ioctl(p->vm->vm_fd, KVM_IOEVENTFD, &ioe) < 0) {
			log_error("%s: cannot register a queue notifier (KVM_IOEVENTFD): %s", p->dev->ops->name,
				  strerror(errno));
			return -1;
		}
		p->ioeventfds = i + 1;
	}
	return 0;
}

static void func_bar_io(void *opaque, unsigned bar, uint64_t offset, bool is_write, uint8_t *data, unsigned len)
{
	(void)bar;
	virtio_pci_bar_access(opaque, offset, data, len, is_write);
}

/* The BAR moved or stopped decoding: move the notify ioeventfds with it. A
 * failure to re-register leaves notifies to the slow path (an exit, then
 * virtio_queue_notify), which works the same. */
static void func_bar_map(void *opaque, unsigned bar, uint64_t addr, bool mapped)
{
	struct virtio_dev *dev = opaque;
	struct vpci *p = to_vpci(dev);
	(void)bar;
	if (p->vm->vm_fd < 0)
		return;
	if (!mapped) {
		unwire_notify(p);
		return;
	}
	if (wire_notify(p, addr))
		unwire_notify(p);
}

/* The configuration access capability (cfg_type 5): pci_cfg_data reads
 * and writes the BAR at cap.offset, cap.length bytes (1, 2 or 4). */
static bool cfg_window(struct vpci *p, unsigned offset, unsigned len, uint32_t *bar_off, unsigned *blen)
{
	unsigned data = p->cfg_cap + 16;
	if (!p->cfg_cap || offset != data || len != 4)
		return false;
	const uint8_t *c = &p->func.cfg[p->cfg_cap];
	uint32_t off, length;
	memcpy(&off, c + VIRTIO_PCI_CAP_OFFSET, 4);
	memcpy(&length, c + VIRTIO_PCI_CAP_LENGTH, 4);
	off = le32toh(off);
	length = le32toh(length);
	if (c[VIRTIO_PCI_CAP_BAR] != 0 || (length != 1 && length != 2 && length != 4) || off % length)
		return false;
	*bar_off = off;
	*blen = length;
	return true;
}

static bool func_config_read(void *opaque, unsigned offset, uint8_t *data, unsigned len)
{
	struct virtio_dev *dev = opaque;
	uint32_t off;
	unsigned blen;
	if (!cfg_window(to_vpci(dev), offset, len, &off, &blen))
		return false;
	memset(data, 0, len);
	virtio_pci_bar_access(dev, off, data, blen, false);
	return true;
}

static void func_config_written(void *opaque, unsigned offset, unsigned len)
{
	struct virtio_dev *dev = opaque;
	struct vpci *p = to_vpci(dev);
	uint32_t off;
	unsigned blen;
	if (p->msix_cap && offset < p->msix_cap + 4 && offset + len > p->msix_cap + 2) {
		msix_control_written(p);
		return;
	}
	if (!cfg_window(p, offset, len, &off, &blen))
		return;
	uint8_t data[4];
	memcpy(data, &p->func.cfg[p->cfg_cap + 16], 4);
	virtio_pci_bar_access(dev, off, data, blen, true);
}

static const struct pci_func_ops func_ops = {
	.bar_io = func_bar_io,
	.bar_map = func_bar_map,
	.config_read = func_config_read,
	.config_written = func_config_written,
};

static void put32(uint8_t *b, uint32_t v)
{
	v = htole32(v);
	memcpy(b, &v, 4);
}

static unsigned add_vcap(struct pci_func *f, uint8_t type, unsigned len, uint32_t offset, uint32_t length)
{
	unsigned c = pci_func_add_cap(f, PCI_CAP_ID_VNDR, len);
	if (!c)
		return 0;
	f->cfg[c + VIRTIO_PCI_CAP_LEN] = (uint8_t)len;
	f->cfg[c + VIRTIO_PCI_CAP_CFG_TYPE] = type;
	f->cfg[c + VIRTIO_PCI_CAP_BAR] = 0;
	put32(&f->cfg[c + VIRTIO_PCI_CAP_OFFSET], offset);
	put32(&f->cfg[c + VIRTIO_PCI_CAP_LENGTH], length);
	return c;
}

static uint32_t class_of(uint32_t device_id)
{
	switch (device_id) {
	case VIRTIO_ID_NET: return 0x020000;     /* network controller, Ethernet */
	case VIRTIO_ID_BLOCK: return 0x018000;   /* mass storage, other */
	case VIRTIO_ID_CONSOLE: return 0x078000; /* communication, other */
	default: return 0xff0000;                /* unassigned class */
	}
}

/* Config space: the header, then capabilities for common (1), notify (2),
 * ISR (3), device (4) and the configuration access window (5). */
static void build_config(struct vpci *p, const struct virtio_dev *dev)
{
	struct pci_func *f = &p->func;
	pci_func_init(f, VIRTIO_PCI_VENDOR, (uint16_t)(VIRTIO_PCI_DEVICE_BASE + dev->ops->device_id),
		      class_of(dev->ops->device_id), 1, VIRTIO_PCI_VENDOR, 0x40);
	pci_func_set_bar(f, 0, PVMM_VIRTIO_PCI_BAR_SIZE);
	f->cfg[PCI_INTERRUPT_LINE] = (uint8_t)p->pin;
	f->cfg[PCI_INTERRUPT_PIN] = 1; /* INTA# */
	add_vcap(f, VIRTIO_PCI_CAP_COMMON_CFG, 16, PVMM_VIRTIO_PCI_COMMON, COMMON_LEN);
	unsigned n = add_vcap(f, VIRTIO_PCI_CAP_NOTIFY_CFG, 20, PVMM_VIRTIO_PCI_NOTIFY,
			      dev->ops->num_queues * PVMM_VIRTIO_PCI_NOTIFY_MULT);
	if (n)
		put32(&f->cfg[n + 16], PVMM_VIRTIO_PCI_NOTIFY_MULT);
	add_vcap(f, VIRTIO_PCI_CAP_ISR_CFG, 16, PVMM_VIRTIO_PCI_ISR, 1);
	if (dev->ops->config_size)
		add_vcap(f, VIRTIO_PCI_CAP_DEVICE_CFG, 16, PVMM_VIRTIO_PCI_DEVICE, dev->ops->config_size);
	p->cfg_cap = add_vcap(f, VIRTIO_PCI_CAP_PCI_CFG, 20, 0, 0);
	if (p->cfg_cap) {
		/* The driver writes bar, offset, length and pci_cfg_data. */
		f->wmask[p->cfg_cap + VIRTIO_PCI_CAP_BAR] = 0xff;
		memset(&f->wmask[p->cfg_cap + VIRTIO_PCI_CAP_OFFSET], 0xff, 12);
	}
	/* MSI-X: Message Control (table size - 1; enable and function mask
	 * writable), then the table's and the PBA's offsets in BAR 0 (BIR 0). */
	p->msix_cap = pci_func_add_cap(f, PCI_CAP_ID_MSIX, MSIX_CAP_LEN);
	if (p->msix_cap) {
		f->cfg[p->msix_cap + 2] = (uint8_t)(p->nvec - 1);
		f->wmask[p->msix_cap + 3] = (MSIX_CTRL_ENABLE | MSIX_CTRL_MASKALL) >> 8;
		put32(&f->cfg[p->msix_cap + 4], PVMM_VIRTIO_PCI_MSIX_TABLE);
		put32(&f->cfg[p->msix_cap + 8], PVMM_VIRTIO_PCI_MSIX_PBA);
	}
}

/* ---- attaching and detaching ------------------------------------------ */

struct pci_host *virtio_pci_host(struct vm *vm)
{
	return vm->pci;
}

static void vpci_detach(struct virtio_dev *dev)
{
	struct vpci *p = to_vpci(dev);
	struct vm *vm = p->vm;

	if (p->on_bus)
		pci_host_remove(vm->pci, &p->func); /* unwires the notifies */
	if (p->irqfd_attached)
		irq_detach_eventfd(vm, p->pin, p->irq_fd);
	for (unsigned v = 0; v < MSIX_VECTORS; v++) {
		if (p->vec_irqfd[v])
			irq_detach_gsi_eventfd(vm, (unsigned)p->gsi[v], p->vec_fd[v]);
		if (p->vec_fd[v] >= 0)
			close(p->vec_fd[v]);
	}
	pthread_mutex_destroy(&p->msix_lock);
	irq_free_pin(vm, p->pin);
	if (p->irq_fd >= 0)
		close(p->irq_fd);
	if (p->ready_fd >= 0) {
		if (dev->index < PVMM_MAX_DEVICES && vm->ready_fd[dev->index] == p->ready_fd)
			vm->ready_fd[dev->index] = -1;
		close(p->ready_fd);
	}
	for (unsigned i = 0; i < vm->virtio_count; i++)
		if (vm->virtio[i] == dev)
			vm->virtio[i] = NULL;
	dev->transport = NULL;
	dev->transport_priv = NULL;
	free(p);
}

static const struct virtio_transport pci_transport = {
	.name = "virtio-pci",
	.interrupt = vpci_interrupt,
	.detach = vpci_detach,
	.stats_extra = vpci_stats_extra,
};

int virtio_pci_attach(struct vm *vm, struct virtio_dev *dev)
{
	const char *name = dev->ops->name;
	unsigned count = 0;

	for (unsigned i = 0; i < vm->virtio_count; i++)
		if (vm->virtio[i] && vm->virtio[i]->transport == &pci_transport)
			count++;
	if (count >= VIRTIO_PCI_MAX_DEVICES || vm->device_count >= PVMM_MAX_DEVICES ||
	    vm->virtio_count >= PVMM_MAX_DEVICES) {
		log_error("cannot add %s: a VM has at most %u virtio devices", name, VIRTIO_PCI_MAX_DEVICES);
		return -1;
	}
	if (!vm->pci) {
		if (!(vm->pci = pci_host_new()))
			return -1;
		if (pci_host_register(vm->pci, &vm->pio, &vm->mmio))
			return -1; /* the host stays; machine_destroy frees it */
	}
	int pin = irq_alloc_pin(vm);
	if (pin < 0) {
		log_error("cannot add %s: no free interrupt pin", name);
		return -1;
	}
	struct vpci *p = calloc(1, sizeof(*p));
	if (!p) {
		irq_free_pin(vm, (unsigned)pin);
		log_error("out of memory adding %s", name);
		return -1;
	}
	p->vm = vm;
	p->dev = dev;
	p->pin = (unsigned)pin;
	p->irq_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	p->ready_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	pthread_mutex_init(&p->msix_lock, NULL);
	p->nvec = dev->ops->num_queues + 1;
	p->config_vector = VIRTIO_MSI_NO_VECTOR;
	bool fds_ok = true;
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		p->queue_vector[q] = VIRTIO_MSI_NO_VECTOR;
	for (unsigned v = 0; v < MSIX_VECTORS; v++) {
		p->table[v].ctrl = MSIX_VCTRL_MASKED; /* every vector starts masked */
		p->gsi[v] = -1;
		p->vec_fd[v] = v < p->nvec ? eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK) : -1;
		fds_ok &= v >= p->nvec || p->vec_fd[v] >= 0;
	}
	dev->index = vm->device_count;
	virtio_set_transport(dev, &pci_transport, p);
	if (p->irq_fd < 0 || p->ready_fd < 0 || !fds_ok) {
		log_error("cannot create eventfds for %s: %s", name, strerror(errno));
		goto fail;
	}
	for (unsigned v = 0; v < p->nvec; v++) {
		if ((p->gsi[v] = irq_alloc_msi(vm)) < 0) {
			log_error("cannot add %s: no free MSI routes (a VM has %u)", name, VM_IRQ_MSI_MAX);
			goto fail;
		}
	}
	if (vm->vm_fd >= 0) {
		if (irq_attach_eventfd(vm, p->pin, p->irq_fd))
			goto fail;
		p->irqfd_attached = true;
		for (unsigned v = 0; v < p->nvec; v++) {
			if (irq_attach_gsi_eventfd(vm, (unsigned)p->gsi[v], p->vec_fd[v]))
				goto fail;
			p->vec_irqfd[v] = true;
		}
	}
	build_config(p, dev);
	if (pci_host_add(vm->pci, &p->func, &func_ops, dev) < 0) {
		log_error("cannot add %s: no room on the PCI bus or in its BAR window", name);
		goto fail;
	}
	p->on_bus = true;
	if (vm->vm_fd >= 0 && p->dev->ops->num_queues && !p->ioeventfds) {
		log_error("cannot add %s: its queue notifiers could not be registered", name);
		goto fail;
	}

	vm->devices[dev->index] = (struct pvmm_device_info){
		.type = PVMM_DEV_VIRTIO_PCI,
		.irq = p->pin,
		.mmio_base = p->func.bars[0].decoded_addr,
		.mmio_size = PVMM_VIRTIO_PCI_BAR_SIZE,
	};
	vm->ready_fd[dev->index] = p->ready_fd;
	vm->device_count++;
	vm->virtio[vm->virtio_count++] = dev;
	return 0;

fail:
	vpci_detach(dev);
	return -1;
}
