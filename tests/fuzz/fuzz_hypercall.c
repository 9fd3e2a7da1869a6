/*
 * Fuzz target: hypercall_handle() (src/hypercall.c), the para-API.
 *
 * A struct vm is put together by hand as in tests/unit/test_hypercall.c:
 * 64 KiB of malloc'd guest RAM (ASan sees past its end), the console
 * writing to /dev/null and reading from a pipe the input fills, and
 * devices 1.. with non-blocking eventfds as their ready fds, some already
 * signalled. Then a sequence of calls with hostile argument blocks.
 *
 * Input:
 *   u8  setup      bits 0-3: device_count - 1; bit 4: no console input fd;
 *                  bit 5: console input ends (write end closed)
 *   u8  n, then n (mod 64) bytes of console input
 *   u16 has_fd     bit i: device i has a ready eventfd
 *   u16 ready      bit i: that eventfd is signalled before the first call
 *   then up to MAX_CALLS calls, until the input ends or the VM stops:
 *     u8 call      bits 0-3: call number (any port of the para-API range);
 *                  bit 7: a full u64 GPA follows, else a u16 one
 *     u16|u64 gpa  the argument block
 *     u8 len, then len bytes written to RAM at gpa (clipped to RAM)
 *
 * POLL never blocks here: a deadline in the future is moved to "now",
 * which keeps the zero-wait path and everything it reads fuzzed.
 *
 * Checked besides memory safety: a block outside RAM or misaligned stops
 * the VM with PVMM_STATUS_BADCALL and nothing else does; a served call's
 * `ret` is a byte count no larger than asked or one of the para-API's
 * error codes; EXIT stops with the guest's status.
 */
#include <fcntl.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <pvmm/para.h>

#include "fuzz_common.h"
#include "guest_mem.h"
#include "hypercall.h"
#include "stats.h"
#include "status.h"
#include "vm.h"

#define RAM_BYTES 0x10000u
#define MAX_CALLS 16

static uint8_t *ram;
static int dev_null = -1;
static int ready_fds[PVMM_MAX_DEVICES];

/* The block each call reads, as hypercall.c sizes them. */
static uint64_t block_bytes(unsigned call)
{
	switch (call) {
	case PVMM_CALL_NOP: return sizeof(struct pvmm_nop_args);
	case PVMM_CALL_CONSOLE_WRITE:
	case PVMM_CALL_CONSOLE_READ: return sizeof(struct pvmm_console_args);
	case PVMM_CALL_EXIT: return sizeof(struct pvmm_exit_args);
	case PVMM_CALL_ABORT: return sizeof(struct pvmm_abort_args);
	case PVMM_CALL_CLOCK: return sizeof(struct pvmm_clock_args);
	case PVMM_CALL_POLL: return sizeof(struct pvmm_poll_args);
	case PVMM_CALL_RANDOM: return sizeof(struct pvmm_random_args);
	case PVMM_CALL_CPU_START: return sizeof(struct pvmm_cpu_start_args);
	case PVMM_CALL_WAKE: return sizeof(struct pvmm_wake_args);
	case PVMM_CALL_MMU: return sizeof(struct pvmm_mmu_args);
	case PVMM_CALL_UPCALL: return sizeof(struct pvmm_upcall_args);
	case PVMM_CALL_STATS: return sizeof(struct pvmm_stats_args);
	default: return sizeof(int64_t); /* no such call: the block is `ret` */
	}
}
/* A new call needs its block size above, or the harness checks the wrong
 * range for it (the two tables must agree). */
_Static_assert(PVMM_CALL_COUNT == 13, "fuzz_hypercall: give block_bytes() the new call's block");

