/*
 * For snapshot tests: `snap_counter.elf N [disk]` counts from 1 to N, one
 * step every 50 ms of guest time. Each step changes one page of a 64 KiB
 * buffer and prints "count I sum S", S a checksum of the whole buffer, so
 * a restored guest whose memory came back wrong prints a wrong sum. With
 * "disk", step I also writes sector I % 32 of the first disk ("count I"
 * repeated) and flushes. At the end it prints "done N sum S" and, with a
 * disk, reads every sector back and prints "disk ok" or what differs.
 * With "smp" (run with --cpus 2), CPU 1 counts too, one step every 10 ms
 * until CPU 0 is done; CPU 0 then joins it and prints "cpu1 ok" if it
 * counted at least N steps, never skipping back. Prints "ready" first.
 * With "fast" a step takes 1 ms; with "wide" each count line is padded
 * to WIDE_BYTES and written with one console call (looping on a short
 * write), more than a pipe of one page holds. Every POLL that returns
 * before its deadline (which a restore that skipped the call would do)
 * prints "poll returned early" and makes the exit status 6.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pvmm/blk.h>
#include <pvmm/guest.h>
#include <pvmm/smp.h>

#define BUF_BYTES (64u << 10)
#define SECTORS 32u
#define WIDE_BYTES 6000u

static uint8_t buf[BUF_BYTES];
static volatile unsigned cpu1_steps, cpu1_stop, cpu1_bad;
static unsigned early_polls;

/* Sleep until `ns` of guest time from now. A POLL with no interest ends
 * only at its deadline, in the CLOCK call's time. */
static void step_wait(uint64_t ns, unsigned i)
{
	uint64_t deadline = pvmm_clock(PVMM_CLOCK_MONOTONIC) + ns;
	pvmm_poll(deadline, 0, NULL);
	uint64_t now = pvmm_clock(PVMM_CLOCK_MONOTONIC);
	if (now < deadline) {
		early_polls++;
		printf("poll returned early at count %u: %llu ns before its deadline\n", i,
		       (unsigned long long)(deadline - now));
		fflush(stdout);
	}
}

/* One count line, padded with '.' to WIDE_BYTES, in as few console calls
 * as the monitor takes. */
static void print_wide(const char *line)
{
	static char wide[WIDE_BYTES];
	size_t n = strlen(line);
	memset(wide, '.', sizeof(wide));
	memcpy(wide, line, n - 1); /* without its newline */
	wide[sizeof(wide) - 1] = '\n';
	for (size_t done = 0; done < sizeof(wide);) {
		int64_t ret = pvmm_console_write(wide + done, sizeof(wide) - done);
		if (ret <= 0)
			return;
		done += (size_t)ret;
	}
}

static void cpu1_count(void *arg)
{
	(void)arg;
	while (!cpu1_stop) {
		unsigned before = cpu1_steps;
		cpu1_steps = before + 1;
		if (cpu1_steps != before + 1)
			cpu1_bad = 1;
		pvmm_poll(pvmm_now_ns() + 10 * PVMM_NS_PER_MS, 0, NULL);
	}
}

static uint32_t checksum(void)
{
	uint32_t s = 2166136261u;
	for (uint32_t i = 0; i < BUF_BYTES; i += 8) {
		uint64_t w;
		memcpy(&w, buf + i, 8);
		s = (s ^ (uint32_t)w) * 16777619u;
		s = (s ^ (uint32_t)(w >> 32) ^ i) * 16777619u;
	}
	return s;
}

static void sector_text(char *sec, unsigned i)
{
	char line[16];
	snprintf(line, sizeof(line), "count %08u\n", i);
	for (unsigned k = 0; k < 512; k += 16)
		memcpy(sec + k, line, 16);
}

int main(int argc, char **argv)
{
	unsigned n = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 20;
	bool use_disk = false, smp = false, fast = false, wide = false;
	for (int a = 2; a < argc; a++) {
		use_disk |= strcmp(argv[a], "disk") == 0;
		smp |= strcmp(argv[a], "smp") == 0;
		fast |= strcmp(argv[a], "fast") == 0;
		wide |= strcmp(argv[a], "wide") == 0;
	}
	struct blk_dev *disk = use_disk ? blk_open(0) : NULL;
	char sec[512];

	if (use_disk && !disk) {
		printf("no disk\n");
		return 3;
	}
	for (uint32_t i = 0; i < BUF_BYTES; i++)
		buf[i] = (uint8_t)(i * 7 + 1);
	if (smp && pvmm_cpu_start(1, cpu1_count, NULL)) {
		printf("cannot start CPU 1\n");
		return 5;
	}
	puts("ready");
	fflush(stdout);
	for (unsigned i = 1; i <= n; i++) {
		memset(buf + (i * 4096u) % BUF_BYTES, (int)(i & 0xff), 4096);
		if (disk) {
			sector_text(sec, i);
			if (blk_write(disk, i % SECTORS, sec, 1) || blk_flush(disk)) {
				printf("disk write failed at %u\n", i);
				return 4;
			}
		}
		char line[48];
		snprintf(line, sizeof(line), "count %u sum %08x\n", i, checksum());
		if (wide) {
			print_wide(line);
		} else {
			fputs(line, stdout);
			fflush(stdout);
		}
		step_wait((fast ? 1 : 50) * PVMM_NS_PER_MS, i);
	}
	printf("done %u sum %08x\n", n, checksum());
	if (smp) {
		cpu1_stop = 1;
		pvmm_cpu_join(1);
		printf(cpu1_steps >= n && !cpu1_bad ? "cpu1 ok\n" : "cpu1 counted %u%s\n", cpu1_steps,
		       cpu1_bad ? " and skipped" : "");
	}
	if (disk) {
		unsigned bad = 0;
		for (unsigned s = 0; s < SECTORS; s++) {
			char want[512];
			/* The last step that wrote sector s. */
			unsigned last = 0;
			for (unsigned i = 1; i <= n; i++)
				if (i % SECTORS == s)
					last = i;
			if (!last)
				memset(want, 0, sizeof(want));
			else
				sector_text(want, last);
			if (blk_read(disk, s, sec, 1) || memcmp(sec, want, 512) != 0)
				bad++;
		}
		if (bad)
			printf("disk: %u sectors differ\n", bad);
		else
			puts("disk ok");
	}
	return early_polls ? 6 : 0;
}
