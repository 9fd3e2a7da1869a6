/*
 * The printf engine shared by printf, snprintf & co.
 *
 * Output goes through struct fmt_out: bytes land in its buffer and, when
 * it is full, its `full` hook either empties it (stdout writes it to the
 * console) or not (snprintf then drops the rest but keeps counting, as C
 * requires).
 *
 * Written for the interpreter: each instruction costs ~1 us without VT-x.
 * Literal text is found with rep scasb and copied in runs (memcpy moves 8
 * bytes per step), padding is a memset, a bare conversion (%d, %s, ...:
 * no flags, width, precision or length) skips the parse and, for a
 * number, the padding arithmetic, and digits come from one `div` each
 * (the emulator runs it as one instruction, cheaper than the
 * multiply-and-shift a constant divisor would compile to).
 *
 * Supported: flags - 0 + space #, width and precision (numbers or *),
 * length hh h l ll z j t, conversions d i u o x X p s c %, and f F e E g G
 * (double; in format_float.c, the one part compiled with SSE). An unknown
 * conversion is printed as written.
 */
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include "runtime.h"

/* Out-of-line part of fmt_write/fmt_put/out_fill (runtime.h): the buffer
 * is (nearly) full. s NULL: `fill` bytes. */
void fmt_spill(struct fmt_out *out, const char *s, int fill, size_t n)
{
	while (n) {
		if (out->pos == out->cap) {
			if (out->full)
				out->full(out);
			if (out->pos == out->cap)
				return; /* snprintf: truncated */
		}
		size_t room = out->cap - out->pos;
		size_t chunk = n < room ? n : room;
		if (s) {
			memcpy(out->buf + out->pos, s, chunk);
			s += chunk;
		} else {
			memset(out->buf + out->pos, fill, chunk);
		}
		out->pos += chunk;
		n -= chunk;
	}
}

#define out_bytes fmt_write

static inline void out_fill(struct fmt_out *out, char c, size_t n)
{
	out->total += n;
	if (n <= out->cap - out->pos) {
		memset(out->buf + out->pos, c, n);
		out->pos += n;
	} else {
		fmt_spill(out, NULL, c, n);
	}
}

void fmt_fill(struct fmt_out *out, char c, size_t n)
{
	out_fill(out, c, n);
}

enum {
	FLAG_LEFT = FMT_LEFT,   /* '-': pad on the right */
	FLAG_ZERO = FMT_ZERO,   /* '0': pad numbers with zeros */
	FLAG_PLUS = FMT_PLUS,   /* '+': sign on positive numbers */
	FLAG_SPACE = FMT_SPACE, /* ' ': space before positive numbers */
	FLAG_ALT = FMT_ALT,     /* '#': 0x / 0 prefix; %g keeps its zeros */
};

struct spec {
	int flags;
	int width;      /* minimum field width, 0: none */
	int precision;  /* -1: none */
};

/* Emit prefix, `zeros` zeros and body, padded to the width. */
static void emit_field(struct fmt_out *out, const struct spec *sp, const char *prefix,
		       size_t prefix_len, size_t zeros, const char *body, size_t n)
{
	size_t used = prefix_len + zeros + n;
	size_t pad = (size_t)sp->width > used ? (size_t)sp->width - used : 0;
	if (pad && !(sp->flags & (FLAG_LEFT | FLAG_ZERO)))
		out_fill(out, ' ', pad);
	if (prefix_len)
		out_bytes(out, prefix, prefix_len);
	if (pad && (sp->flags & (FLAG_LEFT | FLAG_ZERO)) == FLAG_ZERO)
		zeros += pad;
	if (zeros)
		out_fill(out, '0', zeros);
	out_bytes(out, body, n);
	if (pad && (sp->flags & FLAG_LEFT))
		out_fill(out, ' ', pad);
}

/* A number with nothing around it: its digits. */
static inline void emit_digits(struct fmt_out *out, uint64_t value, unsigned int base, const char *digits)
{
	char buf[24]; /* 2^64 in octal is 22 digits */
	char *end = buf + sizeof(buf), *p = end;
	/* Hide a constant base from the compiler, which would turn each
	 * digit's one `div` into a multiply-and-shift of five. */
	__asm__("" : "+r"(base));
	do {
		*--p = digits[value % base];
		value /= base;
	} while (value);
	out_bytes(out, p, (size_t)(end - p));
}

