/* rand() and srand(), C's pseudo-random sequence. */
#include <stdint.h>
#include <stdlib.h>

/* rand(): a 64-bit linear congruential generator (Knuth's MMIX constants),
 * returning its top 31 bits, whose period is the full 2^64. One sequence
 * for the whole guest, like C's; srand() restarts it. */
static uint64_t rand_state = 1;

void srand(unsigned int seed)
{
	rand_state = seed;
}

int rand(void)
{
	rand_state = rand_state * 6364136223846793005ull + 1442695040888963407ull;
	return (int)(rand_state >> 33);
}
