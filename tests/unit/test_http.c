/*
 * Unit tests for the API socket's HTTP request parser (src/api/http.c):
 * complete, incomplete and refused requests, each limit at and just past
 * its edge, and the response writer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/http.h"

static long parse(const char *text, struct http_request *req)
{
	return http_parse(text, strlen(text), req);
}

static void test_get_complete(void **state)
{
	(void)state;
	struct http_request req;
	const char *t = "GET /machine-config HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n\r\n";
	assert_int_equal(parse(t, &req), strlen(t));
	assert_int_equal(req.method_len, 3);
	assert_memory_equal(req.method, "GET", 3);
	assert_int_equal(req.path_len, strlen("/machine-config"));
	assert_memory_equal(req.path, "/machine-config", req.path_len);
	assert_int_equal(req.header_count, 2);
	assert_int_equal(req.content_length, 0);
	assert_true(req.keep_alive);
	const struct http_header *h = http_header_find(&req, "accept");
	assert_non_null(h);
	assert_int_equal(h->value_len, 3);
	assert_memory_equal(h->value, "*/*", 3);
}

static void test_put_body_and_pipelining(void **state)
{
	(void)state;
	struct http_request req;
	const char *t = "PUT /actions HTTP/1.1\r\nContent-Length:  5 \r\n\r\nhelloGET / HTTP/1.1\r\n\r\n";
	long n = parse(t, &req);
	assert_int_equal(n, strlen(t) - strlen("GET / HTTP/1.1\r\n\r\n"));
	assert_int_equal(req.content_length, 5);
	assert_memory_equal(req.body, "hello", 5);
	assert_int_equal(parse(t + n, &req), strlen(t + n));
}

static void test_incomplete(void **state)
{
	(void)state;
	struct http_request req;
	const char *t = "PUT /x HTTP/1.1\r\nContent-Length: 4\r\n\r\nab";
	assert_int_equal(parse("GET / HTTP/1.1\r", &req), 0);
	assert_int_equal(parse("GET / HTTP/1.1\r\nHost: x\r\n", &req), 0);
	assert_int_equal(req.head_len, 0);
	assert_int_equal(parse(t, &req), 0);
	assert_int_equal(req.head_len, strlen(t) - 2); /* head complete, body not */
	/* Every prefix of a complete request is incomplete, never refused. */
	const char *full = "PATCH /vm HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\n{}";
	for (size_t i = 0; i < strlen(full); i++)
		assert_int_equal(http_parse(full, i, &req), 0);
	assert_int_equal(parse(full, &req), strlen(full));
	assert_true(req.keep_alive);
}

static void test_connection_and_expect(void **state)
{
	(void)state;
	struct http_request req;
	assert_true(parse("GET / HTTP/1.1\r\nConnection: close\r\n\r\n", &req) > 0);
	assert_false(req.keep_alive);
	assert_true(parse("GET / HTTP/1.0\r\n\r\n", &req) > 0);
	assert_false(req.keep_alive);
	assert_int_equal(parse("PUT / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n", &req), 0);
	assert_true(req.expect_continue);
	assert_int_not_equal(req.head_len, 0);
	assert_int_equal(parse("PUT / HTTP/1.1\r\nExpect: something\r\n\r\n", &req), -400);
}

static void test_query_dropped(void **state)
{
	(void)state;
	struct http_request req;
	assert_true(parse("GET /vm/config?pretty HTTP/1.1\r\n\r\n", &req) > 0);
	assert_int_equal(req.path_len, strlen("/vm/config"));
}

