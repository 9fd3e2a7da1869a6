/*
 * pvmm-bench — runs pvmm's benchmark figures against a raw-KVM floor
 * (bench/rawvm.c), prints a table and writes JSON. bench/README.md explains
 * each figure; `make bench` runs it through bench/run.sh.
 *
 * Every measurement runs the programs as a user would, fork + exec, so no
 * figure depends on monitor internals. The host is a noisy 2-core VM, so:
 * pvmm and the floor always run interleaved in one invocation, figures are
 * medians, and counts (exits, syscalls, resident pages) are used wherever
 * they can stand in for clocks.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <dirent.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "compute_kernel.h"

/* ---- configuration ------------------------------------------------------ */

struct config {
	const char *build;       /* build directory: pvmm, bench/rawvm, guests */
	const char *out_dir;     /* where the JSON goes */
	char pvmm[4096], rawvm[4096], hello[4096], hcloop[4096], blkbench[4096], blkrw[4096], clockread[4096];
	char snapwait[4096];
	char compute[4096], compute0[4096]; /* the compute kernels: SSE build (ring 3), ring-0 build */
	char irqbench[4096];      /* one UART interrupt per round */
	char mmubench[4096];      /* PV MMU batches against ring-0 PTE writes */
	const char *scratch;     /* where the block benchmark's scratch folder goes */
	int blk_runs;            /* runs of each block configuration (and of blkrw) */
	bool block;              /* run the block benchmark */
	int cold_runs;           /* cold-start runs per program */
	int rounds;              /* hypercall rounds per program */
	unsigned calls;          /* N for the hypercall loops at ring 0 */
	unsigned calls3;         /* N for the hypercall loops at ring 3 (exits cost ~3x more) */
	int compute_runs;        /* runs of each compute kernel, guest and host */
	int mem_runs;            /* memory probes */
	bool strict;             /* exit 3 when a target is missed */
	const char *only;        /* --only: run just this section (NULL: all) */
};

#define WARMUP_RUNS 3
/* Passed explicitly (it is pvmm's default too) so the probe can recognise
 * the guest RAM mapping by its length. */
#define GUEST_MEM_ARG "32M"
#define GUEST_MEM_BYTES (32ull << 20)

/* Targets from the issue. */
#define TARGET_COLD_RATIO 1.5
#define TARGET_CALL_RATIO 1.10
#define TARGET_MONITOR_KIB 2048.0
#define TARGET_COMPUTE_SPEED 0.8   /* ring-3 guest speed / host speed, per kernel */
#define TARGET_BLK_4K_OF_HOST 0.25 /* ring-3 virtio-blk MB/s / host pread-pwrite MB/s, qd 32 */
#define TARGET_BLK_64K_OF_HOST 0.5
#define TARGET_SECCOMP_COST 1.03   /* seccomp on / off, cold start and call */

/* The two privilege levels a guest runs at (pvmm run --ring), and how
 * pvmm and rawvm are told. Every pvmm run passes --ring explicitly. */
static const char *ring_arg(int ring)
{
	return ring == 3 ? "3" : "0";
}

