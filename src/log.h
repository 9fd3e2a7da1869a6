/* One-line messages to stderr, all prefixed "pvmm: ". */
#ifndef PVMM_LOG_H
#define PVMM_LOG_H

#include <stddef.h>

/* Set by -q/--quiet: silences info and warnings, never errors. */
extern int log_quiet;

void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Copy untrusted guest bytes into `out` (size `out_size`, NUL-terminated)
 * with control characters and non-ASCII escaped, so a guest cannot drive
 * the user's terminal through the monitor's own messages. */
void log_sanitize(char *out, size_t out_size, const void *in, size_t in_len);

#endif
