/*
 * The in-kernel irqchip, programmed before the guest's first instruction
 * the way include/pvmm/para.h (1.1) promises: both 8259s masked, the local
 * APIC software-enabled, and each device pin routed by the IOAPIC,
 * edge-triggered, to vector PVMM_IRQ_VECTOR_BASE + pin on APIC 0 (or the
 * CPU irq_route() names; APIC ID n is vCPU n). Devices
 * raise their pin through an irqfd, so an interrupt never passes through
 * the vCPU thread.
 */
#include "irq.h"

#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include <pvmm/para.h>

#include "log.h"

#define LAPIC_REG_TPR  0x80
#define LAPIC_REG_SPIV 0xf0
#define LAPIC_REG_LVT0 0x350
#define LAPIC_SPIV_ENABLE 0x100u
#define LAPIC_SPURIOUS_VECTOR 0xffu
#define LAPIC_LVT_MASKED 0x10000u
#define IOAPIC_PINS 24

_Static_assert(IRQ_LAST_DEVICE_PIN < IOAPIC_PINS, "device pins must exist on the IOAPIC");
_Static_assert(sizeof(((struct vm_irq *)0)->dest) == IOAPIC_PINS, "one destination per IOAPIC pin");
_Static_assert(PVMM_IRQ_VECTOR_BASE + IRQ_LAST_DEVICE_PIN < LAPIC_SPURIOUS_VECTOR,
	       "device vectors must stay below the spurious vector");

int irq_create_chip(struct vm *vm)
{
	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0) {
		log_error("cannot create the in-kernel interrupt controller (KVM_CREATE_IRQCHIP): %s", strerror(errno));
		return -1;
	}
	vm->irq.chip = true;
	return 0;
}

static int mask_pic(struct vm *vm, uint32_t chip_id)
{
	struct kvm_irqchip chip = { .chip_id = chip_id };
	if (ioctl(vm->vm_fd, KVM_GET_IRQCHIP, &chip) < 0)
		return -1;
	chip.chip.pic.imr = 0xff;
	return ioctl(vm->vm_fd, KVM_SET_IRQCHIP, &chip);
}

static int route_ioapic(struct vm *vm)
{
	struct kvm_irqchip chip = { .chip_id = KVM_IRQCHIP_IOAPIC };
	if (ioctl(vm->vm_fd, KVM_GET_IRQCHIP, &chip) < 0)
		return -1;
	for (unsigned pin = 0; pin < IOAPIC_PINS; pin++) {
		if (!(vm->irq.pins & (1u << pin)))
			continue; /* unused pins keep KVM's reset state: masked */
		chip.chip.ioapic.redirtbl[pin].bits = 0;
		chip.chip.ioapic.redirtbl[pin].fields.vector = (uint8_t)(PVMM_IRQ_VECTOR_BASE + pin);
		chip.chip.ioapic.redirtbl[pin].fields.delivery_mode = 0; /* fixed */
		chip.chip.ioapic.redirtbl[pin].fields.dest_mode = 0;     /* physical */
		chip.chip.ioapic.redirtbl[pin].fields.trig_mode = 0;     /* edge */
		chip.chip.ioapic.redirtbl[pin].fields.mask = 0;
		chip.chip.ioapic.redirtbl[pin].fields.dest_id = vm->irq.dest[pin]; /* APIC ID = vCPU index */
	}
	return ioctl(vm->vm_fd, KVM_SET_IRQCHIP, &chip);
}

static void lapic_set(struct kvm_lapic_state *s, unsigned reg, uint32_t value)
{
	memcpy(&s->regs[reg], &value, sizeof(value));
}

static int enable_lapic(int vcpu_fd)
{
	struct kvm_lapic_state s;
	if (ioctl(vcpu_fd, KVM_GET_LAPIC, &s) < 0)
		return -1;
	lapic_set(&s, LAPIC_REG_SPIV, LAPIC_SPIV_ENABLE | LAPIC_SPURIOUS_VECTOR);
	lapic_set(&s, LAPIC_REG_TPR, 0);
	/* The PICs are masked, but say so at the LAPIC too: no ExtINT. */
	lapic_set(&s, LAPIC_REG_LVT0, LAPIC_LVT_MASKED);
	return ioctl(vcpu_fd, KVM_SET_LAPIC, &s);
}

static int enable_lapics(struct vm *vm)
{
	for (unsigned i = 0; i < vm->cpu_count; i++)
		if (enable_lapic(vm->vcpus[i].fd) < 0)
			return -1;
	return 0;
}