static int devnull_fd = -1;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("pvmm-bench: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static void progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void progress(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("pvmm-bench: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t timeval_ns(struct timeval tv)
{
	return (int64_t)tv.tv_sec * 1000000000 + (int64_t)tv.tv_usec * 1000;
}

/* ---- running a program -------------------------------------------------- */

struct run_result {
	int64_t wall_ns;   /* fork → wait4 returned, CLOCK_MONOTONIC */
	int64_t cpu_ns;    /* user + system time of the child */
	int status;        /* wait status */
	char out[8192];    /* captured stdout (if asked), NUL-terminated */
	char err[8192];    /* captured stderr, NUL-terminated */
};

static int make_capture_fd(void)
{
	int fd = memfd_create("pvmm-bench-capture", MFD_CLOEXEC);
	if (fd < 0)
		die("memfd_create: %s", strerror(errno));
	return fd;
}

static void read_capture(int fd, char *buf, size_t size)
{
	ssize_t n = pread(fd, buf, size - 1, 0);
	buf[n > 0 ? n : 0] = '\0';
	close(fd);
}

/* In the child, between fork and exec: only async-signal-safe calls. */
static void exec_child(char *const argv[], int out_fd, int err_fd) __attribute__((noreturn));
static void exec_child(char *const argv[], int out_fd, int err_fd)
{
	if (dup2(devnull_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0)
		_exit(126);
	execv(argv[0], argv);
	_exit(127);
}

/*
 * Run argv[0] with stdin and (unless capture_out) stdout on /dev/null and
 * stderr captured. The clock brackets fork() and the reaping wait4(), so it
 * covers exec, dynamic linking, the program and its teardown.
 */
static void run_program(char *const argv[], bool capture_out, struct run_result *r)
{
	int err_fd = make_capture_fd();
	int out_fd = capture_out ? make_capture_fd() : devnull_fd;
	struct rusage ru;
	int status;

	int64_t start = now_ns();
	pid_t pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0)
		exec_child(argv, out_fd, err_fd);
	while (wait4(pid, &status, 0, &ru) < 0)
		if (errno != EINTR)
			die("wait4: %s", strerror(errno));
	int64_t end = now_ns();

	r->wall_ns = end - start;
	r->cpu_ns = timeval_ns(ru.ru_utime) + timeval_ns(ru.ru_stime);
	r->status = status;
	read_capture(err_fd, r->err, sizeof(r->err));
	r->out[0] = '\0';
	if (capture_out)
		read_capture(out_fd, r->out, sizeof(r->out));
}

static void describe_status(int status, char *buf, size_t size)
{
	if (WIFEXITED(status))
		snprintf(buf, size, "exit status %d%s", WEXITSTATUS(status),
			 WEXITSTATUS(status) == 127 ? " (could not exec)" : "");
	else if (WIFSIGNALED(status))
		snprintf(buf, size, "killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		snprintf(buf, size, "wait status %#x", status);
}

static void print_argv(FILE *out, char *const argv[])
{
	for (int i = 0; argv[i]; i++)
		fprintf(out, "%s%s", i ? " " : "", argv[i]);
}

/* Every benchmark run must succeed; a failing one invalidates the figure. */
static void run_checked(char *const argv[], bool capture_out, struct run_result *r)
{
	run_program(argv, capture_out, r);
	if (WIFEXITED(r->status) && WEXITSTATUS(r->status) == 0)
		return;
	char why[128];
	describe_status(r->status, why, sizeof(why));
	fprintf(stderr, "pvmm-bench: `");
	print_argv(stderr, argv);
	fprintf(stderr, "` failed: %s\n", why);
	if (r->err[0])
		fprintf(stderr, "---- its stderr ----\n%s\n--------------------\n", r->err);
	exit(1);
}

/* A timed run (pvmm -q, rawvm) should print nothing; if it does, say so
 * once per figure, since printing may have cost time. */
static void warn_if_noisy(const char *figure, char *const argv[], const struct run_result *r, bool *warned)
{
	if (!r->err[0] || *warned)
		return;
	*warned = true;
	fprintf(stderr, "pvmm-bench: warning (%s): `", figure);
	print_argv(stderr, argv);
	fprintf(stderr, "` succeeded but wrote to stderr:\n%s\n", r->err);
}

/* ---- statistics --------------------------------------------------------- */

static int compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(const double *values, int count)
{
	double *sorted = malloc((size_t)count * sizeof(*sorted));
	if (!sorted)
		die("out of memory");
	memcpy(sorted, values, (size_t)count * sizeof(*sorted));
	qsort(sorted, (size_t)count, sizeof(*sorted), compare_double);
	double m = count % 2 ? sorted[count / 2] : (sorted[count / 2 - 1] + sorted[count / 2]) / 2;
	free(sorted);
	return m;
}

static double minimum(const double *values, int count)
{
	double m = values[0];
	for (int i = 1; i < count; i++)
		m = values[i] < m ? values[i] : m;
	return m;
}

/* ---- results ------------------------------------------------------------ */

enum verdict { VERDICT_INFO, VERDICT_PASS, VERDICT_FAIL };

struct figure {
	const char *key;        /* JSON name */
	const char *label;      /* table name */
	double value;
	const char *unit;
	const char *target;     /* human-readable target, NULL for info rows */
	double target_value;    /* NAN for info rows */
	enum verdict verdict;
	int decimals;
	bool detail;            /* a block matrix cell: in the JSON, not in the main table */
	int ring;               /* the guest's ring (0 or 3), -1 where it does not apply */
};

/* A named list of raw samples, kept for the JSON. */
struct sample_set {
	const char *key;
	const char *unit;
	double *values;
	int count;
};

#define MAX_FIGURES 1024
#define MAX_SAMPLE_SETS 128
static struct figure figures[MAX_FIGURES];
static int figure_count;
static struct sample_set sample_sets[MAX_SAMPLE_SETS];
static int sample_set_count;
/* The ring the figures being added belong to: each benchmark sets it. */
static int figure_ring = -1;

static void add_info(const char *key, const char *label, double value, const char *unit, int decimals)
{
	if (figure_count == MAX_FIGURES)
		die("too many figures");
	figures[figure_count++] = (struct figure){
		.key = key, .label = label, .value = value, .unit = unit,
		.target = NULL, .target_value = NAN, .verdict = VERDICT_INFO, .decimals = decimals,
		.ring = figure_ring,
	};
}

static void add_target(const char *key, const char *label, double value, const char *unit, int decimals,
		       const char *target, double target_value, bool met)
{
	add_info(key, label, value, unit, decimals);
	struct figure *f = &figures[figure_count - 1];
	f->target = target;
	f->target_value = target_value;
	f->verdict = met ? VERDICT_PASS : VERDICT_FAIL;
}

static void add_samples(const char *key, const char *unit, const double *values, int count)
{
	if (sample_set_count == MAX_SAMPLE_SETS)
		die("too many sample sets");
	double *copy = malloc((size_t)count * sizeof(*copy));
	if (!copy)
		die("out of memory");
	memcpy(copy, values, (size_t)count * sizeof(*copy));
	sample_sets[sample_set_count++] = (struct sample_set){ key, unit, copy, count };
}

/*
 * Programs a and b, WARMUP_RUNS each, then n runs each, interleaved and
 * alternating which goes first, so neither always follows the other:
 * their wall times in ms into a_ms[] and b_ms[]. `figure` names them in
 * the warning about a run that printed.
 */
static void interleaved_runs(const char *figure, char *const a[], char *const b[], int n, double *a_ms,
			     double *b_ms)
{
	struct run_result r;
	bool a_warned = false, b_warned = false;

	/* Warm-up: page cache, dynamic loader cache, KVM module state. */
	for (int i = 0; i < WARMUP_RUNS; i++) {
		run_checked(a, false, &r);
		run_checked(b, false, &r);
	}
	for (int i = 0; i < n; i++)
		for (int k = 0; k < 2; k++) {
			bool is_a = (i + k) % 2 == 0;
			run_checked(is_a ? a : b, false, &r);
			warn_if_noisy(figure, is_a ? a : b, &r, is_a ? &a_warned : &b_warned);
			(is_a ? a_ms : b_ms)[i] = (double)r.wall_ns / 1e6;
		}
}

/* ---- 1. cold start ------------------------------------------------------ */

/* Figure keys and labels per ring: ring 0 keeps the names of earlier
 * results (so old JSON files still compare), ring 3 adds "_r3". */
static const char *rkey(const char *key, int ring)
{
	if (ring != 3)
		return key;
	char buf[128];
	snprintf(buf, sizeof(buf), "%s_r3", key);
	return strdup(buf);
}

static const char *rlabel(const char *label, int ring)
{
	char buf[160];
	snprintf(buf, sizeof(buf), "ring %d: %s", ring, label);
	return strdup(buf);
}

/*
 * pvmm hello against the floor at the same CPL: ring 0 against rawvm's
 * real-mode start (the least any VM does), ring 3 against rawvm cpl3,
 * which sets up long mode, a GDT, a TSS and user page tables and starts
 * the vCPU at CPL3 (what a ring-3 guest cannot do without).
 */
static void bench_cold_start(const struct config *cfg, int ring)
{
	char *pvmm_argv[] = { (char *)cfg->pvmm, "run", "--ring", (char *)ring_arg(ring), "-q", (char *)cfg->hello,
			      NULL };
	char *raw0_argv[] = { (char *)cfg->rawvm, NULL };
	char *raw3_argv[] = { (char *)cfg->rawvm, "cpl3", NULL };
	char **raw_argv = ring == 3 ? raw3_argv : raw0_argv;
	int n = cfg->cold_runs;
	double *pvmm_ms = calloc((size_t)n, sizeof(double));
	double *raw_ms = calloc((size_t)n, sizeof(double));

	if (!pvmm_ms || !raw_ms)
		die("out of memory");
	figure_ring = ring;
	progress("cold start, ring %d: %d warm-up + %d interleaved runs each of pvmm hello and %s", ring,
		 WARMUP_RUNS, n, ring == 3 ? "rawvm cpl3" : "rawvm");
	interleaved_runs("cold start", pvmm_argv, raw_argv, n, pvmm_ms, raw_ms);

	double pvmm_med = median(pvmm_ms, n), raw_med = median(raw_ms, n);
	double ratio = pvmm_med / raw_med;
	const char *raw_name = ring == 3 ? "raw KVM at CPL3" : "raw KVM";
	char label[128];
	add_info(rkey("cold_start_pvmm_ms", ring), rlabel("cold start, pvmm hello (median)", ring), pvmm_med, "ms", 3);
	snprintf(label, sizeof(label), "cold start, %s (median)", raw_name);
	add_info(rkey("cold_start_raw_ms", ring), rlabel(label, ring), raw_med, "ms", 3);
	add_target(rkey("cold_start_ratio", ring), rlabel("cold start ratio pvmm/raw", ring), ratio, "x", 2, "<= 1.50",
		   TARGET_COLD_RATIO, ratio <= TARGET_COLD_RATIO);
	add_info(rkey("cold_start_pvmm_min_ms", ring), rlabel("cold start, pvmm hello (min)", ring),
		 minimum(pvmm_ms, n), "ms", 3);
	snprintf(label, sizeof(label), "cold start, %s (min)", raw_name);
	add_info(rkey("cold_start_raw_min_ms", ring), rlabel(label, ring), minimum(raw_ms, n), "ms", 3);
	add_samples(rkey("cold_start_pvmm_ms", ring), "ms", pvmm_ms, n);
	add_samples(rkey("cold_start_raw_ms", ring), "ms", raw_ms, n);
	figure_ring = -1;
	free(pvmm_ms);
	free(raw_ms);
}

/* ---- 2. hypercall round trip -------------------------------------------- */

/* Wall and CPU time of one loop run with `iterations` calls. */
static void run_loop_program(const struct config *cfg, int ring, bool pvmm, unsigned iterations,
			     struct run_result *r)
{
	char count[16];
	snprintf(count, sizeof(count), "%u", iterations);
	char *pvmm_argv[] = { (char *)cfg->pvmm, "run", "--ring", (char *)ring_arg(ring), "-q", (char *)cfg->hcloop,
			      count, NULL };
	char *raw0_argv[] = { (char *)cfg->rawvm, "loop", count, NULL };
	char *raw3_argv[] = { (char *)cfg->rawvm, "cpl3", "loop", count, NULL };
	char **raw_argv = ring == 3 ? raw3_argv : raw0_argv;
	static bool pvmm_warned, raw_warned;
	run_checked(pvmm ? pvmm_argv : raw_argv, false, r);
	warn_if_noisy("hypercall", pvmm ? pvmm_argv : raw_argv, r, pvmm ? &pvmm_warned : &raw_warned);
}

/* Find "<spaces>KEY<spaces>NUMBER" in pvmm's --stats output. */
static bool stats_value(const char *text, const char *key, unsigned long long *value)
{
	size_t key_len = strlen(key);
	const char *line = text;
	while (line && *line) {
		const char *p = line + strspn(line, " ");
		if (strncmp(p, key, key_len) == 0 && (p[key_len] == ' ' || p[key_len] == '\t'))
			return sscanf(p + key_len, "%llu", value) == 1;
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return false;
}

struct exit_counts {
	unsigned long long exits, nop_calls;
};

static struct exit_counts stats_exit_counts(const struct config *cfg, int ring, unsigned iterations)
{
	char count[16];
	snprintf(count, sizeof(count), "%u", iterations);
	char *argv[] = { (char *)cfg->pvmm, "run", "--ring", (char *)ring_arg(ring), "--stats", "-q",
			 (char *)cfg->hcloop, count, NULL };
	struct run_result r;
	struct exit_counts c = { 0, 0 };

	run_checked(argv, false, &r);
	if (!stats_value(r.err, "vm exits", &c.exits))
		die("`pvmm run --stats` printed no 'vm exits' line; its stderr was:\n%s", r.err);
	stats_value(r.err, "nop", &c.nop_calls); /* absent when N = 0 */
	return c;
}

static void bench_hypercall(const struct config *cfg, int ring)
{
	int rounds = cfg->rounds;
	unsigned n = ring == 3 ? cfg->calls3 : cfg->calls;
	double *pvmm_ns = calloc((size_t)rounds, sizeof(double)), *raw_ns = calloc((size_t)rounds, sizeof(double));
	double *pvmm_cpu = calloc((size_t)rounds, sizeof(double)), *raw_cpu = calloc((size_t)rounds, sizeof(double));
	double *ratios = calloc((size_t)rounds, sizeof(double));
	struct run_result p0, r0, long_runs[4];

	if (!pvmm_ns || !raw_ns || !pvmm_cpu || !raw_cpu || !ratios)
		die("out of memory");
	figure_ring = ring;
	progress("hypercall, ring %d: %d rounds of N=%u (pvmm, raw, raw, pvmm or the reverse) and N=0", ring, rounds,
		 n);
	run_loop_program(cfg, ring, true, 0, &p0); /* warm-up */
	run_loop_program(cfg, ring, false, 0, &r0);
	for (int i = 0; i < rounds; i++) {
		/*
		 * Each round runs the long loops A B B A (A = pvmm in even
		 * rounds, raw in odd ones), back to back. On the development
		 * VMs the cost of an exit drifts between ~11 and ~15 us within
		 * seconds, and a loop that follows another one is measurably
		 * slower; ABBA gives both programs the same positions, so
		 * drift that is linear over a round cancels in their ratio.
		 */
		bool pvmm_a = i % 2 == 0;
		for (int k = 0; k < 4; k++) {
			bool is_a = k == 0 || k == 3;
			run_loop_program(cfg, ring, is_a == pvmm_a, n, &long_runs[k]);
		}
		run_loop_program(cfg, ring, true, 0, &p0);
		run_loop_program(cfg, ring, false, 0, &r0);
		/* long_runs[0] and [3] are A's; start-up and teardown cancel in
		 * the difference with the N = 0 run. */
		const struct run_result *a0 = &long_runs[0], *a1 = &long_runs[3];
		const struct run_result *b0 = &long_runs[1], *b1 = &long_runs[2];
		const struct run_result *pvmm_runs[2] = { pvmm_a ? a0 : b0, pvmm_a ? a1 : b1 };
		const struct run_result *raw_runs[2] = { pvmm_a ? b0 : a0, pvmm_a ? b1 : a1 };
		pvmm_ns[i] = ((double)(pvmm_runs[0]->wall_ns + pvmm_runs[1]->wall_ns) / 2 - (double)p0.wall_ns) / n;
		raw_ns[i] = ((double)(raw_runs[0]->wall_ns + raw_runs[1]->wall_ns) / 2 - (double)r0.wall_ns) / n;
		pvmm_cpu[i] = ((double)(pvmm_runs[0]->cpu_ns + pvmm_runs[1]->cpu_ns) / 2 - (double)p0.cpu_ns) / n;
		raw_cpu[i] = ((double)(raw_runs[0]->cpu_ns + raw_runs[1]->cpu_ns) / 2 - (double)r0.cpu_ns) / n;
		ratios[i] = pvmm_ns[i] / raw_ns[i];
	}

	double pvmm_med = median(pvmm_ns, rounds), raw_med = median(raw_ns, rounds);
	/* The target is the median of the paired ratios: unlike the ratio of
	 * the two medians, it does not depend on how many rounds of each
	 * program happened to land on the slow host level. */
	double ratio = median(ratios, rounds);
	add_info(rkey("hypercall_pvmm_ns", ring), rlabel("NOP para-API call, pvmm (median)", ring), pvmm_med,
		 "ns/call", 0);
	add_info(rkey("hypercall_raw_ns", ring),
		 rlabel(ring == 3 ? "out exit, raw KVM loop at CPL3 (median)" : "out exit, raw KVM loop (median)", ring),
		 raw_med, "ns/exit", 0);
	add_target(rkey("hypercall_ratio", ring), rlabel("hypercall ratio pvmm/raw (paired)", ring), ratio, "x", 3,
		   "<= 1.10", TARGET_CALL_RATIO, ratio <= TARGET_CALL_RATIO);
	add_info(rkey("hypercall_ratio_of_medians", ring), rlabel("hypercall ratio of the two medians", ring),
		 pvmm_med / raw_med, "x", 3);
	double pvmm_cpu_med = median(pvmm_cpu, rounds), raw_cpu_med = median(raw_cpu, rounds);
	add_info(rkey("hypercall_pvmm_cpu_ns", ring), rlabel("NOP call, pvmm, CPU time (median)", ring), pvmm_cpu_med,
		 "ns/call", 0);
	add_info(rkey("hypercall_raw_cpu_ns", ring), rlabel("out exit, raw, CPU time (median)", ring), raw_cpu_med,
		 "ns/exit", 0);
	add_info(rkey("hypercall_cpu_ratio", ring), rlabel("hypercall ratio of CPU-time medians", ring),
		 pvmm_cpu_med / raw_cpu_med, "x", 3);
	add_samples(rkey("hypercall_pvmm_ns", ring), "ns/call", pvmm_ns, rounds);
	add_samples(rkey("hypercall_raw_ns", ring), "ns/exit", raw_ns, rounds);
	add_samples(rkey("hypercall_pvmm_cpu_ns", ring), "ns/call", pvmm_cpu, rounds);
	add_samples(rkey("hypercall_raw_cpu_ns", ring), "ns/exit", raw_cpu, rounds);
	add_samples(rkey("hypercall_ratio", ring), "x", ratios, rounds);
	free(ratios);
	free(pvmm_ns);
	free(raw_ns);
	free(pvmm_cpu);
	free(raw_cpu);

	/* Counts: the monitor's own exit tally, N calls against none. */
	progress("hypercall, ring %d: exit counts from pvmm run --stats", ring);
	struct exit_counts c0 = stats_exit_counts(cfg, ring, 0), cn = stats_exit_counts(cfg, ring, n);
	if (cn.nop_calls != n)
		die("pvmm --stats counted %llu NOP calls for hcloop %u; the guest is not doing what the bench assumes",
		    cn.nop_calls, n);
	double per_call = (double)(cn.exits - c0.exits) / n;
	/* A count, so the target is exact; 3 decimals tolerate one stray exit per 2000 calls. */
	add_target(rkey("exits_per_call", ring), rlabel("VM exits per NOP call", ring), per_call, "exits", 3,
		   "= 1.000", 1.0, fabs(per_call - 1.0) < 0.0005);
	add_info(rkey("exits_hcloop_0", ring), rlabel("VM exits, hcloop N=0 (start-up+exit)", ring), (double)c0.exits,
		 "exits", 0);
	figure_ring = -1;
}

/* ---- 2c. the seccomp filters' cost --------------------------------------- */

/*
 * pvmm with its filters (the default) against `--seccomp off`, ring 3,
 * interleaved in this one run: cold start of hello (the filters are
 * compiled at build time, so loading them is a few prctl calls) and the
 * NOP call (every system call the run loop makes passes the filter).
 * Each call is the difference of an N-call run and an N=0 run, paired.
 */
static void bench_seccomp(const struct config *cfg)
{
	char count[16];
	snprintf(count, sizeof(count), "%u", cfg->calls3);
	char *cold_on[] = { (char *)cfg->pvmm, "run", "--ring", "3", "-q", (char *)cfg->hello, NULL };
	char *cold_off[] = { (char *)cfg->pvmm, "run", "--ring", "3", "--seccomp", "off", "-q", (char *)cfg->hello,
			     NULL };
	char *loop_on[] = { (char *)cfg->pvmm, "run", "--ring", "3", "-q", (char *)cfg->hcloop, count, NULL };
	char *loop_off[] = { (char *)cfg->pvmm, "run", "--ring", "3", "--seccomp", "off", "-q", (char *)cfg->hcloop,
			     count, NULL };
	char *zero_on[] = { (char *)cfg->pvmm, "run", "--ring", "3", "-q", (char *)cfg->hcloop, "0", NULL };
	char *zero_off[] = { (char *)cfg->pvmm, "run", "--ring", "3", "--seccomp", "off", "-q", (char *)cfg->hcloop,
			     "0", NULL };
	int n = cfg->cold_runs, rounds = cfg->rounds;
	double *on_ms = calloc((size_t)n, sizeof(double)), *off_ms = calloc((size_t)n, sizeof(double));
	double *call_on = calloc((size_t)rounds, sizeof(double)), *call_off = calloc((size_t)rounds, sizeof(double));
	double *call_ratio = calloc((size_t)rounds, sizeof(double));
	struct run_result z_on, z_off, runs[4];

	if (!on_ms || !off_ms || !call_on || !call_off || !call_ratio)
		die("out of memory");
	figure_ring = 3;
	progress("seccomp, ring 3: %d interleaved cold starts and %d rounds of N=%u calls, filters on and off", n,
		 rounds, cfg->calls3);
	interleaved_runs("seccomp cold start", cold_on, cold_off, n, on_ms, off_ms);
	for (int i = 0; i < rounds; i++) {
		bool on_a = i % 2 == 0; /* A B B A, as bench_hypercall does */
		for (int k = 0; k < 4; k++) {
			bool is_a = k == 0 || k == 3;
			run_checked(is_a == on_a ? loop_on : loop_off, false, &runs[k]);
		}
		run_checked(zero_on, false, &z_on);
		run_checked(zero_off, false, &z_off);
		const struct run_result *a0 = &runs[0], *a1 = &runs[3], *b0 = &runs[1], *b1 = &runs[2];
		const struct run_result *on0 = on_a ? a0 : b0, *on1 = on_a ? a1 : b1;
		const struct run_result *off0 = on_a ? b0 : a0, *off1 = on_a ? b1 : a1;
		call_on[i] = ((double)(on0->wall_ns + on1->wall_ns) / 2 - (double)z_on.wall_ns) / cfg->calls3;
		call_off[i] = ((double)(off0->wall_ns + off1->wall_ns) / 2 - (double)z_off.wall_ns) / cfg->calls3;
		call_ratio[i] = call_on[i] / call_off[i];
	}

	double cold = median(on_ms, n) / median(off_ms, n), call = median(call_ratio, rounds);
	char target[32];
	snprintf(target, sizeof(target), "<= %.2f", TARGET_SECCOMP_COST);
	add_info("seccomp_cold_on_ms_r3", rlabel("cold start, seccomp on (median)", 3), median(on_ms, n), "ms", 3);
	add_info("seccomp_cold_off_ms_r3", rlabel("cold start, seccomp off (median)", 3), median(off_ms, n), "ms", 3);
	add_target("seccomp_cold_ratio_r3", rlabel("cold start ratio seccomp on/off", 3), cold, "x", 3, strdup(target),
		   TARGET_SECCOMP_COST, cold <= TARGET_SECCOMP_COST);
	add_info("seccomp_call_on_ns_r3", rlabel("NOP call, seccomp on (median)", 3), median(call_on, rounds),
		 "ns/call", 0);
	add_info("seccomp_call_off_ns_r3", rlabel("NOP call, seccomp off (median)", 3), median(call_off, rounds),
		 "ns/call", 0);
	add_target("seccomp_call_ratio_r3", rlabel("NOP call ratio seccomp on/off (paired)", 3), call, "x", 3,
		   strdup(target), TARGET_SECCOMP_COST, call <= TARGET_SECCOMP_COST);
	add_samples("seccomp_cold_on_ms_r3", "ms", on_ms, n);
	add_samples("seccomp_cold_off_ms_r3", "ms", off_ms, n);
	add_samples("seccomp_call_ratio_r3", "x", call_ratio, rounds);
	figure_ring = -1;
	free(on_ms);
	free(off_ms);
	free(call_on);
	free(call_off);
	free(call_ratio);
}

/* ---- 2b. PV clock page ------------------------------------------------- */

/* Reads per run: page reads are interpreted guest code at CPL0 on hosts
 * without VT-x (~50 instructions, tens of us), so keep it small. */
#define CLOCK_READS 2000u

static bool line_find(const char *line, const char *key, double *value);

static unsigned long long clockread_exits(const struct config *cfg, unsigned reads)
{
	char count[16];
	snprintf(count, sizeof(count), "%u", reads);
	char *argv[] = { (char *)cfg->pvmm, "run", "--ring", "0", "--stats", "-q", (char *)cfg->clockread, count, "0",
			 NULL };
	struct run_result r;
	unsigned long long exits = 0;

	run_checked(argv, false, &r);
	if (!stats_value(r.err, "vm exits", &exits))
		die("`pvmm run --stats` printed no 'vm exits' line; its stderr was:\n%s", r.err);
	return exits;
}

static void bench_pvclock(const struct config *cfg)
{
	char count[16];
	snprintf(count, sizeof(count), "%u", CLOCK_READS);
	char *argv[] = { (char *)cfg->pvmm, "run", "--ring", "0", "-q", (char *)cfg->clockread, count, count, NULL };
	struct run_result r;
	double page_ns, call_ns;

	progress("pv clock: %u page reads against none (exit counts), then against %u CLOCK calls", CLOCK_READS,
		 CLOCK_READS);
	/* Counts: the monitor's exit tally, N page reads against none. */
	unsigned long long e0 = clockread_exits(cfg, 0), en = clockread_exits(cfg, CLOCK_READS);
	double per_read = ((double)en - (double)e0) / CLOCK_READS;
	add_target("pvclock_exits_per_read", "PV clock read, exits per read", per_read, "exits", 3, "= 0.000", 0.0,
		   fabs(per_read) < 0.0005);

	/* Time per read, page and CLOCK call in the same run (the guest
	 * times both with the page's clock). */
	run_checked(argv, true, &r);
	const char *line = strstr(r.out, "clockread page=");
	if (!line || !line_find(line, "page_ns", &page_ns) || !line_find(line, "call_ns", &call_ns))
		die("clockread printed no result line; its stdout was:\n%s", r.out);
	add_info("pvclock_read_ns", "PV clock page read, time per read", page_ns, "ns/read", 0);
	add_info("pvclock_call_ns", "CLOCK call, time per read (same run)", call_ns, "ns/call", 0);
}

/* ---- 2c. guest compute ------------------------------------------------- */

/*
 * The kernels of bench/compute_kernel.h, timed by the guest (PV clock)
 * and by this process on the same source and flags. Ring 3 runs natively,
 * so its guest/host speed should be close to 1; ring 0 is interpreted by
 * KVM on hosts without VT-x, so it gets far fewer iterations (about a
 * second's worth here) and its figure is per iteration, for information.
 * Ring-0 guests are built without SSE: no floating-point kernel there.
 */
#define COMPUTE_INT_N 25000000ull  /* ~130 ms natively here */
#define COMPUTE_FP_N 25000000ull   /* ~100 ms natively here */
#define COMPUTE_INT0_N 40000ull    /* ~1 s at ring 0 on a host without VT-x */

struct compute_line {
	double ns;
	unsigned long long result;
};

/* "compute kernel=NAME n=N ns=T result=HEX" for the kernel asked. */
static void compute_parse(const char *out, const char *kernel, unsigned long long n, struct compute_line *line)
{
	char pattern[64];
	snprintf(pattern, sizeof(pattern), "compute kernel=%s ", kernel);
	const char *at = strstr(out, pattern);
	unsigned long long got_n, ns, result;
	if (!at || sscanf(at + strlen(pattern), "n=%llu ns=%llu result=%llx", &got_n, &ns, &result) != 3 ||
	    got_n != n || ns == 0)
		die("the compute guest printed no valid %s line for n=%llu; its output was:\n%s", kernel, n, out);
	line->ns = (double)ns;
	line->result = result;
}

static double host_int_ns(uint64_t n, uint64_t *result)
{
	int64_t start = now_ns();
	*result = compute_int(n);
	return (double)(now_ns() - start);
}

static double host_fp_ns(uint64_t n, uint64_t *result)
{
	int64_t start = now_ns();
	double v = compute_fp(n);
	int64_t end = now_ns();
	memcpy(result, &v, sizeof(*result));
	return (double)(end - start);
}

static void bench_compute(const struct config *cfg)
{
	int runs = cfg->compute_runs;
	char int_n[32], fp_n[32], int0_n[32];
	snprintf(int_n, sizeof(int_n), "%llu", COMPUTE_INT_N);
	snprintf(fp_n, sizeof(fp_n), "%llu", COMPUTE_FP_N);
	snprintf(int0_n, sizeof(int0_n), "%llu", COMPUTE_INT0_N);
	char *r3_argv[] = { (char *)cfg->pvmm, "run", "--ring", "3", "-q", (char *)cfg->compute, "int", int_n, "fp",
			    fp_n, NULL };
	char *r0_argv[] = { (char *)cfg->pvmm, "run", "--ring", "0", "-q", (char *)cfg->compute0, "int", int0_n, NULL };
	double *h_int = calloc((size_t)runs, sizeof(double)), *h_fp = calloc((size_t)runs, sizeof(double));
	double *g_int = calloc((size_t)runs, sizeof(double)), *g_fp = calloc((size_t)runs, sizeof(double));
	double *g_int0 = calloc((size_t)runs, sizeof(double));
	double *s_int = calloc((size_t)runs, sizeof(double)), *s_fp = calloc((size_t)runs, sizeof(double));
	double *s_int0 = calloc((size_t)runs, sizeof(double));
	struct run_result r;
	static bool warned3, warned0;
	uint64_t want_int, want_fp, want_int0, got;

	if (!h_int || !h_fp || !g_int || !g_fp || !g_int0 || !s_int || !s_fp || !s_int0)
		die("out of memory");
	progress("compute: %d rounds of the integer and FP kernels on the host and at ring 3, integer at ring 0", runs);
	/* Warm-up, and the values every run must reproduce. */
	host_int_ns(COMPUTE_INT_N, &want_int);
	host_fp_ns(COMPUTE_FP_N, &want_fp);
	host_int_ns(COMPUTE_INT0_N, &want_int0);
	run_checked(r3_argv, true, &r);
	for (int i = 0; i < runs; i++) {
		struct compute_line li, lf, l0;
		/* The host's runs right next to the guest's, so both see the
		 * same load, before it in even rounds and after it in odd ones;
		 * the ring-0 run, long, last. */
		for (int k = 0; k < 2; k++) {
			if ((k == 0) == (i % 2 == 0)) {
				h_int[i] = host_int_ns(COMPUTE_INT_N, &got) / COMPUTE_INT_N;
				h_fp[i] = host_fp_ns(COMPUTE_FP_N, &got) / COMPUTE_FP_N;
			} else {
				run_checked(r3_argv, true, &r);
			}
		}
		warn_if_noisy("compute", r3_argv, &r, &warned3);
		compute_parse(r.out, "int", COMPUTE_INT_N, &li);
		compute_parse(r.out, "fp", COMPUTE_FP_N, &lf);
		run_checked(r0_argv, true, &r);
		warn_if_noisy("compute", r0_argv, &r, &warned0);
		compute_parse(r.out, "int", COMPUTE_INT0_N, &l0);
		if (li.result != want_int || lf.result != want_fp || l0.result != want_int0)
			die("the compute guest's results differ from the host's for the same kernels (int %llx/%llx, "
			    "fp %llx/%llx, ring-0 int %llx/%llx): it did not run the same code",
			    li.result, (unsigned long long)want_int, lf.result, (unsigned long long)want_fp, l0.result,
			    (unsigned long long)want_int0);
		g_int[i] = li.ns / COMPUTE_INT_N;
		g_fp[i] = lf.ns / COMPUTE_FP_N;
		g_int0[i] = l0.ns / COMPUTE_INT0_N;
		/* Speed relative to the host, paired with the host run just before. */
		s_int[i] = h_int[i] / g_int[i];
		s_fp[i] = h_fp[i] / g_fp[i];
		s_int0[i] = g_int0[i] / h_int[i];
	}

	double si = median(s_int, runs), sf = median(s_fp, runs);
	char target[16];
	snprintf(target, sizeof(target), ">= %.2f", TARGET_COMPUTE_SPEED);
	add_info("compute_host_int_ns", "host: integer kernel, time per iteration", median(h_int, runs), "ns/iter", 3);
	add_info("compute_host_fp_ns", "host: FP kernel, time per iteration", median(h_fp, runs), "ns/iter", 3);
	figure_ring = 3;
	add_info("compute_int_ns_r3", "ring 3: integer kernel, time per iteration", median(g_int, runs), "ns/iter", 3);
	add_target("compute_int_speed_r3", "ring 3: integer kernel, speed / host (paired)", si, "x", 3, strdup(target),
		   TARGET_COMPUTE_SPEED, si >= TARGET_COMPUTE_SPEED);
	add_info("compute_fp_ns_r3", "ring 3: FP kernel, time per iteration", median(g_fp, runs), "ns/iter", 3);
	add_target("compute_fp_speed_r3", "ring 3: FP kernel, speed / host (paired)", sf, "x", 3, strdup(target),
		   TARGET_COMPUTE_SPEED, sf >= TARGET_COMPUTE_SPEED);
	figure_ring = 0;
	add_info("compute_int_ns", "ring 0: integer kernel, time per iteration", median(g_int0, runs), "ns/iter", 0);
	add_info("compute_int_slowdown", "ring 0: integer kernel, time / host's (interpreted)", median(s_int0, runs),
		 "x", 0);
	/* No value: ring-0 guests are built without SSE (KVM's emulator, which
	 * runs CPL0 code here, has none). */
	add_info("compute_fp_ns", "ring 0: FP kernel (no SSE at CPL0 here)", NAN, "ns/iter", 3);
	figure_ring = -1;
	add_samples("compute_host_int_ns", "ns/iter", h_int, runs);
	add_samples("compute_host_fp_ns", "ns/iter", h_fp, runs);
	add_samples("compute_int_ns_r3", "ns/iter", g_int, runs);
	add_samples("compute_fp_ns_r3", "ns/iter", g_fp, runs);
	add_samples("compute_int_ns", "ns/iter", g_int0, runs);
	free(h_int);
	free(h_fp);
	free(g_int);
	free(g_fp);
	free(g_int0);
	free(s_int);
	free(s_fp);
	free(s_int0);
}

/* ---- 3. memory ---------------------------------------------------------- */

struct mem_probe {
	long hwm_kib;            /* VmHWM at exit: the process's peak RSS */
	long anon_kib, file_kib; /* RssAnon, RssFile at exit (guest RAM already freed) */
	long guest_kib;          /* resident pages of guest RAM before it is freed */
	bool guest_found;
	bool guest_at_munmap;    /* found at its munmap, not by the exit fallback */
	unsigned long syscalls;  /* after exec */
	unsigned long ioctls;
	unsigned long kvm_runs;
	unsigned long mmaps;     /* mmap + munmap + mprotect + brk */
	int status;
};

/* "Key:   123 kB" from /proc/PID/status. */
static long proc_status_kib(pid_t pid, const char *key)
{
	char path[64], line[256];
	long value = -1;
	size_t key_len = strlen(key);

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, key_len) == 0 && line[key_len] == ':') {
			value = strtol(line + key_len + 1, NULL, 10);
			break;
		}
	fclose(f);
	return value;
}

/* Resident 4 KiB pages in [start, start+len) of pid, from /proc/PID/pagemap
 * (bit 63 = present, bit 62 = swapped). Exact for any range, whatever VMAs
 * the kernel merged around it. -1 on failure. */
static long resident_pages(pid_t pid, uint64_t start, uint64_t len)
{
	char path[64];
	uint64_t entries[512];
	long resident = 0;

	snprintf(path, sizeof(path), "/proc/%d/pagemap", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	uint64_t page = start / 4096, end = (start + len) / 4096;
	while (page < end) {
		size_t want = end - page < 512 ? (size_t)(end - page) : 512;
		ssize_t got = pread(fd, entries, want * 8, (off_t)(page * 8));
		if (got <= 0) {
			resident = -1;
			break;
		}
		for (ssize_t i = 0; i < got / 8; i++)
			resident += (entries[i] >> 62) & 1 ? 1 : (long)(entries[i] >> 63);
		page += (uint64_t)got / 8;
	}
	close(fd);
	return resident;
}

/* Fallback when no munmap of guest RAM was seen: a mapping of exactly the
 * guest's size. Returns its start or 0. */
static uint64_t find_mapping_of_size(pid_t pid, uint64_t size)
{
	char path[64], line[512];
	uint64_t found = 0;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long lo, hi;
		if (sscanf(line, "%llx-%llx", &lo, &hi) == 2 && hi - lo == size) {
			found = lo;
			break;
		}
	}
	fclose(f);
	return found;
}

/*
 * Run argv under ptrace, stopping at each system call. At the munmap of
 * guest RAM (length guest_bytes) count its resident pages; at the exit event,
 * with the address space still intact, read VmHWM. Tracing slows the run,
 * which does not matter for memory; the syscall counts come along free.
 */
static void probe_memory(char *const argv[], uint64_t guest_bytes, struct mem_probe *p)
{
	int status;
	memset(p, 0, sizeof(*p));
	p->hwm_kib = -1;

	pid_t pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) < 0)
			_exit(125);
		exec_child(argv, devnull_fd, devnull_fd);
	}
	/* First stop: the SIGTRAP after a successful exec. */
	if (waitpid(pid, &status, 0) < 0 || !WIFSTOPPED(status))
		die("memory probe: `%s` did not start under ptrace (status %#x)", argv[0], status);
	if (ptrace(PTRACE_SETOPTIONS, pid, NULL,
		   (void *)(long)(PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACEEXIT | PTRACE_O_EXITKILL)) < 0)
		die("PTRACE_SETOPTIONS: %s", strerror(errno));

	int deliver = 0;
	for (;;) {
		if (ptrace(PTRACE_SYSCALL, pid, NULL, (void *)(long)deliver) < 0)
			die("PTRACE_SYSCALL: %s", strerror(errno));
		deliver = 0;
		if (waitpid(pid, &status, 0) < 0)
			die("waitpid: %s", strerror(errno));
		if (WIFEXITED(status) || WIFSIGNALED(status))
			break;
		if (!WIFSTOPPED(status))
			continue;
		int sig = WSTOPSIG(status);
		if (sig == (SIGTRAP | 0x80)) {
			struct __ptrace_syscall_info info;
			if (ptrace(PTRACE_GET_SYSCALL_INFO, pid, (void *)sizeof(info), &info) < 0)
				die("PTRACE_GET_SYSCALL_INFO: %s", strerror(errno));
			if (info.op != PTRACE_SYSCALL_INFO_ENTRY)
				continue;
			uint64_t nr = info.entry.nr, a0 = info.entry.args[0], a1 = info.entry.args[1];
			p->syscalls++;
			if (nr == SYS_ioctl) {
				p->ioctls++;
				p->kvm_runs += a1 == KVM_RUN;
			}
			if (nr == SYS_mmap || nr == SYS_munmap || nr == SYS_mprotect || nr == SYS_brk)
				p->mmaps++;
			if (nr == SYS_munmap && a1 == guest_bytes && !p->guest_found) {
				long pages = resident_pages(pid, a0, a1);
				if (pages >= 0) {
					p->guest_kib = pages * 4;
					p->guest_found = p->guest_at_munmap = true;
				}
			}
		} else if (status >> 8 == (SIGTRAP | (PTRACE_EVENT_EXIT << 8))) {
			p->hwm_kib = proc_status_kib(pid, "VmHWM");
			p->anon_kib = proc_status_kib(pid, "RssAnon");
			p->file_kib = proc_status_kib(pid, "RssFile");
			if (!p->guest_found && guest_bytes) {
				uint64_t start = find_mapping_of_size(pid, guest_bytes);
				long pages = start ? resident_pages(pid, start, guest_bytes) : -1;
				if (pages >= 0) {
					p->guest_kib = pages * 4;
					p->guest_found = true;
				}
			}
		} else if (sig != SIGTRAP) {
			deliver = sig; /* a real signal: pass it on */
		}
	}
	p->status = status;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		char why[128];
		describe_status(status, why, sizeof(why));
		die("memory probe: `%s` failed under ptrace: %s", argv[0], why);
	}
	if (p->hwm_kib < 0)
		die("memory probe: could not read VmHWM of `%s` at exit", argv[0]);
}

