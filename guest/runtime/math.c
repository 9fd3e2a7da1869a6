/*
 * libm for pvmm guests: the double functions of <math.h>.
 *
 * Debian ships no freestanding x86-64 libm (libnewlib-dev has headers and
 * ARM libraries only, picolibc has no x86-64 build, glibc's libm.a needs
 * glibc), so this is pvmm's own, written from the textbook methods:
 *
 *   sqrt           the sqrtsd instruction (correctly rounded)
 *   fabs trunc floor ceil round fmod
 *                  bit manipulation and exact integer arithmetic (exact)
 *   exp            x = k ln2 + r, |r| <= ln2/2 (ln2 in two parts, so the
 *                  reduction is exact); Taylor series of e^r to r^13;
 *                  scaling by 2^k through the exponent bits
 *   log log2 log10 x = 2^k m, m in [sqrt(1/2), sqrt(2)); with f = m - 1 and
 *                  s = f / (2 + f): log m = f - f^2/2 + s (f^2/2 + R),
 *                  R = sum 2 s^2n / (2n + 1), n = 1..10
 *   pow            exp(y log x) with log x in double-double precision and
 *                  y log x as a double-double product (Dekker), so the
 *                  large arguments of exp lose nothing; C99 Annex F's
 *                  special cases first
 *   sin cos tan    x = n pi/2 + r, |r| <= pi/4, pi/2 in three parts of 33,
 *                  33 and 53 bits (Cody-Waite): exact for |x| < 2^20 pi/2
 *                  (about 1.6e6); Taylor series of sin r to r^19 and
 *                  cos r to r^18; tan = sin / cos
 *
 * Accuracy against glibc (tests/unit/test_libm.c, many thousand points per
 * function): sqrt fabs trunc floor ceil round fmod bit-exact; exp log log2
 * sin cos within 1 ulp; log10 within 2 ulp; tan within 2 ulp; pow within 2 ulp for
 * results in [2^-64, 2^64] and within 8 ulp out to the overflow and
 * underflow limits. sin, cos and tan of |x| >= 1.6e6 are only
 * approximate: absolute error about |x| 4e-17 (meaningless beyond 2^53,
 * though always in [-1, 1] for sin and cos). Subnormal results of
 * exp and pow may be off by one unit of the subnormal's last place.
 * errno is never set (guests build with -fno-math-errno).
 *
 * Floating point needs SSE: this file is compiled without
 * -mgeneral-regs-only (see guest/guest.mk), and only programs that call
 * it execute it. The host unit test compiles it too, with PVMM_M defined
 * to rename the functions (so glibc's stay available to compare with).
 */
#include <stdint.h>

#ifndef PVMM_M
#define PVMM_M(name) name
#include <math.h>
#endif

#define SIGN_BIT  0x8000000000000000ull
#define EXP_MASK  0x7ff0000000000000ull
#define FRAC_MASK 0x000fffffffffffffull
#define IMPLICIT  0x0010000000000000ull

static inline uint64_t bits_of(double x)
{
	union { double d; uint64_t u; } v = { .d = x };
	return v.u;
}

static inline double from_bits(uint64_t u)
{
	union { uint64_t u; double d; } v = { .u = u };
	return v.d;
}

static inline double make_inf(void) { return from_bits(EXP_MASK); }
static inline double make_nan(void) { return from_bits(0x7ff8000000000000ull); }
static inline double abs_of(double x) { return from_bits(bits_of(x) & ~SIGN_BIT); }

/* 2^k for -1022 <= k <= 1023. */
static inline double pow2i(int k)
{
	return from_bits((uint64_t)(k + 1023) << 52);
}

/* ln 2 = LN2_HI + LN2_LO; LN2_HI has 32 significant bits, so k * LN2_HI is
 * exact for every |k| < 2^21. */
static const double LN2_HI = 0x1.62e42fee00000p-1;
static const double LN2_LO = 0x1.a39ef35793c76p-33;
static const double INV_LN2 = 0x1.71547652b82fep+0;
static const double LOG10_2 = 0x1.34413509f79ffp-2;
static const double LOG10_E = 0x1.bcb7b1526e50ep-2;
/* pi/2 = PIO2_1 + PIO2_2 + PIO2_3 (33, 33 and 53 bits). */
static const double PIO2_1 = 0x1.921fb54400000p+0;
static const double PIO2_2 = 0x1.0b4611a600000p-34;
static const double PIO2_3 = 0x1.3198a2e037073p-69;
static const double TWO_OVER_PI = 0x1.45f306dc9c883p-1;

