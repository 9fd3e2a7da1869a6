/*
 * The API socket's thread (server.h): a poll loop over the listening
 * socket, a stop eventfd and the open connections. Sockets are
 * non-blocking, so a client that stalls mid-request, or never reads its
 * answer, costs a connection slot until its deadline, never the thread.
 */
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "syscall_filter.h"
#include "status.h"

#define WRITE_TIMEOUT_MS 2000

struct conn {
	int fd;                  /* -1: free slot */
	char *buf;               /* HTTP_MAX_REQUEST bytes */
	size_t len;
	uint64_t deadline_ms;    /* read timeout (mid-request) or idle limit */
	bool continue_sent;      /* "100 Continue" answered for this request */
};

struct api_server {
	char *path;
	int listen_fd, stop_fd;
	pthread_t thread;
	api_handler_fn *handler;
	void *opaque;
	struct conn conns[API_MAX_CONNS];
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Write all of it within WRITE_TIMEOUT_MS; false if the client does not take it. */
static bool write_all(int fd, const char *p, size_t n)
{
	uint64_t deadline = now_ms() + WRITE_TIMEOUT_MS;
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			uint64_t t = now_ms();
			if (t >= deadline)
				return false;
			struct pollfd pfd = { .fd = fd, .events = POLLOUT };
			poll(&pfd, 1, (int)(deadline - t));
			continue;
		}
		return false;
	}
	return true;
}

static void conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->len = 0;
}

/* Send one response; false if the connection must close now. */
static bool respond(struct conn *c, int status, const char *body, size_t len, bool keep_alive)
{
	static char out[HTTP_MAX_BODY + 1024];
	size_t n = http_format_response(out, sizeof(out), status, body, len, keep_alive);
	if (!n) {
		const char *msg = "{\"fault_message\": \"internal error: the response does not fit\"}";
		n = http_format_response(out, sizeof(out), 500, msg, strlen(msg), false);
		keep_alive = false;
	}
	return write_all(c->fd, out, n) && keep_alive;
}

static void refuse(struct conn *c, int status, const char *why)
{
	char body[256];
	int n = snprintf(body, sizeof(body), "{\"fault_message\": \"%s\"}", why);
	respond(c, status, body, (size_t)n, false);
	conn_close(c);
}

/* Serve every complete request in the buffer, one after the other. */
static void serve(struct api_server *s, struct conn *c)
{
	while (c->fd >= 0 && c->len) {
		struct http_request req;
		long n = http_parse(c->buf, c->len, &req);
		if (n < 0) {
			refuse(c, (int)-n, req.error);
			return;
		}
		if (n == 0) {
			if (req.head_len && req.expect_continue && !c->continue_sent) {
				static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
				c->continue_sent = true;
				if (!write_all(c->fd, cont, sizeof(cont) - 1))
					conn_close(c);
			}
			return;
		}
		int status = 500;
		char *body = NULL;
		size_t len = 0;
		s->handler(s->opaque, &req, &status, &body, &len);
		bool keep = respond(c, status, body, len, req.keep_alive);
		free(body);
		memmove(c->buf, c->buf + n, c->len - (size_t)n);
		c->len -= (size_t)n;
		c->continue_sent = false;
		if (!keep) {
			conn_close(c);
			return;
		}
		c->deadline_ms = now_ms() + (c->len ? API_READ_TIMEOUT_MS : API_IDLE_MS);
	}
}

