/* Executes one SSE instruction (addps %xmm0, %xmm0). On VT-x it runs and
 * the guest prints "sse ok" and exits 0; under KVM's instruction emulator
 * (hosts without VT-x) it cannot run and the monitor reports an emulation
 * failure (status 67). */
#include <stdio.h>

int main(void)
{
	puts("executing addps");
	/* Raw bytes (0f 58 c0): the guest is built with -mgeneral-regs-only,
	 * and nothing else in it may touch SSE. */
	__asm__ volatile(".byte 0x0f, 0x58, 0xc0 /* addps %%xmm0, %%xmm0 */");
	puts("sse ok");
	return 0;
}
