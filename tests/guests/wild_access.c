/* Writes to 0xE0000000: mapped by the identity page tables but not RAM
 * (RAM ends at 3 GiB at most), so the monitor reports an access to
 * unbacked memory (status 65). */
#include <stdint.h>
#include <stdio.h>

#define WILD_ADDRESS 0xE0000000u

int main(void)
{
	puts("writing to 0xe0000000");
	*(volatile uint32_t *)(uintptr_t)WILD_ADDRESS = 0xdeadbeef;
	puts("write went through!");
	return 1;
}
