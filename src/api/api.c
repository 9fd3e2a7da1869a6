/*
 * The control plane (api.h). Two threads meet here: the main thread, which
 * waits for InstanceStart and then runs the VM through vm_launch() (it is
 * the VM's supervisor, as under `pvmm run`), and the API thread, which
 * serves requests. They share `struct api_ctl` under its lock: the start
 * handshake, and the running VM, which is attached by vm_launch's
 * `started` hook and detached by its `stopping` hook, so no request
 * touches a VM that is being torn down.
 */
#include "api.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "config_file.h"
#include "firecracker.h"
#include "log.h"
#include "snapshot.h"
#include "server.h"
#include "status.h"

struct api_ctl {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int wake_fd;                 /* the main thread waits on it */
	bool start_pending;          /* InstanceStart asked, not yet answered */
	bool start_paused;           /* snapshot/load without resume_vm */
	struct snapshot *restored;   /* PUT /snapshot/load's, closed at exit */
	bool start_done;
	int start_result;            /* 0: running; -1: failed, start_err says why */
	char start_err[FC_ERR_MAX];
	struct vm_options start_opt;
	struct vm *vm;               /* the running VM, or NULL */
	FILE *metrics;               /* PUT /metrics */
	FILE *log;                   /* PUT /logger's log_path */
	struct fc_api fc;            /* the API thread's (the main thread's before it starts) */
};

static volatile sig_atomic_t early_signal;
static int early_wake_fd = -1;

static void on_early_signal(int sig)
{
	uint64_t one = 1;
	early_signal = sig;
	if (early_wake_fd >= 0 && write(early_wake_fd, &one, sizeof(one)) < 0) {
		/* full: awake already */
	}
}

/* Until the VM runs (vcpu_install_stops takes over), SIGINT and SIGTERM
 * end the wait for InstanceStart cleanly: the socket is removed. */
