#include "log.h"

#include <stdarg.h>
#include <stdio.h>

int log_quiet;

static void vlog(const char *prefix, const char *fmt, va_list ap)
{
	/* Room for a whole sanitized abort message (up to 4 KiB escaped). */
	char line[4608];
	vsnprintf(line, sizeof(line), fmt, ap);
	/* One write per message so lines from the monitor stay whole. */
	fprintf(stderr, "pvmm: %s%s\n", prefix, line);
}

void log_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog("", fmt, ap);
	va_end(ap);
}

void log_warn(const char *fmt, ...)
{
	if (log_quiet)
		return;
	va_list ap;
	va_start(ap, fmt);
	vlog("warning: ", fmt, ap);
	va_end(ap);
}

void log_info(const char *fmt, ...)
{
	if (log_quiet)
		return;
	va_list ap;
	va_start(ap, fmt);
	vlog("", fmt, ap);
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