static void bench_memory(const struct config *cfg)
{
	char *pvmm_argv[] = { (char *)cfg->pvmm, "run", "--ring", "0", "-q", "--mem", GUEST_MEM_ARG, (char *)cfg->hello,
			      NULL };
	char *raw_argv[] = { (char *)cfg->rawvm, NULL };
	int n = cfg->mem_runs;
	double *hwm = calloc((size_t)n, sizeof(double)), *guest = calloc((size_t)n, sizeof(double));
	double *monitor = calloc((size_t)n, sizeof(double));
	struct mem_probe p, raw;

	if (!hwm || !guest || !monitor)
		die("out of memory");
	progress("memory: %d ptrace probes of pvmm hello, 1 of rawvm", n);
	for (int i = 0; i < n; i++) {
		probe_memory(pvmm_argv, GUEST_MEM_BYTES, &p);
		if (!p.guest_found)
			die("memory probe: found no %s guest RAM mapping in pvmm (neither a munmap of that "
			    "length nor a mapping of that size at exit)", GUEST_MEM_ARG);
		hwm[i] = (double)p.hwm_kib;
		guest[i] = (double)p.guest_kib;
		monitor[i] = (double)(p.hwm_kib - p.guest_kib);
	}
	probe_memory(raw_argv, 0, &raw);

	double monitor_med = median(monitor, n);
	add_info("memory_peak_rss_kib", "pvmm hello peak RSS (VmHWM)", median(hwm, n), "KiB", 0);
	add_info("memory_guest_touched_kib", "guest RAM resident at teardown", median(guest, n), "KiB", 0);
	add_target("memory_monitor_kib", "monitor memory beyond guest RAM", monitor_med, "KiB", 0, "<= 2048",
		   TARGET_MONITOR_KIB, monitor_med <= TARGET_MONITOR_KIB);
	/* Where the monitor's share lives (last probe): its own anonymous
	 * memory, and file pages (its binary, libc, the loader) that other
	 * processes share. */
	long monitor_anon = p.anon_kib - (p.guest_at_munmap ? 0 : p.guest_kib);
	add_info("memory_monitor_anon_kib", "  of which anonymous, at exit", (double)monitor_anon, "KiB", 0);
	add_info("memory_monitor_file_kib", "  of which file-backed, at exit", (double)p.file_kib, "KiB", 0);
	add_info("memory_raw_peak_rss_kib", "raw KVM program peak RSS", (double)raw.hwm_kib, "KiB", 0);
	if (!p.guest_at_munmap)
		progress("memory: guest RAM was not unmapped before exit; measured it at the exit event instead");
	add_samples("memory_monitor_kib", "KiB", monitor, n);

	/* Counts from the last probes: what start-up costs in system calls. */
	add_info("syscalls_pvmm_hello", "syscalls, pvmm hello (after exec)", (double)p.syscalls, "calls", 0);
	add_info("syscalls_raw", "syscalls, raw KVM (after exec)", (double)raw.syscalls, "calls", 0);
	add_info("ioctls_pvmm_hello", "ioctls, pvmm hello", (double)p.ioctls, "calls", 0);
	add_info("ioctls_raw", "ioctls, raw KVM", (double)raw.ioctls, "calls", 0);
	add_info("kvm_runs_pvmm_hello", "KVM_RUN calls, pvmm hello", (double)p.kvm_runs, "calls", 0);
	add_info("mm_syscalls_pvmm_hello", "mmap/munmap/mprotect/brk, pvmm hello", (double)p.mmaps, "calls", 0);
	free(hwm);
	free(guest);
	free(monitor);
}

/* ---- 4. block I/O ------------------------------------------------------- */

/*
 * blkbench.elf over virtio-blk on a scratch image, for every combination
 * of pattern (seq, rand), direction (read, write), block size (4 KiB,
 * 64 KiB) and requests in flight (1, 32); the host reading and writing the
 * same file the same way in this process is the ceiling. Exits, interrupts
 * and CPU come from `pvmm run --stats-json`; throughput from the guest's
 * own result line. bench/README.md says what each column means.
 */

#define BLK_IMAGE_BYTES (64ull << 20)
#define BLKRW_IMAGE_BYTES (4ull << 20)
/* blkrw tests every 10th sector: 820 of a 4 MiB image's 8192, as Solo5's. */
#define BLKRW_SECTORS ((BLKRW_IMAGE_BYTES / 512 + 9) / 10)
/* Solo5's hvt monitor was timed at about 17 s for its own block test
 * (tests/test_blk) on these machines. That figure comes from elsewhere:
 * Solo5 is not in this tree, and its test guest is not blkrw.elf, which
 * does the same requests with far fewer guest instructions. Run side by
 * side on the same guest code the two monitors take about the same time,
 * so 17 s / blkrw's time measures the guest code, not the monitor. It is
 * shown for information and is never a verdict. */
#define SOLO5_HVT_BLK_S 17.0
#define TARGET_EXITS_QD32 0.05
#define TARGET_EXITS_QD1 1.0
#define TARGET_MONITOR_US 5.0
/* The host ceiling loops at least this long per measurement. */
#define CEILING_MIN_NS (40 * 1000 * 1000)