static __attribute__((noinline)) void emit_number(struct fmt_out *out, struct spec *sp, uint64_t value,
						  unsigned int base, const char *digits,
						  const char *prefix, size_t prefix_len)
{
	char buf[24]; /* 2^64 in octal is 22 digits */
	char *end = buf + sizeof(buf), *p = end;

	if (!sp->width && sp->precision < 0 && !prefix_len) {
		emit_digits(out, value, base, digits); /* the common case */
		return;
	}

	/* C: precision 0 with value 0 prints no digits. */
	if (value || sp->precision != 0) {
		do {
			*--p = digits[value % base];
			value /= base;
		} while (value);
	}
	size_t n = (size_t)(end - p);
	size_t zeros = sp->precision > (int)n ? (size_t)sp->precision - n : 0;
	/* '#' with octal: the prefix "0" is only needed if no 0 leads. */
	if (base == 8 && prefix_len && (zeros || (n && *p == '0')))
		prefix_len = 0;
	if (sp->precision >= 0)
		sp->flags &= ~FLAG_ZERO; /* C: a precision overrides the 0 flag */
	emit_field(out, sp, prefix, prefix_len, zeros, p, n);
}

/* Read a decimal number at *p, advancing it. */
static int parse_int(const char **p)
{
	int v = 0;
	while (**p >= '0' && **p <= '9') {
		if (v < 100000000)
			v = v * 10 + (**p - '0');
		(*p)++;
	}
	return v;
}

enum length { LEN_INT, LEN_CHAR, LEN_SHORT, LEN_LONG, LEN_LLONG, LEN_SIZE, LEN_MAX, LEN_PTRDIFF };

/* The length modifiers among the letters 'A'..'z', as bits from 'A'. */
#define LENGTH_LETTERS (1ull << ('h' - 'A') | 1ull << ('l' - 'A') | 1ull << ('z' - 'A') | \
			1ull << ('j' - 'A') | 1ull << ('t' - 'A'))

/* True if c, just after '%', is already the conversion: flags, '*',
 * digits and '.' all sort below 'A', and the length modifiers are the
 * letters above. Anything else a letter can be is a conversion, known or
 * printed as written. */
static inline int bare_conversion(char c)
{
	unsigned char k = (unsigned char)(c - 'A');
	return k <= 'z' - 'A' && !((LENGTH_LETTERS >> k) & 1);
}

static const char lower_digits[] = "0123456789abcdef";
static const char upper_digits[] = "0123456789ABCDEF";

