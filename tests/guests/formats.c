/*
 * Runtime library checks: printf formatting, string functions, malloc and
 * the page allocator. Prints `ok NAME` or `FAIL NAME: ...` per check and
 * exits 0 only if all pass. Loops stay small: guest code is interpreted
 * (~1 us per instruction) on hosts without VT-x.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pvmm/guest.h>

static int failures;

static void check(int ok, const char *name)
{
	if (ok) {
		printf("ok %s\n", name);
	} else {
		printf("FAIL %s\n", name);
		failures++;
	}
}

/* ---- printf -------------------------------------------------------- */

static int format_failures;

#define EXPECT_FMT(expected, ...)                                                   \
	do {                                                                        \
		char buf_[128];                                                     \
		int n_ = snprintf(buf_, sizeof(buf_), __VA_ARGS__);                 \
		if (strcmp(buf_, (expected)) != 0 || n_ != (int)strlen(expected)) { \
			printf("FAIL format %s: got \"%s\" (%d), expected \"%s\"\n", \
			       #__VA_ARGS__, buf_, n_, (expected));                 \
			format_failures++;                                          \
		}                                                                   \
	} while (0)

static void test_formats(void)
{
	char digits_short[4];
	EXPECT_FMT("plain", "plain");
	EXPECT_FMT("42 -7 0", "%d %i %d", 42, -7, 0);
	EXPECT_FMT("-2147483648 2147483647", "%d %d", INT32_MIN, INT32_MAX);
	EXPECT_FMT("4294967295", "%u", UINT32_MAX);
	EXPECT_FMT("ff FF 0", "%x %X %x", 255, 255, 0);
	EXPECT_FMT("777 0777", "%o %#o", 0777, 0777);
	EXPECT_FMT("0x1f 0X1F 0", "%#x %#X %#x", 31, 31, 0);
	EXPECT_FMT("-9223372036854775808", "%ld", (long)INT64_MIN);
	EXPECT_FMT("18446744073709551615", "%lu", (unsigned long)UINT64_MAX);
	EXPECT_FMT("ffffffffffffffff", "%lx", (unsigned long)UINT64_MAX);
	EXPECT_FMT("-5 12345678901 abcdef0123", "%lld %llu %llx", -5LL, 12345678901ULL, 0xabcdef0123ULL);
	EXPECT_FMT("123 -4", "%zu %zd", (size_t)123, (ptrdiff_t)-4);
	EXPECT_FMT("-1 255", "%hhd %hhu", (signed char)-1, (unsigned char)255);
	EXPECT_FMT("-1 65535", "%hd %hu", (short)-1, (unsigned short)65535);
	EXPECT_FMT("0x1000 (nil)", "%p %p", (void *)0x1000, (void *)0);
	const char *volatile null_string = NULL; /* hidden from -Wformat */
	EXPECT_FMT("hi (null)", "%s %s", "hi", null_string);
	EXPECT_FMT("x%y", "%c%%%c", 'x', 'y');
	EXPECT_FMT("[   42]", "[%5d]", 42);
	EXPECT_FMT("[42   ]", "[%-5d]", 42);
	EXPECT_FMT("[00042]", "[%05d]", 42);
	EXPECT_FMT("[-0042]", "[%05d]", -42);
	EXPECT_FMT("[+42] [ 42]", "[%+d] [% d]", 42, 42);
	EXPECT_FMT("[0x002a]", "[%#06x]", 42);
	EXPECT_FMT("[  007]", "[%5.3d]", 7);
	EXPECT_FMT("[]", "[%.0d]", 0);
	EXPECT_FMT("[   ab]", "[%5.2s]", "abc");
	EXPECT_FMT("[ab   ]", "[%-5.2s]", "abc");
	EXPECT_FMT("[  abc]", "[%*s]", 5, "abc");
	EXPECT_FMT("[abc  ]", "[%*s]", -5, "abc");
	EXPECT_FMT("[ab]", "[%.*s]", 2, "abc");
	EXPECT_FMT("[    x]", "[%5c]", 'x');
	/* An unknown conversion is printed as written (hidden from -Wformat). */
	const char *volatile unknown = "%q";
	EXPECT_FMT("%q", unknown, 0);
	/* The same for a bare letter, a letter after flags, and a lone '%'. */
	const char *volatile unknown_bare = "<%y|%L>", *volatile unknown_flags = "%-5y", *volatile lone = "ab%";
	EXPECT_FMT("<%y|%L>", unknown_bare, 0);
	EXPECT_FMT("%-5y", unknown_flags, 0);
	EXPECT_FMT("ab%", lone, 0);
	/* Bare conversions back to back, and a number that only fits in part. */
	EXPECT_FMT("7ab-1Fzq", "%d%s%d%X%c%c", 7, "ab", -1, 15, 'z', 'q');
	/* Bytes that do not fit still count, whichever path writes them. */
	if (snprintf(NULL, 0, "%%") != 1 || snprintf(digits_short, sizeof(digits_short), "100%%") != 4 ||
	    strcmp(digits_short, "100") != 0) {
		printf("FAIL format count of bytes past the end (%%%%)\n");
		format_failures++;
	}
	char digits[5];
	if (snprintf(digits, sizeof(digits), "%d", 1234567) != 7 || strcmp(digits, "1234") != 0) {
		printf("FAIL format digit truncation: got \"%s\"\n", digits);
		format_failures++;
	}

	/* Truncation: returns the full length, writes size - 1 and a NUL. */
	char small[5];
	int n = snprintf(small, sizeof(small), "%s", "abcdefgh");
	if (n != 8 || strcmp(small, "abcd") != 0) {
		printf("FAIL format truncation: got \"%s\" (%d)\n", small, n);
		format_failures++;
	}
	if (snprintf(NULL, 0, "%d", 12345) != 5) {
		printf("FAIL format size 0\n");
		format_failures++;
	}
	check(format_failures == 0, "printf formats");

	/* printf's return value counts what it wrote. */
	int printed = printf("ok printf returns %d\n", 2);
	check(printed == 20, "printf return value");
}

/* ---- strings ------------------------------------------------------- */

static void test_strings(void)
{
	char buf[64];
	int ok = 1;
	for (int i = 0; i < 64; i++)
		buf[i] = (char)i;
	/* Overlapping moves both ways, across the 8-byte paths. */
	memmove(buf + 3, buf, 20);
	for (int i = 0; i < 20; i++)
		ok &= buf[3 + i] == i;
	for (int i = 0; i < 64; i++)
		buf[i] = (char)i;
	memmove(buf, buf + 5, 30);
	for (int i = 0; i < 30; i++)
		ok &= buf[i] == i + 5;
	check(ok, "memmove overlap");

	ok = 1;
	for (size_t len = 0; len <= 19; len++) {
		char src[24], dst[24];
		for (size_t i = 0; i < sizeof(src); i++)
			src[i] = (char)(i + 1), dst[i] = 0;
		memcpy(dst + 1, src, len);
		ok &= dst[0] == 0 && dst[len + 1] == 0 && memcmp(dst + 1, src, len) == 0;
		memset(dst, 'z', len);
		ok &= len == 0 || (dst[0] == 'z' && dst[len - 1] == 'z');
		ok &= dst[len] != 'z';
	}
	check(ok, "memcpy memset lengths");

	ok = strlen("") == 0 && strlen("hello") == 5 && strnlen("hello", 3) == 3;
	ok &= strcmp("abc", "abd") < 0 && strcmp("b", "a") > 0 && strcmp("same", "same") == 0;
	ok &= strncmp("abcX", "abcY", 3) == 0 && strncmp("abcX", "abcY", 4) < 0;
	ok &= memcmp("abc", "abd", 3) < 0 && memcmp("abc", "abc", 3) == 0 && memcmp("\xff", "a", 1) > 0;
	const char *s = "hello world";
	ok &= strchr(s, 'o') == s + 4 && strrchr(s, 'o') == s + 7 && strchr(s, 'z') == NULL;
	ok &= strchr(s, '\0') == s + 11 && memchr(s, 'w', 11) == s + 6 && memchr(s, 'w', 6) == NULL;
	ok &= strstr(s, "wor") == s + 6 && strstr(s, "xyz") == NULL && strstr(s, "") == s;
	char copy[16];
	strcpy(copy, "copy");
	ok &= strcmp(copy, "copy") == 0;
	strncpy(copy, "ab", 6);
	ok &= copy[0] == 'a' && copy[2] == 0 && copy[5] == 0;
	ok &= atoi("-123") == -123 && strtol("0x1f", NULL, 0) == 31 && strtoul("777", NULL, 8) == 511;
	check(ok, "string functions");
}

/* ---- malloc -------------------------------------------------------- */

static void test_malloc(void)
{
	static const size_t sizes[] = { 1, 7, 16, 17, 100, 500, 2000, 2032, 2033, 5000, 70000 };
	enum { N = sizeof(sizes) / sizeof(sizes[0]) };
	unsigned char *blocks[N];
	int ok = 1;
	for (int i = 0; i < N; i++) {
		blocks[i] = malloc(sizes[i]);
		ok &= blocks[i] && (uintptr_t)blocks[i] % 16 == 0;
		if (blocks[i])
			memset(blocks[i], i + 1, sizes[i]);
	}
	for (int i = 0; i < N; i++) {
		if (!blocks[i])
			continue;
		ok &= blocks[i][0] == i + 1 && blocks[i][sizes[i] - 1] == i + 1;
		free(blocks[i]);
	}
	check(ok, "malloc sizes alignment integrity");

	/* A freed small block is reused for the same size. */
	void *a = malloc(40);
	free(a);
	void *b = malloc(40);
	check(a == b, "malloc reuses freed blocks");
	free(b);

	/* realloc keeps the contents while growing. */
	char *r = malloc(10);
	memcpy(r, "0123456789", 10);
	r = realloc(r, 3000);
	ok = r && memcmp(r, "0123456789", 10) == 0;
	r = realloc(r, 100000);
	ok &= r && memcmp(r, "0123456789", 10) == 0;
	free(r);
	check(ok, "realloc keeps data");

	unsigned char *z = calloc(100, 3);
	ok = z != NULL;
	for (int i = 0; z && i < 300; i += 37)
		ok &= z[i] == 0;
	free(z);
	check(ok && calloc(SIZE_MAX / 2, 4) == NULL, "calloc zeroes and checks overflow");

	void *al = aligned_alloc(4096, 100);
	void *al2 = aligned_alloc(64, 10);
	check(al && (uintptr_t)al % 4096 == 0 && al2 && (uintptr_t)al2 % 64 == 0, "aligned_alloc");
	free(al);
	free(al2);

	check(malloc((size_t)1 << 40) == NULL, "malloc failure returns NULL");
}

/* ---- pages --------------------------------------------------------- */

static void test_pages(void)
{
	size_t before = page_free_count();
	unsigned char *p = page_alloc(3);
	int ok = p && (uintptr_t)p % PVMM_PAGE_SIZE == 0 && page_free_count() == before - 3;
	p[0] = 1;
	p[3 * PVMM_PAGE_SIZE - 1] = 2;
	unsigned char *q = page_alloc(1);
	page_free(p, 3);
	/* The freed run comes back for a request that fits. */
	unsigned char *p2 = page_alloc(2);
	ok &= p2 >= p && p2 < p + 3 * PVMM_PAGE_SIZE;
	page_free(p2, 2);
	page_free(q, 1);
	ok &= page_free_count() == before;
	check(ok, "page_alloc reuse and accounting");
}

/* A newline that lands in a full stdout buffer still flushes the line:
 * 2048 bytes (the buffer) fill it exactly, putchar('\n') spills them and
 * starts the buffer again with the newline, and a marker then goes
 * straight to the console. test_guests.sh checks that the marker is a
 * line of its own, i.e. that the newline left first. */
static void test_full_buffer_newline(void)
{
	static char fill[2048];
	memset(fill, 'x', sizeof(fill));
	fwrite(fill, 1, sizeof(fill), stdout);
	putchar('\n');
	static const char marker[] = "marker after a full buffer's newline\n";
	pvmm_console_write(marker, sizeof(marker) - 1);
}

int main(void)
{
	test_full_buffer_newline();
	test_formats();
	test_strings();
	test_malloc();
	test_pages();
	printf("%s: %d failure(s)\n", failures ? "FAIL formats" : "ok formats", failures);
	return failures ? 1 : 0;
}