/* ---- exact functions --------------------------------------------------- */

double PVMM_M(sqrt)(double x)
{
	double r;
	__asm__("sqrtsd %1, %0" : "=x"(r) : "xm"(x));
	return r;
}

double PVMM_M(fabs)(double x)
{
	return abs_of(x);
}

static double trunc_d(double x)
{
	uint64_t u = bits_of(x);
	int e = (int)((u >> 52) & 0x7ff) - 1023;
	if (e >= 52)
		return x; /* already an integer, or inf/NaN */
	if (e < 0)
		return from_bits(u & SIGN_BIT); /* |x| < 1: +-0 */
	return from_bits(u & ~(FRAC_MASK >> e));
}

double PVMM_M(trunc)(double x)
{
	return trunc_d(x);
}

double PVMM_M(floor)(double x)
{
	double t = trunc_d(x);
	return t != x && x < 0 ? t - 1.0 : t; /* t - 1 is exact: |t| < 2^52 */
}

double PVMM_M(ceil)(double x)
{
	double t = trunc_d(x);
	return t != x && x > 0 ? t + 1.0 : t; /* ceil(-0.5) stays -0 */
}

double PVMM_M(round)(double x)
{
	double t = trunc_d(x);
	/* x - t is exact (same sign, less than 1 apart); floor(x + 0.5) would
	 * round 0.49999999999999994 up. */
	if (abs_of(x - t) >= 0.5)
		t += x < 0 ? -1.0 : 1.0;
	return t;
}

double PVMM_M(fmod)(double x, double y)
{
	uint64_t ux = bits_of(x), uy = bits_of(y);
	uint64_t sx = ux & SIGN_BIT;
	ux &= ~SIGN_BIT;
	uy &= ~SIGN_BIT;
	if (uy == 0 || ux >= EXP_MASK || uy > EXP_MASK)
		return make_nan(); /* y = 0, x inf or NaN, y NaN */
	if (ux < uy)
		return x; /* |x| < |y| (y = inf included) */

	/* Mantissas as integers in [2^52, 2^53): |v| = m * 2^(e - 1075). */
	int ex = (int)(ux >> 52), ey = (int)(uy >> 52);
	uint64_t mx, my;
	if (ex == 0) {
		for (mx = ux, ex = 1; !(mx & IMPLICIT); mx <<= 1)
			ex--;
	} else {
		mx = (ux & FRAC_MASK) | IMPLICIT;
	}
	if (ey == 0) {
		for (my = uy, ey = 1; !(my & IMPLICIT); my <<= 1)
			ey--;
	} else {
		my = (uy & FRAC_MASK) | IMPLICIT;
	}

	/* Long division, one bit per step; mx < 2 my throughout. */
	for (; ex > ey; ex--) {
		if (mx >= my)
			mx -= my;
		if (mx == 0)
			return from_bits(sx);
		mx <<= 1;
	}
	if (mx >= my)
		mx -= my;
	if (mx == 0)
		return from_bits(sx);
	for (; !(mx & IMPLICIT); mx <<= 1)
		ey--;
	/* The remainder is exactly representable: a subnormal loses only zeros. */
	uint64_t r = ey > 0 ? ((uint64_t)ey << 52) | (mx & FRAC_MASK) : mx >> (1 - ey);
	return from_bits(r | sx);
}

/* ---- double-double helpers (no FMA: Dekker's split) ------------------- */

/* a + b = *hi + *lo exactly. */
static inline void two_sum(double a, double b, double *hi, double *lo)
{
	double s = a + b;
	double bb = s - a;
	*lo = (a - (s - bb)) + (b - bb);
	*hi = s;
}

static inline void split(double a, double *hi, double *lo)
{
	double t = 134217729.0 * a; /* 2^27 + 1 */
	*hi = t - (t - a);
	*lo = a - *hi;
}

/* a * b = *hi + *lo exactly (barring overflow). */
static inline void two_prod(double a, double b, double *hi, double *lo)
{
	double ah, al, bh, bl;
	*hi = a * b;
	split(a, &ah, &al);
	split(b, &bh, &bl);
	*lo = ((ah * bh - *hi) + ah * bl + al * bh) + al * bl;
}

