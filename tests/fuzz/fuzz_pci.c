/*
 * Fuzz target: the PCI host bridge's configuration ports and BAR decoding
 * (src/pci.c) and the virtio-pci register layout (src/virtio/pci.c) in
 * front of the real virtio-rng and virtio-console devices, the way a
 * hostile guest would drive them: CONFIG_ADDRESS/CONFIG_DATA accesses of
 * every width at every port, BAR sizing and moves (onto RAM, the other
 * device's BAR, outside the window), memory space toggled, common config,
 * ISR, device config and notify accesses of any width at any BAR offset,
 * the PCI configuration access window, kicks, MSI-X (Message Control
 * written at the capability wherever it is; the table and PBA through the
 * BAR accesses, which reach every offset).
 *
 * No KVM (vm_fd = -1): two devices on a hand-built VM's PCI bus; the
 * harness serves kicks itself as the I/O thread would.
 *
 * Input: ops, one byte each (enum op) with their operands, to the end.
 * Checked besides memory safety: after a reset through the common config
 * of each device (wherever its BAR decodes, if anywhere: else directly),
 * Status is 0 and no queue is ready; no two BARs decode overlapping; no
 * MSI-X pending bit is set past the device's last vector, and no MSI
 * route is left that is not an APIC message.
 */
#include <fcntl.h>
#include <unistd.h>

#include "devices/device.h"
#include "fuzz_common.h"
#include "guest_mem.h"
#include "irq.h"
#include "iothread.h"
#include "log.h"
#include "pci.h"
#include "virtio/pci.h"
#include "vm.h"

#define RAM_BYTES (2u << 20)
#define WORK_BYTES 0x10000u

enum op {
	OP_PORT,        /* u8 port offset (0..7), u8 size (1,2,4), u8 write?, u32 value */
	OP_CONFIG,      /* u8 slot (0..3), u8 offset, u8 size, u32 value: address + data write */
	OP_CONFIG_READ, /* u8 slot, u8 offset, u8 size */
	OP_BAR,         /* u8 dev (0..1), u32 value: BAR0 write */
	OP_MMIO,        /* u8 dev, u16 BAR offset, u8 len (1..8), u8 write?, u64 value */
	OP_KICK,        /* u8 dev, u8 queue */
	OP_GUEST_WRITE, /* u16 gpa, u32 value */
	OP_MSIX_CTRL,   /* u8 dev, u16 value: MSI-X Message Control */
	OP_COUNT
};

static struct guest_mem mem;

static void once(void)
{
	static bool done;
	if (done)
		return;
	done = true;
	log_level = LOG_ERROR;
	if (guest_mem_init(&mem, RAM_BYTES, 0))
		abort();
}

static void port(struct vm *vm, uint16_t off, unsigned size, bool w, uint32_t v)
{
	uint8_t b[4];
	memcpy(b, &v, 4);
	pio_dispatch(&vm->pio, (uint16_t)(PCI_CONFIG_ADDRESS + off), w, b, size, 1);
}

static void config(struct vm *vm, unsigned slot, unsigned off, unsigned size, bool w, uint32_t v)
{
	port(vm, 0, 4, true, 0x80000000u | slot << 11 | (off & 0xfc));
	port(vm, (uint16_t)(4 + (off & 3)), size, w, v);
}

static void bar_access(struct vm *vm, struct virtio_dev *dev, unsigned slot, uint16_t off, unsigned len, bool w,
		       uint64_t v)
{
	uint8_t b[8];
	memcpy(b, &v, 8);
	const struct pci_bar *bar = &vm->pci->funcs[slot]->bars[0];
	if (bar->decoding)
		mmio_dispatch(&vm->mmio, bar->decoded_addr + off, w, b, len);
	else
		virtio_pci_bar_access(dev, off, b, len, w);
}

