/*
 * Fuzz target: the API socket's HTTP request parser (src/api/http.c).
 *
 * Input: the bytes a client sends, parsed as the server does: whole, and
 * again at every prefix length the first byte picks (a client that sends
 * in pieces). Checked besides memory safety: a complete request never
 * claims more bytes than it was given, its method, path, headers and body
 * lie inside the input, the limits of http.h hold, a prefix of a complete
 * request is never refused for a reason the whole was not, and a response
 * formats within its buffer.
 */
#include "api/http.h"
#include "fuzz_common.h"

static void check_inside(const uint8_t *data, size_t size, const void *p, size_t len)
{
	if (!len)
		return;
	FUZZ_CHECK((const uint8_t *)p >= data && (const uint8_t *)p + len <= data + size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_request req;
	long n = http_parse((const char *)data, size, &req);

	if (n < 0) {
		FUZZ_CHECK(req.error != NULL);
		FUZZ_CHECK(-n >= 400 && -n <= 505);
		return 0;
	}
	if (n == 0)
		return 0;
	FUZZ_CHECK((size_t)n <= size);
	FUZZ_CHECK(req.head_len + req.content_length == (size_t)n);
	FUZZ_CHECK(req.content_length <= HTTP_MAX_BODY);
	FUZZ_CHECK(req.header_count <= HTTP_MAX_HEADERS);
	check_inside(data, size, req.method, req.method_len);
	check_inside(data, size, req.path, req.path_len);
	check_inside(data, size, req.body, req.content_length);
	FUZZ_CHECK(req.path_len >= 1 && req.path[0] == '/');
	for (unsigned i = 0; i < req.header_count; i++) {
		check_inside(data, size, req.headers[i].name, req.headers[i].name_len);
		check_inside(data, size, req.headers[i].value, req.headers[i].value_len);
	}
	/* Every strict prefix is incomplete, never refused. */
	size_t cut = size ? data[0] % (size_t)n : 0;
	struct http_request part;
	FUZZ_CHECK(http_parse((const char *)data, cut, &part) == 0);

	static char out[HTTP_MAX_BODY + 1024];
	size_t len = http_format_response(out, sizeof(out), 200, req.body, req.content_length, req.keep_alive);
	FUZZ_CHECK(len > req.content_length && len <= sizeof(out));
	return 0;
}

void fuzz_seeds(fuzz_emit_fn *emit)
{
	static const char *const seeds[][2] = {
		{ "get-root", "GET / HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n\r\n" },
		{ "put-boot-source", "PUT /boot-source HTTP/1.1\r\nHost: localhost\r\nContent-Length: 46\r\n\r\n"
				     "{\"kernel_image_path\": \"a.elf\", \"boot_args\": \"\"}" },
		{ "patch-vm-close", "PATCH /vm HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 19\r\n\r\n"
				    "{\"state\": \"Paused\"}" },
		{ "expect-continue", "PUT /actions HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 31\r\n\r\n"
				     "{\"action_type\": \"InstanceStart\"}" },
		{ "chunked", "PUT /logger HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n" },
		{ "bare-lf", "GET / HTTP/1.1\nHost: x\n\n" },
		{ "two-requests", "GET /version HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\nConnection: close\r\n\r\n" },
		{ "query", "GET /machine-config?x=1 HTTP/1.1\r\nContent-Length: 0\r\n\r\n" },
	};
	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++)
		emit(seeds[i][0], seeds[i][1], strlen(seeds[i][1]));
}
