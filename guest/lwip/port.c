/* What lwIP asks of its platform (NO_SYS): a millisecond clock, and
 * random numbers (DHCP transaction IDs, TCP initial sequence numbers and
 * ephemeral ports). */
#include <stdint.h>
#include <pvmm/guest.h>
#include "lwip/sys.h"

u32_t sys_now(void)
{
	return (u32_t)(pvmm_now_ns() / 1000000u);
}

/* xorshift64*, seeded once from the monitor's random source so that two
 * guests (or two runs) do not pick the same sequence numbers. */
unsigned int pvmm_lwip_rand(void)
{
	static uint64_t x;
	while (x == 0) {
		if (pvmm_getrandom(&x, sizeof x) != 0)
			x = pvmm_now_ns() | 1;
	}
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	return (unsigned int)((x * 0x2545f4914f6cdd1dull) >> 32);
}