struct blk_config {
	int ring;                /* the guest's ring: 0 or 3 */
	bool rand, write;
	unsigned bs, qd;
	unsigned count;          /* requests per guest run: ~0.4 s at ring 0 here, ~0.1 s at ring 3 */
	const char *transport;   /* "pci" for --transport pci; NULL: the default (virtio-mmio) */
	char name[32];           /* "rand write 4K qd32" */
	char label[48];          /* "ring 3: rand write 4K qd32" */
	char key[40];            /* "rand_write_4k_qd32", "r3_rand_write_4k_qd32" */
};

/* One guest run's figures, from its result line and its --stats-json. */
struct blk_run {
	double iops, mb_s;
	double exits, kicks, interrupts, requests, kvm_exits;
	double monitor_ns, iothread_ns, vcpu_user_ns, other_ns, iothread_sleeps;
};

struct blk_result {
	struct blk_config c;
	struct blk_run *runs;
	double *host_mb_s, *host_cpu_ns;  /* per round: the ceiling loop, MB/s and CPU per operation */
	/* summaries */
	double mb_s, iops, host, exits_per_req, kicks_per_req, irqs_per_req, kvm_exits_per_req;
	double monitor_us, iothread_us, vcpu_user_us, other_us, sleeps_per_req, host_cpu_us;
};

static char scratch_dir[4096];
static char blk_image[4200], blkrw_image[4200], blk_stats[4200];

/* atexit: leave nothing in the scratch folder, even after die(). */
static void remove_scratch(void)
{
	if (!scratch_dir[0])
		return;
	unlink(blk_image);
	unlink(blkrw_image);
	unlink(blk_stats);
	rmdir(scratch_dir);
	scratch_dir[0] = '\0';
}

static char *read_text_file(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	size_t size = 0, cap = 4096;
	char *text = malloc(cap);
	ssize_t n;
	while (text && (n = read(fd, text + size, cap - size - 1)) > 0) {
		size += (size_t)n;
		if (cap - size < 2) {
			char *more = realloc(text, cap * 2);
			if (!more) {
				free(text);
				text = NULL;
				break;
			}
			text = more;
			cap *= 2;
		}
	}
	close(fd);
	if (text)
		text[size] = '\0';
	return text;
}

/* `"key": NUMBER` in flat JSON (pvmm's --stats-json), at or after `from`. */
static bool json_find(const char *from, const char *key, double *value)
{
	char pattern[64];
	snprintf(pattern, sizeof(pattern), "\"%s\": ", key);
	const char *at = strstr(from, pattern);
	if (!at)
		return false;
	at += strlen(pattern);
	char *end;
	*value = strtod(at, &end);
	return end != at;
}

/* ` key=NUMBER` in a guest's result line. */
static bool line_find(const char *line, const char *key, double *value)
{
	char pattern[64];
	snprintf(pattern, sizeof(pattern), " %s=", key);
	const char *at = strstr(line, pattern);
	if (!at)
		return false;
	at += strlen(pattern);
	char *end;
	*value = strtod(at, &end);
	return end != at;
}

/* Write `bytes` of non-zero data (so no hole reads as a shortcut), then pin
 * the file's pages in the page cache: these VMs' page cache is dropped from
 * outside every few seconds, and a read that goes to the virtual disk would
 * measure that disk instead of pvmm. Returns whether the pin worked. */
static bool make_image(const char *path, uint64_t bytes, void **map)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		die("cannot create scratch image %s: %s", path, strerror(errno));
	static uint64_t chunk[(1u << 20) / 8];
	uint64_t x = 0x2545f4914f6cdd1dull;
	for (uint64_t off = 0; off < bytes; off += sizeof(chunk)) {
		for (size_t i = 0; i < sizeof(chunk) / 8; i++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			chunk[i] = x;
		}
		if (pwrite(fd, chunk, sizeof(chunk), (off_t)off) != (ssize_t)sizeof(chunk))
			die("cannot write scratch image %s: %s", path, strerror(errno));
	}
	*map = mmap(NULL, bytes, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (*map == MAP_FAILED)
		die("cannot map scratch image %s: %s", path, strerror(errno));
	if (mlock(*map, bytes) == 0)
		return true;
	progress("block: cannot pin %s in the page cache (mlock: %s); reads may reach the disk", path,
		 strerror(errno));
	return false;
}

/* Percentage of the image's pages in the page cache. */
static double resident_percent(void *map, uint64_t bytes)
{
	size_t pages = (size_t)(bytes / 4096);
	unsigned char *vec = malloc(pages);
	if (!vec || mincore(map, bytes, vec)) {
		free(vec);
		return NAN;
	}
	size_t in = 0;
	for (size_t i = 0; i < pages; i++)
		in += vec[i] & 1;
	free(vec);
	return 100.0 * (double)in / (double)pages;
}