/* ---- exp ---------------------------------------------------------------- */

/* e^(hi + lo), |lo| much smaller than ulp(hi). */
static double exp_dd(double hi, double lo)
{
	if (hi != hi)
		return hi;
	if (hi > 710.0)
		return make_inf();
	if (hi < -746.0)
		return 0.0;
	double t = hi * INV_LN2;
	double kd = (double)(int64_t)(t < 0 ? t - 0.5 : t + 0.5);
	int k = (int)kd;
	/* hi - kd LN2_HI is exact (kd LN2_HI is, and it is close to hi); the
	 * rest of r is kept apart (r + r_lo) until the end. */
	double r, r_lo;
	two_sum(hi - kd * LN2_HI, lo - kd * LN2_LO, &r, &r_lo);
	/* e^r - 1 - r = r^2 (1/2! + r/3! + ... + r^11/13!) */
	double p = 1.0 / 6227020800.0;           /* 1/13! */
	p = 1.0 / 479001600.0 + r * p;           /* 1/12! */
	p = 1.0 / 39916800.0 + r * p;            /* 1/11! */
	p = 1.0 / 3628800.0 + r * p;
	p = 1.0 / 362880.0 + r * p;
	p = 1.0 / 40320.0 + r * p;
	p = 1.0 / 5040.0 + r * p;
	p = 1.0 / 720.0 + r * p;
	p = 1.0 / 120.0 + r * p;
	p = 1.0 / 24.0 + r * p;
	p = 1.0 / 6.0 + r * p;
	p = 0.5 + r * p;
	/* 1 + r + q with the rounding errors of both sums carried: the one
	 * rounding left is the last add. */
	double q = r * r * p, s_hi, s_lo, e_hi, e_lo;
	two_sum(r, q, &s_hi, &s_lo);
	two_sum(1.0, s_hi, &e_hi, &e_lo);
	double e = e_hi + (e_lo + (s_lo + r_lo * (1.0 + r)));
	if (k > 1023)
		return e * pow2i(1023) * pow2i(k - 1023);
	if (k < -1021)
		return e * pow2i(k + 1000) * pow2i(-1000);
	return e * pow2i(k);
}

double PVMM_M(exp)(double x)
{
	return exp_dd(x, 0.0);
}

/* ---- log ---------------------------------------------------------------- */

/* Split finite x > 0 into 2^k * m, m in [sqrt(1/2), sqrt(2)); returns
 * f = m - 1 (exact). */
static double log_reduce(double x, int *k)
{
	uint64_t u = bits_of(x);
	int e = 0;
	if (!(u & EXP_MASK)) {
		u = bits_of(x * 0x1p54); /* subnormal: normalize */
		e = -54;
	}
	e += (int)(u >> 52) - 1023;
	double m = from_bits((u & FRAC_MASK) | 0x3ff0000000000000ull); /* [1, 2) */
	if (m > 0x1.6a09e667f3bcdp+0) { /* sqrt(2) */
		m *= 0.5;
		e++;
	}
	*k = e;
	return m - 1.0;
}

/* R(z) = sum_{n=1..10} 2 z^n / (2n + 1), z = s^2 <= 0.0295. */
static double log_series(double z)
{
	double r = 2.0 / 21.0;
	r = 2.0 / 19.0 + z * r;
	r = 2.0 / 17.0 + z * r;
	r = 2.0 / 15.0 + z * r;
	r = 2.0 / 13.0 + z * r;
	r = 2.0 / 11.0 + z * r;
	r = 2.0 / 9.0 + z * r;
	r = 2.0 / 7.0 + z * r;
	r = 2.0 / 5.0 + z * r;
	r = 2.0 / 3.0 + z * r;
	return z * r;
}

/* NaN, -x, 0 and inf as log treats them; 0 when x is an ordinary positive
 * number (and *ok set). */
static double log_special(double x, int *ok)
{
	*ok = 0;
	if (x != x)
		return x;
	if (x < 0)
		return make_nan();
	if (x == 0)
		return -make_inf();
	if (x == make_inf())
		return x;
	*ok = 1;
	return 0;
}

