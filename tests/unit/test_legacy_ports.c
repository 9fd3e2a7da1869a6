/*
 * Unit tests for the legacy PC devices a --kernel guest probes:
 * src/devices/i8042.c (empty status, the reset command) and
 * src/devices/cmos_rtc.c (BCD time of a given moment, status registers,
 * CMOS memory, the time registers read-only, the NMI bit dropped).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "devices/cmos_rtc.h"
#include "devices/i8042.h"

static int resets;
static void on_reset(void *ctx)
{
	(void)ctx;
	resets++;
}

static void test_i8042(void **state)
{
	(void)state;
	struct i8042 k = { .reset = on_reset };
	uint8_t b = 0xff;
	resets = 0;
	i8042_cmd_io(&k, 0, false, &b, 1);
	assert_int_equal(b & 0x03, 0); /* nothing to read, ready for a command */
	b = 0xff;
	i8042_data_io(&k, 0, false, &b, 1);
	assert_int_equal(b, 0);
	b = I8042_CMD_RESET;
	i8042_data_io(&k, 0, true, &b, 1); /* data, not a command */
	assert_int_equal(resets, 0);
	b = 0xaa;
	i8042_cmd_io(&k, 0, true, &b, 1);
	assert_int_equal(resets, 0);
	b = I8042_CMD_RESET;
	i8042_cmd_io(&k, 0, true, &b, 1);
	assert_int_equal(resets, 1);
	assert_int_equal(k.accesses, 5);
}

static time_t fixed(void *ctx)
{
	(void)ctx;
	return 1796225585; /* 2026-12-02 15:33:05 UTC, a Wednesday */
}

static uint8_t rd(struct cmos_rtc *c, uint8_t reg)
{
	uint8_t b = reg, v = 0x5a;
	cmos_rtc_io(c, 0, true, &b, 1);
	cmos_rtc_io(c, 1, false, &v, 1);
	return v;
}

static void wr(struct cmos_rtc *c, uint8_t reg, uint8_t v)
{
	cmos_rtc_io(c, 0, true, &reg, 1);
	cmos_rtc_io(c, 1, true, &v, 1);
}

static void test_rtc_time(void **state)
{
	(void)state;
	struct cmos_rtc c = { .now = fixed };
	assert_int_equal(rd(&c, 0x00), 0x05);
	assert_int_equal(rd(&c, 0x02), 0x33);
	assert_int_equal(rd(&c, 0x04), 0x15);
	assert_int_equal(rd(&c, 0x06), 0x04);
	assert_int_equal(rd(&c, 0x07), 0x02);
	assert_int_equal(rd(&c, 0x08), 0x12);
	assert_int_equal(rd(&c, 0x09), 0x26);
	assert_int_equal(rd(&c, 0x32), 0x20);
	/* The NMI-disable bit of the index is not part of the register. */
	assert_int_equal(rd(&c, 0x80 | 0x09), 0x26);
	assert_int_equal(rd(&c, 0x0a) & 0x80, 0); /* never updating */
	assert_int_equal(rd(&c, 0x0b), 0x02);
	assert_int_equal(rd(&c, 0x0d), 0x80);
}

static void test_rtc_memory(void **state)
{
	(void)state;
	struct cmos_rtc c = { .now = fixed };
	wr(&c, 0x00, 0x59); /* the clock is the host's */
	assert_int_equal(rd(&c, 0x00), 0x05);
	wr(&c, 0x0b, 0x00);
	assert_int_equal(rd(&c, 0x0b), 0x02);
	wr(&c, 0x40, 0xab);
	assert_int_equal(rd(&c, 0x40), 0xab);
	wr(&c, 0x7f, 0xcd);
	assert_int_equal(rd(&c, 0xff), 0xcd); /* 0xff & 0x7f */
	uint8_t b = 0;
	cmos_rtc_io(&c, 0, false, &b, 1);
	assert_int_equal(b, 0xff); /* the index port reads as nothing */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_i8042),
		cmocka_unit_test(test_rtc_time),
		cmocka_unit_test(test_rtc_memory),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
