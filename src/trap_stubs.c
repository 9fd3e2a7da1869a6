#include "trap_stubs.h"

#include <string.h>

#include <pvmm/para.h>

#include "layout.h"

_Static_assert(TRAP_STUB_VECTORS * TRAP_STUB_SIZE <= PAGE_SIZE, "the stubs fill more than their page");
_Static_assert(PVMM_PORT_TRAP <= 0xffff, "the trap port is a 16-bit port");

#define GATE_INTERRUPT_64 0x8e /* present, DPL 0: `int n` from CPL3 is a #GP */

/* Vectors for which the CPU pushes an error code itself. */
static bool has_error_code(unsigned v)
{
	return v == 8 || (v >= 10 && v <= 14) || v == 17 || v == 21 || v == 29 || v == 30;
}

/* One stub, hand-assembled: a handful of instructions, because at CPL0
 * every instruction is interpreted on a host without VT-x. */
/* 15 bytes at most: each has a 16-byte slot. */
static void write_stub(uint8_t *code, unsigned vector)
{
	unsigned n = 0;

	if (!has_error_code(vector)) {
		code[n++] = 0x6a; code[n++] = 0x00;         /* push $0: dummy error code */
	}
	code[n++] = 0x6a; code[n++] = (uint8_t)vector;      /* push $vector (imm8, < 0x80) */
	code[n++] = 0x50;                                   /* push %rax */
	code[n++] = 0x52;                                   /* push %rdx */
	code[n++] = 0x66; code[n++] = 0xba;                 /* mov $PVMM_PORT_TRAP, %dx */
	code[n++] = PVMM_PORT_TRAP & 0xff; code[n++] = PVMM_PORT_TRAP >> 8;
	code[n++] = 0xef;                                   /* out %eax, %dx: the monitor reports and stops */
	code[n++] = 0xf4;                                   /* hlt: not reached */
	code[n++] = 0xeb; code[n++] = 0xfd;                 /* jmp back to the hlt */
}

void trap_stubs_write(struct guest_mem *mem)
{
	uint8_t *idt = guest_mem_ptr_private(mem, LAYOUT_IDT, TRAP_STUB_VECTORS * 16);
	uint8_t *stubs = guest_mem_ptr_private(mem, LAYOUT_TRAP_STUBS, PAGE_SIZE);

	memset(idt, 0, TRAP_STUB_VECTORS * 16);
	memset(stubs, 0xf4, PAGE_SIZE); /* hlt between and after the stubs */
	for (unsigned v = 0; v < TRAP_STUB_VECTORS; v++) {
		uint64_t entry = LAYOUT_TRAP_STUBS + (uint64_t)v * TRAP_STUB_SIZE;
		uint8_t *gate = idt + v * 16;

		write_stub(stubs + v * TRAP_STUB_SIZE, v);
		/* 64-bit interrupt gate: offset 15..0, selector, IST, type,
		 * offset 31..16, offset 63..32, reserved. */
		gate[0] = entry & 0xff;
		gate[1] = entry >> 8 & 0xff;
		gate[2] = PVMM_SEL_CODE & 0xff;
		gate[3] = PVMM_SEL_CODE >> 8;
		gate[4] = PVMM_IST_EXCEPTION;
		gate[5] = GATE_INTERRUPT_64;
		gate[6] = entry >> 16 & 0xff;
		gate[7] = entry >> 24 & 0xff;
		uint32_t high = (uint32_t)(entry >> 32);
		memcpy(gate + 8, &high, sizeof(high));
	}
}
