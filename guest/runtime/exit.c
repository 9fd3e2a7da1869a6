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
	if (status > PVMM_EXIT_STATUS_MAX)
		panic("exit(%d): %d is above %d (the highest status a guest can exit with): reported as 64", status,
		      status, PVMM_EXIT_STATUS_MAX);
	if (status < 0)
		panic("exit(%d): a status below 0: reported as 64", status);
	runtime_exit_drained((uint64_t)status);
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

/* panic (variadic) is in printf.c. */

void __pvmm_assert_fail(const char *expr, const char *file, int line, const char *func)
{
	panic("%s:%d: %s: assertion `%s' failed", file, line, func, expr);
}
