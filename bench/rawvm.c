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
 *   rawvm cpl3 [loop N]
 *                    the same long-mode guest, started at CPL3: the floor for
 *                    a deprivileged (pvmm run --ring 3) guest. Page tables
 *                    with U=1 at every level, a GDT with DPL 3 code and data
 *                    and a 64-bit TSS whose I/O permission bitmap opens only
 *                    the loop port and port 0x10 (IOPL stays 0: a loaded TSS
 *                    is what KVM checks for in/out at CPL3). Without `loop N`
 *                    it runs the loop zero times: one `out` to port 0x10,
 *                    the cold-start floor at CPL3.
 *   rawvm -v ...     any mode, then (outside what is timed by anyone who
 *                    leaves -v off) read the vCPU's segment registers back
 *                    and print "rawvm: mode=... cpl=N exits=N": a check that
 *                    the guest really ran at the CPL it was meant to.
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
#define GPA_TSS   0x7000u /* CPL3 mode: the TSS, then its I/O permission bitmap */

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
#define PTE_US (1ull << 2)
#define PTE_PS (1ull << 7)
#define SEL_CODE 0x08
#define SEL_DATA 0x10
/* CPL3 mode: user data, user code (RPL 3), and the TSS (16 bytes). */
#define SEL_USER_DATA (0x18 | 3)
#define SEL_USER_CODE (0x20 | 3)
#define SEL_TSS 0x28
#define GDT_ENTRIES 7
/* A 64-bit TSS is 104 bytes; the bitmap follows it, one bit per port
 * (1 = closed), and must be followed by one byte of all ones. */
#define TSS_SIZE 104u
#define IOPB_BYTES (65536u / 8)
#define TSS_LIMIT (TSS_SIZE + IOPB_BYTES) /* the last byte: the 0xff end marker */

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

static void flat_segment(struct kvm_segment *seg, uint16_t selector, uint8_t type, int code, uint8_t dpl)
{
	*seg = (struct kvm_segment){
		.base = 0, .limit = 0xffffffff, .selector = selector, .type = type,
		.present = 1, .dpl = dpl, .s = 1, .g = 1, .l = code ? 1 : 0, .db = code ? 0 : 1,
	};
}

/* CPL3 only: a 64-bit TSS with an I/O permission bitmap that opens exactly
 * the two ports the guest uses, and its 16-byte GDT descriptor. */
static void setup_tss(struct raw_vm *vm, uint64_t *gdt, struct kvm_segment *tr)
{
	uint8_t *tss = vm->ram + GPA_TSS, *bitmap = tss + TSS_SIZE;
	memset(tss, 0, TSS_SIZE);
	tss[102] = (uint8_t)TSS_SIZE; /* I/O map base, a 16-bit field */
	tss[103] = (uint8_t)(TSS_SIZE >> 8);
	memset(bitmap, 0xff, IOPB_BYTES + 1); /* every port closed, then the end marker */
	/* A 4-byte `out` needs all four of its ports open; the done `out` is 1 byte. */
	for (unsigned port = LOOP_PORT; port < LOOP_PORT + 4; port++)
		bitmap[port / 8] &= (uint8_t)~(1u << (port % 8));
	bitmap[DONE_PORT / 8] &= (uint8_t)~(1u << (DONE_PORT % 8));

	uint64_t base = GPA_TSS, limit = TSS_LIMIT;
	/* present, DPL 0, type 0xb (busy 64-bit TSS), byte granularity */
	gdt[SEL_TSS / 8] = (limit & 0xffff) | (base & 0xffffff) << 16 | 0xbull << 40 | 1ull << 47 |
			   (limit >> 16 & 0xf) << 48 | (base >> 24 & 0xff) << 56;
	gdt[SEL_TSS / 8 + 1] = base >> 32;
	*tr = (struct kvm_segment){
		.base = base, .limit = (uint32_t)limit, .selector = SEL_TSS, .type = 0xb, .present = 1,
	};
}

/*
 * 64-bit mode from the first instruction: a GDT with one code and one data
 * descriptor (what the segment registers claim to be loaded from), and page
 * tables identity-mapping the first 2 MiB with one large page.
 */
