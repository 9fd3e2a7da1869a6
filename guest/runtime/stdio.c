/*
 * stdout/stderr: a static buffer written to the console: the para console,
 * or the virtio console once the runtime has switched to it (see
 * virtio_console.c; stdio_set_sink).
 *
 * Line buffered: an output call that wrote a newline flushes the buffer at
 * its end, so each printf of a line costs one console-write exit (and a
 * multi-line printf still one); a full buffer flushes on its own, as do
 * fflush, exit, abort and the exception handler. (A flush to the virtio
 * console is only a copy into its transmit buffer, which batches: see
 * virtio_console.c; stdio_before_wait sends what it holds before the
 * runtime blocks.) stderr shares the buffer,
 * so stdout and stderr text never reorder, and flushes after every call.
 *
 * Several CPUs: every output call holds stdio_lock (a blocking lock: a
 * console write may wait in the monitor), so each call's text comes out
 * whole. The holder's CPU is remembered: a CPU that enters again while it
 * holds the lock (its exception handler flushing after a fault inside
 * printf) goes ahead rather than waiting for itself. An exception handler
 * on a VM with several CPUs has no CPU id; it waits at most a second.
 * A VM with one CPU takes no lock at all.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <pvmm/guest.h>
#include <pvmm/smp.h>
#include "runtime.h"

struct pvmm_file {
	int unbuffered; /* flush after every call (stderr) */
};

static struct pvmm_file stdout_file = { 0 };
static struct pvmm_file stderr_file = { 1 };
FILE *const stdout = &stdout_file;
FILE *const stderr = &stderr_file;

static char console_buf[2048];

static pvmm_spinlock_t stdio_lock = PVMM_SPINLOCK_INIT;
static unsigned stdio_owner = PVMM_CPU_NONE; /* CPU holding stdio_lock (relaxed atomic) */

/* Take stdio_lock; false if the caller must not release it (it holds it
 * already, or gave up waiting). */
static __attribute__((noinline)) bool stdio_lock_smp(void)
{
	unsigned self = pvmm_cpu_id();
	if (self != PVMM_CPU_NONE && __atomic_load_n(&stdio_owner, __ATOMIC_RELAXED) == self)
		return false;
	if (self == PVMM_CPU_NONE) {
		if (!smp_lock_timed(&stdio_lock, PVMM_NS_PER_S))
			return false;
	} else {
		pvmm_spin_lock_blocking(&stdio_lock);
	}
	__atomic_store_n(&stdio_owner, self, __ATOMIC_RELAXED);
	return true;
}

/* One CPU: nothing to exclude, and a handler that interrupts an output
 * call would go ahead anyway (its CPU holds the lock). Skipping the lock
 * (two instructions instead of some fifty) matters where CPL0 guest code
 * is interpreted, one instruction at a time. */
static inline bool stdio_enter(void)
{
	if (runtime_one_cpu)
		return false;
	return stdio_lock_smp();
}

static void stdio_leave(bool locked)
{
	if (!locked)
		return;
	__atomic_store_n(&stdio_owner, PVMM_CPU_NONE, __ATOMIC_RELAXED);
	pvmm_spin_unlock(&stdio_lock);
}

/* Where the bytes go (NULL: the para console) and how to wait until they
 * have left (NULL: nothing to wait for, the para call is synchronous). */
static stdio_sink_fn sink;
static int (*sink_drain)(void);

void stdio_set_sink(stdio_sink_fn write, int (*drain)(void))
{
	sink = write;
	sink_drain = drain;
}

/* A sink that batches (the virtio console out of a terminal) holds
 * bytes back; stdio_before_wait hands them on before the caller blocks. */
volatile bool stdio_push_wanted;
static void (*sink_push)(void);

void stdio_set_push(void (*push)(void))
{
	sink_push = push;
}

void stdio_before_wait_slow(void)
{
	if (!sink_push)
		return;
	if (runtime_one_cpu) {
		sink_push();
		return;
	}
	/* Several CPUs: only if no output call is under way (the one that
	 * is, on this CPU or another, pushes or is about to; never wait
	 * here: this runs inside waits, the stdio lock's own included). */
	if (!pvmm_spin_trylock(&stdio_lock))
		return;
	__atomic_store_n(&stdio_owner, pvmm_cpu_id(), __ATOMIC_RELAXED);
	sink_push();
	stdio_leave(true);
}

