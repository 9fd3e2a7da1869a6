/*
 * Unit tests for the monitor's side of the para-API (src/hypercall.c). No
 * KVM: a struct vm is put together by hand with 8 MiB of guest RAM and two
 * pipes as the console, argument blocks are written into guest RAM the way
 * a guest would, and hypercall_handle() is called as the run loop would on
 * an `out` to the call's port.
 *
 * Timing: only lower bounds are asserted (a poll waits at least until its
 * deadline), never upper ones, so a loaded machine cannot make a test fail.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <pthread.h>

#include <cmocka.h>

#include <pvmm/para.h>

#include "guest_mem.h"
#include "hypercall.h"
#include "stats.h"
#include "status.h"
#include "vcpu.h"
#include "virtio/virtio.h"
#include "vm.h"

#define RAM_SIZE (8ull << 20)
#define BLOCK_GPA 0x2000ull   /* where tests put argument blocks */
#define BUF_GPA   0x10000ull  /* and the buffers those blocks name */

#define CPUS 4

struct fixture {
	struct vm vm;
	struct vcpu cpus[CPUS];  /* no KVM, no threads: CPU_START only marks them */
	int out_rd;  /* test reads what the guest wrote to the console */
	int in_wr;   /* test writes what the guest will read; -1 once closed */
	int saved_stderr;
};

static int setup_vm(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	int out[2], in[2];

	assert_non_null(f);
	assert_int_equal(guest_mem_init(&f->vm.mem, RAM_SIZE, 0), 0);
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	assert_int_equal(pipe2(in, O_CLOEXEC), 0);
	/* The test's read end must never block if a test is wrong. */
	assert_int_equal(fcntl(out[0], F_SETFL, O_NONBLOCK), 0);
	f->vm.kvm_fd = f->vm.vm_fd = f->vm.vcpu_fd = -1;
	f->vm.console_out_fd = out[1];
	f->vm.console_in_fd = in[0];
	f->vm.device_count = 1;
	f->vm.mono_base_ns = stats_now_ns();
	f->vm.cpu_count = CPUS;
	f->vm.vcpus = f->cpus;
	for (unsigned i = 0; i < CPUS; i++)
		f->cpus[i] = (struct vcpu){ .vm = &f->vm, .index = i, .fd = -1,
					    .state = i == 0 ? VCPU_RUNNING : VCPU_WAITING };
	assert_int_equal(vm_ctl_init(&f->vm), 0);
	f->out_rd = out[0];
	f->in_wr = in[1];
	f->saved_stderr = -1;
	*state = f;
	return 0;
}

static int teardown_vm(void **state)
{
	struct fixture *f = *state;
	if (f->saved_stderr >= 0) {
		fflush(stderr);
		dup2(f->saved_stderr, STDERR_FILENO);
		close(f->saved_stderr);
	}
	close(f->out_rd);
	if (f->in_wr >= 0)
		close(f->in_wr);
	if (f->vm.console_out_fd >= 0)
		close(f->vm.console_out_fd);
	if (f->vm.console_in_fd >= 0)
		close(f->vm.console_in_fd);
	vm_ctl_destroy(&f->vm);
	guest_mem_free(&f->vm.mem);
	free(f);
	return 0;
}

/* Sanitizer builds keep stderr open: a report must never be swallowed. */
#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED_BUILD 1
#endif
#endif

/* Calls that must fail log an error on stderr; keep test output readable.
 * teardown_vm restores stderr even if an assertion fires in between. */
static void mute_stderr(struct fixture *f)
{
#ifdef SANITIZED_BUILD
	(void)f;
	return;
#endif
	int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	assert_true(null >= 0);
	fflush(stderr);
	f->saved_stderr = dup(STDERR_FILENO);
	assert_true(f->saved_stderr >= 0);
	dup2(null, STDERR_FILENO);
	close(null);
}

static void close_console_input(struct fixture *f)
{
	close(f->in_wr);
	f->in_wr = -1;
}

static void feed_input(struct fixture *f, const char *s)
{
	assert_int_equal(write(f->in_wr, s, strlen(s)), (ssize_t)strlen(s));
}

/* Bytes the guest wrote to the console so far (non-blocking). */
static size_t drain_output(struct fixture *f, char *buf, size_t size)
{
	ssize_t n = read(f->out_rd, buf, size);
	if (n < 0) {
		assert_int_equal(errno, EAGAIN);
		return 0;
	}
	return (size_t)n;
}

static void *gpa_ptr(struct fixture *f, uint64_t gpa, uint64_t len)
{
	void *p = guest_mem_ptr(&f->vm.mem, gpa, len);
	assert_non_null(p);
	return p;
}

/* Put the block at `gpa` in guest RAM, make call `call`, read it back. */
static void do_call(struct fixture *f, unsigned call, uint64_t gpa, void *block, size_t size)
{
	memcpy(gpa_ptr(f, gpa, size), block, size);
	hypercall_handle(&f->vm, call, gpa);
	memcpy(block, gpa_ptr(f, gpa, size), size);
}

static int64_t console_call(struct fixture *f, unsigned call, uint64_t buf, uint64_t len)
{
	struct pvmm_console_args a = { .ret = 0x7777, .buf = buf, .len = len };
	do_call(f, call, BLOCK_GPA, &a, sizeof(a));
	assert_int_equal(a.buf, buf); /* the monitor writes back only `ret` */
	assert_int_equal(a.len, len);
	return a.ret;
}

#define CLOCK_SENTINEL 0x5555ull

static int64_t clock_call(struct fixture *f, uint32_t clock, uint32_t reserved, uint64_t *ns)
{
	struct pvmm_clock_args a = { .ret = 0x7777, .clock = clock, .reserved = reserved, .ns = CLOCK_SENTINEL };
	do_call(f, PVMM_CALL_CLOCK, BLOCK_GPA, &a, sizeof(a));
	if (ns)
		*ns = a.ns;
	return a.ret;
}

static int64_t poll_call(struct fixture *f, uint64_t deadline_ns, uint64_t interest, uint64_t *ready)
{
	struct pvmm_poll_args a = { .ret = 0x7777, .deadline_ns = deadline_ns, .interest = interest,
				    .ready = 0xdead };
	do_call(f, PVMM_CALL_POLL, BLOCK_GPA, &a, sizeof(a));
	if (ready)
		*ready = a.ready;
	return a.ret;
}

static int64_t random_call(struct fixture *f, uint64_t buf, uint64_t len)
{
	struct pvmm_random_args a = { .ret = 0x7777, .buf = buf, .len = len };
	do_call(f, PVMM_CALL_RANDOM, BLOCK_GPA, &a, sizeof(a));
	return a.ret;
}

static int64_t exit_call(struct fixture *f, uint64_t status)
{
	struct pvmm_exit_args a = { .ret = 0x7777, .status = status };
	do_call(f, PVMM_CALL_EXIT, BLOCK_GPA, &a, sizeof(a));
	return a.ret;
}

static int64_t abort_call(struct fixture *f, uint32_t kind, uint32_t reserved, uint64_t msg, uint64_t msg_len)
{
	struct pvmm_abort_args a = { .ret = 0x7777, .msg = msg, .msg_len = msg_len, .kind = kind,
				     .reserved = reserved };
	a.fault.vector = 14;
	a.fault.rip = 0x100123;
	do_call(f, PVMM_CALL_ABORT, BLOCK_GPA, &a, sizeof(a));
	return a.ret;
}

