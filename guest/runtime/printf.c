/*
 * The runtime's variadic entry points: printf, fprintf, snprintf, sprintf
 * and panic. Each only starts a va_list and calls its v* counterpart.
 *
 * Why a file of their own, compiled with SSE allowed (guest/guest.mk): a
 * double passed to a variadic function arrives in an XMM register, and
 * only the callee's va_start can save it (to the register save area that
 * va_arg(ap, double) in format_float.c reads). Compiled with
 * -mgeneral-regs-only, these functions would save no XMM registers and
 * %f would print garbage. The save is guarded by the caller's %al (the
 * number of vector registers it used; the ABI makes every caller set it,
 * and gcc and clang set it to 0 even under -mgeneral-regs-only), so a call
 * without doubles runs no SSE instruction: code at CPL0 keeps working
 * under KVM's emulator. tests/integration/test_sdk.sh checks that the
 * only SSE instructions here are those guarded saves.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <pvmm/guest.h>
#include "runtime.h"

int printf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vfprintf(stdout, fmt, ap);
	va_end(ap);
	return n;
}

int fprintf(FILE *f, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vfprintf(f, fmt, ap);
	va_end(ap);
	return n;
}

int snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

int sprintf(char *buf, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, SIZE_MAX, fmt, ap);
	va_end(ap);
	return n;
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
