/*
 * A tiny PVH "kernel" for test_linux.sh: lists what PCI configuration
 * mechanism #1 (ports 0xcf8/0xcfc) shows on bus 0, one line per function
 * 0 that answers ("tiny-pci: 00:DD.0 VVVV:DDDD class CCCCCC irq-line NN",
 * hex), then "tiny-pci: done", and resets through the i8042. This is
 * what Linux's PCI probe reads first: the virtio devices pvmm gives a
 * kernel must be there.
 */
	.section .note.Xen, "a", @note
	.balign 4
	.long 4
	.long 4
	.long 18		/* XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz "Xen"
	.long pvh_start

	.text
	.code32
	.globl pvh_start
pvh_start:
	mov $stack_top, %esp
	xor %ebx, %ebx			/* device number */
next_dev:
	mov %ebx, %eax
	shl $11, %eax
	or $0x80000000, %eax		/* enable, bus 0, function 0, register 0 */
	mov %eax, %edi			/* this device's address */
	mov $0xcf8, %dx
	out %eax, %dx
	mov $0xcfc, %dx
	in %dx, %eax
	cmp $0xffffffff, %eax
	je skip
	mov %eax, %ebp			/* device:vendor */
	lea msg_dev, %esi
	call puts
	mov %ebx, %eax
	mov $2, %ecx
	call puthex
	lea msg_fn, %esi
	call puts
	mov %ebp, %eax
	mov $4, %ecx
	call puthex			/* vendor: the low half */
	mov $':', %al
	call putc
	mov %ebp, %eax
	shr $16, %eax
	mov $4, %ecx
	call puthex
	lea msg_class, %esi
	call puts
	lea 8(%edi), %eax		/* register 8: class code and revision */
	call cfg_read
	shr $8, %eax
	mov $6, %ecx
	call puthex
	lea msg_irq, %esi
	call puts
	lea 0x3c(%edi), %eax		/* interrupt line */
	call cfg_read
	and $0xff, %eax
	mov $2, %ecx
	call puthex
	mov $'\n', %al
	call putc
skip:
	inc %ebx
	cmp $32, %ebx
	jb next_dev
	lea msg_done, %esi
	call puts
	mov $0xfe, %al
	out %al, $0x64
1:	hlt
	jmp 1b

/* cfg_read: the dword at configuration address %eax, into %eax. */
cfg_read:
	push %edx
	mov $0xcf8, %dx
	out %eax, %dx
	mov $0xcfc, %dx
	in %dx, %eax
	pop %edx
	ret

/* putc: %al to the UART. */
putc:
	push %edx
	mov $0x3f8, %dx
	out %al, %dx
	pop %edx
	ret

/* puts: the NUL-terminated string at %esi. */
puts:
	push %eax
3:	lodsb
	test %al, %al
	jz 4f
	call putc
	jmp 3b
4:	pop %eax
	ret

/* puthex: the low %ecx hex digits of %eax, most significant first. */
puthex:
	push %eax
	push %edx
	mov %eax, %edx
	shl $2, %ecx
5:	sub $4, %ecx
	mov %edx, %eax
	shr %cl, %eax
	and $0xf, %eax
	mov hexdigits(%eax), %al
	call putc
	test %ecx, %ecx
	jnz 5b
	pop %edx
	pop %eax
	ret

	.data
hexdigits:	.ascii "0123456789abcdef"
msg_dev:	.asciz "tiny-pci: 00:"
msg_fn:		.asciz ".0 "
msg_class:	.asciz " class "
msg_irq:	.asciz " irq-line "
msg_done:	.asciz "tiny-pci: done\n"
	.balign 16
	.space 1024
stack_top:
