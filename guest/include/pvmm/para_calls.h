/*
 * pvmm para-API calls for guest code: one thin wrapper per call.
 *
 * A call is a single 32-bit `out` of the argument block's address to port
 * PVMM_PORT_BASE + N (see <pvmm/para.h>); the monitor writes the result into
 * the block's `ret` before the guest resumes. Blocks live on the stack or in
 * static storage: both are in RAM below 4 GiB, and _Alignas(8) keeps them
 * 8-byte aligned as the contract requires.
 *
 * The wrappers are static inline so that a call costs a handful of
 * instructions: guest code at CPL0 is interpreted on hosts without VT-x.
 */
#ifndef PVMM_PARA_CALLS_H
#define PVMM_PARA_CALLS_H

#include <stddef.h>
#include <stdint.h>
#include <pvmm/para.h>

/* Make call `call` with the argument block at `args` and return its `ret`.
 * Raw access for tests: nothing checks that `args` fits the call. */
static inline int64_t pvmm_hypercall(unsigned int call, void *args)
{
	/* "memory": the monitor reads the block and writes `ret`. */
	__asm__ volatile("outl %0, %1"
			 :
			 : "a"((uint32_t)(uintptr_t)args), "Nd"((uint16_t)(PVMM_PORT_BASE + call))
			 : "memory");
	return ((volatile struct pvmm_nop_args *)args)->ret;
}

/* NOP: returns 0. For tests and benchmarks. */
static inline int64_t pvmm_nop(void)
{
	_Alignas(8) struct pvmm_nop_args args = { 0 };
	return pvmm_hypercall(PVMM_CALL_NOP, &args);
}

/* Write len (<= PVMM_CONSOLE_MAX) bytes to the console: bytes written or
 * -PVMM_E*. stdio's printf & co. go through this. */
static inline int64_t pvmm_console_write(const void *buf, size_t len)
{
	_Alignas(8) struct pvmm_console_args args = {
		.buf = (uint64_t)(uintptr_t)buf,
		.len = len,
	};
	return pvmm_hypercall(PVMM_CALL_CONSOLE_WRITE, &args);
}

/* Read up to len bytes of console input without blocking: bytes read,
 * 0 at end of input, -PVMM_EAGAIN when nothing is there yet (poll first). */
static inline int64_t pvmm_console_read(void *buf, size_t len)
{
	_Alignas(8) struct pvmm_console_args args = {
		.buf = (uint64_t)(uintptr_t)buf,
		.len = len,
	};
	return pvmm_hypercall(PVMM_CALL_CONSOLE_READ, &args);
}

/* Read clock `id` (enum pvmm_clock_id) in ns; 0 if the monitor refuses the
 * id. */
static inline uint64_t pvmm_clock(uint32_t id)
{
	_Alignas(8) struct pvmm_clock_args args = { .clock = id };
	return pvmm_hypercall(PVMM_CALL_CLOCK, &args) < 0 ? 0 : args.ns;
}

/* Block until a device in `interest` (bit i = boot info device i) is ready
 * or the monotonic clock reaches deadline_ns. Returns the number of ready
 * devices (0: deadline passed) or -PVMM_E*; *ready (may be NULL) gets the
 * ready set. */
static inline int64_t pvmm_poll(uint64_t deadline_ns, uint64_t interest, uint64_t *ready)
{
	_Alignas(8) struct pvmm_poll_args args = {
		.deadline_ns = deadline_ns,
		.interest = interest,
	};
	int64_t ret = pvmm_hypercall(PVMM_CALL_POLL, &args);
	if (ready)
		*ready = ret < 0 ? 0 : args.ready;
	return ret;
}

/* Fill len (<= PVMM_RANDOM_MAX) bytes with random data: len or -PVMM_E*.
 * pvmm_getrandom() in <pvmm/guest.h> takes any length. */
static inline int64_t pvmm_random(void *buf, size_t len)
{
	_Alignas(8) struct pvmm_random_args args = {
		.buf = (uint64_t)(uintptr_t)buf,
		.len = len,
	};
	return pvmm_hypercall(PVMM_CALL_RANDOM, &args);
}

/* (1.5) The monitor's counts for this VM so far (VM exits by kind, virtio
 * kicks and interrupts, ...) into *st: bytes written, or -PVMM_E* (a 1.4
 * monitor answers -PVMM_ENOSYS). */
static inline int64_t pvmm_vm_stats(struct pvmm_vm_stats *st)
{
	_Alignas(8) struct pvmm_stats_args args = {
		.buf = (uint64_t)(uintptr_t)st,
		.len = sizeof(*st),
	};
	return pvmm_hypercall(PVMM_CALL_STATS, &args);
}

/* (1.2) Start secondary CPU `cpu` at `entry` with rsp = stack (16-byte
 * aligned) and rdi = arg, nothing else set up: 0 or -PVMM_E*. For tests;
 * pvmm_cpu_start() in <pvmm/smp.h> also makes a stack, loads the IDT and
 * calls C. */
static inline int64_t pvmm_cpu_start_raw(uint32_t cpu, uint64_t entry, uint64_t stack, uint64_t arg)
{
	_Alignas(8) struct pvmm_cpu_start_args args = {
		.cpu = cpu,
		.entry = entry,
		.stack = stack,
		.arg = arg,
	};
	return pvmm_hypercall(PVMM_CALL_CPU_START, &args);
}

/* Stop the VM; the monitor exits with `status` (0..63). For a status the
 * monitor refuses, the runtime aborts instead. Does not flush stdio: use
 * exit() for that. */
__attribute__((noreturn)) void pvmm_exit(uint64_t status);

/* Stop the VM on a software failure (kind PVMM_ABORT_PANIC) with a message
 * (msg may be NULL). Does not flush stdio: abort() and panic() do. */
__attribute__((noreturn)) void pvmm_abort(const char *msg, size_t len);

/* Same with kind PVMM_ABORT_FAULT and the CPU state of an exception. */
__attribute__((noreturn)) void pvmm_abort_fault(const char *msg, size_t len,
						const struct pvmm_fault *fault);

/* The boot info the monitor passed at entry (checked by the runtime). */
const struct pvmm_boot_info *pvmm_boot_info(void);

#endif /* PVMM_PARA_CALLS_H */
