/*
 * Interrupt stubs, one per 16-byte slot at 0x100000 + 16 * vector:
 * vectors 0..31 (CPU exceptions), 32..55 (IOAPIC pins 0..23, routed by
 * the monitor to PVMM_IRQ_VECTOR_BASE + pin), and one last slot (56) that
 * every other vector's gate points at.
 *
 * guest.ld places this section at exactly 0x100000, and runtime/idt.c builds
 * the IDT at compile time from the address 0x100000 + 16 * vector, so the
 * slots must stay 16 bytes apart: `.org` makes the assembler fail if a stub
 * grows past its slot.
 *
 * Exceptions. Each stub makes the stack look the same whatever the vector:
 * it pushes a dummy error code where the CPU pushes none, then the vector
 * number, and jumps to the common code, which saves every GPR and calls
 * isr_handle_exception(struct isr_frame *) in C. Every exception gate uses
 * IST1, so the handler runs on the monitor's exception stack even after a
 * stack overflow. Nothing returns: an exception is fatal for a pvmm guest.
 *
 * Device interrupts (irq.c has the C side). Their gates use the current
 * stack (no IST: the guest only ever runs at CPL0, and an interrupt gate
 * clears IF, so they never nest). The stub saves rax and loads the vector
 * into it; irq_common saves the other caller-saved registers, calls
 * pvmm_irq_handlers[pin](pin, pvmm_irq_args[pin]), writes the local APIC's
 * EOI register and returns with iretq. About 30 instructions around the
 * handler: each is ~1 us on a host without VT-x.
 *
 * Other vectors (56..255: the LAPIC's spurious vector 0xff, stray software
 * interrupts) land in the last slot, which counts them and returns; a
 * spurious interrupt takes no EOI.
 */

/* Vectors for which the CPU pushes an error code. */
#define HAS_ERROR_CODE(v) ((v) == 8 || ((v) >= 10 && (v) <= 14) || (v) == 17 || (v) == 21 || (v) == 29 || (v) == 30)

	.section .text.isr, "ax"
	.globl isr_stubs
isr_stubs:

.macro stub v
	.org 16 * \v
	.globl isr_stub_\v
isr_stub_\v:
	.if HAS_ERROR_CODE(\v)
	/* the CPU pushed an error code */
	.else
	push	$0		/* dummy error code */
	.endif
	push	$\v
	jmp	isr_common
.endm

	.irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	stub \v
	.endr

/* Device interrupts: 11 bytes each. rax = vector, zero-extended. */
.macro irqstub v
	.org 16 * \v
	.globl isr_stub_\v
isr_stub_\v:
	push	%rax
	mov	$\v, %eax
	jmp	irq_common
.endm

	.irp v, 32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,48,49,50,51,52,53,54,55
	irqstub \v
	.endr

	.org 16 * 56
	.globl isr_stub_other
isr_stub_other:
	incq	pvmm_irq_other(%rip)
	iretq
	.org 16 * 57

	.text
	.type isr_common, @function
isr_common:
	/* Stack now: vector, error code, then the CPU's rip, cs, rflags, rsp,
	 * ss. Push order must match struct isr_frame in isr.h (r15 lowest). */
	push	%rax
	push	%rbx
	push	%rcx
	push	%rdx
	push	%rsi
	push	%rdi
	push	%rbp
	push	%r8
	push	%r9
	push	%r10
	push	%r11
	push	%r12
	push	%r13
	push	%r14
	push	%r15
	/* The CPU aligned rsp to 16 before its 5 pushes; with the 2 stub
	 * pushes and 15 here (22 * 8 bytes) rsp is 16-byte aligned again. */
	mov	%rsp, %rdi
	cld
	call	isr_handle_exception	/* never returns */
	ud2
	.size isr_common, . - isr_common

/* PVMM_IRQ_VECTOR_BASE (32) tables of 8-byte entries are indexed by the
 * vector with a -256 displacement, so no subtraction is needed. */
#define IRQ_TABLE(sym) sym-256(,%rax,8)

	.type irq_common, @function
irq_common:
	/* Stack: saved rax, then the CPU's rip, cs, rflags, rsp, ss. The CPU
	 * aligned rsp to 16 before its 5 pushes; with the stub's push and the
	 * 8 here (14 * 8 bytes) rsp is 16-byte aligned for the call. */
	push	%rcx
	push	%rdx
	push	%rsi
	push	%rdi
	push	%r8
	push	%r9
	push	%r10
	push	%r11
	cld
	incq	IRQ_TABLE(pvmm_irq_counts)
	mov	IRQ_TABLE(pvmm_irq_args), %rsi
	lea	-32(%rax), %edi
	call	*IRQ_TABLE(pvmm_irq_handlers)
	/* End of interrupt: write 0 to the local APIC's EOI register
	 * (PVMM_LAPIC_BASE + PVMM_LAPIC_EOI, above 2 GiB: no disp32). */
	mov	$0xfee000b0, %ecx
	movl	$0, (%rcx)
	pop	%r11
	pop	%r10
	pop	%r9
	pop	%r8
	pop	%rdi
	pop	%rsi
	pop	%rdx
	pop	%rcx
	pop	%rax
	iretq
	.size irq_common, . - irq_common

	.section .note.GNU-stack, "", @progbits
