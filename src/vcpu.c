#include "vcpu.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/time.h>

#include "log.h"
#include "report.h"
#include "status.h"

/* A stop asked for by a signal: 0, or the exit status to stop with. The
 * handler also sets immediate_exit so a KVM_RUN about to start returns. */
static volatile sig_atomic_t stop_request;
static struct kvm_run *volatile active_run;
static double timeout_seconds;

bool vcpu_stop_requested(void)
{
	return stop_request != 0;
}

static void on_stop_signal(int sig)
{
	stop_request = sig == SIGALRM ? PVMM_STATUS_TIMEOUT : PVMM_STATUS_SIGNAL;
	if (active_run)
		active_run->immediate_exit = 1;
}

int vcpu_install_stops(struct vm *vm, double timeout_s)
{
	/* No SA_RESTART: KVM_RUN, ppoll and write must return EINTR. */
	struct sigaction sa = { .sa_handler = on_stop_signal };
	sigemptyset(&sa.sa_mask);
	active_run = vm->run;
	if (sigaction(SIGINT, &sa, NULL) || sigaction(SIGTERM, &sa, NULL) || sigaction(SIGALRM, &sa, NULL))
		return -1;
	/* A console reader that goes away must not kill the monitor. */
	signal(SIGPIPE, SIG_IGN);

	timeout_seconds = timeout_s;
	if (timeout_s > 0) {
		struct itimerval it = { 0 };
		it.it_value.tv_sec = (time_t)timeout_s;
		it.it_value.tv_usec = (suseconds_t)((timeout_s - (double)it.it_value.tv_sec) * 1e6);
		if (it.it_value.tv_sec == 0 && it.it_value.tv_usec == 0)
			it.it_value.tv_usec = 1;
		if (setitimer(ITIMER_REAL, &it, NULL))
			return -1;
	}
	return 0;
}

/* Port I/O: whoever claims the port on the bus (the para-API, the UART,
 * the IDE disk), or a stray access. */
static void handle_io(struct vm *vm)
{
	struct kvm_run *run = vm->run;
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
	if (vm->stats.stray_io++ < 8)
		log_warn("guest %s port %#x, which has no device; ignored", is_write ? "wrote" : "read", port);
	if (!is_write)
		memset(data, 0xff, bytes);
}

static void handle_exit(struct vm *vm)
{
	struct kvm_run *run = vm->run;

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		handle_io(vm);
		break;
	case KVM_EXIT_MMIO:
		if (run->mmio.len >= 1 && run->mmio.len <= sizeof(run->mmio.data) &&
		    mmio_dispatch(&vm->mmio, run->mmio.phys_addr, run->mmio.is_write, run->mmio.data, run->mmio.len))
			break;
		log_error("guest %s %u bytes at %#llx, which is neither RAM nor a device; stopping the VM",
			  run->mmio.is_write ? "wrote" : "read", run->mmio.len,
			  (unsigned long long)run->mmio.phys_addr);
		report_cpu_state(vm);
		vm_stop(vm, PVMM_STATUS_FAULT);
		break;
	case KVM_EXIT_HLT:
		log_error("guest halted with interrupts off, so nothing can wake it; "
			  "guests wait with the para-API poll call");
		report_cpu_state(vm);
		vm_stop(vm, PVMM_STATUS_FAULT);
		break;
	case KVM_EXIT_SHUTDOWN:
		log_error("guest triple-faulted (an exception while delivering an exception; is its IDT loaded?)");
		report_cpu_state(vm);
		vm_stop(vm, PVMM_STATUS_TRIPLE_FAULT);
		break;
	case KVM_EXIT_INTERNAL_ERROR:
		report_internal_error(vm);
		vm_stop(vm, PVMM_STATUS_EMULATION);
		break;
	case KVM_EXIT_FAIL_ENTRY:
		log_error("KVM could not enter the guest (hardware entry failure reason %#llx)",
			  (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		report_cpu_state(vm);
		vm_stop(vm, PVMM_STATUS_HOST);
		break;
	case KVM_EXIT_INTR:
		break; /* a signal; the loop checks stop_request */
	default:
		log_error("unexpected KVM exit reason %u; stopping the VM", run->exit_reason);
		report_cpu_state(vm);
		vm_stop(vm, PVMM_STATUS_HOST);
		break;
	}
}

int vcpu_run(struct vm *vm)
{
	while (!vm->stopped) {
		if (stop_request)
			break;
		if (ioctl(vm->vcpu_fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			log_error("KVM_RUN failed: %s", strerror(errno));
			vm_stop(vm, PVMM_STATUS_HOST);
			break;
		}
		unsigned reason = vm->run->exit_reason;
		vm->stats.exits[reason < STATS_EXIT_REASONS ? reason : 0]++;
		handle_exit(vm);
	}
	if (!vm->stopped && stop_request == PVMM_STATUS_TIMEOUT) {
		log_error("guest still running after --timeout %g s; stopped it", timeout_seconds);
		report_cpu_state(vm);
	} else if (!vm->stopped && stop_request) {
		log_error("stopped by signal");
	}
	vm_stop(vm, stop_request);
	return vm->status;
}
