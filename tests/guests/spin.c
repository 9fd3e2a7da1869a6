/* Prints "spinning" then loops forever without a para-API call, for
 * --timeout tests (status 69 with --timeout). */
#include <stdio.h>

int main(void)
{
	puts("spinning");
	for (;;)
		__asm__ volatile("");
}
