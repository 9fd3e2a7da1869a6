/*
 * `pvmm bench compare`: the same guest workload over the paravirtual and
 * the emulated path, and what each costs.
 *
 * It runs build/bench/guests/compare.elf (one binary for every path: the
 * runtime picks its console and disk from the boot info) under
 * `pvmm run --stats-json` once per path, and reads two things back: the
 * monitor's counters (VM exits, including those KVM handles in-kernel;
 * wall time; monitor CPU) and the guest's own result line
 *
 *     compare WORKLOAD bytes=N ops=N ns=N sum=HEX
 *
 * (guest-visible time and a checksum, so that what one disk path wrote
 * is checked when the other reads it). Results: a table on stdout, JSON
 * and a gnuplot data file in the output folder.
 *
 * The network rows send 1-KiB frames (so exits per KiB are exits per
 * packet) to the null back end, over virtio-net and the NE2000, each
 * with a set-up run of no frames to take the fixed cost out.
 *
 * The page-table rows run bench/guests/mmubench.elf (next to compare.elf)
 * instead: 256 pages mapped and unmapped per round, through the PV MMU
 * call and, at ring 0 only, by the guest writing its own page-table
 * entries and flushing each with invlpg. Each is run for 1 and for 11
 * rounds and the difference taken over the 2560 mappings for exits and
 * KVM's own counters (--stats-json's kvm_mmu); the time per mapping (map
 * + unmap) is the guest's own, timed over the 11-round run.
 *
 * --ring picks the privilege levels the guest runs at (pvmm run --ring),
 * one or both: every path is measured at each, and every row, ratio and
 * target names its ring. Ratios only ever set paths of the same ring
 * against each other.
 */
#include "bench_compare.h"
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "status.h"

struct run {
	int ring;               /* pvmm run --ring: 0 or 3 */
	const char *workload;   /* console, blk-write, blk-read, net-send */
	const char *path;       /* hypercall, virtio, uart, ide, ne2000 */
	bool paravirtual;
	/* results */
	bool ok;
	bool has_setup;         /* setup_exits measured (console and net rows) */
	double bytes, ops, guest_ns, exits, wall_ns, cpu_ns, setup_exits;
	char sum[32];
};

/* A page-table row: per mapping (mapped, then unmapped), over 10 rounds. */
struct mmu_run {
	int ring;
	const char *path;       /* pv-call, pte-write */
	bool paravirtual;
	bool ok;
	double exits, kvm_exits, emulated, invlpg, pte_writes, ns;
};

struct compare {
	const char *self;       /* the pvmm executable */
	const char *guest;
	const char *mmu_guest;  /* mmubench.elf; NULL: no page-table rows */
	const char *out_dir;
	unsigned console_kib, blk_mib, blk_mib3;  /* blk_mib3: disk data at ring 3 */
	unsigned net_frames, ne2000_frames;      /* frames per net-send run */
	int rings[2];
	unsigned nrings;
	char tmp[32];           /* mkdtemp folder for images, stats and output */
	struct run runs[20];
	unsigned nruns;
	struct mmu_run mmu[4];
	unsigned nmmu;
};

/* Find "key": NUMBER in a flat JSON text; false if absent or null. */
static bool json_number(const char *json, const char *key, double *value)
{
	char pattern[64];
	snprintf(pattern, sizeof(pattern), "\"%s\": ", key);
	const char *at = strstr(json, pattern);
	if (!at)
		return false;
	char *end;
	*value = strtod(at + strlen(pattern), &end);
	return end != at + strlen(pattern);
}

/* Sum every "key": NUMBER in a JSON text (e.g. each device's kicks). */
static double json_sum(const char *json, const char *key)
{
	char pattern[64];
	double sum = 0;
	snprintf(pattern, sizeof(pattern), "\"%s\": ", key);
	for (const char *at = strstr(json, pattern); at; at = strstr(at + 1, pattern))
		sum += strtod(at + strlen(pattern), NULL);
	return sum;
}

/* Find key=VALUE in the guest's result line. */
static bool line_field(const char *line, const char *key, char *value, size_t size)
{
	char pattern[32];
	snprintf(pattern, sizeof(pattern), " %s=", key);
	const char *at = strstr(line, pattern);
	if (!at)
		return false;
	at += strlen(pattern);
	size_t n = strcspn(at, " \n");
	if (n >= size)
		return false;
	memcpy(value, at, n);
	value[n] = '\0';
	return true;
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	char *text = NULL;
	size_t size = 0;
	FILE *mem = open_memstream(&text, &size);
	char buf[4096];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		fwrite(buf, 1, n, mem);
	fclose(f);
	fclose(mem);
	return text;
}

