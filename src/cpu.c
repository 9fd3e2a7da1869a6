#include "cpu.h"

#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include "elf_loader.h"
#include "layout.h"
#include "log.h"
#include "pagetable.h"
#include "pvmmu.h"
#include "trap_stubs.h"

#define CR0_PE (1ull << 0)
#define CR0_MP (1ull << 1)
#define CR0_ET (1ull << 4)
#define CR0_NE (1ull << 5)
#define CR0_WP (1ull << 16)
#define CR0_PG (1ull << 31)
#define CR4_PAE (1ull << 5)
#define CR4_OSFXSR (1ull << 9)
#define CR4_OSXMMEXCPT (1ull << 10)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)

/* Descriptor bits: present, ring 0; code is 64-bit (L), data is writable.
 * The USER ones are the same with DPL 3. */
#define GDT_CODE64 0x00af9b000000ffffull
#define GDT_DATA   0x00cf93000000ffffull
#define GDT_USER_CODE64 0x00affb000000ffffull
#define GDT_USER_DATA   0x00cff3000000ffffull
#define TSS_SIZE 104
#define TSS_TYPE_BUSY 0xb
#define TSS_RSP0_OFFSET 4
#define TSS_IST1_OFFSET 36
#define TSS_IOMAP_OFFSET 102
/* Ring 3: the I/O permission bitmap follows the TSS and covers the ports
 * below CPU_IOMAP_PORTS, one bit each (1 = denied), then a byte of ones
 * (the CPU reads two bytes per check). A port at or above CPU_IOMAP_PORTS
 * would need a bitmap byte beyond the TSS limit, and the CPU denies any
 * port whose bitmap bytes lie beyond the limit: so those are all closed. */
#define IOMAP_BYTES (CPU_IOMAP_PORTS / 8)
#define TSS_RING3_SIZE (TSS_SIZE + IOMAP_BYTES + 1)
_Static_assert(TSS_RING3_SIZE <= LAYOUT_TSS_STRIDE, "a TSS and its I/O bitmap must fit in the TSS stride");
_Static_assert(LAYOUT_TSS + TSS_RING3_SIZE <= LAYOUT_PML4, "CPU 0's TSS and bitmap run into the PML4");
_Static_assert(PVMM_PORT_BASE + PVMM_PORT_COUNT <= CPU_IOMAP_PORTS, "the para-API ports lie outside the bitmap");

static uint32_t tss_size(unsigned ring)
{
	return ring == 3 ? TSS_RING3_SIZE : TSS_SIZE;
}

uint64_t cpu_tss_base(unsigned cpu)
{
	return cpu == 0 ? LAYOUT_TSS : LAYOUT_AP_TSS + (cpu - 1) * LAYOUT_TSS_STRIDE;
}

uint64_t cpu_ist_top(unsigned cpu)
{
	return cpu == 0 ? LAYOUT_IST_TOP : LAYOUT_AP_IST + cpu * LAYOUT_AP_IST_SIZE;
}

/* Every CPU has a TSS of its own: IST1 is where the CPU switches stacks on
 * an exception, and two CPUs faulting at once must not share one. With
 * ring 3 the TSS also has RSP0 (the same supervisor-only stack: every gate
 * uses IST1, so nothing switches to RSP0 today, but a CPL3 -> CPL0 switch
 * must never find it 0) and the I/O bitmap opening exactly `cfg`'s ports. */
static void write_tss(struct guest_mem *mem, unsigned cpu, const struct cpu_config *cfg)
{
	uint32_t size = tss_size(cfg->ring);
	uint8_t *tss = guest_mem_ptr_private(mem, cpu_tss_base(cpu), size);
	uint64_t ist1 = cpu_ist_top(cpu);
	uint16_t iomap = TSS_SIZE; /* ring 0: at the limit, so no bitmap */

	memset(tss, 0, size);
	memcpy(tss + TSS_IST1_OFFSET, &ist1, sizeof(ist1));
	memcpy(tss + TSS_IOMAP_OFFSET, &iomap, sizeof(iomap));
	if (cfg->ring != 3)
		return;
	memcpy(tss + TSS_RSP0_OFFSET, &ist1, sizeof(ist1));
	uint8_t *map = tss + TSS_SIZE;
	memset(map, 0xff, IOMAP_BYTES + 1);
	for (unsigned i = 0; i < cfg->port_count; i++) {
		unsigned port = cfg->ports[i];
		if (port < CPU_IOMAP_PORTS && port != PVMM_PORT_TRAP)
			map[port / 8] &= (uint8_t)~(1u << (port % 8));
	}
}