/* The MSI-X capability's offset in slot's config space (0: none). */
static unsigned msix_cap(const struct vm *vm, unsigned slot)
{
	const struct pci_func *f = vm->pci->funcs[slot];
	unsigned walked = 0;
	for (unsigned c = f->cfg[PCI_CAPABILITY_LIST]; c && c < PCI_CONFIG_SIZE - 1 && walked++ < 32; c = f->cfg[c + 1])
		if (f->cfg[c] == 0x11)
			return c;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = fuzz_in(data, size);
	struct vm vm = { .kvm_fd = -1, .vm_fd = -1, .vcpu_fd = -1, .console_in_fd = -1, .console_out_fd = -1 };
	int input[2] = { -1, -1 }, out = -1;

	once();
	memset(mem.host, 0, WORK_BYTES);
	vm.mem = mem;
	vm.device_count = 1;
	for (unsigned i = 0; i < PVMM_MAX_DEVICES; i++)
		vm.ready_fd[i] = -1;
	vm.iothread = iothread_create();
	if (!vm.iothread || pipe2(input, O_CLOEXEC | O_NONBLOCK) || (out = open("/dev/null", O_WRONLY | O_CLOEXEC)) < 0)
		abort();
	struct device_env env = { .virtio = { .mem = &vm.mem, .io = vm.iothread }, .in_fd = input[0], .out = { .fd = out }, .resize_fd = -1 };
	struct virtio_dev *devs[2] = { virtio_rng_type.create_virtio(&env, NULL),
				       virtio_console_type.create_virtio(&env, NULL) };
	for (unsigned d = 0; d < 2; d++)
		if (!devs[d] || virtio_pci_attach(&vm, devs[d]))
			abort();

	while (fuzz_more(&in)) {
		switch (fuzz_u8(&in) % OP_COUNT) {
		case OP_PORT: {
			uint8_t off = fuzz_u8(&in) & 7, sz = (uint8_t)(1u << (fuzz_u8(&in) % 3));
			bool w = fuzz_u8(&in) & 1;
			port(&vm, off, sz, w, fuzz_u32(&in));
			break;
		}
		case OP_CONFIG: {
			uint8_t slot = fuzz_u8(&in) % 4, off = fuzz_u8(&in), sz = (uint8_t)(1u << (fuzz_u8(&in) % 3));
			config(&vm, slot, off, sz, true, fuzz_u32(&in));
			break;
		}
		case OP_CONFIG_READ: {
			uint8_t slot = fuzz_u8(&in) % 4, off = fuzz_u8(&in), sz = (uint8_t)(1u << (fuzz_u8(&in) % 3));
			config(&vm, slot, off, sz, false, 0);
			break;
		}
		case OP_BAR: {
			unsigned d = fuzz_u8(&in) & 1;
			config(&vm, d + 1, PCI_BAR0, 4, true, fuzz_u32(&in));
			break;
		}
		case OP_MMIO: {
			unsigned d = fuzz_u8(&in) & 1;
			uint16_t off = fuzz_u16(&in) & (PVMM_VIRTIO_PCI_BAR_SIZE - 1);
			uint8_t len = (uint8_t)(1 + fuzz_u8(&in) % 8);
			bool w = fuzz_u8(&in) & 1;
			bar_access(&vm, devs[d], d + 1, off, len, w, fuzz_u64(&in));
			break;
		}
		case OP_KICK: {
			unsigned d = fuzz_u8(&in) & 1;
			virtio_queue_kick(devs[d], fuzz_u8(&in) % (VIRTIO_MAX_QUEUES + 1), 1);
			break;
		}
		case OP_GUEST_WRITE: {
			uint16_t gpa = fuzz_u16(&in) & (WORK_BYTES - 4);
			uint32_t v = fuzz_u32(&in);
			memcpy(mem.host + gpa, &v, sizeof(v));
			break;
		}
		case OP_MSIX_CTRL: {
			unsigned d = fuzz_u8(&in) & 1;
			uint16_t v = fuzz_u16(&in);
			unsigned c = msix_cap(&vm, d + 1);
			if (c)
				config(&vm, d + 1, c + 2, 2, true, v);
			break;
		}
		}
	}

	/* Pending bits only for vectors that exist; routes only to APICs. */
	for (unsigned d = 0; d < 2; d++) {
		uint8_t pba[8] = { 0 };
		virtio_pci_bar_access(devs[d], PVMM_VIRTIO_PCI_MSIX_PBA, pba, 8, false);
		uint64_t bits;
		memcpy(&bits, pba, 8);
		FUZZ_CHECK((bits >> (devs[d]->ops->num_queues + 1)) == 0);
	}
	struct kvm_irq_routing_entry routes[IRQ_ROUTES_MAX];
	unsigned nroutes = irq_build_routes(&vm, routes, IRQ_ROUTES_MAX);
	for (unsigned i = 0; i < nroutes; i++)
		if (routes[i].type == KVM_IRQ_ROUTING_MSI)
			FUZZ_CHECK(irq_msi_valid(routes[i].u.msi.address_lo, routes[i].u.msi.address_hi,
						 routes[i].u.msi.data));

	/* Decoding BARs never overlap. */
	const struct pci_bar *a = &vm.pci->funcs[1]->bars[0], *b = &vm.pci->funcs[2]->bars[0];
	if (a->decoding && b->decoding)
		FUZZ_CHECK(a->decoded_addr + a->size <= b->decoded_addr || b->decoded_addr + b->size <= a->decoded_addr);
	/* A reset must leave nothing ready. */
	for (unsigned d = 0; d < 2; d++) {
		bar_access(&vm, devs[d], d + 1, PVMM_VIRTIO_PCI_COMMON + 0x14, 1, true, 0);
		pthread_mutex_lock(&devs[d]->lock);
		FUZZ_CHECK(devs[d]->status == 0);
		for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
			FUZZ_CHECK(!devs[d]->queues[q].ready);
		pthread_mutex_unlock(&devs[d]->lock);
	}

	iothread_stop(vm.iothread, NULL);
	for (unsigned d = 0; d < 2; d++)
		virtio_destroy(devs[d]);
	pci_host_free(vm.pci);
	iothread_destroy(vm.iothread);
	close(input[0]);
	close(input[1]);
	close(out);
	return 0;
}

