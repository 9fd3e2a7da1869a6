/*
 * The raw terminal and its escape key: see term.h.
 */
#include "term.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "log.h"
#include "syscall_filter.h"

static struct termios saved, raw_settings;
static int term_fd = -1;             /* the terminal made raw, or -1 */
static volatile sig_atomic_t is_raw; /* the terminal holds raw_settings now */
static volatile sig_atomic_t escape_live;
static pid_t own_pgrp;
static struct console_escape escape;
static pthread_mutex_t escape_lock = PTHREAD_MUTEX_INITIALIZER;
static console_escape_fn *handler;
static void *handler_ctx;
/* The input thread: terminal -> escape filter -> pipe -> the consoles. */
static int pipe_rd = -1, pipe_wr = -1;
static pthread_t pump_thread;
static bool pump_live;
static volatile sig_atomic_t pump_stop;

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

/* Write all of buf to the pipe, waiting while it is full (a guest that
 * reads nothing); false once told to stop or the pipe broke. */
static bool pump_write(const uint8_t *buf, size_t len)
{
	while (len && !pump_stop) {
		ssize_t w = write(pipe_wr, buf, len);
		if (w > 0) {
			buf += w;
			len -= (size_t)w;
		} else if (w < 0 && errno == EAGAIN) {
			struct pollfd q = { .fd = pipe_wr, .events = POLLOUT };
			poll(&q, 1, 100);
		} else if (w < 0 && errno != EINTR) {
			return false;
		}
	}
	return !pump_stop;
}

/* Always reading the terminal, whether or not the guest reads its
 * console, so the escape key works with any guest. */
static void *pump(void *arg)
{
	uint8_t buf[256];
	(void)arg;

	/* Its own filter: read, write, poll, tgkill (a kick for Ctrl-A z),
	 * and TCSETS for the SIGSYS path. */
	if (sysfilter_enter(SECCOMP_ROLE_CONSOLE_INPUT, false) == 0) {
		while (!pump_stop) {
			struct pollfd p = { .fd = term_fd, .events = POLLIN };
			if (poll(&p, 1, 100) <= 0)
				continue;
			ssize_t n = read(term_fd, buf, sizeof(buf));
			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (n <= 0)
				break; /* end of input (the terminal hung up) */
			if (!pump_write(buf, term_filter_input(buf, (size_t)n)))
				break;
		}
	}
	close(pipe_wr); /* the consoles see end of input */
	return NULL;
}

static int start_pump(void)
{
	int p[2];
	sigset_t all, old;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	if (fcntl(p[1], F_SETFL, O_NONBLOCK) < 0) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	pipe_rd = p[0];
	pipe_wr = p[1];
	pump_stop = 0;
	/* No signals: they are the main and vCPU threads' (SIGSYS is
	 * unblocked by sysfilter_enter). */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int ret = pthread_create(&pump_thread, NULL, pump, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret) {
		close(pipe_rd);
		close(pipe_wr);
		pipe_rd = pipe_wr = -1;
		errno = ret;
		return -1;
	}
	pump_live = true;
	return 0;
}

int term_enter(int fd, enum term_mode mode, console_escape_fn *fn, void *ctx, int *console_fd)
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
	/* Raw first, then the input thread: the thread may trip its filter
	 * at once, and its SIGSYS handler must find the terminal raw and
	 * restore it, not race a tcsetattr made here after it. Keys typed
	 * in between wait in the terminal for the thread, which already
	 * treats Ctrl-A as the escape key (escape_live). */
	escape_live = 1;
	if (tcsetattr(fd, TCSANOW, &raw_settings) < 0) {
		escape_live = 0;
		log_warn("cannot put the terminal in raw mode: %s; it stays as it is", strerror(errno));
		term_fd = -1;
		return 0;
	}
	is_raw = 1;
	if (start_pump() < 0) {
		log_warn("cannot start the terminal's input thread: %s; the terminal stays as it is", strerror(errno));
		term_restore();
		escape_live = 0;
		term_fd = -1;
		return 0;
	}
	*console_fd = pipe_rd;
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
	if (pump_live) {
		pump_stop = 1;
		pthread_join(pump_thread, NULL);
		pump_live = false;
		close(pipe_rd);
		pipe_rd = pipe_wr = -1;
	}
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
