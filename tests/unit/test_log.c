/*
 * Unit tests for log_sanitize() (src/log.c), which turns untrusted guest
 * bytes into a safe, NUL-terminated line for the monitor's messages.
 *
 * Every call here gets a malloc'd input of exactly in_len bytes (not NUL-
 * terminated), so under ASan a read one byte too far is caught, and an
 * output buffer with a canary right after its out_size bytes, so a write
 * past the end is caught in every build (and ASan catches anything further).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "log.h"

#define CANARY 0x5a
#define CANARY_LEN 16

/* Sanitize `in` (in_len bytes) into a fresh out_size buffer; returns a
 * malloc'd copy of the result for the caller to check and free. */
static char *sanitize(const void *in, size_t in_len, size_t out_size)
{
	uint8_t *in_copy = malloc(in_len ? in_len : 1);
	char *out = malloc(out_size + CANARY_LEN);
	assert_non_null(in_copy);
	assert_non_null(out);
	if (in_len)
		memcpy(in_copy, in, in_len);
	memset(out, CANARY, out_size + CANARY_LEN);

	log_sanitize(out, out_size, in_copy, in_len);

	for (size_t i = out_size; i < out_size + CANARY_LEN; i++)
		assert_int_equal((uint8_t)out[i], CANARY); /* nothing past out_size */
	char *result;
	if (out_size == 0) {
		result = strdup("");
	} else {
		assert_non_null(memchr(out, '\0', out_size)); /* terminated inside */
		result = strdup(out);
	}
	assert_non_null(result);
	free(out);
	free(in_copy);
	return result;
}

static void expect_sanitized(const void *in, size_t in_len, size_t out_size, const char *want)
{
	char *got = sanitize(in, in_len, out_size);
	if (strcmp(got, want) != 0)
		fail_msg("sanitized to \"%s\", want \"%s\"", got, want);
	free(got);
}

#define STR(s) (s), (sizeof(s) - 1)

static void test_printable_ascii_unchanged(void **state)
{
	(void)state;
	expect_sanitized(STR("hello, world! ~{}[]"), 64, "hello, world! ~{}[]");
	expect_sanitized(STR(" "), 8, " ");
}

static void test_empty_input(void **state)
{
	(void)state;
	expect_sanitized("", 0, 8, "");
	expect_sanitized("", 0, 1, "");
}

static void test_control_characters_escaped(void **state)
{
	(void)state;
	expect_sanitized(STR("a\nb"), 64, "a\\x0ab");
	expect_sanitized(STR("\t\r"), 64, "\\x09\\x0d");
	expect_sanitized(STR("\x01\x1f"), 64, "\\x01\\x1f");
	expect_sanitized(STR("\x7f"), 64, "\\x7f"); /* DEL */
}

static void test_nul_byte_in_input_escaped(void **state)
{
	/* in_len counts, not a terminator: an embedded NUL must not cut the
	 * message short or end it early. */
	(void)state;
	expect_sanitized(STR("a\0b"), 64, "a\\x00b");
}

static void test_escape_character_escaped(void **state)
{
	/* ESC starts terminal control sequences: never pass it through. */
	(void)state;
	expect_sanitized(STR("\x1b[2J\x1b]0;title\x07"), 64, "\\x1b[2J\\x1b]0;title\\x07");
}

static void test_backslash_escaped(void **state)
{
	/* Otherwise a guest could forge a "\x1b" that reads like an escape. */
	(void)state;
	expect_sanitized(STR("a\\b"), 64, "a\\x5cb");
	expect_sanitized(STR("\\x1b"), 64, "\\x5cx1b");
}

static void test_high_bytes_escaped(void **state)
{
	(void)state;
	expect_sanitized(STR("\x80\xff"), 64, "\\x80\\xff");
	expect_sanitized(STR("caf\xc3\xa9"), 64, "caf\\xc3\\xa9"); /* UTF-8 too */
	expect_sanitized(STR("\x9b"), 64, "\\x9b");                 /* C1 CSI */
}