void fmt_vformat(struct fmt_out *out, const char *fmt, va_list ap)
{
	/* Literal text is found with rep scasb (strlen, then memchr for '%'):
	 * ~0.6 us per byte under the emulator, against ~6 us for a C loop
	 * testing each byte for NUL and '%'. */
	const char *p = fmt;
	const char *end = fmt + strlen(fmt);
	for (;;) {
		if (p == end)
			return;
		const char *pct = memchr(p, '%', (size_t)(end - p));
		if (!pct) {
			out_bytes(out, p, (size_t)(end - p));
			return;
		}
		if (pct != p)
			out_bytes(out, p, (size_t)(pct - p));
		const char *conv_start = pct;
		p = pct + 1;

		struct spec sp = { 0, 0, -1 };
		enum length len = LEN_INT;
		if (!bare_conversion(*p)) {
			for (;; p++) {
				switch (*p) {
				case '-': sp.flags |= FLAG_LEFT; continue;
				case '0': sp.flags |= FLAG_ZERO; continue;
				case '+': sp.flags |= FLAG_PLUS; continue;
				case ' ': sp.flags |= FLAG_SPACE; continue;
				case '#': sp.flags |= FLAG_ALT; continue;
				default: break;
				}
				break;
			}
			if (*p == '*') {
				p++;
				sp.width = va_arg(ap, int);
				if (sp.width < 0) {
					sp.flags |= FLAG_LEFT;
					sp.width = -sp.width;
				}
			} else if (*p >= '1' && *p <= '9') {
				sp.width = parse_int(&p);
			}
			if (*p == '.') {
				p++;
				if (*p == '*') {
					p++;
					sp.precision = va_arg(ap, int);
					if (sp.precision < 0)
						sp.precision = -1;
				} else {
					sp.precision = parse_int(&p);
				}
			}

			switch (*p) {
			case 'h':
				len = LEN_SHORT;
				if (*++p == 'h') {
					len = LEN_CHAR;
					p++;
				}
				break;
			case 'l':
				len = LEN_LONG;
				if (*++p == 'l') {
					len = LEN_LLONG;
					p++;
				}
				break;
			case 'z': len = LEN_SIZE; p++; break;
			case 'j': len = LEN_MAX; p++; break;
			case 't': len = LEN_PTRDIFF; p++; break;
			default: break;
			}
			if (sp.flags & FLAG_LEFT)
				sp.flags &= ~FLAG_ZERO;
		}

		char conv = *p;
		if (conv)
			p++;
		switch (conv) {
		case 'd':
		case 'i': {
			int64_t v;
			switch (len) {
			case LEN_CHAR: v = (signed char)va_arg(ap, int); break;
			case LEN_SHORT: v = (short)va_arg(ap, int); break;
			case LEN_LONG: v = va_arg(ap, long); break;
			case LEN_LLONG: v = va_arg(ap, long long); break;
			case LEN_SIZE: v = va_arg(ap, long); break; /* ssize_t */
			case LEN_MAX: v = va_arg(ap, intmax_t); break;
			case LEN_PTRDIFF: v = va_arg(ap, ptrdiff_t); break;
			default: v = va_arg(ap, int); break;
			}
			if (v >= 0 && !sp.flags && !sp.width && sp.precision < 0) {
				emit_digits(out, (uint64_t)v, 10, lower_digits);
				break;
			}
			const char *sign = v < 0 ? "-" : sp.flags & FLAG_PLUS ? "+" : sp.flags & FLAG_SPACE ? " " : "";
			/* Negate as unsigned so INT64_MIN works. */
			emit_number(out, &sp, v < 0 ? -(uint64_t)v : (uint64_t)v, 10, lower_digits,
				    sign, *sign != '\0');
			break;
		}
		case 'u':
		case 'o':
		case 'x':
		case 'X': {
			uint64_t v;
			switch (len) {
			case LEN_CHAR: v = (unsigned char)va_arg(ap, unsigned int); break;
			case LEN_SHORT: v = (unsigned short)va_arg(ap, unsigned int); break;
			case LEN_LONG: v = va_arg(ap, unsigned long); break;
			case LEN_LLONG: v = va_arg(ap, unsigned long long); break;
			case LEN_SIZE: v = va_arg(ap, size_t); break;
			case LEN_MAX: v = va_arg(ap, uintmax_t); break;
			case LEN_PTRDIFF: v = (uint64_t)va_arg(ap, ptrdiff_t); break;
			default: v = va_arg(ap, unsigned int); break;
			}
			unsigned int base = conv == 'u' ? 10 : conv == 'o' ? 8 : 16;
			const char *prefix = "";
			size_t prefix_len = 0;
			if (sp.flags & FLAG_ALT) {
				if (conv == 'o')
					prefix = "0", prefix_len = 1;
				else if (conv != 'u' && v)
					prefix = conv == 'x' ? "0x" : "0X", prefix_len = 2;
			}
			emit_number(out, &sp, v, base, conv == 'X' ? upper_digits : lower_digits,
				    prefix, prefix_len);
			break;
		}
		case 'p': {
			void *ptr = va_arg(ap, void *);
			if (!ptr) {
				sp.precision = -1;
				emit_field(out, &sp, "", 0, 0, "(nil)", 5);
			} else {
				emit_number(out, &sp, (uintptr_t)ptr, 16, lower_digits, "0x", 2);
			}
			break;
		}
		case 's': {
			const char *s = va_arg(ap, const char *);
			if (!s)
				s = "(null)";
			size_t n = sp.precision >= 0 ? strnlen(s, (size_t)sp.precision) : strlen(s);
			if (!sp.width)
				out_bytes(out, s, n); /* the common case: no padding */
			else
				emit_field(out, &sp, "", 0, 0, s, n);
			break;
		}
		case 'c': {
			char c = (char)va_arg(ap, int);
			sp.flags &= ~FLAG_ZERO;
			emit_field(out, &sp, "", 0, 0, &c, 1);
			break;
		}
		case 'f':
		case 'F':
		case 'e':
		case 'E':
		case 'g':
		case 'G':
			/* The only way into the SSE code (format_float.c). */
			fmt_float(out, conv, sp.flags, sp.width, sp.precision, ap);
			break;
		case '%':
			fmt_put(out, '%');
			break;
		default:
			/* Unknown or truncated: print it as written. */
			out_bytes(out, conv_start, (size_t)(p - conv_start));
			if (!conv)
				return;
			break;
		}
	}
}
