#include "trap_stubs.h"

#include <string.h>

#include <pvmm/para.h>

#include "layout.h"

#define IRQ_STUBS_OFFSET (TRAP_STUB_VECTORS * TRAP_STUB_SIZE)
#define OTHER_STUB_OFFSET (IRQ_STUBS_OFFSET + TRAP_IRQ_PINS * TRAP_STUB_SIZE)
#define IRQ_TAIL_OFFSET (OTHER_STUB_OFFSET + TRAP_STUB_SIZE)

_Static_assert(IRQ_TAIL_OFFSET + 64 <= PAGE_SIZE, "the stubs fill more than their page");
_Static_assert(TRAP_IDT_VECTORS * 16 <= PAGE_SIZE, "the IDT fills more than its page");
_Static_assert(PVMM_IRQ_VECTOR_BASE == TRAP_STUB_VECTORS, "interrupt vectors follow the exceptions");
_Static_assert(PVMM_PORT_TRAP <= 0xffff, "the trap port is a 16-bit port");

#define GATE_INTERRUPT_64 0x8e /* present, DPL 0: `int n` from CPL3 is a #GP */

/* Vectors for which the CPU pushes an error code itself. */
static bool has_error_code(unsigned v)
{
	return v == 8 || (v >= 10 && v <= 14) || v == 17 || v == 21 || v == 29 || v == 30;
}

/* mov $PVMM_PORT_TRAP, %dx; out %eax, %dx */
static unsigned put_trap_out(uint8_t *code, unsigned n)
{
	code[n++] = 0x66; code[n++] = 0xba;
	code[n++] = PVMM_PORT_TRAP & 0xff; code[n++] = PVMM_PORT_TRAP >> 8;
	code[n++] = 0xef;
	return n;
}

/* The stubs are hand-assembled, a handful of instructions each, because
 * at CPL0 every instruction is interpreted on a host without VT-x. */

/* An exception: 15 bytes at most, in a 16-byte slot. */
static void write_exception_stub(uint8_t *code, unsigned vector)
{
	unsigned n = 0;

	if (!has_error_code(vector)) {
		code[n++] = 0x6a; code[n++] = 0x00;         /* push $0: dummy error code */
	}
	code[n++] = 0x6a; code[n++] = (uint8_t)vector;      /* push $vector (imm8, < 0x80) */
	code[n++] = 0x50;                                   /* push %rax */
	code[n++] = 0x52;                                   /* push %rdx */
	n = put_trap_out(code, n);                          /* the monitor reports and stops */
	code[n++] = 0xf4;                                   /* hlt: not reached */
	code[n++] = 0xeb; code[n++] = 0xfd;                 /* jmp back to the hlt */
}

/* A device interrupt: push 0 (no error code) and the vector, jump to the
 * shared tail at `tail` (stub page offsets). 9 bytes. */
static void write_irq_stub(uint8_t *code, unsigned vector, unsigned at, unsigned tail)
{
	unsigned n = 0;
	code[n++] = 0x6a; code[n++] = 0x00;                 /* push $0 */
	code[n++] = 0x6a; code[n++] = (uint8_t)vector;      /* push $vector */
	int32_t rel = (int32_t)tail - (int32_t)(at + n + 5);
	code[n++] = 0xe9;                                   /* jmp rel32 */
	memcpy(code + n, &rel, sizeof(rel));
}

/* The interrupts' tail: EOI, report, return to whatever frame the
 * monitor left (the interrupted code, or the guest's upcall entry). */
static void write_irq_tail(uint8_t *code)
{
	static const uint8_t eoi[] = {
		0x50,                                       /* push %rax */
		0x52,                                       /* push %rdx */
		0xb8, 0xb0, 0x00, 0xe0, 0xfe,               /* mov $0xfee000b0, %eax (no disp32: it would sign-extend) */
		0xc7, 0x00, 0x00, 0x00, 0x00, 0x00,         /* movl $0, (%rax): end of interrupt */
	};
	static const uint8_t ret[] = {
		0x5a,                                       /* pop %rdx */
		0x58,                                       /* pop %rax */
		0x48, 0x83, 0xc4, 0x10,                     /* add $16, %rsp: vector, error code */
		0x48, 0xcf,                                 /* iretq */
	};
	_Static_assert(PVMM_LAPIC_BASE + PVMM_LAPIC_EOI == 0xfee000b0u, "the tail's EOI address");
	unsigned n = 0;
	memcpy(code, eoi, sizeof(eoi));
	n = put_trap_out(code, sizeof(eoi));
	memcpy(code + n, ret, sizeof(ret));
}

static void write_gate(uint8_t *gate, uint64_t entry)
{
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

bool trap_stub_is_irq_tail(uint64_t rip)
{
	uint64_t tail = LAYOUT_TRAP_STUBS + IRQ_TAIL_OFFSET;
	return rip >= tail && rip < tail + 64;
}

void trap_stubs_write(struct guest_mem *mem)
{
	uint8_t *idt = guest_mem_ptr_private(mem, LAYOUT_IDT, TRAP_IDT_VECTORS * 16);
	uint8_t *stubs = guest_mem_ptr_private(mem, LAYOUT_TRAP_STUBS, PAGE_SIZE);

	memset(idt, 0, TRAP_IDT_VECTORS * 16);
	memset(stubs, 0xf4, PAGE_SIZE); /* hlt between and after the stubs */
	for (unsigned v = 0; v < TRAP_STUB_VECTORS; v++) {
		write_exception_stub(stubs + v * TRAP_STUB_SIZE, v);
		write_gate(idt + v * 16, LAYOUT_TRAP_STUBS + (uint64_t)v * TRAP_STUB_SIZE);
	}
	for (unsigned pin = 0; pin < TRAP_IRQ_PINS; pin++) {
		unsigned at = IRQ_STUBS_OFFSET + pin * TRAP_STUB_SIZE;
		write_irq_stub(stubs + at, PVMM_IRQ_VECTOR_BASE + pin, at, IRQ_TAIL_OFFSET);
		write_gate(idt + (PVMM_IRQ_VECTOR_BASE + pin) * 16, LAYOUT_TRAP_STUBS + at);
	}
	stubs[OTHER_STUB_OFFSET] = 0x48;
	stubs[OTHER_STUB_OFFSET + 1] = 0xcf; /* iretq: spurious and stray vectors */
	for (unsigned v = PVMM_IRQ_VECTOR_BASE + TRAP_IRQ_PINS; v < TRAP_IDT_VECTORS; v++)
		write_gate(idt + v * 16, LAYOUT_TRAP_STUBS + OTHER_STUB_OFFSET);
	write_irq_tail(stubs + IRQ_TAIL_OFFSET);
}