static int64_t thread_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The host ceiling: this process reading or writing the image with the
 * same block size and offsets as the guest (blkbench's xorshift for rand),
 * one synchronous pread/pwrite at a time, from and to the page cache. */
static void host_ceiling(const struct blk_config *c, uint8_t *buf, double *mb_s, double *cpu_ns_per_op)
{
	int fd = open(blk_image, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		die("cannot open %s: %s", blk_image, strerror(errno));
	uint64_t blocks = BLK_IMAGE_BYTES / c->bs, next = 0, x = 0x9e3779b97f4a7c15ull, ops = 0;
	int64_t start = now_ns(), cpu0 = thread_cpu_ns(), elapsed;
	do {
		for (unsigned i = 0; i < 256; i++, ops++) {
			uint64_t b;
			if (c->rand) {
				x ^= x << 13, x ^= x >> 7, x ^= x << 17;
				b = x % blocks;
			} else {
				b = next;
				next = next + 1 == blocks ? 0 : next + 1;
			}
			ssize_t n = c->write ? pwrite(fd, buf, c->bs, (off_t)(b * c->bs))
					     : pread(fd, buf, c->bs, (off_t)(b * c->bs));
			if (n != (ssize_t)c->bs)
				die("host ceiling: %s of %s failed: %s", c->write ? "pwrite" : "pread", blk_image,
				    n < 0 ? strerror(errno) : "short transfer");
		}
		elapsed = now_ns() - start;
	} while (elapsed < CEILING_MIN_NS);
	int64_t cpu = thread_cpu_ns() - cpu0;
	close(fd);
	*mb_s = (double)ops * c->bs / 1e6 / ((double)elapsed / 1e9);
	*cpu_ns_per_op = (double)cpu / (double)ops;
}

/* Counters of one `pvmm run --stats-json` run; the virtio-blk device's are
 * the first device object named so. */
struct blk_counters {
	double exits, kicks, interrupts, requests, kvm_exits;
	double monitor_ns, iothread_ns, vcpu_user_ns, other_ns, iothread_sleeps;
};

static void read_counters(struct blk_counters *k)
{
	char *json = read_text_file(blk_stats);
	if (!json)
		die("pvmm wrote no --stats-json file %s", blk_stats);
	const char *dev = strstr(json, "\"name\": \"virtio-blk\"");
	bool ok = dev && json_find(json, "exits", &k->exits) && json_find(json, "monitor_cpu_ns", &k->monitor_ns) &&
		  json_find(json, "iothread_cpu_ns", &k->iothread_ns) &&
		  json_find(json, "vcpu_user_ns", &k->vcpu_user_ns) &&
		  json_find(json, "other_threads_cpu_ns", &k->other_ns) &&
		  json_find(json, "iothread_sleeps", &k->iothread_sleeps) && json_find(dev, "kicks", &k->kicks) &&
		  json_find(dev, "interrupts", &k->interrupts) && json_find(dev, "requests", &k->requests);
	if (!ok)
		die("`pvmm run --stats-json` lacks a figure the block benchmark needs (a pvmm older than the "
		    "bench?); it wrote:\n%s", json);
	if (!json_find(json, "kvm_exits", &k->kvm_exits))
		k->kvm_exits = NAN; /* null: no binary stats in this kernel */
	free(json);
}

static void run_blkbench(const struct config *cfg, const struct blk_config *c, unsigned count, struct blk_run *out,
			 struct blk_counters *k)
{
	char disk[4300], pattern[32], op[32], bs[32], qd[32], n[32];
	snprintf(disk, sizeof(disk), "%s", blk_image);
	snprintf(pattern, sizeof(pattern), "pattern=%s", c->rand ? "rand" : "seq");
	snprintf(op, sizeof(op), "op=%s", c->write ? "write" : "read");
	snprintf(bs, sizeof(bs), "bs=%u", c->bs);
	snprintf(qd, sizeof(qd), "qd=%u", c->qd);
	snprintf(n, sizeof(n), "count=%u", count);
	char *argv[] = { (char *)cfg->pvmm, "run", "--ring", (char *)ring_arg(c->ring), "-q", "--stats-json", blk_stats,
			 "--disk", disk, "--transport", (char *)(c->transport ? c->transport : "mmio"),
			 (char *)cfg->blkbench, pattern, op, bs, qd, n, NULL };
	struct run_result r;
	static bool warned;

	unlink(blk_stats);
	run_checked(argv, true, &r);
	warn_if_noisy("block", argv, &r, &warned);
	const char *line = strstr(r.out, "blkbench pattern=");
	double iops, kib, ops, errors;
	if (!line || !line_find(line, "iops", &iops) || !line_find(line, "kib_per_s", &kib) ||
	    !line_find(line, "ops", &ops) || !line_find(line, "errors", &errors) || errors != 0 || ops != count)
		die("blkbench printed no valid result line for `%s %s %s %s %s`; its output was:\n%s", pattern, op, bs,
		    qd, n, r.out);
	read_counters(k);
	if (k->requests < count)
		die("the virtio-blk device counted %.0f requests for %u guest requests", k->requests, count);
	if (out) {
		out->iops = iops;
		out->mb_s = kib * 1024 / 1e6;
	}
}

/* Per-request figures of one run: its counts beyond the 1-request
 * baseline run's (start-up, device set-up, exit), over its requests. */
static void blk_per_request(const struct blk_counters *k, const struct blk_counters *base, struct blk_run *out)
{
	double n = k->requests - base->requests;
	out->requests = k->requests;
	/* VM exits the I/O path causes: exits to pvmm (POLL calls, MMIO
	 * register reads) plus queue kicks, which KVM hands to an ioeventfd
	 * in the kernel and which are exits on VT-x hosts too. */
	out->exits = (k->exits + k->kicks - base->exits - base->kicks) / n;
	out->kicks = (k->kicks - base->kicks) / n;
	out->interrupts = (k->interrupts - base->interrupts) / n;
	out->kvm_exits = (k->kvm_exits - base->kvm_exits) / n;
	/* CPU is measured over the run loop only: no baseline to take off. */
	out->monitor_ns = k->monitor_ns;
	out->iothread_ns = k->iothread_ns;
	out->vcpu_user_ns = k->vcpu_user_ns;
	out->other_ns = k->other_ns;
	out->iothread_sleeps = k->iothread_sleeps;
}

/* One sleep and wake-up of a thread, the unit of the I/O thread's work at
 * one request in flight: two threads on two different CPUs bounce through
 * a pair of eventfds, each blocking in read() until the other wakes it.
 * Pinned, because two threads that the scheduler happens to put on one
 * CPU switch to each other for a fraction of the cost (1 us against 30 us
 * here), and pvmm's I/O thread runs beside a busy vCPU thread. */
static int wake_fd[2];
static int wake_cpu[2] = { -1, -1 };
static int64_t wake_peer_cpu;
#define WAKE_ROUNDS 2000

static void pin_to(int cpu)
{
	cpu_set_t set;
	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

static void *wake_peer(void *arg)
{
	uint64_t v;
	(void)arg;
	pin_to(wake_cpu[1]);
	int64_t cpu0 = thread_cpu_ns();
	for (int i = 0; i < WAKE_ROUNDS; i++) {
		if (read(wake_fd[0], &v, sizeof(v)) != sizeof(v))
			break;
		v = 1;
		if (write(wake_fd[1], &v, sizeof(v)) != sizeof(v))
			break;
	}
	wake_peer_cpu = thread_cpu_ns() - cpu0;
	return NULL;
}

static void bench_wakeup(void)
{
	pthread_t peer;
	uint64_t v;
	cpu_set_t old;
	bool pinned = false;

	/* Two CPUs this process may use, if there are two. */
	if (sched_getaffinity(0, sizeof(old), &old) == 0 && CPU_COUNT(&old) >= 2) {
		for (int cpu = 0, n = 0; cpu < CPU_SETSIZE && n < 2; cpu++)
			if (CPU_ISSET(cpu, &old))
				wake_cpu[n++] = cpu;
		pinned = true;
		pin_to(wake_cpu[0]);
	}
	wake_fd[0] = eventfd(0, EFD_CLOEXEC);
	wake_fd[1] = eventfd(0, EFD_CLOEXEC);
	if (wake_fd[0] < 0 || wake_fd[1] < 0 || pthread_create(&peer, NULL, wake_peer, NULL))
		die("wake-up probe: cannot set up: %s", strerror(errno));
	int64_t start = now_ns(), cpu0 = thread_cpu_ns();
	for (int i = 0; i < WAKE_ROUNDS; i++) {
		v = 1;
		if (write(wake_fd[0], &v, sizeof(v)) != sizeof(v) || read(wake_fd[1], &v, sizeof(v)) != sizeof(v))
			die("wake-up probe: eventfd: %s", strerror(errno));
	}
	int64_t wall = now_ns() - start, cpu = thread_cpu_ns() - cpu0;
	pthread_join(peer, NULL);
	close(wake_fd[0]);
	close(wake_fd[1]);
	/* The guests run next: they must not inherit the pin. */
	if (pinned)
		sched_setaffinity(0, sizeof(old), &old);
	/* Each round, each thread blocks once, is woken once, wakes the other once. */
	add_info("host_wakeup_cpu_us", pinned ? "host: CPU per cross-CPU sleep + wake-up" : "host: CPU per sleep + wake-up",
		 (double)(cpu + wake_peer_cpu) / 2 / WAKE_ROUNDS / 1e3, "us", 1);
	add_info("host_wakeup_roundtrip_us", "host: eventfd ping-pong round trip", (double)wall / WAKE_ROUNDS / 1e3,
		 "us", 1);
}

static void summarize(struct blk_result *res, int runs)
{
	double *v = calloc((size_t)runs, sizeof(double));
	double sum_requests = 0, sum_monitor = 0, sum_io = 0, sum_vcpu = 0, sum_other = 0, sum_sleeps = 0;
	if (!v)
		die("out of memory");
#define MEDIAN_OF(field, dst)                          \
	do {                                           \
		for (int i = 0; i < runs; i++)         \
			v[i] = res->runs[i].field;     \
		dst = median(v, runs);                 \
	} while (0)
	MEDIAN_OF(mb_s, res->mb_s);
	MEDIAN_OF(iops, res->iops);
	MEDIAN_OF(exits, res->exits_per_req);
	MEDIAN_OF(kicks, res->kicks_per_req);
	MEDIAN_OF(interrupts, res->irqs_per_req);
	MEDIAN_OF(kvm_exits, res->kvm_exits_per_req);
#undef MEDIAN_OF
	res->host = median(res->host_mb_s, runs);
	res->host_cpu_us = median(res->host_cpu_ns, runs) / 1e3;
	/* CPU: totals over all runs over all requests. The user/system split
	 * behind vcpu_user_ns is sampled per 4 ms tick, so one run's share is
	 * 0 or a multiple of 4 ms; the sum over runs is the unbiased estimate. */
	for (int i = 0; i < runs; i++) {
		const struct blk_run *r = &res->runs[i];
		sum_requests += r->requests;
		sum_monitor += r->monitor_ns;
		sum_io += r->iothread_ns;
		sum_vcpu += r->vcpu_user_ns;
		sum_other += r->other_ns;
		sum_sleeps += r->iothread_sleeps;
	}
	res->monitor_us = sum_monitor / sum_requests / 1e3;
	res->iothread_us = sum_io / sum_requests / 1e3;
	res->vcpu_user_us = sum_vcpu / sum_requests / 1e3;
	res->other_us = sum_other / sum_requests / 1e3;
	res->sleeps_per_req = sum_sleeps / sum_requests;
	free(v);
}

#define BLK_CONFIGS_PER_RING 16
#define BLK_CONFIGS (2 * BLK_CONFIGS_PER_RING) /* ring 0's, then ring 3's */
static struct blk_result blk_results[BLK_CONFIGS];
static int blk_runs_done;
static bool blk_pinned;
static double blk_resident_min = NAN;

static void add_detail(const char *config_key, const char *what, const char *config_name, const char *label_what,
		       double value, const char *unit, int decimals)
{
	char key[96], label[96];
	snprintf(key, sizeof(key), "blk_%s_%s", config_key, what);
	snprintf(label, sizeof(label), "%s: %s", config_name, label_what);
	add_info(strdup(key), strdup(label), value, unit, decimals);
	figures[figure_count - 1].detail = true;
}

/* The worst (largest) value of a per-request figure over a set of
 * configurations; its name goes into the label. */
enum worst_of { WORST_EXITS, WORST_CPU, WORST_OF_HOST };

/* The worst value of a per-request figure (the largest) or of guest/host
 * throughput (the smallest) over the configurations of one ring with the
 * given qd (and bs, if not 0); its name goes into the label. A target
 * row where target is not NULL, else an info row. */
static void add_worst(int ring, const char *key, const char *label, const char *unit, int decimals,
		      const char *target, double target_value, unsigned qd, unsigned bs, enum worst_of what)
{
	double worst = NAN;
	const char *which = "none";
	for (int i = 0; i < BLK_CONFIGS; i++) {
		const struct blk_result *r = &blk_results[i];
		if (r->c.ring != ring || r->c.qd != qd || (bs && r->c.bs != bs))
			continue;
		double v = what == WORST_CPU ? r->monitor_us : what == WORST_EXITS ? r->exits_per_req : r->mb_s / r->host;
		if (isnan(worst) || (what == WORST_OF_HOST ? v < worst : v > worst)) {
			worst = v;
			which = r->c.name;
		}
	}
	char full[128];
	snprintf(full, sizeof(full), "ring %d: %s (worst: %s)", ring, label, which);
	figure_ring = ring;
	if (!target)
		add_info(rkey(key, ring), strdup(full), worst, unit, decimals);
	else if (what == WORST_OF_HOST)
		add_target(rkey(key, ring), strdup(full), worst, unit, decimals, target, target_value,
			   worst >= target_value);
	else
		add_target(rkey(key, ring), strdup(full), worst, unit, decimals, target, target_value,
			   worst <= target_value);
	figure_ring = -1;
}

static void bench_blkrw(const struct config *cfg, int runs)
{
	char disk[4300];
	snprintf(disk, sizeof(disk), "%s", blkrw_image);
	char *argv[] = { (char *)cfg->pvmm, "run", "--ring", "0", "-q", "--disk", disk, (char *)cfg->blkrw, NULL };
	double *wall_s = calloc((size_t)runs, sizeof(double)), *guest_s = calloc((size_t)runs, sizeof(double));
	struct run_result r;
	static bool warned;

	if (!wall_s || !guest_s)
		die("out of memory");
	progress("block: blkrw.elf (Solo5's block test), ring 0, %d runs on a 4 MiB image", runs);
	figure_ring = 0;
	for (int i = 0; i < runs; i++) {
		run_checked(argv, true, &r);
		warn_if_noisy("blkrw", argv, &r, &warned);
		const char *line = strstr(r.out, "blkrw sectors=");
		double ms, sectors;
		if (!line || !strstr(r.out, "SUCCESS") || !line_find(line, "elapsed_ms", &ms) ||
		    !line_find(line, "sectors", &sectors) || sectors != BLKRW_SECTORS)
			die("blkrw.elf did not report SUCCESS over %llu sectors; its output was:\n%s",
			    (unsigned long long)BLKRW_SECTORS, r.out);
		wall_s[i] = (double)r.wall_ns / 1e9;
		guest_s[i] = ms / 1e3;
	}
	double wall = median(wall_s, runs), guest = median(guest_s, runs);
	add_info("blkrw_wall_s", "blkrw (Solo5 test_blk's requests), pvmm wall", wall, "s", 3);
	add_info("blkrw_guest_s", "blkrw, guest-measured loop time", guest, "s", 3);
	/* Information only: a figure from elsewhere, for other guest code. */
	add_info("blkrw_solo5_reference_s", "blkrw: Solo5 hvt, its own guest, figure from elsewhere",
		 SOLO5_HVT_BLK_S, "s", 1);
	add_info("blkrw_solo5_ratio", "blkrw: that figure / pvmm wall (different guest code)",
		 SOLO5_HVT_BLK_S / wall, "x", 1);
	figure_ring = -1;
	add_samples("blkrw_wall_s", "s", wall_s, runs);
	add_samples("blkrw_guest_s", "s", guest_s, runs);
	free(wall_s);
	free(guest_s);
}

/*
 * The cost of one device interrupt: blkbench at 1 request in flight in
 * interrupt mode (the guest sleeps until the device's interrupt) against
 * poll mode (the guest waits in the POLL call), same requests; the
 * difference in time per request is what taking an interrupt costs beyond
 * the POLL call's return. A guest that refuses interrupt mode (a monitor
 * older than 1.4 at ring 3) gives an n/a row.
 */
#define IRQ_RUNS 3

static bool irq_run(const struct config *cfg, int ring, const char *mode, unsigned count, double *lat_ns)
{
	char m[32], n[32];
	snprintf(m, sizeof(m), "mode=%s", mode);
	snprintf(n, sizeof(n), "count=%u", count);
	char *argv[] = { (char *)cfg->pvmm, "run", "--ring", (char *)ring_arg(ring), "-q", "--disk", blk_image,
			 (char *)cfg->blkbench, "pattern=seq", "op=read", "bs=4096", "qd=1", m, n, NULL };
	struct run_result r;
	double ops, elapsed;

	run_program(argv, true, &r);
	const char *line = strstr(r.out, "blkbench pattern=");
	bool ok = WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0 && line && line_find(line, "ops", &ops) &&
		  line_find(line, "elapsed_ns", &elapsed) && ops == count;
	if (ok) {
		*lat_ns = elapsed / ops;
		return true;
	}
	if (strcmp(mode, "irq") == 0 && strstr(r.out, "blkbench FAIL"))
		return false; /* the guest says it cannot: not a measurement failure */
	char why[128];
	describe_status(r.status, why, sizeof(why));
	die("blkbench %s at ring %d failed (%s); its output was:\n%s\nits stderr:\n%s", m, ring, why, r.out, r.err);
}

static void bench_irq_cost(const struct config *cfg)
{
	for (int ring = 0; ring <= 3; ring += 3) {
		unsigned count = ring == 3 ? 1500 : 500;
		double diff[IRQ_RUNS], poll_ns[IRQ_RUNS], irq_ns[IRQ_RUNS];
		bool available = true;
		progress("block: interrupt cost, ring %d: %d runs each of blkbench mode=poll and mode=irq at qd 1", ring,
			 IRQ_RUNS);
		for (int i = 0; i < IRQ_RUNS && available; i++) {
			irq_run(cfg, ring, "poll", count, &poll_ns[i]);
			available = irq_run(cfg, ring, "irq", count, &irq_ns[i]);
			diff[i] = irq_ns[i] - poll_ns[i];
		}
		figure_ring = ring;
		if (available) {
			add_info(rkey("irq_cost_us", ring), rlabel("device interrupt: irq - poll time per request, qd 1", ring),
				 median(diff, IRQ_RUNS) / 1e3, "us", 1);
			add_info(rkey("irq_mode_req_us", ring), rlabel("  time per request, interrupt mode", ring),
				 median(irq_ns, IRQ_RUNS) / 1e3, "us", 1);
			add_info(rkey("poll_mode_req_us", ring), rlabel("  time per request, poll mode", ring),
				 median(poll_ns, IRQ_RUNS) / 1e3, "us", 1);
		} else {
			progress("block: ring %d: blkbench refused mode=irq (interrupts not available there)", ring);
			add_info(rkey("irq_cost_us", ring),
				 rlabel("device interrupt: n/a (not available at this ring)", ring), NAN, "us", 1);
		}
		figure_ring = -1;
	}
}

/*
 * What delivering one interrupt costs, per ring: irqbench makes the UART
 * interrupt once per round and waits for its handler (ring 0: the
 * runtime's IDT; ring 3: the monitor's stub and an upcall), against the
 * same outs with interrupts off. Info rows: no target, the issue asks
 * only to show what each costs.
 */
static void bench_irq_delivery(const struct config *cfg)
{
	for (int ring = 0; ring <= 3; ring += 3) {
		const char *n = ring == 3 ? "600" : "300";
		double per_irq[IRQ_RUNS], irqs = 0;
		progress("interrupt delivery, ring %d: %d runs of irqbench %s", ring, IRQ_RUNS, n);
		for (int i = 0; i < IRQ_RUNS; i++) {
			char *argv[] = { (char *)cfg->pvmm, "run", "--ring", (char *)ring_arg(ring), "-q", "--console", "uart",
					 (char *)cfg->irqbench, (char *)n, NULL };
			struct run_result r;
			run_program(argv, true, &r);
			const char *line = strstr(r.out, "irqbench ring=");
			if (!WIFEXITED(r.status) || WEXITSTATUS(r.status) != 0 || !line ||
			    !line_find(line, "ns_per_irq", &per_irq[i]) || !line_find(line, "irqs", &irqs) ||
			    irqs != strtod(n, NULL)) {
				char why[128];
				describe_status(r.status, why, sizeof(why));
				die("irqbench at ring %d failed (%s); its output was:\n%s\nits stderr:\n%s", ring, why, r.out,
				    r.err);
			}
		}
		figure_ring = ring;
		add_info(rkey("irq_delivery_us", ring), rlabel("device interrupt delivered to its handler (irqbench)", ring),
			 median(per_irq, IRQ_RUNS) / 1e3, "us", 1);
		figure_ring = -1;
	}
}

/*
 * Page-table changes, the classic contrast: a batch of 256 mappings made
 * by the PV MMU call (one exit; the monitor copies the changed path and
 * switches CR3) at ring 3 and at ring 0, against a ring-0 guest writing
 * each PTE itself and flushing it with invlpg (interpreted here). Target:
 * the ring-3 PV MMU at least TARGET_MMU_SPEEDUP times less time per
 * mapping than the ring-0 writes, both from the same run. The same work
 * in exits and KVM's own counters is `pvmm bench compare`'s page-table
 * rows (src/bench_compare.c), step 2 of make bench.
 */
#define MMU_RUNS 3
#define TARGET_MMU_SPEEDUP 10.0

static void mmu_run(const struct config *cfg, int ring, const char *mode, double *map_ns, double *unmap_ns)
{
	char m[32];
	snprintf(m, sizeof(m), "mode=%s", mode);
	char *argv[] = { (char *)cfg->pvmm, "run", "--ring", (char *)ring_arg(ring), "-q", (char *)cfg->mmubench, "n=256",
			 "rounds=10", m, NULL };
	struct run_result r;
	run_checked(argv, true, &r);
	char want[48];
	snprintf(want, sizeof(want), "mmubench mode=%s ", mode);
	const char *line = strstr(r.out, want);
	if (!line || !line_find(line, "ns_per_map", map_ns) || !line_find(line, "ns_per_unmap", unmap_ns))
		die("mmubench %s at ring %d printed no result line; its output was:\n%s", m, ring, r.out);
}

static void bench_mmu(const struct config *cfg)
{
	double pv3[MMU_RUNS], pv0[MMU_RUNS], direct0[MMU_RUNS], unmap[MMU_RUNS], ratio[MMU_RUNS];
	progress("pv mmu: %d rounds of mmubench (256 mappings per batch) at ring 3 (pv) and ring 0 (pv, direct)",
		 MMU_RUNS);
	for (int i = 0; i < MMU_RUNS; i++) {
		mmu_run(cfg, 3, "pv", &pv3[i], &unmap[i]);
		mmu_run(cfg, 0, "pv", &pv0[i], &unmap[i]);
		mmu_run(cfg, 0, "direct", &direct0[i], &unmap[i]);
		ratio[i] = direct0[i] / pv3[i];
	}
	double speedup = median(ratio, MMU_RUNS);
	char target[16];
	snprintf(target, sizeof(target), ">= %.0f", TARGET_MMU_SPEEDUP);
	figure_ring = 3;
	add_info("mmu_pv_ns_per_map_r3", "ring 3: PV MMU, time per mapping (batches of 256)", median(pv3, MMU_RUNS),
		 "ns", 0);
	figure_ring = 0;
	add_info("mmu_pv_ns_per_map", "ring 0: PV MMU, time per mapping (batches of 256)", median(pv0, MMU_RUNS), "ns", 0);
	add_info("mmu_direct_ns_per_map", "ring 0: own PTE write + invlpg, time per mapping", median(direct0, MMU_RUNS),
		 "ns", 0);
	figure_ring = -1;
	add_target("mmu_speedup", "PV MMU (ring 3) vs ring-0 PTE writes, per mapping (paired)", speedup, "x", 1,
		   strdup(target), TARGET_MMU_SPEEDUP, speedup >= TARGET_MMU_SPEEDUP);
}

/*
 * The control plane's start-up: from fork until `pvmm --api-sock PATH`
 * accepts a connection, wall time and the CPU time of every pvmm thread
 * (/proc/PID/task/N/schedstat, read the moment the connection is
 * accepted). Shown beside FIRECRACKER_API_CPU_MS, Firecracker's published
 * budget for its own API socket, as information only: that number was not
 * measured in this run, so it makes no verdict.
 */
#define API_RUNS 30
#define FIRECRACKER_API_CPU_MS 8.0

static double task_cpu_ms(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	DIR *dir = opendir(path);
	double ns = 0;
	if (!dir)
		return NAN;
	for (struct dirent *d; (d = readdir(dir));) {
		if (d->d_name[0] == '.')
			continue;
		char stat_path[384];
		snprintf(stat_path, sizeof(stat_path), "%s/%s/schedstat", path, d->d_name);
		FILE *f = fopen(stat_path, "r");
		unsigned long long on_cpu;
		if (f && fscanf(f, "%llu", &on_cpu) == 1)
			ns += (double)on_cpu;
		if (f)
			fclose(f);
	}
	closedir(dir);
	return ns / 1e6;
}

/* Start `pvmm --api-sock SOCK` (stdin and stderr on /dev/null, stdout on
 * out_fd) and connect to it as soon as it accepts: the connected socket,
 * *pid the child. Dies after 10 s or if pvmm exits first. */
static int api_spawn(const struct config *cfg, const char *sock_path, int out_fd, pid_t *pid)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", sock_path);
	unlink(sock_path);
	uint64_t t0 = now_ns();
	*pid = fork();
	if (*pid < 0)
		die("fork: %s", strerror(errno));
	if (*pid == 0) {
		if (dup2(devnull_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(devnull_fd, 2) < 0)
			_exit(126);
		execl(cfg->pvmm, cfg->pvmm, "--api-sock", sock_path, (char *)NULL);
		_exit(127);
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket: %s", strerror(errno));
	while (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
		if (waitpid(*pid, NULL, WNOHANG) == *pid)
			die("pvmm --api-sock %s exited before its socket accepted a connection", sock_path);
		if (now_ns() - t0 > 10ull * 1000000000ull) {
			kill(*pid, SIGKILL);
			die("pvmm --api-sock %s: no connection accepted within 10 s", sock_path);
		}
	}
	return fd;
}

static void api_run(const struct config *cfg, const char *sock_path, double *wall_ms, double *cpu_ms)
{
	pid_t pid;
	uint64_t t0 = now_ns();
	int fd = api_spawn(cfg, sock_path, devnull_fd, &pid);
	*wall_ms = (double)(now_ns() - t0) / 1e6;
	/* A thread's schedstat is brought up to date when it stops running;
	 * read it once pvmm waits idle (the connection stays unanswered, so
	 * the time it takes adds nothing). */
	struct timespec idle = { 0, 20 * 1000 * 1000 };
	nanosleep(&idle, NULL);
	*cpu_ms = task_cpu_ms(pid);
	close(fd);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	unlink(sock_path);
}

/* One request on a connected API socket; returns the HTTP status (the
 * answers pvmm gives these have no body but a fault message). */
static int api_request(int fd, const char *method, const char *path, const char *body)
{
	char req[1024], resp[2048];
	int n = snprintf(req, sizeof(req),
			 "%s %s HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
			 "Content-Length: %zu\r\n\r\n%s",
			 method, path, strlen(body), body);
	if (n >= (int)sizeof(req) || write(fd, req, (size_t)n) != n)
		die("api: cannot send %s %s: %s", method, path, strerror(errno));
	size_t got = 0;
	while (got < sizeof(resp) - 1) {
		ssize_t k = read(fd, resp + got, sizeof(resp) - 1 - got);
		if (k <= 0)
			die("api: no answer to %s %s", method, path);
		got += (size_t)k;
		resp[got] = '\0';
		char *end = strstr(resp, "\r\n\r\n");
		if (!end)
			continue;
		const char *cl = strcasestr(resp, "Content-Length:");
		size_t body_len = cl && cl < end ? strtoul(cl + 15, NULL, 10) : 0;
		if (got >= (size_t)(end + 4 - resp) + body_len)
			break;
	}
	int status = 0;
	if (sscanf(resp, "HTTP/1.1 %d", &status) != 1)
		die("api: a malformed answer to %s %s: %.80s", method, path, resp);
	if (status / 100 != 2)
		die("api: %s %s answered %d: %.200s", method, path, status, resp);
	return status;
}

/*
 * InstanceStart to the guest's main: pvmm --api-sock with its stdout on a
 * pipe; boot-source set to hello, then the time from sending InstanceStart
 * to the first byte hello prints (its main runs printf first thing).
 */
static double api_instance_start_ms(const struct config *cfg, const char *sock_path)
{
	int out[2];
	if (pipe2(out, O_CLOEXEC))
		die("pipe: %s", strerror(errno));
	pid_t pid;
	int fd = api_spawn(cfg, sock_path, out[1], &pid);
	close(out[1]);
	char body[4400];
	snprintf(body, sizeof(body), "{\"kernel_image_path\": \"%s\"}", cfg->hello);
	api_request(fd, "PUT", "/boot-source", body);
	uint64_t start = now_ns();
	api_request(fd, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}");
	char c;
	struct pollfd p = { .fd = out[0], .events = POLLIN };
	if (poll(&p, 1, 10000) <= 0 || read(out[0], &c, 1) != 1)
		die("api: hello printed nothing within 10 s of InstanceStart");
	double ms = (double)(now_ns() - start) / 1e6;
	close(fd);
	close(out[0]);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	unlink(sock_path);
	return ms;
}

static void bench_api_startup(const struct config *cfg)
{
	double wall[API_RUNS], cpu[API_RUNS];
	char sock_path[108];
	snprintf(sock_path, sizeof(sock_path), "%s/pvmm-bench-api-%d.sock", cfg->scratch, (int)getpid());
	progress("api: %d starts of pvmm --api-sock until the socket accepts a connection", API_RUNS);
	for (int i = 0; i < API_RUNS; i++)
		api_run(cfg, sock_path, &wall[i], &cpu[i]);
	add_info("api_startup_wall_ms", "API socket accepting, wall time from fork (median)", median(wall, API_RUNS),
		 "ms", 3);
	/* Information, not a verdict: the issue's 8 ms is Firecracker's
	 * published figure for itself, not something measured in this run. */
	char label[96];
	snprintf(label, sizeof(label), "API socket accepting, pvmm CPU time (median; Firecracker publishes %.0f)",
		 FIRECRACKER_API_CPU_MS);
	add_info("api_startup_cpu_ms", strdup(label), median(cpu, API_RUNS), "ms", 3);
	double start_ms[API_RUNS];
	progress("api: %d InstanceStarts of hello over the socket, to its first output", API_RUNS);
	for (int i = 0; i < API_RUNS; i++)
		start_ms[i] = api_instance_start_ms(cfg, sock_path);
	add_info("api_instance_start_ms", "InstanceStart to the guest's first output, hello (median)",
		 median(start_ms, API_RUNS), "ms", 3);
}

/* ---- snapshot and restore ------------------------------------------------ */

/*
 * snapwait.elf (ring 3, virtio console) waits on a pipe; the bench pauses
 * it over the API and snapshots it with pvmm ctl, for a 32 MiB and a
 * 512 MiB guest: the time of the snapshot (ctl snapshot less a ctl info
 * round trip), the files' allocated size against the guest memory it had
 * touched (its RAM mapping's resident pages while paused). Then the
 * 32 MiB snapshot is restored with input on /dev/null, interleaved with
 * cold starts of the same guest: both read the end of input and exit.
 */
#define TARGET_RESTORE_RATIO 1.0
#define TARGET_SNAP_SIZE_RATIO 1.1

static char snap_dir[4096], snap_files[4][4200];

static void remove_snap_files(void)
{
	for (int i = 0; i < 4; i++)
		if (snap_files[i][0])
			unlink(snap_files[i]);
	if (snap_dir[0])
		rmdir(snap_dir);
	snap_dir[0] = '\0';
}

struct snap_take {
	double create_ms;       /* ctl snapshot less ctl info */
	double touched_kib;     /* guest RAM resident while paused */
	double state_kib, mem_kib, mem_apparent_kib;
};

static double allocated_kib(const char *path, double *apparent_kib)
{
	struct stat st;
	if (stat(path, &st) != 0)
		die("snapshot: '%s' was not written: %s", path, strerror(errno));
	if (apparent_kib)
		*apparent_kib = (double)st.st_size / 1024;
	return (double)st.st_blocks * 512 / 1024;
}

/* Resident pages of every mapping of pvmm's guest memfd (RAM, the PV
 * MMU's pool): the guest memory touched so far. -1 if none is mapped. */
static long guest_memfd_resident_pages(pid_t pid)
{
	char path[64], line[512];
	long total = -1;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long lo, hi;
		if (!strstr(line, "/memfd:pvmm-guest-ram") || sscanf(line, "%llx-%llx", &lo, &hi) != 2)
			continue;
		long pages = resident_pages(pid, lo, hi - lo);
		if (pages < 0) {
			total = -1;
			break;
		}
		total = (total < 0 ? 0 : total) + pages;
	}
	fclose(f);
	return total;
}

static void snap_take(const struct config *cfg, const char *mem_arg, const char *snap,
		      struct snap_take *t)
{
	char sock[4200], mem_file[4300];
	if (snprintf(sock, sizeof(sock), "%s/api.sock", snap_dir) >= (int)sizeof(sock) ||
	    snprintf(mem_file, sizeof(mem_file), "%s.mem", snap) >= (int)sizeof(mem_file))
		die("snapshot: the scratch path '%s' is too long (pass --scratch DIR)", snap_dir);
	unlink(sock);
	char *argv[] = { (char *)cfg->pvmm, "run", "--ring", "3", "--console", "virtio", "--mem", (char *)mem_arg,
			 "--timeout", "120", "--api-sock", sock, (char *)cfg->snapwait, NULL };
	int in[2], out[2];
	if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC))
		die("pipe: %s", strerror(errno));
	pid_t pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0 || dup2(devnull_fd, 2) < 0)
			_exit(126);
		execv(argv[0], argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	/* "ready" on its console, and the socket there: 30 s at most. */
	char buf[256];
	size_t got = 0;
	int64_t deadline = now_ns() + 30 * 1000000000ll;
	struct stat st;
	while (!(memmem(buf, got, "ready", 5) && stat(sock, &st) == 0)) {
		struct pollfd p = { .fd = out[0], .events = POLLIN };
		if (now_ns() > deadline)
			die("snapshot: `%s run ... snapwait.elf` printed no 'ready' with its API socket in 30 s", cfg->pvmm);
		if (poll(&p, 1, 100) > 0 && got < sizeof(buf)) {
			ssize_t n = read(out[0], buf + got, sizeof(buf) - got);
			if (n <= 0)
				die("snapshot: the guest to snapshot ended before it was ready");
			got += (size_t)n;
		}
	}
	struct run_result r;
	char *pause_argv[] = { (char *)cfg->pvmm, "ctl", "--api-sock", sock, "pause", NULL };
	char *info_argv[] = { (char *)cfg->pvmm, "ctl", "--api-sock", sock, "info", NULL };
	char *snap_argv[] = { (char *)cfg->pvmm, "ctl", "--api-sock", sock, "snapshot", (char *)snap, NULL };
	run_checked(pause_argv, true, &r);
	long pages = guest_memfd_resident_pages(pid);
	if (pages <= 0)
		die("snapshot: no guest memory (%s) mapped in /proc/%d/maps", mem_arg, (int)pid);
	t->touched_kib = (double)pages * 4;
	run_checked(info_argv, true, &r);
	int64_t info_ns = r.wall_ns;
	run_checked(snap_argv, true, &r);
	t->create_ms = (double)(r.wall_ns - info_ns) / 1e6;
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
	}
	close(in[1]);
	close(out[0]);
	t->state_kib = allocated_kib(snap, NULL);
	t->mem_kib = allocated_kib(mem_file, &t->mem_apparent_kib);
}

