/*
 * The raw console's escape key (console_escape.c): what reaches the guest
 * and which commands are taken, for every kind of sequence and split.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "console_escape.h"

struct seen {
	int cmds[16];
	unsigned count;
};

static void record(void *ctx, enum console_escape_cmd cmd)
{
	struct seen *s = ctx;
	if (s->count < 16)
		s->cmds[s->count++] = (int)cmd;
}

/* Filter `in` (len bytes) through `st`; the kept bytes land in `out`. */
static size_t feed(struct console_escape *st, const char *in, size_t len, char *out, struct seen *s)
{
	uint8_t buf[64];
	assert_true(len <= sizeof(buf));
	memcpy(buf, in, len);
	size_t n = console_escape_filter(st, buf, len, record, s);
	assert_true(n <= len);
	memcpy(out, buf, n);
	out[n] = '\0';
	return n;
}

static void test_plain_bytes_pass(void **state)
{
	struct console_escape st = { 0 };
	struct seen s = { 0 };
	char out[65];
	(void)state;
	assert_int_equal(feed(&st, "abc\r\x03\x1a", 6, out, &s), 6);
	assert_memory_equal(out, "abc\r\x03\x1a", 6); /* Ctrl-C and Ctrl-Z go to the guest */
	assert_int_equal(s.count, 0);
	assert_false(st.armed);
}

static void test_commands(void **state)
{
	struct console_escape st = { 0 };
	struct seen s = { 0 };
	char out[65];
	(void)state;
	assert_int_equal(feed(&st, "a\x01xb\x01zc\x01h\x01?\x01X\x01Z\x01H", 17, out, &s), 3);
	assert_string_equal(out, "abc");
	assert_int_equal(s.count, 7);
	int want[] = { CONSOLE_ESCAPE_QUIT, CONSOLE_ESCAPE_PAUSE, CONSOLE_ESCAPE_HELP, CONSOLE_ESCAPE_HELP,
		       CONSOLE_ESCAPE_QUIT, CONSOLE_ESCAPE_PAUSE, CONSOLE_ESCAPE_HELP };
	for (unsigned i = 0; i < 7; i++)
		assert_int_equal(s.cmds[i], want[i]);
}

static void test_literal_ctrl_a(void **state)
{
	struct console_escape st = { 0 };
	struct seen s = { 0 };
	char out[65];
	(void)state;
	assert_int_equal(feed(&st, "\x01\x01", 2, out, &s), 1);
	assert_int_equal(out[0], 0x01);
	assert_false(st.armed);
	/* Three in a row: one literal, then an escape pending. */
	assert_int_equal(feed(&st, "\x01\x01\x01", 3, out, &s), 1);
	assert_true(st.armed);
	assert_int_equal(feed(&st, "x", 1, out, &s), 0);
	assert_int_equal(s.count, 1);
	assert_int_equal(s.cmds[0], CONSOLE_ESCAPE_QUIT);
}

static void test_other_key_passes(void **state)
{
	struct console_escape st = { 0 };
	struct seen s = { 0 };
	char out[65];
	(void)state;
	assert_int_equal(feed(&st, "\x01q\x01\r\x01\0", 6, out, &s), 3);
	assert_memory_equal(out, "q\r\0", 3);
	assert_int_equal(s.count, 0);
}

static void test_split_across_reads(void **state)
{
	struct console_escape st = { 0 };
	struct seen s = { 0 };
	char out[65];
	(void)state;
	assert_int_equal(feed(&st, "ab\x01", 3, out, &s), 2);
	assert_string_equal(out, "ab");
	assert_true(st.armed);
	assert_int_equal(feed(&st, "", 0, out, &s), 0); /* an empty read keeps it armed */
	assert_true(st.armed);
	assert_int_equal(feed(&st, "zc", 2, out, &s), 1);
	assert_string_equal(out, "c");
	assert_int_equal(s.count, 1);
	assert_int_equal(s.cmds[0], CONSOLE_ESCAPE_PAUSE);
	assert_int_equal(feed(&st, "\x01", 1, out, &s), 0);
	assert_int_equal(feed(&st, "\x01", 1, out, &s), 1);
	assert_int_equal(out[0], 0x01);
}

static void test_null_callback(void **state)
{
	struct console_escape st = { 0 };
	uint8_t buf[] = { 'a', 0x01, 'x', 'b' };
	(void)state;
	assert_int_equal(console_escape_filter(&st, buf, sizeof(buf), NULL, NULL), 2);
	assert_memory_equal(buf, "ab", 2);
}

/* Every byte value after Ctrl-A: three commands' keys and Ctrl-A itself
 * are consumed or doubled, everything else passes as itself. */
static void test_every_key(void **state)
{
	(void)state;
	for (unsigned k = 0; k < 256; k++) {
		struct console_escape st = { 0 };
		struct seen s = { 0 };
		uint8_t buf[2] = { 0x01, (uint8_t)k };
		size_t n = console_escape_filter(&st, buf, 2, record, &s);
		bool cmd = strchr("xXzZhH?", (int)k) && k;
		assert_int_equal(n, cmd ? 0 : 1);
		assert_int_equal(s.count, cmd ? 1 : 0);
		if (!cmd)
			assert_int_equal(buf[0], k);
		assert_false(st.armed);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_bytes_pass), cmocka_unit_test(test_commands),
		cmocka_unit_test(test_literal_ctrl_a),   cmocka_unit_test(test_other_key_passes),
		cmocka_unit_test(test_split_across_reads), cmocka_unit_test(test_null_callback),
		cmocka_unit_test(test_every_key),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
