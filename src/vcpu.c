/*
 * The vCPUs: one thread each running KVM_RUN and dispatching its exits,
 * and the main thread supervising them.
 *
 * The main thread starts every vCPU thread (secondaries wait for the
 * guest's CPU_START), then sleeps on the VM's wake-up eventfd until the VM
 * stops or Ctrl-Z asks for a pause. The stop signals (SIGINT, SIGTERM,
 * SIGHUP, SIGALRM for --timeout) and SIGTSTP are blocked in every other
 * thread, so the main thread takes them; their handlers only call async-signal-safe
 * vm_stop() or set a flag. vCPU threads take VCPU_KICK_SIGNAL, which does
 * nothing but make KVM_RUN and blocking calls return EINTR.
 *
 * A VM with one vCPU needs no supervisor to wait for: the main thread runs
 * CPU 0 itself (no thread to create and join at start-up and exit). The
 * signals then interrupt its KVM_RUN or blocking call directly, the stop
 * handlers' immediate_exit covers a KVM_RUN about to start, and a Ctrl-Z
 * is taken at the top of the run loop or at vm_checkpoint() (the long
 * host waits), where the thread pauses the VM around itself.
 */
#include "vcpu.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/time.h>
#include <time.h>

#include "cpu.h"
#include "linux_emulate.h"
#include "log.h"
#include "pvmmu.h"
#include "report.h"
#include "syscall_filter.h"
#include "status.h"
#include "term.h"
#include "vmctl.h"

static struct vm *signal_vm;          /* the VM the handlers stop */
static volatile sig_atomic_t stop_signal; /* the signal whose stop won, or 0 */
static volatile sig_atomic_t tstp_pending;
/* Ctrl-A z on a raw console: a pause asked for (the main thread takes it
 * as it takes Ctrl-Z), and, while it lasts, the resume. */
static volatile sig_atomic_t console_pause_pending, console_paused, console_resume;
static double timeout_seconds;
static struct vcpu *volatile main_vcpu; /* the vCPU the main thread runs, or NULL */

/* A stopped one-vCPU VM: SIGALRM every REKICK_MS until vcpu_run() is
 * done, each one kicking every thread again. A kick that lands just
 * before a thread enters a blocking console write (console_out.c) is
 * lost, and then nobody kicks again: the main thread is the vCPU, and it
 * may be waiting for the device lock that very writer holds. (With
 * several vCPUs the main thread's join loop re-kicks.) Main thread only:
 * setitimer is in its system call filter. */
#define REKICK_MS 20

static void arm_rekick(void)
{
	struct itimerval it = { .it_interval = { 0, REKICK_MS * 1000 }, .it_value = { 0, REKICK_MS * 1000 } };
	setitimer(ITIMER_REAL, &it, NULL);
}

static void on_stop_signal(int sig)
{
	struct vm *vm = signal_vm;
	if (!vm)
		return;
	if (vm_stop(vm, sig == SIGALRM ? PVMM_STATUS_TIMEOUT : PVMM_STATUS_SIGNAL))
		stop_signal = sig;
	else
		vm_kick_all(vm); /* stopped already: a re-kick (or a second signal) */
	if (main_vcpu)
		arm_rekick();
}

