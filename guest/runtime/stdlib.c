/* Number parsing: atoi, strtol and friends (C semantics, saturating). */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>

/* Parse an unsigned magnitude; *neg gets a leading '-'. Saturates at
 * UINT64_MAX. */
static uint64_t parse(const char *s, char **end, int base, int *neg)
{
	const char *p = s;
	while (isspace(*p))
		p++;
	*neg = 0;
	if (*p == '-' || *p == '+')
		*neg = *p++ == '-';
	if ((base == 0 || base == 16) && p[0] == '0' && (p[1] | 32) == 'x' && isxdigit(p[2])) {
		p += 2;
		base = 16;
	} else if (base == 0) {
		base = *p == '0' ? 8 : 10;
	}
	uint64_t v = 0;
	const char *digits = p;
	for (;; p++) {
		unsigned int d;
		if (isdigit(*p))
			d = (unsigned int)(*p - '0');
		else if (isalpha(*p))
			d = (unsigned int)((*p | 32) - 'a' + 10);
		else
			break;
		if (d >= (unsigned int)base)
			break;
		if (v > (UINT64_MAX - d) / (unsigned int)base)
			v = UINT64_MAX;
		else
			v = v * (unsigned int)base + d;
	}
	if (end)
		*end = (char *)(p == digits ? s : p);
	return v;
}

long long strtoll(const char *s, char **end, int base)
{
	int neg;
	uint64_t v = parse(s, end, base, &neg);
	if (neg)
		return v > (uint64_t)INT64_MAX + 1 ? INT64_MIN : (long long)(0 - v);
	return v > INT64_MAX ? INT64_MAX : (long long)v;
}

unsigned long long strtoull(const char *s, char **end, int base)
{
	int neg;
	uint64_t v = parse(s, end, base, &neg);
	return neg ? 0 - v : v;
}

long strtol(const char *s, char **end, int base)
{
	return strtoll(s, end, base);
}

unsigned long strtoul(const char *s, char **end, int base)
{
	return strtoull(s, end, base);
}

long long atoll(const char *s)
{
	return strtoll(s, NULL, 10);
}

long atol(const char *s)
{
	return strtoll(s, NULL, 10);
}

int atoi(const char *s)
{
	return (int)strtoll(s, NULL, 10);
}