static void bench_snapshot(const struct config *cfg)
{
	static const struct {
		const char *arg, *key;
	} sizes[2] = { { "32M", "32m" }, { "512M", "512m" } };

	snprintf(snap_dir, sizeof(snap_dir), "%s/pvmm-bench-snap-XXXXXX", cfg->scratch);
	if (!mkdtemp(snap_dir))
		die("cannot make a scratch folder in %s: %s (pass --scratch DIR)", cfg->scratch, strerror(errno));
	atexit(remove_snap_files);
	figure_ring = 3;
	progress("snapshot, ring 3: snapwait.elf paused and snapshotted at 32 MiB and 512 MiB; %d restores "
		 "interleaved with cold starts", cfg->cold_runs);
	for (int i = 0; i < 2; i++) {
		char *snap = snap_files[2 * i], *mem = snap_files[2 * i + 1];
		if (snprintf(snap, sizeof(snap_files[0]), "%s/snap-%s", snap_dir, sizes[i].key) >= (int)sizeof(snap_files[0]) ||
		    snprintf(mem, sizeof(snap_files[0]), "%s.mem", snap) >= (int)sizeof(snap_files[0]))
			die("snapshot: the scratch path '%s' is too long (pass --scratch DIR)", snap_dir);
		struct snap_take t;
		snap_take(cfg, sizes[i].arg, snap, &t);
		char key[64], label[128];
		snprintf(key, sizeof(key), "snapshot_create_%s_ms_r3", sizes[i].key);
		snprintf(label, sizeof(label), "snapshot create, %s guest (pvmm ctl, less a ctl round trip)", sizes[i].arg);
		add_info(strdup(key), rlabel(label, 3), t.create_ms, "ms", 2);
		snprintf(key, sizeof(key), "snapshot_touched_%s_kib_r3", sizes[i].key);
		snprintf(label, sizeof(label), "snapshot, %s guest: guest memory touched", sizes[i].arg);
		add_info(strdup(key), rlabel(label, 3), t.touched_kib, "KiB", 0);
		snprintf(key, sizeof(key), "snapshot_size_%s_kib_r3", sizes[i].key);
		snprintf(label, sizeof(label), "snapshot, %s guest: files on disk (allocated)", sizes[i].arg);
		add_info(strdup(key), rlabel(label, 3), t.state_kib + t.mem_kib, "KiB", 0);
		double ratio = (t.state_kib + t.mem_kib) / (t.touched_kib + t.state_kib);
		snprintf(key, sizeof(key), "snapshot_size_ratio_%s_r3", sizes[i].key);
		snprintf(label, sizeof(label), "snapshot, %s guest: size / (touched + state)", sizes[i].arg);
		char target[16];
		snprintf(target, sizeof(target), "<= %.2f", TARGET_SNAP_SIZE_RATIO);
		add_target(strdup(key), rlabel(label, 3), ratio, "x", 3, strdup(target), TARGET_SNAP_SIZE_RATIO,
			   ratio <= TARGET_SNAP_SIZE_RATIO);
	}

	char *restore_argv[] = { (char *)cfg->pvmm, "restore", snap_files[0], NULL };
	char *cold_argv[] = { (char *)cfg->pvmm, "run", "--ring", "3", "--console", "virtio", "--mem", "32M", "-q",
			      (char *)cfg->snapwait, NULL };
	int n = cfg->cold_runs;
	double *restore_ms = calloc((size_t)n, sizeof(double)), *cold_ms = calloc((size_t)n, sizeof(double));
	if (!restore_ms || !cold_ms)
		die("out of memory");
	interleaved_runs("restore against cold start", restore_argv, cold_argv, n, restore_ms, cold_ms);
	double rm = median(restore_ms, n), cm = median(cold_ms, n), ratio = rm / cm;
	add_info("restore_ms_r3", rlabel("restore of the paused 32 MiB snapwait, to its exit (median)", 3), rm, "ms",
		 3);
	add_info("restore_cold_ms_r3", rlabel("cold start of snapwait, to its exit (median)", 3), cm, "ms", 3);
	char target[16];
	snprintf(target, sizeof(target), "<= %.2f", TARGET_RESTORE_RATIO);
	add_target("restore_ratio_r3", rlabel("restore / cold start", 3), ratio, "x", 3, strdup(target),
		   TARGET_RESTORE_RATIO, ratio <= TARGET_RESTORE_RATIO);
	add_samples("restore_ms_r3", "ms", restore_ms, n);
	add_samples("restore_cold_ms_r3", "ms", cold_ms, n);
	figure_ring = -1;
	free(restore_ms);
	free(cold_ms);
	remove_snap_files();
}

/* virtio-pci against virtio-mmio: the same ring-3 block workload at 32 in
 * flight over each transport, interleaved, each run's exits per request
 * beyond a 1-request baseline of its own transport (PCI's enumeration and
 * set-up cost exits of their own, once). */
#define TRANSPORT_RUNS 3
static void bench_blk_transport(const struct config *cfg)
{
	static const char *const names[2] = { "mmio", "pci" };
	double exits[2][TRANSPORT_RUNS], median_exits[2];

	progress("block: virtio-mmio against virtio-pci, ring 3, seq read 4K qd32, %d runs each", TRANSPORT_RUNS);
	for (int t = 0; t < 2; t++) {
		struct blk_config c = { .ring = 3, .bs = 4096, .qd = 32, .count = 32000, .transport = names[t] };
		struct blk_counters base;
		run_blkbench(cfg, &c, 1, NULL, &base);
		for (int i = 0; i < TRANSPORT_RUNS; i++) {
			struct blk_counters k;
			struct blk_run run;
			run_blkbench(cfg, &c, c.count, &run, &k);
			blk_per_request(&k, &base, &run);
			exits[t][i] = run.exits;
		}
		median_exits[t] = median(exits[t], TRANSPORT_RUNS);
	}
	figure_ring = 3;
	add_info("blk_mmio_exits_per_req_qd32_r3", "ring 3: virtio-mmio block VM exits/request, seq read 4K qd32",
		 median_exits[0], "exits", 3);
	add_info("blk_pci_exits_per_req_qd32_r3", "ring 3: virtio-pci block VM exits/request, seq read 4K qd32",
		 median_exits[1], "exits", 3);
	/* "Adds no exits": a hundredth of an exit per request is the noise of
	 * when the guest's POLL happens to find its completions. */
	add_target("blk_pci_extra_exits_per_req_qd32_r3", "ring 3: virtio-pci exits/request beyond virtio-mmio's, qd 32",
		   median_exits[1] - median_exits[0], "exits", 3, "<= 0.01", 0.01,
		   median_exits[1] - median_exits[0] <= 0.01);
	figure_ring = -1;
}

