/*
 * Exception stubs for vectors 0..31, one per 16-byte slot.
 *
 * guest.ld places this section at exactly 0x100000, and runtime/idt.c builds
 * the IDT at compile time from the address 0x100000 + 16 * vector, so the
 * slots must stay 16 bytes apart: `.org` makes the assembler fail if a stub
 * grows past its slot.
 *
 * Each stub makes the stack look the same whatever the vector: it pushes a
 * dummy error code where the CPU pushes none, then the vector number, and
 * jumps to the common code, which saves every GPR and calls
 * isr_handle_exception(struct isr_frame *) in C. Every gate uses IST1, so
 * the handler runs on the monitor's exception stack even after a stack
 * overflow. Nothing returns: an exception is fatal for a pvmm guest.
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
	.org 16 * 32

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

	.section .note.GNU-stack, "", @progbits
