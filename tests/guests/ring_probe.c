/*
 * What a guest may and may not do at each ring: `ring_probe.elf CASE`.
 *   ring         print the boot info `ring` and the CPL (CS & 3)
 *   write_pml4   write the monitor's PML4 (0x2000)
 *   write_gdt    write the monitor's GDT (0x1000)
 *   write_idt    write the monitor's ring-3 IDT (0xd6000)
 *   out_trap     a 32-bit out to the trap port (PVMM_PORT_TRAP)
 *   out_closed   an out to port 0x80, which no bitmap bit opens
 *   cli          execute cli
 *   irq          pvmm_irq_enable(): "irq enabled" or "irq unavailable"
 *   upcall_args  PVMM_CALL_UPCALL with bad arguments: prints each ret
 *   irq_bad_stack  (--console uart) take interrupts, point rsp at the
 *                monitor's IDT, make the UART interrupt: the monitor must
 *                refuse to push the upcall frame there and stop the VM
 *   irq_keeps_sse  (--console uart, ring 3) 200 UART interrupts whose
 *                handler zeroes xmm0..15 while the interrupted code holds
 *                a pattern in them: "sse kept N" or "sse lost at round R"
 *   compute      a few million multiply-adds, then "compute ok SUM"
 * Each case that should fault prints "probing CASE" first; reaching the
 * end of one prints "survived CASE" and exits 3.
 */
#include <stdio.h>
#include <string.h>
#include <pvmm/guest.h>
#include <pvmm/irq.h>
#include <pvmm/para_calls.h>

static uint16_t uart_ier(void)
{
	const struct pvmm_boot_info *bi = pvmm_boot_info();
	for (unsigned i = 0; i < bi->device_count; i++)
		if (bi->devices[i].type == PVMM_DEV_UART_16550)
			return (uint16_t)(bi->devices[i].mmio_base + 1);
	return 0;
}

static uint16_t sse_ier;
static volatile uint64_t sse_handled;

/* Clobbers every XMM register: the upcall entry must restore them. */
static void sse_clobbering_irq(unsigned pin, void *arg)
{
	(void)pin;
	(void)arg;
	__asm__ volatile("pxor %xmm0, %xmm0; pxor %xmm1, %xmm1; pxor %xmm2, %xmm2; pxor %xmm3, %xmm3\n\t"
			 "pxor %xmm4, %xmm4; pxor %xmm5, %xmm5; pxor %xmm6, %xmm6; pxor %xmm7, %xmm7\n\t"
			 "pxor %xmm8, %xmm8; pxor %xmm9, %xmm9; pxor %xmm10, %xmm10; pxor %xmm11, %xmm11\n\t"
			 "pxor %xmm12, %xmm12; pxor %xmm13, %xmm13; pxor %xmm14, %xmm14; pxor %xmm15, %xmm15");
	__asm__ volatile("outb %0, %1" : : "a"((uint8_t)0), "Nd"(sse_ier));
	sse_handled++;
}

static int irq_keeps_sse(void)
{
	static _Alignas(16) uint8_t pattern[256], back[256];
	unsigned pin = 4;
	sse_ier = uart_ier();
	for (unsigned i = 0; i < pvmm_boot_info()->device_count; i++)
		if (pvmm_boot_info()->devices[i].type == PVMM_DEV_UART_16550)
			pin = pvmm_boot_info()->devices[i].irq;
	if (!sse_ier || pvmm_irq_register(pin, sse_clobbering_irq, NULL) || pvmm_irq_enable()) {
		puts("irq_keeps_sse needs --console uart and interrupts");
		return 2;
	}
	for (unsigned i = 0; i < sizeof(pattern); i++)
		pattern[i] = (uint8_t)(i * 7 + 1);
	for (unsigned round = 0; round < 200; round++) {
		uint64_t want = sse_handled + 1;
		/* Load the pattern, make the UART interrupt, wait for the
		 * handler, store the registers: no C code in between. */
		__asm__ volatile("movdqa 0(%0), %%xmm0; movdqa 16(%0), %%xmm1; movdqa 32(%0), %%xmm2; movdqa 48(%0), %%xmm3\n\t"
				 "movdqa 64(%0), %%xmm4; movdqa 80(%0), %%xmm5; movdqa 96(%0), %%xmm6; movdqa 112(%0), %%xmm7\n\t"
				 "movdqa 128(%0), %%xmm8; movdqa 144(%0), %%xmm9; movdqa 160(%0), %%xmm10; movdqa 176(%0), %%xmm11\n\t"
				 "movdqa 192(%0), %%xmm12; movdqa 208(%0), %%xmm13; movdqa 224(%0), %%xmm14; movdqa 240(%0), %%xmm15\n\t"
				 "outb %%al, %%dx\n\t"
				 "1: pause\n\t"
				 "cmp %3, %2\n\t"
				 "jb 1b\n\t"
				 "movdqa %%xmm0, 0(%1); movdqa %%xmm1, 16(%1); movdqa %%xmm2, 32(%1); movdqa %%xmm3, 48(%1)\n\t"
				 "movdqa %%xmm4, 64(%1); movdqa %%xmm5, 80(%1); movdqa %%xmm6, 96(%1); movdqa %%xmm7, 112(%1)\n\t"
				 "movdqa %%xmm8, 128(%1); movdqa %%xmm9, 144(%1); movdqa %%xmm10, 160(%1); movdqa %%xmm11, 176(%1)\n\t"
				 "movdqa %%xmm12, 192(%1); movdqa %%xmm13, 208(%1); movdqa %%xmm14, 224(%1); movdqa %%xmm15, 240(%1)"
				 : : "r"(pattern), "r"(back), "m"(sse_handled), "r"(want), "a"((uint8_t)2), "d"(sse_ier)
				 : "memory", "cc");
		if (memcmp(pattern, back, sizeof(pattern))) {
			printf("sse lost at round %u\n", round);
			return 1;
		}
	}
	pvmm_irq_disable();
	printf("sse kept %llu\n", (unsigned long long)pvmm_irq_count(pin));
	return 0;
}