/* log(1 + f) for f in [sqrt(1/2) - 1, sqrt(2) - 1], as f - (hfsq - c). */
static double log1p_small(double f, double *hfsq_out)
{
	double s = f / (2.0 + f);
	double hfsq = 0.5 * f * f;
	*hfsq_out = hfsq;
	return s * (hfsq + log_series(s * s));
}

double PVMM_M(log)(double x)
{
	int ok, k;
	double sp = log_special(x, &ok);
	if (!ok)
		return sp;
	double f = log_reduce(x, &k), hfsq;
	double c = log1p_small(f, &hfsq);
	double dk = (double)k;
	return dk * LN2_HI + (f - (hfsq - (c + dk * LN2_LO)));
}

double PVMM_M(log2)(double x)
{
	int ok, k;
	double sp = log_special(x, &ok);
	if (!ok)
		return sp;
	double f = log_reduce(x, &k), hfsq;
	double c = log1p_small(f, &hfsq);
	/* Exact for powers of two (f = 0). */
	return (double)k + (f - (hfsq - c)) * INV_LN2;
}

double PVMM_M(log10)(double x)
{
	int ok, k;
	double sp = log_special(x, &ok);
	if (!ok)
		return sp;
	double f = log_reduce(x, &k), hfsq;
	double c = log1p_small(f, &hfsq);
	return (double)k * LOG10_2 + (f - (hfsq - c)) * LOG10_E;
}

/* log x = *hi + *lo to about 2^-60 relative, for finite x > 0. */
static void log_dd(double x, double *hi, double *lo)
{
	int k;
	double f = log_reduce(x, &k);
	/* s = f / (2 + f) as s_hi + s_lo. */
	double d_hi = 2.0 + f;
	double d_lo = (2.0 - d_hi) + f;
	double s_hi = f / d_hi;
	double p, pe;
	two_prod(s_hi, d_hi, &p, &pe);
	double s_lo = ((f - p) - pe - s_hi * d_lo) / d_hi;
	/* log m = 2s + s R(s^2) */
	double t = s_hi * log_series(s_hi * s_hi);
	double m_hi, m_lo;
	two_sum(2.0 * s_hi, 2.0 * s_lo + t, &m_hi, &m_lo);
	double dk = (double)k, l_hi, l_lo;
	two_sum(dk * LN2_HI, m_hi, &l_hi, &l_lo);
	l_lo += m_lo + dk * LN2_LO;
	two_sum(l_hi, l_lo, hi, lo);
}

/* ---- pow ---------------------------------------------------------------- */

/* 0: not an integer, 1: odd integer, 2: even integer. */
static int int_kind(double y)
{
	if (abs_of(y) >= 0x1p53)
		return 2;
	if (trunc_d(y) != y)
		return 0;
	return ((int64_t)y & 1) ? 1 : 2;
}

double PVMM_M(pow)(double x, double y)
{
	if (y == 0 || x == 1.0)
		return 1.0;
	if (x != x || y != y)
		return x + y;
	double inf = make_inf();
	double ax = abs_of(x);
	int kind = int_kind(y);
	if (y == inf || y == -inf) {
		if (ax == 1.0)
			return 1.0;
		return (ax > 1.0) == (y > 0) ? inf : 0.0;
	}
	if (x == 0) {
		if (y < 0)
			return kind == 1 ? from_bits(bits_of(inf) | (bits_of(x) & SIGN_BIT)) : inf;
		return kind == 1 ? x : 0.0;
	}
	if (ax == inf) {
		double r = y < 0 ? 0.0 : inf;
		return x < 0 && kind == 1 ? -r : r;
	}
	if (x < 0 && kind == 0)
		return make_nan();
	if (ax == 1.0)
		return kind == 1 ? x : 1.0; /* (-1)^y */
	if (abs_of(y) > 0x1p900) /* even integer; Dekker's split would overflow */
		return (ax > 1.0) == (y > 0) ? inf : 0.0;
	double l_hi, l_lo, p, pe;
	log_dd(ax, &l_hi, &l_lo);
	two_prod(y, l_hi, &p, &pe);
	double y_hi, y_lo;
	two_sum(p, pe + y * l_lo, &y_hi, &y_lo);
	double r = exp_dd(y_hi, y_lo);
	return x < 0 && kind == 1 ? -r : r;
}

/* ---- sin cos tan -------------------------------------------------------- */

