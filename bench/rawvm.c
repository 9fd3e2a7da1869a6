/*
 * rawvm — the floor pvmm is measured against: the least a program must do
 * to run guest code under KVM. It shares no code with the monitor (it reads
 * only the port number from the para-API header) and does no error
 * reporting beyond a one-line message.
 *
 *   rawvm            "once": create a VM and one vCPU, run three real-mode
 *                    instructions (mov $1,%al; out %al,$0x10; hlt) and exit
 *                    at the first I/O exit. Measures bare VM start-up.
 *   rawvm loop N     "loop": boot the vCPU straight into 64-bit long mode and
 *                    run the same loop as pvmm's hcloop guest,
 *                        1: out %eax,%dx; dec %ecx; jnz 1b
 *                    with eax = the address of an 8-byte block and dx = the
 *                    NOP port (0x500), N times; the monitor loop does nothing
 *                    but count the exit and re-enter KVM_RUN. A final `out`
 *                    to port 0x10 ends the run. Exits 0 only if exactly N
 *                    exits were seen on the loop port.
 *
 * Exit status: 0 success, 1 host or KVM failure, 2 bad arguments, 3 the
 * guest did something unexpected.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/kvm.h>

#include <pvmm/para.h>

#define RAM_SIZE  0x10000u /* 64 KiB: enough for tables, code and the block */
#define DONE_PORT 0x10u    /* outside the para-API range: "guest finished" */
#define LOOP_PORT (PVMM_PORT_BASE + PVMM_CALL_NOP)

/* Guest-physical layout (both modes use the same little RAM at GPA 0). */
#define GPA_GDT   0x1000u
#define GPA_PML4  0x2000u
#define GPA_PDPT  0x3000u
#define GPA_PD    0x4000u
#define GPA_CODE  0x5000u
#define GPA_BLOCK 0x6000u /* the "argument block" eax points at; never read */

/*
 * The two guests, assembled into the host binary and copied into guest RAM.
 * Both are position-independent (relative jumps, immediates only), so they
 * run wherever they are copied.
 */
extern const uint8_t rawvm_once_code[], rawvm_once_end[];
extern const uint8_t rawvm_loop_code[], rawvm_loop_end[];
__asm__(
	".pushsection .rodata\n"
	".globl rawvm_once_code, rawvm_once_end\n"
	"rawvm_once_code:\n"
	".code16\n"
	"	mov $1, %al\n"
	"	out %al, $0x10\n"            /* DONE_PORT */
	"	hlt\n"
	".code64\n"
	"rawvm_once_end:\n"
	".globl rawvm_loop_code, rawvm_loop_end\n"
	"rawvm_loop_code:\n"
	/* rax = block address, rcx = N, rdx = LOOP_PORT come from KVM_SET_REGS. */
	"	test %ecx, %ecx\n"
	"	jz 2f\n"
	"1:	out %eax, %dx\n"             /* the measured body: exactly these 3 */
	"	dec %ecx\n"
	"	jnz 1b\n"
	"2:	mov $0x10, %dx\n"            /* DONE_PORT */
	"	out %al, %dx\n"
	"	hlt\n"
	"rawvm_loop_end:\n"
	".popsection\n");

/* Long-mode control bits, only those this setup needs. */
#define CR0_PE (1ull << 0)
#define CR0_ET (1ull << 4)
#define CR0_NE (1ull << 5)
#define CR0_PG (1ull << 31)
#define CR4_PAE (1ull << 5)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)
#define PTE_P  (1ull << 0)
#define PTE_RW (1ull << 1)
#define PTE_PS (1ull << 7)
#define SEL_CODE 0x08
#define SEL_DATA 0x10

struct raw_vm {
	int kvm_fd, vm_fd, vcpu_fd;
	uint8_t *ram;
	struct kvm_run *run;
};

static int fail(const char *what)
{
	fprintf(stderr, "rawvm: %s: %s\n", what, strerror(errno));
	return 1;
}

/* /dev/kvm → VM → RAM slot → vCPU → its run area: the unavoidable part. */
static int create_vm(struct raw_vm *vm)
{
	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0)
		return fail("open /dev/kvm");
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0)
		return fail("KVM_CREATE_VM");

	vm->ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (vm->ram == MAP_FAILED)
		return fail("mmap guest RAM");
	struct kvm_userspace_memory_region region = {
		.slot = 0,
		.guest_phys_addr = 0,
		.memory_size = RAM_SIZE,
		.userspace_addr = (uint64_t)(uintptr_t)vm->ram,
	};
	if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		return fail("KVM_SET_USER_MEMORY_REGION");

	vm->vcpu_fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, 0);
	if (vm->vcpu_fd < 0)
		return fail("KVM_CREATE_VCPU");
	int run_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (run_size <= 0)
		return fail("KVM_GET_VCPU_MMAP_SIZE");
	vm->run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vm->vcpu_fd, 0);
	if (vm->run == MAP_FAILED)
		return fail("mmap vCPU run area");
	return 0;
}

/* Real mode with CS base 0, so the code runs at its guest-physical address. */
static int setup_real_mode(struct raw_vm *vm)
{
	struct kvm_sregs sregs;
	memcpy(vm->ram + GPA_CODE, rawvm_once_code, (size_t)(rawvm_once_end - rawvm_once_code));
	if (ioctl(vm->vcpu_fd, KVM_GET_SREGS, &sregs) < 0)
		return fail("KVM_GET_SREGS");
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	if (ioctl(vm->vcpu_fd, KVM_SET_SREGS, &sregs) < 0)
		return fail("KVM_SET_SREGS");
	struct kvm_regs regs = { .rip = GPA_CODE, .rflags = 0x2 };
	if (ioctl(vm->vcpu_fd, KVM_SET_REGS, &regs) < 0)
		return fail("KVM_SET_REGS");
	return 0;
}

