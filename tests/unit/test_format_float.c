/*
 * printf's double conversions (guest/runtime/format_float.c, reached
 * through format.c) against glibc's snprintf, on the host: the guest's
 * formatter is compiled here as is, and both format the same doubles with
 * the same conversion specs. Output must be byte-identical (both are
 * exact and round half to even), including width, flags, inf and nan.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../guest/runtime/format.c"
#include "../../guest/runtime/format_float.c"

static char got[4096], want[4096];

static int guest_snprintf(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int guest_snprintf(char *buf, size_t size, const char *fmt, ...)
{
	struct fmt_out out = { .buf = buf, .cap = size - 1 };
	va_list ap;
	va_start(ap, fmt);
	fmt_vformat(&out, fmt, ap);
	va_end(ap);
	buf[out.pos] = '\0';
	return (int)out.total;
}

static unsigned checked;

static void same(const char *fmt, double x)
{
	int n1 = guest_snprintf(got, sizeof(got), fmt, x);
	int n2 = snprintf(want, sizeof(want), fmt, x);
	checked++;
	if (n1 != n2 || strcmp(got, want) != 0)
		fail_msg("format \"%s\" of %a: got \"%s\" (%d), glibc \"%s\" (%d)", fmt, x, got, n1,
			 want, n2);
}

static const char *const formats[] = {
	"%f", "%.0f", "%.1f", "%.2f", "%.3f", "%.10f", "%.17f", "%#.0f", "%F",
	"%e", "%.0e", "%.1e", "%.3e", "%.16e", "%#.0e", "%E",
	"%g", "%.0g", "%.1g", "%.2g", "%.6g", "%.10g", "%.17g", "%#g", "%G",
	"%10.3f", "%-10.3f|", "%010.3f", "%+f", "% f", "%+.2e", "%012.4e", "%-12g|", "%015g",
	"%lf", "%.*f",
};
#define NFORMATS (sizeof(formats) / sizeof(formats[0]))

static void all_formats(double x)
{
	for (size_t i = 0; i < NFORMATS; i++) {
		if (strcmp(formats[i], "%.*f") == 0) {
			int n1 = guest_snprintf(got, sizeof(got), "%.*f|%d", 4, x, 7);
			int n2 = snprintf(want, sizeof(want), "%.*f|%d", 4, x, 7);
			assert_int_equal(n1, n2);
			assert_string_equal(got, want);
			continue;
		}
		same(formats[i], x);
	}
}

static uint64_t rng = 0x243f6a8885a308d3ull;
static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void test_special_values(void **state)
{
	(void)state;
	const double v[] = {
		0.0, -0.0, 1.0, -1.0, 0.5, 1.5, 2.5, 0.125, 0.1, 0.2, 0.3, 2.675, 1.005,
		9.5, 99.5, 999.9999, 9.9999995, 0.00001, 0.0001, 0.000123456, 123456.0,
		1234567.0, 1e15, 1e16, 1e17, 1e21, 1e22, 1e100, 1e300, 1.7976931348623157e308,
		2.2250738585072014e-308, 4.9406564584124654e-324, 1e-310, M_PI, M_E, -M_PI,
		INFINITY, -INFINITY, NAN, -NAN, 0.05, 0.15, 0.25, 0.35, 5e-5, 9.999999e-5,
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		all_formats(v[i]);
}

static void test_random_doubles(void **state)
{
	(void)state;
	for (int i = 0; i < 3000; i++) {
		uint64_t u = next();
		double x;
		memcpy(&x, &u, sizeof(x));
		all_formats(x);
		/* Ordinary magnitudes, and values with few digits (ties). */
		all_formats((double)(int64_t)(next() % 2000000) / 1000.0 - 1000.0);
		all_formats(ldexp((double)(next() % 4096), (int)(next() % 40) - 30));
	}
	printf("%u conversions identical to glibc's\n", checked);
}

/* Exact expansion: the full digits of the smallest subnormal and a large
 * power of two. */
static void test_long_expansions(void **state)
{
	(void)state;
	same("%.1074f", 4.9406564584124654e-324);
	same("%.1100e", 4.9406564584124654e-324);
	same("%.0f", 0x1p1023);
	same("%.40f", 0x1p-100);
	same("%.2000f", 1.0 / 3.0);
}

/* '#' keeps %g's trailing zeros, also when rounding carries into a new
 * digit. glibc prints "1.e+03" there (its bug 23432), so this is checked
 * against what C11 7.21.6.1 says instead of against glibc. */
static void test_alt_g_carry(void **state)
{
	(void)state;
	guest_snprintf(got, sizeof(got), "%#.3g", 999.9999);
	assert_string_equal(got, "1.00e+03");
	guest_snprintf(got, sizeof(got), "%#.3g", 99.99);
	assert_string_equal(got, "100.");
	guest_snprintf(got, sizeof(got), "%#.3g", 1.0);
	assert_string_equal(got, "1.00");
}

/* Integers and strings around a double still line up (va_arg order). */
static void test_mixed_arguments(void **state)
{
	(void)state;
	int n1 = guest_snprintf(got, sizeof(got), "%d %.2f %s %e %ld %g %c", 1, 2.5, "x", 3e10,
				4L, 0.0001, 'z');
	int n2 = snprintf(want, sizeof(want), "%d %.2f %s %e %ld %g %c", 1, 2.5, "x", 3e10, 4L,
			  0.0001, 'z');
	assert_int_equal(n1, n2);
	assert_string_equal(got, want);
	/* More doubles than XMM argument registers: the rest on the stack. */
	n1 = guest_snprintf(got, sizeof(got), "%g %g %g %g %g %g %g %g %g %g %d", 1.0, 2.0, 3.0,
			    4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11);
	n2 = snprintf(want, sizeof(want), "%g %g %g %g %g %g %g %g %g %g %d", 1.0, 2.0, 3.0, 4.0,
		      5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11);
	assert_int_equal(n1, n2);
	assert_string_equal(got, want);
}

/* Short buffers: what fits is glibc's prefix, and the return value still
 * counts every byte, whichever path wrote it (a run, one character such as
 * a float's '.' or "%%", padding). */
static void test_truncated(void **state)
{
	(void)state;
	char small[16];
	/* volatile: the truncation is the point; gcc would warn of it. */
	for (volatile size_t size = 1; size <= 9; size++) {
#define BOTH(...)                                                                          \
	do {                                                                               \
		int n1 = guest_snprintf(small, size, __VA_ARGS__);                         \
		int n2 = snprintf(want, size, __VA_ARGS__);                                \
		if (n1 != n2 || strcmp(small, want) != 0)                                  \
			fail_msg("size %zu, %s: got \"%s\" (%d), glibc \"%s\" (%d)", size,   \
				 #__VA_ARGS__, small, n1, want, n2);                       \
	} while (0)
		BOTH("%.2f", 3.14);
		BOTH("100%%");
		BOTH("%%%d%%", 42);
		BOTH("%d|%s|%5d|%-4x|%c", -12345, "abcdef", 7, 255, 'q');
		BOTH("%e", 1e-300);
#undef BOTH
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_special_values),
		cmocka_unit_test(test_random_doubles),
		cmocka_unit_test(test_long_expansions),
		cmocka_unit_test(test_alt_g_carry),
		cmocka_unit_test(test_mixed_arguments),
		cmocka_unit_test(test_truncated),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
