/*
 * Device interrupt handlers: the tables isr.S's irq_common indexes by
 * vector (pin = vector - 32). They start out pointing at a default handler,
 * statically, so nothing runs at boot.
 */
#include <pvmm/irq.h>
#include <pvmm/para_calls.h>
#include <pvmm/smp.h>
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

/* ---- Ring 3: upcalls (para-API 1.4) --------------------------------------
 *
 * One struct pvmm_upcall_info per CPU: `masked` is the CPU's virtual
 * interrupt flag, which the monitor reads before entering the upcall;
 * `pending` collects the pins that came while it was set. Enabling
 * registers the CPU's upcall once (the only exit), then is a store.
 */
static struct pvmm_upcall_info upcall_info[PVMM_MAX_CPUS] __attribute__((aligned(16)));
static bool upcall_registered[PVMM_MAX_CPUS];

void pvmm_upcall_entry(void); /* upcall.S */
void runtime_upcall(uint64_t pin, uint64_t cpu);

static void dispatch(uint64_t pin)
{
	if (pin >= PVMM_IRQ_PINS) {
		pvmm_irq_other++;
		return;
	}
	pvmm_irq_counts[pin]++;
	pvmm_irq_handlers[pin]((unsigned)pin, pvmm_irq_args[pin]);
}

/* With `masked` set: run what is pending, then unmask; again if more came
 * between the last look and the unmask. */
static void drain(struct pvmm_upcall_info *info)
{
	for (;;) {
		uint64_t pins;
		while ((pins = __atomic_exchange_n(&info->pending, 0, __ATOMIC_SEQ_CST)))
			for (unsigned pin = 0; pins; pin++, pins >>= 1)
				if (pins & 1)
					dispatch(pin);
		__atomic_store_n(&info->masked, 0, __ATOMIC_SEQ_CST);
		if (!__atomic_load_n(&info->pending, __ATOMIC_SEQ_CST))
			return;
		__atomic_store_n(&info->masked, 1, __ATOMIC_SEQ_CST);
	}
}

/* Called by upcall.S with `masked` set by the monitor. */
void runtime_upcall(uint64_t pin, uint64_t cpu)
{
	if (cpu >= PVMM_MAX_CPUS)
		runtime_abort("pvmm runtime: upcall for a CPU out of range");
	dispatch(pin);
	drain(&upcall_info[cpu]);
}

/* The calling CPU's info, or NULL off any stack the runtime knows. */
static struct pvmm_upcall_info *this_info(unsigned *cpu_out)
{
	unsigned cpu = pvmm_cpu_id();
	if (cpu >= PVMM_MAX_CPUS)
		return NULL;
	if (cpu_out)
		*cpu_out = cpu;
	return &upcall_info[cpu];
}

bool pvmm_irq_available_ring3(void)
{
	const struct pvmm_boot_info *bi = pvmm_boot_info();
	/* UPCALL is 1.4: an older monitor answers -ENOSYS. */
	return bi && bi->version >= ((PVMM_PARA_VERSION_MAJOR << 16) | 4u);
}

int pvmm_irq_enable_ring3(void)
{
	unsigned cpu;
	struct pvmm_upcall_info *info = this_info(&cpu);
	if (!info || !pvmm_irq_available_ring3())
		return -1;
	if (!upcall_registered[cpu]) {
		/* Masked until registered, so the first interrupt finds the
		 * handlers' state as the caller left it. */
		info->masked = 1;
		_Alignas(8) struct pvmm_upcall_args args = {
			.entry = (uint64_t)(uintptr_t)pvmm_upcall_entry,
			.info = (uint64_t)(uintptr_t)info,
		};
		if (pvmm_hypercall(PVMM_CALL_UPCALL, &args) < 0)
			return -1;
		upcall_registered[cpu] = true;
	}
	drain(info);
	return 0;
}

void pvmm_irq_disable_ring3(void)
{
	struct pvmm_upcall_info *info = this_info(NULL);
	if (info)
		__atomic_store_n(&info->masked, 1, __ATOMIC_SEQ_CST);
}

bool pvmm_irq_enabled_ring3(void)
{
	unsigned cpu;
	struct pvmm_upcall_info *info = this_info(&cpu);
	return info && upcall_registered[cpu] && !__atomic_load_n(&info->masked, __ATOMIC_SEQ_CST);
}
