/* One-line messages to stderr, all prefixed "pvmm: ". */
#ifndef PVMM_LOG_H
#define PVMM_LOG_H

#include <stddef.h>
#include <stdio.h>

/* Set by -q/--quiet: silences info and warnings, never errors. */
extern int log_quiet;

/* PUT /logger (docs/api.md): where the one-line messages go (NULL:
 * stderr) and the most verbose kind written. Call before other threads
 * log. */
enum log_level { LOG_LEVEL_OFF, LOG_LEVEL_ERROR, LOG_LEVEL_WARN, LOG_LEVEL_INFO };
void log_configure(FILE *out, enum log_level level);

/* The text of the last log_error() (without "pvmm: "), "" if none; for
 * the API's fault messages. */
const char *log_last_error(void);
void log_clear_last_error(void);

void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Copy untrusted guest bytes into `out` (size `out_size`, NUL-terminated)
 * with control characters and non-ASCII escaped, so a guest cannot drive
 * the user's terminal through the monitor's own messages. */
void log_sanitize(char *out, size_t out_size, const void *in, size_t in_len);

#endif