static void bench_block(const struct config *cfg)
{
	int runs = cfg->blk_runs;
	const char *parent = cfg->scratch;
	void *image_map, *blkrw_map;

	snprintf(scratch_dir, sizeof(scratch_dir), "%s/pvmm-bench-XXXXXX", parent);
	if (!mkdtemp(scratch_dir))
		die("cannot make a scratch folder in %s: %s (pass --scratch DIR)", parent, strerror(errno));
	atexit(remove_scratch);
	snprintf(blk_image, sizeof(blk_image), "%s/blk.img", scratch_dir);
	snprintf(blkrw_image, sizeof(blkrw_image), "%s/blkrw.img", scratch_dir);
	snprintf(blk_stats, sizeof(blk_stats), "%s/stats.json", scratch_dir);
	progress("block: 64 MiB scratch image in %s, pinned in the page cache", scratch_dir);
	blk_pinned = make_image(blk_image, BLK_IMAGE_BYTES, &image_map);
	blk_pinned &= make_image(blkrw_image, BLKRW_IMAGE_BYTES, &blkrw_map);

	bench_wakeup();

	/* The configurations, for each ring, and a request count for each
	 * that takes about 0.4 s at ring 0 here (guest code is interpreted:
	 * ~2500 requests/s at 1 in flight, ~7000 at 32) and about 0.1 s at
	 * ring 3 (guest code native, exits dearer: ~14000 requests/s at 1 in
	 * flight, 100000-300000 at 32). */
	int n = 0;
	for (int ring = 0; ring <= 3; ring += 3)
		for (int big = 0; big < 2; big++)
			for (int deep = 0; deep < 2; deep++)
				for (int rnd = 0; rnd < 2; rnd++)
					for (int wr = 0; wr < 2; wr++) {
						struct blk_config *c = &blk_results[n++].c;
						c->ring = ring;
						c->rand = rnd;
						c->write = wr;
						c->bs = big ? 65536 : 4096;
						c->qd = deep ? 32 : 1;
						if (ring == 3)
							c->count = deep ? (big ? 16000 : 32000) : 1500;
						else
							c->count = deep ? 3200 : big ? 800 : 1000;
						snprintf(c->name, sizeof(c->name), "%s %s %uK qd%u", rnd ? "rand" : "seq",
							 wr ? "write" : "read", c->bs / 1024, c->qd);
						snprintf(c->label, sizeof(c->label), "ring %d: %s", ring, c->name);
						snprintf(c->key, sizeof(c->key), "%s%s_%s_%uk_qd%u", ring == 3 ? "r3_" : "",
							 rnd ? "rand" : "seq", wr ? "write" : "read", c->bs / 1024, c->qd);
					}
	for (int i = 0; i < BLK_CONFIGS; i++) {
		blk_results[i].runs = calloc((size_t)runs, sizeof(struct blk_run));
		blk_results[i].host_mb_s = calloc((size_t)runs, sizeof(double));
		blk_results[i].host_cpu_ns = calloc((size_t)runs, sizeof(double));
		if (!blk_results[i].runs || !blk_results[i].host_mb_s || !blk_results[i].host_cpu_ns)
			die("out of memory");
	}
	uint8_t *buf = aligned_alloc(4096, 65536);
	if (!buf)
		die("out of memory");
	memset(buf, 0x5a, 65536);

	/* Start-up, device set-up and exit cost the same exits in every run:
	 * measured on a 1-request run and taken off. */
	progress("block: baseline (1 request) per ring, then %d rounds of %d configurations (both rings), each with "
		 "its host ceiling", runs, BLK_CONFIGS);
	struct blk_counters base_runs[3], bases[2];
	double v[3];
	for (int b = 0; b < 2; b++) {
		struct blk_counters *base = &bases[b];
		for (int i = 0; i < 3; i++)
			run_blkbench(cfg, &blk_results[b * BLK_CONFIGS_PER_RING].c, 1, NULL, &base_runs[i]);
#define BASE_MEDIAN(field)                      \
	do {                                    \
		for (int i = 0; i < 3; i++)     \
			v[i] = base_runs[i].field; \
		base->field = median(v, 3);     \
	} while (0)
		BASE_MEDIAN(exits);
		BASE_MEDIAN(kicks);
		BASE_MEDIAN(interrupts);
		BASE_MEDIAN(requests);
		BASE_MEDIAN(kvm_exits);
#undef BASE_MEDIAN
	}

	int64_t start = now_ns();
	for (int round = 0; round < runs; round++) {
		/* Rounds alternate direction, so drift hits every
		 * configuration at every position in turn. */
		for (int k = 0; k < BLK_CONFIGS; k++) {
			int i = round % 2 ? BLK_CONFIGS - 1 - k : k;
			struct blk_result *res = &blk_results[i];
			struct blk_counters counters;
			host_ceiling(&res->c, buf, &res->host_mb_s[round], &res->host_cpu_ns[round]);
			run_blkbench(cfg, &res->c, res->c.count, &res->runs[round], &counters);
			blk_per_request(&counters, &bases[res->c.ring == 3], &res->runs[round]);
			double resident = resident_percent(image_map, BLK_IMAGE_BYTES);
			if (isnan(blk_resident_min) || resident < blk_resident_min)
				blk_resident_min = resident;
		}
	}
	blk_runs_done = runs;
	progress("block: %d guest runs took %.1f s", runs * BLK_CONFIGS, (double)(now_ns() - start) / 1e9);
	free(buf);

	for (int i = 0; i < BLK_CONFIGS; i++) {
		struct blk_result *r = &blk_results[i];
		summarize(r, runs);
		figure_ring = r->c.ring;
		add_detail(r->c.key, "mb_s", r->c.label, "guest MB/s", r->mb_s, "MB/s", 1);
		add_detail(r->c.key, "iops", r->c.label, "guest IOPS", r->iops, "IOPS", 0);
		add_detail(r->c.key, "host_mb_s", r->c.label, "host ceiling MB/s", r->host, "MB/s", 1);
		add_detail(r->c.key, "host_cpu_us_per_op", r->c.label, "host ceiling CPU per op", r->host_cpu_us, "us",
			   2);
		add_detail(r->c.key, "exits_per_req", r->c.label, "VM exits per request", r->exits_per_req, "exits", 3);
		add_detail(r->c.key, "kicks_per_req", r->c.label, "kicks per request", r->kicks_per_req, "kicks", 3);
		add_detail(r->c.key, "irqs_per_req", r->c.label, "interrupts per request", r->irqs_per_req, "irqs", 3);
		add_detail(r->c.key, "kvm_exits_per_req", r->c.label, "KVM exit count per request",
			   r->kvm_exits_per_req, "exits", 3);
		add_detail(r->c.key, "monitor_cpu_us", r->c.label, "monitor CPU per request", r->monitor_us, "us", 2);
		add_detail(r->c.key, "iothread_cpu_us", r->c.label, "I/O thread CPU per request", r->iothread_us, "us",
			   2);
		add_detail(r->c.key, "vcpu_user_us", r->c.label, "vCPU thread user CPU per request", r->vcpu_user_us,
			   "us", 2);
		add_detail(r->c.key, "other_cpu_us", r->c.label, "io_uring worker CPU per request", r->other_us, "us",
			   2);
		add_detail(r->c.key, "monitor_extra_cpu_us", r->c.label, "monitor CPU beyond the host's per op",
			   r->monitor_us - r->host_cpu_us, "us", 2);
		add_detail(r->c.key, "iothread_sleeps_per_req", r->c.label, "I/O thread sleeps per request",
			   r->sleeps_per_req, "sleeps", 3);
		double *mb = calloc((size_t)runs, sizeof(double));
		if (!mb)
			die("out of memory");
		for (int k = 0; k < runs; k++)
			mb[k] = r->runs[k].mb_s;
		char key[80];
		snprintf(key, sizeof(key), "blk_%s_mb_s", r->c.key);
		add_samples(strdup(key), "MB/s", mb, runs);
		free(mb);
		figure_ring = -1;
	}

	/* Ring 0: the targets of the first block work. Ring 3: its own
	 * throughput targets against the host; the same exit and CPU
	 * figures as info rows. */
	for (int ring = 0; ring <= 3; ring += 3) {
		bool r0 = ring == 0;
		add_worst(ring, "blk_exits_per_req_qd32", "block VM exits/request, 32 in flight", "exits", 3,
			  r0 ? "<= 0.05" : NULL, TARGET_EXITS_QD32, 32, 0, WORST_EXITS);
		add_worst(ring, "blk_exits_per_req_qd1", "block VM exits/request, 1 in flight", "exits", 3,
			  r0 ? "<= 1.0" : NULL, TARGET_EXITS_QD1, 1, 0, WORST_EXITS);
		add_worst(ring, "blk_monitor_cpu_4k_qd32", "monitor CPU per 4 KiB request, qd 32", "us", 2,
			  r0 ? "<= 5" : NULL, TARGET_MONITOR_US, 32, 4096, WORST_CPU);
		add_worst(ring, "blk_monitor_cpu_4k_qd1", "monitor CPU per 4 KiB request, qd 1", "us", 2,
			  r0 ? "<= 5" : NULL, TARGET_MONITOR_US, 1, 4096, WORST_CPU);
		add_worst(ring, "blk_of_host_4k_qd32", "virtio-blk MB/s / host's, 4 KiB, qd 32", "x", 3,
			  r0 ? NULL : ">= 0.25", TARGET_BLK_4K_OF_HOST, 32, 4096, WORST_OF_HOST);
		add_worst(ring, "blk_of_host_64k_qd32", "virtio-blk MB/s / host's, 64 KiB, qd 32", "x", 3,
			  r0 ? NULL : ">= 0.50", TARGET_BLK_64K_OF_HOST, 32, 65536, WORST_OF_HOST);
	}
	add_info("blk_image_resident_min_pct", "image in page cache during runs (min)", blk_resident_min, "%", 1);

	bench_blk_transport(cfg);

	bench_irq_cost(cfg);

	bench_blkrw(cfg, runs);

	munlock(image_map, BLK_IMAGE_BYTES);
	munmap(image_map, BLK_IMAGE_BYTES);
	munlock(blkrw_map, BLKRW_IMAGE_BYTES);
	munmap(blkrw_map, BLKRW_IMAGE_BYTES);
	remove_scratch();
}

static void print_block_table(void)
{
	if (!blk_runs_done)
		return;
	printf("block I/O: blkbench.elf over virtio-blk on a 64 MiB image %s the page cache; medians of %d runs;\n"
	       "host MB/s = this process's own pread/pwrite of the same file, buffered like pvmm's back end\n\n",
	       blk_pinned ? "pinned in" : "(pin FAILED) in", blk_runs_done);
	printf("%-20s %12s %8s %10s %8s  %12s %8s %10s %8s\n", "", "ring 0", "", "", "", "ring 3", "", "", "");
	printf("%-20s %12s %8s %10s %8s  %12s %8s %10s %8s\n", "configuration", "guest MB/s", "IOPS", "host MB/s",
	       "of host", "guest MB/s", "IOPS", "host MB/s", "of host");
	for (int i = 0; i < BLK_CONFIGS_PER_RING; i++) {
		const struct blk_result *r = &blk_results[i], *r3 = &blk_results[i + BLK_CONFIGS_PER_RING];
		printf("%-20s %12.1f %8.0f %10.0f %7.1f%%  %12.1f %8.0f %10.0f %7.1f%%\n", r->c.name, r->mb_s, r->iops,
		       r->host, 100 * r->mb_s / r->host, r3->mb_s, r3->iops, r3->host, 100 * r3->mb_s / r3->host);
	}
	printf("\nper request: VM exits (exits to pvmm + kicks), kicks, interrupts, KVM's own exit count; CPU in us:\n"
	       "monitor = I/O thread + vCPU thread user + io_uring workers; host/op = the host ceiling's CPU per\n"
	       "pread/pwrite; extra = monitor - host/op; sleeps = times the I/O thread blocked\n\n");
	printf("%-28s %6s %6s %6s %6s %8s %7s %6s %6s %7s %7s %7s\n", "configuration", "exits", "kicks", "irqs",
	       "kvm", "monitor", "I/O thr", "vCPU", "io_wq", "host/op", "extra", "sleeps");
	for (int i = 0; i < BLK_CONFIGS; i++) {
		const struct blk_result *r = &blk_results[i];
		if (i == BLK_CONFIGS_PER_RING)
			printf("\n");
		printf("%-28s %6.3f %6.3f %6.3f %6.3f %8.2f %7.2f %6.2f %6.2f %7.2f %7.2f %7.3f\n", r->c.label,
		       r->exits_per_req, r->kicks_per_req, r->irqs_per_req, r->kvm_exits_per_req, r->monitor_us,
		       r->iothread_us, r->vcpu_user_us, r->other_us, r->host_cpu_us, r->monitor_us - r->host_cpu_us,
		       r->sleeps_per_req);
	}
	printf("\n");
}

/* ---- host description --------------------------------------------------- */

struct host_info {
	struct utsname uts;
	char cpu_model[256];
	bool vmx, svm, hypervisor;
	long cpus;
	char thp[32];
	char loadavg[64];
	char git_rev[64];
	char git_describe[96];
	char pvmm_version[128];
};

static void trim(char *s)
{
	size_t n = strlen(s);
	while (n && (s[n - 1] == '\n' || s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
}

static void first_line_of_command(const char *command, char *buf, size_t size)
{
	snprintf(buf, size, "unknown");
	FILE *p = popen(command, "re");
	if (!p)
		return;
	if (!fgets(buf, (int)size, p))
		snprintf(buf, size, "unknown");
	trim(buf);
	if (pclose(p) != 0 || !buf[0])
		snprintf(buf, size, "unknown");
}

static bool has_flag(const char *flags, const char *flag)
{
	size_t len = strlen(flag);
	for (const char *p = strstr(flags, flag); p; p = strstr(p + 1, flag))
		if ((p == flags || p[-1] == ' ' || p[-1] == '\t') && (p[len] == ' ' || p[len] == '\n' || !p[len]))
			return true;
	return false;
}

static void collect_host_info(const struct config *cfg, struct host_info *h)
{
	char line[4096];
	memset(h, 0, sizeof(*h));
	uname(&h->uts);
	snprintf(h->cpu_model, sizeof(h->cpu_model), "unknown");
	FILE *f = fopen("/proc/cpuinfo", "re");
	bool have_model = false, have_flags = false;
	while (f && fgets(line, sizeof(line), f) && !(have_model && have_flags)) {
		char *colon = strchr(line, ':');
		if (!colon)
			continue;
		if (!have_model && strncmp(line, "model name", 10) == 0) {
			snprintf(h->cpu_model, sizeof(h->cpu_model), "%s", colon + 2);
			trim(h->cpu_model);
			have_model = true;
		} else if (!have_flags && strncmp(line, "flags", 5) == 0) {
			h->vmx = has_flag(colon + 1, "vmx");
			h->svm = has_flag(colon + 1, "svm");
			h->hypervisor = has_flag(colon + 1, "hypervisor");
			have_flags = true;
		}
	}
	if (f)
		fclose(f);
	h->cpus = sysconf(_SC_NPROCESSORS_ONLN);

	/* "always [madvise] never" → "madvise" */
	snprintf(h->thp, sizeof(h->thp), "unknown");
	f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "re");
	if (f && fgets(line, sizeof(line), f)) {
		char *open = strchr(line, '['), *close = open ? strchr(open, ']') : NULL;
		if (open && close)
			snprintf(h->thp, sizeof(h->thp), "%.*s", (int)(close - open - 1), open + 1);
	}
	if (f)
		fclose(f);
	f = fopen("/proc/loadavg", "re");
	if (f && fgets(line, sizeof(line), f)) {
		/* the three load averages only */
		char *p = line;
		for (int spaces = 0; *p && spaces < 3; p++)
			spaces += *p == ' ';
		snprintf(h->loadavg, sizeof(h->loadavg), "%.*s", (int)(p - line - (*p ? 1 : 0)), line);
		trim(h->loadavg);
	}
	if (f)
		fclose(f);

	first_line_of_command("git rev-parse HEAD 2>/dev/null", h->git_rev, sizeof(h->git_rev));
	first_line_of_command("git describe --always --dirty 2>/dev/null", h->git_describe, sizeof(h->git_describe));
	char *argv[] = { (char *)cfg->pvmm, "--version", NULL };
	struct run_result r;
	run_program(argv, true, &r);
	/* its first line only */
	size_t len = strcspn(r.out, "\n");
	len = len < sizeof(h->pvmm_version) ? len : sizeof(h->pvmm_version) - 1;
	memcpy(h->pvmm_version, r.out, len);
	h->pvmm_version[len] = '\0';
}

/* ---- output ------------------------------------------------------------- */

/* clang's __VERSION__ names itself; gcc's is the bare number. */
#ifdef __clang__
#define BENCH_COMPILER __VERSION__
#else
#define BENCH_COMPILER "gcc " __VERSION__
#endif

static const char *verdict_name(enum verdict v)
{
	return v == VERDICT_PASS ? "PASS" : v == VERDICT_FAIL ? "MISS" : "info";
}

static void print_table(const struct host_info *h)
{
	int w = 42;
	for (int i = 0; i < figure_count; i++)
		if (!figures[i].detail && (int)strlen(figures[i].label) > w)
			w = (int)strlen(figures[i].label);
	printf("\npvmm benchmark — %s, %s, %ld CPUs, vmx %s, svm %s, pvmm %s\n\n", h->uts.release, h->cpu_model,
	       h->cpus, h->vmx ? "yes" : "no", h->svm ? "yes" : "no", h->git_describe);
	printf("%-*s %12s  %-8s %-9s %s\n", w, "figure", "value", "unit", "target", "verdict");
	printf("%-*.*s %12s  %-8s %-9s %s\n", w, w,
	       "----------------------------------------------------------------------------------------------",
	       "------------", "--------", "---------", "-------");
	for (int i = 0; i < figure_count; i++) {
		const struct figure *f = &figures[i];
		if (f->detail)
			continue; /* in the block table */
		if (isnan(f->value)) /* a figure that does not exist here, e.g. FP at ring 0 */
			printf("%-*s %12s  %-8s %-9s %s\n", w, f->label, "n/a", f->unit, f->target ? f->target : "",
			       verdict_name(f->verdict));
		else
			printf("%-*s %12.*f  %-8s %-9s %s\n", w, f->label, f->decimals, f->value, f->unit,
			       f->target ? f->target : "", verdict_name(f->verdict));
	}
	printf("\n");
	print_block_table();
}

static void json_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"': fputs("\\\"", out); break;
		case '\\': fputs("\\\\", out); break;
		case '\n': fputs("\\n", out); break;
		case '\t': fputs("\\t", out); break;
		default:
			if (*p < 0x20)
				fprintf(out, "\\u%04x", *p);
			else
				fputc(*p, out);
		}
	}
	fputc('"', out);
}

/* JSON has no NaN or infinity. */
static void json_number(FILE *out, double v)
{
	if (isfinite(v))
		fprintf(out, "%.6g", v);
	else
		fputs("null", out);
}

