/*
 * Secondary CPUs: the CPU count from the boot info, and pvmm_cpu_start(),
 * which starts a CPU at smp_entry.S with fn and its index on the new stack.
 */
#include <stdint.h>
#include <pvmm/guest.h>
#include "runtime.h"

void pvmm_secondary_entry(void);
__attribute__((noreturn)) void pvmm_secondary_main(void *arg, pvmm_cpu_fn fn, uint64_t cpu);

unsigned pvmm_cpu_count(void)
{
	const struct pvmm_boot_info *bi = pvmm_boot_info();
	/* A 1.1 monitor leaves the field 0. */
	return bi && bi->cpu_count ? bi->cpu_count : 1;
}

int pvmm_cpu_start(unsigned cpu, pvmm_cpu_fn fn, void *arg, void *stack, size_t size)
{
	uint64_t top = ((uint64_t)(uintptr_t)stack + size) & ~15ull;
	if (!fn || !stack || size < 64)
		return -PVMM_EINVAL;
	uint64_t *frame = (uint64_t *)(uintptr_t)(top - 16);
	frame[0] = (uint64_t)(uintptr_t)fn;
	frame[1] = cpu;
	return (int)pvmm_cpu_start_raw(cpu, (uint64_t)(uintptr_t)pvmm_secondary_entry, top - 16,
				       (uint64_t)(uintptr_t)arg);
}

void pvmm_secondary_main(void *arg, pvmm_cpu_fn fn, uint64_t cpu)
{
	idt_load();
	fn((unsigned)cpu, arg);
	/* Done: sleep in the monitor until the VM stops. */
	for (;;)
		pvmm_poll(UINT64_MAX, 0, NULL);
}