/* Make an abort call with stderr captured into `log` (NUL-terminated). */
static int64_t abort_capturing_log(struct fixture *f, uint32_t kind, uint64_t msg, uint64_t msg_len,
				   char *log, size_t log_size)
{
	FILE *cap = tmpfile();
	assert_non_null(cap);
	fflush(stderr);
	f->saved_stderr = dup(STDERR_FILENO);
	assert_true(f->saved_stderr >= 0);
	dup2(fileno(cap), STDERR_FILENO);
	int64_t ret = abort_call(f, kind, 0, msg, msg_len);
	fflush(stderr);
	dup2(f->saved_stderr, STDERR_FILENO);
	close(f->saved_stderr);
	f->saved_stderr = -1;

	rewind(cap);
	size_t n = fread(log, 1, log_size - 1, cap);
	fclose(cap);
	log[n] = '\0';
	return ret;
}

/* ---- NOP and call dispatch --------------------------------------------- */

static void test_nop_returns_zero(void **state)
{
	struct fixture *f = *state;
	struct pvmm_nop_args a = { .ret = 42 };
	do_call(f, PVMM_CALL_NOP, BLOCK_GPA, &a, sizeof(a));
	assert_int_equal(a.ret, 0);
	assert_false(f->vm.stopped);
}

static void test_unknown_call_returns_enosys(void **state)
{
	struct fixture *f = *state;
	for (unsigned call = PVMM_CALL_COUNT; call < PVMM_PORT_COUNT; call++) {
		struct pvmm_nop_args a = { .ret = 42 };
		do_call(f, call, BLOCK_GPA, &a, sizeof(a));
		assert_int_equal(a.ret, -PVMM_ENOSYS);
		assert_int_equal(f->vm.stats.calls[call], 1);
	}
	assert_false(f->vm.stopped);
}

static void test_unknown_call_15_touches_only_ret(void **state)
{
	/* An unknown call's block is just `ret`: the word after it is the
	 * guest's and stays as it was. */
	struct fixture *f = *state;
	uint64_t words[2] = { 42, 0x1122334455667788ull };
	do_call(f, 15, BLOCK_GPA, words, sizeof(words));
	assert_int_equal((int64_t)words[0], -PVMM_ENOSYS);
	assert_int_equal(words[1], 0x1122334455667788ull);
}

static void test_block_outside_ram_stops_with_badcall(void **state)
{
	struct fixture *f = *state;
	uint8_t *tail = f->vm.mem.host + RAM_SIZE - 16;

	mute_stderr(f);
	memset(tail, 0xab, 16);
	hypercall_handle(&f->vm, PVMM_CALL_NOP, RAM_SIZE - 4);
	assert_true(f->vm.stopped);
	assert_int_equal(f->vm.status, PVMM_STATUS_BADCALL);
	for (unsigned i = 0; i < 16; i++)
		assert_int_equal(tail[i], 0xab); /* nothing written */
}

static void test_block_straddling_end_of_ram_stops_with_badcall(void **state)
{
	/* 8-aligned and starts in RAM, but a console block is 24 bytes. */
	struct fixture *f = *state;
	uint8_t *tail = f->vm.mem.host + RAM_SIZE - 16;

	mute_stderr(f);
	memset(tail, 0xab, 16);
	hypercall_handle(&f->vm, PVMM_CALL_CONSOLE_WRITE, RAM_SIZE - 16);
	assert_true(f->vm.stopped);
	assert_int_equal(f->vm.status, PVMM_STATUS_BADCALL);
	for (unsigned i = 0; i < 16; i++)
		assert_int_equal(tail[i], 0xab);
	char out[8];
	assert_int_equal(drain_output(f, out, sizeof(out)), 0);
}

static void test_block_far_outside_ram_stops_with_badcall(void **state)
{
	struct fixture *f = *state;
	mute_stderr(f);
	hypercall_handle(&f->vm, PVMM_CALL_NOP, UINT64_MAX - 7); /* gpa + 8 wraps */
	assert_true(f->vm.stopped);
	assert_int_equal(f->vm.status, PVMM_STATUS_BADCALL);
}

static void test_misaligned_block_stops_with_badcall(void **state)
{
	struct fixture *f = *state;
	uint8_t *p = f->vm.mem.host + 0x2000;

	mute_stderr(f);
	memset(p, 0xcd, 16);
	hypercall_handle(&f->vm, PVMM_CALL_NOP, 0x2001);
	assert_true(f->vm.stopped);
	assert_int_equal(f->vm.status, PVMM_STATUS_BADCALL);
	for (unsigned i = 0; i < 16; i++)
		assert_int_equal(p[i], 0xcd);
}

static void test_call_counters_count_each_call(void **state)
{
	struct fixture *f = *state;
	struct pvmm_nop_args nop = { 0 };
	uint64_t ns;

	for (int i = 0; i < 3; i++)
		do_call(f, PVMM_CALL_NOP, BLOCK_GPA, &nop, sizeof(nop));
	assert_int_equal(clock_call(f, PVMM_CLOCK_MONOTONIC, 0, &ns), 0);
	assert_int_equal(console_call(f, PVMM_CALL_CONSOLE_WRITE, BUF_GPA, 0), 0);
	assert_int_equal(random_call(f, BUF_GPA, 4), 4);
	assert_int_equal(f->vm.stats.calls[PVMM_CALL_NOP], 3);
	assert_int_equal(f->vm.stats.calls[PVMM_CALL_CLOCK], 1);
	assert_int_equal(f->vm.stats.calls[PVMM_CALL_CONSOLE_WRITE], 1);
	assert_int_equal(f->vm.stats.calls[PVMM_CALL_RANDOM], 1);
	assert_int_equal(f->vm.stats.calls[PVMM_CALL_POLL], 0);
}

/* ---- console write ------------------------------------------------------- */

static void test_console_write_reaches_output(void **state)
{
	struct fixture *f = *state;
	char out[32];

	memcpy(gpa_ptr(f, BUF_GPA, 6), "hello\n", 6);
	assert_int_equal(console_call(f, PVMM_CALL_CONSOLE_WRITE, BUF_GPA, 6), 6);
	assert_int_equal(drain_output(f, out, sizeof(out)), 6);
	assert_memory_equal(out, "hello\n", 6);
	assert_int_equal(f->vm.stats.console_bytes_out, 6);
	assert_false(f->vm.stopped);
}

static void test_console_write_passes_bytes_unchanged(void **state)
{
	/* The guest's console is a byte stream: no escaping on this path. */
	struct fixture *f = *state;
	uint8_t bytes[256], out[300];
	for (unsigned i = 0; i < 256; i++)
		bytes[i] = (uint8_t)i;
	memcpy(gpa_ptr(f, BUF_GPA, sizeof(bytes)), bytes, sizeof(bytes));
	assert_int_equal(console_call(f, PVMM_CALL_CONSOLE_WRITE, BUF_GPA, sizeof(bytes)), 256);
	assert_int_equal(drain_output(f, (char *)out, sizeof(out)), 256);
	assert_memory_equal(out, bytes, 256);
}

static void test_console_write_len_zero(void **state)
{
	struct fixture *f = *state;
	char out[8];
	assert_int_equal(console_call(f, PVMM_CALL_CONSOLE_WRITE, BUF_GPA, 0), 0);
	/* len 0 at the very end of RAM is still inside it. */
	assert_int_equal(console_call(f, PVMM_CALL_CONSOLE_WRITE, RAM_SIZE, 0), 0);
	assert_int_equal(drain_output(f, out, sizeof(out)), 0);
}

