/*
 * hcloop N: N para-API NOP calls in one tight loop, then exit 0.
 *
 * The loop body is exactly `out %eax,%dx; dec %ecx; jnz` so that the
 * benchmark can compare it with a raw VM running the same three
 * instructions: the difference is the monitor's cost per call.
 */
#include <stdint.h>
#include <stdlib.h>
#include <pvmm/para.h>

static _Alignas(8) struct pvmm_nop_args nop_block;

int main(int argc, char **argv)
{
	uint32_t n = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 0) : 1000;
	if (n == 0)
		return 0;
	__asm__ volatile("1:\n\t"
			 "out %%eax, %%dx\n\t"
			 "dec %%ecx\n\t"
			 "jnz 1b"
			 : "+c"(n)
			 : "a"((uint32_t)(uintptr_t)&nop_block),
			   "d"((uint16_t)(PVMM_PORT_BASE + PVMM_CALL_NOP))
			 : "memory", "cc");
	return 0;
}
