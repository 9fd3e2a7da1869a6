/*
 * The I/O thread: epoll over the devices' eventfds (and stdin), calling
 * each fd's handler. Stopping is an eventfd of its own, so the loop never
 * needs a timeout.
 *
 * Watches live in a list under t->lock; epoll events carry a pointer to
 * the watch. An unwatched watch is marked dead and parked on a graveyard
 * list that the loop frees only between epoll_wait batches, so a pointer
 * still sitting in the current batch never dangles.
 */
#include "iothread.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "syscall_filter.h"
#include "status.h"

#define BATCH 32

struct watch {
	int fd;
	io_handler_fn fn;
	void *opaque;
	bool dead;
	struct watch *next;
};

struct iothread {
	int epfd, stopfd, pausefd;
	pthread_t thread;
	bool started;
	bool joined;
	enum sysfilter_role role; /* the filter the loop loads */
	struct thread_cpu cpu;   /* written by the thread as it ends; read after the join */
	bool stopping;           /* atomic: set by iothread_destroy */
	pthread_mutex_t lock;    /* guards the lists and the pause state */
	pthread_cond_t cond;     /* pause state changed */
	bool pause_wanted;       /* iothread_pause() until iothread_resume(); atomic stores */
	bool paused;             /* the loop is parked (dispatching nothing) */
	struct watch *watches;   /* live */
	struct watch *graveyard; /* unwatched, freed by the loop between batches */
};

static void free_list(struct watch *w)
{
	while (w) {
		struct watch *next = w->next;
		free(w);
		w = next;
	}
}

struct iothread *iothread_create(void)
{
	struct iothread *t = calloc(1, sizeof(*t));
	if (!t) {
		log_error("out of memory creating the I/O thread");
		return NULL;
	}
	t->role = SECCOMP_ROLE_IO;
	t->epfd = epoll_create1(EPOLL_CLOEXEC);
	t->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		t->pausefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	/* data.ptr NULL marks the stop event, &t->pausefd the pause event. */
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	struct epoll_event pev = { .events = EPOLLIN, .data.ptr = &t->pausefd };
	if (t->epfd < 0 || t->stopfd < 0 || t->pausefd < 0 || epoll_ctl(t->epfd, EPOLL_CTL_ADD, t->stopfd, &ev) < 0 ||
	    epoll_ctl(t->epfd, EPOLL_CTL_ADD, t->pausefd, &pev) < 0) {
		log_error("cannot create the I/O thread's event loop: %s", strerror(errno));
		if (t->epfd >= 0)
			close(t->epfd);
		if (t->stopfd >= 0)
			close(t->stopfd);
		if (t->pausefd >= 0)
			close(t->pausefd);
		free(t);
		return NULL;
	}
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->cond, NULL);
	return t;
}

int iothread_watch(struct iothread *t, int fd, uint32_t events, io_handler_fn fn, void *opaque)
{
	if (!t || fd < 0 || !fn)
		return -EINVAL;
	struct watch *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	*w = (struct watch){ .fd = fd, .fn = fn, .opaque = opaque };

	pthread_mutex_lock(&t->lock);
	for (struct watch *o = t->watches; o; o = o->next) {
		if (o->fd == fd) {
			pthread_mutex_unlock(&t->lock);
			free(w);
			return -EEXIST;
		}
	}
	struct epoll_event ev = { .events = events, .data.ptr = w };
	if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int err = errno;
		pthread_mutex_unlock(&t->lock);
		free(w);
		return -err;
	}
	w->next = t->watches;
	t->watches = w;
	pthread_mutex_unlock(&t->lock);
	return 0;
}

int iothread_unwatch(struct iothread *t, int fd)
{
	if (!t)
		return 0;
	pthread_mutex_lock(&t->lock);
	for (struct watch **pw = &t->watches; *pw; pw = &(*pw)->next) {
		struct watch *w = *pw;
		if (w->fd != fd)
			continue;
		/* May fail if the owner closed fd already; epoll forgot it then. */
		epoll_ctl(t->epfd, EPOLL_CTL_DEL, fd, NULL);
		w->dead = true;
		*pw = w->next;
		w->next = t->graveyard;
		t->graveyard = w;
		pthread_mutex_unlock(&t->lock);
		return 0;
	}
	pthread_mutex_unlock(&t->lock);
	return -ENOENT;
}

void iothread_kick(struct iothread *t)
{
	if (t && __atomic_load_n(&t->started, __ATOMIC_ACQUIRE) && !__atomic_load_n(&t->joined, __ATOMIC_ACQUIRE))
		pthread_kill(t->thread, SIGUSR1);
}

bool iothread_stopping(const struct iothread *t)
{
	return !t || __atomic_load_n(&t->stopping, __ATOMIC_ACQUIRE);
}

bool iothread_busy_ok(const struct iothread *t)
{
	return !t || (!__atomic_load_n(&t->pause_wanted, __ATOMIC_ACQUIRE) &&
		      !__atomic_load_n(&t->stopping, __ATOMIC_ACQUIRE));
}

/* The loop's last act: its own CPU time, for --stats (RUSAGE_THREAD and
 * CLOCK_THREAD_CPUTIME_ID only read the calling thread). */
static void *finish(struct iothread *t)
{
	stats_thread_cpu(&t->cpu);
	return NULL;
}