static void test_console_write_outside_ram_is_efault(void **state)
{
	struct fixture *f = *state;
	char out[8];
	assert_int_equal(console_call(f, PVMM_CALL_CONSOLE_WRITE, RAM_SIZE, 1), -PVMM_EFAULT);
	assert_int_equal(console_call(f, PVMM_CALL_CONSOLE_WRITE, 0x100000000ull, 4), -PVMM_EFAULT);
	/* Starts in RAM, ends past it. */
	assert_int_equal(console_call(f, PVMM_CALL_CONSOLE_WRITE, RAM_SIZE - 4, 8), -PVMM_EFAULT);
	/* buf + len wraps around 2^64 to a small address. */
	assert_int_equal(console_call(f, PVMM_CALL_CONSOLE_WRITE, UINT64_MAX - 3, 8), -PVMM_EFAULT);
	assert_int_equal(drain_output(f, out, sizeof(out)), 0);
	assert_false(f->vm.stopped);
}

static void test_console_write_huge_len_is_einval(void **state)
{
	/* The length limit is checked before the range, so a wrapping
	 * buf + len with an absurd len is EINVAL. */
	struct fixture *f = *state;
	char out[8];
	assert_int_equal(console_call(f, PVMM_CALL_CONSOLE_WRITE, 0x1000, UINT64_MAX), -PVMM_EINVAL);
	assert_int_equal(console_call(f, PVMM_CALL_CONSOLE_WRITE, BUF_GPA, PVMM_CONSOLE_MAX + 1ull),
			 -PVMM_EINVAL);
	assert_int_equal(drain_output(f, out, sizeof(out)), 0);
}

static void test_console_write_to_failing_fd_is_eio(void **state)
{
	/* The output fd is the read end of a pipe, so write() fails. */
	struct fixture *f = *state;
	int fds[2];
	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	close(f->vm.console_out_fd);
	close(fds[1]);
	f->vm.console_out_fd = fds[0];
	assert_int_equal(console_call(f, PVMM_CALL_CONSOLE_WRITE, BUF_GPA, 4), -PVMM_EIO);
	assert_int_equal(f->vm.stats.console_bytes_out, 0);
}

/* ---- console read -------------------------------------------------------- */

static void test_console_read_returns_pending_input(void **state)
{
	struct fixture *f = *state;
	memset(gpa_ptr(f, BUF_GPA, 16), 0xee, 16);
	feed_input(f, "abc");
	assert_int_equal(console_call(f, PVMM_CALL_CONSOLE_READ, BUF_GPA, 16), 3);
	assert_memory_equal(gpa_ptr(f, BUF_GPA, 3), "abc", 3);
	assert_int_equal(*(uint8_t *)gpa_ptr(f, BUF_GPA + 3, 1), 0xee); /* no more than returned */
	assert_int_equal(f->vm.stats.console_bytes_in, 3);
}

static void test_console_read_respects_len(void **state)
{
	struct fixture *f = *state;
	feed_input(f, "abcdef");
	assert_int_equal(console_call(f, PVMM_CALL_CONSOLE_READ, BUF_GPA, 2), 2);
	assert_memory_equal(gpa_ptr(f, BUF_GPA, 2), "ab", 2);
	assert_int_equal(console_call(f, PVMM_CALL_CONSOLE_READ, BUF_GPA, 16), 4);
	assert_memory_equal(gpa_ptr(f, BUF_GPA, 4), "cdef", 4);
}

static void test_console_read_empty_is_eagain(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(console_call(f, PVMM_CALL_CONSOLE_READ, BUF_GPA, 16), -PVMM_EAGAIN);
	assert_false(f->vm.console_in_eof);
}

static void test_console_read_after_close_is_eof_and_stays_eof(void **state)
{
	struct fixture *f = *state;
	feed_input(f, "x");
	close_console_input(f);
	assert_int_equal(console_call(f, PVMM_CALL_CONSOLE_READ, BUF_GPA, 16), 1);
	assert_int_equal(console_call(f, PVMM_CALL_CONSOLE_READ, BUF_GPA, 16), 0);
	assert_true(f->vm.console_in_eof);
	assert_int_equal(console_call(f, PVMM_CALL_CONSOLE_READ, BUF_GPA, 16), 0);
	assert_int_equal(console_call(f, PVMM_CALL_CONSOLE_READ, BUF_GPA, 16), 0);
	assert_false(f->vm.stopped);
}

static void test_console_read_without_input_fd_is_eof(void **state)
{
	/* --no-stdin style: no input at all reads as end of input. */
	struct fixture *f = *state;
	close(f->vm.console_in_fd);
	f->vm.console_in_fd = -1;
	assert_int_equal(console_call(f, PVMM_CALL_CONSOLE_READ, BUF_GPA, 16), 0);
}

static void test_console_read_len_zero_consumes_nothing(void **state)
{
	struct fixture *f = *state;
	feed_input(f, "q");
	assert_int_equal(console_call(f, PVMM_CALL_CONSOLE_READ, BUF_GPA, 0), 0);
	assert_int_equal(console_call(f, PVMM_CALL_CONSOLE_READ, BUF_GPA, 8), 1);
}

static void test_console_read_bad_buffer_consumes_nothing(void **state)
{
	struct fixture *f = *state;
	feed_input(f, "zz");
	assert_int_equal(console_call(f, PVMM_CALL_CONSOLE_READ, RAM_SIZE - 1, 2), -PVMM_EFAULT);
	assert_int_equal(console_call(f, PVMM_CALL_CONSOLE_READ, UINT64_MAX - 3, 8), -PVMM_EFAULT);
	assert_int_equal(console_call(f, PVMM_CALL_CONSOLE_READ, BUF_GPA, PVMM_CONSOLE_MAX + 1ull),
			 -PVMM_EINVAL);
	/* The input is still there for a good call. */
	assert_int_equal(console_call(f, PVMM_CALL_CONSOLE_READ, BUF_GPA, 8), 2);
}

/* ---- clock ---------------------------------------------------------------- */

static void test_clock_monotonic_advances(void **state)
{
	struct fixture *f = *state;
	uint64_t t1, t2;
	const struct timespec ms = { 0, 2000000 };

	assert_int_equal(clock_call(f, PVMM_CLOCK_MONOTONIC, 0, &t1), 0);
	nanosleep(&ms, NULL);
	assert_int_equal(clock_call(f, PVMM_CLOCK_MONOTONIC, 0, &t2), 0);
	assert_true(t2 > t1);
	assert_true(t2 - t1 >= 2000000); /* slept at least 2 ms */
	/* Guest time starts at VM start, not at host boot. */
	assert_true(t2 <= hypercall_guest_now(&f->vm));
}

static void test_clock_wall_is_near_time(void **state)
{
	struct fixture *f = *state;
	uint64_t ns;
	time_t before = time(NULL);
	assert_int_equal(clock_call(f, PVMM_CLOCK_WALL, 0, &ns), 0);
	time_t after = time(NULL);
	/* time() truncates, so allow one second of slack each way. */
	assert_true(ns / 1000000000ull + 1 >= (uint64_t)before);
	assert_true(ns / 1000000000ull <= (uint64_t)after + 1);
}

static void test_clock_unknown_id_is_einval(void **state)
{
	struct fixture *f = *state;
	uint64_t ns = 1;
	assert_int_equal(clock_call(f, 2, 0, &ns), -PVMM_EINVAL);
	assert_int_equal(ns, CLOCK_SENTINEL); /* untouched: the call had no effect */
	assert_int_equal(clock_call(f, UINT32_MAX, 0, NULL), -PVMM_EINVAL);
}

