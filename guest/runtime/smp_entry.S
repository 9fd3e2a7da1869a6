/*
 * Where a CPU started by pvmm_cpu_start() begins: rdi = its argument, rsp
 * = 16-byte aligned, pointing at {fn, cpu} that smp.c put on its stack.
 * `call` leaves rsp at 8 mod 16, what the SysV ABI expects at entry.
 */
	.text
	.globl pvmm_secondary_entry
	.type pvmm_secondary_entry, @function
pvmm_secondary_entry:
	cld
	xor	%ebp, %ebp
	mov	(%rsp), %rsi	/* fn */
	mov	8(%rsp), %rdx	/* cpu */
	call	pvmm_secondary_main	/* never returns */
	ud2
	.size pvmm_secondary_entry, . - pvmm_secondary_entry

	.section .note.GNU-stack, "", @progbits
