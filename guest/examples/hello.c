/* The smallest useful guest: greet, list the arguments, exit 0.
 *   build/pvmm run build/examples/hello.elf a b */
#include <stdio.h>

int main(int argc, char **argv)
{
	puts("Hello from pvmm!");
	for (int i = 0; i < argc; i++)
		printf("argv[%d] = %s\n", i, argv[i]);
	return 0;
}
