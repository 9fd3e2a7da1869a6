/*
 * printf's %f %F %e %E %g %G: the double conversions, called by format.c.
 *
 * This file is compiled with SSE allowed (guest/guest.mk), the rest of the
 * formatter is not: format.c calls fmt_float only for these conversions,
 * so a program that never formats a double never runs an instruction of
 * it. The double itself comes from va_arg here: on x86-64 a variadic
 * double travels in an XMM register and the callee's va_start spills those
 * to the register save area, which is why printf & co. live in printf.c,
 * also compiled with SSE (see there).
 *
 * Exact: the double m 2^e is expanded into all its decimal digits (a
 * binary fraction of k bits has exactly k decimal digits: f / 2^k =
 * f 5^k / 10^k) with a small bignum in base 10^9, then rounded once, at
 * the requested digit, half to even, as glibc does in its default
 * rounding mode. So printf("%.17g") round-trips and printf("%.2f", 2.675)
 * prints 2.67 (2.675 is 2.67499999... in binary).
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include "runtime.h"

_Static_assert(sizeof(va_list) == 24, "x86-64 va_list: an array, passed by reference");

#define MAX_INT_DIGITS  309   /* DBL_MAX < 10^309 */
#define MAX_FRAC_DIGITS 1074  /* the smallest subnormal is 2^-1074 */
#define LIMB_BASE       1000000000u
#define MAX_LIMBS       ((MAX_FRAC_DIGITS + 8) / 9 + 2)

struct bignum {
	uint32_t limb[MAX_LIMBS]; /* base 10^9, least significant first */
	unsigned n;
};

static void big_set(struct bignum *b, uint64_t v)
{
	b->n = 0;
	do {
		b->limb[b->n++] = (uint32_t)(v % LIMB_BASE);
		v /= LIMB_BASE;
	} while (v);
}

/* b *= f, f < 2^32 (limb * f + carry < 10^9 2^32 + 2^32 < 2^63). */
static void big_mul(struct bignum *b, uint32_t f)
{
	uint64_t carry = 0;
	for (unsigned i = 0; i < b->n; i++) {
		uint64_t v = (uint64_t)b->limb[i] * f + carry;
		b->limb[i] = (uint32_t)(v % LIMB_BASE);
		carry = v / LIMB_BASE;
	}
	while (carry) {
		b->limb[b->n++] = (uint32_t)(carry % LIMB_BASE);
		carry /= LIMB_BASE;
	}
}

/* Write b in decimal at out, padded with leading zeros to `width` digits
 * (0: no padding); returns the digit count. */
static int big_digits(const struct bignum *b, char *out, int width)
{
	char tmp[MAX_LIMBS * 9];
	int len = 0;
	for (unsigned i = 0; i < b->n; i++) {
		uint32_t v = b->limb[i];
		for (int j = 0; j < 9; j++) {
			tmp[len++] = (char)('0' + v % 10);
			v /= 10;
		}
	}
	while (len > 1 && tmp[len - 1] == '0')
		len--;
	int n = 0;
	for (; n < width - len; n++)
		out[n] = '0';
	while (len)
		out[n++] = tmp[--len];
	return n;
}

/* The decimal expansion of a finite double >= 0: digits d[0..n), the first
 * `point` of them the integer part (at least one digit). One spare byte
 * before d takes a carry out of the first digit. */
struct decimal {
	char buf[1 + MAX_INT_DIGITS + MAX_FRAC_DIGITS + 1];
	char *d;
	int n, point;
};

static const uint32_t pow5[14] = {
	1, 5, 25, 125, 625, 3125, 15625, 78125, 390625, 1953125, 9765625,
	48828125, 244140625, 1220703125,
};

static void expand(double x, struct decimal *dec)
{
	union { double d; uint64_t u; } v = { .d = x };
	int biased = (int)((v.u >> 52) & 0x7ff);
	uint64_t m = v.u & 0x000fffffffffffffull;
	if (biased)
		m |= 1ull << 52;
	else
		biased = 1;
	int e = biased - 1075; /* x = m 2^e */
	struct bignum b;

	dec->d = dec->buf + 1;
	if (e >= 0) {
		big_set(&b, m);
		for (int left = e; left > 0; left -= 29)
			big_mul(&b, 1u << (left < 29 ? left : 29));
		dec->n = dec->point = big_digits(&b, dec->d, 0);
		return;
	}
	int k = -e;
	uint64_t ipart = k < 64 ? m >> k : 0;
	uint64_t frac = k < 64 ? m & ((1ull << k) - 1) : m;
	big_set(&b, ipart);
	dec->point = big_digits(&b, dec->d, 0);
	big_set(&b, frac);
	for (int left = k; left > 0; left -= 13) /* 5^13 < 2^32 */
		big_mul(&b, pow5[left < 13 ? left : 13]);
	dec->n = dec->point + big_digits(&b, dec->d + dec->point, k);
}

/* Keep digits [0, pos) and round half to even on what follows. */
static void round_at(struct decimal *dec, int pos)
{
	if (pos >= dec->n)
		return;
	char c = dec->d[pos];
	bool up = c > '5';
	if (c == '5') {
		bool rest = false;
		for (int i = pos + 1; i < dec->n && !rest; i++)
			rest = dec->d[i] != '0';
		up = rest || (pos > 0 && ((dec->d[pos - 1] - '0') & 1));
	}
	dec->n = pos;
	if (!up)
		return;
	int i = pos - 1;
	for (; i >= 0 && dec->d[i] == '9'; i--)
		dec->d[i] = '0';
	if (i >= 0) {
		dec->d[i]++;
	} else {
		*--dec->d = '1';
		dec->n++;
		dec->point++;
	}
}

