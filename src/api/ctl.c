/*
 * `pvmm ctl` (ctl.h): one request per run over the API socket, one line
 * of output. The answer is read to the end (the request says
 * Connection: close) with a receive timeout, then checked.
 */
#include "ctl.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <json-c/json.h>

#include "http.h"

#define CTL_TIMEOUT_S 30

struct ctl_command {
	const char *name, *method, *path, *body, *done;
};

static const struct ctl_command commands[] = {
	{ "info", "GET", "/", NULL, NULL },
	{ "pause", "PATCH", "/vm", "{\"state\": \"Paused\"}", "paused" },
	{ "resume", "PATCH", "/vm", "{\"state\": \"Resumed\"}", "resumed" },
	{ "stop", "PUT", "/actions", "{\"action_type\": \"SendCtrlAltDel\"}", "stopping" },
	{ "metrics", "PUT", "/actions", "{\"action_type\": \"FlushMetrics\"}", "metrics flushed" },
	{ "snapshot", "PUT", "/snapshot/create", NULL, "snapshot written" },
	{ NULL, NULL, NULL, NULL, NULL },
};

static int usage(void)
{
	fprintf(stderr, "usage: pvmm ctl --api-sock PATH info|pause|resume|stop|metrics|snapshot DIR_OR_PATH\n");
	return CTL_USAGE;
}

static int connect_to(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = CTL_TIMEOUT_S };

	if (strlen(path) >= sizeof(addr.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(addr.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* `snapshot DIR_OR_PATH`: into a directory, DIR/snapshot and
 * DIR/snapshot.mem; else PATH and PATH.mem. Absolute: the VM's process
 * may have another working directory. The body, malloc'd; NULL after a
 * message. */
static char *snapshot_body(const char *arg)
{
	char cwd[4096], state[8192];
	struct stat st;

	if (arg[0] != '/' && !getcwd(cwd, sizeof(cwd))) {
		fprintf(stderr, "pvmm ctl: snapshot: cannot tell the working directory: %s\n", strerror(errno));
		return NULL;
	}
	bool dir = stat(arg, &st) == 0 && S_ISDIR(st.st_mode);
	snprintf(state, sizeof(state), "%s%s%s%s", arg[0] == '/' ? "" : cwd, arg[0] == '/' ? "" : "/", arg,
		 dir ? "/snapshot" : "");
	size_t n = strlen(state);
	char *mem = malloc(n + 5);
	if (!mem)
		return NULL;
	memcpy(mem, state, n);
	memcpy(mem + n, ".mem", 5);
	json_object *o = json_object_new_object();
	json_object_object_add(o, "snapshot_type", json_object_new_string("Full"));
	json_object_object_add(o, "snapshot_path", json_object_new_string(state));
	json_object_object_add(o, "mem_file_path", json_object_new_string(mem));
	char *body = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	free(mem);
	return body;
}

int ctl_main(int argc, char **argv)
{
	const char *sock = NULL, *name = NULL, *arg = NULL;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--api-sock") == 0 && i + 1 < argc)
			sock = argv[++i];
		else if (strncmp(argv[i], "--api-sock=", 11) == 0)
			sock = argv[i] + 11;
		else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			return usage(), CTL_OK;
		else if (!name && argv[i][0] != '-')
			name = argv[i];
		else if (name && !arg && strcmp(name, "snapshot") == 0)
			arg = argv[i];
		else
			return usage();
	}
	if (!sock || !name)
		return usage();
	const struct ctl_command *c = commands;
	while (c->name && strcmp(c->name, name))
		c++;
	if (!c->name) {
		fprintf(stderr, "pvmm ctl: unknown command '%s'\n", name);
		return usage();
	}

	char *body_buf = NULL;
	if (strcmp(c->name, "snapshot") == 0) {
		if (!arg) {
			fprintf(stderr, "pvmm ctl: snapshot needs a directory or file to write to\n");
			return usage();
		}
		if (!(body_buf = snapshot_body(arg)))
			return CTL_USAGE;
	}
	const char *req_body = body_buf ? body_buf : c->body;

	int fd = connect_to(sock);
	if (fd < 0) {
		fprintf(stderr, "pvmm ctl: cannot reach the API at '%s': %s\n", sock, strerror(errno));
		free(body_buf);
		return CTL_UNREACHABLE;
	}
	char req[20000];
	size_t body_len = req_body ? strlen(req_body) : 0;
	int n = snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
					    "Content-Length: %zu\r\n\r\n%s",
			 c->method, c->path, body_len, req_body ? req_body : "");
	free(body_buf);
	if (n < 0 || (size_t)n >= sizeof(req) || send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
		fprintf(stderr, "pvmm ctl: cannot send to '%s': %s\n", sock, strerror(errno));
		close(fd);
		return CTL_UNREACHABLE;
	}
	static char resp[HTTP_MAX_BODY + 4096];
	size_t len = 0;
	ssize_t r;
	while (len < sizeof(resp) - 1 && (r = recv(fd, resp + len, sizeof(resp) - 1 - len, 0)) > 0)
		len += (size_t)r;
	close(fd);
	resp[len] = '\0';

	int status;
	char *body = strstr(resp, "\r\n\r\n");
	if (sscanf(resp, "HTTP/1.%*d %d", &status) != 1 || !body) {
		fprintf(stderr, "pvmm ctl: no valid HTTP answer from '%s'\n", sock);
		return CTL_UNREACHABLE;
	}
	body += 4;
	json_object *obj = *body ? json_tokener_parse(body) : NULL;
	if (status >= 300) {
		json_object *msg = NULL;
		json_object_object_get_ex(obj, "fault_message", &msg);
		fprintf(stderr, "pvmm ctl: %s: %s\n", name, msg ? json_object_get_string(msg) : "refused");
		json_object_put(obj);
		return CTL_REFUSED;
	}
	if (c->done) {
		printf("%s\n", c->done);
	} else {
		json_object *state = NULL, *version = NULL, *id = NULL;
		json_object_object_get_ex(obj, "state", &state);
		json_object_object_get_ex(obj, "vmm_version", &version);
		json_object_object_get_ex(obj, "id", &id);
		printf("%s (pvmm %s, id %s)\n", state ? json_object_get_string(state) : "?",
		       version ? json_object_get_string(version) : "?", id ? json_object_get_string(id) : "?");
	}
	json_object_put(obj);
	return CTL_OK;
}