static void install_early_signals(void)
{
	struct sigaction sa = { .sa_handler = on_early_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* ---- metrics -------------------------------------------------------------- */

static uint64_t utc_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* One JSON line: the time, then every --stats figure (or only the state
 * before the VM runs). Caller holds the lock. */
static int write_metrics(struct api_ctl *ctl, struct vm *vm, const char *state)
{
	if (!ctl->metrics)
		return 0;
	fprintf(ctl->metrics, "{\"utc_timestamp_ms\": %llu, \"state\": \"%s\"", (unsigned long long)utc_ms(), state);
	if (vm) {
		fprintf(ctl->metrics, ", \"pvmm\": ");
		launch_stats_json(vm, ctl->metrics, true, NULL);
	}
	fprintf(ctl->metrics, "}\n");
	return fflush(ctl->metrics) ? -1 : 0;
}

/* ---- what the endpoints ask of the VM (fc_ops) ---------------------------- */

static int op_start(void *opaque, const struct vm_options *opt, char *err)
{
	struct api_ctl *ctl = opaque;
	uint64_t one = 1;

	pthread_mutex_lock(&ctl->lock);
	ctl->start_opt = *opt;
	ctl->start_pending = true;
	ctl->start_done = false;
	pthread_mutex_unlock(&ctl->lock);
	if (write(ctl->wake_fd, &one, sizeof(one)) < 0) {
		/* full: the main thread is awake already */
	}
	pthread_mutex_lock(&ctl->lock);
	while (!ctl->start_done)
		pthread_cond_wait(&ctl->cond, &ctl->lock);
	int ret = ctl->start_result;
	if (ret)
		snprintf(err, FC_ERR_MAX, "%s", ctl->start_err);
	pthread_mutex_unlock(&ctl->lock);
	return ret;
}

static int op_pause(void *opaque, char *err)
{
	struct api_ctl *ctl = opaque;
	int ret = -1;

	pthread_mutex_lock(&ctl->lock);
	if (ctl->vm && vm_pause(ctl->vm) == 0)
		ret = 0;
	pthread_mutex_unlock(&ctl->lock);
	if (ret)
		snprintf(err, FC_ERR_MAX, "vm: the VM has stopped");
	else
		log_info("paused (API)");
	return ret;
}

static int op_resume(void *opaque, char *err)
{
	struct api_ctl *ctl = opaque;
	int ret = -1;

	pthread_mutex_lock(&ctl->lock);
	if (ctl->vm && !vm_stopped(ctl->vm)) {
		vm_resume(ctl->vm);
		ret = 0;
	}
	pthread_mutex_unlock(&ctl->lock);
	if (ret)
		snprintf(err, FC_ERR_MAX, "vm: the VM has stopped");
	else
		log_info("resumed (API)");
	return ret;
}

static int op_snapshot_create(void *opaque, const char *state_path, const char *mem_path, char *err)
{
	struct api_ctl *ctl = opaque;
	char why[SNAPSHOT_ERR_MAX];
	int ret = -1;

	pthread_mutex_lock(&ctl->lock);
	if (!ctl->vm)
		snprintf(why, sizeof(why), "the VM has stopped");
	else
		ret = snapshot_create(ctl->vm, state_path, mem_path, why);
	pthread_mutex_unlock(&ctl->lock);
	if (ret)
		snprintf(err, FC_ERR_MAX, "snapshot/create: %s", why);
	return ret;
}

static int op_snapshot_load(void *opaque, const char *state_path, const char *mem_path, bool resume, char *err)
{
	struct api_ctl *ctl = opaque;
	char why[SNAPSHOT_ERR_MAX];
	struct vm_options opt = ctl->fc.base;

	if (ctl->restored) {
		snprintf(err, FC_ERR_MAX, "snapshot/load: a snapshot was loaded already");
		return -1;
	}
	struct snapshot *s = snapshot_open(state_path, mem_path, why);
	if (!s) {
		snprintf(err, FC_ERR_MAX, "snapshot/load: %s", why);
		return -1;
	}
	log_clear_last_error();
	if (snapshot_options(s, &opt)) {
		snprintf(err, FC_ERR_MAX, "snapshot/load: %s", log_last_error());
		snapshot_close(s);
		return -1;
	}
	ctl->restored = s; /* the VM's options point into it: kept to the end */
	/* Firecracker's resume_vm false: the VM is left paused, before its
	 * vCPUs take a step (hook_started pauses it). */
	pthread_mutex_lock(&ctl->lock);
	ctl->start_paused = !resume;
	pthread_mutex_unlock(&ctl->lock);
	if (op_start(opaque, &opt, err) == 0)
		return 0;
	/* Refused before it ran (vm_launch has returned): another load may
	 * follow. The reason is the load's, not an InstanceStart's. */
	const char *prefix = "InstanceStart failed: ";
	if (strncmp(err, prefix, strlen(prefix)) == 0) {
		char why_start[FC_ERR_MAX];
		snprintf(why_start, sizeof(why_start), "%s", err + strlen(prefix));
		snprintf(err, FC_ERR_MAX, "snapshot/load: %.*s", FC_ERR_MAX - 32, why_start);
	}
	pthread_mutex_lock(&ctl->lock);
	ctl->start_paused = false;
	pthread_mutex_unlock(&ctl->lock);
	ctl->restored = NULL;
	snapshot_close(s);
	return -1;
}

static int op_stop(void *opaque, char *err)
{
	struct api_ctl *ctl = opaque;
	bool ok = false;

	pthread_mutex_lock(&ctl->lock);
	if (ctl->vm) {
		/* A clean stop, as Firecracker exits 0 after the guest's reboot. */
		if (vm_stop(ctl->vm, 0))
			log_info("stopped by the API's SendCtrlAltDel");
		ok = true;
	}
	pthread_mutex_unlock(&ctl->lock);
	if (!ok)
		snprintf(err, FC_ERR_MAX, "SendCtrlAltDel: the VM has stopped");
	return ok ? 0 : -1;
}

static int op_flush_metrics(void *opaque, char *err)
{
	struct api_ctl *ctl = opaque;

	pthread_mutex_lock(&ctl->lock);
	const char *state = ctl->fc.state == FC_PAUSED ? "Paused" : ctl->vm ? "Running" : "Not started";
	int ret = write_metrics(ctl, ctl->vm, state);
	pthread_mutex_unlock(&ctl->lock);
	if (ret)
		snprintf(err, FC_ERR_MAX, "FlushMetrics: cannot write the metrics file: %s", strerror(errno));
	return ret;
}

static FILE *open_append(const char *path, const char *what, char *err)
{
	FILE *f = fopen(path, "a");
	if (!f)
		snprintf(err, FC_ERR_MAX, "%s: cannot open '%s': %s", what, path, strerror(errno));
	return f;
}

static int op_set_logger(void *opaque, const char *path, const char *level, char *err)
{
	struct api_ctl *ctl = opaque;
	FILE *f = NULL;
	int lv = LOG_INFO;

	if (path && !(f = open_append(path, "logger", err)))
		return -1;
	if (level && strcmp(level, "Off") == 0)
		lv = LOG_OFF;
	else if (level && strcmp(level, "Error") == 0)
		lv = LOG_ERROR;
	else if (level && strcmp(level, "Warning") == 0)
		lv = LOG_WARN;
	else if (level && strcmp(level, "Debug") == 0)
		lv = LOG_DEBUG;
	log_configure(f, lv);
	if (ctl->log)
		fclose(ctl->log);
	ctl->log = f;
	return 0;
}

static int op_set_metrics(void *opaque, const char *path, char *err)
{
	struct api_ctl *ctl = opaque;
	FILE *f = open_append(path, "metrics", err);
	if (!f)
		return -1;
	pthread_mutex_lock(&ctl->lock);
	if (ctl->metrics)
		fclose(ctl->metrics);
	ctl->metrics = f;
	pthread_mutex_unlock(&ctl->lock);
	return 0;
}

static const struct fc_ops ops = {
	.start = op_start,
	.pause = op_pause,
	.resume = op_resume,
	.stop = op_stop,
	.flush_metrics = op_flush_metrics,
	.set_logger = op_set_logger,
	.set_metrics = op_set_metrics,
	.snapshot_create = op_snapshot_create,
	.snapshot_load = op_snapshot_load,
};

static void handle(void *opaque, const struct http_request *req, int *status, char **body, size_t *len)
{
	struct api_ctl *ctl = opaque;
	struct fc_response resp = { 0 };

	fc_handle(&ctl->fc, req->method, req->method_len, req->path, req->path_len, req->body, req->content_length,
		  &resp);
	*status = resp.status;
	*body = resp.body;
	*len = resp.len;
}

/* ---- vm_launch's hooks (main thread) -------------------------------------- */

static void hook_started(struct vm *vm, void *opaque)
{
	struct api_ctl *ctl = opaque;
	pthread_mutex_lock(&ctl->lock);
	ctl->vm = vm;
	/* No vCPU thread exists yet: the pause completes at once, and the
	 * vCPUs park before their first KVM_RUN. */
	if (ctl->start_paused && vm_pause(vm) == 0)
		log_info("paused (snapshot/load without resume_vm)");
	ctl->start_done = true;
	ctl->start_result = 0;
	pthread_cond_broadcast(&ctl->cond);
	pthread_mutex_unlock(&ctl->lock);
}

static void hook_stopping(struct vm *vm, void *opaque)
{
	struct api_ctl *ctl = opaque;
	(void)vm;
	pthread_mutex_lock(&ctl->lock); /* waits out a pause or flush in progress */
	ctl->vm = NULL;
	pthread_mutex_unlock(&ctl->lock);
}

static void hook_finished(struct vm *vm, int status, void *opaque)
{
	struct api_ctl *ctl = opaque;
	(void)status;
	pthread_mutex_lock(&ctl->lock);
	write_metrics(ctl, vm, "Stopped");
	pthread_mutex_unlock(&ctl->lock);
}

/* Wait for InstanceStart (or a signal); run the VM. The exit status. */
static int serve_until_exit(struct api_ctl *ctl, bool start_now)
{
	const struct launch_hooks hooks = {
		.started = hook_started, .stopping = hook_stopping, .finished = hook_finished, .opaque = ctl,
	};
	struct pollfd pfd = { .fd = ctl->wake_fd, .events = POLLIN };

	for (;;) {
		if (!start_now) {
			uint64_t count;
			install_early_signals();
			while (!early_signal) {
				pthread_mutex_lock(&ctl->lock);
				bool pending = ctl->start_pending;
				pthread_mutex_unlock(&ctl->lock);
				if (pending)
					break;
				poll(&pfd, 1, -1);
				if (read(ctl->wake_fd, &count, sizeof(count)) < 0) {
					/* woken by a signal */
				}
			}
			if (early_signal) {
				log_error("stopped by signal");
				return PVMM_STATUS_SIGNAL;
			}
		}
		start_now = false;
		pthread_mutex_lock(&ctl->lock);
		struct vm_options opt = ctl->start_opt;
		ctl->start_pending = false;
		pthread_mutex_unlock(&ctl->lock);

		log_clear_last_error();
		int status = vm_launch(&opt, &hooks);
		pthread_mutex_lock(&ctl->lock);
		bool ran = ctl->start_done && ctl->start_result == 0;
		if (!ran) {
			/* Refused before the guest ran: the client hears why and may
			 * fix the configuration and start again. */
			const char *why = log_last_error();
			snprintf(ctl->start_err, sizeof(ctl->start_err), "InstanceStart failed: %s",
				 *why ? why : "the VM could not be built");
			ctl->start_result = -1;
			ctl->start_done = true;
			pthread_cond_broadcast(&ctl->cond);
		}
		pthread_mutex_unlock(&ctl->lock);
		if (ran || status == PVMM_STATUS_SIGNAL)
			return status;
		/* vm_launch may have installed the VM's signal handlers. */
		early_signal = 0;
	}
}

int api_main(const struct vm_options *base, const char *sock_path, const char *config_path)
{
	struct api_ctl ctl = { .wake_fd = -1 };
	struct api_server *server = NULL;
	bool start_now = base->image || config_path || base->restore;
	int status = PVMM_STATUS_USAGE;
	char err[FC_ERR_MAX];

	pthread_mutex_init(&ctl.lock, NULL);
	pthread_cond_init(&ctl.cond, NULL);
	fc_api_init(&ctl.fc, base, &ops, &ctl);
	ctl.wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	early_wake_fd = ctl.wake_fd;
	if (ctl.wake_fd < 0) {
		log_error("cannot create an eventfd: %s", strerror(errno));
		status = PVMM_STATUS_HOST;
		goto out;
	}
	if (config_path && config_file_load(&ctl.fc, config_path))
		goto out;
	if (base->restore) {
		/* `pvmm restore --api-sock`: the snapshot's configuration. */
		ctl.start_opt = *base;
		ctl.fc.state = FC_RUNNING;
	} else if (start_now) {
		/* Built before the API thread exists: it only reads them later. */
		if (fc_build_options(&ctl.fc, &ctl.start_opt, err)) {
			log_error("%s", err);
			goto out;
		}
		ctl.fc.state = FC_RUNNING;
	}
	if (sock_path && !(server = api_server_start(sock_path, handle, &ctl))) {
		status = PVMM_STATUS_USAGE;
		goto out;
	}
	status = serve_until_exit(&ctl, start_now);
out:
	api_server_stop(server);
	early_wake_fd = -1;
	if (ctl.wake_fd >= 0)
		close(ctl.wake_fd);
	if (ctl.metrics)
		fclose(ctl.metrics);
	log_configure(NULL, LOG_INFO);
	if (ctl.log)
		fclose(ctl.log);
	fc_api_free(&ctl.fc);
	snapshot_close(ctl.restored);
	pthread_cond_destroy(&ctl.cond);
	pthread_mutex_destroy(&ctl.lock);
	return status;
}
