/*
 * A tour of the para-API: make every call once or twice and check what
 * comes back. Each check prints `ok NAME` or `FAIL NAME: detail`; the exit
 * status is 0 only if all passed.
 *
 *   build/pvmm run build/examples/paratour.elf </dev/null
 *   echo hi | build/pvmm run build/examples/paratour.elf
 */
#include <stdio.h>
#include <string.h>
#include <pvmm/guest.h>

static int failures;

static void check(int ok, const char *name, const char *detail)
{
	if (ok) {
		printf("ok %s\n", name);
	} else {
		printf("FAIL %s: %s\n", name, detail);
		failures++;
	}
}

static void tour_version(const struct pvmm_boot_info *bi)
{
	printf("monitor para-API %u.%u, guest built for %u.%u\n",
	       PVMM_VERSION_MAJOR_OF(bi->version), bi->version & 0xffff,
	       PVMM_PARA_VERSION_MAJOR, PVMM_PARA_VERSION_MINOR);
	check(bi->magic == PVMM_BOOT_MAGIC, "boot_magic", "wrong magic");
	check(PVMM_VERSION_MAJOR_OF(bi->version) == PVMM_PARA_VERSION_MAJOR, "version",
	      "major version differs");
}

static void tour_boot_info(const struct pvmm_boot_info *bi)
{
	printf("memory %llu MiB, usable %#llx..%#llx, stack top %#llx (%llu KiB)\n",
	       (unsigned long long)(bi->mem_size >> 20),
	       (unsigned long long)bi->usable_start, (unsigned long long)bi->usable_end,
	       (unsigned long long)bi->stack_top, (unsigned long long)(bi->stack_size >> 10));
	printf("argc %u, %u device(s)\n", bi->argc, bi->device_count);
	for (uint32_t i = 0; i < bi->device_count && i < PVMM_MAX_DEVICES; i++)
		printf("  device %u: type %u, irq %d\n", i, bi->devices[i].type,
		       bi->devices[i].irq == PVMM_NO_IRQ ? -1 : (int)bi->devices[i].irq);
	extern char _image_end[];
	check(bi->usable_start >= (uintptr_t)_image_end && bi->usable_start < bi->usable_end &&
	      bi->usable_end <= bi->mem_size && bi->usable_start % PVMM_PAGE_SIZE == 0,
	      "boot_info", "usable range not after the image and inside RAM");
	check(bi->device_count >= 1 && bi->devices[0].type == PVMM_DEV_CONSOLE,
	      "boot_info_console", "device 0 is not the console");
}

static void tour_console_write(void)
{
	static const char line[] = "console write: direct call\n";
	fflush(stdout); /* keep the order of lines */
	int64_t ret = pvmm_console_write(line, sizeof(line) - 1);
	check(ret == (int64_t)sizeof(line) - 1, "console_write", "wrong byte count");
}

static void tour_clocks(void)
{
	uint64_t m1 = pvmm_clock(PVMM_CLOCK_MONOTONIC);
	uint64_t m2 = pvmm_clock(PVMM_CLOCK_MONOTONIC);
	check(m1 > 0 && m2 >= m1, "clock_monotonic", "zero or going back");
	uint64_t w = pvmm_clock(PVMM_CLOCK_WALL);
	/* 2020-01-01 .. 2100-01-01 */
	check(w > 1577836800ull * PVMM_NS_PER_S && w < 4102444800ull * PVMM_NS_PER_S,
	      "clock_wall", "not a date between 2020 and 2100");
	uint64_t t0 = pvmm_now_ns();
	sleep_ns(1 * PVMM_NS_PER_MS);
	uint64_t t1 = pvmm_now_ns();
	check(t1 >= t0 + PVMM_NS_PER_MS, "clock_advances", "1 ms sleep took less than 1 ms");
	check(pvmm_wall_ns() > w, "clock_wall_advances", "wall clock did not move");
}

static void tour_poll(void)
{
	uint64_t start = pvmm_now_ns();
	uint64_t ready = ~0ull;
	int64_t ret = pvmm_poll(start + 10 * PVMM_NS_PER_MS, 0, &ready);
	uint64_t elapsed = pvmm_now_ns() - start;
	printf("poll for 10 ms: ret %lld after %llu us\n", (long long)ret,
	       (unsigned long long)(elapsed / 1000));
	check(ret == 0 && ready == 0, "poll_deadline", "did not return 0 ready");
	check(elapsed >= 10 * PVMM_NS_PER_MS, "poll_waits", "returned before the deadline");
}

static void tour_random(void)
{
	unsigned char buf[32] = { 0 };
	int64_t ret = pvmm_random(buf, sizeof(buf));
	int nonzero = 0;
	for (size_t i = 0; i < sizeof(buf); i++)
		nonzero |= buf[i];
	check(ret == (int64_t)sizeof(buf), "random", "wrong byte count");
	check(nonzero, "random_data", "32 zero bytes");
}

/* (1.5) The monitor's counts: this call's own exit and call are in them. */
static void tour_stats(void)
{
	struct pvmm_vm_stats st;
	memset(&st, 0, sizeof(st));
	int64_t ret = pvmm_vm_stats(&st);
	check(ret == (int64_t)sizeof(st), "stats", "wrong byte count");
	check(st.exits >= st.calls && st.calls >= 1 && st.exits_io >= 1, "stats_counts", "exits or calls not counted");
}

static void tour_console_input(void)
{
	/* Poll with a deadline already past: reports what is ready now. */
	uint64_t ready = 0;
	int64_t ret = pvmm_poll(0, 1, &ready);
	check(ret >= 0, "console_poll", "poll on device 0 failed");
	if (!(ready & 1)) {
		printf("ok console_read: skipped, no input ready\n");
		return;
	}
	char buf[64];
	int64_t n = pvmm_console_read(buf, sizeof(buf));
	if (n < 0) {
		check(0, "console_read", "read failed although poll said ready");
	} else {
		printf("console read %lld byte(s): \"%.*s\"\n", (long long)n,
		       (int)(n > 0 && buf[n - 1] == '\n' ? n - 1 : n), buf);
		check(1, "console_read", "");
	}
}

static void tour_nop(void)
{
	check(pvmm_nop() == 0, "nop", "did not return 0");
}

int main(void)
{
	const struct pvmm_boot_info *bi = pvmm_boot_info();
	tour_version(bi);
	tour_boot_info(bi);
	tour_console_write();
	tour_clocks();
	tour_poll();
	tour_random();
	tour_stats();
	tour_console_input();
	tour_nop();
	printf("%s: %d failure(s)\n", failures ? "FAIL" : "ok paratour", failures);
	return failures ? 1 : 0;
}