static void poke(uint64_t addr)
{
	*(volatile uint64_t *)(uintptr_t)addr = 0;
}

int main(int argc, char **argv)
{
	const char *c = argc > 1 ? argv[1] : "";

	if (!strcmp(c, "ring")) {
		printf("boot ring %u cpl %u\n", pvmm_boot_info()->ring, pvmm_ring());
		return 0;
	}
	if (!strcmp(c, "irq")) {
		if (pvmm_irq_enable() == 0) {
			pvmm_irq_disable();
			puts("irq enabled");
		} else {
			puts("irq unavailable: interrupts not available in ring 3");
		}
		return 0;
	}
	if (!strcmp(c, "upcall_args")) {
		static _Alignas(16) struct pvmm_upcall_info info;
		const struct { const char *what; uint64_t entry, info; } cases[] = {
			{ "unaligned", 0x100000, (uint64_t)(uintptr_t)&info + 8 },
			{ "outside", 0x100000, 0xfff00000 },
			{ "monitor", 0x100000, 0xd6000 },
		};
		for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			_Alignas(8) struct pvmm_upcall_args a = { .entry = cases[i].entry, .info = cases[i].info };
			printf("upcall %s ret %lld\n", cases[i].what, (long long)pvmm_hypercall(PVMM_CALL_UPCALL, &a));
		}
		return 0;
	}
	if (!strcmp(c, "irq_keeps_sse"))
		return irq_keeps_sse();
	if (!strcmp(c, "irq_bad_stack")) {
		uint16_t ier = uart_ier();
		if (!ier || pvmm_irq_enable() != 0) {
			puts("irq_bad_stack needs --console uart and interrupts");
			return 2;
		}
		puts("probing irq_bad_stack");
		fflush(stdout);
		/* IER = THR empty: the UART interrupts at once. No stack from
		 * here on: the spin needs none. */
		__asm__ volatile("mov $0xd6800, %%rsp\n\t"
				 "outb %%al, %%dx\n\t"
				 "1: pause\n\t"
				 "jmp 1b"
				 : : "a"(2), "d"(ier) : "memory");
	}
	if (!strcmp(c, "compute")) {
		uint64_t sum = 0;
		for (uint64_t i = 0; i < 4000000; i++)
			sum = sum * 6364136223846793005ull + i;
		printf("compute ok %llu\n", (unsigned long long)sum);
		return 0;
	}
	printf("probing %s\n", c);
	fflush(stdout);
	if (!strcmp(c, "write_pml4"))
		poke(0x2000);
	else if (!strcmp(c, "write_gdt"))
		poke(0x1000);
	else if (!strcmp(c, "write_idt"))
		poke(0xd6000);
	else if (!strcmp(c, "out_trap")) {
		_Alignas(8) struct pvmm_nop_args a = { 0 };
		int64_t r = pvmm_hypercall(PVMM_PORT_TRAP - PVMM_PORT_BASE, &a);
		printf("trap port call returned %lld\n", (long long)r);
	} else if (!strcmp(c, "out_closed"))
		__asm__ volatile("outb %%al, $0x80" : : "a"(0));
	else if (!strcmp(c, "cli"))
		__asm__ volatile("cli");
	else {
		puts("unknown case");
		return 2;
	}
	printf("survived %s\n", c);
	return 3;
}
