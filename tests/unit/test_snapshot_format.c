/* The snapshot container (src/snapshot_format.c): CRC32, a written file
 * read back, and every kind of damage refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "snapshot_format.h"

static void test_crc32_check_value(void **state)
{
	(void)state;
	/* The standard check value of CRC-32/ISO-HDLC. */
	assert_int_equal(snap_crc32(0, "123456789", 9), 0xCBF43926u);
	/* Incremental equals one pass. */
	assert_int_equal(snap_crc32(snap_crc32(0, "1234", 4), "56789", 5), 0xCBF43926u);
}

/* A file of two sections: a string and a u64. Caller frees. */
static uint8_t *two_sections(size_t *len)
{
	struct snap_writer w;
	struct snap_header h = { .kvm_api = 12, .abi_sizes = 77 };
	snap_writer_init(&w);
	snap_begin(&w, SNAP_SEC_CONFIG);
	snap_put_str(&w, "hello");
	snap_end(&w);
	snap_begin(&w, SNAP_SEC_VM);
	snap_put_u64(&w, 0x1122334455667788ull);
	snap_end(&w);
	assert_int_equal(snap_finish(&w, &h), 0);
	*len = w.len;
	return w.buf; /* taken over */
}

static void test_round_trip(void **state)
{
	(void)state;
	size_t len;
	uint8_t *buf = two_sections(&len);
	struct snap_file f;
	char err[SNAP_ERR_MAX];
	assert_int_equal(snap_parse(&f, buf, len, 77, err), 0);
	assert_int_equal(f.count, 2);
	assert_int_equal(f.header.kvm_api, 12);
	struct snap_reader r;
	char s[16];
	snap_reader_init(&r, &f.sec[0]);
	snap_get_str(&r, s, sizeof(s));
	assert_string_equal(s, "hello");
	assert_false(r.bad);
	assert_int_equal(r.left, 0);
	snap_reader_init(&r, &f.sec[1]);
	assert_true(snap_get_u64(&r) == 0x1122334455667788ull);
	/* Reading past the end: bad, zeros. */
	assert_int_equal(snap_get_u32(&r), 0);
	assert_true(r.bad);
	snap_file_free(&f);
}

static void expect_refused(uint8_t *buf, size_t len, uint32_t abi, const char *why)
{
	struct snap_file f;
	char err[SNAP_ERR_MAX] = "";
	assert_int_equal(snap_parse(&f, buf, len, abi, err), -1);
	if (!strstr(err, why))
		fail_msg("'%s' does not say '%s'", err, why);
	snap_file_free(&f);
}

static void test_damage_refused(void **state)
{
	(void)state;
	size_t len;
	uint8_t *buf;

	buf = two_sections(&len);
	expect_refused(buf, len - 3, 77, "truncated");
	buf = two_sections(&len);
	expect_refused(buf, 30, 77, "truncated");
	buf = two_sections(&len);
	buf[0] = 'X';
	expect_refused(buf, len, 77, "not a pvmm snapshot");
	buf = two_sections(&len);
	buf[8] = 2;
	expect_refused(buf, len, 77, "format version 2");
	buf = two_sections(&len);
	buf[20] ^= 1; /* kvm_api: under the header CRC */
	expect_refused(buf, len, 77, "header checksum");
	buf = two_sections(&len);
	buf[len - 4] ^= 0x40; /* inside the last section's payload */
	expect_refused(buf, len, 77, "wrong checksum");
	buf = two_sections(&len);
	expect_refused(buf, len, 78, "other KVM structures");
	/* A section length that runs past the end, with a good header. */
	buf = two_sections(&len);
	struct snap_section_header sh;
	memcpy(&sh, buf + sizeof(struct snap_header), sizeof(sh));
	sh.length = 1u << 30;
	memcpy(buf + sizeof(struct snap_header), &sh, sizeof(sh));
	expect_refused(buf, len, 77, "runs past the end");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32_check_value),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_damage_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
