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

static void write_tss(struct guest_mem *mem)
{
	uint8_t *tss = guest_mem_ptr(mem, LAYOUT_TSS, TSS_SIZE);
	uint64_t ist1 = LAYOUT_IST_TOP;
	uint16_t no_iomap = TSS_SIZE;

	memset(tss, 0, TSS_SIZE);
	memcpy(tss + TSS_IST1_OFFSET, &ist1, sizeof(ist1));
	memcpy(tss + TSS_IOMAP_OFFSET, &no_iomap, sizeof(no_iomap));
}

static void write_gdt(struct guest_mem *mem)
{
	uint64_t *gdt = guest_mem_ptr(mem, LAYOUT_GDT, 5 * sizeof(uint64_t));
	uint64_t base = LAYOUT_TSS, limit = TSS_SIZE - 1;

	gdt[0] = 0;
	gdt[PVMM_SEL_CODE / 8] = GDT_CODE64;
	gdt[PVMM_SEL_DATA / 8] = GDT_DATA;
	/* A 64-bit TSS descriptor takes two slots. */
	gdt[PVMM_SEL_TSS / 8] = (limit & 0xffff) | ((base & 0xffffff) << 16) |
				((uint64_t)TSS_TYPE_BUSY << 40) | (1ull << 47) |
				((base >> 24 & 0xff) << 56);
	gdt[PVMM_SEL_TSS / 8 + 1] = base >> 32;
}

uint64_t cpu_write_tables(struct guest_mem *mem)
{
	write_gdt(mem);
	write_tss(mem);
	return pagetable_build(mem);
}

static void flat_segment(struct kvm_segment *seg, uint16_t selector, uint8_t type, bool code)
{
	*seg = (struct kvm_segment){
		.base = 0, .limit = 0xffffffff, .selector = selector, .type = type,
		.present = 1, .dpl = 0, .s = 1, .g = 1, .l = code, .db = !code,
	};
}

int cpu_boot(struct vm *vm, uint64_t entry)
{
	struct kvm_sregs sregs;
	uint64_t cr3 = cpu_write_tables(&vm->mem);

	if (ioctl(vm->vcpu_fd, KVM_GET_SREGS, &sregs) < 0)
		goto fail;
	flat_segment(&sregs.cs, PVMM_SEL_CODE, 0xb, true);
	flat_segment(&sregs.ds, PVMM_SEL_DATA, 0x3, false);
	sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
	sregs.tr = (struct kvm_segment){
		.base = LAYOUT_TSS, .limit = TSS_SIZE - 1, .selector = PVMM_SEL_TSS,
		.type = TSS_TYPE_BUSY, .present = 1,
	};
	sregs.gdt.base = LAYOUT_GDT;
	sregs.gdt.limit = 5 * 8 - 1;
	/* No IDT until the guest loads one: an early exception triple-faults,
	 * which the monitor reports. */
	sregs.idt.base = 0;
	sregs.idt.limit = 0;
	sregs.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
	sregs.cr3 = cr3;
	sregs.cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT;
	sregs.efer = EFER_LME | EFER_LMA;
	if (ioctl(vm->vcpu_fd, KVM_SET_SREGS, &sregs) < 0)
		goto fail;

	struct kvm_regs regs = {
		.rip = entry,
		.rsp = LAYOUT_STACK_TOP,
		.rdi = LAYOUT_BOOT_INFO,
		.rflags = 0x2, /* bit 1 is always set; interrupts off */
	};
	if (ioctl(vm->vcpu_fd, KVM_SET_REGS, &regs) < 0)
		goto fail;
	return 0;
fail:
	log_error("cannot load the vCPU's boot registers: %s", strerror(errno));
	return -1;
}
