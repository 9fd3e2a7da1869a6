/* Abort paths, selected by argv[1] (all stop with status 64):
 *   abort   abort()             -> "abort() called"
 *   assert  assert(1 == 2)      -> "tests/guests/abort.c:N: main: assertion `1 == 2' failed"
 *   panic   panic("custom %d")  -> "custom 42"
 * Each prints "before CASE" first, which must appear (stdout is flushed). */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pvmm/guest.h>

int main(int argc, char **argv)
{
	const char *which = argc > 1 ? argv[1] : "";
	printf("before %s\n", which);
	if (strcmp(which, "abort") == 0)
		abort();
	if (strcmp(which, "assert") == 0)
		assert(1 == 2);
	if (strcmp(which, "panic") == 0)
		panic("custom %d", 42);
	printf("usage: abort.elf abort|assert|panic\n");
	return 2;
}
