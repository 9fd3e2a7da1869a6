/*
 * Stopping, pausing and resuming a running VM, from any thread.
 *
 * Stop: one atomic flag, first stop wins. The winner records the status,
 * kicks every vCPU (immediate_exit so a KVM_RUN about to start returns at
 * once, plus SIGUSR2 so a running one, or a blocking host call, returns
 * EINTR) and wakes the supervisor thread (vcpu_run) through an eventfd.
 * All of that is async-signal-safe, so the SIGINT/SIGTERM/--timeout
 * handlers call vm_stop() directly.
 *
 * Pause: vCPU threads park on ctl.cond when they see pause_requested, at
 * the top of the run loop or inside a long host wait (vm_checkpoint());
 * vCPUs still waiting for CPU_START count as parked (as does a vCPU
 * the main thread runs while it pauses the VM itself). Every wait here
 * gives up when the VM stops, so a stop always takes effect.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "iothread.h"
#include "log.h"
#include "stats.h"
#include "vcpu.h"
#include "vm.h"
#include "vmctl.h"

static __thread struct vcpu *current;

struct vcpu *vcpu_current(void)
{
	return current;
}

void vcpu_set_current(struct vcpu *v)
{
	current = v;
}

static void close_cpu_wake_fds(struct vm_ctl *c)
{
	for (unsigned i = 0; i < VM_MAX_CPUS; i++) {
		if (c->cpu_wake_fd[i] >= 0)
			close(c->cpu_wake_fd[i]);
		c->cpu_wake_fd[i] = -1;
	}
}

int vm_ctl_init(struct vm *vm)
{
	struct vm_ctl *c = &vm->ctl;
	pthread_condattr_t attr;
	unsigned cpus = vm->cpu_count ? vm->cpu_count : 1;

	for (unsigned i = 0; i < VM_MAX_CPUS; i++)
		c->cpu_wake_fd[i] = -1;
	c->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->wake_fd < 0) {
		log_error("cannot create the VM's wake-up eventfd: %s", strerror(errno));
		return -1;
	}
	for (unsigned i = 0; i < cpus && i < VM_MAX_CPUS; i++) {
		c->cpu_wake_fd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (c->cpu_wake_fd[i] < 0) {
			log_error("cannot create CPU %u's WAKE eventfd: %s", i, strerror(errno));
			close_cpu_wake_fds(c);
			close(c->wake_fd);
			return -1;
		}
	}
	pthread_mutex_init(&c->lock, NULL);
	/* Timed waits below count in CLOCK_MONOTONIC: the wall clock may jump. */
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&c->cond, &attr);
	pthread_condattr_destroy(&attr);
	__atomic_store_n(&c->ready, true, __ATOMIC_RELEASE);
	return 0;
}

void vm_ctl_destroy(struct vm *vm)
{
	struct vm_ctl *c = &vm->ctl;

	if (!c->ready)
		return;
	c->ready = false;
	close(c->wake_fd);
	close_cpu_wake_fds(c);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
}

void vm_kick_all(struct vm *vm)
{
	for (unsigned i = 0; vm->vcpus && i < vm->cpu_count; i++) {
		struct vcpu *v = &vm->vcpus[i];
		if (v->run)
			__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
		/* The thread stopping the VM is not in KVM_RUN: no signal for it
		 * (saves a signal delivery on every guest exit). */
		if (__atomic_load_n(&v->thread_live, __ATOMIC_ACQUIRE) && !pthread_equal(v->thread, pthread_self()))
			pthread_kill(v->thread, VCPU_KICK_SIGNAL);
	}
	/* A device's console write on the I/O thread blocks like any other
	 * (and may hold the lock a vCPU waits on): interrupt it too. */
	iothread_kick(vm->iothread);
}

static void wake_supervisor(struct vm *vm)
{
	uint64_t one = 1;
	if (__atomic_load_n(&vm->ctl.ready, __ATOMIC_ACQUIRE) && write(vm->ctl.wake_fd, &one, sizeof(one)) < 0) {
		/* a full eventfd is awake already */
	}
}

bool vm_stop(struct vm *vm, int status)
{
	bool expected = false;
	if (!__atomic_compare_exchange_n(&vm->stopped, &expected, true, false, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE))
		return false;
	__atomic_store_n(&vm->status, status, __ATOMIC_RELEASE);
	vm_kick_all(vm);
	wake_supervisor(vm);
	return true;
}

/* pthread_cond_timedwait for up to `ms` on the monotonic clock. */
static void wait_ms(struct vm_ctl *c, unsigned ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_nsec += (long)ms * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&c->cond, &c->lock, &ts);
}

/* Park the calling vCPU thread until the pause is lifted or the VM stops.
 * Caller holds the lock. */
static void park_locked(struct vm *vm)
{
	struct vm_ctl *c = &vm->ctl;

	c->parked++;
	pthread_cond_broadcast(&c->cond);
	while (__atomic_load_n(&c->pause_requested, __ATOMIC_ACQUIRE) && !vm_stopped(vm))
		wait_ms(c, 100); /* vm_stop() cannot signal a condition: recheck */
	c->parked--;
}

static void set_in_call(struct vm *vm, bool in)
{
	pthread_mutex_lock(&vm->ctl.lock);
	current->in_call = in;
	pthread_mutex_unlock(&vm->ctl.lock);
}

