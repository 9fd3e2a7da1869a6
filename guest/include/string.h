/* <string.h> for pvmm guests: memory and string functions. */
#ifndef PVMM_STRING_H
#define PVMM_STRING_H

#include <stddef.h>

void *memcpy(void *restrict dst, const void *restrict src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
void *memchr(const void *s, int c, size_t n);
size_t strlen(const char *s);
size_t strnlen(const char *s, size_t max);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strchr(const char *s, int c);
char *strrchr(const char *s, int c);
char *strcpy(char *restrict dst, const char *restrict src);
char *strncpy(char *restrict dst, const char *restrict src, size_t n);
char *strstr(const char *haystack, const char *needle);

/* -ffreestanding turns off the compiler's knowledge of these functions, so
 * it would call memcpy even to copy 8 bytes. The builtins let it inline
 * small constant cases (every instruction counts when CPL0 code is
 * interpreted) and fall back to the functions above otherwise. The runtime
 * file that defines them opts out. */
#ifndef PVMM_STRING_NO_BUILTINS
#define memcpy(d, s, n) __builtin_memcpy((d), (s), (n))
#define memset(d, c, n) __builtin_memset((d), (c), (n))
#define memcmp(a, b, n) __builtin_memcmp((a), (b), (n))
#define strlen(s) __builtin_strlen((s))
#endif

#endif /* PVMM_STRING_H */