/* Run `pvmm run ...` with stdout to `out_path`; returns its exit status. */
static int run_pvmm(struct compare *c, char *const argv[], const char *out_path, const char *err_path)
{
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int in = open("/dev/null", O_RDONLY);
		int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (in < 0 || out < 0 || err < 0)
			_exit(127);
		dup2(in, 0);
		dup2(out, 1);
		dup2(err, 2);
		execv(c->self, argv);
		_exit(127);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* kib_override: console KiB (net-send: frames) for this run instead of
 * the configured amount (-1: none; 0: the setup run). */
static void measure(struct compare *c, struct run *r, const char *image, int kib_override)
{
	char stats[PATH_MAX], out[PATH_MAX], err[PATH_MAX], amount[32], disk[PATH_MAX + 16];
	bool net = strcmp(r->workload, "net-send") == 0;
	char *argv[20];
	unsigned n = 0;

	snprintf(stats, sizeof(stats), "%s/%s-%s-r%d.json", c->tmp, r->workload, r->path, r->ring);
	snprintf(out, sizeof(out), "%s/%s-%s-r%d.out", c->tmp, r->workload, r->path, r->ring);
	snprintf(err, sizeof(err), "%s/%s-%s-r%d.err", c->tmp, r->workload, r->path, r->ring);
	argv[n++] = "pvmm";
	argv[n++] = "run";
	argv[n++] = "--ring";
	argv[n++] = r->ring == 3 ? "3" : "0";
	argv[n++] = "-q";
	argv[n++] = "--stats-json";
	argv[n++] = stats;
	argv[n++] = "--timeout";
	argv[n++] = "300";
	if (strcmp(r->workload, "console") == 0) {
		argv[n++] = "--console";
		argv[n++] = (char *)r->path;
		snprintf(amount, sizeof(amount), "%u", kib_override >= 0 ? (unsigned)kib_override : c->console_kib);
	} else if (net) {
		bool ne2000 = strcmp(r->path, "ne2000") == 0;
		argv[n++] = "--net";
		argv[n++] = ne2000 ? "null,model=ne2000" : "null";
		snprintf(amount, sizeof(amount), "%u",
			 kib_override >= 0 ? (unsigned)kib_override : ne2000 ? c->ne2000_frames : c->net_frames);
	} else {
		snprintf(disk, sizeof(disk), "%s", image);
		argv[n++] = "--disk";
		argv[n++] = disk;
		argv[n++] = "--disk-model";
		argv[n++] = (char *)r->path;
		snprintf(amount, sizeof(amount), "%u", r->ring == 3 ? c->blk_mib3 : c->blk_mib);
	}
	argv[n++] = (char *)c->guest;
	argv[n++] = (char *)r->workload;
	argv[n++] = amount;
	argv[n] = NULL;

	int status = run_pvmm(c, argv, out, err);
	char *json = read_file(stats), *text = read_file(out);
	const char *line = text ? strstr(text, "compare ") : NULL;
	char field[64];

	/* VM exits: those that reached pvmm plus the queue kicks KVM answered
	 * in-kernel (ioeventfd), which are exits too on VT-x hardware. Not
	 * KVM's own exit counter: without VT-x it counts emulator time
	 * slices and misses ioeventfd kicks. Monitor CPU: pvmm's own threads'
	 * work, not the guest code KVM interprets on the vCPU thread. */
	r->ok = status == 0 && json && line && json_number(json, "exits", &r->exits) &&
		json_number(json, "wall_ns", &r->wall_ns) && json_number(json, "monitor_cpu_ns", &r->cpu_ns) &&
		line_field(line, "bytes", field, sizeof(field));
	if (r->ok) {
		r->exits += json_sum(json, "kicks");
		r->bytes = strtod(field, NULL);
		r->ops = line_field(line, "ops", field, sizeof(field)) ? strtod(field, NULL) : 0;
		r->guest_ns = line_field(line, "ns", field, sizeof(field)) ? strtod(field, NULL) : 0;
		if (!line_field(line, "sum", r->sum, sizeof(r->sum)))
			r->sum[0] = '\0';
		/* Every frame the guest sent reached the back end. */
		if (net && json_sum(json, "tx_frames") < r->ops) {
			log_error("bench compare: net-send over %s at ring %d: the NIC sent %.0f of %.0f frames; see %s",
				  r->path, r->ring, json_sum(json, "tx_frames"), r->ops, stats);
			r->ok = false;
		}
	} else {
		log_error("bench compare: %s over %s at ring %d failed (exit status %d); see %s", r->workload,
			  r->path, r->ring, status, err);
	}
	free(json);
	free(text);
}

/* One mmubench run of `rounds` rounds: its counters and time per mapping. */
static bool mmu_once(struct compare *c, const struct mmu_run *m, unsigned rounds, double v[6])
{
	char stats[PATH_MAX], out[PATH_MAX], err[PATH_MAX], rounds_arg[32];
	const char *mode = strcmp(m->path, "pv-call") == 0 ? "mode=pv" : "mode=direct";
	snprintf(stats, sizeof(stats), "%s/mmu-%s-r%d.json", c->tmp, m->path, m->ring);
	snprintf(out, sizeof(out), "%s/mmu-%s-r%d.out", c->tmp, m->path, m->ring);
	snprintf(err, sizeof(err), "%s/mmu-%s-r%d.err", c->tmp, m->path, m->ring);
	snprintf(rounds_arg, sizeof(rounds_arg), "rounds=%u", rounds);
	char *argv[] = { "pvmm", "run", "--ring", m->ring == 3 ? "3" : "0", "-q", "--stats-json", stats,
			 "--timeout", "300", (char *)c->mmu_guest, "n=256", rounds_arg, (char *)mode, NULL };
	int status = run_pvmm(c, argv, out, err);
	char *json = read_file(stats), *text = read_file(out);
	const char *line = text ? strstr(text, "mmubench mode=") : NULL;
	char map[32], unmap[32];
	bool ok = status == 0 && json && line && json_number(json, "exits", &v[0]) &&
		  line_field(line, "ns_per_map", map, sizeof(map)) && line_field(line, "ns_per_unmap", unmap, sizeof(unmap));
	if (ok) {
		v[5] = strtod(map, NULL) + strtod(unmap, NULL);
		/* KVM's counters: null on kernels without binary statistics (NaN here,
		 * "n/a" in the table, null in compare.json). */
		if (!json_number(json, "kvm_exits", &v[1]))
			v[1] = NAN;
		if (!json_number(json, "insn_emulation", &v[2]) || !json_number(json, "invlpg", &v[3]))
			v[2] = v[3] = NAN;
		if (!json_number(json, "mmu_pte_write", &v[4]))
			v[4] = NAN;
	} else {
		log_error("bench compare: mmubench over %s at ring %d failed (exit status %d); see %s", m->path, m->ring,
			  status, err);
	}
	free(json);
	free(text);
	return ok;
}

/* 11 rounds less 1: what 2560 mappings cost, set-up left out. */
static void measure_mmu(struct compare *c, struct mmu_run *m)
{
	double one[6], eleven[6];
	const double maps = 10 * 256;
	m->ok = mmu_once(c, m, 1, one) && mmu_once(c, m, 11, eleven);
	if (!m->ok)
		return;
	double *fields[] = { &m->exits, &m->kvm_exits, &m->emulated, &m->invlpg, &m->pte_writes };
	for (unsigned i = 0; i < 5; i++)
		*fields[i] = (eleven[i] - one[i]) / maps; /* NaN stays NaN */
	/* Time is not a difference: the guest times its rounds itself, and
	 * this is its figure over the 11-round run, map + unmap. */
	m->ns = eleven[5];
}

static double per(double a, double b)
{
	return b > 0 ? a / b : 0;
}

/* Exits per KiB of the output itself: the setup run's subtracted. */
static double data_per_kib(const struct run *r)
{
	double d = r->exits - r->setup_exits;
	return per(d > 0 ? d : 0, r->bytes / 1024);
}

static const struct run *find(const struct compare *c, int ring, const char *workload, const char *path)
{
	for (unsigned i = 0; i < c->nruns; i++)
		if (c->runs[i].ring == ring && strcmp(c->runs[i].workload, workload) == 0 &&
		    strcmp(c->runs[i].path, path) == 0)
			return c->runs[i].ok ? &c->runs[i] : NULL;
	return NULL;
}

/* Ratio of an emulated path's figure to a paravirtual one's (0 if either failed). */
static double ratio(const struct compare *c, int ring, const char *workload, const char *slow, const char *fast,
		    bool throughput)
{
	const struct run *s = find(c, ring, workload, slow), *f = find(c, ring, workload, fast);
	if (!s || !f)
		return 0;
	if (throughput)
		return per(per(f->bytes, f->guest_ns), per(s->bytes, s->guest_ns));
	return per(per(s->exits, s->bytes / 1024), per(f->exits, f->bytes / 1024));
}

/* A ratio of two paths' figures (at least goal), or with slow NULL one
 * path's data exits per KiB (at most goal). */
struct target {
	const char *name, *workload, *slow, *fast;
	bool throughput;
	double goal;
	double value;
};

static const struct target target_list[] = {
	{ "block exits per KiB, ide / virtio (write)", "blk-write", "ide", "virtio", false, 20, 0 },
	{ "block exits per KiB, ide / virtio (read)", "blk-read", "ide", "virtio", false, 20, 0 },
	{ "block throughput, virtio / ide (write)", "blk-write", "ide", "virtio", true, 5, 0 },
	{ "block throughput, virtio / ide (read)", "blk-read", "ide", "virtio", true, 5, 0 },
	{ "console exits per KiB, uart / virtio", "console", "uart", "virtio", false, 20, 0 },
	{ "console exits per KiB, uart / hypercall", "console", "uart", "hypercall", false, 0, 0 },
	{ "net exits per packet, ne2000 / virtio", "net-send", "ne2000", "virtio", false, 20, 0 },
	{ "net packet rate, virtio / ne2000", "net-send", "ne2000", "virtio", true, 5, 0 },
	{ "virtio-net exits per packet after set-up", "net-send", NULL, "virtio", false, 0.1, 0 },
};
#define NTARGETS (sizeof(target_list) / sizeof(target_list[0]))

/* Both disk paths of a ring read back what the other wrote: same checksums. */
static bool data_check(const struct compare *c, int ring)
{
	const struct run *rv = find(c, ring, "blk-read", "virtio"), *ri = find(c, ring, "blk-read", "ide");
	const struct run *wv = find(c, ring, "blk-write", "virtio"), *wi = find(c, ring, "blk-write", "ide");
	return rv && ri && wv && wi && rv->sum[0] && strcmp(rv->sum, ri->sum) == 0 && strcmp(rv->sum, wv->sum) == 0 &&
	       strcmp(wv->sum, wi->sum) == 0;
}

static void report(struct compare *c)
{
	struct target targets[2][NTARGETS];
	bool data_ok[2];
	char path[PATH_MAX];
	unsigned met = 0, set = 0;

	printf("%-4s %-10s %-10s %9s %8s %9s %10s %9s %9s %9s %11s %10s\n", "ring", "workload", "path", "KiB", "ops",
	       "exits", "exits/KiB", "data/KiB", "exits/op", "wall ms", "monitor ms", "guest MB/s");
	for (unsigned i = 0; i < c->nruns; i++) {
		const struct run *r = &c->runs[i];
		if (!r->ok) {
			printf("%-4d %-10s %-10s   (failed)\n", r->ring, r->workload, r->path);
			continue;
		}
		char data[32] = "-";
		if (r->has_setup)
			snprintf(data, sizeof(data), "%.3f", data_per_kib(r));
		printf("%-4d %-10s %-10s %9.0f %8.0f %9.0f %10.3f %9s %9.2f %9.1f %11.1f %10.2f\n", r->ring, r->workload,
		       r->path, r->bytes / 1024, r->ops, r->exits, per(r->exits, r->bytes / 1024), data,
		       per(r->exits, r->ops), r->wall_ns / 1e6, r->cpu_ns / 1e6, per(r->bytes / 1e6, r->guest_ns / 1e9));
	}
	printf("\n");
	for (unsigned i = 0; i < c->nruns; i++) {
		const struct run *r = &c->runs[i];
		if (r->ok && strcmp(r->workload, "net-send") == 0)
			printf("ring %d: net-send over %-7s %10.3f exits/packet (%.3f after set-up) %12.0f packets/s\n",
			       r->ring, r->path, per(r->exits, r->ops), r->has_setup ? data_per_kib(r) : 0,
			       per(r->ops, r->guest_ns / 1e9));
	}
	printf("\n");
	for (unsigned i = 0; i < c->nmmu; i++) {
		const struct mmu_run *m = &c->mmu[i];
		if (!m->ok) {
			printf("ring %d: page tables over %-9s (failed)\n", m->ring, m->path);
			continue;
		}
		char kvm[160];
		if (isnan(m->kvm_exits) || isnan(m->emulated))
			snprintf(kvm, sizeof(kvm), "KVM: n/a (no binary statistics)");
		else
			snprintf(kvm, sizeof(kvm),
				 "KVM: %.4f exits, %.1f emulated instructions, %.2f invlpg, %.2f shadow-PT write checks",
				 m->kvm_exits, m->emulated, m->invlpg, m->pte_writes);
		printf("ring %d: page tables over %-9s %7.4f exits/mapping; %s; %.0f ns (map + unmap)\n", m->ring, m->path,
		       m->exits, kvm, m->ns);
	}
	const struct mmu_run *pv0 = NULL, *pte0 = NULL;
	for (unsigned i = 0; i < c->nmmu; i++)
		if (c->mmu[i].ok && c->mmu[i].ring == 0)
			*(c->mmu[i].paravirtual ? &pv0 : &pte0) = &c->mmu[i];
	if (pv0 && pte0)
		printf("ring 0: %-44s %9.1fx  info\n", "page-table time per mapping, pte-write / pv-call",
		       per(pte0->ns, pv0->ns));
	if (c->nmmu)
		printf("\n");
	for (unsigned k = 0; k < c->nrings; k++) {
		int ring = c->rings[k];
		for (unsigned i = 0; i < NTARGETS; i++) {
			struct target *t = &targets[k][i];
			*t = target_list[i];
			bool at_most = !t->slow;
			bool pass;
			if (at_most) {
				const struct run *f = find(c, ring, t->workload, t->fast);
				t->value = f && f->has_setup ? data_per_kib(f) : -1;
				pass = t->value >= 0 && t->value <= t->goal;
			} else {
				t->value = ratio(c, ring, t->workload, t->slow, t->fast, t->throughput);
				pass = t->value >= t->goal;
			}
			const char *verdict = t->goal == 0 ? "info" : pass ? "PASS" : "MISS";
			if (t->goal > 0) {
				set++;
				met += pass;
			}
			if (at_most)
				printf("ring %d: %-44s %9.3f   <= %g %s\n", ring, t->name, t->value, t->goal, verdict);
			else
				printf("ring %d: %-44s %9.1fx  %s%s\n", ring, t->name, t->value,
				       t->goal > 0 ? ">= " : "", verdict);
		}
		data_ok[k] = data_check(c, ring);
		printf("ring %d: %-44s %s\n", ring, "data written by one path, read by the other",
		       data_ok[k] ? "same checksum" : "MISMATCH");
	}
	printf("%u of %u targets met\n", met, set);

	snprintf(path, sizeof(path), "%s/compare.json", c->out_dir);
	FILE *json = fopen(path, "w");
	snprintf(path, sizeof(path), "%s/compare.dat", c->out_dir);
	FILE *dat = fopen(path, "w");
	if (!json || !dat) {
		log_error("bench compare: cannot write results in '%s': %s", c->out_dir, strerror(errno));
		if (json)
			fclose(json);
		if (dat)
			fclose(dat);
		return;
	}
	fprintf(json,
		"{\n  \"console_kib\": %u, \"blk_mib\": %u, \"blk_mib_ring3\": %u, \"net_frames\": %u, "
		"\"ne2000_frames\": %u,\n  \"rings\": [",
		c->console_kib, c->blk_mib, c->blk_mib3, c->net_frames, c->ne2000_frames);
	for (unsigned k = 0; k < c->nrings; k++)
		fprintf(json, "%s%d", k ? ", " : "", c->rings[k]);
	fprintf(json, "],\n  \"runs\": [\n");
	fprintf(dat, "# workload path exits_per_kib mb_per_s monitor_cpu_ms paravirtual ring\n");
	for (unsigned i = 0; i < c->nruns; i++) {
		const struct run *r = &c->runs[i];
		fprintf(json,
			"    {\"ring\": %d, \"workload\": \"%s\", \"path\": \"%s\", \"paravirtual\": %s, \"ok\": %s, "
			"\"bytes\": %.0f, \"ops\": %.0f, \"exits\": %.0f, \"exits_per_kib\": %.4f, \"exits_per_op\": %.3f, "
			"\"wall_ns\": %.0f, \"monitor_cpu_ns\": %.0f, \"guest_ns\": %.0f, \"guest_mb_per_s\": %.3f",
			r->ring, r->workload, r->path, r->paravirtual ? "true" : "false", r->ok ? "true" : "false", r->bytes,
			r->ops, r->exits, per(r->exits, r->bytes / 1024), per(r->exits, r->ops), r->wall_ns, r->cpu_ns,
			r->guest_ns, per(r->bytes / 1e6, r->guest_ns / 1e9));
		if (r->has_setup)
			fprintf(json, ", \"setup_exits\": %.0f, \"data_exits_per_kib\": %.4f", r->setup_exits,
				data_per_kib(r));
		if (strcmp(r->workload, "net-send") == 0)
			fprintf(json, ", \"packets_per_s\": %.1f", per(r->ops, r->guest_ns / 1e9));
		fprintf(json, "}%s\n", i + 1 < c->nruns ? "," : "");
		if (r->ok)
			fprintf(dat, "%s %s %.5f %.4f %.3f %d %d\n", r->workload, r->path, per(r->exits, r->bytes / 1024),
				per(r->bytes / 1e6, r->guest_ns / 1e9), r->cpu_ns / 1e6, r->paravirtual, r->ring);
	}
	fprintf(json, "  ],\n  \"mmu\": [\n");
	for (unsigned i = 0; i < c->nmmu; i++) {
		const struct mmu_run *m = &c->mmu[i];
		fprintf(json, "    {\"ring\": %d, \"path\": \"%s\", \"paravirtual\": %s, \"ok\": %s", m->ring, m->path,
			m->paravirtual ? "true" : "false", m->ok ? "true" : "false");
		const struct {
			const char *key;
			double value;
		} fields[] = {
			{ "exits_per_mapping", m->exits },
			{ "kvm_exits_per_mapping", m->kvm_exits },
			{ "kvm_emulated_per_mapping", m->emulated },
			{ "kvm_invlpg_per_mapping", m->invlpg },
			{ "kvm_shadow_pt_writes_per_mapping", m->pte_writes },
			{ "ns_per_mapping", m->ns },
		};
		for (unsigned f = 0; f < sizeof(fields) / sizeof(fields[0]); f++)
			if (m->ok && !isnan(fields[f].value))
				fprintf(json, ", \"%s\": %.4f", fields[f].key, fields[f].value);
			else
				fprintf(json, ", \"%s\": null", fields[f].key);
		fprintf(json, "}%s\n", i + 1 < c->nmmu ? "," : "");
	}
	fprintf(json, "  ],\n  \"ratios\": [\n");
	for (unsigned k = 0; k < c->nrings; k++)
		for (unsigned i = 0; i < NTARGETS; i++)
			fprintf(json, "    {\"ring\": %d, \"name\": \"%s\", \"value\": %.3f, \"target\": %.1f}%s\n",
				c->rings[k], targets[k][i].name, targets[k][i].value, targets[k][i].goal,
				k + 1 < c->nrings || i + 1 < NTARGETS ? "," : "");
	fprintf(json, "  ],\n  \"data_check\": {");
	for (unsigned k = 0; k < c->nrings; k++)
		fprintf(json, "%s\"ring%d\": %s", k ? ", " : "", c->rings[k], data_ok[k] ? "true" : "false");
	fprintf(json, "},\n  \"targets_met\": %u, \"targets\": %u\n}\n", met, set);
	fclose(json);
	fclose(dat);
	printf("results: %s/compare.json, %s/compare.dat\n", c->out_dir, c->out_dir);
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	remove(path);
	return 0;
}

void bench_compare_usage(FILE *out)
{
	fprintf(out,
		"Usage: pvmm bench compare [--ring LIST] [--guest PATH] [--out DIR] [--console-kib N]\n"
		"                          [--blk-mib N] [--blk-mib-ring3 N] [--net-frames N]\n"
		"                          [--ne2000-frames N]\n"
		"\n"
		"Run one guest workload over the paravirtual path and over the emulated one\n"
		"(console: para-API hypercall, virtio-console, 16550A UART; disk: virtio-blk,\n"
		"IDE; network: 1-KiB frames sent over virtio-net and an NE2000 to the null\n"
		"back end) and report VM exits per KiB and per operation, wall time, monitor\n"
		"CPU and guest-visible throughput (for the network, exits per packet and\n"
		"packets/s), with the PV/emulated ratios, at each ring asked. Page-table\n"
		"changes too: bench/guests/mmubench.elf's mappings through the PV MMU call\n"
		"and, at ring 0, by the guest's own PTE writes, in exits, KVM's counters\n"
		"and time per mapping.\n"
		"\n"
		"  --ring LIST       the guest's privilege levels: 0, 3 or 0,3 (default 0,3);\n"
		"                    every run passes pvmm run --ring, and rows name their ring\n"
		"  --guest PATH      the workload guest (default: bench/guests/compare.elf in\n"
		"                    the build tree next to this pvmm)\n"
		"  --out DIR         where compare.json and compare.dat go (default bench/results)\n"
		"  --console-kib N   console output per run (default 16)\n"
		"  --blk-mib N       disk data per run at ring 0 (default 2)\n"
		"  --blk-mib-ring3 N disk data per run at ring 3 (default 1: each word an\n"
		"                    emulated IDE write moves is an exit, dearer at ring 3)\n"
		"  --net-frames N    frames per virtio-net run (default 5000)\n"
		"  --ne2000-frames N frames per NE2000 run (default 300: each is ~500 exits)\n");
}

int bench_compare_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "guest", required_argument, NULL, 'g' },
		{ "out", required_argument, NULL, 'o' },
		{ "console-kib", required_argument, NULL, 'c' },
		{ "blk-mib", required_argument, NULL, 'b' },
		{ "blk-mib-ring3", required_argument, NULL, '3' },
		{ "ring", required_argument, NULL, 'r' },
		{ "net-frames", required_argument, NULL, 'n' },
		{ "ne2000-frames", required_argument, NULL, 'e' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct compare c = { .out_dir = "bench/results", .console_kib = 16, .blk_mib = 2, .blk_mib3 = 1,
			     .net_frames = 5000, .ne2000_frames = 300, .rings = { 0, 3 }, .nrings = 2 };
	char self[PATH_MAX], guest[PATH_MAX], mmu_guest[PATH_MAX], image[PATH_MAX];
	int opt;
	char *end;

	ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (len <= 0) {
		log_error("bench compare: cannot find the pvmm executable: %s", strerror(errno));
		return PVMM_STATUS_HOST;
	}
	self[len] = '\0';
	c.self = self;
	/* Default guest: <dir of pvmm>/bench/guests/compare.elf (build/ layout). */
	snprintf(guest, sizeof(guest), "%.*s/bench/guests/compare.elf",
		 (int)(strrchr(self, '/') - self), self);
	c.guest = guest;
	snprintf(mmu_guest, sizeof(mmu_guest), "%.*s/bench/guests/mmubench.elf", (int)(strrchr(self, '/') - self), self);

	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'g': c.guest = optarg; break;
		case 'o': c.out_dir = optarg; break;
		case 'c':
		case 'b':
		case '3': {
			unsigned long v = strtoul(optarg, &end, 10);
			if (*end || end == optarg || v == 0 || v > 1024) {
				log_error("bench compare: '%s' is not a size from 1 to 1024", optarg);
				return PVMM_STATUS_USAGE;
			}
			*(opt == 'c' ? &c.console_kib : opt == 'b' ? &c.blk_mib : &c.blk_mib3) = (unsigned)v;
			break;
		}
		case 'n':
		case 'e': {
			unsigned long v = strtoul(optarg, &end, 10);
			if (*end || end == optarg || v == 0 || v > 1000000) {
				log_error("bench compare: '%s' is not a frame count from 1 to 1000000", optarg);
				return PVMM_STATUS_USAGE;
			}
			*(opt == 'n' ? &c.net_frames : &c.ne2000_frames) = (unsigned)v;
			break;
		}
		case 'r':
			if (strcmp(optarg, "0") == 0 || strcmp(optarg, "3") == 0) {
				c.rings[0] = optarg[0] - '0';
				c.nrings = 1;
			} else if (strcmp(optarg, "0,3") == 0) {
				c.rings[0] = 0;
				c.rings[1] = 3;
				c.nrings = 2;
			} else {
				log_error("bench compare: --ring takes 0, 3 or 0,3, not '%s'", optarg);
				return PVMM_STATUS_USAGE;
			}
			break;
		case 'h': bench_compare_usage(stdout); return 0;
		default:
			cli_bad_option(opt, argv, longopts, "bench compare");
			return PVMM_STATUS_USAGE;
		}
	}
	if (access(c.guest, R_OK)) {
		log_error("bench compare: no workload guest at '%s'; build it with make (or pass --guest)", c.guest);
		return PVMM_STATUS_USAGE;
	}
	if (mkdir(c.out_dir, 0755) && errno != EEXIST) {
		log_error("bench compare: cannot create '%s': %s", c.out_dir, strerror(errno));
		return PVMM_STATUS_USAGE;
	}
	snprintf(c.tmp, sizeof(c.tmp), "/tmp/pvmm-compare-XXXXXX");
	if (!mkdtemp(c.tmp)) {
		log_error("bench compare: cannot make a temporary folder: %s", strerror(errno));
		return PVMM_STATUS_HOST;
	}

	/* One image, a little larger than the data: written over virtio,
	 * read over both, then written over IDE and read over both again. */
	snprintf(image, sizeof(image), "%s/disk.img", c.tmp);
	int fd = open(image, O_RDWR | O_CREAT | O_TRUNC, 0644);
	unsigned most = c.blk_mib > c.blk_mib3 ? c.blk_mib : c.blk_mib3;
	if (fd < 0 || ftruncate(fd, ((off_t)most + 1) << 20)) {
		log_error("bench compare: cannot create '%s': %s", image, strerror(errno));
		return PVMM_STATUS_HOST;
	}
	close(fd);

	static const struct { const char *workload, *path; bool pv; } plan[] = {
		{ "console", "hypercall", true }, { "console", "virtio", true }, { "console", "uart", false },
		{ "blk-write", "virtio", true }, { "blk-read", "virtio", true },
		{ "blk-read", "ide", false }, { "blk-write", "ide", false },
		{ "net-send", "virtio", true }, { "net-send", "ne2000", false },
	};
	for (unsigned k = 0; k < c.nrings; k++)
		for (unsigned i = 0; i < sizeof(plan) / sizeof(plan[0]); i++) {
			struct run *r = &c.runs[c.nruns++];
			*r = (struct run){ .ring = c.rings[k], .workload = plan[i].workload, .path = plan[i].path,
					   .paravirtual = plan[i].pv };
			fprintf(stderr, "pvmm: bench compare: %s over %s at ring %d...\n", r->workload, r->path, r->ring);
			if (strcmp(r->workload, "console") == 0 || strcmp(r->workload, "net-send") == 0) {
				/* The fixed cost first: the same run with no output. */
				measure(&c, r, image, 0);
				r->has_setup = r->ok;
				r->setup_exits = r->exits;
			}
			measure(&c, r, image, -1);
		}
	/* The page tables: the PV MMU call at every ring, the guest's own
	 * PTE writes at ring 0 only (a ring-3 guest cannot write them). */
	c.mmu_guest = access(mmu_guest, R_OK) == 0 ? mmu_guest : NULL;
	if (!c.mmu_guest)
		fprintf(stderr, "pvmm: bench compare: no %s: the page-table rows are skipped\n", mmu_guest);
	for (unsigned k = 0; c.mmu_guest && k < c.nrings; k++)
		for (int pv = 1; pv >= 0; pv--) {
			if (!pv && c.rings[k] != 0)
				continue;
			struct mmu_run *m = &c.mmu[c.nmmu++];
			*m = (struct mmu_run){ .ring = c.rings[k], .path = pv ? "pv-call" : "pte-write", .paravirtual = pv };
			fprintf(stderr, "pvmm: bench compare: page tables over %s at ring %d...\n", m->path, m->ring);
			measure_mmu(&c, m);
		}
	report(&c);

	/* Leave nothing behind but the results. */
	nftw(c.tmp, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
	for (unsigned i = 0; i < c.nruns; i++)
		if (!c.runs[i].ok)
			return PVMM_STATUS_HOST;
	for (unsigned i = 0; i < c.nmmu; i++)
		if (!c.mmu[i].ok)
			return PVMM_STATUS_HOST;
	return 0;
}
