/*
 * irqbench N (run with --console uart): what one device interrupt costs
 * the guest, in whichever ring it runs.
 *
 * The emulated UART raises its interrupt as soon as IER enables the
 * "transmit holding register empty" source (the register is empty), and
 * drops it when IER is cleared. So each round is: out IER=2, the interrupt
 * arrives (ring 0: through the runtime's IDT; ring 3: through the
 * monitor's stub and an upcall), the handler writes IER=0. The baseline
 * round is the same two outs with interrupts off. The difference per
 * round is the delivery: one line,
 *   irqbench ring=R n=N ns_per_irq=X ns_per_round=Y ns_per_baseline=Z irqs=K
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <pvmm/guest.h>
#include <pvmm/irq.h>

static uint16_t ier_port;
static volatile uint64_t handled;

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static void uart_irq(unsigned pin, void *arg)
{
	(void)pin;
	(void)arg;
	outb(ier_port, 0);
	handled++;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 0) : 1000;
	const struct pvmm_boot_info *bi = pvmm_boot_info();
	unsigned pin = PVMM_NO_IRQ;

	for (unsigned i = 0; i < bi->device_count; i++)
		if (bi->devices[i].type == PVMM_DEV_UART_16550) {
			ier_port = (uint16_t)(bi->devices[i].mmio_base + 1);
			pin = bi->devices[i].irq;
		}
	if (!ier_port || pin >= PVMM_IRQ_PINS || n == 0) {
		puts("irqbench: needs --console uart (an interrupting UART) and N > 0");
		return 2;
	}

	uint64_t t0 = now_ns();
	for (uint64_t i = 0; i < n; i++) {
		outb(ier_port, 0);
		outb(ier_port, 0);
	}
	uint64_t baseline = now_ns() - t0;

	if (pvmm_irq_register(pin, uart_irq, NULL) || pvmm_irq_enable()) {
		puts("irqbench: interrupts not available");
		return 1;
	}
	t0 = now_ns();
	for (uint64_t i = 0; i < n; i++) {
		uint64_t want = handled + 1;
		outb(ier_port, 2);
		while (handled < want)
			__asm__ volatile("pause");
	}
	uint64_t rounds = now_ns() - t0;
	pvmm_irq_disable();

	printf("irqbench ring=%u n=%llu ns_per_irq=%lld ns_per_round=%llu ns_per_baseline=%llu irqs=%llu\n",
	       pvmm_ring(), (unsigned long long)n, (long long)(rounds / n) - (long long)(baseline / n),
	       (unsigned long long)(rounds / n), (unsigned long long)(baseline / n),
	       (unsigned long long)pvmm_irq_count(pin));
	return 0;
}