static void test_refused(void **state)
{
	(void)state;
	struct http_request req;
	static const struct {
		const char *text;
		long want;
	} cases[] = {
		{ "GET / HTTP/1.1\nHost: x\n\n", -400 },                  /* bare LF */
		{ "GET / HTTP/1.1\r\nHost: x\n\r\n", -400 },
		{ "GET  / HTTP/1.1\r\n\r\n", -400 },                      /* two spaces */
		{ "GET http://x/ HTTP/1.1\r\n\r\n", -400 },               /* absolute form */
		{ "GET / HTTP/2.0\r\n\r\n", -505 },
		{ "GET / HTTP/1.2\r\n\r\n", -505 },
		{ "GET / HTTX/1.1\r\n\r\n", -400 },
		{ "GET /\r\n\r\n", -400 },
		{ "\r\nGET / HTTP/1.1\r\n\r\n", -400 },
		{ "G\x01T / HTTP/1.1", -400 },                            /* garbage, refused at once */
		{ "GET / HTTP/1.1\r\n Folded: x\r\n\r\n", -400 },
		{ "GET / HTTP/1.1\r\nNo colon\r\n\r\n", -400 },
		{ "GET / HTTP/1.1\r\nName : x\r\n\r\n", -400 },
		{ "GET / HTTP/1.1\r\nX: a\x7f\r\n\r\n", -400 },
		{ "PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", -411 },
		{ "PUT / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx", -400 },
		{ "PUT / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", -400 },
		{ "PUT / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", -400 },
		{ "PUT / HTTP/1.1\r\nContent-Length: 65537\r\n\r\n", -413 },
		{ "PUT / HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n", -413 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		long got = parse(cases[i].text, &req);
		if (got != cases[i].want)
			fail_msg("case %zu: got %ld, want %ld", i, got, cases[i].want);
		assert_non_null(req.error);
	}
}

static void test_limits(void **state)
{
	(void)state;
	struct http_request req;
	size_t size = HTTP_MAX_REQUEST + 64;
	char *buf = malloc(size);
	assert_non_null(buf);

	/* A request line of exactly 4096 bytes with its CRLF passes; one more fails. */
	size_t path = HTTP_MAX_REQUEST_LINE - strlen("GET  HTTP/1.1\r\n");
	memcpy(buf, "GET /", 5);
	memset(buf + 5, 'a', path - 1);
	size_t n = 4 + path;
	memcpy(buf + n, " HTTP/1.1\r\n\r\n", 13);
	assert_int_equal(n + 11, HTTP_MAX_REQUEST_LINE);
	n += 13;
	assert_int_equal(http_parse(buf, n, &req), n);
	buf[5] = 'b';
	memmove(buf + 6, buf + 5, n - 5);
	assert_int_equal(http_parse(buf, n + 1, &req), -414);
	memset(buf, 'a', HTTP_MAX_REQUEST_LINE);
	memcpy(buf, "GET /", 5);
	assert_int_equal(http_parse(buf, HTTP_MAX_REQUEST_LINE, &req), -414);
	assert_int_equal(http_parse(buf, HTTP_MAX_REQUEST_LINE - 1, &req), 0);

	/* 64 headers pass, 65 fail. */
	size_t len = (size_t)snprintf(buf, size, "GET / HTTP/1.1\r\n");
	for (int i = 0; i < HTTP_MAX_HEADERS; i++)
		len += (size_t)snprintf(buf + len, size - len, "H%d: v\r\n", i);
	memcpy(buf + len, "\r\n", 3);
	assert_int_equal(http_parse(buf, len + 2, &req), len + 2);
	len += (size_t)snprintf(buf + len, size - len, "Hx: v\r\n\r\n");
	assert_int_equal(http_parse(buf, len, &req), -431);

	/* Headers: 8 KiB in all, blank line included. */
	len = (size_t)snprintf(buf, size, "GET / HTTP/1.1\r\nBig: ");
	size_t value = HTTP_MAX_HEADER_BYTES - strlen("Big: \r\n\r\n");
	memset(buf + len, 'x', value);
	len += value;
	memcpy(buf + len, "\r\n\r\n", 4);
	assert_int_equal(http_parse(buf, len + 4, &req), len + 4);
	memmove(buf + len + 1, buf + len, 4);
	buf[len] = 'x';
	assert_int_equal(http_parse(buf, len + 5, &req), -431);
	/* ...refused as soon as 8 KiB came without the blank line. */
	size_t head = strlen("GET / HTTP/1.1\r\n");
	memset(buf + head, 'x', HTTP_MAX_HEADER_BYTES);
	assert_int_equal(http_parse(buf, head + HTTP_MAX_HEADER_BYTES - 1, &req), 0);
	assert_int_equal(http_parse(buf, head + HTTP_MAX_HEADER_BYTES, &req), -431);

	/* A body of exactly 64 KiB. */
	len = (size_t)snprintf(buf, size, "PUT / HTTP/1.1\r\nContent-Length: %d\r\n\r\n", HTTP_MAX_BODY);
	memset(buf + len, '{', HTTP_MAX_BODY);
	assert_int_equal(http_parse(buf, len + HTTP_MAX_BODY, &req), len + HTTP_MAX_BODY);
	assert_int_equal(http_parse(buf, len + HTTP_MAX_BODY - 1, &req), 0);
	free(buf);
}

static void test_format_response(void **state)
{
	(void)state;
	char out[256];
	size_t n = http_format_response(out, sizeof(out), 400, "{}", 2, true);
	out[n] = '\0';
	assert_string_equal(out, "HTTP/1.1 400 Bad Request\r\nServer: pvmm\r\nContent-Length: 2\r\n"
				 "Content-Type: application/json\r\n\r\n{}");
	n = http_format_response(out, sizeof(out), 204, NULL, 0, false);
	out[n] = '\0';
	assert_string_equal(out, "HTTP/1.1 204 No Content\r\nServer: pvmm\r\nConnection: close\r\n\r\n");
	assert_int_equal(http_format_response(out, 20, 200, "{}", 2, true), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get_complete),
		cmocka_unit_test(test_put_body_and_pipelining),
		cmocka_unit_test(test_incomplete),
		cmocka_unit_test(test_connection_and_expect),
		cmocka_unit_test(test_query_dropped),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_format_response),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
