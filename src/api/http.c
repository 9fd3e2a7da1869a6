/*
 * The API socket's HTTP/1.1 request parser (http.h). Every byte of a
 * request is checked against the grammar it may belong to before anything
 * uses it; a client that sends more than a limit allows is refused as soon
 * as the limit is passed, not when it stops sending.
 */
#include "http.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* RFC 9110 token characters (methods, header names). */
static bool is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool is_vchar(unsigned char c)
{
	return c >= 0x21 && c <= 0x7e;
}

static long refuse(struct http_request *req, int status, const char *why)
{
	req->error = why;
	return -status;
}

/* Bytes a line still being received may hold: visible ASCII, blanks, and
 * a CR only as the last byte so far. Lets garbage be refused at once. */
static bool partial_line_ok(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c == '\r' && i == n - 1)
			break;
		if (!is_vchar(c) && c != ' ' && c != '\t')
			return false;
	}
	return true;
}

/* The request line p[0..n) without its CRLF. */
static long parse_request_line(const char *p, size_t n, struct http_request *req)
{
	size_t i = 0;

	while (i < n && is_tchar((unsigned char)p[i]))
		i++;
	if (i == 0 || i > 16 || i >= n || p[i] != ' ')
		return refuse(req, 400, "malformed request line: expected METHOD SP /path SP HTTP/1.1");
	req->method = p;
	req->method_len = i;
	size_t t = ++i;
	while (i < n && is_vchar((unsigned char)p[i]))
		i++;
	if (i == t || i >= n || p[i] != ' ' || p[t] != '/')
		return refuse(req, 400, "malformed request target: expected an absolute path such as /machine-config");
	req->path = p + t;
	const char *q = memchr(req->path, '?', i - t);
	req->path_len = q ? (size_t)(q - req->path) : i - t;
	i++;
	size_t v = n - i;
	if (v != 8 || memcmp(p + i, "HTTP/", 5) || p[i + 6] != '.' || p[i + 5] < '0' || p[i + 5] > '9' ||
	    p[i + 7] < '0' || p[i + 7] > '9')
		return refuse(req, 400, "malformed HTTP version: expected HTTP/1.1");
	if (p[i + 5] != '1' || p[i + 7] > '1')
		return refuse(req, 505, "only HTTP/1.0 and HTTP/1.1 are served");
	req->minor = p[i + 7] - '0';
	return 0;
}

static bool value_is(const struct http_header *h, const char *word)
{
	return h->value_len == strlen(word) && strncasecmp(h->value, word, h->value_len) == 0;
}

/* One header line p[0..n) without its CRLF. */
static long parse_header(const char *p, size_t n, struct http_request *req)
{
	size_t i = 0;

	if (n && (p[0] == ' ' || p[0] == '\t'))
		return refuse(req, 400, "folded header lines are not accepted");
	while (i < n && is_tchar((unsigned char)p[i]))
		i++;
	if (i == 0 || i >= n || p[i] != ':')
		return refuse(req, 400, "malformed header line: expected Name: value");
	if (req->header_count >= HTTP_MAX_HEADERS)
		return refuse(req, 431, "too many header lines (at most 64)");
	struct http_header *h = &req->headers[req->header_count++];
	h->name = p;
	h->name_len = i;
	i++;
	while (i < n && (p[i] == ' ' || p[i] == '\t'))
		i++;
	size_t end = n;
	while (end > i && (p[end - 1] == ' ' || p[end - 1] == '\t'))
		end--;
	for (size_t k = i; k < end; k++)
		if (!is_vchar((unsigned char)p[k]) && p[k] != ' ' && p[k] != '\t')
			return refuse(req, 400, "header value holds a control or non-ASCII byte");
	h->value = p + i;
	h->value_len = end - i;
	return 0;
}

const struct http_header *http_header_find(const struct http_request *req, const char *name)
{
	size_t len = strlen(name);
	for (unsigned i = 0; i < req->header_count; i++)
		if (req->headers[i].name_len == len && strncasecmp(req->headers[i].name, name, len) == 0)
			return &req->headers[i];
	return NULL;
}

