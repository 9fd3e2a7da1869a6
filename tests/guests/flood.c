/* Prints 4 KiB blocks of text forever (through stdio, so to whichever
 * console the monitor gives it), for tests of stopping a VM whose
 * console output nobody reads. */
#include <stdio.h>
#include <string.h>

int main(void)
{
	static char block[4096];
	for (size_t i = 0; i < sizeof(block); i++)
		block[i] = (i % 64 == 63) ? '\n' : (char)('a' + i % 26);
	for (;;)
		fwrite(block, 1, sizeof(block), stdout);
}