static void on_readable(struct api_server *s, struct conn *c)
{
	size_t room = HTTP_MAX_REQUEST - c->len;
	ssize_t r = recv(c->fd, c->buf + c->len, room, 0);
	if (r < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
		return;
	if (r <= 0) {
		conn_close(c); /* closed by the client, mid-request or not */
		return;
	}
	if (c->len == 0)
		c->deadline_ms = now_ms() + API_READ_TIMEOUT_MS;
	c->len += (size_t)r;
	serve(s, c);
	/* A full buffer holds a whole request at most (http.h's limits). */
	if (c->fd >= 0 && c->len == HTTP_MAX_REQUEST)
		refuse(c, 413, "request too large");
}

static void on_accept(struct api_server *s)
{
	int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	for (unsigned i = 0; i < API_MAX_CONNS; i++) {
		struct conn *c = &s->conns[i];
		if (c->fd >= 0)
			continue;
		if (!c->buf && !(c->buf = malloc(HTTP_MAX_REQUEST)))
			break;
		c->fd = fd;
		c->len = 0;
		c->continue_sent = false;
		c->deadline_ms = now_ms() + API_IDLE_MS;
		return;
	}
	struct conn tmp = { .fd = fd };
	refuse(&tmp, 503, "too many API connections open");
}

static void *server_thread(void *arg)
{
	struct api_server *s = arg;
	struct pollfd pfd[API_MAX_CONNS + 2];
	struct conn *who[API_MAX_CONNS + 2];

	/* The socket listens already; this thread only accepts and talks. */
	if (sysfilter_enter(SECCOMP_ROLE_API, false))
		_exit(PVMM_STATUS_HOST);
	for (;;) {
		unsigned n = 0;
		uint64_t t = now_ms(), next = UINT64_MAX;
		pfd[n++] = (struct pollfd){ .fd = s->stop_fd, .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = s->listen_fd, .events = POLLIN };
		for (unsigned i = 0; i < API_MAX_CONNS; i++) {
			struct conn *c = &s->conns[i];
			if (c->fd < 0)
				continue;
			if (c->deadline_ms <= t) {
				/* Mid-request: say why; idle: just close. */
				if (c->len)
					refuse(c, 408, "the request did not arrive in time");
				else
					conn_close(c);
				continue;
			}
			if (c->deadline_ms < next)
				next = c->deadline_ms;
			who[n] = c;
			pfd[n++] = (struct pollfd){ .fd = c->fd, .events = POLLIN };
		}
		int timeout = next == UINT64_MAX ? -1 : (int)(next - t);
		if (poll(pfd, n, timeout) < 0 && errno != EINTR)
			break;
		if (pfd[0].revents)
			break;
		for (unsigned i = 2; i < n; i++)
			if (pfd[i].revents)
				on_readable(s, who[i]);
		if (pfd[1].revents & POLLIN)
			on_accept(s);
	}
	return NULL;
}

struct api_server *api_server_start(const char *path, api_handler_fn *handler, void *opaque)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct api_server *s;
	struct stat st;

	if (strlen(path) >= sizeof(addr.sun_path)) {
		log_error("--api-sock '%s': the path is longer than a Unix socket allows (%zu bytes)", path,
			  sizeof(addr.sun_path) - 1);
		return NULL;
	}
	if (lstat(path, &st) == 0) {
		log_error("--api-sock '%s' exists already; remove it (or pick another path) first", path);
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s || !(s->path = strdup(path))) {
		free(s);
		log_error("out of memory");
		return NULL;
	}
	s->handler = handler;
	s->opaque = opaque;
	for (unsigned i = 0; i < API_MAX_CONNS; i++)
		s->conns[i].fd = -1;
	strcpy(addr.sun_path, path);
	s->stop_fd = eventfd(0, EFD_CLOEXEC);
	s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->stop_fd < 0 || s->listen_fd < 0 || bind(s->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) ||
	    listen(s->listen_fd, 16)) {
		log_error("--api-sock '%s': cannot listen there: %s", path, strerror(errno));
		goto fail;
	}
	/* Every signal blocked in the API thread: SIGINT/SIGTERM/SIGALRM/
	 * SIGTSTP stay with the supervisor, the kick signal with the vCPUs. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int ret = pthread_create(&s->thread, NULL, server_thread, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret) {
		log_error("cannot start the API thread: %s", strerror(ret));
		unlink(path);
		goto fail;
	}
	return s;
fail:
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	if (s->stop_fd >= 0)
		close(s->stop_fd);
	free(s->path);
	free(s);
	return NULL;
}

void api_server_stop(struct api_server *s)
{
	uint64_t one = 1;

	if (!s)
		return;
	if (write(s->stop_fd, &one, sizeof(one)) < 0) {
		/* an eventfd write only fails if it is full: already stopping */
	}
	pthread_join(s->thread, NULL);
	for (unsigned i = 0; i < API_MAX_CONNS; i++) {
		conn_close(&s->conns[i]);
		free(s->conns[i].buf);
	}
	close(s->listen_fd);
	close(s->stop_fd);
	unlink(s->path);
	free(s->path);
	free(s);
}
