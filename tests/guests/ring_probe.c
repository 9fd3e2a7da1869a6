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
 *   compute      a few million multiply-adds, then "compute ok SUM"
 * Each case that should fault prints "probing CASE" first; reaching the
 * end of one prints "survived CASE" and exits 3.
 */
#include <stdio.h>
#include <string.h>
#include <pvmm/guest.h>
#include <pvmm/irq.h>
#include <pvmm/para_calls.h>

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
	if (!strcmp(c, "irq_bad_stack")) {
		const struct pvmm_boot_info *bi = pvmm_boot_info();
		uint16_t ier = 0;
		for (unsigned i = 0; i < bi->device_count; i++)
			if (bi->devices[i].type == PVMM_DEV_UART_16550)
				ier = (uint16_t)(bi->devices[i].mmio_base + 1);
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
