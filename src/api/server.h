/*
 * The API socket: a Unix stream socket served by one thread, HTTP/1.1 via
 * http.c, one request at a time per connection, up to API_MAX_CONNS
 * connections at once (docs/api.md). The thread runs with every signal
 * blocked: the supervisor and the vCPU threads keep theirs.
 */
#ifndef PVMM_API_SERVER_H
#define PVMM_API_SERVER_H

#include <stddef.h>

#include "http.h"

#define API_MAX_CONNS 16
/* A request must arrive whole within this long of its first byte; an idle
 * keep-alive connection is closed after API_IDLE_MS. */
#define API_READ_TIMEOUT_MS 5000
#define API_IDLE_MS 60000

/* Answer one complete request: *status, and *body (malloc'd JSON, or NULL
 * for none) of *len bytes, which the server frees. Runs on the API thread. */
typedef void api_handler_fn(void *opaque, const struct http_request *req, int *status, char **body, size_t *len);

struct api_server;

/* Bind and listen on `path` (which must not exist yet), then start the
 * thread. NULL after a message. */
struct api_server *api_server_start(const char *path, api_handler_fn *handler, void *opaque);

/* Stop and join the thread, close every connection, remove the socket. */
void api_server_stop(struct api_server *s);

#endif
