/*
 * The guest libm (guest/runtime/math.c) against glibc's libm, on the host.
 *
 * The same source the guest links is compiled here with its functions
 * renamed pvmm_*; each test evaluates one function at many points (fixed
 * edge cases plus a few ten thousand pseudo-random inputs over the ranges
 * that matter) and asserts the largest distance from glibc in ulps (units
 * in the last place, counted between the two doubles' bit patterns) stays
 * within the bound math.c documents. glibc is correctly rounded or within
 * 1 ulp for these, so a bound of B ulp here means within about B + 1 of
 * the true value. Special values (NaN, infinities, signed zeros) must match
 * exactly.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#define PVMM_M(name) pvmm_##name
double pvmm_sqrt(double x);
double pvmm_fabs(double x);
double pvmm_trunc(double x);
double pvmm_floor(double x);
double pvmm_ceil(double x);
double pvmm_round(double x);
double pvmm_fmod(double x, double y);
double pvmm_exp(double x);
double pvmm_log(double x);
double pvmm_log2(double x);
double pvmm_log10(double x);
double pvmm_pow(double x, double y);
double pvmm_sin(double x);
double pvmm_cos(double x);
double pvmm_tan(double x);
#include "../../guest/runtime/math.c"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t next_u64(void)
{
	/* xorshift64*: deterministic, so a failure reproduces. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

/* Uniform in [lo, hi). */
static double uniform(double lo, double hi)
{
	return lo + (hi - lo) * ((double)(next_u64() >> 11) * 0x1p-53);
}

/* Log-uniform magnitude in [2^emin, 2^emax), random sign if `signed_`. */
static double log_uniform(int emin, int emax, int signed_)
{
	double m = uniform(1.0, 2.0);
	int e = emin + (int)(next_u64() % (uint64_t)(emax - emin));
	double v = ldexp(m, e);
	return signed_ && (next_u64() & 1) ? -v : v;
}

/* Any finite double, uniformly over the bit patterns. */
static double any_finite(void)
{
	for (;;) {
		uint64_t u = next_u64();
		double d;
		memcpy(&d, &u, sizeof(d));
		if (isfinite(d))
			return d;
	}
}

static int64_t ordered(double x)
{
	int64_t i;
	memcpy(&i, &x, sizeof(i));
	return i < 0 ? INT64_MIN - i : i;
}

/* Distance in ulps; special values must agree exactly (UINT64_MAX if not). */
static uint64_t ulps(double got, double want)
{
	if (isnan(want))
		return isnan(got) ? 0 : UINT64_MAX;
	if (isnan(got) || isinf(got) != isinf(want))
		return UINT64_MAX;
	if (got == 0 && want == 0)
		return signbit(got) == signbit(want) ? 0 : UINT64_MAX;
	int64_t a = ordered(got), b = ordered(want);
	return a > b ? (uint64_t)a - (uint64_t)b : (uint64_t)b - (uint64_t)a;
}

struct worst {
	uint64_t ulps;
	double x, y, got, want;
	unsigned points;
};

static void check1(struct worst *w, double (*mine)(double), double (*ref)(double), double x)
{
	double got = mine(x), want = ref(x);
	uint64_t d = ulps(got, want);
	w->points++;
	if (d > w->ulps || (d == UINT64_MAX && w->ulps != UINT64_MAX))
		*w = (struct worst){ d, x, 0, got, want, w->points };
}

static void check2(struct worst *w, double (*mine)(double, double), double (*ref)(double, double),
		   double x, double y)
{
	double got = mine(x, y), want = ref(x, y);
	uint64_t d = ulps(got, want);
	w->points++;
	if (d > w->ulps)
		*w = (struct worst){ d, x, y, got, want, w->points };
}

static void expect_within(const char *name, const struct worst *w, uint64_t bound)
{
	printf("%-6s %u points, worst %llu ulp (x=%a y=%a: got %a, glibc %a)\n", name, w->points,
	       (unsigned long long)w->ulps, w->x, w->y, w->got, w->want);
	if (w->ulps > bound)
		fail_msg("%s: %llu ulp at x=%a y=%a (got %a, glibc %a), bound %llu", name,
			 (unsigned long long)w->ulps, w->x, w->y, w->got, w->want,
			 (unsigned long long)bound);
}

