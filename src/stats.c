#include "stats.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <linux/kvm.h>

uint64_t stats_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t timeval_ns(struct timeval tv)
{
	return (uint64_t)tv.tv_sec * 1000000000ull + (uint64_t)tv.tv_usec * 1000ull;
}

static uint64_t clock_ns(clockid_t clock)
{
	struct timespec ts;
	if (clock_gettime(clock, &ts))
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void stats_thread_cpu(struct thread_cpu *cpu)
{
	struct rusage ru;

	*cpu = (struct thread_cpu){ 0 };
	if (getrusage(RUSAGE_THREAD, &ru))
		return;
	cpu->user_ns = timeval_ns(ru.ru_utime);
	cpu->sys_ns = timeval_ns(ru.ru_stime);
	cpu->sleeps = (uint64_t)ru.ru_nvcsw;
	cpu->total_ns = clock_ns(CLOCK_THREAD_CPUTIME_ID);
	cpu->valid = true;
}

void stats_vcpu_begin(struct vcpu_stats *stats)
{
	stats->ran = true;
	stats_thread_cpu(&stats->begin);
}

void stats_vcpu_end(struct vcpu_stats *stats)
{
	stats_thread_cpu(&stats->end);
}

void stats_sum_vcpus(struct vm_stats *stats)
{
	memset(stats->exits, 0, sizeof(stats->exits));
	stats->kvm = (struct kvm_counters){ 0 };
	for (unsigned c = 0; c < stats->vcpu_count; c++) {
		const struct vcpu_stats *v = stats->vcpu[c];
		for (unsigned i = 0; i < STATS_EXIT_REASONS; i++)
			stats->exits[i] += v->exits[i];
		if (v->kvm.valid) {
			stats->kvm.valid = true;
			stats->kvm.exits += v->kvm.exits;
			stats->kvm.halt_exits += v->kvm.halt_exits;
			stats->kvm.irq_injections += v->kvm.irq_injections;
			stats->kvm.pf_taken += v->kvm.pf_taken;
			stats->kvm.pf_emulate += v->kvm.pf_emulate;
			stats->kvm.pf_guest += v->kvm.pf_guest;
			stats->kvm.tlb_flush += v->kvm.tlb_flush;
			stats->kvm.invlpg += v->kvm.invlpg;
			stats->kvm.insn_emulation += v->kvm.insn_emulation;
		}
	}
}

static uint64_t vcpu_exit_total(const struct vcpu_stats *v)
{
	uint64_t total = 0;
	for (unsigned i = 0; i < STATS_EXIT_REASONS; i++)
		total += v->exits[i];
	return total;
}

static uint64_t minus(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0;
}

/* The per-thread CPU figures, derived once for both outputs. */
struct cpu_summary {
	bool vcpu, iothread;
	uint64_t vcpu_total, vcpu_user, vcpu_sys, vcpu_sleeps; /* vCPU threads during their run loops */
	uint64_t io_total, io_user, io_sys, io_sleeps;         /* the I/O thread */
	uint64_t process;                          /* all threads since exec (exact) */
	uint64_t other;                            /* process - vCPU thread - I/O thread: io_uring workers, KVM's helper task */
	uint64_t monitor;                          /* I/O thread + vCPU user + other threads */
};

static void cpu_summary(const struct vm_stats *stats, struct cpu_summary *c)
{
	struct thread_cpu self;

	uint64_t vcpu_threads = 0; /* the vCPU threads' whole CPU time */

	*c = (struct cpu_summary){ 0 };
	for (unsigned i = 0; i < stats->vcpu_count; i++) {
		const struct vcpu_stats *v = stats->vcpu[i];
		if (!v->begin.valid || !v->end.valid)
			continue;
		c->vcpu = true;
		c->vcpu_total += minus(v->end.total_ns, v->begin.total_ns);
		c->vcpu_user += minus(v->end.user_ns, v->begin.user_ns);
		c->vcpu_sys += minus(v->end.sys_ns, v->begin.sys_ns);
		c->vcpu_sleeps += minus(v->end.sleeps, v->begin.sleeps);
		/* The main thread's own time is `self` below already. */
		if (!v->main_thread)
			vcpu_threads += v->end.total_ns;
	}
	c->iothread = stats->iothread.valid;
	if (c->iothread) {
		c->io_total = stats->iothread.total_ns;
		c->io_user = stats->iothread.user_ns;
		c->io_sys = stats->iothread.sys_ns;
		c->io_sleeps = stats->iothread.sleeps;
	}
	/* Called on the main thread (start-up and supervision): everything
	 * else the process ran is the vCPU threads, the I/O thread and
	 * helpers the kernel started for it. */
	c->process = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
	stats_thread_cpu(&self);
	c->other = minus(minus(minus(c->process, self.total_ns), c->io_total), vcpu_threads);
	c->monitor = c->io_total + c->vcpu_user + c->other;
}

/* /proc/self/status, opened before the sandbox (seccomp, --chroot, --uid)
 * and read again from offset 0 each time: the kernel regenerates it. */
static int proc_status_fd = -1;

void stats_open_proc_status(void)
{
	if (proc_status_fd < 0)
		proc_status_fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
}

long stats_proc_status_kib(const char *key)
{
	char buf[4096];
	size_t klen = strlen(key);

	stats_open_proc_status(); /* unit tests and tools call without vm_launch */
	if (proc_status_fd < 0)
		return -1;
	ssize_t n = pread(proc_status_fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	for (char *line = buf; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
		if (strncmp(line, key, klen) == 0)
			return strtol(line + klen, NULL, 10);
	return -1;
}

/* Peak RSS of this process image. Not getrusage's ru_maxrss: Linux carries
 * the peak of the image that exec'd pvmm into it. */
static long peak_rss_kib(void)
{
	return stats_proc_status_kib("VmHWM:");
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
		[PVMM_CALL_CPU_START] = "cpu_start",
		[PVMM_CALL_WAKE] = "wake",
		[PVMM_CALL_UPCALL] = "upcall",
		[PVMM_CALL_MMU] = "mmu",
		[PVMM_CALL_STATS] = "stats",
	};
	return call < PVMM_CALL_COUNT && names[call] ? names[call] : "unknown";
}

void stats_print(const struct vm_stats *stats, FILE *out)
{
	uint64_t total = 0, calls = 0;
	struct rusage ru;
	struct cpu_summary c;

	for (unsigned i = 0; i < STATS_EXIT_REASONS; i++)
		total += stats->exits[i];
	for (unsigned i = 0; i < PVMM_PORT_COUNT; i++)
		calls += stats->calls[i];
	getrusage(RUSAGE_SELF, &ru);
	cpu_summary(stats, &c);

	fprintf(out, "pvmm stats:\n");
	fprintf(out, "  wall time        %.3f ms\n", (double)(stats_now_ns() - stats->start_ns) / 1e6);
	/* The vCPU thread's system time is KVM running the guest (on hosts
	 * without VT-x, interpreting its kernel-mode code): not monitor work. */
	fprintf(out, "  monitor cpu      %.3f ms = I/O thread %.3f + vCPU thread user (run loop) %.3f",
		(double)c.monitor / 1e6, (double)c.io_total / 1e6, (double)c.vcpu_user / 1e6);
	if (c.other)
		fprintf(out, " + other threads %.3f", (double)c.other / 1e6);
	fprintf(out, "\n");
	fprintf(out, "    vcpu threads   %.3f ms in the run loop: %.3f user, %.3f system (KVM running the guest); "
		"slept %llu times\n", (double)c.vcpu_total / 1e6, (double)c.vcpu_user / 1e6, (double)c.vcpu_sys / 1e6,
		(unsigned long long)c.vcpu_sleeps);
	if (c.iothread)
		fprintf(out, "    io thread      %.3f ms: %.3f user, %.3f system; slept %llu times\n",
			(double)c.io_total / 1e6, (double)c.io_user / 1e6, (double)c.io_sys / 1e6,
			(unsigned long long)c.io_sleeps);
	if (c.other)
		fprintf(out, "    other threads  %.3f ms (io_uring workers doing I/O that cannot start without "
			"blocking; KVM's helper task)\n", (double)c.other / 1e6);
	/* CPU since exec, all threads, so it includes the dynamic loader. */
	fprintf(out, "  process cpu      %.3f ms user, %.3f ms system (all threads, guest code included)\n",
		ru.ru_utime.tv_sec * 1e3 + ru.ru_utime.tv_usec / 1e3,
		ru.ru_stime.tv_sec * 1e3 + ru.ru_stime.tv_usec / 1e3);
	fprintf(out, "  peak rss         %ld KiB\n", peak_rss_kib());
	fprintf(out, "  vm exits         %llu to pvmm\n", (unsigned long long)total);
	for (unsigned i = 0; i < STATS_EXIT_REASONS; i++)
		if (stats->exits[i])
			fprintf(out, "    %-16s %llu\n", stats_exit_name(i), (unsigned long long)stats->exits[i]);
	if (stats->vcpu_count > 1)
		for (unsigned cpu = 0; cpu < stats->vcpu_count; cpu++)
			fprintf(out, "    cpu %-12u %llu%s\n", cpu, (unsigned long long)vcpu_exit_total(stats->vcpu[cpu]),
				stats->vcpu[cpu]->ran ? "" : " (never started)");
	if (stats->kvm.valid)
		fprintf(out, "  kvm exits        %llu in all (KVM's count), %llu halts, %llu interrupts injected\n",
			(unsigned long long)stats->kvm.exits, (unsigned long long)stats->kvm.halt_exits,
			(unsigned long long)stats->kvm.irq_injections);
	if (stats->kvm.valid)
		fprintf(out, "  kvm mmu          %llu page faults (%llu emulated, %llu to the guest), %llu TLB flushes, "
			"%llu invlpg, %llu instructions emulated\n",
			(unsigned long long)stats->kvm.pf_taken, (unsigned long long)stats->kvm.pf_emulate,
			(unsigned long long)stats->kvm.pf_guest, (unsigned long long)stats->kvm.tlb_flush,
			(unsigned long long)stats->kvm.invlpg, (unsigned long long)stats->kvm.insn_emulation);
	if (stats->kvm_vm.valid)
		fprintf(out,
			"  kvm shadow mmu   %llu emulated writes checked against shadowed page tables, "
			"%llu shadow pages dropped\n",
			(unsigned long long)stats->kvm_vm.mmu_pte_write, (unsigned long long)stats->kvm_vm.mmu_shadow_zapped);
	fprintf(out, "  para-API calls   %llu\n", (unsigned long long)calls);
	for (unsigned i = 0; i < PVMM_PORT_COUNT; i++)
		if (stats->calls[i])
			fprintf(out, "    %-16s %llu\n", stats_call_name(i), (unsigned long long)stats->calls[i]);
	if (stats->stray_io)
		fprintf(out, "  stray port I/O   %llu\n", (unsigned long long)stats->stray_io);
	if (stats->int3_injected)
		fprintf(out, "  int3 as #BP      %llu\n", (unsigned long long)stats->int3_injected);
	if (stats->iret_emulated)
		fprintf(out, "  iret by pvmm     %llu\n", (unsigned long long)stats->iret_emulated);
	if (stats->other_emulated)
		fprintf(out, "  clac/stac/popcnt/fwait %llu\n", (unsigned long long)stats->other_emulated);
	if (stats->upcalls || stats->upcalls_held || stats->upcalls_dropped)
		fprintf(out, "  upcalls          %llu entered, %llu held while masked, %llu with none registered\n",
			(unsigned long long)stats->upcalls, (unsigned long long)stats->upcalls_held,
			(unsigned long long)stats->upcalls_dropped);
	if (stats->mmu_recycles)
		fprintf(out, "  pv mmu recycles  %llu (table pool slot re-added)\n", (unsigned long long)stats->mmu_recycles);
	fprintf(out, "  console bytes    %llu out, %llu in",
		(unsigned long long)stats->console_bytes_out, (unsigned long long)stats->console_bytes_in);
	if (stats->console_bytes_dropped)
		fprintf(out, ", %llu could not be delivered", (unsigned long long)stats->console_bytes_dropped);
	fprintf(out, "\n");
}

/* "vcpus": one object per vCPU, after the VM-wide figures (whose first
 * "exits" key scripts read as the total). */
static void print_vcpus_json(const struct vm_stats *stats, FILE *out)
{
	fprintf(out, ",\n\"vcpus\": [");
	for (unsigned c = 0; c < stats->vcpu_count; c++) {
		const struct vcpu_stats *v = stats->vcpu[c];
		const char *sep = "";
		fprintf(out, "%s{\"cpu\": %u, \"started\": %s, \"exits\": %llu, \"exits_by_reason\": {", c ? ", " : "",
			c, v->ran ? "true" : "false", (unsigned long long)vcpu_exit_total(v));
		for (unsigned i = 0; i < STATS_EXIT_REASONS; i++)
			if (v->exits[i]) {
				fprintf(out, "%s\"%s\": %llu", sep, stats_exit_name(i), (unsigned long long)v->exits[i]);
				sep = ", ";
			}
		fprintf(out, "}}");
	}
	fprintf(out, "]");
}

void stats_print_json(const struct vm_stats *stats, FILE *out)
{
	uint64_t total = 0;
	struct rusage ru;
	struct cpu_summary c;
	const char *sep = "";

	for (unsigned i = 0; i < STATS_EXIT_REASONS; i++)
		total += stats->exits[i];
	getrusage(RUSAGE_SELF, &ru);
	cpu_summary(stats, &c);
	fprintf(out, "\"wall_ns\": %llu, \"cpu_user_ns\": %llu, \"cpu_sys_ns\": %llu, \"peak_rss_kib\": %ld,\n",
		(unsigned long long)(stats_now_ns() - stats->start_ns), (unsigned long long)timeval_ns(ru.ru_utime),
		(unsigned long long)timeval_ns(ru.ru_stime), peak_rss_kib());
	/* monitor_cpu_ns = iothread_cpu_ns + vcpu_user_ns + other_threads_cpu_ns;
	 * cpu_user_ns/cpu_sys_ns above are the whole process, guest included. */
	fprintf(out, "\"monitor_cpu_ns\": %llu, \"iothread_cpu_ns\": %llu, \"iothread_user_ns\": %llu, "
		"\"iothread_sys_ns\": %llu,\n\"vcpu_user_ns\": %llu, \"vcpu_sys_ns\": %llu, \"vcpu_cpu_ns\": %llu, "
		"\"other_threads_cpu_ns\": %llu, \"process_cpu_ns\": %llu, \"iothread_sleeps\": %llu, "
		"\"vcpu_sleeps\": %llu,\n",
		(unsigned long long)c.monitor, (unsigned long long)c.io_total, (unsigned long long)c.io_user,
		(unsigned long long)c.io_sys, (unsigned long long)c.vcpu_user, (unsigned long long)c.vcpu_sys,
		(unsigned long long)c.vcpu_total, (unsigned long long)c.other, (unsigned long long)c.process,
		(unsigned long long)c.io_sleeps, (unsigned long long)c.vcpu_sleeps);
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
	/* KVM's MMU counters: each null where KVM gave none (no binary
	 * statistics, or not this one). */
	const struct {
		const char *key;
		bool valid;
		uint64_t value;
	} mmu[] = {
		{ "pf_taken", stats->kvm.valid, stats->kvm.pf_taken },
		{ "pf_emulate", stats->kvm.valid, stats->kvm.pf_emulate },
		{ "pf_guest", stats->kvm.valid, stats->kvm.pf_guest },
		{ "tlb_flush", stats->kvm.valid, stats->kvm.tlb_flush },
		{ "invlpg", stats->kvm.valid, stats->kvm.invlpg },
		{ "insn_emulation", stats->kvm.valid, stats->kvm.insn_emulation },
		{ "mmu_pte_write", stats->kvm_vm.valid, stats->kvm_vm.mmu_pte_write },
		{ "mmu_shadow_zapped", stats->kvm_vm.valid, stats->kvm_vm.mmu_shadow_zapped },
		{ "mmu_flooded", stats->kvm_vm.valid, stats->kvm_vm.mmu_flooded },
		{ "remote_tlb_flush", stats->kvm_vm.valid, stats->kvm_vm.remote_tlb_flush },
	};
	fprintf(out, "\"kvm_mmu\": {");
	for (size_t i = 0; i < sizeof(mmu) / sizeof(mmu[0]); i++) {
		if (mmu[i].valid)
			fprintf(out, "%s\"%s\": %llu", i ? ", " : "", mmu[i].key, (unsigned long long)mmu[i].value);
		else
			fprintf(out, "%s\"%s\": null", i ? ", " : "", mmu[i].key);
	}
	fprintf(out, "},\n");
	fprintf(out, "\"calls\": {");
	sep = "";
	for (unsigned i = 0; i < PVMM_PORT_COUNT; i++)
		if (stats->calls[i]) {
			fprintf(out, "%s\"%s\": %llu", sep, stats_call_name(i), (unsigned long long)stats->calls[i]);
			sep = ", ";
		}
	fprintf(out, "},\n\"upcalls\": %llu, \"upcalls_held\": %llu, \"upcalls_dropped\": %llu",
		(unsigned long long)stats->upcalls, (unsigned long long)stats->upcalls_held,
		(unsigned long long)stats->upcalls_dropped);
	fprintf(out, ",\n\"console_bytes_out\": %llu, \"console_bytes_in\": %llu, \"console_bytes_dropped\": %llu",
		(unsigned long long)stats->console_bytes_out, (unsigned long long)stats->console_bytes_in,
		(unsigned long long)stats->console_bytes_dropped);
	print_vcpus_json(stats, out);
}
