/* <strings.h> for pvmm guests: case-insensitive comparison (ASCII). */
#ifndef PVMM_STRINGS_H
#define PVMM_STRINGS_H

#include <stddef.h>

int strcasecmp(const char *a, const char *b);
int strncasecmp(const char *a, const char *b, size_t n);

#endif /* PVMM_STRINGS_H */
