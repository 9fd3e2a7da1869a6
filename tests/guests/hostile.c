/*
 * Hostile para-API use, one case per run: `hostile.elf CASE`; no argument
 * lists the cases.
 *
 * Recoverable cases make one bad call with a hand-made argument block and
 * print `CASE result=RET` (RET is the block's `ret`, a -PVMM_E* code), then
 * exit 0: the monitor must refuse the call and let the guest carry on.
 *
 * Fatal cases make a call the monitor cannot answer (no valid block to put
 * an error in, or a port access of the wrong kind); the monitor must stop
 * the VM with status 68 (PVMM_STATUS_BADCALL). If it does not, the guest
 * prints `CASE survived` and exits 1.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <pvmm/guest.h>

#define PORT(call) ((uint16_t)(PVMM_PORT_BASE + (call)))

/* A raw 32-bit out of any value: the blocks of the fatal cases are not
 * addressable objects. */
static void out32(uint16_t port, uint32_t value)
{
	__asm__ volatile("outl %0, %1" : : "a"(value), "Nd"(port) : "memory");
}

static int64_t console_write_raw(uint64_t buf, uint64_t len)
{
	_Alignas(8) struct pvmm_console_args a = { .buf = buf, .len = len };
	return pvmm_hypercall(PVMM_CALL_CONSOLE_WRITE, &a);
}

static int64_t random_raw(uint64_t buf, uint64_t len)
{
	_Alignas(8) struct pvmm_random_args a = { .buf = buf, .len = len };
	return pvmm_hypercall(PVMM_CALL_RANDOM, &a);
}

static int64_t clock_raw(uint32_t id, uint32_t reserved)
{
	_Alignas(8) struct pvmm_clock_args a = { .clock = id, .reserved = reserved };
	return pvmm_hypercall(PVMM_CALL_CLOCK, &a);
}

static uint64_t mem_size(void)
{
	return pvmm_boot_info()->mem_size;
}

/* ---- Recoverable: the call fails with an error code ---------------- */

static int64_t case_nop(void)
{
	return pvmm_nop(); /* sanity: 0 */
}

static int64_t case_console_outside_ram(void)
{
	return console_write_raw(mem_size(), 16); /* -EFAULT */
}

static int64_t case_console_straddles_end(void)
{
	return console_write_raw(mem_size() - 8, 16); /* -EFAULT */
}

static int64_t case_console_wrap(void)
{
	/* buf + len wraps past 2^64; len is also over the limit, and the
	 * monitor checks the limit first: -EINVAL. */
	return console_write_raw(PVMM_IMAGE_MIN, UINT64_MAX);
}

static int64_t case_console_wrap_short(void)
{
	/* A length within the limit whose end still wraps: -EFAULT. */
	return console_write_raw(UINT64_MAX - 7, 16);
}

static int64_t case_console_too_long(void)
{
	/* The buffer lies in RAM (RAM is at least 4 MiB), only len is bad. */
	return console_write_raw(PVMM_IMAGE_MIN, PVMM_CONSOLE_MAX + 1); /* -EINVAL */
}

static int64_t case_random_outside_ram(void)
{
	return random_raw(mem_size(), 16); /* -EFAULT */
}

static int64_t case_random_too_long(void)
{
	return random_raw(pvmm_boot_info()->usable_start, PVMM_RANDOM_MAX + 1); /* -EINVAL */
}

/* ---- Monitor-private memory: buffers aimed at the monitor's structures */

static int64_t console_read_raw(uint64_t buf, uint64_t len)
{
	_Alignas(8) struct pvmm_console_args a = { .buf = buf, .len = len };
	return pvmm_hypercall(PVMM_CALL_CONSOLE_READ, &a);
}

static int64_t case_read_into_idt(void)
{
	return console_read_raw(0xd6000, 512); /* the ring-3 IDT: -EFAULT */
}

static int64_t case_random_into_idt(void)
{
	return random_raw(0xd6000, 512); /* -EFAULT */
}

static int64_t case_random_into_pml4(void)
{
	return random_raw(0x2000, 4096); /* -EFAULT */
}

static int64_t case_read_into_page_table(void)
{
	return console_read_raw(0x8000, 64); /* the first 2 MiB's page table: -EFAULT */
}