static const double specials[] = {
	0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 1.5, -1.5, 2.0, -2.0, 0.49999999999999994,
	-0.49999999999999994, 4503599627370495.5, -4503599627370495.5, 0x1p52, 0x1p53,
	1e300, -1e300, 0x1p-1074, -0x1p-1074, 0x1p-1022, 0x1.fffffffffffffp1023,
	-0x1.fffffffffffffp1023, INFINITY, -INFINITY, NAN, 709.78, -745.1, 710.0, -746.0,
	0.1, 3.0, 10.0, 100.0, 1000.0, M_PI, M_PI_2, M_PI_4, -M_PI, 1e-8, -1e-8,
};
#define NSPECIAL (sizeof(specials) / sizeof(specials[0]))
#define N 40000

static void exact1(const char *name, double (*mine)(double), double (*ref)(double))
{
	struct worst w = { 0 };
	for (size_t i = 0; i < NSPECIAL; i++)
		check1(&w, mine, ref, specials[i]);
	for (int i = 0; i < N; i++) {
		check1(&w, mine, ref, any_finite());
		check1(&w, mine, ref, uniform(-1e6, 1e6));
		check1(&w, mine, ref, (double)(int64_t)uniform(-100, 100) + 0.5 * (double)(next_u64() & 1));
	}
	expect_within(name, &w, 0);
}

static void test_sqrt(void **state) { (void)state; exact1("sqrt", pvmm_sqrt, sqrt); }
static void test_fabs(void **state) { (void)state; exact1("fabs", pvmm_fabs, fabs); }
static void test_trunc(void **state) { (void)state; exact1("trunc", pvmm_trunc, trunc); }
static void test_floor(void **state) { (void)state; exact1("floor", pvmm_floor, floor); }
static void test_ceil(void **state) { (void)state; exact1("ceil", pvmm_ceil, ceil); }
static void test_round(void **state) { (void)state; exact1("round", pvmm_round, round); }

static void test_fmod(void **state)
{
	(void)state;
	struct worst w = { 0 };
	for (size_t i = 0; i < NSPECIAL; i++)
		for (size_t j = 0; j < NSPECIAL; j++)
			check2(&w, pvmm_fmod, fmod, specials[i], specials[j]);
	for (int i = 0; i < N; i++) {
		check2(&w, pvmm_fmod, fmod, any_finite(), any_finite());
		check2(&w, pvmm_fmod, fmod, uniform(-1e3, 1e3), uniform(-10, 10));
		check2(&w, pvmm_fmod, fmod, log_uniform(-1074, 1024, 1), log_uniform(-1074, 1024, 1));
	}
	expect_within("fmod", &w, 0);
}

static void test_exp(void **state)
{
	(void)state;
	struct worst w = { 0 };
	for (size_t i = 0; i < NSPECIAL; i++)
		check1(&w, pvmm_exp, exp, specials[i]);
	for (int i = 0; i < N; i++) {
		check1(&w, pvmm_exp, exp, uniform(-708, 709.7));
		check1(&w, pvmm_exp, exp, uniform(-2, 2));
		check1(&w, pvmm_exp, exp, log_uniform(-60, 0, 1));
	}
	expect_within("exp", &w, 1);
}

static void log_family(const char *name, double (*mine)(double), double (*ref)(double), uint64_t bound)
{
	struct worst w = { 0 };
	for (size_t i = 0; i < NSPECIAL; i++)
		check1(&w, mine, ref, specials[i]);
	for (int i = 0; i < N; i++) {
		check1(&w, mine, ref, log_uniform(-1074, 1024, 0));
		check1(&w, mine, ref, uniform(0.5, 2.0));
		check1(&w, mine, ref, 1.0 + log_uniform(-50, -1, 1));
		check1(&w, mine, ref, ldexp(1.0, (int)(next_u64() % 2000) - 1000));
	}
	expect_within(name, &w, bound);
}

static void test_log(void **state) { (void)state; log_family("log", pvmm_log, log, 1); }
static void test_log2(void **state) { (void)state; log_family("log2", pvmm_log2, log2, 1); }
static void test_log10(void **state) { (void)state; log_family("log10", pvmm_log10, log10, 2); }

/* Powers of two are exact in log2, as callers expect. */
static void test_log2_exact_powers(void **state)
{
	(void)state;
	for (int k = -1074; k <= 1023; k++)
		assert_true(pvmm_log2(ldexp(1.0, k)) == (double)k);
}