int irq_setup(struct vm *vm)
{
	if (!vm->irq.chip)
		return 0;
	if (mask_pic(vm, KVM_IRQCHIP_PIC_MASTER) < 0 || mask_pic(vm, KVM_IRQCHIP_PIC_SLAVE) < 0 ||
	    route_ioapic(vm) < 0 || enable_lapics(vm) < 0) {
		log_error("cannot program the interrupt controller: %s", strerror(errno));
		return -1;
	}
	vm->irq.programmed = true;
	return 0;
}

int irq_route(struct vm *vm, unsigned pin, unsigned cpu)
{
	if (pin >= IOAPIC_PINS || cpu >= vm->cpu_count)
		return -1;
	vm->irq.dest[pin] = (uint8_t)cpu;
	if (vm->irq.programmed && route_ioapic(vm) < 0) {
		log_error("cannot route IOAPIC pin %u to CPU %u: %s", pin, cpu, strerror(errno));
		return -1;
	}
	return 0;
}

int irq_alloc_pin(struct vm *vm)
{
	for (unsigned pin = IRQ_FIRST_DEVICE_PIN; pin <= IRQ_LAST_DEVICE_PIN; pin++) {
		if (!(vm->irq.pins & (1u << pin))) {
			vm->irq.pins |= 1u << pin;
			return (int)pin;
		}
	}
	return -1;
}

int irq_claim_pin(struct vm *vm, unsigned pin)
{
	if (pin >= IOAPIC_PINS || (vm->irq.pins & (1u << pin)))
		return -1;
	vm->irq.pins |= 1u << pin;
	return 0;
}

int irq_set_level(struct vm *vm, unsigned pin, int level)
{
	static bool warned;
	struct kvm_irq_level line = { .irq = pin, .level = level ? 1u : 0u };

	if (!vm->irq.chip || pin >= IOAPIC_PINS)
		return -1;
	if (ioctl(vm->vm_fd, KVM_IRQ_LINE, &line) < 0) {
		if (!__atomic_exchange_n(&warned, true, __ATOMIC_RELAXED))
			log_error("cannot set interrupt line %u (KVM_IRQ_LINE): %s", pin, strerror(errno));
		return -1;
	}
	return 0;
}

int irq_attach_eventfd(struct vm *vm, unsigned pin, int eventfd)
{
	if (!vm->irq.chip) {
		log_error("internal error: a device interrupt without an irqchip");
		return -1;
	}
	/* KVM's default routing maps GSI n to IOAPIC pin n for n < 24. */
	struct kvm_irqfd irqfd = { .fd = (uint32_t)eventfd, .gsi = pin };
	if (ioctl(vm->vm_fd, KVM_IRQFD, &irqfd) < 0) {
		log_error("cannot connect an interrupt to IOAPIC pin %u (KVM_IRQFD): %s", pin, strerror(errno));
		return -1;
	}
	return 0;
}

void irq_free_pin(struct vm *vm, unsigned pin)
{
	if (pin < IOAPIC_PINS)
		vm->irq.pins &= ~(1u << pin);
}

void irq_detach_eventfd(struct vm *vm, unsigned pin, int eventfd)
{
	struct kvm_irqfd irqfd = { .fd = (uint32_t)eventfd, .gsi = pin, .flags = KVM_IRQFD_FLAG_DEASSIGN };
	if (vm->irq.chip && ioctl(vm->vm_fd, KVM_IRQFD, &irqfd) < 0)
		log_warn("cannot disconnect the interrupt of IOAPIC pin %u: %s", pin, strerror(errno));
}

/* ---- MSI routes --------------------------------------------------------- */

_Static_assert(VM_IRQ_MSI_GSI_BASE >= IOAPIC_PINS, "MSI GSIs must not shadow IOAPIC pins");

int irq_alloc_msi(struct vm *vm)
{
	if (vm->irq.msi_count >= VM_IRQ_MSI_MAX)
		return -1;
	vm->irq.msi[vm->irq.msi_count].valid = false;
	return (int)(VM_IRQ_MSI_GSI_BASE + vm->irq.msi_count++);
}

bool irq_msi_valid(uint32_t addr_lo, uint32_t addr_hi, uint32_t data)
{
	unsigned delivery = (data >> 8) & 7;
	return addr_hi == 0 && (addr_lo & 0xfff00000u) == 0xfee00000u && (delivery == 0 || delivery == 1) &&
	       (data & 0xff) >= 16;
}

