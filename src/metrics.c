#include "metrics.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "emulated.h"
#include "log.h"
#include "syscall_filter.h"
#include "stats.h"
#include "status.h"
#include "virtio/virtio.h"

struct metrics {
	struct vm *vm;
	FILE *f;
	const char *path;
	uint64_t interval_ns;
	uint64_t seq;
	bool failed;            /* a write failed: said once, then given up */
	bool thread_live;
	bool stop;              /* under lock */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;    /* CLOCK_MONOTONIC */
};

const char *metrics_verdict(int status)
{
	if (status == PVMM_STATUS_HOST)
		return "host";
	if (status == PVMM_STATUS_USAGE)
		return "usage";
	if (status >= 0 && status <= PVMM_STATUS_GUEST_MAX)
		return "exit";
	switch (status) {
	case PVMM_STATUS_ABORT: return "abort";
	case PVMM_STATUS_FAULT: return "fault";
	case PVMM_STATUS_TRIPLE_FAULT: return "triple_fault";
	case PVMM_STATUS_EMULATION: return "emulation";
	case PVMM_STATUS_BADCALL: return "bad_call";
	case PVMM_STATUS_TIMEOUT: return "timeout";
	case PVMM_STATUS_SIGNAL: return "signal";
	case PVMM_STATUS_CONSOLE_CLOSED: return "console_closed";
	case PVMM_STATUS_SANDBOX: return "seccomp";
	default: return "unknown";
	}
}

static uint64_t tv_ns(struct timeval tv)
{
	return (uint64_t)tv.tv_sec * 1000000000ull + (uint64_t)tv.tv_usec * 1000ull;
}

void metrics_print_counters(struct vm *vm, FILE *out)
{
	uint64_t exits[STATS_EXIT_REASONS] = { 0 }, total = 0;
	const char *sep = "";
	struct rusage ru;

	/* Each vCPU's counters are its own thread's: read them atomically,
	 * whatever they are in the middle of. */
	for (unsigned c = 0; c < vm->stats.vcpu_count; c++)
		for (unsigned i = 0; i < STATS_EXIT_REASONS; i++) {
			uint64_t n = __atomic_load_n(&vm->stats.vcpu[c]->exits[i], __ATOMIC_RELAXED);
			exits[i] += n;
			total += n;
		}
	fprintf(out, "\"exits\": %llu, \"exits_by_reason\": {", (unsigned long long)total);
	for (unsigned i = 0; i < STATS_EXIT_REASONS; i++)
		if (exits[i]) {
			fprintf(out, "%s\"%s\": %llu", sep, stats_exit_name(i), (unsigned long long)exits[i]);
			sep = ", ";
		}
	fprintf(out, "}, \"calls\": {");
	sep = "";
	for (unsigned i = 0; i < PVMM_PORT_COUNT; i++) {
		uint64_t n = __atomic_load_n(&vm->stats.calls[i], __ATOMIC_RELAXED);
		if (n) {
			fprintf(out, "%s\"%s\": %llu", sep, stats_call_name(i), (unsigned long long)n);
			sep = ", ";
		}
	}
	fprintf(out, "}, \"console_bytes_out\": %llu, \"console_bytes_in\": %llu, \"console_bytes_dropped\": %llu",
		(unsigned long long)__atomic_load_n(&vm->stats.console_bytes_out, __ATOMIC_RELAXED),
		(unsigned long long)__atomic_load_n(&vm->stats.console_bytes_in, __ATOMIC_RELAXED),
		(unsigned long long)__atomic_load_n(&vm->stats.console_bytes_dropped, __ATOMIC_RELAXED));
	fprintf(out, ", \"devices\": [");
	for (unsigned i = 0; i < vm->virtio_count; i++) {
		if (i)
			fprintf(out, ", ");
		virtio_stats_print_json(vm->virtio[i], out);
	}
	emulated_stats_print_json(vm, out, vm->virtio_count == 0);
	getrusage(RUSAGE_SELF, &ru);
	fprintf(out, "], \"rss_kib\": %ld, \"cpu_user_ns\": %llu, \"cpu_sys_ns\": %llu", stats_proc_status_kib("VmRSS:"),
		(unsigned long long)tv_ns(ru.ru_utime), (unsigned long long)tv_ns(ru.ru_stime));
}

