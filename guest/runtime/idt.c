/*
 * The IDT, as a constant table.
 *
 * guest.ld puts isr.S's 16-byte stubs at 0x100000 + 16 * vector (and
 * asserts it), so every gate is known at compile time and boot costs one
 * lidt instead of a loop: a loop would cost hundreds of interpreted
 * instructions on hosts without VT-x. Each gate is a 64-bit interrupt gate
 * (type 0x8E: present, DPL 0, IF cleared on entry) in the monitor's code
 * segment:
 *   0..31   CPU exceptions, on the IST1 exception stack so that even a
 *           stack overflow is reported;
 *   32..55  device interrupts (IOAPIC pin = vector - 32), on the current
 *           stack;
 *   56..255 one catch-all stub (slot 56) that counts and returns (the
 *           LAPIC's spurious vector 0xff among them).
 * The table is 4 KiB of .rodata: loading it costs nothing at boot.
 */
#include <stdint.h>
#include <pvmm/irq.h>
#include <pvmm/para.h>
#include "runtime.h"

#define IDT_VECTORS 256
#define IRQ_FIRST_VECTOR PVMM_IRQ_VECTOR_BASE
#define IRQ_LAST_VECTOR (PVMM_IRQ_VECTOR_BASE + 23)
#define OTHER_SLOT 56
#define ISR_STUB_BASE ((uint64_t)PVMM_IMAGE_MIN)
#define ISR_STUB_SIZE 16
#define GATE_INTERRUPT_64 0x8E

struct idt_gate {
	uint16_t offset_low;
	uint16_t selector;
	uint8_t ist;
	uint8_t type;
	uint16_t offset_mid;
	uint32_t offset_high;
	uint32_t reserved;
};
_Static_assert(sizeof(struct idt_gate) == 16, "an IDT gate is 16 bytes");

#define STUB(v) (ISR_STUB_BASE + ISR_STUB_SIZE * (v))
#define GATE_TO(slot, ist_) {                           \
	.offset_low = STUB(slot) & 0xffff,              \
	.selector = PVMM_SEL_CODE,                      \
	.ist = (ist_),                                  \
	.type = GATE_INTERRUPT_64,                      \
	.offset_mid = (STUB(slot) >> 16) & 0xffff,      \
	.offset_high = (uint32_t)(STUB(slot) >> 32),    \
}
#define GATE(v) GATE_TO(v, PVMM_IST_EXCEPTION)
#define IRQ_GATE(v) GATE_TO(v, 0)
#define GATES4(v) GATE(v), GATE(v + 1), GATE(v + 2), GATE(v + 3)
#define IRQ_GATES4(v) IRQ_GATE(v), IRQ_GATE(v + 1), IRQ_GATE(v + 2), IRQ_GATE(v + 3)

static const struct idt_gate idt[IDT_VECTORS] __attribute__((aligned(16))) = {
	GATES4(0), GATES4(4), GATES4(8), GATES4(12),
	GATES4(16), GATES4(20), GATES4(24), GATES4(28),
	IRQ_GATES4(32), IRQ_GATES4(36), IRQ_GATES4(40),
	IRQ_GATES4(44), IRQ_GATES4(48), IRQ_GATES4(52),
	[OTHER_SLOT ... IDT_VECTORS - 1] = GATE_TO(OTHER_SLOT, 0),
};
_Static_assert(IRQ_LAST_VECTOR + 1 == OTHER_SLOT, "device vectors end where the catch-all slot begins");

static const struct __attribute__((packed)) {
	uint16_t limit;
	uint64_t base;
} idtr = { sizeof(idt) - 1, (uint64_t)(uintptr_t)idt };

/* The gates above do not name the stubs, so reference them here to make the
 * linker pull isr.S in from the archive. */
extern const char isr_stubs[];
__attribute__((used)) static const void *const idt_stubs_ref = isr_stubs;

void idt_load(void)
{
	/* At ring 3 (boot info `ring`) lidt would fault: the monitor owns
	 * the IDT and reports exceptions itself. The CPL is CS's low bits,
	 * read without touching the boot info, which may be bad. */
	if (pvmm_ring() == 3)
		return;
	__asm__ volatile("lidt %0" : : "m"(idtr));
}
