/*
 * The raw terminal and its escape key: see term.h.
 */
#include "term.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "log.h"

static struct termios saved, raw_settings;
static int term_fd = -1;             /* the terminal made raw, or -1 */
static volatile sig_atomic_t is_raw; /* the terminal holds raw_settings now */
static volatile sig_atomic_t escape_live;
static pid_t own_pgrp;
static struct console_escape escape;
static pthread_mutex_t escape_lock = PTHREAD_MUTEX_INITIALIZER;
static console_escape_fn *handler;
static void *handler_ctx;

int term_mode_from_name(const char *name)
{
	if (strcmp(name, "auto") == 0)
		return TERM_MODE_AUTO;
	if (strcmp(name, "raw") == 0)
		return TERM_MODE_RAW;
	if (strcmp(name, "cooked") == 0)
		return TERM_MODE_COOKED;
	return -1;
}

static void restore_at_exit(void)
{
	term_leave();
}

int term_enter(int fd, enum term_mode mode, console_escape_fn *fn, void *ctx)
{
	static bool registered;

	if (mode == TERM_MODE_COOKED || term_fd >= 0)
		return 0;
	if (fd < 0 || !isatty(fd) || tcgetattr(fd, &saved) < 0) {
		if (mode == TERM_MODE_RAW) {
			log_error("--console-mode raw: stdin is not a terminal");
			return -1;
		}
		return 0;
	}
	/* A background job that changed the terminal would be stopped
	 * (SIGTTOU) and take the terminal from the shell: leave it. */
	own_pgrp = getpgrp();
	if (tcgetpgrp(fd) != own_pgrp) {
		if (mode == TERM_MODE_RAW)
			log_warn("--console-mode raw: pvmm is not in the terminal's foreground; the terminal stays as it is");
		return 0;
	}
	raw_settings = saved;
	cfmakeraw(&raw_settings);
	/* Output as before: the guest's "\n" (and pvmm's own lines) still
	 * start a new line. Enter still reads as "\n" (ICRNL), the line
	 * end pvmm's guests read lines up to. */
	raw_settings.c_oflag = saved.c_oflag;
	raw_settings.c_iflag |= saved.c_iflag & ICRNL;
	raw_settings.c_cc[VMIN] = 1;
	raw_settings.c_cc[VTIME] = 0;
	handler = fn;
	handler_ctx = ctx;
	escape = (struct console_escape){ 0 };
	term_fd = fd;
	if (!registered) {
		atexit(restore_at_exit);
		registered = true;
	}
	/* The escape key first: a key typed the moment the terminal is
	 * raw is already the monitor's. */
	escape_live = 1;
	if (tcsetattr(fd, TCSANOW, &raw_settings) < 0) {
		escape_live = 0;
		log_warn("cannot put the terminal in raw mode: %s; it stays as it is", strerror(errno));
		term_fd = -1;
		return 0;
	}
	is_raw = 1;
	log_debug("the terminal is raw: Ctrl-A h for help, Ctrl-A x quits");
	return 1;
}

bool term_raw(void)
{
	return escape_live;
}

void term_restore(void)
{
	int saved_errno = errno;
	if (term_fd >= 0 && is_raw) {
		is_raw = 0;
		tcsetattr(term_fd, TCSANOW, &saved);
	}
	errno = saved_errno;
}

void term_reraw(void)
{
	int saved_errno = errno;
	if (term_fd >= 0 && escape_live && !is_raw && tcgetpgrp(term_fd) == own_pgrp &&
	    tcsetattr(term_fd, TCSANOW, &raw_settings) == 0)
		is_raw = 1;
	errno = saved_errno;
}

void term_leave(void)
{
	escape_live = 0;
	term_restore();
	term_fd = -1;
}

size_t term_filter_input(uint8_t *buf, size_t n)
{
	if (!escape_live)
		return n;
	pthread_mutex_lock(&escape_lock);
	n = console_escape_filter(&escape, buf, n, handler, handler_ctx);
	pthread_mutex_unlock(&escape_lock);
	return n;
}

void term_print_help(void)
{
	static const char help[] = "pvmm: console keys: Ctrl-A x quit, Ctrl-A z pause/resume, Ctrl-A h this help,\n"
				   "pvmm:   Ctrl-A Ctrl-A send Ctrl-A to the guest\n";
	if (write(2, help, sizeof(help) - 1) < 0) {
		/* nowhere to say it */
	}
}