/* What goes out after the sign: int digits, '.', fraction digits (some from
 * the expansion, the rest zeros), exponent. */
struct pieces {
	const char *ip;
	int ilen;
	bool dot;
	const char *fp;
	int flen;       /* fraction digits taken from the expansion */
	int fzeros;     /* zeros after them */
	char exp[8];    /* "e+05", or empty */
	int elen;
};

static int first_nonzero(const struct decimal *dec)
{
	for (int i = 0; i < dec->n; i++)
		if (dec->d[i] != '0')
			return i;
	return -1;
}

static void fixed_pieces(struct decimal *dec, int prec, bool alt, struct pieces *p)
{
	round_at(dec, dec->point + prec);
	/* Leading zeros of the integer part (only ever "0" before a carry
	 * into it, which needs no stripping). */
	int start = 0;
	while (start < dec->point - 1 && dec->d[start] == '0')
		start++;
	p->ip = dec->d + start;
	p->ilen = dec->point - start;
	p->dot = prec > 0 || alt;
	p->fp = dec->d + dec->point;
	int have = dec->n - dec->point;
	if (have < 0)
		have = 0;
	p->flen = have < prec ? have : prec;
	p->fzeros = prec - p->flen;
	p->elen = 0;
}

/* %e with prec digits after the point; returns the decimal exponent. */
static int exp_pieces(struct decimal *dec, int prec, bool alt, char e, struct pieces *p)
{
	int z = first_nonzero(dec);
	if (z < 0)
		z = dec->point - 1; /* zero: 0.000e+00 */
	round_at(dec, z + prec + 1);
	z = first_nonzero(dec);
	if (z < 0)
		z = dec->point - 1;
	int x = dec->point - z - 1;
	p->ip = dec->d + z;
	p->ilen = 1;
	p->dot = prec > 0 || alt;
	p->fp = dec->d + z + 1;
	int have = dec->n - (z + 1);
	if (have < 0)
		have = 0;
	p->flen = have < prec ? have : prec;
	p->fzeros = prec - p->flen;
	unsigned ax = (unsigned)(x < 0 ? -x : x);
	p->exp[0] = e;
	p->exp[1] = x < 0 ? '-' : '+';
	int n = 2;
	if (ax >= 100)
		p->exp[n++] = (char)('0' + ax / 100);
	p->exp[n++] = (char)('0' + ax / 10 % 10);
	p->exp[n++] = (char)('0' + ax % 10);
	p->elen = n;
	return x;
}

void fmt_float(struct fmt_out *out, char conv, int flags, int width, int prec, va_list ap)
{
	double x = va_arg(ap, double);
	bool upper = conv == 'F' || conv == 'E' || conv == 'G';
	bool alt = flags & FMT_ALT;
	union { double d; uint64_t u; } v = { .d = x };
	bool neg = v.u >> 63;
	const char *sign = neg ? "-" : flags & FMT_PLUS ? "+" : flags & FMT_SPACE ? " " : "";
	size_t slen = *sign != '\0';
	struct pieces p = { 0 };
	struct decimal dec;

	if (((v.u >> 52) & 0x7ff) == 0x7ff) {
		bool nan = v.u & 0x000fffffffffffffull;
		p.ip = nan ? (upper ? "NAN" : "nan") : (upper ? "INF" : "inf");
		p.ilen = 3;
		flags &= ~FMT_ZERO;
	} else {
		v.u &= ~(1ull << 63);
		expand(v.d, &dec);
		if (prec < 0)
			prec = 6;
		char lower = (char)(conv | 0x20);
		if (lower == 'f') {
			fixed_pieces(&dec, prec, alt, &p);
		} else if (lower == 'e') {
			exp_pieces(&dec, prec, alt, upper ? 'E' : 'e', &p);
		} else {
			/* %g: P significant digits; %e style if the exponent X
			 * (after rounding) is < -4 or >= P, else %f with P-1-X. */
			int P = prec == 0 ? 1 : prec;
			struct decimal copy = dec;
			copy.d = copy.buf + (dec.d - dec.buf);
			int X = exp_pieces(&copy, P - 1, alt, upper ? 'E' : 'e', &p);
			if (X >= -4 && X < P)
				fixed_pieces(&dec, P - 1 - X, alt, &p);
			else
				exp_pieces(&dec, P - 1, alt, upper ? 'E' : 'e', &p);
			if (!alt) {
				p.fzeros = 0;
				while (p.flen && p.fp[p.flen - 1] == '0')
					p.flen--;
				p.dot = p.flen > 0;
			}
		}
	}

	size_t body = (size_t)p.ilen + p.dot + (size_t)p.flen + (size_t)p.fzeros + (size_t)p.elen;
	size_t pad = (size_t)width > slen + body ? (size_t)width - slen - body : 0;
	if (pad && !(flags & (FMT_LEFT | FMT_ZERO)))
		fmt_fill(out, ' ', pad);
	if (slen)
		fmt_write(out, sign, slen);
	if (pad && (flags & (FMT_LEFT | FMT_ZERO)) == FMT_ZERO)
		fmt_fill(out, '0', pad);
	fmt_write(out, p.ip, (size_t)p.ilen);
	if (p.dot)
		fmt_put(out, '.');
	if (p.flen)
		fmt_write(out, p.fp, (size_t)p.flen);
	if (p.fzeros)
		fmt_fill(out, '0', (size_t)p.fzeros);
	if (p.elen)
		fmt_write(out, p.exp, (size_t)p.elen);
	if (pad && (flags & FMT_LEFT))
		fmt_fill(out, ' ', pad);
}