static void test_clock_reserved_nonzero_is_einval(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(clock_call(f, PVMM_CLOCK_MONOTONIC, 1, NULL), -PVMM_EINVAL);
	assert_int_equal(clock_call(f, PVMM_CLOCK_WALL, 0x80000000u, NULL), -PVMM_EINVAL);
}

/* ---- poll ------------------------------------------------------------------ */

static void test_poll_past_deadline_no_input_returns_zero(void **state)
{
	struct fixture *f = *state;
	uint64_t ready = 1;
	assert_int_equal(poll_call(f, 0, 1, &ready), 0);
	assert_int_equal(ready, 0);
	assert_int_equal(poll_call(f, 0, 0, &ready), 0);
	assert_int_equal(ready, 0);
}

static void test_poll_with_input_reports_console_ready(void **state)
{
	struct fixture *f = *state;
	uint64_t ready = 0;
	feed_input(f, "k");
	/* A far deadline: with input pending the call must not wait for it. */
	assert_int_equal(poll_call(f, hypercall_guest_now(&f->vm) + 60 * 1000000000ull, 1, &ready), 1);
	assert_int_equal(ready, 1);
	/* A past deadline still reports what is ready now. */
	assert_int_equal(poll_call(f, 0, 1, &ready), 1);
	assert_int_equal(ready, 1);
}

static void test_poll_ready_is_subset_of_interest(void **state)
{
	/* Input is there, but the guest did not ask about the console. */
	struct fixture *f = *state;
	uint64_t ready = 1;
	feed_input(f, "k");
	assert_int_equal(poll_call(f, 0, 0, &ready), 0);
	assert_int_equal(ready, 0);
}

static void test_poll_end_of_input_counts_as_ready(void **state)
{
	struct fixture *f = *state;
	uint64_t ready = 0;
	close_console_input(f);
	assert_int_equal(poll_call(f, hypercall_guest_now(&f->vm) + 60 * 1000000000ull, 1, &ready), 1);
	assert_int_equal(ready, 1);
}

static void test_poll_unknown_device_is_einval(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(poll_call(f, 0, 2, NULL), -PVMM_EINVAL);      /* device 1 does not exist */
	assert_int_equal(poll_call(f, 0, 3, NULL), -PVMM_EINVAL);      /* even with a valid bit */
	assert_int_equal(poll_call(f, 0, 1ull << 62, NULL), -PVMM_EINVAL); /* no device 62 */
	assert_int_equal(poll_call(f, 0, 1ull << 62 | PVMM_POLL_WAKE, NULL), -PVMM_EINVAL);
	assert_int_equal(poll_call(f, 0, UINT64_MAX, NULL), -PVMM_EINVAL);
}

static void test_poll_waits_until_deadline(void **state)
{
	struct fixture *f = *state;
	uint64_t ready = 1;
	uint64_t start = hypercall_guest_now(&f->vm);
	uint64_t deadline = start + 20 * 1000000ull;

	assert_int_equal(poll_call(f, deadline, 1, &ready), 0);
	assert_int_equal(ready, 0);
	assert_true(hypercall_guest_now(&f->vm) >= deadline);
}

static void test_poll_without_interest_waits_until_deadline(void **state)
{
	/* interest 0 is a plain sleep. */
	struct fixture *f = *state;
	uint64_t deadline = hypercall_guest_now(&f->vm) + 20 * 1000000ull;
	assert_int_equal(poll_call(f, deadline, 0, NULL), 0);
	assert_true(hypercall_guest_now(&f->vm) >= deadline);
}

/* ---- WAKE (1.3) ---------------------------------------------------------- */

#define WAKE_GPA (BLOCK_GPA + 0x100) /* apart from poll_call's block: another thread uses it */

static int64_t wake_call(struct fixture *f, uint32_t cpu, uint32_t reserved)
{
	struct pvmm_wake_args a = { .ret = 0x7777, .cpu = cpu, .reserved = reserved };
	do_call(f, PVMM_CALL_WAKE, WAKE_GPA, &a, sizeof(a));
	assert_int_equal(a.cpu, cpu); /* only `ret` is written back */
	return a.ret;
}

static void test_wake_cpu_out_of_range_is_einval(void **state)
{
	struct fixture *f = *state;
	uint64_t ready = 0;
	assert_int_equal(wake_call(f, CPUS, 0), -PVMM_EINVAL);
	assert_int_equal(wake_call(f, PVMM_MAX_CPUS, 0), -PVMM_EINVAL);
	assert_int_equal(wake_call(f, UINT32_MAX, 0), -PVMM_EINVAL);
	assert_int_equal(f->vm.stats.calls[PVMM_CALL_WAKE], 3);
	/* Nothing was woken: CPU 0's POLL with the wake bit waits out its deadline. */
	assert_int_equal(poll_call(f, 0, PVMM_POLL_WAKE, &ready), 0);
	assert_int_equal(ready, 0);
	assert_false(f->vm.stopped);
}

static void test_wake_reserved_nonzero_is_einval(void **state)
{
	struct fixture *f = *state;
	uint64_t ready = 0;
	assert_int_equal(wake_call(f, 0, 1), -PVMM_EINVAL);
	assert_int_equal(wake_call(f, 0, 0x80000000u), -PVMM_EINVAL);
	assert_int_equal(poll_call(f, 0, PVMM_POLL_WAKE, &ready), 0);
}

static void test_wake_then_poll_returns_at_once_and_consumes(void **state)
{
	struct fixture *f = *state;
	uint64_t ready = 0;
	assert_int_equal(wake_call(f, 0, 0), 0); /* the caller (CPU 0) itself */
	assert_int_equal(wake_call(f, 0, 0), 0); /* two WAKEs, one report */
	assert_int_equal(poll_call(f, hypercall_guest_now(&f->vm) + 60 * 1000000000ull, PVMM_POLL_WAKE | 1,
				   &ready), 1);
	assert_int_equal(ready, PVMM_POLL_WAKE);
	assert_int_equal(poll_call(f, 0, PVMM_POLL_WAKE, &ready), 0);
	assert_int_equal(ready, 0);
}

static void test_wake_is_counted_with_ready_devices(void **state)
{
	struct fixture *f = *state;
	uint64_t ready = 0;
	feed_input(f, "x");
	assert_int_equal(wake_call(f, 0, 0), 0);
	assert_int_equal(poll_call(f, 0, PVMM_POLL_WAKE | 1, &ready), 2);
	assert_int_equal(ready, PVMM_POLL_WAKE | 1);
}

static void test_poll_without_wake_bit_keeps_the_wake(void **state)
{
	/* A 1.2 guest's POLL (no wake bit) neither sees nor eats a WAKE. */
	struct fixture *f = *state;
	uint64_t ready = 0;
	assert_int_equal(wake_call(f, 0, 0), 0);
	uint64_t deadline = hypercall_guest_now(&f->vm) + 20 * 1000000ull;
	assert_int_equal(poll_call(f, deadline, 0, &ready), 0);
	assert_true(hypercall_guest_now(&f->vm) >= deadline);
	assert_int_equal(poll_call(f, 0, PVMM_POLL_WAKE, &ready), 1);
	assert_int_equal(ready, PVMM_POLL_WAKE);
}

