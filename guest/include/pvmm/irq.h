/*
 * Device interrupts for pvmm guests (para-API 1.1; ring 3: 1.4).
 *
 * The monitor routes IOAPIC pin n, edge-triggered, to vector 32 + n; a
 * virtio device's pin is its boot info `irq` (pins 16..23 today).
 *
 * Ring 0: the runtime's IDT has a stub for every pin 0..23: it saves the
 * caller-saved registers, calls the handler registered for the pin (with
 * interrupts off, on the current stack), writes the local APIC EOI and
 * returns. Pins without a handler are counted and acknowledged. The
 * interrupt flag is RFLAGS.IF (sti/cli).
 *
 * Ring 3 (`pvmm run --ring 3`): the monitor's IDT takes the interrupt,
 * ends it, and enters the runtime's upcall entry on the interrupted stack
 * (PVMM_CALL_UPCALL, registered per CPU by the first pvmm_irq_enable() on
 * it). The interrupt flag is virtual: a byte per CPU that the monitor
 * reads, so pvmm_irq_disable()/pvmm_irq_enable() are plain stores with no
 * exit; an interrupt that comes while it is off waits in a pending mask
 * and runs at the next enable. Handlers run the same way in both rings.
 *
 * Interrupts are off at boot. pvmm_irq_enable() turns them on for the
 * calling CPU (-1 on a ring-3 monitor older than 1.4). A guest that
 * prefers polling leaves them off and waits with the para-API POLL; POLL
 * works with interrupts on too: an interrupt that became pending while
 * the vCPU slept in the monitor is taken when it resumes.
 *
 * A handler runs between two arbitrary instructions of the program: it
 * must only touch state the program protects with pvmm_irq_save() /
 * pvmm_irq_restore(), and must not use stdio (printf's buffer is not
 * interrupt-safe).
 */
#ifndef PVMM_IRQ_H
#define PVMM_IRQ_H

#include <stdbool.h>
#include <stdint.h>
#include <pvmm/para.h>

#define PVMM_IRQ_PINS 24 /* IOAPIC pins with a stub: 0..23 */

typedef void (*pvmm_irq_handler)(unsigned pin, void *arg);

/* Call fn(pin, arg) for each interrupt on `pin`. Returns 0, or -1 for a
 * pin out of range or a NULL fn. Replaces an earlier handler. */
int pvmm_irq_register(unsigned pin, pvmm_irq_handler fn, void *arg);

/* Back to the default handler (count and acknowledge). */
void pvmm_irq_unregister(unsigned pin);

/* Interrupts delivered on `pin` since boot (0 for a pin out of range). */
uint64_t pvmm_irq_count(unsigned pin);

/* Interrupts on vectors that are not device pins (e.g. spurious 0xff). */
uint64_t pvmm_irq_other_count(void);

/* The CPL the guest runs at (boot info `ring`): 0, or 3 when the monitor
 * runs it deprivileged (`pvmm run --ring 3`). */
static inline unsigned pvmm_ring(void)
{
	uint16_t cs;
	__asm__("mov %%cs, %0" : "=r"(cs));
	return cs & 3u;
}

/* Ring 3's virtual interrupt flag (runtime/irq.c): out of line, plain
 * stores and loads, no exit. */
bool pvmm_irq_available_ring3(void);
int pvmm_irq_enable_ring3(void);
void pvmm_irq_disable_ring3(void);
bool pvmm_irq_enabled_ring3(void);

/* Whether this guest can take device interrupts at all: always at ring 0;
 * at ring 3 from a 1.4 monitor on (upcalls). */
static inline bool pvmm_irq_available(void)
{
	return pvmm_ring() == 0 || pvmm_irq_available_ring3();
}

/* Interrupts on for the calling CPU: 0, or -1 (nothing done) where they
 * are not available. */
static inline int pvmm_irq_enable(void)
{
	if (pvmm_ring() == 3)
		return pvmm_irq_enable_ring3();
	__asm__ volatile("sti" ::: "memory");
	return 0;
}

static inline void pvmm_irq_disable(void)
{
	if (pvmm_ring() == 3)
		pvmm_irq_disable_ring3();
	else
		__asm__ volatile("cli" ::: "memory");
}

static inline bool pvmm_irq_enabled(void)
{
	if (pvmm_ring() == 3)
		return pvmm_irq_enabled_ring3();
	uint64_t flags;
	__asm__ volatile("pushfq; pop %0" : "=r"(flags));
	return (flags >> 9) & 1;
}

/* Disable interrupts, returning whether they were on; pvmm_irq_restore
 * puts them back as they were. For critical sections shared with a
 * handler. */
static inline bool pvmm_irq_save(void)
{
	bool on = pvmm_irq_enabled();
	if (on)
		pvmm_irq_disable();
	return on;
}

static inline void pvmm_irq_restore(bool enabled)
{
	if (enabled)
		pvmm_irq_enable();
}

#endif /* PVMM_IRQ_H */