static void init_once(void)
{
	ram = malloc(RAM_BYTES);
	FUZZ_CHECK(ram);
	dev_null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	FUZZ_CHECK(dev_null >= 0);
	ready_fds[0] = -1;
	for (unsigned i = 1; i < PVMM_MAX_DEVICES; i++) {
		ready_fds[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		FUZZ_CHECK(ready_fds[i] >= 0);
	}
}

static bool is_error(int64_t ret)
{
	return ret == -PVMM_EFAULT || ret == -PVMM_EINVAL || ret == -PVMM_ENOSYS || ret == -PVMM_EAGAIN ||
	       ret == -PVMM_EIO;
}

/* `ret` after a call served from the block at `b` (a copy of the args). */
static void check_result(const struct vm *vm, unsigned call, const uint8_t *b)
{
	int64_t ret;
	memcpy(&ret, b, sizeof(ret));
	if (ret < 0) {
		FUZZ_CHECK(is_error(ret));
		FUZZ_CHECK(call != PVMM_CALL_NOP);
		return;
	}
	switch (call) {
	case PVMM_CALL_CONSOLE_WRITE:
	case PVMM_CALL_CONSOLE_READ:
	case PVMM_CALL_RANDOM: {
		struct pvmm_console_args a; /* RANDOM's block has the same shape */
		memcpy(&a, b, sizeof(a));
		FUZZ_CHECK((uint64_t)ret <= a.len);
		if (call == PVMM_CALL_RANDOM)
			FUZZ_CHECK((uint64_t)ret == a.len);
		break;
	}
	case PVMM_CALL_EXIT: {
		struct pvmm_exit_args a;
		memcpy(&a, b, sizeof(a));
		FUZZ_CHECK(vm->stopped && vm->status == (int)a.status);
		break;
	}
	case PVMM_CALL_POLL: {
		struct pvmm_poll_args a;
		memcpy(&a, b, sizeof(a));
		FUZZ_CHECK((a.ready & ~a.interest) == 0 && ret == __builtin_popcountll(a.ready));
		break;
	}
	case PVMM_CALL_STATS: {
		/* The whole struct or the guest's shorter one, never more. */
		struct pvmm_stats_args a;
		memcpy(&a, b, sizeof(a));
		FUZZ_CHECK(a.len >= 8);
		FUZZ_CHECK((uint64_t)ret == (a.len < sizeof(struct pvmm_vm_stats) ? a.len : sizeof(struct pvmm_vm_stats)));
		break;
	}
	case PVMM_CALL_NOP:
	case PVMM_CALL_ABORT:
	case PVMM_CALL_CLOCK:
		FUZZ_CHECK(ret == 0);
		break;
	default:
		FUZZ_CHECK(!"an unknown call succeeded");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = fuzz_in(data, size);
	struct vm vm;
	int console[2] = { -1, -1 };

	if (!ram)
		init_once();
	memset(ram, 0, RAM_BYTES);
	memset(&vm, 0, sizeof(vm));
	vm.kvm_fd = vm.vm_fd = vm.vcpu_fd = -1;
	vm.mem.host = ram;
	vm.mem.size = RAM_BYTES;
	vm.console_out_fd = dev_null;
	vm.mono_base_ns = stats_now_ns();

	uint8_t setup = fuzz_u8(&in);
	vm.device_count = (setup & 0x0f) + 1u;
	uint8_t input[64];
	size_t input_len = fuzz_bytes(&in, input, fuzz_u8(&in) % sizeof(input));
	if (setup & 0x10) {
		vm.console_in_fd = -1;
	} else {
		FUZZ_CHECK(pipe2(console, O_CLOEXEC) == 0);
		FUZZ_CHECK(write(console[1], input, input_len) == (ssize_t)input_len);
		if (setup & 0x20) {
			close(console[1]);
			console[1] = -1;
		}
		vm.console_in_fd = console[0];
	}

	uint16_t has_fd = fuzz_u16(&in), ready = fuzz_u16(&in);
	vm.ready_fd[0] = -1;
	vm.devices[0].type = PVMM_DEV_CONSOLE;
	for (unsigned i = 1; i < PVMM_MAX_DEVICES; i++) {
		uint64_t count;
		while (read(ready_fds[i], &count, sizeof(count)) == sizeof(count))
			; /* left signalled by the previous input */
		vm.ready_fd[i] = (has_fd >> i) & 1 ? ready_fds[i] : -1;
		vm.devices[i].type = PVMM_DEV_VIRTIO_MMIO;
		if ((ready >> i) & 1) {
			count = 1;
			FUZZ_CHECK(write(ready_fds[i], &count, sizeof(count)) == sizeof(count));
		}
	}

	for (unsigned n = 0; n < MAX_CALLS && fuzz_more(&in) && !vm.stopped; n++) {
		uint8_t c = fuzz_u8(&in);
		unsigned call = c % PVMM_PORT_COUNT;
		uint64_t gpa = (c & 0x80) ? fuzz_u64(&in) : fuzz_u16(&in);
		uint8_t len = fuzz_u8(&in);
		uint8_t block[256];
		fuzz_bytes(&in, block, len);
		if (gpa < RAM_BYTES)
			memcpy(ram + gpa, block, len < RAM_BYTES - gpa ? len : RAM_BYTES - gpa);

		uint64_t bytes = block_bytes(call);
		bool block_ok = guest_mem_range_ok(&vm.mem, gpa, bytes) && !(gpa & 7);
		if (block_ok && call == PVMM_CALL_POLL) {
			struct pvmm_poll_args a;
			memcpy(&a, ram + gpa, sizeof(a));
			uint64_t now = hypercall_guest_now(&vm);
			if (a.deadline_ns > now)
				a.deadline_ns = now;
			memcpy(ram + gpa, &a, sizeof(a));
		}

		uint64_t calls_before = vm.stats.calls[call];
		hypercall_handle(&vm, call, gpa);
		if (!block_ok) {
			FUZZ_CHECK(vm.stopped && vm.status == PVMM_STATUS_BADCALL);
			break;
		}
		FUZZ_CHECK(vm.stats.calls[call] == calls_before + 1);
		FUZZ_CHECK(!vm.stopped || call == PVMM_CALL_EXIT || call == PVMM_CALL_ABORT);
		check_result(&vm, call, ram + gpa);
	}

	if (console[0] >= 0)
		close(console[0]);
	if (console[1] >= 0)
		close(console[1]);
	return 0;
}

/* ---- seeds ---------------------------------------------------------------- */

struct seed {
	uint8_t bytes[1024];
	size_t len;
};

static void put(struct seed *s, const void *v, size_t n)
{
	memcpy(s->bytes + s->len, v, n);
	s->len += n;
}

static void put8(struct seed *s, uint8_t v) { put(s, &v, 1); }
static void put16(struct seed *s, uint16_t v) { put(s, &v, 2); }

/* Header: `devices` entries, console input `text`, eventfds as given. */
static void begin(struct seed *s, uint8_t setup, const char *text, uint16_t has_fd, uint16_t ready)
{
	s->len = 0;
	put8(s, setup);
	put8(s, (uint8_t)strlen(text));
	put(s, text, strlen(text));
	put16(s, has_fd);
	put16(s, ready);
}

/* One call with its block at a 16-bit GPA. */
static void call(struct seed *s, unsigned nr, uint16_t gpa, const void *block, uint8_t len)
{
	put8(s, (uint8_t)nr);
	put16(s, gpa);
	put8(s, len);
	put(s, block, len);
}

void fuzz_seeds(fuzz_emit_fn *emit)
{
	struct seed s;

	/* The console: write some bytes, read the input, read again at EOF. */
	begin(&s, 0x20, "hello", 0, 0);
	{
		struct pvmm_console_args w = { 0, 0x2000, 5 };
		struct pvmm_console_args r = { 0, 0x3000, 16 };
		call(&s, PVMM_CALL_CONSOLE_WRITE, 0x1000, &w, sizeof(w));
		call(&s, PVMM_CALL_CONSOLE_READ, 0x1000, &r, sizeof(r));
		call(&s, PVMM_CALL_CONSOLE_READ, 0x1000, &r, sizeof(r));
	}
	emit("console", s.bytes, s.len);

	/* Clocks, random bytes, NOP, STATS, an unknown call, then EXIT. */
	begin(&s, 0x10, "", 0, 0);
	{
		struct pvmm_clock_args mono = { .clock = PVMM_CLOCK_MONOTONIC }, wall = { .clock = PVMM_CLOCK_WALL };
		struct pvmm_random_args rnd = { 0, 0x4000, 64 };
		struct pvmm_nop_args nop = { 0 };
		struct pvmm_exit_args ex = { 0, 7 };
		struct pvmm_stats_args st = { 0, 0x4800, sizeof(struct pvmm_vm_stats) };
		call(&s, PVMM_CALL_CLOCK, 0x100, &mono, sizeof(mono));
		call(&s, PVMM_CALL_CLOCK, 0x100, &wall, sizeof(wall));
		call(&s, PVMM_CALL_RANDOM, 0x200, &rnd, sizeof(rnd));
		call(&s, PVMM_CALL_NOP, 0x300, &nop, sizeof(nop));
		call(&s, PVMM_CALL_STATS, 0x500, &st, sizeof(st));
		call(&s, PVMM_CALL_COUNT, 0x300, &nop, sizeof(nop));
		call(&s, PVMM_CALL_EXIT, 0x400, &ex, sizeof(ex));
	}
	emit("calls-exit", s.bytes, s.len);

	/* POLL over four devices, two with signalled eventfds. */
	begin(&s, 0x03, "x", 0x000e, 0x000a);
	{
		struct pvmm_poll_args p = { .deadline_ns = 0, .interest = 0xf };
		call(&s, PVMM_CALL_POLL, 0x800, &p, sizeof(p));
		call(&s, PVMM_CALL_POLL, 0x800, &p, sizeof(p));
	}
	emit("poll", s.bytes, s.len);

	/* ABORT with a fault record and a message in RAM. */
	begin(&s, 0x10, "", 0, 0);
	{
		/* The NOP that puts the message in RAM overwrites its first 8 bytes. */
		const char msg[] = "\0\0\0\0\0\0\0\0assertion failed\n";
		struct pvmm_abort_args a = { .msg = 0x5008, .msg_len = sizeof(msg) - 9, .kind = PVMM_ABORT_FAULT };
		a.fault.vector = 14;
		a.fault.cr2 = 0xdead000;
		call(&s, PVMM_CALL_NOP, 0x5000, msg, sizeof(msg) - 1);
		call(&s, PVMM_CALL_ABORT, 0x6000, &a, sizeof(a));
	}
	emit("abort-fault", s.bytes, s.len);

	/* A block that straddles the end of RAM: the VM must stop. */
	begin(&s, 0x10, "", 0, 0);
	{
		struct pvmm_console_args w = { 0, 0, 1 };
		call(&s, PVMM_CALL_CONSOLE_WRITE, (uint16_t)(RAM_BYTES - 16), &w, 16);
	}
	emit("block-past-ram", s.bytes, s.len);
}
