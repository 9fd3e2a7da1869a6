#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

int log_level = LOG_INFO;
static FILE *log_file;       /* --log-file: time-stamped lines */
static FILE *log_out;        /* PUT /logger: plain lines; NULL: see log_file */
static char last_error[512];

int log_level_from_name(const char *name)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };
	for (int i = 0; i < (int)(sizeof(names) / sizeof(names[0])); i++)
		if (strcmp(name, names[i]) == 0)
			return i;
	return -1;
}

int log_open_file(const char *path)
{
	FILE *f = fopen(path, "ae");
	if (!f) {
		log_error("--log-file: cannot write '%s': %s", path, strerror(errno));
		return -1;
	}
	setvbuf(f, NULL, _IOLBF, 0);
	log_file = f;
	return 0;
}

void log_close_file(void)
{
	if (log_file)
		fclose(log_file);
	log_file = NULL;
}

FILE *log_stream(void)
{
	return log_out ? log_out : log_file ? log_file : stderr;
}

void log_configure(FILE *out, int level)
{
	log_out = out;
	log_level = level;
}

const char *log_last_error(void)
{
	return last_error;
}

void log_clear_last_error(void)
{
	last_error[0] = '\0';
}

static void vlog(const char *prefix, const char *fmt, va_list ap, bool error, bool print)
{
	/* Room for a whole sanitized abort message (up to 4 KiB escaped). */
	char line[4608];
	vsnprintf(line, sizeof(line), fmt, ap);
	if (error) {
		size_t n = strnlen(line, sizeof(last_error) - 1);
		memcpy(last_error, line, n);
		last_error[n] = '\0';
	}
	if (!print)
		return;
	/* One write per message so lines from the monitor stay whole. */
	if (log_out) {
		fprintf(log_out, "pvmm: %s%s\n", prefix, line);
		fflush(log_out);
	} else if (log_file) {
		struct timeval tv;
		struct tm tm;
		gettimeofday(&tv, NULL);
		gmtime_r(&tv.tv_sec, &tm);
		fprintf(log_file, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ pvmm: %s%s\n", tm.tm_year + 1900,
			tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long)(tv.tv_usec / 1000), prefix,
			line);
	} else {
		fprintf(stderr, "pvmm: %s%s\n", prefix, line);
	}
}

void log_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	/* Kept for the API's fault messages even when nothing is printed. */
	vlog("", fmt, ap, true, log_level >= LOG_ERROR);
	va_end(ap);
}

void log_warn(const char *fmt, ...)
{
	if (log_level < LOG_WARN)
		return;
	va_list ap;
	va_start(ap, fmt);
	vlog("warning: ", fmt, ap, false, true);
	va_end(ap);
}

void log_info(const char *fmt, ...)
{
	if (log_level < LOG_INFO)
		return;
	va_list ap;
	va_start(ap, fmt);
	vlog("", fmt, ap, false, true);
	va_end(ap);
}

void log_debug(const char *fmt, ...)
{
	if (log_level < LOG_DEBUG)
		return;
	va_list ap;
	va_start(ap, fmt);
	vlog("debug: ", fmt, ap, false, true);
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