static void write_gdt(struct guest_mem *mem, unsigned ring)
{
	uint64_t *gdt = guest_mem_ptr_private(mem, LAYOUT_GDT, LAYOUT_GDT_ENTRIES * sizeof(uint64_t));
	uint64_t limit = tss_size(ring) - 1;

	memset(gdt, 0, LAYOUT_GDT_ENTRIES * sizeof(uint64_t));
	gdt[PVMM_SEL_CODE / 8] = GDT_CODE64;
	gdt[PVMM_SEL_DATA / 8] = GDT_DATA;
	/* A 64-bit TSS descriptor takes two slots. */
	for (unsigned cpu = 0; cpu < LAYOUT_MAX_CPUS; cpu++) {
		uint64_t base = cpu_tss_base(cpu);
		unsigned slot = PVMM_SEL_TSS_CPU(cpu) / 8;
		gdt[slot] = (limit & 0xffff) | ((base & 0xffffff) << 16) | ((uint64_t)TSS_TYPE_BUSY << 40) |
			    (1ull << 47) | ((base >> 24 & 0xff) << 56);
		gdt[slot + 1] = base >> 32;
	}
	if (ring == 3) {
		gdt[PVMM_SEL_USER_DATA / 8] = GDT_USER_DATA;
		gdt[PVMM_SEL_USER_CODE / 8] = GDT_USER_CODE64;
	}
}

uint64_t cpu_write_tables_for(struct guest_mem *mem, const struct cpu_config *cfg)
{
	/* Only the VM's own CPUs ever load a TSS: a one-CPU VM leaves the
	 * other CPUs' TSS pages untouched (each page first written costs a
	 * page fault and a page of the memfd). */
	unsigned cpus = cfg->cpus && cfg->cpus < LAYOUT_MAX_CPUS ? cfg->cpus : LAYOUT_MAX_CPUS;

	write_gdt(mem, cfg->ring);
	for (unsigned cpu = 0; cpu < cpus; cpu++)
		write_tss(mem, cpu, cfg);
	if (cfg->ring == 3)
		trap_stubs_write(mem);
	return pagetable_build(mem, cfg->ring == 3);
}

uint64_t cpu_write_tables(struct guest_mem *mem)
{
	const struct cpu_config ring0 = { .ring = 0 };
	return cpu_write_tables_for(mem, &ring0);
}

static void flat_segment(struct kvm_segment *seg, uint16_t selector, uint8_t type, bool code, unsigned dpl)
{
	*seg = (struct kvm_segment){
		.base = 0, .limit = 0xffffffff, .selector = selector, .type = type,
		.present = 1, .dpl = (uint8_t)dpl, .s = 1, .g = 1, .l = code, .db = !code,
	};
}

/* Long mode with the monitor's GDT and page tables, on CPU `cpu`'s TSS, at
 * CPL `ring` (0, or 3 with the monitor's IDT). */
