/*
 * Guest entry point. The monitor starts the vCPU here in 64-bit mode with
 * rdi = struct pvmm_boot_info * and rsp = a 16-byte aligned stack top, so
 * the C runtime needs nothing more than a call: `call` leaves rsp at
 * 8 mod 16, exactly what the SysV ABI expects at a function's entry.
 */
	.section .text.entry, "ax"
	.globl _start
	.type _start, @function
_start:
	cld			/* the ABI wants DF clear; do not trust the reset value */
	xor	%ebp, %ebp	/* terminate frame-pointer chains for debuggers */
	call	pvmm_start	/* never returns */
	ud2
	.size _start, . - _start

	.section .note.GNU-stack, "", @progbits