static void test_wake_reaches_only_its_cpu(void **state)
{
	struct fixture *f = *state;
	uint64_t ready = 0;
	assert_int_equal(wake_call(f, 2, 0), 0);
	assert_int_equal(poll_call(f, 0, PVMM_POLL_WAKE, &ready), 0); /* CPU 0 */
	vcpu_set_current(&f->cpus[1]);
	assert_int_equal(poll_call(f, 0, PVMM_POLL_WAKE, &ready), 0);
	vcpu_set_current(&f->cpus[2]);
	assert_int_equal(poll_call(f, 0, PVMM_POLL_WAKE, &ready), 1);
	assert_int_equal(ready, PVMM_POLL_WAKE);
	vcpu_set_current(NULL);
}

struct wake_later_arg {
	struct fixture *f;
	uint32_t cpu;
};

static void *wake_later(void *p)
{
	struct wake_later_arg *a = p;
	struct pvmm_wake_args w = { .cpu = a->cpu };
	usleep(50 * 1000);
	memcpy(gpa_ptr(a->f, WAKE_GPA, sizeof(w)), &w, sizeof(w));
	hypercall_handle(&a->f->vm, PVMM_CALL_WAKE, WAKE_GPA);
	return NULL;
}

static void test_wake_ends_a_blocked_poll(void **state)
{
	/* Another thread's WAKE ends a POLL whose deadline is 10 s off; if
	 * it did not, the POLL would return 0 at the deadline. */
	struct fixture *f = *state;
	struct wake_later_arg a = { .f = f, .cpu = 0 };
	pthread_t t;
	uint64_t ready = 0;
	assert_int_equal(pthread_create(&t, NULL, wake_later, &a), 0);
	assert_int_equal(poll_call(f, hypercall_guest_now(&f->vm) + 10 * 1000000000ull, PVMM_POLL_WAKE, &ready),
			 1);
	assert_int_equal(ready, PVMM_POLL_WAKE);
	pthread_join(t, NULL);
}

static void test_wake_has_a_call_name(void **state)
{
	(void)state;
	assert_string_equal(stats_call_name(PVMM_CALL_WAKE), "wake");
	assert_string_equal(stats_call_name(PVMM_CALL_COUNT), "unknown");
}

/* Give the fixture a virtio device at index 1 whose ready eventfd the
 * test controls (the transport writes it when the device interrupts). */
static int add_virtio_device(struct fixture *f)
{
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	assert_true(fd >= 0);
	f->vm.devices[1] = (struct pvmm_device_info){ .type = PVMM_DEV_VIRTIO_MMIO, .irq = 16 };
	f->vm.ready_fd[1] = fd;
	f->vm.device_count = 2;
	return fd;
}

static void signal_eventfd(int fd)
{
	uint64_t one = 1;
	assert_int_equal(write(fd, &one, sizeof(one)), sizeof(one));
}

static void test_poll_virtio_device_ready_is_consumed(void **state)
{
	struct fixture *f = *state;
	int fd = add_virtio_device(f);
	uint64_t ready;

	assert_int_equal(poll_call(f, 0, 2, &ready), 0);
	signal_eventfd(fd);
	signal_eventfd(fd); /* two interrupts, one readiness */
	assert_int_equal(poll_call(f, hypercall_guest_now(&f->vm) + 60 * 1000000000ull, 2, &ready), 1);
	assert_int_equal(ready, 2);
	assert_int_equal(poll_call(f, 0, 2, &ready), 0);
	assert_int_equal(ready, 0);
	close(fd);
}

static void test_poll_virtio_device_not_in_interest_stays_ready(void **state)
{
	struct fixture *f = *state;
	int fd = add_virtio_device(f);
	uint64_t ready;

	signal_eventfd(fd);
	feed_input(f, "x");
	assert_int_equal(poll_call(f, 0, 1, &ready), 1); /* console only */
	assert_int_equal(ready, 1);
	assert_int_equal(poll_call(f, 0, 3, &ready), 2); /* both */
	assert_int_equal(ready, 3);
	assert_int_equal(poll_call(f, 0, 2, &ready), 0);
	close(fd);
}

static void test_poll_device_zero_is_always_the_console(void **state)
{
	/* Entry 0's readiness is the console's (stdin), never a ready fd;
	 * an entry without a ready fd is never ready. */
	struct fixture *f = *state;
	int fd = add_virtio_device(f);
	uint64_t ready;

	f->vm.ready_fd[0] = fd;
	f->vm.ready_fd[1] = -1;
	signal_eventfd(fd);
	assert_int_equal(poll_call(f, 0, 3, &ready), 0);
	uint64_t count;
	assert_int_equal(read(fd, &count, sizeof(count)), sizeof(count)); /* still unconsumed */
	f->vm.ready_fd[0] = 0;
	close(fd);
}

struct delayed_signal {
	int fd;
	unsigned delay_ms;
};

static void *signal_later(void *arg)
{
	struct delayed_signal *d = arg;
	uint64_t one = 1;
	usleep(d->delay_ms * 1000);
	if (write(d->fd, &one, sizeof(one)) != sizeof(one))
		abort();
	return NULL;
}

static void test_poll_wakes_on_device_interrupt(void **state)
{
	struct fixture *f = *state;
	int fd = add_virtio_device(f);
	struct delayed_signal d = { .fd = fd, .delay_ms = 30 };
	pthread_t thread;
	uint64_t ready;

	uint64_t start = hypercall_guest_now(&f->vm);
	assert_int_equal(pthread_create(&thread, NULL, signal_later, &d), 0);
	assert_int_equal(poll_call(f, start + 60 * 1000000000ull, 3, &ready), 1);
	assert_int_equal(ready, 2);
	assert_true(hypercall_guest_now(&f->vm) - start >= 20 * 1000000ull);
	pthread_join(thread, NULL);
	close(fd);
}

/* ---- random ------------------------------------------------------------------ */

static void test_random_fills_buffer(void **state)
{
	struct fixture *f = *state;
	static const uint8_t zero[64];
	uint8_t *buf = gpa_ptr(f, BUF_GPA, 64);
	memset(buf, 0, 64);
	assert_int_equal(random_call(f, BUF_GPA, 64), 64);
	/* 2^-512 chance of a false failure. */
	assert_memory_not_equal(buf, zero, 64);
}

static void test_random_max_len_is_accepted(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(random_call(f, BUF_GPA, PVMM_RANDOM_MAX), PVMM_RANDOM_MAX);
	assert_int_equal(random_call(f, BUF_GPA, 0), 0);
}

static void test_random_too_long_is_einval(void **state)
{
	struct fixture *f = *state;
	static const uint8_t zero[64];
	assert_int_equal(random_call(f, BUF_GPA, PVMM_RANDOM_MAX + 1ull), -PVMM_EINVAL);
	assert_int_equal(random_call(f, BUF_GPA, UINT64_MAX), -PVMM_EINVAL);
	assert_memory_equal(gpa_ptr(f, BUF_GPA, 64), zero, 64); /* no effect */
}

static void test_random_outside_ram_is_efault(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(random_call(f, RAM_SIZE, 1), -PVMM_EFAULT);
	assert_int_equal(random_call(f, RAM_SIZE - 8, 16), -PVMM_EFAULT);
	assert_int_equal(random_call(f, UINT64_MAX - 7, 16), -PVMM_EFAULT);
}

/* ---- stats (1.5) ------------------------------------------------------------- */

static int64_t stats_call(struct fixture *f, uint64_t buf, uint64_t len)
{
	struct pvmm_stats_args a = { .ret = 0x7777, .buf = buf, .len = len };
	do_call(f, PVMM_CALL_STATS, BLOCK_GPA, &a, sizeof(a));
	assert_int_equal(a.buf, buf);
	return a.ret;
}