static int load_registers(int fd, unsigned cpu, unsigned ring, uint64_t cr3, uint64_t rip, uint64_t rsp,
			  uint64_t rdi)
{
	struct kvm_sregs sregs;

	if (ioctl(fd, KVM_GET_SREGS, &sregs) < 0)
		return -1;
	if (ring == 3) {
		flat_segment(&sregs.cs, PVMM_SEL_USER_CODE, 0xb, true, 3);
		flat_segment(&sregs.ds, PVMM_SEL_USER_DATA, 0x3, false, 3);
		/* The guest cannot lidt at CPL3: exceptions go to the
		 * monitor's stubs, which report them (trap_port.c). */
		sregs.idt.base = LAYOUT_IDT;
		sregs.idt.limit = TRAP_IDT_VECTORS * 16 - 1;
	} else {
		flat_segment(&sregs.cs, PVMM_SEL_CODE, 0xb, true, 0);
		flat_segment(&sregs.ds, PVMM_SEL_DATA, 0x3, false, 0);
		/* No IDT until the guest loads one: an early exception
		 * triple-faults, which the monitor reports. */
		sregs.idt.base = 0;
		sregs.idt.limit = 0;
	}
	sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
	sregs.tr = (struct kvm_segment){
		.base = cpu_tss_base(cpu), .limit = tss_size(ring) - 1, .selector = (uint16_t)PVMM_SEL_TSS_CPU(cpu),
		.type = TSS_TYPE_BUSY, .present = 1,
	};
	sregs.gdt.base = LAYOUT_GDT;
	sregs.gdt.limit = LAYOUT_GDT_ENTRIES * 8 - 1;
	sregs.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
	sregs.cr3 = cr3;
	sregs.cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT;
	sregs.efer = EFER_LME | EFER_LMA;
	if (ioctl(fd, KVM_SET_SREGS, &sregs) < 0)
		return -1;

	struct kvm_regs regs = {
		.rip = rip,
		.rsp = rsp,
		.rdi = rdi,
		.rflags = 0x2, /* bit 1 is always set; interrupts off, IOPL 0 */
	};
	return ioctl(fd, KVM_SET_REGS, &regs) < 0 ? -1 : 0;
}

/* Ring 3's open ports: every port something on the port bus claims (the
 * para-API, the UART, the IDE disk), except the trap port. */
static void open_bus_ports(const struct vm *vm, struct cpu_config *cfg)
{
	for (unsigned r = 0; r < vm->pio.count; r++) {
		const struct pio_region *reg = &vm->pio.regions[r];
		for (unsigned p = reg->base; p < (unsigned)reg->base + reg->count; p++)
			if (p != PVMM_PORT_TRAP && cfg->port_count < CPU_MAX_OPEN_PORTS)
				cfg->ports[cfg->port_count++] = (uint16_t)p;
	}
}

int cpu_boot(struct vm *vm, const struct elf_image *image)
{
	struct cpu_config cfg = { .ring = vm->ring, .cpus = vm->cpu_count };

	if (vm->ring == 3)
		open_bus_ports(vm, &cfg);
	/* From here on no guest-supplied address reaches the monitor's
	 * structures below 1 MiB (guest_mem.h). */
	if (layout_mark_private(&vm->mem, vm->ring)) {
		log_error("internal error: cannot mark the monitor's memory private");
		return -1;
	}
	cpu_write_tables_for(&vm->mem, &cfg);
	/* Text and rodata read-only from the first instruction: no MMU call
	 * (an exit, and a CR3 reload that drops every shadow page KVM built
	 * so far) in the guest's start-up. */
	if (pvmmu_protect_image(vm, image))
		return -1;
	uint64_t cr3 = pvmmu_root(vm);
	vm->vcpus[0].mmu_gen = pvmmu_gen(vm);

	if (load_registers(vm->vcpus[0].fd, 0, vm->ring, cr3, image->entry, LAYOUT_STACK_TOP, LAYOUT_BOOT_INFO) < 0) {
		log_error("cannot load the vCPU's boot registers: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int cpu_boot_secondary(struct vcpu *v)
{
	/* With an irqchip KVM holds secondaries in wait-for-SIPI; the
	 * para-API starts them directly instead. */
	struct kvm_mp_state mp = { .mp_state = KVM_MP_STATE_RUNNABLE };

	if ((v->vm->irq.chip && ioctl(v->fd, KVM_SET_MP_STATE, &mp) < 0) ||
	    load_registers(v->fd, v->index, v->vm->ring, LAYOUT_PML4, v->start_rip, v->start_rsp, v->start_rdi) < 0) {
		log_error("cannot load CPU %u's start registers: %s", v->index, strerror(errno));
		return -1;
	}
	return 0;
}