/* Wake the main thread for a pause request (async-signal-safe). */
static void wake_main_for_pause(void)
{
	uint64_t one = 1;
	/* The main thread's own vCPU: a KVM_RUN about to start returns at once. */
	if (main_vcpu && main_vcpu->run)
		__atomic_store_n(&main_vcpu->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	if (signal_vm && signal_vm->ctl.ready && write(signal_vm->ctl.wake_fd, &one, sizeof(one)) < 0) {
		/* already awake */
	}
}

static void on_tstp(int sig)
{
	(void)sig;
	tstp_pending = 1;
	wake_main_for_pause();
}

void vcpu_console_pause(struct vm *vm)
{
	(void)vm;
	if (console_paused) {
		console_resume = 1; /* the paused main thread waits for this */
		return;
	}
	console_pause_pending = 1;
	wake_main_for_pause();
	/* Read on another thread while the main one runs CPU 0 (perhaps in
	 * a long host wait): interrupt it, as Ctrl-Z's signal would. */
	struct vcpu *m = main_vcpu;
	if (m && !pthread_equal(m->thread, pthread_self()))
		pthread_kill(m->thread, VCPU_KICK_SIGNAL);
}

/* Continued after a stop (fg, or SIGCONT after SIGSTOP): the terminal
 * raw again, if it was. */
static void on_cont(int sig)
{
	(void)sig;
	term_reraw();
}

/* The terminal changed size: tell the console devices (machine.c's
 * eventfd, watched on the I/O thread). */
static void on_winch(int sig)
{
	uint64_t one = 1;
	(void)sig;
	if (signal_vm && signal_vm->console_resize_open &&
	    write(signal_vm->console_resize_fd, &one, sizeof(one)) < 0) {
		/* saturated: the reader is woken anyway */
	}
}

static void on_kick(int sig)
{
	(void)sig; /* here to make KVM_RUN and blocking calls return EINTR */
	/* Another thread stopped the VM: the main thread's vCPU re-kicks. */
	struct vcpu *m = main_vcpu;
	if (m && signal_vm && vm_stopped(signal_vm) && pthread_equal(m->thread, pthread_self()))
		arm_rekick();
}

/* The signals only the main thread takes. */
static void supervisor_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGALRM);
	sigaddset(set, SIGTSTP);
	sigaddset(set, SIGWINCH);
	sigaddset(set, SIGCONT);
}

static int arm_timer(double seconds)
{
	struct itimerval it = { 0 };
	it.it_value.tv_sec = (time_t)seconds;
	it.it_value.tv_usec = (suseconds_t)((seconds - (double)it.it_value.tv_sec) * 1e6);
	if (seconds > 0 && it.it_value.tv_sec == 0 && it.it_value.tv_usec == 0)
		it.it_value.tv_usec = 1;
	return setitimer(ITIMER_REAL, &it, NULL);
}

int vcpu_install_stops(struct vm *vm, double timeout_s)
{
	/* No SA_RESTART: KVM_RUN, ppoll and write must return EINTR. */
	struct sigaction stop = { .sa_handler = on_stop_signal };
	struct sigaction tstp = { .sa_handler = on_tstp };
	struct sigaction kick = { .sa_handler = on_kick };
	struct sigaction winch = { .sa_handler = on_winch, .sa_flags = SA_RESTART };
	struct sigaction cont = { .sa_handler = on_cont, .sa_flags = SA_RESTART };

	sigemptyset(&winch.sa_mask);
	sigemptyset(&cont.sa_mask);
	sigemptyset(&stop.sa_mask);
	sigemptyset(&tstp.sa_mask);
	sigemptyset(&kick.sa_mask);
	signal_vm = vm;
	/* SIGHUP (the terminal or the session went away) stops the VM like
	 * SIGTERM, with the same report, rather than killing pvmm silently. */
	if (sigaction(SIGINT, &stop, NULL) || sigaction(SIGTERM, &stop, NULL) || sigaction(SIGHUP, &stop, NULL) ||
	    sigaction(SIGALRM, &stop, NULL) ||
	    sigaction(SIGTSTP, &tstp, NULL) || sigaction(VCPU_KICK_SIGNAL, &kick, NULL) ||
	    sigaction(SIGWINCH, &winch, NULL) || sigaction(SIGCONT, &cont, NULL))
		return -1;
	/* A console reader that goes away must not kill the monitor. */
	signal(SIGPIPE, SIG_IGN);

	timeout_seconds = timeout_s;
	return timeout_s > 0 ? arm_timer(timeout_s) : 0;
}