static void test_all_byte_values(void **state)
{
	(void)state;
	uint8_t in[256];
	size_t printable = 0;
	for (unsigned i = 0; i < 256; i++) {
		in[i] = (uint8_t)i;
		if (i >= 0x20 && i < 0x7f && i != '\\')
			printable++;
	}
	size_t want_len = printable + 4 * (256 - printable);
	char *got = sanitize(in, sizeof(in), want_len + 1);
	assert_int_equal(strlen(got), want_len);
	for (size_t i = 0; got[i]; i++) {
		unsigned char c = (unsigned char)got[i];
		assert_true(c >= 0x20 && c < 0x7f);
	}
	free(got);
}

static void test_out_size_zero_writes_nothing(void **state)
{
	(void)state;
	char *got = sanitize(STR("abc"), 0); /* sanitize() checks the canary */
	free(got);
}

static void test_out_size_one_gives_empty_string(void **state)
{
	(void)state;
	expect_sanitized(STR("abc"), 1, "");
	expect_sanitized(STR("\x1b"), 1, "");
}

static void test_out_size_two_holds_one_char(void **state)
{
	(void)state;
	expect_sanitized(STR("abc"), 2, "a");
	expect_sanitized(STR("\x1b"), 2, ""); /* an escape needs 4 + NUL */
}

static void test_small_sizes_never_split_an_escape(void **state)
{
	(void)state;
	expect_sanitized(STR("\x01"), 4, "");
	expect_sanitized(STR("\x01"), 5, "\\x01");
	expect_sanitized(STR("a\x01"), 5, "a");
	expect_sanitized(STR("a\x01"), 6, "a\\x01");
	expect_sanitized(STR("ab"), 3, "ab");
	expect_sanitized(STR("abc"), 3, "ab");
}

static void test_every_size_truncates_at_a_boundary(void **state)
{
	/* For each out_size the result is the longest whole-token prefix of
	 * the full result that fits with its NUL. */
	(void)state;
	static const char in[] = "ok\x1b[1m\\x\xff\n done";
	const size_t in_len = sizeof(in) - 1;
	char *full = sanitize(in, in_len, 256);
	size_t full_len = strlen(full);

	/* Token boundaries in the full output. */
	bool boundary[256] = { false };
	size_t pos = 0;
	boundary[0] = true;
	for (size_t i = 0; i < in_len; i++) {
		unsigned char c = (unsigned char)in[i];
		pos += (c >= 0x20 && c < 0x7f && c != '\\') ? 1 : 4;
		boundary[pos] = true;
	}
	assert_int_equal(pos, full_len);

	for (size_t size = 1; size <= full_len + 2; size++) {
		char *got = sanitize(in, in_len, size);
		size_t len = strlen(got);
		size_t want = 0;
		for (size_t b = 0; b <= full_len && b < size; b++)
			if (boundary[b])
				want = b;
		assert_true(len < size);
		assert_int_equal(len, want);
		assert_memory_equal(got, full, len);
		free(got);
	}
	free(full);
}

static void test_long_input_into_small_buffer(void **state)
{
	(void)state;
	enum { N = 100000 };
	uint8_t *in = malloc(N);
	assert_non_null(in);
	for (size_t i = 0; i < N; i++)
		in[i] = (uint8_t)(i * 7);
	for (size_t size = 1; size < 40; size++) {
		char *got = sanitize(in, N, size);
		assert_true(strlen(got) < size);
		free(got);
	}
	free(in);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_printable_ascii_unchanged),
		cmocka_unit_test(test_empty_input),
		cmocka_unit_test(test_control_characters_escaped),
		cmocka_unit_test(test_nul_byte_in_input_escaped),
		cmocka_unit_test(test_escape_character_escaped),
		cmocka_unit_test(test_backslash_escaped),
		cmocka_unit_test(test_high_bytes_escaped),
		cmocka_unit_test(test_all_byte_values),
		cmocka_unit_test(test_out_size_zero_writes_nothing),
		cmocka_unit_test(test_out_size_one_gives_empty_string),
		cmocka_unit_test(test_out_size_two_holds_one_char),
		cmocka_unit_test(test_small_sizes_never_split_an_escape),
		cmocka_unit_test(test_every_size_truncates_at_a_boundary),
		cmocka_unit_test(test_long_input_into_small_buffer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
