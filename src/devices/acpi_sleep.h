/*
 * The ACPI hardware-reduced sleep registers (ACPI 6.3, 4.8.3.7-8), the
 * only ACPI hardware a --kernel guest has: a sleep control register at
 * ACPI_SLEEP_PORT and a sleep status register at the port after it, both
 * one byte, named by the FADT's SLEEP_CONTROL_REG and SLEEP_STATUS_REG.
 * A control write with SLP_EN set and SLP_TYP = ACPI_SLEEP_S5_TYPE (the
 * DSDT's \_S5) is a soft-off, reported through a callback; what it means
 * is the caller's. There is no other sleep state: any other SLP_EN write
 * "wakes" at once (WAK_STS set), so a kernel polling for the wake sees it.
 * WAK_STS is cleared by writing 1 to it.
 */
#ifndef PVMM_ACPI_SLEEP_H
#define PVMM_ACPI_SLEEP_H

#include <stdbool.h>
#include <stdint.h>

#define ACPI_SLEEP_PORT 0x600 /* control; status at 0x601 */
#define ACPI_SLEEP_PORTS 2
#define ACPI_SLEEP_S5_TYPE 5

#define ACPI_SLP_TYP_SHIFT 2
#define ACPI_SLP_TYP_MASK 0x1c
#define ACPI_SLP_EN 0x20
#define ACPI_WAK_STS 0x80

struct acpi_sleep {
	void (*poweroff)(void *ctx); /* the guest asked for S5 */
	void *ctx;
	uint8_t status; /* the sleep status register */
	uint64_t accesses;
};

/* One access to the two-port region at ACPI_SLEEP_PORT (offset 0
 * control, 1 status); wider accesses are taken a byte at a time. */
void acpi_sleep_io(void *opaque, uint16_t offset, bool is_write, uint8_t *data, unsigned size);

#endif
