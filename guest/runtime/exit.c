/* Ways out: exit, abort, assert, panic. All flush stdout first (and wait
 * for an asynchronous console to take it) so output printed before the
 * end is not lost. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pvmm/guest.h>
#include "runtime.h"

void exit(int status)
{
	stdio_drain();
	if (status < 0 || status > PVMM_EXIT_STATUS_MAX)
		panic("exit(%d): status outside 0..63", status);
	pvmm_exit((uint64_t)status);
}

void runtime_abort(const char *msg)
{
	stdio_drain();
	pvmm_abort(msg, strlen(msg));
}

void abort(void)
{
	runtime_abort("abort() called");
}

/* Messages longer than the monitor shows are cut anyway. */
static char panic_msg[PVMM_ABORT_MSG_MAX];

void panic(const char *fmt, ...)
{
	stdio_drain();
	va_list ap;
	va_start(ap, fmt);
	int len = vsnprintf(panic_msg, sizeof(panic_msg), fmt, ap);
	va_end(ap);
	if (len < 0)
		len = 0;
	if ((size_t)len >= sizeof(panic_msg))
		len = sizeof(panic_msg) - 1;
	pvmm_abort(panic_msg, (size_t)len);
}

void __pvmm_assert_fail(const char *expr, const char *file, int line, const char *func)
{
	panic("%s:%d: %s: assertion `%s' failed", file, line, func, expr);
}