static void console_full(struct fmt_out *out)
{
	const char *p = out->buf;
	size_t n = out->pos;
	/* pos never exceeds the buffer, far below PVMM_CONSOLE_MAX, so one
	 * call normally does it; go round on a short write. */
	while (n) {
		int64_t ret = sink ? sink(p, n) : pvmm_console_write(p, n);
		if (ret <= 0)
			break; /* nothing sensible to do: drop it */
		p += ret;
		n -= (size_t)ret;
	}
	out->pos = 0;
}

static struct fmt_out console_out = {
	.buf = console_buf,
	.cap = sizeof(console_buf),
	.full = console_full,
};

static void flush_locked(void)
{
	if (console_out.pos)
		console_full(&console_out);
}

void stdio_flush(void)
{
	bool locked = stdio_enter();
	flush_locked();
	stdio_leave(locked);
}

void stdio_drain(void)
{
	bool locked = stdio_enter();
	flush_locked();
	if (sink_drain)
		sink_drain();
	stdio_leave(locked);
}

/* End of an output call on f that began when console_out.total was
 * `before`: flush if the stream wants it or the call completed a line.
 * Only the bytes this call added are searched (what was pending before
 * held no newline, or it would have been flushed): a long run of
 * newline-free putchar calls stays linear. Caller holds stdio_lock. */
static int finish(FILE *f, size_t before)
{
	size_t added = console_out.total - before;
	/* A flush during the call leaves only this call's bytes pending. */
	size_t pos = console_out.pos;
	size_t start = pos > added ? pos - added : 0;
	/* Most lines end the call: no need to search them. */
	if (f->unbuffered || (pos > start && console_buf[pos - 1] == '\n') ||
	    memchr(console_buf + start, '\n', pos - start))
		flush_locked();
	size_t n = added;
	return n > 0x7fffffff ? 0x7fffffff : (int)n;
}

/* printf, fprintf, snprintf, sprintf (the variadic ones) are in printf.c. */
int vfprintf(FILE *f, const char *fmt, va_list ap)
{
	bool locked = stdio_enter();
	size_t before = console_out.total;
	fmt_vformat(&console_out, fmt, ap);
	int n = finish(f, before);
	stdio_leave(locked);
	return n;
}

int vprintf(const char *fmt, va_list ap)
{
	return vfprintf(stdout, fmt, ap);
}

size_t fwrite(const void *p, size_t size, size_t count, FILE *f)
{
	if (size == 0 || count == 0)
		return 0;
	bool locked = stdio_enter();
	size_t before = console_out.total;
	fmt_write(&console_out, p, size * count);
	finish(f, before);
	stdio_leave(locked);
	return count;
}

int fputs(const char *s, FILE *f)
{
	bool locked = stdio_enter();
	size_t before = console_out.total;
	fmt_write(&console_out, s, strlen(s));
	int n = finish(f, before);
	stdio_leave(locked);
	return n;
}

int puts(const char *s)
{
	bool locked = stdio_enter();
	size_t before = console_out.total;
	fmt_write(&console_out, s, strlen(s));
	fmt_put(&console_out, '\n');
	int n = finish(stdout, before);
	stdio_leave(locked);
	return n;
}

int fputc(int c, FILE *f)
{
	bool locked = stdio_enter();
	size_t before = console_out.total;
	fmt_put(&console_out, (char)c);
	finish(f, before);
	stdio_leave(locked);
	return (unsigned char)c;
}

int putchar(int c)
{
	return fputc(c, stdout);
}

int fflush(FILE *f)
{
	(void)f;
	stdio_drain();
	return 0;
}

/* snprintf: the buffer is the caller's; keep one byte for the NUL. */
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct fmt_out out = {
		.buf = buf,
		.cap = size ? size - 1 : 0,
	};
	fmt_vformat(&out, fmt, ap);
	if (size)
		buf[out.pos] = '\0';
	return out.total > 0x7fffffff ? -1 : (int)out.total;
}