static int setup_long_mode(struct raw_vm *vm, uint32_t iterations, int cpl3)
{
	uint64_t *gdt = (uint64_t *)(vm->ram + GPA_GDT);
	gdt[0] = 0;
	gdt[SEL_CODE / 8] = 0x00af9b000000ffffull; /* present, DPL 0, code, L=1 */
	gdt[SEL_DATA / 8] = 0x00cf93000000ffffull; /* present, DPL 0, data, writable */
	gdt[SEL_USER_DATA / 8] = 0x00cff3000000ffffull; /* present, DPL 3, data, writable */
	gdt[SEL_USER_CODE / 8] = 0x00affb000000ffffull; /* present, DPL 3, code, L=1 */

	/* At CPL3 every level must allow user access (U/S = 1). */
	uint64_t user = cpl3 ? PTE_US : 0;
	*(uint64_t *)(vm->ram + GPA_PML4) = GPA_PDPT | PTE_P | PTE_RW | user;
	*(uint64_t *)(vm->ram + GPA_PDPT) = GPA_PD | PTE_P | PTE_RW | user;
	*(uint64_t *)(vm->ram + GPA_PD) = 0 | PTE_P | PTE_RW | PTE_PS | user;

	memcpy(vm->ram + GPA_CODE, rawvm_loop_code, (size_t)(rawvm_loop_end - rawvm_loop_code));

	struct kvm_sregs sregs;
	if (ioctl(vm->vcpu_fd, KVM_GET_SREGS, &sregs) < 0)
		return fail("KVM_GET_SREGS");
	if (cpl3) {
		/* CPL is CS's (and SS's) DPL: the vCPU starts in user mode. */
		flat_segment(&sregs.cs, SEL_USER_CODE, 0xb, 1, 3);
		flat_segment(&sregs.ds, SEL_USER_DATA, 0x3, 0, 3);
		setup_tss(vm, gdt, &sregs.tr);
	} else {
		flat_segment(&sregs.cs, SEL_CODE, 0xb, 1, 0);
		flat_segment(&sregs.ds, SEL_DATA, 0x3, 0, 0);
	}
	sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
	sregs.gdt.base = GPA_GDT;
	sregs.gdt.limit = (cpl3 ? GDT_ENTRIES : 3) * 8 - 1;
	sregs.cr0 = CR0_PE | CR0_ET | CR0_NE | CR0_PG;
	sregs.cr3 = GPA_PML4;
	sregs.cr4 = CR4_PAE;
	sregs.efer = EFER_LME | EFER_LMA;
	if (ioctl(vm->vcpu_fd, KVM_SET_SREGS, &sregs) < 0)
		return fail("KVM_SET_SREGS (long mode)");

	struct kvm_regs regs = {
		.rip = GPA_CODE,
		.rflags = 0x2, /* IOPL 0: at CPL3 the TSS bitmap decides */
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

static int verbose;

/* -v: the privilege level the vCPU ended at, from its own registers. */
static int report(const struct raw_vm *vm, const char *mode, uint32_t exits)
{
	struct kvm_sregs sregs;
	if (ioctl(vm->vcpu_fd, KVM_GET_SREGS, &sregs) < 0)
		return fail("KVM_GET_SREGS");
	printf("rawvm: mode=%s cpl=%u exits=%u\n", mode, sregs.cs.dpl, exits);
	return 0;
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
	return verbose ? report(vm, "real", 0) : 0;
}

static int run_loop(struct raw_vm *vm, uint32_t iterations, int cpl3)
{
	uint32_t loop_exits = 0;

	if (setup_long_mode(vm, iterations, cpl3))
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
	return verbose ? report(vm, "long", loop_exits) : 0;
}

int main(int argc, char **argv)
{
	struct raw_vm vm = { .kvm_fd = -1, .vm_fd = -1, .vcpu_fd = -1 };
	uint32_t iterations = 0;
	int loop = 0, cpl3 = 0, arg = 1;

	if (arg < argc && strcmp(argv[arg], "-v") == 0) {
		verbose = 1;
		arg++;
	}
	if (arg < argc && strcmp(argv[arg], "cpl3") == 0) {
		cpl3 = 1;
		arg++;
	}
	if (argc - arg == 2 && strcmp(argv[arg], "loop") == 0) {
		const char *count = argv[arg + 1];
		char *end;
		errno = 0;
		unsigned long n = strtoul(count, &end, 10);
		if (errno || end == count || *end || count[0] == '-' || n > UINT32_MAX) {
			fprintf(stderr, "rawvm: '%s' is not an iteration count\n", count);
			return 2;
		}
		iterations = (uint32_t)n;
		loop = 1;
	} else if (argc != arg) {
		fprintf(stderr, "usage: rawvm [-v]                run 3 real-mode instructions\n"
				"       rawvm [-v] loop N         run N out-exits in long mode at CPL0\n"
				"       rawvm [-v] cpl3           one out-exit in long mode at CPL3\n"
				"       rawvm [-v] cpl3 loop N    run N out-exits in long mode at CPL3\n"
				"  -v: then print the mode, the CPL the vCPU ended at and the loop exits\n");
		return 2;
	}

	if (create_vm(&vm))
		return 1;
	/* No teardown: process exit closes the fds and frees the VM, as it
	 * would for any minimal program. */
	if (cpl3 || loop)
		return run_loop(&vm, iterations, cpl3);
	return run_once(&vm);
}
