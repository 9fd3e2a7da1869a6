#include "hypercall.h"

#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "console_out.h"
#include "log.h"
#include "pvmmu.h"
#include "report.h"
#include "stats.h"
#include "status.h"
#include "upcall.h"
#include "virtio/virtio.h"
#include "vmctl.h"

/* Argument block size per call; an unknown call's block is just `ret`. */
static const uint32_t block_size[PVMM_CALL_COUNT] = {
	[PVMM_CALL_NOP] = sizeof(struct pvmm_nop_args),
	[PVMM_CALL_CONSOLE_WRITE] = sizeof(struct pvmm_console_args),
	[PVMM_CALL_CONSOLE_READ] = sizeof(struct pvmm_console_args),
	[PVMM_CALL_EXIT] = sizeof(struct pvmm_exit_args),
	[PVMM_CALL_ABORT] = sizeof(struct pvmm_abort_args),
	[PVMM_CALL_CLOCK] = sizeof(struct pvmm_clock_args),
	[PVMM_CALL_POLL] = sizeof(struct pvmm_poll_args),
	[PVMM_CALL_RANDOM] = sizeof(struct pvmm_random_args),
	[PVMM_CALL_CPU_START] = sizeof(struct pvmm_cpu_start_args),
	[PVMM_CALL_WAKE] = sizeof(struct pvmm_wake_args),
	[PVMM_CALL_UPCALL] = sizeof(struct pvmm_upcall_args),
	[PVMM_CALL_MMU] = sizeof(struct pvmm_mmu_args),
	[PVMM_CALL_STATS] = sizeof(struct pvmm_stats_args),
};

uint64_t hypercall_guest_now(const struct vm *vm)
{
	/* vm_resume() moves the base forward by each pause. */
	return stats_now_ns() - __atomic_load_n(&vm->mono_base_ns, __ATOMIC_ACQUIRE);
}

static int64_t console_write(struct vm *vm, const struct pvmm_console_args *a)
{
	if (a->len > PVMM_CONSOLE_MAX)
		return -PVMM_EINVAL;
	const uint8_t *buf = guest_mem_ptr(&vm->mem, a->buf, a->len);
	if (!buf)
		return -PVMM_EFAULT;

	/* Waits while nobody reads, but a stop always ends the wait; no lock
	 * is held here, so a pause may park this vCPU meanwhile. */
	uint64_t done = console_out_write(vm, vm->console_out_fd, buf, a->len, true);
	STATS_ADD(vm->stats.console_bytes_out, done);
	/* A short write is reported as such; nothing written at all is an error. */
	return done || a->len == 0 ? (int64_t)done : -PVMM_EIO;
}

/* Is console input ready (data or end of input) right now? */
static bool console_input_ready(struct vm *vm)
{
	if (vm->console_in_eof || vm->console_in_fd < 0)
		return true;
	struct pollfd pfd = { .fd = vm->console_in_fd, .events = POLLIN };
	return poll(&pfd, 1, 0) > 0;
}

static int64_t console_read(struct vm *vm, const struct pvmm_console_args *a)
{
	if (a->len > PVMM_CONSOLE_MAX)
		return -PVMM_EINVAL;
	uint8_t *buf = guest_mem_ptr(&vm->mem, a->buf, a->len);
	if (!buf)
		return -PVMM_EFAULT;
	if (vm->console_in_eof || vm->console_in_fd < 0 || a->len == 0)
		return 0;
	if (!console_input_ready(vm))
		return -PVMM_EAGAIN;

	ssize_t n = read(vm->console_in_fd, buf, a->len);
	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? -PVMM_EAGAIN : -PVMM_EIO;
	if (n == 0)
		vm->console_in_eof = true;
	STATS_ADD(vm->stats.console_bytes_in, (uint64_t)n);
	return n;
}

static int64_t clock_read(struct vm *vm, struct pvmm_clock_args *a)
{
	struct timespec ts;

	if (a->reserved)
		return -PVMM_EINVAL;
	switch (a->clock) {
	case PVMM_CLOCK_MONOTONIC:
		a->ns = hypercall_guest_now(vm);
		return 0;
	case PVMM_CLOCK_WALL:
		clock_gettime(CLOCK_REALTIME, &ts);
		a->ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
		return 0;
	default:
		return -PVMM_EINVAL;
	}
}

/* Device i's ready eventfd, if it has one (virtio devices and the UART;
 * never 0, the para console, whose readiness is stdin's). */
static int device_ready_fd(const struct vm *vm, unsigned i)
{
	if (i == 0 || i >= vm->device_count || i >= PVMM_MAX_DEVICES)
		return -1;
	return vm->ready_fd[i];
}

