/* Executes ud2: the runtime reports "unhandled exception #UD (invalid
 * opcode)" (status 65). */
#include <stdio.h>

int main(void)
{
	puts("executing ud2");
	__asm__ volatile("ud2");
	puts("ud2 returned!");
	return 1;
}
