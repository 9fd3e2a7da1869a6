/* Loads an empty IDT (limit 0) and executes ud2: #UD cannot be delivered,
 * nor the #GP and #DF that follow, so the CPU shuts down and the monitor
 * reports a triple fault (status 66). */
#include <stdint.h>
#include <stdio.h>

int main(void)
{
	static const struct __attribute__((packed)) {
		uint16_t limit;
		uint64_t base;
	} empty_idt = { 0, 0 };

	puts("loading an empty IDT, then ud2");
	__asm__ volatile("lidt %0\n\tud2" : : "m"(empty_idt));
	puts("survived!");
	return 1;
}
