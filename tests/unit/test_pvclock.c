/*
 * Unit tests for the PV clock page: the TSC rate as mult/shift
 * (src/pvclock.c), the formula (pvmm_clock_scale), and the version
 * protocol between the monitor's writer (pvclock_publish) and the reader
 * every guest uses (pvmm_clock_page_read, include/pvmm/para.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <pvmm/para.h>

#include "pvclock.h"

/* Rates to try, kHz: the extremes the monitor accepts, a slow clock,
 * common TSCs (this test's host reports 1996250 kHz), a fast one. */
static const uint64_t rates_khz[] = {
	1, 7, 1000, 32768, 1000000, 1996250, 2100000, 2500000, 2999999, 3000000, 3700000, 5000000,
	UINT32_MAX,
};

/* Exact ns of `ticks` at `khz`: ticks * 10^6 / khz. */
static unsigned __int128 exact_ns(uint64_t ticks, uint64_t khz)
{
	return (unsigned __int128)ticks * 1000000u / khz;
}

/* |a - b| <= 1 ppm of b, plus 1 ns of rounding. */
static void assert_within_ppm(unsigned __int128 got, unsigned __int128 want)
{
	unsigned __int128 diff = got > want ? got - want : want - got;
	if (diff > want / 1000000u + 1)
		fail_msg("%llu ns vs exact %llu ns: more than 1 ppm apart", (unsigned long long)got,
			 (unsigned long long)want);
}

static void test_scale_for_khz_is_within_a_ppm(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rates_khz) / sizeof(rates_khz[0]); i++) {
		uint64_t khz = rates_khz[i];
		uint32_t mult = 0, shift = 99;
		assert_int_equal(pvclock_scale_for_khz(khz, &mult, &shift), 0);
		assert_true(shift <= 32);
		assert_true(mult >= 1000000u);
		/* One second's ticks, and far more: a year, a century, or as
		 * many as 64 bits hold. */
		const uint64_t seconds[] = { 1, 86400ull * 365, 86400ull * 36500 };
		for (size_t t = 0; t < 3; t++) {
			unsigned __int128 n = (unsigned __int128)khz * 1000u * seconds[t];
			uint64_t ticks = n > UINT64_MAX ? UINT64_MAX : (uint64_t)n;
			assert_within_ppm(pvmm_clock_scale(ticks, mult, shift), exact_ns(ticks, khz));
		}
	}
}

static void test_scale_for_khz_refuses_impossible_rates(void **state)
{
	uint32_t mult = 7, shift = 7;
	(void)state;
	assert_int_equal(pvclock_scale_for_khz(0, &mult, &shift), -1);
	assert_int_equal(pvclock_scale_for_khz((uint64_t)UINT32_MAX + 1, &mult, &shift), -1);
	assert_int_equal(pvclock_scale_for_khz(UINT64_MAX, &mult, &shift), -1);
	assert_int_equal(mult, 7);
	assert_int_equal(shift, 7);
}

/* The split multiplication equals the 128-bit one wherever the result
 * fits in 64 bits: deltas across the whole 64-bit range, no overflow. */
static void test_scale_matches_128_bit_product(void **state)
{
	uint64_t x = 0x9e3779b97f4a7c15ull;
	(void)state;
	for (int i = 0; i < 100000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		uint32_t shift = (uint32_t)(x % 33);
		uint32_t mult = (uint32_t)(x >> 20) | 1u;
		uint64_t delta = x >> (x % 40);
		unsigned __int128 want = ((unsigned __int128)delta * mult) >> shift;
		if (want > UINT64_MAX)
			continue;
		assert_true(pvmm_clock_scale(delta, mult, shift) == (uint64_t)want);
	}
	/* The largest delta there is, at a 2 GHz rate's mult (0.5 ns/tick). */
	assert_true(pvmm_clock_scale(UINT64_MAX, 1u << 31, 32) == UINT64_MAX >> 1);
	/* All 32 bits of mult at shift 32, top bits of the delta set. */
	assert_true(pvmm_clock_scale(0xffffffff00000000ull, UINT32_MAX, 32) == 0xfffffffe00000001ull);
}

/* ---- the version protocol ---------------------------------------------- */

static struct pvmm_clock_page page, cur;
static uint64_t fake_tsc;
static unsigned tsc_reads;
/* Called by the fake TSC on its first read: a monitor update that lands
 * in the middle of the reader's window. */
static void (*during_first_read)(void);

static uint64_t read_fake_tsc(void)
{
	if (tsc_reads++ == 0 && during_first_read)
		during_first_read();
	return fake_tsc;
}

static int reset(void **state)
{
	(void)state;
	memset(&page, 0, sizeof(page));
	cur = (struct pvmm_clock_page){ .flags = PVMM_CLOCK_TSC_STABLE, .tsc_base = 1000, .ns_base = 5000,
					.tsc_khz = 1000000 };
	assert_int_equal(pvclock_scale_for_khz(cur.tsc_khz, &cur.mult, &cur.shift), 0); /* 1 ns per tick */
	fake_tsc = 0;
	tsc_reads = 0;
	during_first_read = NULL;
	return 0;
}