/* ---- seeds --------------------------------------------------------------- */

struct seed {
	uint8_t bytes[1024];
	size_t len;
};

static void put(struct seed *s, const void *p, size_t n)
{
	memcpy(s->bytes + s->len, p, n);
	s->len += n;
}

static void put_u8(struct seed *s, uint8_t v)
{
	put(s, &v, 1);
}

static void mmio(struct seed *s, unsigned d, uint16_t off, uint8_t len, bool w, uint64_t v)
{
	put_u8(s, OP_MMIO);
	put_u8(s, (uint8_t)d);
	put(s, &off, 2);
	put_u8(s, (uint8_t)(len - 1));
	put_u8(s, w);
	put(s, &v, 8);
}

static void cfgw(struct seed *s, unsigned slot, uint8_t off, unsigned size_log2, uint32_t v)
{
	put_u8(s, OP_CONFIG);
	put_u8(s, (uint8_t)slot);
	put_u8(s, off);
	put_u8(s, (uint8_t)size_log2);
	put(s, &v, 4);
}

static void bar(struct seed *s, unsigned d, uint32_t v)
{
	put_u8(s, OP_BAR);
	put_u8(s, (uint8_t)d);
	put(s, &v, 4);
}

/* Device d's handshake with one queue of 8 at 0x1000 (+0x200, +0x400). */
static void handshake(struct seed *s, unsigned d)
{
	mmio(s, d, 0x14, 1, true, 3);
	mmio(s, d, 0x08, 4, true, 1);
	mmio(s, d, 0x0c, 4, true, 1);
	mmio(s, d, 0x14, 1, true, 0xb);
	mmio(s, d, 0x16, 2, true, 0);
	mmio(s, d, 0x18, 2, true, 8);
	mmio(s, d, 0x20, 4, true, 0x1000);
	mmio(s, d, 0x28, 4, true, 0x1200);
	mmio(s, d, 0x30, 4, true, 0x1400);
	mmio(s, d, 0x1c, 2, true, 1);
	mmio(s, d, 0x14, 1, true, 0xf);
}