static void flat_segment(struct kvm_segment *seg, uint16_t selector, uint8_t type, int code)
{
	*seg = (struct kvm_segment){
		.base = 0, .limit = 0xffffffff, .selector = selector, .type = type,
		.present = 1, .s = 1, .g = 1, .l = code ? 1 : 0, .db = code ? 0 : 1,
	};
}

/*
 * 64-bit mode from the first instruction: a GDT with one code and one data
 * descriptor (what the segment registers claim to be loaded from), and page
 * tables identity-mapping the first 2 MiB with one large page.
 */
static int setup_long_mode(struct raw_vm *vm, uint32_t iterations)
{
	uint64_t *gdt = (uint64_t *)(vm->ram + GPA_GDT);
	gdt[0] = 0;
	gdt[SEL_CODE / 8] = 0x00af9b000000ffffull; /* present, DPL 0, code, L=1 */
	gdt[SEL_DATA / 8] = 0x00cf93000000ffffull; /* present, DPL 0, data, writable */

	*(uint64_t *)(vm->ram + GPA_PML4) = GPA_PDPT | PTE_P | PTE_RW;
	*(uint64_t *)(vm->ram + GPA_PDPT) = GPA_PD | PTE_P | PTE_RW;
	*(uint64_t *)(vm->ram + GPA_PD) = 0 | PTE_P | PTE_RW | PTE_PS;

	memcpy(vm->ram + GPA_CODE, rawvm_loop_code, (size_t)(rawvm_loop_end - rawvm_loop_code));

	struct kvm_sregs sregs;
	if (ioctl(vm->vcpu_fd, KVM_GET_SREGS, &sregs) < 0)
		return fail("KVM_GET_SREGS");
	flat_segment(&sregs.cs, SEL_CODE, 0xb, 1);
	flat_segment(&sregs.ds, SEL_DATA, 0x3, 0);
	sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
	sregs.gdt.base = GPA_GDT;
	sregs.gdt.limit = 3 * 8 - 1;
	sregs.cr0 = CR0_PE | CR0_ET | CR0_NE | CR0_PG;
	sregs.cr3 = GPA_PML4;
	sregs.cr4 = CR4_PAE;
	sregs.efer = EFER_LME | EFER_LMA;
	if (ioctl(vm->vcpu_fd, KVM_SET_SREGS, &sregs) < 0)
		return fail("KVM_SET_SREGS (long mode)");

	struct kvm_regs regs = {
		.rip = GPA_CODE,
		.rflags = 0x2,
		.rax = GPA_BLOCK,
		.rcx = iterations,
		.rdx = LOOP_PORT,
	};
	if (ioctl(vm->vcpu_fd, KVM_SET_REGS, &regs) < 0)
		return fail("KVM_SET_REGS");
	return 0;
}

static int unexpected_exit(const struct kvm_run *run)
{
	if (run->exit_reason == KVM_EXIT_IO)
		fprintf(stderr, "rawvm: unexpected I/O exit on port %#x\n", run->io.port);
	else
		fprintf(stderr, "rawvm: unexpected exit reason %u\n", run->exit_reason);
	return 3;
}

static int run_once(struct raw_vm *vm)
{
	if (setup_real_mode(vm))
		return 1;
	if (ioctl(vm->vcpu_fd, KVM_RUN, 0) < 0)
		return fail("KVM_RUN");
	const struct kvm_run *run = vm->run;
	if (run->exit_reason != KVM_EXIT_IO || run->io.port != DONE_PORT)
		return unexpected_exit(run);
	return 0;
}

static int run_loop(struct raw_vm *vm, uint32_t iterations)
{
	uint32_t loop_exits = 0;

	if (setup_long_mode(vm, iterations))
		return 1;
	/* The hot loop: re-enter, count, nothing else. */
	for (;;) {
		if (ioctl(vm->vcpu_fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR)
				continue;
			return fail("KVM_RUN");
		}
		const struct kvm_run *run = vm->run;
		if (run->exit_reason != KVM_EXIT_IO)
			return unexpected_exit(run);
		if (run->io.port == LOOP_PORT) {
			loop_exits++;
			continue;
		}
		if (run->io.port != DONE_PORT)
			return unexpected_exit(run);
		break;
	}
	if (loop_exits != iterations) {
		fprintf(stderr, "rawvm: saw %u loop exits, expected %u\n", loop_exits, iterations);
		return 3;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct raw_vm vm = { .kvm_fd = -1, .vm_fd = -1, .vcpu_fd = -1 };
	uint32_t iterations = 0;
	int loop = 0;

	if (argc == 3 && strcmp(argv[1], "loop") == 0) {
		char *end;
		errno = 0;
		unsigned long n = strtoul(argv[2], &end, 10);
		if (errno || end == argv[2] || *end || argv[2][0] == '-' || n > UINT32_MAX) {
			fprintf(stderr, "rawvm: '%s' is not an iteration count\n", argv[2]);
			return 2;
		}
		iterations = (uint32_t)n;
		loop = 1;
	} else if (argc != 1) {
		fprintf(stderr, "usage: rawvm            run 3 real-mode instructions\n"
				"       rawvm loop N     run N out-exits in long mode\n");
		return 2;
	}

	if (create_vm(&vm))
		return 1;
	/* No teardown: process exit closes the fds and frees the VM, as it
	 * would for any minimal program. */
	return loop ? run_loop(&vm, iterations) : run_once(&vm);
}