unsigned irq_build_routes(const struct vm *vm, struct kvm_irq_routing_entry *out, unsigned max)
{
	unsigned n = 0;
	for (unsigned pin = 0; pin < IOAPIC_PINS; pin++) {
		if (vm->irq.isa_wiring ? pin == 2 : !(vm->irq.pins & (1u << pin)))
			continue;
		/* As KVM's default table: the IOAPIC pin, and below 16 the PIC
		 * input too (masked, but KVM_IRQ_LINE on an ISA pin drives both).
		 * With the PC's wiring, GSI 0 (the PIT) reaches IOAPIC pin 2. */
		unsigned ioapic_pin = vm->irq.isa_wiring && pin == 0 ? 2 : pin;
		if (n < max)
			out[n++] = (struct kvm_irq_routing_entry){
				.gsi = pin, .type = KVM_IRQ_ROUTING_IRQCHIP,
				.u.irqchip = { .irqchip = KVM_IRQCHIP_IOAPIC, .pin = ioapic_pin },
			};
		if (pin < 16 && n < max)
			out[n++] = (struct kvm_irq_routing_entry){
				.gsi = pin, .type = KVM_IRQ_ROUTING_IRQCHIP,
				.u.irqchip = { .irqchip = pin < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE,
					       .pin = pin % 8 },
			};
	}
	for (unsigned i = 0; i < vm->irq.msi_count && i < VM_IRQ_MSI_MAX; i++) {
		const struct vm_msi_route *r = &vm->irq.msi[i];
		if (r->valid && n < max)
			out[n++] = (struct kvm_irq_routing_entry){
				.gsi = VM_IRQ_MSI_GSI_BASE + i, .type = KVM_IRQ_ROUTING_MSI,
				.u.msi = { .address_lo = r->addr_lo, .address_hi = r->addr_hi, .data = r->data },
			};
	}
	return n;
}

static int push_routes(struct vm *vm, const char *what);

int irq_set_msi(struct vm *vm, unsigned gsi, bool valid, uint32_t addr_lo, uint32_t addr_hi, uint32_t data)
{
	if (gsi < VM_IRQ_MSI_GSI_BASE || gsi - VM_IRQ_MSI_GSI_BASE >= vm->irq.msi_count ||
	    (valid && !irq_msi_valid(addr_lo, addr_hi, data)))
		return -1;
	vm->irq.msi[gsi - VM_IRQ_MSI_GSI_BASE] = (struct vm_msi_route){ valid, addr_lo, addr_hi, data };
	return push_routes(vm, "route an MSI");
}

int irq_set_isa_wiring(struct vm *vm)
{
	vm->irq.isa_wiring = true;
	return push_routes(vm, "route the ISA interrupts");
}

static int push_routes(struct vm *vm, const char *what)
{
	if (!vm->irq.chip)
		return 0;
	/* On the stack (3 KiB): this runs on a vCPU thread, mid-exit. */
	union {
		struct kvm_irq_routing table;
		uint8_t bytes[sizeof(struct kvm_irq_routing) + IRQ_ROUTES_MAX * sizeof(struct kvm_irq_routing_entry)];
	} u;
	memset(&u, 0, sizeof(u));
	u.table.nr = irq_build_routes(vm, u.table.entries, IRQ_ROUTES_MAX);
	if (ioctl(vm->vm_fd, KVM_SET_GSI_ROUTING, &u.table) < 0) {
		log_error("cannot %s (KVM_SET_GSI_ROUTING): %s", what, strerror(errno));
		return -1;
	}
	vm->irq.routing_set = true;
	return 0;
}

int irq_attach_gsi_eventfd(struct vm *vm, unsigned gsi, int eventfd)
{
	if (!vm->irq.chip) {
		log_error("internal error: a device interrupt without an irqchip");
		return -1;
	}
	struct kvm_irqfd irqfd = { .fd = (uint32_t)eventfd, .gsi = gsi };
	if (ioctl(vm->vm_fd, KVM_IRQFD, &irqfd) < 0) {
		log_error("cannot connect an MSI to GSI %u (KVM_IRQFD): %s", gsi, strerror(errno));
		return -1;
	}
	return 0;
}

void irq_detach_gsi_eventfd(struct vm *vm, unsigned gsi, int eventfd)
{
	struct kvm_irqfd irqfd = { .fd = (uint32_t)eventfd, .gsi = gsi, .flags = KVM_IRQFD_FLAG_DEASSIGN };
	if (vm->irq.chip && ioctl(vm->vm_fd, KVM_IRQFD, &irqfd) < 0)
		log_warn("cannot disconnect the MSI of GSI %u: %s", gsi, strerror(errno));
}
