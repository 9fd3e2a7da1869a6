#include "i8042.h"

#include <string.h>

/* Status: nothing to read, ready for a command; "system flag" set (the
 * self-test passed at power-on), as a PC's controller says after POST. */
#define STATUS_SYSTEM 0x04

void i8042_data_io(void *opaque, uint16_t offset, bool is_write, uint8_t *data, unsigned size)
{
	struct i8042 *k = opaque;
	(void)offset;
	__atomic_add_fetch(&k->accesses, 1, __ATOMIC_RELAXED);
	if (!is_write)
		memset(data, 0, size); /* no keyboard: nothing was ever sent */
}

void i8042_cmd_io(void *opaque, uint16_t offset, bool is_write, uint8_t *data, unsigned size)
{
	struct i8042 *k = opaque;
	(void)offset;
	__atomic_add_fetch(&k->accesses, 1, __ATOMIC_RELAXED);
	if (!is_write) {
		memset(data, 0, size);
		data[0] = STATUS_SYSTEM;
		return;
	}
	k->last_command = data[0];
	if (data[0] == I8042_CMD_RESET && k->reset)
		k->reset(k->ctx);
}
