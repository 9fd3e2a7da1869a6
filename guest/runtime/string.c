/*
 * Memory and string functions.
 *
 * Without VT-x every CPL0 instruction is interpreted (~1 us each) and
 * each iteration of a rep-prefixed string instruction costs about as much
 * (rep scasb ~0.6 us per byte). So bulk copies and fills move 8 bytes per
 * iteration, searches use rep scasb/cmpsb (still cheaper than any loop
 * doing the same), and the rest are plain loops, simple over clever.
 */
#define PVMM_STRING_NO_BUILTINS
#include <stdint.h>
#include <string.h>

/* Unaligned loads and stores of 1, 2, 4 and 8 bytes: single movs. */
#define LOAD(type, p) ({ type v_; __builtin_memcpy(&v_, (p), sizeof(v_)); v_; })
#define STORE(type, p, v) ({ type v_ = (v); __builtin_memcpy((p), &v_, sizeof(v_)); })

/*
 * Measured under KVM's emulator: rep movsb costs ~1 us per byte, rep movsq
 * ~1 us per 8 bytes, a plain instruction ~1 us. So copies move qwords and
 * finish the tail with one overlapping 8-byte move; short copies use two
 * overlapping moves of the largest size that fits.
 */
void *memcpy(void *restrict dst, const void *restrict src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;
	if (n >= 8) {
		uint64_t tail = LOAD(uint64_t, s + n - 8);
		size_t words = n / 8;
		__asm__ volatile("rep movsq"
				 : "+D"(d), "+S"(s), "+c"(words)
				 :
				 : "memory");
		STORE(uint64_t, (unsigned char *)dst + n - 8, tail);
	} else if (n >= 4) {
		uint32_t head = LOAD(uint32_t, s), tail = LOAD(uint32_t, s + n - 4);
		STORE(uint32_t, d, head);
		STORE(uint32_t, d + n - 4, tail);
	} else if (n >= 2) {
		uint16_t head = LOAD(uint16_t, s), tail = LOAD(uint16_t, s + n - 2);
		STORE(uint16_t, d, head);
		STORE(uint16_t, d + n - 2, tail);
	} else if (n) {
		*d = *s;
	}
	return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
	/* Forward copy is safe unless dst starts inside (src, src + n). */
	if ((uintptr_t)dst - (uintptr_t)src >= n)
		return memcpy(dst, src, n);
	/* Backward: the qwords from the end with DF set (cleared again before
	 * any other code runs), then the head bytes, also from the end. */
	size_t words = n / 8, head = n % 8;
	if (words) {
		void *d = (char *)dst + n - 8;
		const void *s = (const char *)src + n - 8;
		__asm__ volatile("std\n\t"
				 "rep movsq\n\t"
				 "cld"
				 : "+D"(d), "+S"(s), "+c"(words)
				 :
				 : "memory");
	}
	while (head--) {
		((unsigned char *)dst)[head] = ((const unsigned char *)src)[head];
		__asm__ volatile("" ::: "memory"); /* not a memmove call, please */
	}
	return dst;
}

void *memset(void *dst, int c, size_t n)
{
	unsigned char *d = dst;
	uint64_t pattern = (uint8_t)c * 0x0101010101010101ull;
	if (n >= 8) {
		size_t words = n / 8;
		__asm__ volatile("rep stosq"
				 : "+D"(d), "+c"(words)
				 : "a"(pattern)
				 : "memory");
		STORE(uint64_t, (unsigned char *)dst + n - 8, pattern);
	} else if (n >= 4) {
		STORE(uint32_t, d, (uint32_t)pattern);
		STORE(uint32_t, d + n - 4, (uint32_t)pattern);
	} else if (n >= 2) {
		STORE(uint16_t, d, (uint16_t)pattern);
		STORE(uint16_t, d + n - 2, (uint16_t)pattern);
	} else if (n) {
		*d = (unsigned char)c;
	}
	return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *pa = a, *pb = b;
	/* Whole qwords first (one iteration per 8 bytes): repe cmpsq stops
	 * just past the first differing qword, or at the end. If the last
	 * qword it compared differs, the bytes compare below finds where. */
	size_t words = n / 8;
	if (words) {
		__asm__ volatile("repe cmpsq"
				 : "+S"(pa), "+D"(pb), "+c"(words)
				 :
				 : "memory", "cc");
		if (LOAD(uint64_t, pa - 8) != LOAD(uint64_t, pb - 8)) {
			pa -= 8;
			pb -= 8;
			n = 8;
		} else {
			n %= 8;
		}
	}
	if (n == 0)
		return 0;
	/* repe cmpsb stops just past the first difference, or past the end
	 * when there is none; either way the last pair compared decides. */
	__asm__ volatile("repe cmpsb"
			 : "+S"(pa), "+D"(pb), "+c"(n)
			 :
			 : "memory", "cc");
	return pa[-1] - pb[-1];
}

void *memchr(const void *s, int c, size_t n)
{
	if (n == 0)
		return NULL;
	const unsigned char *p = s;
	/* repne scasb stops just past the first match, or past the end. */
	__asm__ volatile("repne scasb"
			 : "+D"(p), "+c"(n)
			 : "a"(c)
			 : "memory", "cc");
	return p[-1] == (unsigned char)c ? (void *)(p - 1) : NULL;
}

size_t strnlen(const char *s, size_t max)
{
	const char *nul = memchr(s, 0, max);
	return nul ? (size_t)(nul - s) : max;
}

size_t strlen(const char *s)
{
	return strnlen(s, SIZE_MAX);
}

int strcmp(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return (unsigned char)*a - (unsigned char)*b;
}

int strncmp(const char *a, const char *b, size_t n)
{
	for (; n; n--, a++, b++) {
		if (*a != *b || !*a)
			return (unsigned char)*a - (unsigned char)*b;
	}
	return 0;
}

char *strchr(const char *s, int c)
{
	for (;; s++) {
		if (*s == (char)c)
			return (char *)s;
		if (!*s)
			return NULL;
	}
}

char *strrchr(const char *s, int c)
{
	const char *last = NULL;
	for (;; s++) {
		if (*s == (char)c)
			last = s;
		if (!*s)
			return (char *)last;
	}
}

char *strcpy(char *restrict dst, const char *restrict src)
{
	return memcpy(dst, src, strlen(src) + 1);
}

char *strncpy(char *restrict dst, const char *restrict src, size_t n)
{
	/* Copies at most n bytes and pads with NULs to n, as C specifies. */
	size_t len = strnlen(src, n);
	memcpy(dst, src, len);
	memset(dst + len, 0, n - len);
	return dst;
}

char *strstr(const char *haystack, const char *needle)
{
	size_t n = strlen(needle);
	if (n == 0)
		return (char *)haystack;
	for (; (haystack = strchr(haystack, needle[0])); haystack++) {
		if (strncmp(haystack, needle, n) == 0)
			return (char *)haystack;
	}
	return NULL;
}