/* The calling CPU's WAKE eventfd, or -1 (no vm_ctl_init). Outside a vCPU
 * thread (unit tests) the caller counts as CPU 0. */
static int self_wake_fd(const struct vm *vm)
{
	const struct vcpu *self = vcpu_current();
	unsigned cpu = self ? self->index : 0;
	if (!__atomic_load_n(&vm->ctl.ready, __ATOMIC_ACQUIRE) || cpu >= vm->cpu_count || cpu >= VM_MAX_CPUS)
		return -1;
	return vm->ctl.cpu_wake_fd[cpu];
}

/* Devices of `interest` that are ready now. Device 0 is the console; a
 * virtio device is ready when it interrupted since the last POLL that
 * reported it, which this consumes (its eventfd is read to zero), and so
 * is a WAKE of the calling CPU (PVMM_POLL_WAKE). */
static uint64_t ready_devices(struct vm *vm, uint64_t interest)
{
	uint64_t ready = 0;
	uint64_t count;
	int wake_fd = interest & PVMM_POLL_WAKE ? self_wake_fd(vm) : -1;
	if (wake_fd >= 0 && read(wake_fd, &count, sizeof(count)) == sizeof(count))
		ready |= PVMM_POLL_WAKE;
	if ((interest & 1) && console_input_ready(vm))
		ready |= 1;
	for (unsigned i = 1; i < vm->device_count && i < PVMM_MAX_DEVICES; i++) {
		int fd = device_ready_fd(vm, i);
		if ((interest & (1ull << i)) && fd >= 0 && read(fd, &count, sizeof(count)) == sizeof(count))
			ready |= 1ull << i;
	}
	return ready;
}

static int64_t poll_devices(struct vm *vm, struct pvmm_poll_args *a)
{
	uint64_t valid = (vm->device_count >= 63 ? PVMM_POLL_WAKE - 1 : (1ull << vm->device_count) - 1) |
			 PVMM_POLL_WAKE;
	if (a->interest & ~valid)
		return -PVMM_EINVAL;

	for (;;) {
		a->ready = ready_devices(vm, a->interest);
		uint64_t now = hypercall_guest_now(vm);
		/* vm_checkpoint parks this vCPU during a pause (guest time
		 * stands still, so the deadline still holds) and is true once
		 * the VM stops. */
		if (a->ready || now >= a->deadline_ns || vm_checkpoint(vm))
			return __builtin_popcountll(a->ready);

		/* Sleep in the host until input, a device interrupt or the
		 * deadline; a kick (stop, pause) interrupts and the loop
		 * rechecks. */
		uint64_t wait = a->deadline_ns - now;
		struct timespec ts = { .tv_sec = (time_t)(wait / 1000000000ull),
				       .tv_nsec = (long)(wait % 1000000000ull) };
		struct pollfd pfd[PVMM_MAX_DEVICES + 1];
		nfds_t n = 0;
		int wake_fd = a->interest & PVMM_POLL_WAKE ? self_wake_fd(vm) : -1;
		if (wake_fd >= 0)
			pfd[n++] = (struct pollfd){ .fd = wake_fd, .events = POLLIN };
		if ((a->interest & 1) && vm->console_in_fd >= 0)
			pfd[n++] = (struct pollfd){ .fd = vm->console_in_fd, .events = POLLIN };
		for (unsigned i = 1; i < vm->device_count && i < PVMM_MAX_DEVICES; i++) {
			int fd = device_ready_fd(vm, i);
			if ((a->interest & (1ull << i)) && fd >= 0)
				pfd[n++] = (struct pollfd){ .fd = fd, .events = POLLIN };
		}
		ppoll(pfd, n, &ts, NULL);
	}
}

