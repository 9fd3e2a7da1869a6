/*
 * The user back end (--net user): NAT, DHCP, DNS and host forwards by
 * libslirp, without privileges.
 *
 * libslirp runs in a helper process, pvmm-slirp (helper/pvmm_slirp.c),
 * next to the monitor's executable, not in the monitor: Debian ships
 * libslirp (and the glib it needs) only as shared libraries, and the
 * release monitor is linked statically (docs/net.md, "Linking"). The
 * helper is spawned when the NIC is created and talks to us over a
 * SOCK_SEQPACKET socket pair, one message per frame with the 12-byte
 * virtio_net_hdr in front, the same layout as TAP, so the device's
 * paths are unchanged and the socket is the fd the I/O thread watches.
 *
 * Start-up, before the guest runs: we send the helper its whole
 * configuration (struct net_user) as the first message; it creates the
 * slirp instance and the forwards and answers with one message, "\0" for
 * ready or "\1" and a one-line error (a port already in use), which we
 * log; then pvmm exits 2. The helper exits when its end of the socket
 * closes (we closed it, or died).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "net/backend.h"

extern char **environ;

#define HELPER_NAME "pvmm-slirp"
#define HELPER_FD 3
#define HELPER_READY_MS 5000

struct user {
	struct net_backend b;
	pid_t pid;
};

static ssize_t user_send(struct net_backend *b, const struct iovec *iov, int iovcnt)
{
	struct msghdr m = { .msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt };
	for (;;) {
		ssize_t n = sendmsg(b->fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n >= 0)
			return n;
		if (errno == EWOULDBLOCK)
			return -EAGAIN;
		if (errno != EINTR)
			return -errno;
	}
}

static ssize_t user_recv(struct net_backend *b, void *buf, size_t cap)
{
	for (;;) {
		/* MSG_TRUNC: the message's real length, so a long one is seen. */
		ssize_t n = recv(b->fd, buf, cap, MSG_DONTWAIT | MSG_TRUNC);
		if (n >= 0)
			return (size_t)n > cap ? (ssize_t)cap + 1 : n;
		if (errno == EWOULDBLOCK)
			return -EAGAIN;
		if (errno != EINTR)
			return -errno;
	}
}

/* Wait up to ms for the helper to exit; kill it after that. */
static void reap(pid_t pid, int ms)
{
	for (int waited = 0;; waited += 10) {
		pid_t r = waitpid(pid, NULL, WNOHANG);
		if (r == pid || (r < 0 && errno != EINTR))
			return;
		if (waited >= ms) {
			kill(pid, SIGKILL);
			while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
				;
			return;
		}
		nanosleep(&(struct timespec){ 0, 10 * 1000 * 1000 }, NULL);
	}
}

static void user_close(struct net_backend *b)
{
	struct user *u = (struct user *)b;
	if (b->fd >= 0)
		close(b->fd); /* the helper sees EOF and exits */
	if (u->pid > 0)
		reap(u->pid, 1000);
	free(u);
}

static const struct net_backend_ops user_ops = {
	.kind = "user",
	.send = user_send,
	.recv = user_recv,
	.close = user_close,
};

/* HELPER_NAME in the directory of our own executable. */
static int helper_path(char *out, size_t cap)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return -1;
	exe[n] = 0;
	char *slash = strrchr(exe, '/');
	if (!slash)
		return -1;
	*slash = 0;
	return snprintf(out, cap, "%s/%s", exe, HELPER_NAME) < (int)cap ? 0 : -1;
}

struct net_backend *net_user_open(const struct net_spec *spec)
{
	char path[PATH_MAX];
	if (helper_path(path, sizeof(path)) || access(path, X_OK)) {
		log_error("--net user: the helper %s is missing next to this pvmm (it is built with libslirp by make)",
			  HELPER_NAME);
		return NULL;
	}
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv)) {
		log_error("--net user: socketpair: %s", strerror(errno));
		return NULL;
	}
	/* The child's end above HELPER_FD, so that dup2 always makes a copy
	 * without close-on-exec. */
	int child_fd = fcntl(sv[1], F_DUPFD_CLOEXEC, HELPER_FD + 1);
	close(sv[1]);
	if (child_fd < 0) {
		log_error("--net user: fcntl: %s", strerror(errno));
		close(sv[0]);
		return NULL;
	}
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, child_fd, HELPER_FD);
	char fdarg[] = "3";
	char *argv[] = { (char *)HELPER_NAME, fdarg, NULL };
	pid_t pid;
	int err = posix_spawn(&pid, path, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(child_fd);
	if (err) {
		log_error("--net user: cannot start %s: %s", path, strerror(err));
		close(sv[0]);
		return NULL;
	}
	int fd = sv[0];

	/* The configuration, then the helper's answer. */
	char answer[256];
	ssize_t n = send(fd, &spec->user, sizeof(spec->user), MSG_NOSIGNAL);
	if (n != (ssize_t)sizeof(spec->user)) {
		log_error("--net user: cannot configure %s: %s", HELPER_NAME, n < 0 ? strerror(errno) : "short send");
		goto fail;
	}
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	int r;
	do
		r = poll(&pfd, 1, HELPER_READY_MS);
	while (r < 0 && errno == EINTR);
	if (r <= 0) {
		log_error("--net user: %s did not answer within %d s", HELPER_NAME, HELPER_READY_MS / 1000);
		goto fail;
	}
	n = recv(fd, answer, sizeof(answer) - 1, MSG_DONTWAIT);
	if (n <= 0) {
		log_error("--net user: %s exited while starting", HELPER_NAME);
		goto fail;
	}
	answer[n] = 0;
	if (answer[0] != 0) {
		log_error("%s", answer + 1);
		goto fail;
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
		log_error("--net user: fcntl: %s", strerror(errno));
		goto fail;
	}
	struct user *u = calloc(1, sizeof(*u));
	if (!u) {
		log_error("out of memory opening --net user");
		goto fail;
	}
	u->b.ops = &user_ops;
	u->b.fd = fd;
	u->pid = pid;
	char net[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &spec->user.net, net, sizeof(net));
	snprintf(u->b.name, sizeof(u->b.name), "user:%s", net);
	return &u->b;
fail:
	close(fd);
	reap(pid, 1000);
	return NULL;
}