/* One line: what kind, when, then the counters, then `tail` members. */
static void write_line(struct metrics *m, const char *kind, int status)
{
	struct timeval now;

	if (m->failed)
		return;
	gettimeofday(&now, NULL);
	fprintf(m->f, "{\"schema\": %d, \"type\": \"%s\", \"seq\": %llu, \"unix_ms\": %llu, \"uptime_ms\": %.3f, ",
		METRICS_SCHEMA, kind, (unsigned long long)m->seq++,
		(unsigned long long)now.tv_sec * 1000ull + (unsigned long long)now.tv_usec / 1000ull,
		(double)(stats_now_ns() - m->vm->stats.start_ns) / 1e6);
	metrics_print_counters(m->vm, m->f);
	if (status >= 0)
		fprintf(m->f, ", \"status\": %d, \"verdict\": \"%s\"", status, metrics_verdict(status));
	fprintf(m->f, "}\n");
	if (fflush(m->f) || ferror(m->f)) {
		log_error("--metrics-path: cannot write '%s': %s; no more samples", m->path, strerror(errno));
		m->failed = true;
	}
}

static void *metrics_thread(void *arg)
{
	struct metrics *m = arg;
	struct timespec next;

	if (sysfilter_enter(SECCOMP_ROLE_METRICS, false))
		_exit(PVMM_STATUS_HOST);
	clock_gettime(CLOCK_MONOTONIC, &next);
	pthread_mutex_lock(&m->lock);
	while (!m->stop) {
		uint64_t ns = (uint64_t)next.tv_nsec + m->interval_ns;
		next.tv_sec += (time_t)(ns / 1000000000ull);
		next.tv_nsec = (long)(ns % 1000000000ull);
		while (!m->stop && pthread_cond_timedwait(&m->cond, &m->lock, &next) != ETIMEDOUT) {
		}
		if (m->stop)
			break;
		pthread_mutex_unlock(&m->lock);
		write_line(m, "sample", -1);
		pthread_mutex_lock(&m->lock);
	}
	pthread_mutex_unlock(&m->lock);
	return NULL;
}

struct metrics *metrics_start(struct vm *vm, const char *path, double interval_s)
{
	struct metrics *m = calloc(1, sizeof(*m));
	pthread_condattr_t attr;
	sigset_t all, old;

	if (!m) {
		log_error("out of memory for --metrics-path");
		return NULL;
	}
	m->vm = vm;
	m->path = path;
	m->interval_ns = (uint64_t)(interval_s * 1e9);
	if (m->interval_ns < 1000000)
		m->interval_ns = 1000000; /* 1 ms at least */
	m->f = fopen(path, "we");
	if (!m->f) {
		log_error("--metrics-path: cannot write '%s': %s", path, strerror(errno));
		free(m);
		return NULL;
	}
	pthread_mutex_init(&m->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&m->cond, &attr);
	pthread_condattr_destroy(&attr);
	write_line(m, "start", -1);
	/* No signal for this thread: the supervisor takes the stops. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int ret = pthread_create(&m->thread, NULL, metrics_thread, m);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret) {
		log_error("cannot start the metrics thread: %s", strerror(ret));
		fclose(m->f);
		pthread_cond_destroy(&m->cond);
		pthread_mutex_destroy(&m->lock);
		free(m);
		return NULL;
	}
	m->thread_live = true;
	return m;
}

int metrics_finish(struct metrics *m, int status)
{
	if (!m)
		return 0;
	if (m->thread_live) {
		pthread_mutex_lock(&m->lock);
		m->stop = true;
		pthread_cond_broadcast(&m->cond);
		pthread_mutex_unlock(&m->lock);
		pthread_join(m->thread, NULL);
	}
	write_line(m, "exit", status);
	int ret = m->failed ? -1 : 0;
	if (fclose(m->f) && !m->failed) {
		log_error("--metrics-path: cannot write '%s': %s", m->path, strerror(errno));
		ret = -1;
	}
	pthread_cond_destroy(&m->cond);
	pthread_mutex_destroy(&m->lock);
	free(m);
	return ret;
}