static void write_json(FILE *out, const struct config *cfg, const struct host_info *h, const char *timestamp)
{
	fprintf(out, "{\n  \"schema\": \"pvmm-bench/1\",\n  \"timestamp_utc\": ");
	json_string(out, timestamp);
	fprintf(out, ",\n  \"host\": {\n    \"kernel\": ");
	json_string(out, h->uts.release);
	fprintf(out, ",\n    \"kernel_version\": ");
	json_string(out, h->uts.version);
	fprintf(out, ",\n    \"machine\": ");
	json_string(out, h->uts.machine);
	fprintf(out, ",\n    \"cpu_model\": ");
	json_string(out, h->cpu_model);
	fprintf(out, ",\n    \"cpus\": %ld,\n    \"vmx\": %s,\n    \"svm\": %s,\n    \"hypervisor\": %s,\n",
		h->cpus, h->vmx ? "true" : "false", h->svm ? "true" : "false", h->hypervisor ? "true" : "false");
	fprintf(out, "    \"transparent_hugepage\": ");
	json_string(out, h->thp);
	fprintf(out, ",\n    \"loadavg_at_start\": ");
	json_string(out, h->loadavg);
	fprintf(out, "\n  },\n  \"pvmm\": {\n    \"git_rev\": ");
	json_string(out, h->git_rev);
	fprintf(out, ",\n    \"git_describe\": ");
	json_string(out, h->git_describe);
	fprintf(out, ",\n    \"version\": ");
	json_string(out, h->pvmm_version);
	fprintf(out, ",\n    \"bench_compiler\": ");
	json_string(out, BENCH_COMPILER);
	fprintf(out, "\n  },\n  \"config\": {\n    \"build_dir\": ");
	json_string(out, cfg->build);
	fprintf(out, ",\n    \"rings\": [0, 3],\n    \"cold_start_runs\": %d,\n    \"warmup_runs\": %d,\n"
		     "    \"hypercall_rounds\": %d,\n    \"hypercall_calls\": %u,\n    \"hypercall_calls_ring3\": %u,\n"
		     "    \"compute_runs\": %d,\n    \"compute_int_iterations\": %llu,\n"
		     "    \"compute_fp_iterations\": %llu,\n    \"compute_int_iterations_ring0\": %llu,\n"
		     "    \"memory_probes\": %d,\n    \"guest_mem\": ",
		cfg->cold_runs, WARMUP_RUNS, cfg->rounds, cfg->calls, cfg->calls3, cfg->compute_runs, COMPUTE_INT_N,
		COMPUTE_FP_N, COMPUTE_INT0_N, cfg->mem_runs);
	json_string(out, GUEST_MEM_ARG);
	fprintf(out, ",\n    \"rawvm_once_mode\": \"16-bit real mode: mov, out, hlt; no CPUID set\",\n"
		     "    \"rawvm_loop_mode\": \"64-bit long mode, CPL0: out %%eax,%%dx; dec %%ecx; jnz\",\n"
		     "    \"rawvm_cpl3_mode\": \"64-bit long mode started at CPL3 (user pages, DPL 3 GDT, TSS with I/O "
		     "bitmap): the same loop, or one out for cold start\",\n"
		     "    \"block_host_ceiling\": \"pread/pwrite one at a time on the same image, buffered (no O_DIRECT), "
		     "as pvmm's block back end opens it\",\n"
		     "    \"memory_method\": \"ptrace: guest RAM resident pages (pagemap) at its munmap, VmHWM at exit\",\n");
	fprintf(out, "    \"block\": %s,\n    \"block_runs\": %d,\n    \"block_image_mib\": %llu,\n"
		     "    \"block_image_pinned\": %s,\n    \"block_scratch_parent\": ",
		cfg->block ? "true" : "false", cfg->blk_runs, (unsigned long long)(BLK_IMAGE_BYTES >> 20),
		blk_pinned ? "true" : "false");
	json_string(out, cfg->scratch);
	fprintf(out, ",\n    \"block_exits_definition\": \"(exits to pvmm + virtio-blk queue kicks) per request, "
		     "minus a 1-request run's\",\n"
		     "    \"monitor_cpu_definition\": \"I/O thread CPU + vCPU thread user CPU in the run loop + "
		     "other threads (io_uring workers), summed over runs, per request\",\n"
		     "    \"solo5_hvt_blk_reference_s\": %.1f,\n"
		     "    \"solo5_hvt_blk_reference_note\": \"timed elsewhere, for Solo5's own test guest, not "
		     "blkrw.elf: information, never a verdict\"\n  },\n  \"figures\": {\n",
		SOLO5_HVT_BLK_S);
	for (int i = 0; i < figure_count; i++) {
		const struct figure *f = &figures[i];
		fprintf(out, "    ");
		json_string(out, f->key);
		fprintf(out, ": { \"label\": ");
		json_string(out, f->label);
		fprintf(out, ", \"value\": ");
		json_number(out, f->value);
		fprintf(out, ", \"unit\": ");
		json_string(out, f->unit);
		fprintf(out, ", \"target\": ");
		if (f->target)
			json_string(out, f->target);
		else
			fputs("null", out);
		fprintf(out, ", \"target_value\": ");
		json_number(out, f->target_value);
		fprintf(out, ", \"verdict\": ");
		json_string(out, verdict_name(f->verdict));
		if (f->ring >= 0)
			fprintf(out, ", \"ring\": %d", f->ring);
		if (f->detail)
			fprintf(out, ", \"group\": \"block\"");
		fprintf(out, " }%s\n", i + 1 < figure_count ? "," : "");
	}
	fprintf(out, "  },\n  \"samples\": {\n");
	for (int i = 0; i < sample_set_count; i++) {
		const struct sample_set *s = &sample_sets[i];
		fprintf(out, "    ");
		json_string(out, s->key);
		fprintf(out, ": { \"unit\": ");
		json_string(out, s->unit);
		fprintf(out, ", \"values\": [");
		for (int k = 0; k < s->count; k++) {
			fputs(k ? ", " : "", out);
			json_number(out, s->values[k]);
		}
		fprintf(out, "] }%s\n", i + 1 < sample_set_count ? "," : "");
	}
	fprintf(out, "  }\n}\n");
}

/* Write to NAME.tmp, then rename: a reader never sees half a file. */
static void write_json_file(const char *dir, const char *name, const struct config *cfg,
			    const struct host_info *h, const char *timestamp)
{
	char path[4096], tmp[4200];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *out = fopen(tmp, "we");
	if (!out)
		die("cannot write %s: %s", tmp, strerror(errno));
	write_json(out, cfg, h, timestamp);
	if (fflush(out) || ferror(out) || fclose(out))
		die("cannot write %s: %s", tmp, strerror(errno));
	if (rename(tmp, path))
		die("cannot rename %s to %s: %s", tmp, path, strerror(errno));
	progress("wrote %s", path);
}

/* ---- main --------------------------------------------------------------- */

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: pvmm-bench [options]\n"
		"Run pvmm's benchmarks against a raw-KVM floor; print a table, write JSON.\n"
		"  --build DIR     build directory (default build): DIR/pvmm, DIR/bench/rawvm,\n"
		"                  DIR/examples/hello.elf, DIR/bench/guests/hcloop.elf\n"
		"  --hello PATH    guest for cold start and memory (default DIR/examples/hello.elf)\n"
		"  --hcloop PATH   NOP-loop guest (default DIR/bench/guests/hcloop.elf)\n"
		"  --out DIR       results directory (default bench/results)\n"
		"  --runs N        cold-start runs per program (default 40, at least 20)\n"
		"  --rounds N      hypercall rounds per program (default 15)\n"
		"  --calls N       NOP calls per loop run at ring 0 (default 20000, at least 10000)\n"
		"  --calls3 N      NOP calls per loop run at ring 3 (default 5000, at least 2000)\n"
		"  --compute-runs N  runs of each compute kernel (default 5)\n"
		"  --blk-runs N    runs of each block configuration and of blkrw (default 3)\n"
		"  --scratch DIR   where the block benchmark's scratch images go, removed\n"
		"                  afterwards (default $TMPDIR, else /tmp)\n"
		"  --no-block      skip the block benchmark (DIR/bench/guests/blkbench.elf\n"
		"                  and blkrw.elf)\n"
		"  --only SECTION  run one section: cold, hypercall, seccomp, pvclock, memory,\n"
		"                  compute, irq, mmu, api, snapshot, block (for a quick look; the\n"
		"                  results file then holds that section alone)\n"
		"  --strict        exit 3 if a target is missed\n"
		"Exit status: 0 done, 1 a measurement failed, 2 bad usage, 3 target missed (--strict).\n");
}

static void check_file(const char *what, const char *path, bool executable)
{
	if (access(path, executable ? X_OK : R_OK) != 0)
		die("%s '%s' is missing or not %s: %s (build it with make all)", what, path,
		    executable ? "executable" : "readable", strerror(errno));
}

static int parse_int(const char *text, const char *option, long lo, long hi)
{
	char *end;
	errno = 0;
	long v = strtol(text, &end, 10);
	if (errno || end == text || *end || v < lo || v > hi) {
		fprintf(stderr, "pvmm-bench: %s needs a number from %ld to %ld, not '%s'\n", option, lo, hi, text);
		exit(2);
	}
	return (int)v;
}

static const char *const section_names[] = { "cold", "hypercall", "seccomp", "pvclock", "memory", "compute",
					      "irq", "mmu", "api", "snapshot", "block" };

static bool want(const struct config *cfg, const char *section)
{
	return !cfg->only || strcmp(cfg->only, section) == 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "build", required_argument, NULL, 'b' },
		{ "hello", required_argument, NULL, 'H' },
		{ "hcloop", required_argument, NULL, 'L' },
		{ "out", required_argument, NULL, 'o' },
		{ "runs", required_argument, NULL, 'r' },
		{ "rounds", required_argument, NULL, 'R' },
		{ "calls", required_argument, NULL, 'c' },
		{ "calls3", required_argument, NULL, '3' },
		{ "compute-runs", required_argument, NULL, 'C' },
		{ "blk-runs", required_argument, NULL, 'B' },
		{ "scratch", required_argument, NULL, 'S' },
		{ "no-block", no_argument, NULL, 'N' },
		{ "strict", no_argument, NULL, 's' },
		{ "only", required_argument, NULL, 'O' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct config cfg = {
		.build = "build", .out_dir = "bench/results",
		.cold_runs = 40, .rounds = 15, .calls = 20000, .calls3 = 5000, .compute_runs = 5, .mem_runs = 3,
		.blk_runs = 3, .block = true,
	};
	const char *hello = NULL, *hcloop = NULL;
	int c;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'b': cfg.build = optarg; break;
		case 'H': hello = optarg; break;
		case 'L': hcloop = optarg; break;
		case 'o': cfg.out_dir = optarg; break;
		case 'O': cfg.only = optarg; break;
		case 'r': cfg.cold_runs = parse_int(optarg, "--runs", 20, 10000); break;
		case 'R': cfg.rounds = parse_int(optarg, "--rounds", 1, 1000); break;
		case 'c': cfg.calls = (unsigned)parse_int(optarg, "--calls", 10000, 100000000); break;
		case '3': cfg.calls3 = (unsigned)parse_int(optarg, "--calls3", 2000, 100000000); break;
		case 'C': cfg.compute_runs = parse_int(optarg, "--compute-runs", 1, 50); break;
		case 'B': cfg.blk_runs = parse_int(optarg, "--blk-runs", 1, 50); break;
		case 'S': cfg.scratch = optarg; break;
		case 'N': cfg.block = false; break;
		case 's': cfg.strict = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (cfg.only) {
		bool known = false;
		for (size_t i = 0; i < sizeof(section_names) / sizeof(section_names[0]); i++)
			known |= strcmp(cfg.only, section_names[i]) == 0;
		if (!known) {
			fprintf(stderr, "pvmm-bench: --only '%s' is not a section; use one of cold, hypercall, seccomp, "
					"pvclock, memory, compute, irq, mmu, api, snapshot, block\n", cfg.only);
			return 2;
		}
	}
	snprintf(cfg.pvmm, sizeof(cfg.pvmm), "%s/pvmm", cfg.build);
	snprintf(cfg.rawvm, sizeof(cfg.rawvm), "%s/bench/rawvm", cfg.build);
	if (hello)
		snprintf(cfg.hello, sizeof(cfg.hello), "%s", hello);
	else
		snprintf(cfg.hello, sizeof(cfg.hello), "%s/examples/hello.elf", cfg.build);
	if (hcloop)
		snprintf(cfg.hcloop, sizeof(cfg.hcloop), "%s", hcloop);
	else
		snprintf(cfg.hcloop, sizeof(cfg.hcloop), "%s/bench/guests/hcloop.elf", cfg.build);
	check_file("monitor", cfg.pvmm, true);
	check_file("raw KVM floor", cfg.rawvm, true);
	check_file("guest", cfg.hello, false);
	check_file("guest", cfg.hcloop, false);
	snprintf(cfg.blkbench, sizeof(cfg.blkbench), "%s/bench/guests/blkbench.elf", cfg.build);
	snprintf(cfg.blkrw, sizeof(cfg.blkrw), "%s/bench/guests/blkrw.elf", cfg.build);
	snprintf(cfg.clockread, sizeof(cfg.clockread), "%s/bench/guests/clockread.elf", cfg.build);
	check_file("guest", cfg.clockread, false);
	snprintf(cfg.compute, sizeof(cfg.compute), "%s/bench/guests/compute.elf", cfg.build);
	snprintf(cfg.compute0, sizeof(cfg.compute0), "%s/bench/guests/compute-ring0.elf", cfg.build);
	check_file("guest", cfg.compute, false);
	check_file("guest", cfg.compute0, false);
	snprintf(cfg.irqbench, sizeof(cfg.irqbench), "%s/bench/guests/irqbench.elf", cfg.build);
	check_file("guest", cfg.irqbench, false);
	snprintf(cfg.mmubench, sizeof(cfg.mmubench), "%s/bench/guests/mmubench.elf", cfg.build);
	check_file("guest", cfg.mmubench, false);
	snprintf(cfg.snapwait, sizeof(cfg.snapwait), "%s/bench/guests/snapwait.elf", cfg.build);
	check_file("guest", cfg.snapwait, false);
	if (cfg.block) {
		check_file("guest", cfg.blkbench, false);
		check_file("guest", cfg.blkrw, false);
	}
	if (!cfg.scratch) {
		const char *tmp = getenv("TMPDIR");
		cfg.scratch = tmp && *tmp ? tmp : "/tmp";
	}
	struct stat st;
	if (stat(cfg.out_dir, &st) != 0 || !S_ISDIR(st.st_mode))
		die("results directory '%s' does not exist", cfg.out_dir);

	devnull_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull_fd < 0)
		die("cannot open /dev/null: %s", strerror(errno));

	struct host_info host;
	collect_host_info(&cfg, &host);
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	char timestamp[32], file_name[64];
	strftime(timestamp, sizeof(timestamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	strftime(file_name, sizeof(file_name), "%Y%m%d-%H%M%S.json", &tm);

	int64_t start = now_ns();
	/* Both rings in this one run, so their figures compare; every pvmm
	 * run names its ring (--ring), whatever pvmm's default is. */
	if (want(&cfg, "cold")) {
		bench_cold_start(&cfg, 0);
		bench_cold_start(&cfg, 3);
	}
	if (want(&cfg, "hypercall")) {
		bench_hypercall(&cfg, 0);
		bench_hypercall(&cfg, 3);
	}
	if (want(&cfg, "seccomp"))
		bench_seccomp(&cfg);
	figure_ring = 0;
	if (want(&cfg, "pvclock"))
		bench_pvclock(&cfg);
	if (want(&cfg, "memory"))
		bench_memory(&cfg);
	figure_ring = -1;
	if (want(&cfg, "compute"))
		bench_compute(&cfg);
	if (want(&cfg, "irq"))
		bench_irq_delivery(&cfg);
	if (want(&cfg, "mmu"))
		bench_mmu(&cfg);
	if (want(&cfg, "api"))
		bench_api_startup(&cfg);
	if (want(&cfg, "snapshot"))
		bench_snapshot(&cfg);
	if (cfg.block && want(&cfg, "block"))
		bench_block(&cfg);
	progress("all measurements took %.1f s", (double)(now_ns() - start) / 1e9);

	print_table(&host);
	fflush(stdout); /* before the progress lines on stderr */
	if (cfg.only) /* a partial run never passes for a whole one */
		snprintf(file_name, sizeof(file_name), "partial-%s.json", cfg.only);
	write_json_file(cfg.out_dir, file_name, &cfg, &host, timestamp);
	if (!cfg.only) /* latest.json is always a whole run */
		write_json_file(cfg.out_dir, "latest.json", &cfg, &host, timestamp);

	int met = 0, targets = 0;
	for (int i = 0; i < figure_count; i++)
		if (figures[i].verdict != VERDICT_INFO) {
			targets++;
			met += figures[i].verdict == VERDICT_PASS;
		}
	printf("%d of %d targets met%s\n", met, targets,
	       met == targets ? "" : " (MISS rows: see bench/README.md for what each figure means)");
	return cfg.strict && met != targets ? 3 : 0;
}
