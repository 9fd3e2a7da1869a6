#include "linux_cpu.h"

#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include "log.h"

#define CR0_PE (1ull << 0)
#define CR0_ET (1ull << 4)
#define CR0_PG (1ull << 31)
#define CR4_PAE (1ull << 5)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)
#define PTE_P 0x1ull
#define PTE_RW 0x2ull
#define PTE_PS 0x80ull

/* Present, ring 0, granularity 4 KiB, limit 4 GiB: 64-bit code (L), 32-bit
 * code (D), writable data. The TSS: 32-bit available TSS, limit 0x67. */
#define GDT_CODE64 0x00af9b000000ffffull
#define GDT_CODE32 0x00cf9b000000ffffull
#define GDT_DATA 0x00cf93000000ffffull
#define GDT_TSS32 0x0000890000000067ull
#define GDT_ENTRIES 5

int linux_cpu_write_tables(struct guest_mem *mem, const struct linux_boot *boot)
{
	uint64_t *gdt = guest_mem_ptr(mem, LINUX_GDT, GDT_ENTRIES * 8);
	if (!gdt)
		return -1;
	memset(gdt, 0, GDT_ENTRIES * 8);
	gdt[LINUX_SEL_CODE / 8] = boot->kind == LINUX_ENTRY_64 ? GDT_CODE64 : GDT_CODE32;
	gdt[LINUX_SEL_DATA / 8] = GDT_DATA;
	gdt[LINUX_SEL_TSS / 8] = GDT_TSS32;
	if (boot->kind != LINUX_ENTRY_64)
		return 0;
	uint64_t *pml4 = guest_mem_ptr(mem, LINUX_PML4, 4096);
	uint64_t *pdpt = guest_mem_ptr(mem, LINUX_PDPT, 4096);
	uint64_t *pd = guest_mem_ptr(mem, LINUX_PD, 4 * 4096);
	if (!pml4 || !pdpt || !pd)
		return -1;
	memset(pml4, 0, 4096);
	memset(pdpt, 0, 4096);
	pml4[0] = LINUX_PDPT | PTE_P | PTE_RW;
	for (unsigned i = 0; i < 4; i++)
		pdpt[i] = (LINUX_PD + i * 4096ull) | PTE_P | PTE_RW;
	/* 2048 entries of 2 MiB: 0..4 GiB, the device windows above RAM too. */
	for (uint64_t i = 0; i < 4 * 512; i++)
		pd[i] = (i << 21) | PTE_P | PTE_RW | PTE_PS;
	return 0;
}

static void segment(struct kvm_segment *s, uint16_t selector, uint8_t type, bool code64)
{
	*s = (struct kvm_segment){
		.base = 0, .limit = 0xffffffff, .selector = selector, .type = type, .present = 1,
		.dpl = 0, .s = 1, .g = 1, .l = code64, .db = !code64,
	};
}

void linux_cpu_state(const struct linux_boot *boot, struct kvm_sregs *sregs, struct kvm_regs *regs)
{
	bool is64 = boot->kind == LINUX_ENTRY_64;

	segment(&sregs->cs, LINUX_SEL_CODE, 0xb, is64);
	segment(&sregs->ds, LINUX_SEL_DATA, 0x3, false);
	sregs->es = sregs->fs = sregs->gs = sregs->ss = sregs->ds;
	sregs->tr = (struct kvm_segment){ .base = 0, .limit = 0x67, .selector = LINUX_SEL_TSS, .type = 0xb,
					  .present = 1 };
	sregs->ldt = (struct kvm_segment){ .type = 0x2, .present = 1, .limit = 0xffff };
	sregs->gdt.base = LINUX_GDT;
	sregs->gdt.limit = GDT_ENTRIES * 8 - 1;
	sregs->idt.base = 0;
	sregs->idt.limit = 0;
	if (is64) {
		sregs->cr0 = CR0_PE | CR0_ET | CR0_PG;
		sregs->cr3 = LINUX_PML4;
		sregs->cr4 = CR4_PAE;
		sregs->efer = EFER_LME | EFER_LMA;
	} else {
		sregs->cr0 = CR0_PE | CR0_ET;
		sregs->cr3 = 0;
		sregs->cr4 = 0;
		sregs->efer = 0;
	}
	*regs = (struct kvm_regs){ .rip = boot->entry, .rsp = LINUX_STACK_TOP, .rflags = 0x2 };
	if (is64)
		regs->rsi = boot->params;
	else
		regs->rbx = boot->params;
}

int linux_cpu_boot(struct vm *vm, const struct linux_boot *boot)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	if (linux_cpu_write_tables(&vm->mem, boot)) {
		log_error("guest RAM does not hold the boot GDT and page tables");
		return -1;
	}
	if (ioctl(vm->vcpus[0].fd, KVM_GET_SREGS, &sregs) < 0)
		goto fail;
	linux_cpu_state(boot, &sregs, &regs);
	if (ioctl(vm->vcpus[0].fd, KVM_SET_SREGS, &sregs) < 0 || ioctl(vm->vcpus[0].fd, KVM_SET_REGS, &regs) < 0)
		goto fail;
	return 0;
fail:
	log_error("cannot load the vCPU's boot registers for the kernel: %s", strerror(errno));
	return -1;
}

