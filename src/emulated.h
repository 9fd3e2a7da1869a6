/*
 * The emulated (fully virtualized) devices of a VM: the 16550A UART and
 * the IDE disk and the NE2000 NIC, put on the VM's port I/O bus, their wires on the irqchip, the
 * UART's input on the I/O thread, and both in the boot info device list.
 */
#ifndef PVMM_EMULATED_H
#define PVMM_EMULATED_H

#include <stdbool.h>
#include <stdio.h>

#include "vm.h"

/* The device types (devices/device.h): uart16550_type, a 16550A at COM1
 * that owns the console (output to the console fd, input from stdin), and
 * ide_type, one IDE disk (primary master) on a raw image, and ne2000_type,
 * one NE2000 NIC on a --net back end. */

void emulated_stats_print(struct vm *vm, FILE *out);
/* One JSON object per emulated device, each preceded by ", " (for a list
 * that already has entries) or nothing if `first`. Returns the count. */
unsigned emulated_stats_print_json(struct vm *vm, FILE *out, bool first);

/* After the I/O thread has stopped. */
void emulated_destroy(struct vm *vm);

/* Snapshot: the UART's and the IDE disk's state (those the VM has), and
 * the UART input read from stdin that it had not taken yet. The VM
 * paused; load into a VM just built with the same devices, before it
 * runs. emulated_load: 0, or -1 after a message. */
struct snap_reader;
struct snap_writer;
/* False while the VM has a device without save support (the NE2000). */
bool emulated_can_save(const struct vm *vm);
void emulated_save(struct vm *vm, struct snap_writer *w);
int emulated_load(struct vm *vm, struct snap_reader *r);

#endif
