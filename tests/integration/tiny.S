/* The smallest pvmm guest: one console write, then exit(0). The image
 * tests link it at various addresses and corrupt copies of it. */
	.text
	.globl _start
_start:
	lea	console_args(%rip), %rax
	mov	$0x501, %dx		/* PVMM_PORT_BASE + PVMM_CALL_CONSOLE_WRITE */
	out	%eax, %dx
	lea	exit_args(%rip), %rax
	mov	$0x503, %dx		/* PVMM_PORT_BASE + PVMM_CALL_EXIT */
	out	%eax, %dx
	ud2

	.data
	.balign 8
message:
	.ascii "tiny guest\n"
	.balign 8
console_args:
	.quad 0, message, 11
exit_args:
	.quad 0, 0
