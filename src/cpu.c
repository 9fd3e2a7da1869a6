#include "cpu.h"

#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include "layout.h"
#include "log.h"
#include "pagetable.h"

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

/* Descriptor bits: present, ring 0; code is 64-bit (L), data is writable. */
#define GDT_CODE64 0x00af9b000000ffffull
#define GDT_DATA   0x00cf93000000ffffull
#define TSS_SIZE 104
#define TSS_TYPE_BUSY 0xb
#define TSS_IST1_OFFSET 36
#define TSS_IOMAP_OFFSET 102

uint64_t cpu_tss_base(unsigned cpu)
{
	return cpu == 0 ? LAYOUT_TSS : LAYOUT_AP_TSS + (cpu - 1) * LAYOUT_TSS_STRIDE;
}

uint64_t cpu_ist_top(unsigned cpu)
{
	return cpu == 0 ? LAYOUT_IST_TOP : LAYOUT_AP_IST + cpu * LAYOUT_AP_IST_SIZE;
}

/* Every CPU has a TSS of its own: IST1 is where the CPU switches stacks on
 * an exception, and two CPUs faulting at once must not share one. */
static void write_tss(struct guest_mem *mem, unsigned cpu)
{
	uint8_t *tss = guest_mem_ptr(mem, cpu_tss_base(cpu), TSS_SIZE);
	uint64_t ist1 = cpu_ist_top(cpu);
	uint16_t no_iomap = TSS_SIZE;

	memset(tss, 0, TSS_SIZE);
	memcpy(tss + TSS_IST1_OFFSET, &ist1, sizeof(ist1));
	memcpy(tss + TSS_IOMAP_OFFSET, &no_iomap, sizeof(no_iomap));
}

static void write_gdt(struct guest_mem *mem)
{
	uint64_t *gdt = guest_mem_ptr(mem, LAYOUT_GDT, LAYOUT_GDT_ENTRIES * sizeof(uint64_t));
	uint64_t limit = TSS_SIZE - 1;

	gdt[0] = 0;
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
}

uint64_t cpu_write_tables(struct guest_mem *mem)
{
	write_gdt(mem);
	for (unsigned cpu = 0; cpu < LAYOUT_MAX_CPUS; cpu++)
		write_tss(mem, cpu);
	return pagetable_build(mem);
}

static void flat_segment(struct kvm_segment *seg, uint16_t selector, uint8_t type, bool code)
{
	*seg = (struct kvm_segment){
		.base = 0, .limit = 0xffffffff, .selector = selector, .type = type,
		.present = 1, .dpl = 0, .s = 1, .g = 1, .l = code, .db = !code,
	};
}

/* Long mode with the monitor's GDT and page tables, on CPU `cpu`'s TSS. */
static int load_registers(int fd, unsigned cpu, uint64_t cr3, uint64_t rip, uint64_t rsp, uint64_t rdi)
{
	struct kvm_sregs sregs;

	if (ioctl(fd, KVM_GET_SREGS, &sregs) < 0)
		return -1;
	flat_segment(&sregs.cs, PVMM_SEL_CODE, 0xb, true);
	flat_segment(&sregs.ds, PVMM_SEL_DATA, 0x3, false);
	sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
	sregs.tr = (struct kvm_segment){
		.base = cpu_tss_base(cpu), .limit = TSS_SIZE - 1, .selector = (uint16_t)PVMM_SEL_TSS_CPU(cpu),
		.type = TSS_TYPE_BUSY, .present = 1,
	};
	sregs.gdt.base = LAYOUT_GDT;
	sregs.gdt.limit = LAYOUT_GDT_ENTRIES * 8 - 1;
	/* No IDT until the guest loads one: an early exception triple-faults,
	 * which the monitor reports. */
	sregs.idt.base = 0;
	sregs.idt.limit = 0;
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
		.rflags = 0x2, /* bit 1 is always set; interrupts off */
	};
	return ioctl(fd, KVM_SET_REGS, &regs) < 0 ? -1 : 0;
}

int cpu_boot(struct vm *vm, uint64_t entry)
{
	uint64_t cr3 = cpu_write_tables(&vm->mem);

	if (load_registers(vm->vcpus[0].fd, 0, cr3, entry, LAYOUT_STACK_TOP, LAYOUT_BOOT_INFO) < 0) {
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
	    load_registers(v->fd, v->index, LAYOUT_PML4, v->start_rip, v->start_rsp, v->start_rdi) < 0) {
		log_error("cannot load CPU %u's start registers: %s", v->index, strerror(errno));
		return -1;
	}
	return 0;
}
