/*
 * Unhandled CPU exceptions: report to the monitor and stop.
 *
 * Runs on the IST1 stack (see idt.c), so a stack overflow still gets here.
 * The handler copies the CPU state isr.S saved into struct pvmm_fault and
 * makes the ABORT call with kind PVMM_ABORT_FAULT; the monitor prints it.
 */
#include <string.h>
#include <pvmm/guest.h>
#include "runtime.h"

/* True if a #PF at addr with the stack pointer at rsp is the main stack
 * overflowing (para.h: the guard page, or a frame bigger than it). */
static int stack_overflow(uint64_t addr, uint64_t rsp)
{
	const struct pvmm_boot_info *bi = pvmm_boot_info();
	if (!bi)
		return 0;
	return pvmm_is_stack_overflow(addr, rsp, bi->stack_top - bi->stack_size);
}

void isr_handle_exception(struct isr_frame *frame)
{
	/* A fault while flushing stdout below must not loop: the second time
	 * round, report straight away. */
	static int reporting;

	struct pvmm_fault fault = {
		.vector = frame->vector, .error_code = frame->error_code,
		.rip = frame->rip, .cs = frame->cs, .rflags = frame->rflags,
		.rsp = frame->rsp, .ss = frame->ss,
		.rax = frame->rax, .rbx = frame->rbx, .rcx = frame->rcx,
		.rdx = frame->rdx, .rsi = frame->rsi, .rdi = frame->rdi,
		.rbp = frame->rbp,
		.r8 = frame->r8, .r9 = frame->r9, .r10 = frame->r10,
		.r11 = frame->r11, .r12 = frame->r12, .r13 = frame->r13,
		.r14 = frame->r14, .r15 = frame->r15,
	};
	__asm__ volatile("mov %%cr2, %0" : "=r"(fault.cr2));

	const char *msg = pvmm_exception_message(frame->vector);
	if (frame->vector == 14 && stack_overflow(fault.cr2, fault.rsp))
		msg = "unhandled exception #PF (page fault): stack overflow";

	if (!reporting) {
		reporting = 1;
		stdio_drain();
	}
	pvmm_abort_fault(msg, strlen(msg), &fault);
}
