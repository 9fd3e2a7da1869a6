#include "stats.h"

#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <linux/kvm.h>

uint64_t stats_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Peak RSS of this process image. Not getrusage's ru_maxrss: Linux carries
 * the peak of the image that exec'd pvmm into it. */
static long peak_rss_kib(void)
{
	char line[128];
	long kib = -1;
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "VmHWM:", 6) == 0) {
			kib = strtol(line + 6, NULL, 10);
			break;
		}
	fclose(f);
	return kib;
}

const char *stats_exit_name(unsigned reason)
{
	switch (reason) {
	case KVM_EXIT_IO: return "io";
	case KVM_EXIT_MMIO: return "mmio";
	case KVM_EXIT_HLT: return "hlt";
	case KVM_EXIT_SHUTDOWN: return "shutdown";
	case KVM_EXIT_FAIL_ENTRY: return "fail_entry";
	case KVM_EXIT_INTR: return "intr";
	case KVM_EXIT_INTERNAL_ERROR: return "internal_error";
	case KVM_EXIT_SYSTEM_EVENT: return "system_event";
	case KVM_EXIT_DEBUG: return "debug";
	case KVM_EXIT_EXCEPTION: return "exception";
	default: return "other";
	}
}

const char *stats_call_name(unsigned call)
{
	static const char *const names[PVMM_CALL_COUNT] = {
		[PVMM_CALL_NOP] = "nop",
		[PVMM_CALL_CONSOLE_WRITE] = "console_write",
		[PVMM_CALL_CONSOLE_READ] = "console_read",
		[PVMM_CALL_EXIT] = "exit",
		[PVMM_CALL_ABORT] = "abort",
		[PVMM_CALL_CLOCK] = "clock",
		[PVMM_CALL_POLL] = "poll",
		[PVMM_CALL_RANDOM] = "random",
	};
	return call < PVMM_CALL_COUNT ? names[call] : "unknown";
}

void stats_print(const struct vm_stats *stats, FILE *out)
{
	uint64_t total = 0, calls = 0;
	struct rusage ru;

	for (unsigned i = 0; i < STATS_EXIT_REASONS; i++)
		total += stats->exits[i];
	for (unsigned i = 0; i < PVMM_PORT_COUNT; i++)
		calls += stats->calls[i];
	getrusage(RUSAGE_SELF, &ru);

	fprintf(out, "pvmm stats:\n");
	fprintf(out, "  wall time        %.3f ms\n", (double)(stats_now_ns() - stats->start_ns) / 1e6);
	/* CPU since exec, so it includes the dynamic loader. */
	fprintf(out, "  monitor cpu      %.3f ms user, %.3f ms system\n",
		ru.ru_utime.tv_sec * 1e3 + ru.ru_utime.tv_usec / 1e3,
		ru.ru_stime.tv_sec * 1e3 + ru.ru_stime.tv_usec / 1e3);
	fprintf(out, "  peak rss         %ld KiB\n", peak_rss_kib());
	fprintf(out, "  vm exits         %llu to pvmm\n", (unsigned long long)total);
	for (unsigned i = 0; i < STATS_EXIT_REASONS; i++)
		if (stats->exits[i])
			fprintf(out, "    %-16s %llu\n", stats_exit_name(i), (unsigned long long)stats->exits[i]);
	if (stats->kvm.valid)
		fprintf(out, "  kvm exits        %llu in all (incl. in-kernel), %llu halts, %llu interrupts injected\n",
			(unsigned long long)stats->kvm.exits, (unsigned long long)stats->kvm.halt_exits,
			(unsigned long long)stats->kvm.irq_injections);
	fprintf(out, "  para-API calls   %llu\n", (unsigned long long)calls);
	for (unsigned i = 0; i < PVMM_PORT_COUNT; i++)
		if (stats->calls[i])
			fprintf(out, "    %-16s %llu\n", stats_call_name(i), (unsigned long long)stats->calls[i]);
	if (stats->stray_io)
		fprintf(out, "  stray port I/O   %llu\n", (unsigned long long)stats->stray_io);
	fprintf(out, "  console bytes    %llu out, %llu in\n",
		(unsigned long long)stats->console_bytes_out, (unsigned long long)stats->console_bytes_in);
}

static uint64_t timeval_ns(struct timeval tv)
{
	return (uint64_t)tv.tv_sec * 1000000000ull + (uint64_t)tv.tv_usec * 1000ull;
}

void stats_print_json(const struct vm_stats *stats, FILE *out)
{
	uint64_t total = 0;
	struct rusage ru;
	const char *sep = "";

	for (unsigned i = 0; i < STATS_EXIT_REASONS; i++)
		total += stats->exits[i];
	getrusage(RUSAGE_SELF, &ru);
	fprintf(out, "\"wall_ns\": %llu, \"cpu_user_ns\": %llu, \"cpu_sys_ns\": %llu, \"peak_rss_kib\": %ld,\n",
		(unsigned long long)(stats_now_ns() - stats->start_ns), (unsigned long long)timeval_ns(ru.ru_utime),
		(unsigned long long)timeval_ns(ru.ru_stime), peak_rss_kib());
	fprintf(out, "\"exits\": %llu, \"exits_by_reason\": {", (unsigned long long)total);
	for (unsigned i = 0; i < STATS_EXIT_REASONS; i++)
		if (stats->exits[i]) {
			fprintf(out, "%s\"%s\": %llu", sep, stats_exit_name(i), (unsigned long long)stats->exits[i]);
			sep = ", ";
		}
	fprintf(out, "},\n");
	if (stats->kvm.valid)
		fprintf(out, "\"kvm_exits\": %llu, \"kvm_halt_exits\": %llu, \"kvm_irq_injections\": %llu,\n",
			(unsigned long long)stats->kvm.exits, (unsigned long long)stats->kvm.halt_exits,
			(unsigned long long)stats->kvm.irq_injections);
	else
		fprintf(out, "\"kvm_exits\": null, \"kvm_halt_exits\": null, \"kvm_irq_injections\": null,\n");
	fprintf(out, "\"calls\": {");
	sep = "";
	for (unsigned i = 0; i < PVMM_PORT_COUNT; i++)
		if (stats->calls[i]) {
			fprintf(out, "%s\"%s\": %llu", sep, stats_call_name(i), (unsigned long long)stats->calls[i]);
			sep = ", ";
		}
	fprintf(out, "},\n\"console_bytes_out\": %llu, \"console_bytes_in\": %llu",
		(unsigned long long)stats->console_bytes_out, (unsigned long long)stats->console_bytes_in);
}
