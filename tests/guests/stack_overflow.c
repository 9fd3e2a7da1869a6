/* Recurses without bound, 1 KiB of stack per level, until the guard page
 * under the stack faults. The handler runs on the IST1 stack and reports
 * "unhandled exception #PF (page fault): stack overflow" (status 65). */
#include <stdio.h>

static volatile int keep_going = 1; /* hides the infinite recursion from the compiler */

static int recurse(int depth)
{
	volatile char frame[1024];
	frame[0] = (char)depth; /* lowest byte: touches every page on the way down */
	if (keep_going)
		recurse(depth + 1);
	return frame[0]; /* use after the call: no tail call */
}

int main(void)
{
	puts("recursing");
	recurse(0);
	puts("recursion ended!");
	return 1;
}
