#include "log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

int log_quiet;
static FILE *log_out;                       /* NULL: stderr */
static enum log_level log_max = LOG_LEVEL_INFO;
static char last_error[512];

void log_configure(FILE *out, enum log_level level)
{
	log_out = out;
	log_max = level;
}

const char *log_last_error(void)
{
	return last_error;
}

void log_clear_last_error(void)
{
	last_error[0] = '\0';
}

static void vlog(const char *prefix, const char *fmt, va_list ap, bool error)
{
	/* Room for a whole sanitized abort message (up to 4 KiB escaped). */
	char line[4608];
	vsnprintf(line, sizeof(line), fmt, ap);
	if (error) {
		size_t n = strnlen(line, sizeof(last_error) - 1);
		memcpy(last_error, line, n);
		last_error[n] = '\0';
	}
	/* One write per message so lines from the monitor stay whole. */
	FILE *out = log_out ? log_out : stderr;
	fprintf(out, "pvmm: %s%s\n", prefix, line);
	if (log_out)
		fflush(log_out);
}

void log_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (log_max >= LOG_LEVEL_ERROR)
		vlog("", fmt, ap, true);
	va_end(ap);
}

void log_warn(const char *fmt, ...)
{
	if (log_quiet || log_max < LOG_LEVEL_WARN)
		return;
	va_list ap;
	va_start(ap, fmt);
	vlog("warning: ", fmt, ap, false);
	va_end(ap);
}

void log_info(const char *fmt, ...)
{
	if (log_quiet || log_max < LOG_LEVEL_INFO)
		return;
	va_list ap;
	va_start(ap, fmt);
	vlog("", fmt, ap, false);
	va_end(ap);
}

void log_sanitize(char *out, size_t out_size, const void *in, size_t in_len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *src = in;
	size_t o = 0;

	if (out_size == 0)
		return;
	for (size_t i = 0; i < in_len; i++) {
		unsigned char c = src[i];
		if (c >= 0x20 && c < 0x7f && c != '\\') {
			if (o + 1 >= out_size)
				break;
			out[o++] = (char)c;
		} else {
			if (o + 4 >= out_size)
				break;
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
}
