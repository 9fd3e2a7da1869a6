/*
 * Unit tests for the PCI host bridge (src/pci.c) and the virtio-pci
 * transport (src/virtio/pci.c). No KVM: the VM has no KVM fd, so devices
 * come without ioeventfds and irqfd; config accesses go through the VM's
 * port bus (0xcf8/0xcfc) and BAR accesses through its MMIO bus, as the
 * vCPU loop would send them.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>

#include "guest_mem.h"
#include "iothread.h"
#include "irq.h"
#include "pci.h"
#include "stats.h"
#include "virtio/pci.h"
#include "virtio/virtio.h"
#include "vm.h"

#define RAM_SIZE (8ull << 20)
#define BAR_BASE PCI_MMIO_BASE

static uint8_t test_config[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };

static void t_config_read(struct virtio_dev *dev, uint32_t off, void *data, unsigned len)
{
	(void)dev;
	memcpy(data, test_config + off, len);
}

static void t_notify(struct virtio_dev *dev, unsigned q)
{
	(void)dev;
	(void)q;
}

static const struct virtio_ops test_ops = {
	.name = "test-dev",
	.device_id = 42,
	.features = 1ull << 3,
	.num_queues = 2,
	.queue_max = 64,
	.config_size = 8,
	.config_read = t_config_read,
	.queue_notify = t_notify,
};

struct fixture {
	struct vm vm;
	struct virtio_dev *dev, *dev2;
	int saved_stderr;
};

static struct virtio_dev *pci_new(struct vm *vm)
{
	if (!vm->iothread)
		vm->iothread = iothread_create();
	struct virtio_ctx ctx = { .mem = &vm->mem, .io = vm->iothread };
	struct virtio_dev *dev = virtio_dev_new(&ctx, &test_ops, NULL);
	if (dev && virtio_pci_attach(vm, dev)) {
		virtio_destroy(dev);
		return NULL;
	}
	return dev;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	assert_int_equal(guest_mem_init(&f->vm.mem, RAM_SIZE, 0), 0);
	f->vm.kvm_fd = f->vm.vm_fd = f->vm.vcpu_fd = -1;
	f->vm.console_in_fd = f->vm.console_out_fd = -1;
	f->vm.device_count = 1;
	f->vm.devices[0] = (struct pvmm_device_info){ .type = PVMM_DEV_CONSOLE, .irq = PVMM_NO_IRQ };
	for (unsigned i = 0; i < PVMM_MAX_DEVICES; i++)
		f->vm.ready_fd[i] = -1;
	f->vm.mono_base_ns = stats_now_ns();
	f->saved_stderr = -1;
	f->dev = pci_new(&f->vm);
	assert_non_null(f->dev);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	iothread_stop(f->vm.iothread, NULL);
	for (unsigned i = 0; i < f->vm.virtio_count; i++)
		virtio_destroy(f->vm.virtio[i]);
	iothread_destroy(f->vm.iothread);
	pci_host_free(f->vm.pci);
	if (f->saved_stderr >= 0) {
		fflush(stderr);
		dup2(f->saved_stderr, STDERR_FILENO);
		close(f->saved_stderr);
	}
	guest_mem_free(&f->vm.mem);
	free(f);
	return 0;
}

static void mute_stderr(struct fixture *f)
{
	int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	assert_true(null >= 0);
	fflush(stderr);
	f->saved_stderr = dup(STDERR_FILENO);
	dup2(null, STDERR_FILENO);
	close(null);
}

/* ---- config space through the ports ------------------------------------ */

static void port_out(struct fixture *f, uint16_t port, uint32_t v, unsigned size)
{
	uint8_t b[4];
	memcpy(b, &v, 4);
	assert_true(pio_dispatch(&f->vm.pio, port, true, b, size, 1));
}

static uint32_t port_in(struct fixture *f, uint16_t port, unsigned size)
{
	uint8_t b[4] = { 0 };
	assert_true(pio_dispatch(&f->vm.pio, port, false, b, size, 1));
	uint32_t v = 0;
	memcpy(&v, b, size);
	return v;
}

static uint32_t cfg_addr(unsigned dev, unsigned off)
{
	return 0x80000000u | dev << 11 | (off & 0xfc);
}

static uint32_t cfg_read(struct fixture *f, unsigned dev, unsigned off, unsigned size)
{
	port_out(f, PCI_CONFIG_ADDRESS, cfg_addr(dev, off), 4);
	return port_in(f, (uint16_t)(PCI_CONFIG_DATA + (off & 3)), size);
}

static void cfg_write(struct fixture *f, unsigned dev, unsigned off, uint32_t v, unsigned size)
{
	port_out(f, PCI_CONFIG_ADDRESS, cfg_addr(dev, off), 4);
	port_out(f, (uint16_t)(PCI_CONFIG_DATA + (off & 3)), v, size);
}

static uint32_t bar_read(struct fixture *f, uint64_t addr, unsigned len)
{
	uint8_t b[8] = { 0 };
	assert_true(mmio_dispatch(&f->vm.mmio, addr, false, b, len));
	uint32_t v = 0;
	memcpy(&v, b, len > 4 ? 4 : len);
	return v;
}

static void bar_write(struct fixture *f, uint64_t addr, uint32_t v, unsigned len)
{
	uint8_t b[8] = { 0 };
	memcpy(b, &v, len > 4 ? 4 : len);
	assert_true(mmio_dispatch(&f->vm.mmio, addr, true, b, len));
}