bool vm_checkpoint(struct vm *vm)
{
	if (vm_stopped(vm))
		return true;
	if (!current || current->vm != vm)
		return vm_stopped(vm);
	/* Ctrl-Z on a main-thread vCPU (vcpu.c): a snapshot over the API
	 * while it lasts finds this vCPU inside its call, as below. */
	if (vcpu_pause_wanted()) {
		set_in_call(vm, true);
		vcpu_take_pause(vm);
		set_in_call(vm, false);
	}
	if (__atomic_load_n(&vm->ctl.pause_requested, __ATOMIC_ACQUIRE)) {
		pthread_mutex_lock(&vm->ctl.lock);
		current->in_call = true;
		park_locked(vm);
		current->in_call = false;
		pthread_mutex_unlock(&vm->ctl.lock);
	}
	return vm_stopped(vm);
}

bool vm_pause_pending(struct vm *vm)
{
	return current && current->vm == vm &&
	       (__atomic_load_n(&vm->ctl.pause_requested, __ATOMIC_ACQUIRE) || vcpu_pause_wanted());
}

int vm_pause(struct vm *vm)
{
	struct vm_ctl *c = &vm->ctl;

	pthread_mutex_lock(&c->lock);
	if (c->paused || vm_stopped(vm)) {
		pthread_mutex_unlock(&c->lock);
		return vm_stopped(vm) ? -1 : 0;
	}
	__atomic_store_n(&c->pause_requested, true, __ATOMIC_RELEASE);
	while (c->parked < c->threads && !vm_stopped(vm)) {
		vm_kick_all(vm);
		wait_ms(c, 20);
	}
	if (vm_stopped(vm)) {
		__atomic_store_n(&c->pause_requested, false, __ATOMIC_RELEASE);
		pthread_cond_broadcast(&c->cond);
		pthread_mutex_unlock(&c->lock);
		return -1;
	}
	c->paused_at_ns = stats_now_ns();
	c->paused = true;
	pthread_mutex_unlock(&c->lock);

	iothread_pause(vm->iothread);
	for (unsigned i = 0; i < c->hook_count; i++)
		if (c->hooks[i].quiesce)
			c->hooks[i].quiesce(c->hooks[i].opaque);
	if (vm_stopped(vm)) { /* while the I/O thread finished its handler */
		vm_resume(vm);
		return -1;
	}
	return 0;
}

void vm_resume(struct vm *vm)
{
	struct vm_ctl *c = &vm->ctl;

	pthread_mutex_lock(&c->lock);
	bool paused = c->paused;
	pthread_mutex_unlock(&c->lock);
	if (!paused)
		return;
	for (unsigned i = c->hook_count; i-- > 0;)
		if (c->hooks[i].resume)
			c->hooks[i].resume(c->hooks[i].opaque);
	iothread_resume(vm->iothread);

	pthread_mutex_lock(&c->lock);
	/* Guest time stands still while paused: its zero moves forward. */
	uint64_t paused_ns = stats_now_ns() - c->paused_at_ns;
	__atomic_fetch_add(&vm->mono_base_ns, paused_ns, __ATOMIC_ACQ_REL);
	c->paused = false;
	__atomic_store_n(&c->pause_requested, false, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

int vm_add_hook(struct vm *vm, void (*quiesce)(void *), void (*resume)(void *), void *opaque)
{
	struct vm_ctl *c = &vm->ctl;

	if (c->hook_count >= VM_MAX_HOOKS)
		return -1;
	c->hooks[c->hook_count++] = (struct vm_hook){ .quiesce = quiesce, .resume = resume, .opaque = opaque };
	return 0;
}

/* ---- used by the vCPU threads (vcpu.c) --------------------------------- */

void vmctl_thread_enter(struct vm *vm)
{
	pthread_mutex_lock(&vm->ctl.lock);
	vm->ctl.threads++;
	pthread_mutex_unlock(&vm->ctl.lock);
}

void vmctl_thread_leave(struct vm *vm)
{
	pthread_mutex_lock(&vm->ctl.lock);
	vm->ctl.threads--;
	pthread_cond_broadcast(&vm->ctl.cond);
	pthread_mutex_unlock(&vm->ctl.lock);
}

void vmctl_park(struct vm *vm)
{
	pthread_mutex_lock(&vm->ctl.lock);
	park_locked(vm);
	pthread_mutex_unlock(&vm->ctl.lock);
}

bool vmctl_wait_start(struct vcpu *v)
{
	struct vm *vm = v->vm;
	struct vm_ctl *c = &vm->ctl;

	pthread_mutex_lock(&c->lock);
	c->parked++;
	pthread_cond_broadcast(&c->cond);
	while ((v->state == VCPU_WAITING || __atomic_load_n(&c->pause_requested, __ATOMIC_ACQUIRE)) &&
	       !vm_stopped(vm))
		wait_ms(c, 100);
	c->parked--;
	if (v->state == VCPU_STARTING)
		v->state = VCPU_RUNNING;
	pthread_mutex_unlock(&c->lock);
	return !vm_stopped(vm);
}

int vmctl_request_start(struct vm *vm, unsigned cpu, uint64_t rip, uint64_t rsp, uint64_t rdi)
{
	struct vm_ctl *c = &vm->ctl;
	struct vcpu *v = &vm->vcpus[cpu];
	int ret = 0;

	pthread_mutex_lock(&c->lock);
	if (v->state != VCPU_WAITING) {
		ret = -1;
	} else {
		v->start_rip = rip;
		v->start_rsp = rsp;
		v->start_rdi = rdi;
		v->state = VCPU_STARTING;
		pthread_cond_broadcast(&c->cond);
	}
	pthread_mutex_unlock(&c->lock);
	return ret;
}
