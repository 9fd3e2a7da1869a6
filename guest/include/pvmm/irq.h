/*
 * Device interrupts for pvmm guests (para-API 1.1).
 *
 * The monitor routes IOAPIC pin n, edge-triggered, to vector 32 + n; a
 * virtio device's pin is its boot info `irq` (pins 16..23 today). The
 * runtime's IDT has a stub for every pin 0..23: it saves the caller-saved
 * registers, calls the handler registered for the pin (with interrupts
 * off, on the current stack), writes the local APIC EOI and returns. Pins
 * without a handler are counted and acknowledged.
 *
 * Interrupts are off at boot. pvmm_irq_enable() turns them on for the
 * whole guest; at ring 3 (`pvmm run --ring 3`) it fails with -1 instead,
 * because a deprivileged guest gets no interrupts (yet). A guest that prefers polling leaves them off and waits with
 * the para-API POLL; POLL works with interrupts on too: an interrupt that
 * became pending while the vCPU slept in the monitor is taken when it
 * resumes.
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

/* At ring 3 interrupts are not available (sti and cli are privileged and
 * the monitor delivers none): IF stays clear, pvmm_irq_enable() fails and
 * drivers wait with the para-API POLL. */
static inline bool pvmm_irq_available(void)
{
	return pvmm_ring() == 0;
}

/* RFLAGS.IF on for the whole guest: 0, or -1 (nothing done) at ring 3. */
static inline int pvmm_irq_enable(void)
{
	if (!pvmm_irq_available())
		return -1;
	__asm__ volatile("sti" ::: "memory");
	return 0;
}

/* RFLAGS.IF off (at ring 3 it is never on: nothing to do). */
static inline void pvmm_irq_disable(void)
{
	if (pvmm_irq_available())
		__asm__ volatile("cli" ::: "memory");
}

static inline bool pvmm_irq_enabled(void)
{
	uint64_t flags;
	__asm__ volatile("pushfq; pop %0" : "=r"(flags));
	return (flags >> 9) & 1;
}

/* Disable interrupts, returning whether they were on; pvmm_irq_restore
 * puts IF back as it was. For critical sections shared with a handler.
 * With IF already clear (always, at ring 3) there is no cli to run. */
static inline bool pvmm_irq_save(void)
{
	bool on = pvmm_irq_enabled();
	if (on)
		__asm__ volatile("cli" ::: "memory");
	return on;
}

static inline void pvmm_irq_restore(bool enabled)
{
	if (enabled)
		__asm__ volatile("sti" ::: "memory");
}

#endif /* PVMM_IRQ_H */