/* Two vCPUs' exits and two virtio devices' kicks and interrupts, summed. */
static void test_stats_sums_vcpus_and_devices(void **state)
{
	struct fixture *f = *state;
	static struct vcpu_stats v0, v1;
	static struct virtio_dev d0, d1;
	memset(&v0, 0, sizeof v0);
	memset(&v1, 0, sizeof v1);
	v0.exits[KVM_EXIT_IO] = 10;
	v0.exits[KVM_EXIT_MMIO] = 3;
	v1.exits[KVM_EXIT_IO] = 5;
	v1.exits[KVM_EXIT_HLT] = 2;
	v1.exits[KVM_EXIT_INTR] = 7;
	f->vm.stats.vcpu[0] = &v0;
	f->vm.stats.vcpu[1] = &v1;
	f->vm.stats.vcpu_count = 2;
	d0.stats = (struct virtio_stats){ .kicks = 100, .interrupts = 40 };
	d1.stats = (struct virtio_stats){ .kicks = 1, .interrupts = 2 };
	f->vm.virtio[0] = &d0;
	f->vm.virtio[1] = &d1;
	f->vm.virtio_count = 2;
	f->vm.stats.calls[PVMM_CALL_POLL] = 4;
	f->vm.stats.upcalls = 9;
	f->vm.stats.start_ns = stats_now_ns();

	struct pvmm_vm_stats *st = gpa_ptr(f, BUF_GPA, sizeof *st);
	memset(st, 0xee, sizeof *st);
	assert_int_equal(stats_call(f, BUF_GPA, sizeof *st), sizeof *st);
	assert_int_equal(st->exits, 27);
	assert_int_equal(st->exits_io, 15);
	assert_int_equal(st->exits_mmio, 3);
	assert_int_equal(st->exits_hlt, 2);
	assert_int_equal(st->polls, 4);
	assert_int_equal(st->calls, 5); /* the 4 polls and this call */
	assert_int_equal(st->kicks, 101);
	assert_int_equal(st->interrupts, 42);
	assert_int_equal(st->upcalls, 9);
	assert_true(st->uptime_ns < 60ull * 1000000000u);
	f->vm.stats.vcpu_count = 0;
	f->vm.virtio_count = 0;
}

/* A shorter struct (an older guest's) gets its fields and nothing beyond;
 * a longer buffer gets the whole struct and its tail is left alone. */
static void test_stats_short_and_long_buffers(void **state)
{
	struct fixture *f = *state;
	uint8_t *buf = gpa_ptr(f, BUF_GPA, 256);
	memset(buf, 0xee, 256);
	assert_int_equal(stats_call(f, BUF_GPA, 16), 16);
	assert_int_equal(buf[16], 0xee);
	assert_int_equal(stats_call(f, BUF_GPA, 256), sizeof(struct pvmm_vm_stats));
	assert_int_equal(buf[sizeof(struct pvmm_vm_stats)], 0xee);
}

static void test_stats_bad_buffer(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(stats_call(f, BUF_GPA, 0), -PVMM_EINVAL);
	assert_int_equal(stats_call(f, BUF_GPA, 7), -PVMM_EINVAL);
	assert_int_equal(stats_call(f, RAM_SIZE, 8), -PVMM_EFAULT);
	assert_int_equal(stats_call(f, RAM_SIZE - 8, sizeof(struct pvmm_vm_stats)), -PVMM_EFAULT);
	assert_int_equal(stats_call(f, UINT64_MAX - 7, 16), -PVMM_EFAULT);
	/* A huge len is capped at the struct's size, not refused. */
	assert_int_equal(stats_call(f, BUF_GPA, UINT64_MAX), sizeof(struct pvmm_vm_stats));
	assert_false(f->vm.stopped);
}

/* ---- exit and abort ---------------------------------------------------------- */

static void test_exit_stops_with_status(void **state)
{
	struct fixture *f = *state;
	exit_call(f, 5);
	assert_true(f->vm.stopped);
	assert_int_equal(f->vm.status, 5);
}

static void test_exit_zero_and_max_status(void **state)
{
	struct fixture *f = *state;
	exit_call(f, 0);
	assert_true(f->vm.stopped);
	assert_int_equal(f->vm.status, 0);

	f->vm.stopped = false;
	exit_call(f, PVMM_STATUS_GUEST_MAX);
	assert_true(f->vm.stopped);
	assert_int_equal(f->vm.status, PVMM_STATUS_GUEST_MAX);
}

static void test_exit_status_above_63_is_einval(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(exit_call(f, 64), -PVMM_EINVAL);
	assert_false(f->vm.stopped);
	/* A status that would truncate to a small int must not slip through. */
	assert_int_equal(exit_call(f, (1ull << 32) + 5), -PVMM_EINVAL);
	assert_int_equal(exit_call(f, UINT64_MAX), -PVMM_EINVAL);
	assert_false(f->vm.stopped);
}

static void test_first_stop_wins(void **state)
{
	struct fixture *f = *state;
	mute_stderr(f);
	exit_call(f, 7);
	abort_call(f, PVMM_ABORT_PANIC, 0, 0, 0);
	assert_int_equal(f->vm.status, 7);
}

static void test_abort_panic_stops_with_abort_status(void **state)
{
	struct fixture *f = *state;
	memcpy(gpa_ptr(f, BUF_GPA, 4), "boom", 4);
	mute_stderr(f);
	assert_int_equal(abort_call(f, PVMM_ABORT_PANIC, 0, BUF_GPA, 4), 0);
	assert_true(f->vm.stopped);
	assert_int_equal(f->vm.status, PVMM_STATUS_ABORT);
}

static void test_abort_fault_stops_with_fault_status(void **state)
{
	struct fixture *f = *state;
	mute_stderr(f);
	assert_int_equal(abort_call(f, PVMM_ABORT_FAULT, 0, 0, 0), 0);
	assert_true(f->vm.stopped);
	assert_int_equal(f->vm.status, PVMM_STATUS_FAULT);
}

static void test_abort_unknown_kind_is_einval(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(abort_call(f, 2, 0, 0, 0), -PVMM_EINVAL);
	assert_int_equal(abort_call(f, UINT32_MAX, 0, 0, 0), -PVMM_EINVAL);
	assert_false(f->vm.stopped);
}

static void test_abort_reserved_nonzero_is_einval(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(abort_call(f, PVMM_ABORT_PANIC, 1, 0, 0), -PVMM_EINVAL);
	assert_false(f->vm.stopped);
}

static void test_abort_message_outside_ram_still_stops(void **state)
{
	/* The guest is failing anyway: a bad message pointer must not keep
	 * the VM running; the report says where the message was instead. */
	struct fixture *f = *state;
	char log[4096];
	int64_t ret = abort_capturing_log(f, PVMM_ABORT_PANIC, RAM_SIZE + 0x1000, 10, log, sizeof(log));
	assert_int_equal(ret, 0);
	assert_true(f->vm.stopped);
	assert_int_equal(f->vm.status, PVMM_STATUS_ABORT);
	assert_non_null(strstr(log, "outside guest RAM"));
}

static void test_abort_long_message_is_truncated_not_refused(void **state)
{
	struct fixture *f = *state;
	memset(gpa_ptr(f, BUF_GPA, 4096), 'm', 4096);
	mute_stderr(f);
	assert_int_equal(abort_call(f, PVMM_ABORT_PANIC, 0, BUF_GPA, UINT64_MAX), 0);
	assert_true(f->vm.stopped);
	assert_int_equal(f->vm.status, PVMM_STATUS_ABORT);
}

