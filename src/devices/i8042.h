/*
 * The least of an i8042 keyboard controller a Linux kernel needs (ports
 * 0x60 data, 0x64 status/command): no keyboard behind it, status "empty",
 * and command 0xfe (pulse the CPU's reset line), which is how Linux
 * reboots without ACPI (reboot=k, its default order's first without
 * ACPI). The reset is reported through a callback; what it means is the
 * caller's.
 */
#ifndef PVMM_I8042_H
#define PVMM_I8042_H

#include <stdbool.h>
#include <stdint.h>

#define I8042_DATA_PORT 0x60
#define I8042_CMD_PORT 0x64
#define I8042_CMD_RESET 0xfe

struct i8042 {
	void (*reset)(void *ctx); /* the guest pulsed the reset line */
	void *ctx;
	uint8_t last_command;
	uint64_t accesses;
};

/* One access to the data port (0x60) or the status/command port (0x64),
 * each a one-port region of its own (0x61, between them, is the PIT's
 * speaker port). */
void i8042_data_io(void *opaque, uint16_t offset, bool is_write, uint8_t *data, unsigned size);
void i8042_cmd_io(void *opaque, uint16_t offset, bool is_write, uint8_t *data, unsigned size);

#endif
