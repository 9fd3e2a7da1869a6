/*
 * Device interrupt handlers: the tables isr.S's irq_common indexes by
 * vector (pin = vector - 32). They start out pointing at a default handler,
 * statically, so nothing runs at boot.
 */
#include <pvmm/irq.h>
#include "runtime.h"

static void irq_default(unsigned pin, void *arg)
{
	(void)pin;
	(void)arg;
}

/* Read by isr.S; written with interrupts off so that a handler and its
 * argument always change together. */
pvmm_irq_handler pvmm_irq_handlers[PVMM_IRQ_PINS] = {
	[0 ... PVMM_IRQ_PINS - 1] = irq_default,
};
void *pvmm_irq_args[PVMM_IRQ_PINS];
uint64_t pvmm_irq_counts[PVMM_IRQ_PINS];
uint64_t pvmm_irq_other;

int pvmm_irq_register(unsigned pin, pvmm_irq_handler fn, void *arg)
{
	if (pin >= PVMM_IRQ_PINS || !fn)
		return -1;
	bool on = pvmm_irq_save();
	pvmm_irq_handlers[pin] = fn;
	pvmm_irq_args[pin] = arg;
	pvmm_irq_restore(on);
	return 0;
}

void pvmm_irq_unregister(unsigned pin)
{
	if (pin < PVMM_IRQ_PINS)
		pvmm_irq_register(pin, irq_default, NULL);
}

uint64_t pvmm_irq_count(unsigned pin)
{
	return pin < PVMM_IRQ_PINS ? *(volatile uint64_t *)&pvmm_irq_counts[pin] : 0;
}

uint64_t pvmm_irq_other_count(void)
{
	return *(volatile uint64_t *)&pvmm_irq_other;
}