static void test_abort_message_is_sanitized_in_log(void **state)
{
	/* The guest's ESC must come out escaped, never raw. */
	struct fixture *f = *state;
	static const char msg[] = "bad\x1b[2Jthing";
	char log[4096];

	memcpy(gpa_ptr(f, BUF_GPA, sizeof(msg) - 1), msg, sizeof(msg) - 1);
	abort_capturing_log(f, PVMM_ABORT_PANIC, BUF_GPA, sizeof(msg) - 1, log, sizeof(log));
	assert_true(f->vm.stopped);
	assert_null(strchr(log, 0x1b));
	assert_non_null(strstr(log, "guest aborted: bad\\x1b[2Jthing"));
}

/* ---- CPU_START ----------------------------------------------------------- */

#define ENTRY_GPA 0x100000ull
#define STACK_TOP 0x200000ull

static int64_t cpu_start_call(struct fixture *f, uint32_t cpu, uint32_t reserved, uint64_t entry, uint64_t stack)
{
	struct pvmm_cpu_start_args a = { .ret = 0x7777, .cpu = cpu, .reserved = reserved, .entry = entry,
					 .stack = stack, .arg = 0xa5a5 };
	do_call(f, PVMM_CALL_CPU_START, BLOCK_GPA, &a, sizeof(a));
	return a.ret;
}

static void assert_no_cpu_started(struct fixture *f)
{
	for (unsigned i = 1; i < CPUS; i++)
		assert_int_equal(f->cpus[i].state, VCPU_WAITING);
	assert_false(f->vm.stopped);
}

static void test_cpu_start_starts_a_waiting_cpu(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(cpu_start_call(f, 2, 0, ENTRY_GPA, STACK_TOP), 0);
	assert_int_equal(f->cpus[2].state, VCPU_STARTING);
	assert_int_equal(f->cpus[2].start_rip, ENTRY_GPA);
	assert_int_equal(f->cpus[2].start_rsp, STACK_TOP);
	assert_int_equal(f->cpus[2].start_rdi, 0xa5a5);
	assert_int_equal(f->cpus[1].state, VCPU_WAITING);
	assert_int_equal(f->cpus[3].state, VCPU_WAITING);
	assert_int_equal(f->vm.stats.calls[PVMM_CALL_CPU_START], 1);
	assert_false(f->vm.stopped);
}

static void test_cpu_start_twice_is_ebusy(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(cpu_start_call(f, 3, 0, ENTRY_GPA, STACK_TOP), 0);
	assert_int_equal(cpu_start_call(f, 3, 0, ENTRY_GPA + 0x40, STACK_TOP - 0x100), -PVMM_EBUSY);
	/* The first start's registers stand. */
	assert_int_equal(f->cpus[3].start_rip, ENTRY_GPA);
	assert_int_equal(f->cpus[3].start_rsp, STACK_TOP);
}

static void test_cpu_start_cpu0_is_einval(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(cpu_start_call(f, 0, 0, ENTRY_GPA, STACK_TOP), -PVMM_EINVAL);
	assert_no_cpu_started(f);
}

static void test_cpu_start_index_out_of_range_is_einval(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(cpu_start_call(f, CPUS, 0, ENTRY_GPA, STACK_TOP), -PVMM_EINVAL);
	assert_int_equal(cpu_start_call(f, PVMM_MAX_CPUS, 0, ENTRY_GPA, STACK_TOP), -PVMM_EINVAL);
	assert_int_equal(cpu_start_call(f, UINT32_MAX, 0, ENTRY_GPA, STACK_TOP), -PVMM_EINVAL);
	assert_no_cpu_started(f);
}

static void test_cpu_start_reserved_nonzero_is_einval(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(cpu_start_call(f, 1, 1, ENTRY_GPA, STACK_TOP), -PVMM_EINVAL);
	assert_no_cpu_started(f);
}

static void test_cpu_start_misaligned_stack_is_einval(void **state)
{
	struct fixture *f = *state;
	for (uint64_t off = 1; off < 16; off++)
		assert_int_equal(cpu_start_call(f, 1, 0, ENTRY_GPA, STACK_TOP - off), -PVMM_EINVAL);
	/* Alignment is a value check: it comes before the range check. */
	assert_int_equal(cpu_start_call(f, 1, 0, ENTRY_GPA, RAM_SIZE + 8), -PVMM_EINVAL);
	assert_no_cpu_started(f);
}

static void test_cpu_start_entry_outside_ram_is_efault(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(cpu_start_call(f, 1, 0, RAM_SIZE, STACK_TOP), -PVMM_EFAULT);
	assert_int_equal(cpu_start_call(f, 1, 0, UINT64_MAX, STACK_TOP), -PVMM_EFAULT);
	assert_no_cpu_started(f);
}

static void test_cpu_start_stack_outside_ram_is_efault(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(cpu_start_call(f, 1, 0, ENTRY_GPA, RAM_SIZE + 16), -PVMM_EFAULT);
	assert_int_equal(cpu_start_call(f, 1, 0, ENTRY_GPA, 0), -PVMM_EFAULT); /* nothing below it */
	assert_int_equal(cpu_start_call(f, 1, 0, ENTRY_GPA, UINT64_MAX & ~15ull), -PVMM_EFAULT);
	assert_no_cpu_started(f);
	/* The very top of RAM is a valid stack top. */
	assert_int_equal(cpu_start_call(f, 1, 0, ENTRY_GPA, RAM_SIZE), 0);
}

/* ---- pause, resume and stops -------------------------------------------------- */

static char hook_log[16];

static void hook_note(char c)
{
	size_t n = strlen(hook_log);
	if (n + 1 < sizeof(hook_log))
		hook_log[n] = c, hook_log[n + 1] = '\0';
}

static void quiesce_a(void *opaque) { (void)opaque; hook_note('a'); }
static void resume_a(void *opaque) { (void)opaque; hook_note('A'); }
static void quiesce_b(void *opaque) { (void)opaque; hook_note('b'); }
static void resume_b(void *opaque) { *(int *)opaque += 1; hook_note('B'); }

static void test_pause_runs_hooks_and_resume_reverses_them(void **state)
{
	struct fixture *f = *state;
	int resumed = 0;

	hook_log[0] = '\0';
	assert_int_equal(vm_add_hook(&f->vm, quiesce_a, resume_a, NULL), 0);
	assert_int_equal(vm_add_hook(&f->vm, quiesce_b, resume_b, &resumed), 0);
	assert_int_equal(vm_pause(&f->vm), 0);
	assert_string_equal(hook_log, "ab");
	assert_int_equal(vm_pause(&f->vm), 0); /* already paused: no second quiesce */
	assert_string_equal(hook_log, "ab");
	vm_resume(&f->vm);
	assert_string_equal(hook_log, "abBA");
	assert_int_equal(resumed, 1);
	vm_resume(&f->vm); /* not paused: nothing */
	assert_string_equal(hook_log, "abBA");
}

static void test_hook_list_is_bounded(void **state)
{
	struct fixture *f = *state;
	for (unsigned i = 0; i < VM_MAX_HOOKS; i++)
		assert_int_equal(vm_add_hook(&f->vm, quiesce_a, resume_a, NULL), 0);
	assert_int_equal(vm_add_hook(&f->vm, quiesce_a, resume_a, NULL), -1);
}

