/*
 * A tiny PVH "kernel" for test_linux.sh: an ELF64 with Xen's
 * PHYS32_ENTRY note whose 32-bit entry checks the start info pvmm passes
 * in %ebx, runs int3 through its own IDT (the monitor raises #BP when
 * KVM cannot emulate int3 at CPL0), reads the CMOS RTC's status register,
 * and then either resets through the i8042 (the default) or, built with
 * -DEMULATION_FAILURE, executes an SSE instruction (which a host without
 * VT-x cannot run at CPL0) before the reset. Built with -DPOWEROFF it
 * checks the start info's RSDP and the ACPI sleep registers (0x600
 * control, 0x601 status; the DSDT's \_S5 is SLP_TYP 5): writes that must
 * not power off (SLP_TYP 5 without SLP_EN, SLP_EN with SLP_TYP 3), the
 * "woke at once" WAK_STS and its write-1-to-clear, then the S5 write;
 * should the VM go on, it says so and resets. With -DSPIN it ends in a
 * busy loop, for the stop tests.
 */
	.section .note.Xen, "a", @note
	.balign 4
	.long 4			/* name size: "Xen\0" */
	.long 4			/* descriptor size */
	.long 18		/* XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz "Xen"
	.long pvh_start

	.text
	.code32
	.globl pvh_start
pvh_start:
	mov $0x3f8, %dx
	cmpl $0x336ec578, (%ebx)	/* hvm_start_info.magic */
	jne bad_info
	lea msg_info, %esi
	call puts
	/* IDT vector 3: a 32-bit interrupt gate to bp_handler, selector 0x10. */
	mov $bp_handler, %eax
	mov %ax, idt + 3 * 8
	movw $0x10, idt + 3 * 8 + 2
	movw $0x8e00, idt + 3 * 8 + 4
	shr $16, %eax
	mov %ax, idt + 3 * 8 + 6
	lidt idt_desc
	int3
	cmpl $1, bp_count
	jne bad_bp
	lea msg_after, %esi
	call puts
	/* CMOS register A: the update-in-progress bit must be clear. */
	mov $0x0a, %al
	out %al, $0x70
	in $0x71, %al
	test $0x80, %al
	jnz bad_rtc
	lea msg_rtc, %esi
	call puts
#ifdef EMULATION_FAILURE
	xorps %xmm0, %xmm0
	lea msg_sse, %esi
	call puts
#endif
#ifdef POWEROFF
	cmpl $0xe0000, 32(%ebx)		/* hvm_start_info.rsdp_paddr */
	jne bad_rsdp
	cmpl $0x20445352, 0xe0000	/* "RSD " */
	jne bad_rsdp
	mov $0x600, %dx
	mov $0x14, %al			/* SLP_TYP 5, no SLP_EN */
	out %al, %dx
	mov $0x2c, %al			/* SLP_EN, SLP_TYP 3: no such state */
	out %al, %dx
	inc %dx
	in %dx, %al
	cmp $0x80, %al			/* WAK_STS: back at once */
	jne bad_sleep
	out %al, %dx			/* write 1 to clear */
	in %dx, %al
	test %al, %al
	jne bad_sleep
	mov $0x3f8, %dx
	lea msg_sleep, %esi
	call puts
	mov $0x600, %dx
	mov $0x34, %al			/* SLP_EN, SLP_TYP 5: S5 */
	out %al, %dx
	mov $0x3f8, %dx
	lea msg_alive, %esi
	call puts
#endif
#ifdef SPIN
	lea msg_spin, %esi
	call puts
3:	jmp 3b
#endif
	mov $0xfe, %al
	out %al, $0x64
1:	hlt
	jmp 1b

bp_handler:
	incl bp_count
	lea msg_bp, %esi
	call puts
	iret

bad_info:
	lea msg_bad_info, %esi
	jmp die
bad_bp:
	lea msg_bad_bp, %esi
	jmp die
bad_rtc:
	lea msg_bad_rtc, %esi
	jmp die
bad_rsdp:
	lea msg_bad_rsdp, %esi
	jmp die
bad_sleep:
	mov $0x3f8, %dx
	lea msg_bad_sleep, %esi
die:
	call puts
	ud2

/* puts: the NUL-terminated string at %esi to the UART at %dx. */
puts:
	lodsb
	test %al, %al
	jz 2f
	out %al, %dx
	jmp puts
2:	ret

	.data
msg_info:	.asciz "tiny-pvh: start info ok\n"
msg_bp:		.asciz "tiny-pvh: #BP handler ran\n"
msg_after:	.asciz "tiny-pvh: back from int3\n"
msg_rtc:	.asciz "tiny-pvh: rtc ok\n"
msg_sse:	.asciz "tiny-pvh: sse ran\n"
msg_bad_info:	.asciz "tiny-pvh: bad start info magic\n"
msg_bad_bp:	.asciz "tiny-pvh: int3 did not reach the handler once\n"
msg_bad_rtc:	.asciz "tiny-pvh: rtc update in progress\n"
msg_sleep:	.asciz "tiny-pvh: sleep registers ok\n"
msg_alive:	.asciz "tiny-pvh: still running after S5\n"
msg_spin:	.asciz "tiny-pvh: spinning\n"
msg_bad_rsdp:	.asciz "tiny-pvh: no RSDP at 0xe0000 in the start info\n"
msg_bad_sleep:	.asciz "tiny-pvh: sleep status register wrong\n"
	.balign 8
idt_desc:	.word 32 * 8 - 1
		.long idt
bp_count:	.long 0
	.balign 8
idt:		.space 32 * 8