static int64_t case_random_into_gdt(void)
{
	return random_raw(0x1000, 64); /* -EFAULT */
}

static int64_t case_random_into_clock_page(void)
{
	return random_raw(0xd8000, 64); /* the PV clock page: -EFAULT */
}

static int64_t case_random_into_stubs(void)
{
	return random_raw(0xd7000, 16); /* the ring-3 exception stubs: -EFAULT */
}

static int64_t case_random_into_mmu_pool(void)
{
	return random_raw(0x100000000ull, 64); /* the PV MMU's table pool: -EFAULT */
}

static int64_t case_random_straddles_private(void)
{
	return random_raw(0xb000 - 8, 16); /* args area into the guard page: -EFAULT */
}

static int64_t case_random_into_stack(void)
{
	_Alignas(8) unsigned char buf[32];
	return random_raw((uint64_t)(uintptr_t)buf, sizeof(buf)); /* the main stack is the guest's: 32 */
}

/* All of the above, then a fault: the monitor's IDT and page tables are
 * intact, so the fault gets the usual report (status 65). */
static int64_t case_private_then_fault(void)
{
	printf("private_then_fault %lld %lld %lld %lld %lld\n", (long long)case_read_into_idt(),
	       (long long)case_random_into_idt(), (long long)case_random_into_pml4(),
	       (long long)case_read_into_page_table(), (long long)case_random_into_stubs());
	fflush(stdout);
	return *(volatile int *)0;
}

static int64_t case_clock_bad_id(void)
{
	return clock_raw(2, 0); /* -EINVAL */
}

static int64_t case_clock_reserved(void)
{
	return clock_raw(PVMM_CLOCK_MONOTONIC, 1); /* -EINVAL */
}

static int64_t case_poll_bad_interest(void)
{
	/* The bit just above the last listed device. */
	_Alignas(8) struct pvmm_poll_args a = {
		.deadline_ns = 0,
		.interest = 1ull << pvmm_boot_info()->device_count,
	};
	return pvmm_hypercall(PVMM_CALL_POLL, &a); /* -EINVAL */
}

static int64_t case_unknown_call(void)
{
	_Alignas(8) struct pvmm_nop_args a = { 0 };
	return pvmm_hypercall(PVMM_PORT_COUNT - 1, &a); /* -ENOSYS */
}

static int64_t case_exit_too_big(void)
{
	_Alignas(8) struct pvmm_exit_args a = { .status = 200 };
	return pvmm_hypercall(PVMM_CALL_EXIT, &a); /* -EINVAL, and we go on */
}

static int64_t case_abort_bad_kind(void)
{
	_Alignas(8) struct pvmm_abort_args a = { .kind = 7 };
	return pvmm_hypercall(PVMM_CALL_ABORT, &a); /* -EINVAL, and we go on */
}

/* ---- Fatal: the monitor must stop the VM (status 68) --------------- */

static int64_t case_block_outside_ram(void)
{
	out32(PORT(PVMM_CALL_NOP), 0xF0000000u);
	return 0;
}

static int64_t case_block_straddles_end(void)
{
	/* A 24-byte console block whose last 16 bytes lie past RAM. */
	out32(PORT(PVMM_CALL_CONSOLE_WRITE), (uint32_t)(mem_size() - 8));
	return 0;
}

static int64_t case_block_misaligned(void)
{
	out32(PORT(PVMM_CALL_NOP), 0x200001u);
	return 0;
}

static int64_t case_byte_out(void)
{
	__asm__ volatile("outb %0, %1" : : "a"((uint8_t)0), "Nd"(PORT(PVMM_CALL_NOP)) : "memory");
	return 0;
}

static int64_t case_port_in(void)
{
	uint32_t v;
	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(PORT(PVMM_CALL_NOP)) : "memory");
	return v;
}

struct hostile_case {
	const char *name;
	int64_t (*run)(void);
	int fatal;
	const char *what;
};