static void test_pause_of_a_stopped_vm_fails(void **state)
{
	struct fixture *f = *state;
	hook_log[0] = '\0';
	assert_int_equal(vm_add_hook(&f->vm, quiesce_a, resume_a, NULL), 0);
	vm_stop(&f->vm, PVMM_STATUS_SIGNAL);
	assert_int_equal(vm_pause(&f->vm), -1);
	assert_string_equal(hook_log, "");
}

static void test_guest_clock_stands_still_while_paused(void **state)
{
	struct fixture *f = *state;
	uint64_t before, after;

	assert_int_equal(clock_call(f, PVMM_CLOCK_MONOTONIC, 0, &before), 0);
	assert_int_equal(vm_pause(&f->vm), 0);
	usleep(300 * 1000);
	vm_resume(&f->vm);
	assert_int_equal(clock_call(f, PVMM_CLOCK_MONOTONIC, 0, &after), 0);
	assert_true(after >= before); /* never goes back */
	/* 300 ms passed on the host; the guest saw only the calls around it. */
	if (after - before >= 250 * 1000000ull)
		fail_msg("guest clock advanced %llu ns across a 300 ms pause", (unsigned long long)(after - before));
}

/* The writer is a vCPU thread in pvmm: a stop kicks it with
 * VCPU_KICK_SIGNAL (repeatedly, until it has left), which interrupts a
 * write blocked on a full pipe. This does the same for the test thread. */
struct stop_later_arg {
	struct vm *vm;
	pthread_t writer;
	volatile bool done;
};

static void on_test_kick(int sig)
{
	(void)sig;
}

static void *stop_later(void *opaque)
{
	struct stop_later_arg *a = opaque;
	usleep(200 * 1000);
	vm_stop(a->vm, PVMM_STATUS_SIGNAL);
	while (!a->done) {
		pthread_kill(a->writer, VCPU_KICK_SIGNAL);
		usleep(50 * 1000);
	}
	return NULL;
}

static void test_console_write_gives_up_when_the_vm_stops(void **state)
{
	struct fixture *f = *state;
	static uint8_t fill[4096];
	pthread_t t;

	/* Fill the console pipe: nobody reads it from now on. */
	assert_int_equal(fcntl(f->vm.console_out_fd, F_SETFL, O_NONBLOCK), 0);
	while (write(f->vm.console_out_fd, fill, sizeof(fill)) > 0)
		;
	assert_int_equal(fcntl(f->vm.console_out_fd, F_SETFL, 0), 0);

	memset(gpa_ptr(f, BUF_GPA, 4096), 'x', 4096);
	struct sigaction kick = { .sa_handler = on_test_kick }, old; /* no SA_RESTART */
	sigemptyset(&kick.sa_mask);
	assert_int_equal(sigaction(VCPU_KICK_SIGNAL, &kick, &old), 0);
	struct stop_later_arg a = { .vm = &f->vm, .writer = pthread_self() };
	assert_int_equal(pthread_create(&t, NULL, stop_later, &a), 0);
	int64_t ret = console_call(f, PVMM_CALL_CONSOLE_WRITE, BUF_GPA, 4096);
	a.done = true;
	pthread_join(t, NULL);
	sigaction(VCPU_KICK_SIGNAL, &old, NULL);
	/* Returned (did not block for good), wrote nothing, counted the loss. */
	assert_int_equal(ret, -PVMM_EIO);
	assert_true(f->vm.stopped);
	assert_int_equal(f->vm.stats.console_bytes_dropped, 4096);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup_vm, teardown_vm)
	const struct CMUnitTest tests[] = {
		T(test_wake_cpu_out_of_range_is_einval),
		T(test_wake_reserved_nonzero_is_einval),
		T(test_wake_then_poll_returns_at_once_and_consumes),
		T(test_wake_is_counted_with_ready_devices),
		T(test_poll_without_wake_bit_keeps_the_wake),
		T(test_wake_reaches_only_its_cpu),
		T(test_wake_ends_a_blocked_poll),
		T(test_wake_has_a_call_name),
		T(test_cpu_start_starts_a_waiting_cpu),
		T(test_cpu_start_twice_is_ebusy),
		T(test_cpu_start_cpu0_is_einval),
		T(test_cpu_start_index_out_of_range_is_einval),
		T(test_cpu_start_reserved_nonzero_is_einval),
		T(test_cpu_start_misaligned_stack_is_einval),
		T(test_cpu_start_entry_outside_ram_is_efault),
		T(test_cpu_start_stack_outside_ram_is_efault),
		T(test_pause_runs_hooks_and_resume_reverses_them),
		T(test_hook_list_is_bounded),
		T(test_pause_of_a_stopped_vm_fails),
		T(test_guest_clock_stands_still_while_paused),
		T(test_console_write_gives_up_when_the_vm_stops),
		T(test_nop_returns_zero),
		T(test_unknown_call_returns_enosys),
		T(test_unknown_call_15_touches_only_ret),
		T(test_block_outside_ram_stops_with_badcall),
		T(test_block_straddling_end_of_ram_stops_with_badcall),
		T(test_block_far_outside_ram_stops_with_badcall),
		T(test_misaligned_block_stops_with_badcall),
		T(test_call_counters_count_each_call),
		T(test_console_write_reaches_output),
		T(test_console_write_passes_bytes_unchanged),
		T(test_console_write_len_zero),
		T(test_console_write_outside_ram_is_efault),
		T(test_console_write_huge_len_is_einval),
		T(test_console_write_to_failing_fd_is_eio),
		T(test_console_read_returns_pending_input),
		T(test_console_read_respects_len),
		T(test_console_read_empty_is_eagain),
		T(test_console_read_after_close_is_eof_and_stays_eof),
		T(test_console_read_without_input_fd_is_eof),
		T(test_console_read_len_zero_consumes_nothing),
		T(test_console_read_bad_buffer_consumes_nothing),
		T(test_clock_monotonic_advances),
		T(test_clock_wall_is_near_time),
		T(test_clock_unknown_id_is_einval),
		T(test_clock_reserved_nonzero_is_einval),
		T(test_poll_past_deadline_no_input_returns_zero),
		T(test_poll_with_input_reports_console_ready),
		T(test_poll_ready_is_subset_of_interest),
		T(test_poll_end_of_input_counts_as_ready),
		T(test_poll_unknown_device_is_einval),
		T(test_poll_waits_until_deadline),
		T(test_poll_without_interest_waits_until_deadline),
		T(test_poll_virtio_device_ready_is_consumed),
		T(test_poll_virtio_device_not_in_interest_stays_ready),
		T(test_poll_device_zero_is_always_the_console),
		T(test_poll_wakes_on_device_interrupt),
		T(test_random_fills_buffer),
		T(test_random_max_len_is_accepted),
		T(test_random_too_long_is_einval),
		T(test_random_outside_ram_is_efault),
		T(test_stats_sums_vcpus_and_devices),
		T(test_stats_short_and_long_buffers),
		T(test_stats_bad_buffer),
		T(test_exit_stops_with_status),
		T(test_exit_zero_and_max_status),
		T(test_exit_status_above_63_is_einval),
		T(test_first_stop_wins),
		T(test_abort_panic_stops_with_abort_status),
		T(test_abort_fault_stops_with_fault_status),
		T(test_abort_unknown_kind_is_einval),
		T(test_abort_reserved_nonzero_is_einval),
		T(test_abort_message_outside_ram_still_stops),
		T(test_abort_long_message_is_truncated_not_refused),
		T(test_abort_message_is_sanitized_in_log),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