static int64_t random_fill(struct vm *vm, const struct pvmm_random_args *a)
{
	if (a->len > PVMM_RANDOM_MAX)
		return -PVMM_EINVAL;
	uint8_t *buf = guest_mem_ptr(&vm->mem, a->buf, a->len);
	if (!buf)
		return -PVMM_EFAULT;
	uint64_t done = 0;
	while (done < a->len) {
		ssize_t n = getrandom(buf + done, a->len - done, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -PVMM_EIO;
		done += (uint64_t)n;
	}
	return (int64_t)done;
}

static int64_t guest_exit(struct vm *vm, const struct pvmm_exit_args *a)
{
	if (a->status > PVMM_STATUS_GUEST_MAX)
		return -PVMM_EINVAL;
	vm_stop(vm, (int)a->status);
	return 0;
}

static int64_t guest_abort(struct vm *vm, const struct pvmm_abort_args *a)
{
	char msg[PVMM_ABORT_MSG_MAX * 4 + 1] = "";

	if (a->reserved || (a->kind != PVMM_ABORT_PANIC && a->kind != PVMM_ABORT_FAULT))
		return -PVMM_EINVAL;
	uint64_t len = a->msg_len < PVMM_ABORT_MSG_MAX ? a->msg_len : PVMM_ABORT_MSG_MAX;
	const void *text = guest_mem_ptr(&vm->mem, a->msg, len);
	if (text)
		log_sanitize(msg, sizeof(msg), text, len);
	else
		snprintf(msg, sizeof(msg), "(message at %#llx is outside guest RAM)", (unsigned long long)a->msg);

	/* Name the CPU in a VM with several; only the first stop reports. */
	char where[24] = "";
	struct vcpu *self = vcpu_current();
	if (self && vm->cpu_count > 1)
		snprintf(where, sizeof(where), " on CPU %u", self->index);
	if (vm_stopped(vm))
		return 0;
	if (a->kind == PVMM_ABORT_FAULT) {
		log_error("guest fault%s: %s", where, msg);
		report_fault(&a->fault);
		vm_stop(vm, PVMM_STATUS_FAULT);
	} else {
		log_error("guest aborted%s: %s", where, msg);
		vm_stop(vm, PVMM_STATUS_ABORT);
	}
	return 0;
}

/* CPU_START: every field checked before the vCPU is touched (para.h). */
static int64_t cpu_start(struct vm *vm, const struct pvmm_cpu_start_args *a)
{
	if (a->reserved || a->cpu == 0 || a->cpu >= vm->cpu_count || (a->stack & 15))
		return -PVMM_EINVAL;
	/* The entry's first byte and the 16 bytes under the stack top. */
	if (!guest_mem_ptr(&vm->mem, a->entry, 1) || a->stack < 16 || !guest_mem_ptr(&vm->mem, a->stack - 16, 16))
		return -PVMM_EFAULT;
	if (vmctl_request_start(vm, a->cpu, a->entry, a->stack, a->arg) < 0)
		return -PVMM_EBUSY;
	return 0;
}

/* WAKE: make CPU `cpu`'s current or next POLL with PVMM_POLL_WAKE return.
 * An eventfd counter that is already non-zero (or full) is awake already. */
static int64_t cpu_wake(struct vm *vm, const struct pvmm_wake_args *a)
{
	if (a->reserved || a->cpu >= vm->cpu_count || a->cpu >= VM_MAX_CPUS)
		return -PVMM_EINVAL;
	int fd = __atomic_load_n(&vm->ctl.ready, __ATOMIC_ACQUIRE) ? vm->ctl.cpu_wake_fd[a->cpu] : -1;
	uint64_t one = 1;
	if (fd < 0 || (write(fd, &one, sizeof(one)) < 0 && errno != EAGAIN))
		return -PVMM_EIO;
	return 0;
}

/* STATS: counters other threads are still adding to are read with
 * relaxed atomic loads, each on its own: a snapshot that is consistent
 * per counter, which is all a guest's status page needs. */
static int64_t vm_stats_read(struct vm *vm, const struct pvmm_stats_args *a)
{
	if (a->len < sizeof(uint64_t))
		return -PVMM_EINVAL;
	struct pvmm_vm_stats st = { 0 };
	uint64_t len = a->len < sizeof(st) ? a->len : sizeof(st);
	void *buf = guest_mem_ptr(&vm->mem, a->buf, len);
	if (!buf)
		return -PVMM_EFAULT;
	for (unsigned c = 0; c < vm->stats.vcpu_count && c < STATS_MAX_CPUS; c++) {
		const struct vcpu_stats *v = vm->stats.vcpu[c];
		if (!v)
			continue;
		for (unsigned i = 0; i < STATS_EXIT_REASONS; i++)
			st.exits += __atomic_load_n(&v->exits[i], __ATOMIC_RELAXED);
		st.exits_io += __atomic_load_n(&v->exits[KVM_EXIT_IO], __ATOMIC_RELAXED);
		st.exits_mmio += __atomic_load_n(&v->exits[KVM_EXIT_MMIO], __ATOMIC_RELAXED);
		st.exits_hlt += __atomic_load_n(&v->exits[KVM_EXIT_HLT], __ATOMIC_RELAXED);
	}
	for (unsigned i = 0; i < PVMM_PORT_COUNT; i++)
		st.calls += __atomic_load_n(&vm->stats.calls[i], __ATOMIC_RELAXED);
	st.polls = __atomic_load_n(&vm->stats.calls[PVMM_CALL_POLL], __ATOMIC_RELAXED);
	for (unsigned d = 0; d < vm->virtio_count && d < PVMM_MAX_DEVICES; d++) {
		const struct virtio_dev *dev = vm->virtio[d];
		if (!dev)
			continue;
		st.kicks += __atomic_load_n(&dev->stats.kicks, __ATOMIC_RELAXED);
		st.interrupts += __atomic_load_n(&dev->stats.interrupts, __ATOMIC_RELAXED);
	}
	st.upcalls = __atomic_load_n(&vm->stats.upcalls, __ATOMIC_RELAXED);
	st.uptime_ns = stats_now_ns() - vm->stats.start_ns;
	memcpy(buf, &st, len);
	return (int64_t)len;
}

/* Every call's block is copied in, served from the copy, and copied back,
 * so the monitor reads each guest field exactly once. */
union call_block {
	int64_t ret;
	struct pvmm_nop_args nop;
	struct pvmm_console_args console;
	struct pvmm_exit_args exit;
	struct pvmm_abort_args abort;
	struct pvmm_clock_args clock;
	struct pvmm_poll_args poll;
	struct pvmm_random_args random;
	struct pvmm_cpu_start_args cpu_start;
	struct pvmm_wake_args wake;
	struct pvmm_upcall_args upcall;
	struct pvmm_mmu_args mmu;
	struct pvmm_stats_args stats;
};

void hypercall_handle(struct vm *vm, unsigned call, uint64_t gpa)
{
	uint32_t size = call < PVMM_CALL_COUNT && block_size[call] ? block_size[call] : sizeof(int64_t);
	union call_block b;

	void *block = guest_mem_ptr(&vm->mem, gpa, size);
	if (!block || (gpa & 7)) {
		log_error("para-API call %u (%s): argument block at %#llx %s; stopping the VM", call,
			  stats_call_name(call), (unsigned long long)gpa,
			  block ? "is not 8-byte aligned" : "is outside guest RAM");
		vm_stop(vm, PVMM_STATUS_BADCALL);
		return;
	}
	STATS_ADD(vm->stats.calls[call], 1);
	memcpy(&b, block, size);

	switch (call) {
	case PVMM_CALL_NOP: b.ret = 0; break;
	case PVMM_CALL_CONSOLE_WRITE: b.ret = console_write(vm, &b.console); break;
	case PVMM_CALL_CONSOLE_READ: b.ret = console_read(vm, &b.console); break;
	case PVMM_CALL_EXIT: b.ret = guest_exit(vm, &b.exit); break;
	case PVMM_CALL_ABORT: b.ret = guest_abort(vm, &b.abort); break;
	case PVMM_CALL_CLOCK: b.ret = clock_read(vm, &b.clock); break;
	case PVMM_CALL_POLL: b.ret = poll_devices(vm, &b.poll); break;
	case PVMM_CALL_RANDOM: b.ret = random_fill(vm, &b.random); break;
	case PVMM_CALL_CPU_START: b.ret = cpu_start(vm, &b.cpu_start); break;
	case PVMM_CALL_WAKE: b.ret = cpu_wake(vm, &b.wake); break;
	case PVMM_CALL_UPCALL: b.ret = upcall_register(vm, vcpu_current(), &b.upcall); break;
	case PVMM_CALL_MMU: b.ret = pvmmu_call(vm, &b.mmu); break;
	case PVMM_CALL_STATS: b.ret = vm_stats_read(vm, &b.stats); break;
	default: b.ret = -PVMM_ENOSYS; break;
	}
	memcpy(block, &b, size);
}

/* The para-API's ports on the port bus: a call is one 32-bit `out` of its
 * block's address; anything else there is a malformed call. */
static void para_port_io(void *opaque, uint16_t offset, bool is_write, uint8_t *data, unsigned size,
			 unsigned reps)
{
	struct vm *vm = opaque;
	unsigned port = PVMM_PORT_BASE + offset;

	if (!is_write || size != 4 || reps != 1) {
		log_error("para-API port %#x: guest made a %u-bit %s%s; a call is one 32-bit out; stopping the VM",
			  port, size * 8, is_write ? "out" : "in", reps > 1 ? " (string I/O)" : "");
		vm_stop(vm, PVMM_STATUS_BADCALL);
		return;
	}
	uint32_t gpa;
	memcpy(&gpa, data, sizeof(gpa));
	hypercall_handle(vm, offset, gpa);
}

int hypercall_attach(struct vm *vm)
{
	/* Ring 3: the last port is the monitor's trap port (trap_port.c). */
	return pio_register_whole(&vm->pio, PVMM_PORT_BASE, PVMM_PORT_COUNT - (vm->ring == 3), "para-API",
				  para_port_io, vm);
}