/* "CPU n: " in a VM with several, so a report says which one failed. */
static const char *cpu_tag(const struct vcpu *v, char buf[16])
{
	if (v->vm->cpu_count > 1)
		snprintf(buf, 16, "CPU %u: ", v->index);
	else
		buf[0] = '\0';
	return buf;
}

/* Port I/O: whoever claims the port on the bus (the para-API, the UART,
 * the IDE disk), or a stray access. */
static void handle_io(struct vcpu *v)
{
	struct vm *vm = v->vm;
	struct kvm_run *run = v->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	unsigned port = run->io.port;
	bool is_write = run->io.direction == KVM_EXIT_IO_OUT;
	uint64_t bytes = (uint64_t)run->io.size * run->io.count;

	/* KVM puts the data inside the run area; never trust it blindly. */
	if (run->io.data_offset + bytes > vm->run_size) {
		log_error("KVM reported port I/O data outside the run area; stopping the VM");
		vm_stop(vm, PVMM_STATUS_HOST);
		return;
	}
	if (pio_dispatch(&vm->pio, (uint16_t)port, is_write, data, run->io.size, run->io.count))
		return;

	/* No device lives there: reads see a floating bus, writes vanish. */
	/* A stock kernel probes many legacy ports: not worth a warning. */
	uint64_t strays = STATS_ADD(vm->stats.stray_io, 1);
	if (vm->kernel_guest) {
		if (strays < 8)
			log_debug("guest %s port %#x, which has no device; ignored", is_write ? "wrote" : "read", port);
	} else if (strays < 8)
		log_warn("guest %s port %#x, which has no device; ignored", is_write ? "wrote" : "read", port);
	if (!is_write)
		memset(data, 0xff, bytes);
}