static void trig(const char *name, double (*mine)(double), double (*ref)(double), uint64_t bound)
{
	struct worst w = { 0 };
	for (size_t i = 0; i < NSPECIAL; i++)
		if (fabs(specials[i]) < 1.6e6 || !isfinite(specials[i]))
			check1(&w, mine, ref, specials[i]);
	for (int i = 0; i < N; i++) {
		check1(&w, mine, ref, uniform(-M_PI, M_PI));
		check1(&w, mine, ref, uniform(-1e6, 1e6));
		check1(&w, mine, ref, log_uniform(-1074, 20, 1));
		check1(&w, mine, ref, (double)(int)uniform(-1000, 1000) * M_PI_2 + uniform(-1e-6, 1e-6));
	}
	expect_within(name, &w, bound);
}

static void test_sin(void **state) { (void)state; trig("sin", pvmm_sin, sin, 1); }
static void test_cos(void **state) { (void)state; trig("cos", pvmm_cos, cos, 1); }
static void test_tan(void **state) { (void)state; trig("tan", pvmm_tan, tan, 2); }

/* Beyond the exact reduction the results stay in [-1, 1] and near. */
static void test_trig_large_arguments_bounded(void **state)
{
	(void)state;
	for (int i = 0; i < N; i++) {
		double x = log_uniform(21, 1024, 1);
		double s = pvmm_sin(x), c = pvmm_cos(x);
		assert_true(fabs(s) <= 1.0 && fabs(c) <= 1.0);
	}
}

static void test_pow(void **state)
{
	(void)state;
	struct worst all = { 0 }, mid = { 0 };
	for (size_t i = 0; i < NSPECIAL; i++)
		for (size_t j = 0; j < NSPECIAL; j++)
			check2(&all, pvmm_pow, pow, specials[i], specials[j]);
	for (int i = 0; i < N; i++) {
		/* Results in [2^-64, 2^64]: y log2 x within +-64. */
		double x = log_uniform(-60, 60, 0), y = uniform(-64, 64) / fabs(log2(x));
		check2(&mid, pvmm_pow, pow, x, y);
		check2(&mid, pvmm_pow, pow, uniform(0, 4), uniform(-20, 20));
		check2(&mid, pvmm_pow, pow, -uniform(0.5, 2), (double)(int)uniform(-40, 40));
		x = 1.0 + log_uniform(-40, -3, 1);
		check2(&mid, pvmm_pow, pow, x, uniform(-40, 40) / fabs(log2(x)));
		/* Anywhere, up to overflow and underflow. */
		x = log_uniform(-1074, 1024, 0);
		y = uniform(-1100, 1100) / fabs(log2(x));
		check2(&all, pvmm_pow, pow, x, y);
		check2(&all, pvmm_pow, pow, x, uniform(-3, 3));
	}
	expect_within("pow", &mid, 2);
	expect_within("pow*", &all, 8);
}

/* Values a program prints, exactly as glibc gives them. */
static void test_known_values(void **state)
{
	(void)state;
	assert_true(pvmm_sqrt(2.0) == 0x1.6a09e667f3bcdp+0);
	assert_true(pvmm_exp(1.0) == M_E);
	assert_true(pvmm_log(M_E) == 1.0);
	assert_true(pvmm_pow(2.0, 10.0) == 1024.0);
	assert_true(pvmm_pow(10.0, -3.0) == pow(10.0, -3.0));
	assert_true(pvmm_sin(M_PI_2) == 1.0);
	assert_true(pvmm_cos(0.0) == 1.0);
	assert_true(pvmm_floor(-2.5) == -3.0 && pvmm_ceil(-2.5) == -2.0);
	assert_true(pvmm_fmod(10.0, 3.0) == 1.0);
	assert_true(pvmm_log10(1000.0) == 3.0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sqrt),
		cmocka_unit_test(test_fabs),
		cmocka_unit_test(test_trunc),
		cmocka_unit_test(test_floor),
		cmocka_unit_test(test_ceil),
		cmocka_unit_test(test_round),
		cmocka_unit_test(test_fmod),
		cmocka_unit_test(test_exp),
		cmocka_unit_test(test_log),
		cmocka_unit_test(test_log2),
		cmocka_unit_test(test_log10),
		cmocka_unit_test(test_log2_exact_powers),
		cmocka_unit_test(test_sin),
		cmocka_unit_test(test_cos),
		cmocka_unit_test(test_tan),
		cmocka_unit_test(test_trig_large_arguments_bounded),
		cmocka_unit_test(test_pow),
		cmocka_unit_test(test_known_values),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
