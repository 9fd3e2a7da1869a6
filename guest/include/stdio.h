/*
 * <stdio.h> for pvmm guests: formatted output to the para console.
 *
 * stdout is line buffered: output collects in a static buffer and goes to
 * the console in ONE console-write call when an output call has written a
 * newline, when the buffer fills, and at fflush, exit, abort and on a CPU
 * exception. Each flush is a VM exit (~10 us without VT-x), so a line is
 * the unit: a multi-line printf still costs one exit. stderr shares the
 * buffer (so the two never reorder) and is flushed after every call.
 *
 * printf supports: flags - 0 + space #, width and precision (also *),
 * length hh h l ll z j t, conversions d i u o x X p s c %, and the double
 * conversions f F e E g G (exact, rounded like glibc). Formatting a double
 * runs SSE code, so such a program runs at CPL3 (pvmm run --ring 3) or
 * on a host with VT-x; one that formats no double runs no SSE at all.
 */
#ifndef PVMM_STDIO_H
#define PVMM_STDIO_H

#include <stdarg.h>
#include <stddef.h>

#define EOF (-1)

typedef struct pvmm_file FILE;
extern FILE *const stdout;
extern FILE *const stderr;

#define PVMM_PRINTF(f, a) __attribute__((format(printf, f, a)))

int printf(const char *fmt, ...) PVMM_PRINTF(1, 2);
int vprintf(const char *fmt, va_list ap) PVMM_PRINTF(1, 0);
int fprintf(FILE *f, const char *fmt, ...) PVMM_PRINTF(2, 3);
int vfprintf(FILE *f, const char *fmt, va_list ap) PVMM_PRINTF(2, 0);
int snprintf(char *buf, size_t size, const char *fmt, ...) PVMM_PRINTF(3, 4);
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap) PVMM_PRINTF(3, 0);
int sprintf(char *buf, const char *fmt, ...) PVMM_PRINTF(2, 3);

int putchar(int c);
int puts(const char *s);
int fputc(int c, FILE *f);
int fputs(const char *s, FILE *f);
size_t fwrite(const void *p, size_t size, size_t count, FILE *f);
int fflush(FILE *f); /* NULL or either stream: flushes the shared buffer */

#define putc(c, f) fputc((c), (f))

/* Console input (see also <pvmm/guest.h>): next byte, waiting for it, or
 * EOF at end of input. */
int getchar(void);

#endif /* PVMM_STDIO_H */