/* x = n pi/2 + (*hi + *lo), |*hi| <= about pi/4; returns n mod 4. */
static int reduce_pio2(double x, double *hi, double *lo)
{
	if (abs_of(x) <= 0x1.921fb54442d18p-1) { /* pi/4 */
		*hi = x;
		*lo = 0;
		return 0;
	}
	if (abs_of(x) >= 0x1p20 * PIO2_1)
		/* Beyond the exact reduction: first take x modulo the double
		 * nearest 2 pi (fmod is exact); that costs an absolute error of
		 * about |x| 4e-17 (the distance of that double from 2 pi). */
		x = PVMM_M(fmod)(x, 4 * 0x1.921fb54442d18p+0);
	double t = x * TWO_OVER_PI;
	double kd = (double)(int64_t)(t < 0 ? t - 0.5 : t + 0.5);
	double a = x - kd * PIO2_1;        /* exact for |kd| < 2^20 */
	double w = kd * PIO2_2;            /* exact for |kd| < 2^20 */
	double r, e;
	two_sum(a, -w, &r, &e);
	e -= kd * PIO2_3;
	two_sum(r, e, hi, lo);
	return (int)((int64_t)kd & 3);
}

/* sin(hi + lo), |hi| <= ~pi/4. */
static double sin_kernel(double hi, double lo)
{
	double z = hi * hi;
	double p = -1.0 / 121645100408832000.0; /* -1/19! */
	p = 1.0 / 355687428096000.0 + z * p;    /* 1/17! */
	p = -1.0 / 1307674368000.0 + z * p;     /* -1/15! */
	p = 1.0 / 6227020800.0 + z * p;
	p = -1.0 / 39916800.0 + z * p;
	p = 1.0 / 362880.0 + z * p;
	p = -1.0 / 5040.0 + z * p;
	p = 1.0 / 120.0 + z * p;
	p = -1.0 / 6.0 + z * p;
	/* sin(hi + lo) ~ sin(hi) + lo cos(hi); cos(hi) ~ 1 - z/2. */
	return hi + (lo * (1.0 - 0.5 * z) + hi * z * p);
}

/* cos(hi + lo), |hi| <= ~pi/4. */
static double cos_kernel(double hi, double lo)
{
	double z = hi * hi;
	double q = 1.0 / 6402373705728000.0;    /* 1/18! */
	q = -1.0 / 20922789888000.0 + z * q;    /* -1/16! */
	q = 1.0 / 87178291200.0 + z * q;        /* 1/14! */
	q = -1.0 / 479001600.0 + z * q;
	q = 1.0 / 3628800.0 + z * q;
	q = -1.0 / 40320.0 + z * q;
	q = 1.0 / 720.0 + z * q;
	q = -1.0 / 24.0 + z * q;
	q = -q; /* cos = 1 - z/2 + z^2 (1/24 - z/720 ...) */
	double hz = 0.5 * z;
	double w = 1.0 - hz;
	/* (1 - w) - hz: what rounding 1 - hz lost; lo enters as -lo sin(hi). */
	return w + (((1.0 - w) - hz) + (z * z * q - hi * lo));
}

double PVMM_M(sin)(double x)
{
	if (abs_of(x) == make_inf() || x != x)
		return x - x;
	if (x == 0)
		return x; /* keeps the sign of -0 */
	double hi, lo;
	switch (reduce_pio2(x, &hi, &lo)) {
	case 0: return sin_kernel(hi, lo);
	case 1: return cos_kernel(hi, lo);
	case 2: return -sin_kernel(hi, lo);
	default: return -cos_kernel(hi, lo);
	}
}

double PVMM_M(cos)(double x)
{
	if (abs_of(x) == make_inf() || x != x)
		return x - x;
	double hi, lo;
	switch (reduce_pio2(x, &hi, &lo)) {
	case 0: return cos_kernel(hi, lo);
	case 1: return -sin_kernel(hi, lo);
	case 2: return -cos_kernel(hi, lo);
	default: return sin_kernel(hi, lo);
	}
}

double PVMM_M(tan)(double x)
{
	if (abs_of(x) == make_inf() || x != x)
		return x - x;
	if (x == 0)
		return x; /* keeps the sign of -0 */
	double hi, lo;
	int n = reduce_pio2(x, &hi, &lo);
	double s = sin_kernel(hi, lo), c = cos_kernel(hi, lo);
	return n & 1 ? -c / s : s / c;
}