static void test_publish_leaves_an_even_version_and_the_fields(void **state)
{
	(void)state;
	memset(page.reserved, 0xaa, sizeof(page.reserved));
	page.version = 41; /* the guest scribbled on its page: not trusted */
	pvclock_publish(&page, &cur);
	assert_int_equal(page.version, 2);
	assert_int_equal(cur.version, 2);
	assert_int_equal(page.tsc_base, 1000);
	assert_int_equal(page.ns_base, 5000);
	assert_int_equal(page.flags, PVMM_CLOCK_TSC_STABLE);
	assert_int_equal(page.tsc_khz, 1000000);
	for (int i = 0; i < 3; i++)
		assert_int_equal(page.reserved[i], 0);
	pvclock_publish(&page, &cur);
	assert_int_equal(page.version, 4);
}

static void test_read_applies_the_formula(void **state)
{
	uint64_t ns = 0;
	(void)state;
	pvclock_publish(&page, &cur);
	fake_tsc = 1000 + 123456789;
	assert_int_equal(pvmm_clock_page_read(&page, read_fake_tsc, &ns), 1);
	assert_int_equal(ns, 5000 + 123456789);
	/* A TSC behind the base reads as the base, never earlier. */
	fake_tsc = 10;
	assert_int_equal(pvmm_clock_page_read(&page, read_fake_tsc, &ns), 1);
	assert_int_equal(ns, 5000);
}

static void republish_later(void)
{
	cur.tsc_base = 2000000;
	cur.ns_base = 9000000;
	pvclock_publish(&page, &cur);
}

static void test_read_retries_when_an_update_lands_in_its_window(void **state)
{
	uint64_t ns = 0;
	(void)state;
	pvclock_publish(&page, &cur);
	fake_tsc = 2000000 + 50;
	during_first_read = republish_later;
	assert_int_equal(pvmm_clock_page_read(&page, read_fake_tsc, &ns), 1);
	/* The first try read the old bases (it would say 2004050); the
	 * version moved under it, so only the retry's answer may come back. */
	assert_int_equal(tsc_reads, 2);
	assert_int_equal(ns, 9000000 + 50);
}

static void leave_update_in_progress(void)
{
	page.version = cur.version | 1;
	page.ns_base = 77; /* half-written */
}

static void finish_update(void)
{
	page.version = cur.version + 2;
	page.ns_base = cur.ns_base;
}

/* The reader sees the odd version of the next try, skips it, ... */
static void test_read_waits_out_an_odd_version(void **state)
{
	uint64_t ns = 0;
	(void)state;
	pvclock_publish(&page, &cur);
	fake_tsc = 1000 + 1;
	during_first_read = leave_update_in_progress;
	/* ... and gives up while it stays odd: the page is broken. */
	assert_int_equal(pvmm_clock_page_read(&page, read_fake_tsc, &ns), 0);
	assert_int_equal(tsc_reads, 1);
	assert_int_equal(ns, 0);
	finish_update();
	assert_int_equal(pvmm_clock_page_read(&page, read_fake_tsc, &ns), 1);
	assert_int_equal(ns, 5000 + 1);
}

static void test_read_refuses_an_unusable_page(void **state)
{
	uint64_t ns = 0;
	(void)state;
	/* Never published: all zero. */
	assert_int_equal(pvmm_clock_page_read(&page, read_fake_tsc, &ns), 0);
	cur.flags = 0;
	pvclock_publish(&page, &cur);
	assert_int_equal(pvmm_clock_page_read(&page, read_fake_tsc, &ns), 0);
	cur.flags = PVMM_CLOCK_TSC_STABLE;
	cur.shift = 33;
	pvclock_publish(&page, &cur);
	assert_int_equal(pvmm_clock_page_read(&page, read_fake_tsc, &ns), 0);
	cur.shift = 32;
	cur.mult = 0;
	pvclock_publish(&page, &cur);
	assert_int_equal(pvmm_clock_page_read(&page, read_fake_tsc, &ns), 0);
	assert_int_equal(ns, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scale_for_khz_is_within_a_ppm),
		cmocka_unit_test(test_scale_for_khz_refuses_impossible_rates),
		cmocka_unit_test(test_scale_matches_128_bit_product),
		cmocka_unit_test_setup(test_publish_leaves_an_even_version_and_the_fields, reset),
		cmocka_unit_test_setup(test_read_applies_the_formula, reset),
		cmocka_unit_test_setup(test_read_retries_when_an_update_lands_in_its_window, reset),
		cmocka_unit_test_setup(test_read_waits_out_an_odd_version, reset),
		cmocka_unit_test_setup(test_read_refuses_an_unusable_page, reset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