static void test_host_bridge(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(cfg_read(f, 0, 0, 4), PCI_BRIDGE_DEVICE << 16 | PCI_BRIDGE_VENDOR);
	assert_int_equal(cfg_read(f, 0, 8, 4) >> 8, 0x060000);
	assert_int_equal(cfg_read(f, 0, PCI_HEADER_TYPE, 1), 0);
	/* CONFIG_ADDRESS reads back what was written, reserved bits clear. */
	port_out(f, PCI_CONFIG_ADDRESS, 0xffffffffu, 4);
	assert_int_equal(port_in(f, PCI_CONFIG_ADDRESS, 4), 0x80fffffcu);
}

static void test_identity(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(cfg_read(f, 1, 0, 2), VIRTIO_PCI_VENDOR);
	assert_int_equal(cfg_read(f, 1, 2, 2), VIRTIO_PCI_DEVICE_BASE + 42);
	assert_int_equal(cfg_read(f, 1, PCI_REVISION_ID, 1), 1);
	assert_int_equal(cfg_read(f, 1, PCI_SUBSYSTEM_VENDOR_ID, 2), VIRTIO_PCI_VENDOR);
	assert_true(cfg_read(f, 1, PCI_SUBSYSTEM_ID, 2) >= 0x40);
	assert_true(cfg_read(f, 1, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);
	assert_int_equal(cfg_read(f, 1, PCI_INTERRUPT_PIN, 1), 1);
	assert_int_equal(cfg_read(f, 1, PCI_INTERRUPT_LINE, 1), f->vm.devices[f->dev->index].irq);
	assert_int_equal(cfg_read(f, 1, PCI_BAR0, 4), BAR_BASE);
	assert_true(cfg_read(f, 1, PCI_COMMAND, 2) & PCI_COMMAND_MEMORY);
	/* The boot info entry. */
	const struct pvmm_device_info *d = &f->vm.devices[f->dev->index];
	assert_int_equal(d->type, PVMM_DEV_VIRTIO_PCI);
	assert_int_equal(d->mmio_base, BAR_BASE);
	assert_int_equal(d->mmio_size, PVMM_VIRTIO_PCI_BAR_SIZE);
	assert_int_equal(bar_read(f, BAR_BASE + PVMM_VIRTIO_PCI_IDENT, 4), 42);
}

static void test_access_sizes(void **state)
{
	struct fixture *f = *state;
	uint32_t id = cfg_read(f, 1, 0, 4);
	port_out(f, PCI_CONFIG_ADDRESS, cfg_addr(1, 0), 4);
	assert_int_equal(port_in(f, PCI_CONFIG_DATA + 1, 1), (id >> 8) & 0xff);
	assert_int_equal(port_in(f, PCI_CONFIG_DATA + 2, 2), id >> 16);
	assert_int_equal(port_in(f, PCI_CONFIG_DATA + 3, 1), id >> 24);
	/* Misaligned or crossing the data port: all-ones. */
	assert_int_equal(port_in(f, PCI_CONFIG_DATA + 1, 2), 0xffff);
	assert_int_equal(port_in(f, PCI_CONFIG_DATA + 3, 2), 0xffff);
	assert_int_equal(port_in(f, PCI_CONFIG_DATA + 2, 4), 0xffffffffu);
	/* Byte and word accesses at 0xcf8 do not touch CONFIG_ADDRESS. */
	port_out(f, PCI_CONFIG_ADDRESS, 0, 1);
	port_out(f, PCI_CONFIG_ADDRESS + 2, 0, 2);
	assert_int_equal(port_in(f, PCI_CONFIG_ADDRESS, 4), cfg_addr(1, 0));
	assert_int_equal(port_in(f, PCI_CONFIG_ADDRESS + 1, 1), 0xff);
	/* Enable bit clear, absent devices, functions and buses: all-ones. */
	port_out(f, PCI_CONFIG_ADDRESS, 1u << 11, 4);
	assert_int_equal(port_in(f, PCI_CONFIG_DATA, 4), 0xffffffffu);
	assert_int_equal(cfg_read(f, 7, 0, 4), 0xffffffffu);
	port_out(f, PCI_CONFIG_ADDRESS, cfg_addr(1, 0) | 1u << 8, 4);
	assert_int_equal(port_in(f, PCI_CONFIG_DATA, 4), 0xffffffffu);
	port_out(f, PCI_CONFIG_ADDRESS, cfg_addr(1, 0) | 1u << 16, 4);
	assert_int_equal(port_in(f, PCI_CONFIG_DATA, 4), 0xffffffffu);
	/* Direct access: bad sizes and offsets. */
	uint8_t b[8];
	memset(b, 0, sizeof(b));
	pci_config_access(f->vm.pci, 1, 0xfe, false, b, 4);
	assert_int_equal(b[0] & b[1] & b[2] & b[3], 0xff);
	memset(b, 0, sizeof(b));
	pci_config_access(f->vm.pci, 1, 0, false, b, 3);
	assert_int_equal(b[0] & b[1] & b[2], 0xff);
	pci_config_access(f->vm.pci, 1, 0x100, true, b, 4); /* nothing to check but no crash */
	pci_config_access(f->vm.pci, 99, 0, false, b, 4);
	assert_int_equal(b[0], 0xff);
}

static void test_read_only_fields(void **state)
{
	struct fixture *f = *state;
	cfg_write(f, 1, 0, 0x12345678, 4);
	assert_int_equal(cfg_read(f, 1, 0, 2), VIRTIO_PCI_VENDOR);
	cfg_write(f, 1, PCI_CAPABILITY_LIST, 0, 1);
	assert_int_equal(cfg_read(f, 1, PCI_CAPABILITY_LIST, 1), PCI_CAP_START);
	cfg_write(f, 1, PCI_CAP_START, 0xffffffffu, 4);
	assert_int_equal(cfg_read(f, 1, PCI_CAP_START, 1), PCI_CAP_ID_VNDR);
	cfg_write(f, 1, PCI_INTERRUPT_PIN, 7, 1);
	assert_int_equal(cfg_read(f, 1, PCI_INTERRUPT_PIN, 1), 1);
}

static void test_capability_chain(void **state)
{
	struct fixture *f = *state;
	unsigned seen = 0, walked = 0;
	uint32_t mult = 0, common_off = ~0u;
	for (unsigned c = cfg_read(f, 1, PCI_CAPABILITY_LIST, 1); c; c = cfg_read(f, 1, c + 1, 1)) {
		assert_true(c >= PCI_CAP_START && c < PCI_CONFIG_SIZE && c % 4 == 0);
		assert_true(++walked < 16);
		if (cfg_read(f, 1, c, 1) == 0x11) { /* MSI-X: test_msix_capability */
			seen |= 1u << 8;
			continue;
		}
		assert_int_equal(cfg_read(f, 1, c, 1), PCI_CAP_ID_VNDR);
		unsigned type = cfg_read(f, 1, c + VIRTIO_PCI_CAP_CFG_TYPE, 1);
		assert_int_equal(cfg_read(f, 1, c + VIRTIO_PCI_CAP_BAR, 1), 0);
		uint32_t off = cfg_read(f, 1, c + VIRTIO_PCI_CAP_OFFSET, 4);
		uint32_t len = cfg_read(f, 1, c + VIRTIO_PCI_CAP_LENGTH, 4);
		seen |= 1u << type;
		switch (type) {
		case VIRTIO_PCI_CAP_COMMON_CFG: common_off = off; assert_true(len >= 0x38); break;
		case VIRTIO_PCI_CAP_NOTIFY_CFG:
			assert_int_equal(off, PVMM_VIRTIO_PCI_NOTIFY);
			assert_int_equal(cfg_read(f, 1, c + VIRTIO_PCI_CAP_LEN, 1), 20);
			mult = cfg_read(f, 1, c + 16, 4);
			break;
		case VIRTIO_PCI_CAP_ISR_CFG: assert_int_equal(off, PVMM_VIRTIO_PCI_ISR); break;
		case VIRTIO_PCI_CAP_DEVICE_CFG: assert_int_equal(len, 8); break;
		}
	}
	assert_int_equal(seen, 0x13e); /* types 1..5, and MSI-X */
	assert_int_equal(common_off, PVMM_VIRTIO_PCI_COMMON);
	assert_int_equal(mult, PVMM_VIRTIO_PCI_NOTIFY_MULT);
}

static void test_bar_sizing(void **state)
{
	struct fixture *f = *state;
	cfg_write(f, 1, PCI_BAR0, 0xffffffffu, 4);
	assert_int_equal(cfg_read(f, 1, PCI_BAR0, 4), (uint32_t)~(PVMM_VIRTIO_PCI_BAR_SIZE - 1));
	for (unsigned b = 1; b < PCI_NUM_BARS; b++) {
		cfg_write(f, 1, PCI_BAR0 + 4 * b, 0xffffffffu, 4);
		assert_int_equal(cfg_read(f, 1, PCI_BAR0 + 4 * b, 4), 0); /* not implemented */
	}
	/* While sized, the BAR decodes nothing at its old place. */
	assert_int_equal(bar_read(f, BAR_BASE + PVMM_VIRTIO_PCI_IDENT, 4), 0xffffffffu);
	cfg_write(f, 1, PCI_BAR0, BAR_BASE, 4);
	assert_int_equal(bar_read(f, BAR_BASE + PVMM_VIRTIO_PCI_IDENT, 4), 42);
}

static void test_bar_moves(void **state)
{
	struct fixture *f = *state;
	uint64_t to = BAR_BASE + 0x100000;
	cfg_write(f, 1, PCI_BAR0, (uint32_t)to, 4);
	assert_int_equal(bar_read(f, to + PVMM_VIRTIO_PCI_IDENT, 4), 42);
	assert_int_equal(bar_read(f, BAR_BASE + PVMM_VIRTIO_PCI_IDENT, 4), 0xffffffffu);
	/* Memory space off: nothing decodes; on again: back at `to`. */
	cfg_write(f, 1, PCI_COMMAND, 0, 2);
	assert_int_equal(bar_read(f, to + PVMM_VIRTIO_PCI_IDENT, 4), 0xffffffffu);
	cfg_write(f, 1, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
	assert_int_equal(bar_read(f, to + PVMM_VIRTIO_PCI_IDENT, 4), 42);
	/* Over RAM, or under the window: kept but not decoded. */
	cfg_write(f, 1, PCI_BAR0, 0x100000, 4);
	assert_int_equal(cfg_read(f, 1, PCI_BAR0, 4), 0x100000);
	assert_int_equal(bar_read(f, to + PVMM_VIRTIO_PCI_IDENT, 4), 0xffffffffu);
	assert_false(mmio_dispatch(&f->vm.mmio, 0x100000, false, (uint8_t[4]){ 0 }, 4));
	/* Onto the IOAPIC, or the last slot below it (the BAR's size bits are
	 * read-only, so it can never straddle the end). */
	cfg_write(f, 1, PCI_BAR0, (uint32_t)PCI_MMIO_END, 4);
	assert_int_equal(f->vm.pci->funcs[1]->bars[0].decoding, false);
	cfg_write(f, 1, PCI_BAR0, (uint32_t)(PCI_MMIO_END - PVMM_VIRTIO_PCI_BAR_SIZE / 2), 4);
	assert_int_equal(cfg_read(f, 1, PCI_BAR0, 4), PCI_MMIO_END - PVMM_VIRTIO_PCI_BAR_SIZE);
	assert_int_equal(f->vm.pci->funcs[1]->bars[0].decoding, true);
	cfg_write(f, 1, PCI_BAR0, 0xfee00000u, 4); /* the local APIC */
	assert_int_equal(f->vm.pci->funcs[1]->bars[0].decoding, false);
	/* Onto another device's BAR: refused while the other decodes there. */
	f->dev2 = pci_new(&f->vm);
	assert_non_null(f->dev2);
	uint32_t other = cfg_read(f, 2, PCI_BAR0, 4);
	assert_true(other >= BAR_BASE);
	cfg_write(f, 1, PCI_BAR0, other, 4);
	assert_false(f->vm.pci->funcs[1]->bars[0].decoding);
	assert_int_equal(bar_read(f, other + PVMM_VIRTIO_PCI_IDENT, 4), 42);
	/* Moved back to a free place: decodes again. */
	cfg_write(f, 1, PCI_BAR0, (uint32_t)to, 4);
	assert_int_equal(bar_read(f, to + PVMM_VIRTIO_PCI_IDENT, 4), 42);
}

/* ---- common configuration ------------------------------------------------ */

#define CC(off) (BAR_BASE + PVMM_VIRTIO_PCI_COMMON + (off))

static void test_common_config_bring_up(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(bar_read(f, CC(VIRTIO_PCI_COMMON_NUMQ), 2), 2);
	bar_write(f, CC(VIRTIO_PCI_COMMON_DFSELECT), 1, 4);
	assert_int_equal(bar_read(f, CC(VIRTIO_PCI_COMMON_DF), 4), 1u << (VIRTIO_F_VERSION_1 - 32));
	bar_write(f, CC(VIRTIO_PCI_COMMON_DFSELECT), 0, 4);
	assert_true(bar_read(f, CC(VIRTIO_PCI_COMMON_DF), 4) & (1u << 3));
	bar_write(f, CC(VIRTIO_PCI_COMMON_STATUS), VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER, 1);
	bar_write(f, CC(VIRTIO_PCI_COMMON_GFSELECT), 1, 4);
	bar_write(f, CC(VIRTIO_PCI_COMMON_GF), 1, 4);
	bar_write(f, CC(VIRTIO_PCI_COMMON_STATUS), 0x0b, 1);
	assert_int_equal(bar_read(f, CC(VIRTIO_PCI_COMMON_STATUS), 1), 0x0b);
	assert_int_equal(bar_read(f, CC(VIRTIO_PCI_COMMON_MSIX), 2), VIRTIO_MSI_NO_VECTOR);
	for (unsigned q = 0; q < 2; q++) {
		bar_write(f, CC(VIRTIO_PCI_COMMON_Q_SELECT), q, 2);
		assert_int_equal(bar_read(f, CC(VIRTIO_PCI_COMMON_Q_SIZE), 2), 64);
		assert_int_equal(bar_read(f, CC(VIRTIO_PCI_COMMON_Q_NOFF), 2), q);
		bar_write(f, CC(VIRTIO_PCI_COMMON_Q_SIZE), 16, 2);
		uint64_t ring = 0x10000 + q * 0x4000;
		bar_write(f, CC(VIRTIO_PCI_COMMON_Q_DESCLO), (uint32_t)ring, 4);
		bar_write(f, CC(VIRTIO_PCI_COMMON_Q_DESCHI), 0, 4);
		bar_write(f, CC(VIRTIO_PCI_COMMON_Q_AVAILLO), (uint32_t)ring + 0x1000, 4);
		bar_write(f, CC(VIRTIO_PCI_COMMON_Q_AVAILHI), 0, 4);
		bar_write(f, CC(VIRTIO_PCI_COMMON_Q_USEDLO), (uint32_t)ring + 0x2000, 4);
		bar_write(f, CC(VIRTIO_PCI_COMMON_Q_USEDHI), 0, 4);
		bar_write(f, CC(VIRTIO_PCI_COMMON_Q_ENABLE), 1, 2);
		assert_int_equal(bar_read(f, CC(VIRTIO_PCI_COMMON_Q_ENABLE), 2), 1);
		assert_int_equal(bar_read(f, CC(VIRTIO_PCI_COMMON_Q_DESCLO), 4), (uint32_t)ring);
	}
	bar_write(f, CC(VIRTIO_PCI_COMMON_STATUS), 0x0f, 1);
	assert_int_equal(f->dev->status, 0x0f);
	assert_true(f->dev->queues[1].ready);
	assert_int_equal(f->dev->queues[1].size, 16);
	/* Device config and the ident word. */
	assert_int_equal(bar_read(f, BAR_BASE + PVMM_VIRTIO_PCI_DEVICE + 4, 4), 0x08070605);
	/* Reset clears status, queues and selectors. */
	bar_write(f, CC(VIRTIO_PCI_COMMON_STATUS), 0, 1);
	assert_int_equal(bar_read(f, CC(VIRTIO_PCI_COMMON_STATUS), 1), 0);
	assert_int_equal(bar_read(f, CC(VIRTIO_PCI_COMMON_Q_SELECT), 2), 0);
	assert_false(f->dev->queues[0].ready);
}

static void test_common_config_hostile(void **state)
{
	struct fixture *f = *state;
	mute_stderr(f);
	/* Read-only fields keep their values. */
	bar_write(f, CC(VIRTIO_PCI_COMMON_NUMQ), 9, 2);
	assert_int_equal(bar_read(f, CC(VIRTIO_PCI_COMMON_NUMQ), 2), 2);
	bar_write(f, CC(VIRTIO_PCI_COMMON_DF), 0, 4);
	bar_write(f, CC(VIRTIO_PCI_COMMON_Q_NOFF), 5, 2);
	/* Wrong widths and offsets in the middle of fields read 0. */
	assert_int_equal(bar_read(f, CC(VIRTIO_PCI_COMMON_NUMQ), 4), 0);
	assert_int_equal(bar_read(f, CC(VIRTIO_PCI_COMMON_DF + 1), 1), 0);
	assert_int_equal(bar_read(f, CC(0x37), 1), 0);
	/* A queue that does not exist. */
	bar_write(f, CC(VIRTIO_PCI_COMMON_Q_SELECT), 7, 2);
	assert_int_equal(bar_read(f, CC(VIRTIO_PCI_COMMON_Q_SIZE), 2), 0);
	bar_write(f, CC(VIRTIO_PCI_COMMON_Q_ENABLE), 1, 2);
	bar_write(f, CC(VIRTIO_PCI_COMMON_Q_DESCLO), 0x1000, 4);
	/* Notifies at bad queue indices or addresses are dropped; a valid one
	 * reaches the queue's kick eventfd. */
	bar_write(f, BAR_BASE + PVMM_VIRTIO_PCI_NOTIFY + 4 * 3, 3, 4);
	bar_write(f, BAR_BASE + PVMM_VIRTIO_PCI_NOTIFY + 2, 0, 2);
	bar_write(f, BAR_BASE + PVMM_VIRTIO_PCI_NOTIFY + 0xe00, 0, 4);
	bar_write(f, BAR_BASE + PVMM_VIRTIO_PCI_NOTIFY + 4, 1, 2);
	uint64_t n = 0;
	assert_int_equal(read(f->dev->kicks[1].fd, &n, sizeof(n)), (ssize_t)sizeof(n));
	assert_int_equal(n, 1);
	/* The end of the BAR, 8-byte accesses, holes. */
	assert_int_equal(bar_read(f, BAR_BASE + PVMM_VIRTIO_PCI_BAR_SIZE - 2, 4), 0);
	assert_int_equal(bar_read(f, BAR_BASE + 0x800, 4), 0);
	bar_write(f, BAR_BASE + PVMM_VIRTIO_PCI_IDENT, 0, 4);
	assert_int_equal(bar_read(f, BAR_BASE + PVMM_VIRTIO_PCI_IDENT, 4), 42);
	assert_int_equal(f->dev->status, 0);
}

static void test_isr_read_clears(void **state)
{
	struct fixture *f = *state;
	virtio_interrupt(f->dev, 0);
	virtio_interrupt(f->dev, VIRTIO_SOURCE_CONFIG);
	assert_int_equal(bar_read(f, BAR_BASE + PVMM_VIRTIO_PCI_ISR, 1), 3);
	assert_int_equal(bar_read(f, BAR_BASE + PVMM_VIRTIO_PCI_ISR, 1), 0);
	uint64_t n = 0;
	int fd = f->vm.ready_fd[f->dev->index];
	assert_int_equal(read(fd, &n, sizeof(n)), (ssize_t)sizeof(n));
}

static void test_pci_cfg_access_capability(void **state)
{
	struct fixture *f = *state;
	unsigned c = 0;
	for (unsigned p = cfg_read(f, 1, PCI_CAPABILITY_LIST, 1); p; p = cfg_read(f, 1, p + 1, 1))
		if (cfg_read(f, 1, p + VIRTIO_PCI_CAP_CFG_TYPE, 1) == VIRTIO_PCI_CAP_PCI_CFG)
			c = p;
	assert_true(c);
	cfg_write(f, 1, c + VIRTIO_PCI_CAP_BAR, 0, 1);
	cfg_write(f, 1, c + VIRTIO_PCI_CAP_OFFSET, PVMM_VIRTIO_PCI_DEVICE, 4);
	cfg_write(f, 1, c + VIRTIO_PCI_CAP_LENGTH, 4, 4);
	assert_int_equal(cfg_read(f, 1, c + 16, 4), 0x04030201);
	cfg_write(f, 1, c + VIRTIO_PCI_CAP_OFFSET, PVMM_VIRTIO_PCI_COMMON + VIRTIO_PCI_COMMON_STATUS, 4);
	cfg_write(f, 1, c + VIRTIO_PCI_CAP_LENGTH, 1, 4);
	cfg_write(f, 1, c + 16, VIRTIO_CONFIG_S_ACKNOWLEDGE, 4);
	assert_int_equal(f->dev->status, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	/* A bad length or BAR: the window is plain config space. */
	cfg_write(f, 1, c + VIRTIO_PCI_CAP_LENGTH, 3, 4);
	cfg_read(f, 1, c + 16, 4);
	cfg_write(f, 1, c + VIRTIO_PCI_CAP_BAR, 5, 1);
	cfg_write(f, 1, c + 16, 0, 4);
	assert_int_equal(f->dev->status, VIRTIO_CONFIG_S_ACKNOWLEDGE);
}

/* ---- MSI-X ---------------------------------------------------------------- */

#define MSIX_CAP_ID 0x11
#define TABLE (BAR_BASE + PVMM_VIRTIO_PCI_MSIX_TABLE)
#define PBA (BAR_BASE + PVMM_VIRTIO_PCI_MSIX_PBA)
#define CC(off) (BAR_BASE + PVMM_VIRTIO_PCI_COMMON + (off))

static unsigned msix_cap(struct fixture *f)
{
	for (unsigned p = cfg_read(f, 1, PCI_CAPABILITY_LIST, 1); p; p = cfg_read(f, 1, p + 1, 1))
		if (cfg_read(f, 1, p, 1) == MSIX_CAP_ID)
			return p;
	fail_msg("no MSI-X capability");
	return 0;
}

static void msix_control(struct fixture *f, uint16_t ctrl)
{
	cfg_write(f, 1, msix_cap(f) + 2, ctrl, 2);
}

static void set_entry(struct fixture *f, unsigned v, uint32_t addr, uint32_t data, uint32_t ctrl)
{
	bar_write(f, TABLE + 16 * v, addr, 4);
	bar_write(f, TABLE + 16 * v + 4, 0, 4);
	bar_write(f, TABLE + 16 * v + 8, data, 4);
	bar_write(f, TABLE + 16 * v + 12, ctrl, 4);
}

/* The device's MSI-X, INTx and held counters, from its --stats-json object. */
static void irq_counts(struct fixture *f, unsigned long long *msix, unsigned long long *intx,
		       unsigned long long *held)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	assert_non_null(m);
	virtio_stats_print_json(f->dev, m);
	fclose(m);
	const char *a = strstr(buf, "\"msix_interrupts\": "), *b = strstr(buf, "\"intx_interrupts\": "),
		   *c = strstr(buf, "\"msix_held\": ");
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(c);
	*msix = strtoull(a + 19, NULL, 10);
	*intx = strtoull(b + 19, NULL, 10);
	*held = strtoull(c + 13, NULL, 10);
	free(buf);
}

static void test_msix_capability(void **state)
{
	struct fixture *f = *state;
	unsigned c = msix_cap(f);
	/* Two queues and the config: a table of 3 (size - 1 in the low bits). */
	assert_int_equal(cfg_read(f, 1, c + 2, 2), 2);
	assert_int_equal(cfg_read(f, 1, c + 4, 4), PVMM_VIRTIO_PCI_MSIX_TABLE); /* BIR 0 */
	assert_int_equal(cfg_read(f, 1, c + 8, 4), PVMM_VIRTIO_PCI_MSIX_PBA);
	/* Only enable and function mask are writable. */
	msix_control(f, 0xffff);
	assert_int_equal(cfg_read(f, 1, c + 2, 2), 0xc002);
	cfg_write(f, 1, c + 4, 0, 4);
	assert_int_equal(cfg_read(f, 1, c + 4, 4), PVMM_VIRTIO_PCI_MSIX_TABLE);
}

static void test_msix_table(void **state)
{
	struct fixture *f = *state;
	mute_stderr(f);
	/* Every vector starts masked. */
	for (unsigned v = 0; v < 3; v++)
		assert_int_equal(bar_read(f, TABLE + 16 * v + 12, 4), 1);
	set_entry(f, 1, 0xfee00000, 0x31, 0);
	assert_int_equal(bar_read(f, TABLE + 16, 4), 0xfee00000);
	assert_int_equal(bar_read(f, TABLE + 24, 4), 0x31);
	assert_int_equal(bar_read(f, TABLE + 28, 4), 0);
	/* Reserved vector control bits read 0. */
	bar_write(f, TABLE + 28, 0xfffffffe, 4);
	assert_int_equal(bar_read(f, TABLE + 28, 4), 0);
	/* A qword access is two dwords. */
	uint8_t q[8] = { 0x00, 0x10, 0xe0, 0xfe, 0, 0, 0, 0 };
	assert_true(mmio_dispatch(&f->vm.mmio, TABLE + 32, true, q, 8));
	assert_int_equal(bar_read(f, TABLE + 32, 4), 0xfee01000);
	/* Wrong widths, misaligned, past the last vector: dropped, read 0. */
	bar_write(f, TABLE + 16, 0x1234, 2);
	bar_write(f, TABLE + 18, 0x1234, 4);
	assert_int_equal(bar_read(f, TABLE + 16, 4), 0xfee00000);
	assert_int_equal(bar_read(f, TABLE + 16, 2), 0);
	bar_write(f, TABLE + 48, 0xfee00000, 4);
	assert_int_equal(bar_read(f, TABLE + 48, 4), 0);
	assert_int_equal(bar_read(f, PBA + 8, 4), 0);
	/* The PBA is read-only. */
	bar_write(f, PBA, 0xffffffff, 4);
	assert_int_equal(bar_read(f, PBA, 4), 0);
}

static void test_msix_vector_numbers(void **state)
{
	struct fixture *f = *state;
	mute_stderr(f);
	assert_int_equal(bar_read(f, CC(VIRTIO_PCI_COMMON_MSIX), 2), VIRTIO_MSI_NO_VECTOR);
	bar_write(f, CC(VIRTIO_PCI_COMMON_MSIX), 2, 2);
	assert_int_equal(bar_read(f, CC(VIRTIO_PCI_COMMON_MSIX), 2), 2);
	/* Out of range (the table has 3): reads back NO_VECTOR. */
	bar_write(f, CC(VIRTIO_PCI_COMMON_MSIX), 3, 2);
	assert_int_equal(bar_read(f, CC(VIRTIO_PCI_COMMON_MSIX), 2), VIRTIO_MSI_NO_VECTOR);
	bar_write(f, CC(VIRTIO_PCI_COMMON_Q_SELECT), 1, 2);
	assert_int_equal(bar_read(f, CC(VIRTIO_PCI_COMMON_Q_MSIX), 2), VIRTIO_MSI_NO_VECTOR);
	bar_write(f, CC(VIRTIO_PCI_COMMON_Q_MSIX), 1, 2);
	assert_int_equal(bar_read(f, CC(VIRTIO_PCI_COMMON_Q_MSIX), 2), 1);
	bar_write(f, CC(VIRTIO_PCI_COMMON_Q_SELECT), 0, 2);
	assert_int_equal(bar_read(f, CC(VIRTIO_PCI_COMMON_Q_MSIX), 2), VIRTIO_MSI_NO_VECTOR);
	bar_write(f, CC(VIRTIO_PCI_COMMON_Q_MSIX), 0x8000, 2);
	assert_int_equal(bar_read(f, CC(VIRTIO_PCI_COMMON_Q_MSIX), 2), VIRTIO_MSI_NO_VECTOR);
	/* A queue that does not exist keeps reading NO_VECTOR. */
	bar_write(f, CC(VIRTIO_PCI_COMMON_Q_SELECT), 9, 2);
	bar_write(f, CC(VIRTIO_PCI_COMMON_Q_MSIX), 0, 2);
	assert_int_equal(bar_read(f, CC(VIRTIO_PCI_COMMON_Q_MSIX), 2), VIRTIO_MSI_NO_VECTOR);
	/* A reset unmaps every vector. */
	bar_write(f, CC(VIRTIO_PCI_COMMON_STATUS), 0, 1);
	assert_int_equal(bar_read(f, CC(VIRTIO_PCI_COMMON_MSIX), 2), VIRTIO_MSI_NO_VECTOR);
	bar_write(f, CC(VIRTIO_PCI_COMMON_Q_SELECT), 1, 2);
	assert_int_equal(bar_read(f, CC(VIRTIO_PCI_COMMON_Q_MSIX), 2), VIRTIO_MSI_NO_VECTOR);
}

static void test_msix_mask_pending(void **state)
{
	struct fixture *f = *state;
	unsigned long long msix, intx, held;

	/* MSI-X off: INTx. */
	virtio_interrupt(f->dev, 0);
	irq_counts(f, &msix, &intx, &held);
	assert_int_equal(msix, 0);
	assert_int_equal(intx, 1);

	msix_control(f, 0x8000);
	bar_write(f, CC(VIRTIO_PCI_COMMON_Q_SELECT), 0, 2);
	bar_write(f, CC(VIRTIO_PCI_COMMON_Q_MSIX), 1, 2);
	bar_write(f, CC(VIRTIO_PCI_COMMON_MSIX), 0, 2);
	set_entry(f, 1, 0xfee00000, 0x31, 1); /* masked */
	virtio_interrupt(f->dev, 0);
	assert_int_equal(bar_read(f, PBA, 4), 1u << 1);
	irq_counts(f, &msix, &intx, &held);
	assert_int_equal(msix, 0);
	assert_int_equal(intx, 1);
	assert_int_equal(held, 1);
	/* Unmasking delivers the pending one and clears its bit. */
	bar_write(f, TABLE + 16 + 12, 0, 4);
	assert_int_equal(bar_read(f, PBA, 4), 0);
	irq_counts(f, &msix, &intx, &held);
	assert_int_equal(msix, 1);
	virtio_interrupt(f->dev, 0);
	irq_counts(f, &msix, &intx, &held);
	assert_int_equal(msix, 2);

	/* The function mask holds every vector; clearing it delivers. */
	msix_control(f, 0xc000);
	virtio_interrupt(f->dev, 0);
	virtio_interrupt(f->dev, 0);
	assert_int_equal(bar_read(f, PBA, 4), 1u << 1);
	msix_control(f, 0x8000);
	assert_int_equal(bar_read(f, PBA, 4), 0);
	irq_counts(f, &msix, &intx, &held);
	assert_int_equal(msix, 3);

	/* The config vector is 0, still masked: its pending bit. */
	virtio_interrupt(f->dev, VIRTIO_SOURCE_CONFIG);
	assert_int_equal(bar_read(f, PBA, 4), 1u << 0);
	/* Queue 1 has NO_VECTOR: nothing at all, neither MSI-X nor INTx. */
	virtio_interrupt(f->dev, 1);
	irq_counts(f, &msix, &intx, &held);
	assert_int_equal(msix, 3);
	assert_int_equal(intx, 1);
	assert_int_equal(bar_read(f, PBA, 4), 1u << 0);
	/* Disabled again: INTx. */
	msix_control(f, 0);
	virtio_interrupt(f->dev, 1);
	irq_counts(f, &msix, &intx, &held);
	assert_int_equal(intx, 2);
}

static const struct kvm_irq_routing_entry *find_route(const struct kvm_irq_routing_entry *r, unsigned n,
						       unsigned gsi, unsigned type)
{
	for (unsigned i = 0; i < n; i++)
		if (r[i].gsi == gsi && r[i].type == type)
			return &r[i];
	return NULL;
}

/* A kernel guest's table (irq_set_isa_wiring): every ISA IRQ where a PC
 * has it, with or without a device on the pin, the PIT (GSI 0) on IOAPIC
 * pin 2 and the PIC, nothing on GSI 2; an MSI route comes on top. */
static unsigned count_routes(const struct kvm_irq_routing_entry *r, unsigned n, unsigned gsi)
{
	unsigned c = 0;
	for (unsigned i = 0; i < n; i++)
		c += r[i].gsi == gsi;
	return c;
}

static void test_isa_wiring_routes(void **state)
{
	struct fixture *f = *state;
	struct kvm_irq_routing_entry r[IRQ_ROUTES_MAX];
	mute_stderr(f);

	/* Para guests: only the pins devices hold (the PIT's GSI 0 is not one). */
	unsigned n = irq_build_routes(&f->vm, r, IRQ_ROUTES_MAX);
	assert_int_equal(count_routes(r, n, 0), 0);

	f->vm.irq.isa_wiring = true;
	n = irq_build_routes(&f->vm, r, IRQ_ROUTES_MAX);
	const struct kvm_irq_routing_entry *pit = find_route(r, n, 0, KVM_IRQ_ROUTING_IRQCHIP);
	assert_int_equal(count_routes(r, n, 0), 2);
	for (unsigned i = 0; i < n; i++)
		if (r[i].gsi == 0 && r[i].u.irqchip.irqchip == KVM_IRQCHIP_IOAPIC)
			assert_int_equal(r[i].u.irqchip.pin, 2);
	assert_non_null(pit);
	assert_int_equal(count_routes(r, n, 2), 0);
	/* The UART's IRQ 4 and the keyboard's 1, on no device of this VM:
	 * IOAPIC pin and PIC input each. */
	assert_int_equal(count_routes(r, n, 4), 2);
	assert_int_equal(count_routes(r, n, 1), 2);
	/* Above 15: the IOAPIC alone. */
	assert_int_equal(count_routes(r, n, 20), 1);
	set_entry(f, 1, 0xfee01000, 0x4031, 1);
	n = irq_build_routes(&f->vm, r, IRQ_ROUTES_MAX);
	assert_non_null(find_route(r, n, 25, KVM_IRQ_ROUTING_MSI));
	assert_int_equal(count_routes(r, n, 0), 2);
}

static void test_msix_routes(void **state)
{
	struct fixture *f = *state;
	struct kvm_irq_routing_entry r[IRQ_ROUTES_MAX];
	mute_stderr(f);

	/* One GSI per vector, past the IOAPIC's: 24, 25, 26 for this device. */
	assert_int_equal(f->vm.irq.msi_count, 3);
	unsigned n = irq_build_routes(&f->vm, r, IRQ_ROUTES_MAX);
	assert_null(find_route(r, n, 25, KVM_IRQ_ROUTING_MSI));
	/* The device's pin keeps its IOAPIC route. */
	const struct kvm_irq_routing_entry *pin = find_route(r, n, f->vm.devices[f->dev->index].irq,
							     KVM_IRQ_ROUTING_IRQCHIP);
	assert_non_null(pin);
	assert_int_equal(pin->u.irqchip.irqchip, KVM_IRQCHIP_IOAPIC);
	assert_int_equal(pin->u.irqchip.pin, f->vm.devices[f->dev->index].irq);

	set_entry(f, 1, 0xfee01000, 0x4031, 1);
	n = irq_build_routes(&f->vm, r, IRQ_ROUTES_MAX);
	const struct kvm_irq_routing_entry *e = find_route(r, n, 25, KVM_IRQ_ROUTING_MSI);
	assert_non_null(e);
	assert_int_equal(e->u.msi.address_lo, 0xfee01000);
	assert_int_equal(e->u.msi.address_hi, 0);
	assert_int_equal(e->u.msi.data, 0x4031);
	assert_non_null(find_route(r, n, f->vm.devices[f->dev->index].irq, KVM_IRQ_ROUTING_IRQCHIP));

	/* Not a local APIC address, a vector below 16, NMI delivery: unrouted. */
	bar_write(f, TABLE + 16, 0xfec00000, 4);
	n = irq_build_routes(&f->vm, r, IRQ_ROUTES_MAX);
	assert_null(find_route(r, n, 25, KVM_IRQ_ROUTING_MSI));
	set_entry(f, 1, 0xfee00000, 0x0f, 1);
	n = irq_build_routes(&f->vm, r, IRQ_ROUTES_MAX);
	assert_null(find_route(r, n, 25, KVM_IRQ_ROUTING_MSI));
	set_entry(f, 1, 0xfee00000, 0x431, 1);
	n = irq_build_routes(&f->vm, r, IRQ_ROUTES_MAX);
	assert_null(find_route(r, n, 25, KVM_IRQ_ROUTING_MSI));
	bar_write(f, TABLE + 16 + 8, 0x31, 4);
	bar_write(f, TABLE + 16 + 4, 1, 4); /* above 4 GiB */
	n = irq_build_routes(&f->vm, r, IRQ_ROUTES_MAX);
	assert_null(find_route(r, n, 25, KVM_IRQ_ROUTING_MSI));
	bar_write(f, TABLE + 16 + 4, 0, 4);
	n = irq_build_routes(&f->vm, r, IRQ_ROUTES_MAX);
	assert_non_null(find_route(r, n, 25, KVM_IRQ_ROUTING_MSI));

	/* A second device's vectors get GSIs of their own. */
	f->dev2 = pci_new(&f->vm);
	assert_non_null(f->dev2);
	assert_int_equal(f->vm.irq.msi_count, 6);
	/* The routes never exceed the table KVM gets. */
	assert_true(irq_build_routes(&f->vm, r, 2) <= 2);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_host_bridge),
		T(test_identity),
		T(test_access_sizes),
		T(test_read_only_fields),
		T(test_capability_chain),
		T(test_bar_sizing),
		T(test_bar_moves),
		T(test_common_config_bring_up),
		T(test_common_config_hostile),
		T(test_isr_read_clears),
		T(test_pci_cfg_access_capability),
		T(test_msix_capability),
		T(test_msix_table),
		T(test_msix_vector_numbers),
		T(test_msix_mask_pending),
		T(test_msix_routes),
		T(test_isa_wiring_routes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
