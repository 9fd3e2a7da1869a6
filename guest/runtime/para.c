/*
 * The para-API calls that do not return, and the saved boot info. The
 * others are static inline in <pvmm/para_calls.h>.
 */
#include <pvmm/irq.h>
#include <pvmm/para_calls.h>
#include "runtime.h"

static const struct pvmm_boot_info *boot_info;
bool runtime_one_cpu = true;

void para_set_boot_info(const struct pvmm_boot_info *bi)
{
	boot_info = bi;
	/* A 1.1 monitor leaves cpu_count 0: one CPU (pvmm_cpu_count). */
	runtime_one_cpu = bi->cpu_count <= 1;
}

const struct pvmm_boot_info *pvmm_boot_info(void)
{
	return boot_info;
}

/* Last resort if a call that should not return does: halt with interrupts
 * off, which a monitor sees as the vCPU stopping. At ring 3 cli and hlt
 * are privileged: ud2 instead, which the monitor reports as a fault. */
__attribute__((noreturn)) static void halt_forever(void)
{
	if (pvmm_ring() == 3)
		for (;;)
			__asm__ volatile("ud2");
	for (;;)
		__asm__ volatile("cli; hlt");
}

void pvmm_abort_fault(const char *msg, size_t len, const struct pvmm_fault *fault)
{
	_Alignas(8) struct pvmm_abort_args args = {
		.msg = (uint64_t)(uintptr_t)msg,
		.msg_len = msg ? len : 0,
		.kind = fault ? PVMM_ABORT_FAULT : PVMM_ABORT_PANIC,
	};
	if (fault)
		args.fault = *fault;
	pvmm_hypercall(PVMM_CALL_ABORT, &args);
	halt_forever();
}

/* Both drain stdio first (a no-op after exit(), panic() & co., which
 * did): output held back for batching is never lost. */
void pvmm_abort(const char *msg, size_t len)
{
	stdio_drain();
	pvmm_abort_fault(msg, len, NULL);
}

void pvmm_exit(uint64_t status)
{
	stdio_drain();
	runtime_exit_drained(status);
}

void runtime_exit_drained(uint64_t status)
{
	_Alignas(8) struct pvmm_exit_args args = { .status = status };
	pvmm_hypercall(PVMM_CALL_EXIT, &args);
	/* Only a status the monitor refuses (> 63) gets here. */
	static const char msg[] = "pvmm_exit: the monitor refused the exit status (outside 0..63)";
	pvmm_abort(msg, sizeof(msg) - 1);
}