/* Stop the VM for a failure of this vCPU; only the first stop reports. */
static void fail(struct vcpu *v, int status, bool registers, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void fail(struct vcpu *v, int status, bool registers, const char *fmt, ...)
{
	char msg[256], tag[16];
	va_list ap;

	if (vm_stopped(v->vm))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_error("%s%s", cpu_tag(v, tag), msg);
	if (registers)
		report_cpu_state(v);
	vm_stop(v->vm, status);
}

static void handle_exit(struct vcpu *v)
{
	struct vm *vm = v->vm;
	struct kvm_run *run = v->run;

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		handle_io(v);
		break;
	case KVM_EXIT_MMIO:
		if (run->mmio.len >= 1 && run->mmio.len <= sizeof(run->mmio.data) &&
		    mmio_dispatch(&vm->mmio, run->mmio.phys_addr, run->mmio.is_write, run->mmio.data, run->mmio.len))
			break;
		fail(v, PVMM_STATUS_FAULT, true,
		     "guest %s %u bytes at %#llx, which is neither RAM nor a device; stopping the VM",
		     run->mmio.is_write ? "wrote" : "read", run->mmio.len, (unsigned long long)run->mmio.phys_addr);
		break;
	case KVM_EXIT_HLT:
		fail(v, PVMM_STATUS_FAULT, true, "guest halted with interrupts off, so nothing can wake it; "
		     "guests wait with the para-API poll call");
		break;
	case KVM_EXIT_SHUTDOWN:
		fail(v, PVMM_STATUS_TRIPLE_FAULT, true,
		     "guest triple-faulted (an exception while delivering an exception; is its IDT loaded?)");
		break;
	case KVM_EXIT_INTERNAL_ERROR:
		/* A kernel's int3 or iret where KVM cannot emulate it. */
		if (vm->kernel_guest && linux_emulate_exit(v))
			break;
		if (!vm_stopped(vm)) {
			report_internal_error(v);
			vm_stop(vm, PVMM_STATUS_EMULATION);
		}
		break;
	case KVM_EXIT_FAIL_ENTRY:
		fail(v, PVMM_STATUS_HOST, true, "KVM could not enter the guest (hardware entry failure reason %#llx)",
		     (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		break;
	case KVM_EXIT_INTR:
		break; /* a signal: a kick; the loop rechecks stop and pause */
	default:
		fail(v, PVMM_STATUS_HOST, true, "unexpected KVM exit reason %u; stopping the VM", run->exit_reason);
		break;
	}
}

static void pause_for_tstp(struct vm *vm);

static void run_loop(struct vcpu *v)
{
	struct vm *vm = v->vm;
	struct kvm_run *run = v->run;

	for (;;) {
		/* Clear first, then check: a stop or pause that comes after the
		 * check sets immediate_exit again, so KVM_RUN returns at once. */
		__atomic_store_n(&run->immediate_exit, 0, __ATOMIC_SEQ_CST);
		if (vm_stopped(vm))
			break;
		if (v == main_vcpu && (tstp_pending || console_pause_pending)) {
			vcpu_take_pause(vm);
			continue;
		}
		if (__atomic_load_n(&vm->ctl.pause_requested, __ATOMIC_ACQUIRE)) {
			vmctl_park(vm);
			continue;
		}
		/* The PV MMU: wait out another CPU's batch, load a new root. */
		int mmu = pvmmu_enter(v);
		if (mmu > 0)
			continue;
		if (mmu < 0)
			break;
		int ran = ioctl(v->fd, KVM_RUN, 0);
		pvmmu_leave(v);
		if (ran < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			int err = errno;
			char where[128];
			report_insn_summary(v, where, sizeof(where));
			fail(v, PVMM_STATUS_HOST, false, "KVM_RUN failed %s: %s", where, strerror(err));
			break;
		}
		unsigned reason = run->exit_reason;
		v->stats.exits[reason < STATS_EXIT_REASONS ? reason : 0]++;
		handle_exit(v);
	}
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	struct vm *vm = v->vm;

	vcpu_set_current(v);
	/* A thread of its own: the vCPU role's filter (the main thread's
	 * vCPU 0 runs under the main role's, loaded in vcpu_run). */
	if (!v->stats.main_thread && sysfilter_enter(SECCOMP_ROLE_VCPU, false)) {
		vm_stop(vm, PVMM_STATUS_HOST);
		vmctl_thread_leave(vm);
		return NULL;
	}
	/* Secondaries wait, counted as parked, for the guest to start them.
	 * A kernel's start theirs with INIT/SIPI: they go into KVM_RUN at
	 * once, where KVM holds them until then (and a kick still stops them). */
	if (v->index == 0 || vm->kernel_guest ||
	    (vmctl_wait_start(v) && (v->restored_running || cpu_boot_secondary(v) == 0))) {
		stats_vcpu_begin(&v->stats);
		run_loop(v);
		stats_vcpu_end(&v->stats);
	} else if (!vm_stopped(vm)) {
		vm_stop(vm, PVMM_STATUS_HOST); /* cpu_boot_secondary() said why */
	}
	vmctl_thread_leave(vm);
	return NULL;
}

#define VCPU_STACK_SIZE (1u << 20)

static int start_threads(struct vm *vm)
{
	sigset_t block, old;

	/* Threads inherit the mask: the supervisor's signals stay with it. */
	supervisor_signals(&block);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	/* A vCPU thread runs the exit handlers and reports, nothing deep:
	 * 1 MiB of stack instead of the default 8 costs less to map and to
	 * give back at exit (start-up time is a benchmark target). */
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, VCPU_STACK_SIZE);
	for (unsigned i = 0; i < vm->cpu_count; i++) {
		struct vcpu *v = &vm->vcpus[i];
		vmctl_thread_enter(vm);
		int ret = pthread_create(&v->thread, &attr, vcpu_thread, v);
		if (ret) {
			vmctl_thread_leave(vm);
			pthread_sigmask(SIG_SETMASK, &old, NULL);
			pthread_attr_destroy(&attr);
			log_error("cannot start the thread of CPU %u: %s", i, strerror(ret));
			vm_stop(vm, PVMM_STATUS_HOST);
			return -1;
		}
		__atomic_store_n(&v->thread_live, true, __ATOMIC_RELEASE);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	return 0;
}

/* Join every vCPU thread, kicking again until each has left: a kick that
 * landed just before a blocking call began would otherwise be lost. */
static void join_threads(struct vm *vm)
{
	for (unsigned i = 0; i < vm->cpu_count; i++) {
		struct vcpu *v = &vm->vcpus[i];
		if (!v->thread_live)
			continue;
		for (;;) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 50 * 1000 * 1000;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			if (pthread_timedjoin_np(v->thread, NULL, &ts) != ETIMEDOUT)
				break;
			vm_kick_all(vm);
			pthread_mutex_lock(&vm->ctl.lock);
			pthread_cond_broadcast(&vm->ctl.cond);
			pthread_mutex_unlock(&vm->ctl.lock);
		}
		__atomic_store_n(&v->thread_live, false, __ATOMIC_RELEASE);
	}
}

/* Ctrl-Z: pause the VM, stop the process, resume when continued. The
 * --timeout clock does not run meanwhile either. */
static void pause_for_tstp(struct vm *vm)
{
	struct itimerval left = { 0 }, off = { 0 };

	if (vm_pause(vm) < 0)
		return; /* stopped meanwhile */
	if (timeout_seconds > 0)
		setitimer(ITIMER_REAL, &off, &left);
	log_info("paused (SIGCONT or fg resumes)");
	term_restore(); /* the shell gets its terminal back */
	raise(SIGSTOP);
	term_reraw();
	log_info("resumed");
	if (timeout_seconds > 0 && (left.it_value.tv_sec || left.it_value.tv_usec))
		setitimer(ITIMER_REAL, &left, NULL);
	vm_resume(vm);
}

/* Ctrl-A z: pause the VM until the next Ctrl-A z (or a stop); what
 * else is typed meanwhile waits for the guest. The --timeout clock
 * stands still. */
static void pause_for_console(struct vm *vm)
{
	struct itimerval left = { 0 }, off = { 0 };

	if (vm_pause(vm) < 0)
		return;
	if (timeout_seconds > 0)
		setitimer(ITIMER_REAL, &off, &left);
	console_resume = 0;
	console_paused = 1;
	log_info("paused (Ctrl-A z resumes)");
	/* term.c's input thread takes the next Ctrl-A z (or x); a stop
	 * signal interrupts the wait. */
	while (!vm_stopped(vm) && !console_resume && !tstp_pending)
		poll(NULL, 0, 100);
	console_paused = 0;
	if (!vm_stopped(vm))
		log_info("resumed");
	if (timeout_seconds > 0 && (left.it_value.tv_sec || left.it_value.tv_usec))
		setitimer(ITIMER_REAL, &left, NULL);
	vm_resume(vm);
}

/* The main thread: whichever pause was asked for. */
static void take_pauses(struct vm *vm)
{
	if (console_pause_pending && !vm_stopped(vm)) {
		console_pause_pending = 0;
		pause_for_console(vm);
	}
	if (tstp_pending && !vm_stopped(vm)) {
		tstp_pending = 0;
		pause_for_tstp(vm);
	}
}

bool vcpu_pause_wanted(void)
{
	return (tstp_pending || console_pause_pending) && main_vcpu && vcpu_current() == main_vcpu;
}

void vcpu_take_pause(struct vm *vm)
{
	if ((!tstp_pending && !console_pause_pending) || vcpu_current() != main_vcpu || !main_vcpu)
		return;
	if (vm_stopped(vm)) {
		tstp_pending = console_pause_pending = 0;
		return;
	}
	/* This thread is the vCPU vm_pause() waits for: out of KVM_RUN, it
	 * counts as parked while it pauses. */
	pthread_mutex_lock(&vm->ctl.lock);
	vm->ctl.parked++;
	pthread_mutex_unlock(&vm->ctl.lock);
	take_pauses(vm);
	pthread_mutex_lock(&vm->ctl.lock);
	vm->ctl.parked--;
	pthread_mutex_unlock(&vm->ctl.lock);
}

/* A kernel's secondary vCPU the kernel never sent INIT/SIPI: still at
 * the reset vector (f000:fff0), where KVM created it. After a SIPI it
 * runs from vector:0000 instead. */
static bool never_started(const struct vcpu *v)
{
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	return v->index > 0 && ioctl(v->fd, KVM_GET_REGS, &regs) == 0 && ioctl(v->fd, KVM_GET_SREGS, &sregs) == 0 &&
	       regs.rip == 0xfff0 && sregs.cs.selector == 0xf000;
}
/* One vCPU: the main thread runs it and supervises itself. */
static void run_on_main_thread(struct vm *vm)
{
	struct vcpu *v = &vm->vcpus[0];

	v->thread = pthread_self();
	v->stats.main_thread = true;
	vmctl_thread_enter(vm);
	main_vcpu = v;
	/* Kicks from other threads (the I/O thread's vm_stop) reach it. */
	__atomic_store_n(&v->thread_live, true, __ATOMIC_RELEASE);
	vcpu_thread(v);
	__atomic_store_n(&v->thread_live, false, __ATOMIC_RELEASE);
	main_vcpu = NULL;
	vcpu_set_current(NULL);
	/* No more re-kicks (iothread_stop() repeats its own). */
	struct itimerval off = { 0 };
	setitimer(ITIMER_REAL, &off, NULL);
}

int vcpu_run(struct vm *vm)
{
	/* Every thread exists now; the main thread's filter last (threads
	 * created after it would inherit it). */
	if (vm->cpu_count == 1) {
		if (sysfilter_enter(SECCOMP_ROLE_MAIN, true))
			vm_stop(vm, PVMM_STATUS_HOST);
		else
			run_on_main_thread(vm);
	} else if (start_threads(vm) == 0) {
		if (sysfilter_enter(SECCOMP_ROLE_MAIN, false))
			vm_stop(vm, PVMM_STATUS_HOST);
		struct pollfd pfd = { .fd = vm->ctl.wake_fd, .events = POLLIN };
		while (!vm_stopped(vm)) {
			uint64_t count;
			poll(&pfd, 1, -1); /* a signal handler interrupts or writes it */
			if (read(vm->ctl.wake_fd, &count, sizeof(count)) < 0) {
				/* nothing to consume: woken by a signal */
			}
			take_pauses(vm);
		}
	}
	join_threads(vm);
	stats_sum_vcpus(&vm->stats);

	int status = __atomic_load_n(&vm->status, __ATOMIC_ACQUIRE);
	if (stop_signal == SIGALRM)
		log_error("guest still running after --timeout %g s; stopped it", timeout_seconds);
	else if (stop_signal)
		log_error("stopped by signal SIG%s (%s); the guest was at:", sigabbrev_np(stop_signal),
			  sigdescr_np(stop_signal));
	/* Where each started CPU was, as the stop found it. */
	if (stop_signal)
		for (unsigned i = 0; i < vm->cpu_count; i++)
			if (vm->vcpus[i].stats.ran) {
				if (vm->kernel_guest && never_started(&vm->vcpus[i])) {
					fprintf(log_stream(), "  CPU %u: not started by the kernel (waiting for INIT/SIPI)\n", i);
					continue;
				}
				if (vm->cpu_count > 1)
					fprintf(log_stream(), "  CPU %u:\n", i);
				report_cpu_state(&vm->vcpus[i]);
			}
	uint64_t dropped = __atomic_load_n(&vm->stats.console_bytes_dropped, __ATOMIC_RELAXED);
	if (dropped)
		log_error("%" PRIu64 " bytes of console output could not be delivered (nobody read them)", dropped);
	return status;
}
