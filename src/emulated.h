/*
 * The emulated (fully virtualized) devices of a VM: the 16550A UART and
 * the IDE disk, put on the VM's port I/O bus, their wires on the irqchip, the
 * UART's input on the I/O thread, and both in the boot info device list.
 */
#ifndef PVMM_EMULATED_H
#define PVMM_EMULATED_H

#include <stdbool.h>
#include <stdio.h>

#include "vm.h"

/* The device types (devices/device.h): uart16550_type, a 16550A at COM1
 * that owns the console (output to the console fd, input from stdin), and
 * ide_type, one IDE disk (primary master) on a raw image. */

void emulated_stats_print(struct vm *vm, FILE *out);
/* One JSON object per emulated device, each preceded by ", " (for a list
 * that already has entries) or nothing if `first`. Returns the count. */
unsigned emulated_stats_print_json(struct vm *vm, FILE *out, bool first);

/* After the I/O thread has stopped. */
void emulated_destroy(struct vm *vm);

#endif
