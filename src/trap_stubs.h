/*
 * Ring 3: the monitor's IDT and the CPL0 exception stubs it points at.
 *
 * A guest at CPL3 cannot load an IDT, so the monitor writes one (vectors
 * 0..31, supervisor-only, at LAYOUT_IDT) whose gates enter tiny stubs at
 * LAYOUT_TRAP_STUBS on the CPU's IST1 stack. Each stub pushes a dummy error
 * code where the CPU pushes none, the vector, rax and rdx, then writes the
 * trap port; trap_port.c reads the frame back and reports the exception.
 */
#ifndef PVMM_TRAP_STUBS_H
#define PVMM_TRAP_STUBS_H

#include <stdint.h>

#include "guest_mem.h"

#define TRAP_STUB_VECTORS 32
#define TRAP_STUB_SIZE 16

/* The stack a stub leaves at its `out` (offsets from rsp, 8 bytes each):
 * what it pushed, then what the CPU pushed. */
enum trap_frame_slot {
	TRAP_FRAME_RDX, TRAP_FRAME_RAX, TRAP_FRAME_VECTOR, TRAP_FRAME_ERROR_CODE,
	TRAP_FRAME_RIP, TRAP_FRAME_CS, TRAP_FRAME_RFLAGS, TRAP_FRAME_RSP, TRAP_FRAME_SS,
	TRAP_FRAME_SLOTS,
};

/* Write the IDT and the stubs into guest RAM (layout.h addresses). */
void trap_stubs_write(struct guest_mem *mem);

#endif
