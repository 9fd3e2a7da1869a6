/* Reads address 0, which the monitor leaves unmapped: the runtime reports
 * "unhandled exception #PF (page fault)" with cr2 = 0 (status 65). */
#include <stdio.h>

int main(void)
{
	puts("reading address 0");
	int v = *(volatile int *)0;
	printf("read %d: NULL was mapped!\n", v);
	return 1;
}