/* The pause event: consume it and park until resumed or stopped. */
static void park(struct iothread *t)
{
	uint64_t count;
	if (read(t->pausefd, &count, sizeof(count)) < 0) {
		/* already consumed */
	}
	pthread_mutex_lock(&t->lock);
	if (t->pause_wanted && !iothread_stopping(t)) {
		t->paused = true;
		pthread_cond_broadcast(&t->cond);
		while (t->pause_wanted && !iothread_stopping(t))
			pthread_cond_wait(&t->cond, &t->lock);
		t->paused = false;
		pthread_cond_broadcast(&t->cond);
	}
	pthread_mutex_unlock(&t->lock);
}

static void *loop(void *arg)
{
	struct iothread *t = arg;
	struct epoll_event evs[BATCH];

	/* Set-up is over (the devices' descriptors are open): from here on
	 * only the I/O role's calls (seccomp.c). */
	if (sysfilter_enter(t->role, false))
		_exit(PVMM_STATUS_HOST);
	for (;;) {
		pthread_mutex_lock(&t->lock);
		free_list(t->graveyard);
		t->graveyard = NULL;
		pthread_mutex_unlock(&t->lock);

		int n = epoll_wait(t->epfd, evs, BATCH, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_error("I/O thread: epoll_wait failed: %s; device I/O stops", strerror(errno));
			return finish(t);
		}
		for (int i = 0; i < n; i++) {
			struct watch *w = evs[i].data.ptr;
			if (!w)
				return finish(t); /* stop requested */
			if ((void *)w == &t->pausefd) {
				park(t);
				continue;
			}
			pthread_mutex_lock(&t->lock);
			bool dead = w->dead;
			pthread_mutex_unlock(&t->lock);
			if (!dead)
				w->fn(w->opaque, evs[i].events);
		}
	}
}

static void on_wakeup(int sig)
{
	(void)sig; /* only here to make a blocking call return EINTR */
}

void iothread_set_role(struct iothread *t, enum sysfilter_role role)
{
	t->role = role;
}

int iothread_start(struct iothread *t)
{
	sigset_t all, old;
	struct sigaction sa = { .sa_handler = on_wakeup }; /* no SA_RESTART */

	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR1, &sa, NULL) < 0)
		return -errno;
	/* The thread inherits this mask: SIGINT, SIGTERM and the --timeout
	 * SIGALRM must reach the vCPU thread, whose KVM_RUN they interrupt. */
	sigfillset(&all);
	sigdelset(&all, SIGUSR1);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int ret = pthread_create(&t->thread, NULL, loop, t);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret) {
		log_error("cannot start the I/O thread: %s", strerror(ret));
		return -ret;
	}
	__atomic_store_n(&t->started, true, __ATOMIC_RELEASE);
	return 0;
}

void iothread_pause(struct iothread *t)
{
	uint64_t one = 1;

	if (!t || !t->started || t->joined)
		return;
	pthread_mutex_lock(&t->lock);
	__atomic_store_n(&t->pause_wanted, true, __ATOMIC_RELEASE);
	if (write(t->pausefd, &one, sizeof(one)) < 0)
		log_error("cannot pause the I/O thread: %s", strerror(errno));
	/* The handler under way finishes first (a console write gives up
	 * once the VM stops, so this wait ends). */
	while (!t->paused && !iothread_stopping(t))
		pthread_cond_wait(&t->cond, &t->lock);
	pthread_mutex_unlock(&t->lock);
}

void iothread_resume(struct iothread *t)
{
	if (!t)
		return;
	pthread_mutex_lock(&t->lock);
	__atomic_store_n(&t->pause_wanted, false, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&t->cond);
	pthread_mutex_unlock(&t->lock);
}

bool iothread_paused(struct iothread *t)
{
	if (!t)
		return false;
	pthread_mutex_lock(&t->lock);
	bool paused = t->paused;
	pthread_mutex_unlock(&t->lock);
	return paused;
}

void iothread_stop(struct iothread *t, struct thread_cpu *cpu)
{
	if (!t) {
		if (cpu)
			*cpu = (struct thread_cpu){ 0 };
		return;
	}
	pthread_mutex_lock(&t->lock);
	__atomic_store_n(&t->stopping, true, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&t->cond); /* a paused loop or pauser wakes up */
	pthread_mutex_unlock(&t->lock);
	if (t->started && !t->joined) {
		uint64_t one = 1;
		if (write(t->stopfd, &one, sizeof(one)) < 0)
			log_error("cannot stop the I/O thread: %s", strerror(errno));
		/* A handler may sit in a blocking write; poke it until it
		 * notices iothread_stopping() and the loop sees the stop event. */
		for (;;) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 50 * 1000 * 1000;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			int ret = pthread_timedjoin_np(t->thread, NULL, &ts);
			if (ret != ETIMEDOUT)
				break;
			pthread_kill(t->thread, SIGUSR1);
		}
		__atomic_store_n(&t->joined, true, __ATOMIC_RELEASE);
	}
	if (cpu)
		*cpu = t->cpu;
}

void iothread_destroy(struct iothread *t)
{
	if (!t)
		return;
	iothread_stop(t, NULL);
	free_list(t->watches);
	free_list(t->graveyard);
	close(t->epfd);
	close(t->stopfd);
	close(t->pausefd);
	pthread_cond_destroy(&t->cond);
	pthread_mutex_destroy(&t->lock);
	free(t);
}
