#include "trap_port.h"

#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "layout.h"
#include "log.h"
#include "pagetable.h"
#include "report.h"
#include "status.h"
#include "trap_stubs.h"
#include "upcall.h"

/* True if a #PF at `addr` with the guest's rsp at `rsp` is the main stack
 * overflowing: the guard page, or a frame bigger than it (para.h), as the
 * runtime decides for ring 0 (guest/runtime/fault.c). */
static bool stack_overflow(uint64_t addr, uint64_t rsp)
{
	return pvmm_is_stack_overflow(addr, rsp, LAYOUT_STACK_TOP - LAYOUT_STACK_SIZE);
}

/* The stub's frame at guest-virtual `rsp` (the IST stack: identity-
 * mapped and supervisor-only, so the guest cannot have forged it). */
static uint64_t *frame_at(struct vm *vm, uint64_t cr3, uint64_t rsp)
{
	uint64_t pa, pa_end;
	const size_t size = TRAP_FRAME_SLOTS * sizeof(uint64_t);

	if (!pagetable_translate(&vm->mem, cr3, rsp, &pa) || !pagetable_translate(&vm->mem, cr3, rsp + size - 1, &pa_end) ||
	    pa_end != pa + size - 1)
		return NULL;
	return guest_mem_ptr_private(&vm->mem, pa, size);
}

static void trap_port_io(void *opaque, uint16_t offset, bool is_write, uint8_t *data, unsigned size,
			 unsigned reps)
{
	struct vm *vm = opaque;
	struct vcpu *self = vcpu_current();
	struct kvm_regs r;
	struct kvm_sregs s;
	uint64_t frame[TRAP_FRAME_SLOTS];

	(void)offset;
	(void)data;
	if (!self || ioctl(self->fd, KVM_GET_REGS, &r) < 0 || ioctl(self->fd, KVM_GET_SREGS, &s) < 0) {
		log_error("trap port: cannot read the vCPU's registers; stopping the VM");
		vm_stop(vm, PVMM_STATUS_HOST);
		return;
	}
	/* Only the stubs run at CPL0 in a ring-3 VM; anything else here is
	 * not an exception report. */
	bool irq_tail = trap_stub_is_irq_tail(r.rip);
	bool from_stub = vm->ring == 3 && s.cs.dpl == 0 && is_write && size == 4 && reps == 1 &&
			 ((r.rip >= LAYOUT_TRAP_STUBS && r.rip < LAYOUT_TRAP_STUBS + TRAP_STUB_VECTORS * TRAP_STUB_SIZE) ||
			  irq_tail);
	uint64_t *stack_frame = from_stub ? frame_at(vm, s.cr3, r.rsp) : NULL;
	if (stack_frame)
		memcpy(frame, stack_frame, sizeof(frame));
	uint64_t vector = stack_frame ? frame[TRAP_FRAME_VECTOR] : ~0ull;
	bool is_irq = vector >= PVMM_IRQ_VECTOR_BASE && vector < PVMM_IRQ_VECTOR_BASE + TRAP_IRQ_PINS;
	if (!stack_frame || (irq_tail ? !is_irq : vector >= TRAP_STUB_VECTORS)) {
		log_error("trap port %#x: written from outside the monitor's stubs (rip %#llx, cpl %u); "
			  "stopping the VM", PVMM_PORT_TRAP, (unsigned long long)r.rip, s.cs.dpl);
		vm_stop(vm, PVMM_STATUS_BADCALL);
		return;
	}
	if (is_irq) {
		/* A device interrupt: the stub ended it and returns with
		 * iretq to whatever frame is left on its stack. */
		if (upcall_deliver(vm, self, s.cr3, (unsigned)(vector - PVMM_IRQ_VECTOR_BASE), frame))
			memcpy(stack_frame, frame, sizeof(frame));
		return;
	}

	struct pvmm_fault f = {
		.vector = frame[TRAP_FRAME_VECTOR], .error_code = frame[TRAP_FRAME_ERROR_CODE],
		.rip = frame[TRAP_FRAME_RIP], .cs = frame[TRAP_FRAME_CS], .rflags = frame[TRAP_FRAME_RFLAGS],
		.rsp = frame[TRAP_FRAME_RSP], .ss = frame[TRAP_FRAME_SS], .cr2 = s.cr2,
		.rax = frame[TRAP_FRAME_RAX], .rbx = r.rbx, .rcx = r.rcx, .rdx = frame[TRAP_FRAME_RDX],
		.rsi = r.rsi, .rdi = r.rdi, .rbp = r.rbp,
		.r8 = r.r8, .r9 = r.r9, .r10 = r.r10, .r11 = r.r11,
		.r12 = r.r12, .r13 = r.r13, .r14 = r.r14, .r15 = r.r15,
	};
	const char *msg = report_exception_message(f.vector);
	if (f.vector == 14 && stack_overflow(f.cr2, f.rsp))
		msg = "unhandled exception #PF (page fault): stack overflow";

	char where[24] = "";
	if (vm->cpu_count > 1)
		snprintf(where, sizeof(where), " on CPU %u", self->index);
	if (vm_stopped(vm))
		return;
	log_error("guest fault%s: %s", where, msg);
	report_fault(&f);
	vm_stop(vm, PVMM_STATUS_FAULT);
}

int trap_port_attach(struct vm *vm)
{
	return pio_register_whole(&vm->pio, PVMM_PORT_TRAP, 1, "trap", trap_port_io, vm);
}
