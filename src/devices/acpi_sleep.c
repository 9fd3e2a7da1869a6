#include "acpi_sleep.h"

#include <string.h>

static void control_write(struct acpi_sleep *s, uint8_t v)
{
	if (!(v & ACPI_SLP_EN))
		return;
	if (((v & ACPI_SLP_TYP_MASK) >> ACPI_SLP_TYP_SHIFT) == ACPI_SLEEP_S5_TYPE) {
		if (s->poweroff)
			s->poweroff(s->ctx);
		return;
	}
	/* A state pvmm does not have: back at once, as after a wake event. */
	__atomic_or_fetch(&s->status, ACPI_WAK_STS, __ATOMIC_SEQ_CST);
}

void acpi_sleep_io(void *opaque, uint16_t offset, bool is_write, uint8_t *data, unsigned size)
{
	struct acpi_sleep *s = opaque;

	__atomic_add_fetch(&s->accesses, 1, __ATOMIC_RELAXED);
	for (unsigned i = 0; i < size; i++) {
		unsigned reg = offset + i;
		if (!is_write) {
			/* The control register reads as 0: SLP_EN is write-only. */
			data[i] = reg == 1 ? __atomic_load_n(&s->status, __ATOMIC_SEQ_CST) : reg == 0 ? 0 : 0xff;
		} else if (reg == 0) {
			control_write(s, data[i]);
		} else if (reg == 1 && (data[i] & ACPI_WAK_STS)) {
			__atomic_and_fetch(&s->status, (uint8_t)~ACPI_WAK_STS, __ATOMIC_SEQ_CST); /* write 1 to clear */
		}
	}
}
