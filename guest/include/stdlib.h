/* <stdlib.h> for pvmm guests. */
#ifndef PVMM_STDLIB_H
#define PVMM_STDLIB_H

#include <stddef.h>

#define EXIT_SUCCESS 0
#define EXIT_FAILURE 1

/* Heap on top of the page allocator; 16-byte aligned. free() and realloc()
 * abort the VM on a pointer malloc did not return or one already freed. */
void *malloc(size_t size);
void free(void *p);
void *calloc(size_t count, size_t size);
void *realloc(void *p, size_t size);
void *aligned_alloc(size_t alignment, size_t size);

/* Flush stdout and stop the VM with status 0..63 (anything else aborts). */
__attribute__((noreturn)) void exit(int status);
/* Flush stdout and abort the VM with "abort() called". */
__attribute__((noreturn)) void abort(void);

int atoi(const char *s);
long atol(const char *s);
long long atoll(const char *s);
long strtol(const char *s, char **end, int base);
unsigned long strtoul(const char *s, char **end, int base);
long long strtoll(const char *s, char **end, int base);
unsigned long long strtoull(const char *s, char **end, int base);

/* The C library's pseudo-random sequence (not for secrets: pvmm_getrandom
 * in <pvmm/guest.h> is). srand(1) is the default seed. */
#define RAND_MAX 0x7fffffff
int rand(void);
void srand(unsigned int seed);

static inline int abs(int x) { return x < 0 ? -x : x; }
static inline long labs(long x) { return x < 0 ? -x : x; }

#endif /* PVMM_STDLIB_H */
