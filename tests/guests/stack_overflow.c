/* Overflows the main stack, so that the fault report says "stack
 * overflow" (status 65). Two ways:
 *   (no argument)   recurses without bound, 1 KiB of stack per level,
 *                   until the guard page under the stack faults; the
 *                   handler runs on the IST1 stack
 *   array KIB       one frame with a local array of KIB KiB, far bigger
 *                   than the stack: rsp lands below it (past the guard
 *                   page) and the first store faults there */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile int keep_going = 1; /* hides the infinite recursion from the compiler */

static int recurse(int depth)
{
	volatile char frame[1024];
	frame[0] = (char)depth; /* lowest byte: touches every page on the way down */
	if (keep_going)
		recurse(depth + 1);
	return frame[0]; /* use after the call: no tail call */
}

static __attribute__((noinline)) int big_frame(unsigned long kib)
{
	volatile char array[kib * 1024];
	array[0] = 1; /* the lowest byte, at rsp: below the stack */
	return array[0];
}

int main(int argc, char **argv)
{
	if (argc > 2 && strcmp(argv[1], "array") == 0) {
		printf("array of %s KiB\n", argv[2]);
		return big_frame(strtoul(argv[2], NULL, 10));
	}
	puts("recursing");
	recurse(0);
	puts("recursion ended!");
	return 1;
}