static const struct hostile_case cases[] = {
	{ "nop", case_nop, 0, "valid NOP (sanity) -> 0" },
	{ "console_outside_ram", case_console_outside_ram, 0, "console write, buf at mem_size -> -EFAULT" },
	{ "console_straddles_end", case_console_straddles_end, 0, "console write, buf runs past RAM -> -EFAULT" },
	{ "console_wrap", case_console_wrap, 0, "console write, buf 1 MiB, len UINT64_MAX -> -EINVAL (len over limit)" },
	{ "console_wrap_short", case_console_wrap_short, 0, "console write, buf 2^64-8, len 16 -> -EFAULT" },
	{ "console_too_long", case_console_too_long, 0, "console write, len PVMM_CONSOLE_MAX+1 -> -EINVAL" },
	{ "random_outside_ram", case_random_outside_ram, 0, "random, buf at mem_size -> -EFAULT" },
	{ "random_too_long", case_random_too_long, 0, "random, len PVMM_RANDOM_MAX+1 -> -EINVAL" },
	{ "read_into_idt", case_read_into_idt, 0, "console read into the ring-3 IDT -> -EFAULT" },
	{ "random_into_idt", case_random_into_idt, 0, "random into the ring-3 IDT -> -EFAULT" },
	{ "random_into_pml4", case_random_into_pml4, 0, "random into the PML4 -> -EFAULT" },
	{ "read_into_page_table", case_read_into_page_table, 0, "console read into the low page table -> -EFAULT" },
	{ "random_into_gdt", case_random_into_gdt, 0, "random into the GDT -> -EFAULT" },
	{ "random_into_clock_page", case_random_into_clock_page, 0, "random into the PV clock page -> -EFAULT" },
	{ "random_into_stubs", case_random_into_stubs, 0, "random into the exception stubs -> -EFAULT" },
	{ "random_into_mmu_pool", case_random_into_mmu_pool, 0, "random into the PV MMU pool -> -EFAULT" },
	{ "random_straddles_private", case_random_straddles_private, 0, "random from the args into a guard -> -EFAULT" },
	{ "random_into_stack", case_random_into_stack, 0, "random into the guest's own stack -> 32" },
	{ "private_then_fault", case_private_then_fault, 0, "all of those, then a NULL read -> fault report (65)" },
	{ "clock_bad_id", case_clock_bad_id, 0, "clock id 2 -> -EINVAL" },
	{ "clock_reserved", case_clock_reserved, 0, "clock reserved field 1 -> -EINVAL" },
	{ "poll_bad_interest", case_poll_bad_interest, 0, "poll on a device that does not exist -> -EINVAL" },
	{ "unknown_call", case_unknown_call, 0, "call 15 (in the port range, undefined) -> -ENOSYS" },
	{ "exit_too_big", case_exit_too_big, 0, "exit status 200 -> -EINVAL, guest goes on" },
	{ "abort_bad_kind", case_abort_bad_kind, 0, "abort kind 7 -> -EINVAL, guest goes on" },
	{ "block_outside_ram", case_block_outside_ram, 1, "block at 0xF0000000 -> VM stopped (68)" },
	{ "block_straddles_end", case_block_straddles_end, 1, "block runs past RAM -> VM stopped (68)" },
	{ "block_misaligned", case_block_misaligned, 1, "block at 0x200001 -> VM stopped (68)" },
	{ "byte_out", case_byte_out, 1, "8-bit out to a para port -> VM stopped (68)" },
	{ "port_in", case_port_in, 1, "32-bit in from a para port -> VM stopped (68)" },
};

int main(int argc, char **argv)
{
	const size_t count = sizeof(cases) / sizeof(cases[0]);
	if (argc < 2) {
		printf("usage: hostile.elf CASE\n");
		for (size_t i = 0; i < count; i++)
			printf("  %-22s %s\n", cases[i].name, cases[i].what);
		return 0;
	}
	for (size_t i = 0; i < count; i++) {
		const struct hostile_case *c = &cases[i];
		if (strcmp(argv[1], c->name) != 0)
			continue;
		if (c->fatal) {
			printf("%s: expecting the monitor to stop the VM\n", c->name);
			fflush(stdout);
			int64_t ret = c->run();
			printf("%s survived (result=%lld)\n", c->name, (long long)ret);
			return 1;
		}
		printf("%s result=%lld\n", c->name, (long long)c->run());
		return 0;
	}
	printf("hostile.elf: unknown case '%s' (run without arguments for the list)\n", argv[1]);
	return 2;
}
