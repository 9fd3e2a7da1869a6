/*
 * Ring 3: the entry the monitor sends device interrupts to (para-API 1.4,
 * PVMM_CALL_UPCALL; irq.c registers it). The monitor left, under the
 * interrupted stack's 128-byte red zone:
 *
 *     rsp -> pin, cpu, rflags, rip
 *
 * and every register as the interrupted code had it. Save the caller-saved
 * registers and the SSE state (ring-3 code uses SSE; a handler may too),
 * call runtime_upcall(pin, cpu) on a 16-byte aligned stack, restore, drop
 * pin and cpu, then popfq and `ret $128`: rflags, rip and rsp come back at
 * once, with nothing privileged.
 */
	.text
	.globl pvmm_upcall_entry
	.type pvmm_upcall_entry, @function
pvmm_upcall_entry:
	push	%rax
	push	%rcx
	push	%rdx
	push	%rsi
	push	%rdi
	push	%r8
	push	%r9
	push	%r10
	push	%r11
	push	%rbp
	mov	%rsp, %rbp
	mov	80(%rbp), %rdi		/* pin: above the 10 saved registers */
	mov	88(%rbp), %rsi		/* cpu */
	sub	$512, %rsp
	and	$-16, %rsp
	fxsave64 (%rsp)
	cld
	call	runtime_upcall
	fxrstor64 (%rsp)
	mov	%rbp, %rsp
	pop	%rbp
	pop	%r11
	pop	%r10
	pop	%r9
	pop	%r8
	pop	%rdi
	pop	%rsi
	pop	%rdx
	pop	%rcx
	pop	%rax
	add	$16, %rsp		/* pin, cpu */
	popfq
	ret	$128
	.size pvmm_upcall_entry, . - pvmm_upcall_entry

	.section .note.GNU-stack, "", @progbits
