/* pvmm's own messages: one line each, prefixed "pvmm: ", to stderr or to
 * the --log-file, filtered by --log-level. */
#ifndef PVMM_LOG_H
#define PVMM_LOG_H

#include <stddef.h>
#include <stdio.h>

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* The most verbose level printed: LOG_INFO unless --log-level or -q
 * (LOG_ERROR) says otherwise. Errors are always printed. */
extern int log_level;

/* "error", "warn", "info", "debug" → the level; -1 for anything else. */
int log_level_from_name(const char *name);

/* --log-file: append pvmm's messages (and the fault reports that follow
 * them) to `path`, each line stamped with the UTC time. 0, or -1 after a
 * message on stderr. */
int log_open_file(const char *path);
void log_close_file(void);

/* Where multi-line reports (registers, code bytes) go: the log file if
 * there is one, else stderr. */
FILE *log_stream(void);

/* PUT /logger (docs/api.md): where the one-line messages go (NULL: back
 * to stderr, or to --log-file if one is open) and the most verbose level
 * written; LOG_OFF writes nothing, errors included. The caller keeps
 * `out` open while it is configured. */
#define LOG_OFF (-1)
void log_configure(FILE *out, int level);

/* The text of the last log_error() (without "pvmm: "), "" if none; for
 * the API's fault messages. */
const char *log_last_error(void);
void log_clear_last_error(void);

void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Copy untrusted guest bytes into `out` (size `out_size`, NUL-terminated)
 * with control characters and non-ASCII escaped, so a guest cannot drive
 * the user's terminal through the monitor's own messages. */
void log_sanitize(char *out, size_t out_size, const void *in, size_t in_len);

#endif