void fuzz_seeds(fuzz_emit_fn *emit)
{
	struct seed s;

	/* rng: bring-up, a request, a kick through the notify address. */
	s.len = 0;
	handshake(&s, 0);
	uint8_t gw[] = { OP_GUEST_WRITE, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00 }; /* desc addr 0x8000 */
	put(&s, gw, sizeof(gw));
	uint8_t gw2[] = { OP_GUEST_WRITE, 0x08, 0x10, 64, 0, 2, 0 };          /* len 64, WRITE */
	put(&s, gw2, sizeof(gw2));
	uint8_t gw3[] = { OP_GUEST_WRITE, 0x00, 0x12, 0, 0, 1, 0 };            /* avail idx 1 */
	put(&s, gw3, sizeof(gw3));
	mmio(&s, 0, PVMM_VIRTIO_PCI_NOTIFY, 4, true, 0);
	put_u8(&s, OP_KICK);
	put_u8(&s, 0);
	put_u8(&s, 0);
	mmio(&s, 0, PVMM_VIRTIO_PCI_ISR, 1, false, 0);
	emit("rng-bring-up-and-request", s.bytes, s.len);

	/* BAR sizing, moves onto the other BAR, RAM and back, memory off/on. */
	s.len = 0;
	bar(&s, 0, 0xffffffffu);
	put_u8(&s, OP_CONFIG_READ);
	put_u8(&s, 1);
	put_u8(&s, PCI_BAR0);
	put_u8(&s, 2);
	bar(&s, 0, (uint32_t)PCI_MMIO_BASE + PVMM_VIRTIO_PCI_BAR_SIZE);
	bar(&s, 0, 0x100000);
	bar(&s, 1, (uint32_t)PCI_MMIO_BASE);
	cfgw(&s, 2, PCI_COMMAND, 1, 0);
	cfgw(&s, 2, PCI_COMMAND, 1, PCI_COMMAND_MEMORY);
	handshake(&s, 1);
	emit("bar-moves", s.bytes, s.len);

	/* Port accesses of every size at every port; the cfg-access window. */
	s.len = 0;
	for (uint8_t p = 0; p < 8; p++)
		for (uint8_t z = 0; z < 3; z++) {
			uint8_t op[] = { OP_PORT, p, z, 0, 0x00, 0x08, 0x00, 0x80 };
			put(&s, op, sizeof(op));
		}
	cfgw(&s, 1, 0x88, 0, 0);      /* cap bar */
	cfgw(&s, 1, 0x8c, 2, 0x14);   /* offset: device_status */
	cfgw(&s, 1, 0x90, 2, 1);      /* length 1 */
	cfgw(&s, 1, 0x94, 2, 1);      /* data */
	emit("ports-and-cfg-window", s.bytes, s.len);

	/* MSI-X: enabled and function-masked, vector 1 programmed (masked),
	 * queue 0 on it, a request (pending), then unmasked; a bad message;
	 * table and PBA accesses of odd widths. */
	s.len = 0;
	uint8_t on[] = { OP_MSIX_CTRL, 0, 0x00, 0xc0 };
	put(&s, on, sizeof(on));
	handshake(&s, 0);
	mmio(&s, 0, 0x16, 2, true, 0);
	mmio(&s, 0, 0x1a, 2, true, 1);   /* queue_msix_vector 1 */
	mmio(&s, 0, 0x10, 2, true, 7);   /* msix_config out of range */
	mmio(&s, 0, PVMM_VIRTIO_PCI_MSIX_TABLE + 16, 8, true, 0xfee00000u);
	mmio(&s, 0, PVMM_VIRTIO_PCI_MSIX_TABLE + 24, 4, true, 0x31);
	mmio(&s, 0, PVMM_VIRTIO_PCI_MSIX_TABLE + 28, 4, true, 0);
	put(&s, gw, sizeof(gw));
	put(&s, gw2, sizeof(gw2));
	put(&s, gw3, sizeof(gw3));
	put_u8(&s, OP_KICK);
	put_u8(&s, 0);
	put_u8(&s, 0);
	mmio(&s, 0, PVMM_VIRTIO_PCI_MSIX_PBA, 8, false, 0);
	uint8_t unmask[] = { OP_MSIX_CTRL, 0, 0x00, 0x80 };
	put(&s, unmask, sizeof(unmask));
	mmio(&s, 0, PVMM_VIRTIO_PCI_MSIX_TABLE + 16, 4, true, 0xfec00000u);
	mmio(&s, 0, PVMM_VIRTIO_PCI_MSIX_TABLE + 2, 2, true, 1);
	mmio(&s, 0, PVMM_VIRTIO_PCI_MSIX_TABLE + 0x40, 4, true, 1);
	mmio(&s, 0, PVMM_VIRTIO_PCI_MSIX_PBA + 4, 4, true, 1);
	emit("msix", s.bytes, s.len);
}