/* The headers this server acts on, once the head is complete. */
static long interpret_headers(struct http_request *req)
{
	bool have_length = false;

	req->keep_alive = req->minor == 1;
	for (unsigned i = 0; i < req->header_count; i++) {
		const struct http_header *h = &req->headers[i];
		if (h->name_len == 17 && strncasecmp(h->name, "Transfer-Encoding", 17) == 0)
			return refuse(req, 411, "Transfer-Encoding (chunked bodies) is not accepted: send Content-Length");
		if (h->name_len == 14 && strncasecmp(h->name, "Content-Length", 14) == 0) {
			if (have_length)
				return refuse(req, 400, "more than one Content-Length header");
			have_length = true;
			if (h->value_len == 0 || h->value_len > 10)
				return refuse(req, h->value_len ? 413 : 400,
					      h->value_len ? "body too large (at most 64 KiB)" : "empty Content-Length");
			size_t v = 0;
			for (size_t k = 0; k < h->value_len; k++) {
				if (h->value[k] < '0' || h->value[k] > '9')
					return refuse(req, 400, "Content-Length is not a decimal number");
				v = v * 10 + (size_t)(h->value[k] - '0');
			}
			if (v > HTTP_MAX_BODY)
				return refuse(req, 413, "body too large (at most 64 KiB)");
			req->content_length = v;
		} else if (h->name_len == 10 && strncasecmp(h->name, "Connection", 10) == 0) {
			if (value_is(h, "close"))
				req->keep_alive = false;
			else if (value_is(h, "keep-alive"))
				req->keep_alive = true;
		} else if (h->name_len == 6 && strncasecmp(h->name, "Expect", 6) == 0) {
			if (!value_is(h, "100-continue"))
				return refuse(req, 400, "the only Expect served is 100-continue");
			req->expect_continue = true;
		}
	}
	return 0;
}

long http_parse(const char *buf, size_t len, struct http_request *req)
{
	memset(req, 0, sizeof(*req));

	/* The request line. */
	size_t room = len < HTTP_MAX_REQUEST_LINE ? len : HTTP_MAX_REQUEST_LINE;
	const char *nl = memchr(buf, '\n', room);
	if (!nl) {
		if (!partial_line_ok(buf, room))
			return refuse(req, 400, "request line holds a control or non-ASCII byte");
		if (len >= HTTP_MAX_REQUEST_LINE)
			return refuse(req, 414, "request line too long (at most 4 KiB)");
		return 0;
	}
	size_t line = (size_t)(nl - buf);
	if (line == 0 || buf[line - 1] != '\r')
		return refuse(req, 400, "lines must end in CRLF");
	long ret = parse_request_line(buf, line - 1, req);
	if (ret)
		return ret;

	/* The headers, up to the blank line. */
	size_t start = line + 1, pos = start;
	for (;;) {
		size_t used = pos - start;
		size_t left = len - pos;
		size_t limit = HTTP_MAX_HEADER_BYTES - used;
		size_t look = left < limit ? left : limit;
		nl = memchr(buf + pos, '\n', look);
		if (!nl) {
			if (!partial_line_ok(buf + pos, look))
				return refuse(req, 400, "header line holds a control or non-ASCII byte");
			if (left >= limit)
				return refuse(req, 431, "headers too large (at most 8 KiB in all)");
			return 0;
		}
		size_t n = (size_t)(nl - (buf + pos));
		if (n == 0 || buf[pos + n - 1] != '\r')
			return refuse(req, 400, "lines must end in CRLF");
		if (n == 1) { /* the blank line */
			pos += 2;
			break;
		}
		ret = parse_header(buf + pos, n - 1, req);
		if (ret)
			return ret;
		pos += n + 1;
	}
	ret = interpret_headers(req);
	if (ret)
		return ret;
	req->head_len = pos;
	if (len - pos < req->content_length)
		return 0;
	req->body = buf + pos;
	return (long)(pos + req->content_length);
}

const char *http_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 411: return "Length Required";
	case 413: return "Payload Too Large";
	case 414: return "URI Too Long";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}

size_t http_format_response(char *out, size_t size, int status, const char *body, size_t body_len, bool keep_alive)
{
	int n;

	/* 204 and 1xx carry no body and no Content-Length (RFC 9110 8.6). */
	if (status == 204 || status < 200)
		n = snprintf(out, size, "HTTP/1.1 %d %s\r\nServer: pvmm\r\n%s\r\n", status, http_reason(status),
			     keep_alive ? "" : "Connection: close\r\n");
	else
		n = snprintf(out, size, "HTTP/1.1 %d %s\r\nServer: pvmm\r\nContent-Length: %zu\r\n%s%s\r\n", status,
			     http_reason(status), body_len, body_len ? "Content-Type: application/json\r\n" : "",
			     keep_alive ? "" : "Connection: close\r\n");
	if (n < 0 || (size_t)n >= size)
		return 0;
	if (status == 204 || status < 200)
		return (size_t)n;
	if (body_len > size - (size_t)n)
		return 0;
	memcpy(out + n, body, body_len);
	return (size_t)n + body_len;
}
