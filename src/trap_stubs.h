/*
 * Ring 3: the monitor's IDT and the CPL0 stubs it points at.
 *
 * A guest at CPL3 cannot load an IDT, so the monitor writes one (all 256
 * vectors, supervisor-only, at LAYOUT_IDT) whose gates enter tiny stubs at
 * LAYOUT_TRAP_STUBS on the CPU's IST1 stack. The stub page holds:
 *   - vectors 0..31 (exceptions): push a dummy error code where the CPU
 *     pushes none, the vector, rax and rdx, then write the trap port;
 *     trap_port.c reads the frame back and reports the exception;
 *   - vectors 32..55 (IOAPIC pins 0..23): push 0 and the vector and jump
 *     to a shared tail that ends the interrupt at the local APIC, pushes
 *     rax and rdx, writes the trap port (upcall.c may rewrite the frame to
 *     enter the guest's upcall), pops and returns with iretq;
 *   - every other vector (the spurious 0xff): iretq.
 * The same frame layout either way, so one reader serves both.
 */
#ifndef PVMM_TRAP_STUBS_H
#define PVMM_TRAP_STUBS_H

#include <stdbool.h>
#include <stdint.h>

#include "guest_mem.h"

#define TRAP_STUB_VECTORS 32   /* exceptions, one slot each from the page's start */
#define TRAP_STUB_SIZE 16
#define TRAP_IRQ_PINS 24       /* interrupt stubs: vectors 32..55, after the exceptions' */
#define TRAP_IDT_VECTORS 256

/* The stack a stub leaves at its `out` (offsets from rsp, 8 bytes each):
 * what it pushed, then what the CPU pushed. */
enum trap_frame_slot {
	TRAP_FRAME_RDX, TRAP_FRAME_RAX, TRAP_FRAME_VECTOR, TRAP_FRAME_ERROR_CODE,
	TRAP_FRAME_RIP, TRAP_FRAME_CS, TRAP_FRAME_RFLAGS, TRAP_FRAME_RSP, TRAP_FRAME_SS,
	TRAP_FRAME_SLOTS,
};

/* Write the IDT and the stubs into guest RAM (layout.h addresses). */
void trap_stubs_write(struct guest_mem *mem);

/* True if `rip` lies in the interrupts' shared tail (where its trap-port
 * write leaves the vCPU). */
bool trap_stub_is_irq_tail(uint64_t rip);

#endif
