/*
 * A small, strict HTTP/1.1 request parser and response writer for the API
 * socket (docs/api.md). Requests only: a request line, headers, and a body
 * framed by Content-Length. No chunked encoding, no header folding, CRLF
 * line ends only, and fixed limits on every part.
 */
#ifndef PVMM_API_HTTP_H
#define PVMM_API_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#define HTTP_MAX_REQUEST_LINE 4096   /* including its CRLF */
#define HTTP_MAX_HEADER_BYTES 8192   /* every header line with its CRLF, and the blank line */
#define HTTP_MAX_HEADERS 64
#define HTTP_MAX_BODY 65536
/* The most one request can take: what a connection's buffer holds. */
#define HTTP_MAX_REQUEST (HTTP_MAX_REQUEST_LINE + HTTP_MAX_HEADER_BYTES + HTTP_MAX_BODY)

struct http_header {
	const char *name, *value;   /* into the caller's buffer, not NUL-terminated */
	size_t name_len, value_len; /* value without the surrounding blanks */
};

struct http_request {
	const char *method, *path;  /* path: the target up to any '?' */
	size_t method_len, path_len;
	int minor;                  /* HTTP/1.<minor>: 0 or 1 */
	struct http_header headers[HTTP_MAX_HEADERS];
	unsigned header_count;
	size_t head_len;            /* request line + headers + blank line */
	size_t content_length;
	const char *body;           /* content_length bytes; valid once complete */
	bool keep_alive;            /* the connection stays open after the response */
	bool expect_continue;       /* "Expect: 100-continue" */
	const char *error;          /* why it was refused (a constant string) */
};

/* Parse the request at the start of buf[0..len). Returns
 *   > 0   complete: the bytes it takes (head + body); `req` filled
 *   0     incomplete: read more (once req->head_len != 0 the head is
 *         complete and only the body is missing)
 *   < 0   refused: minus the HTTP status to answer with (400, 411, 413,
 *         414, 431, 501, 505); req->error says why
 * Stateless: call again with the same start and more bytes. */
long http_parse(const char *buf, size_t len, struct http_request *req);

/* The header `name` (case-insensitive), or NULL. */
const struct http_header *http_header_find(const struct http_request *req, const char *name);

/* The standard reason phrase of a status this server sends. */
const char *http_reason(int status);

/* Write a whole response into out[0..size): status line, Content-Length,
 * Content-Type (when there is a body), Connection: close (when !keep_alive),
 * the body. Returns its length, or 0 if it does not fit. */
size_t http_format_response(char *out, size_t size, int status, const char *body, size_t body_len, bool keep_alive);

#endif
