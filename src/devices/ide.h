/*
 * Emulated IDE/ATA disk: device 0 on the primary channel (command block
 * 0x1f0-0x1f7, control block 0x3f6, IRQ 14), PIO only, on the same raw
 * image backend as virtio-blk. docs/devices.md lists the registers and
 * commands implemented.
 */
#ifndef PVMM_IDE_H
#define PVMM_IDE_H

#include <stdbool.h>
#include <stdint.h>

#include "blk_backend.h"

#define IDE_CMD_BASE 0x1f0
#define IDE_CMD_PORTS 8
#define IDE_CTL_PORT 0x3f6
#define IDE_IRQ 14
#define IDE_MAX_MULTIPLE 16   /* sectors per DRQ block in READ/WRITE MULTIPLE */

typedef void (*ide_irq_fn)(void *ctx, int level);

struct ide_stats {
	uint64_t commands, sectors_read, sectors_written, errors, register_accesses;
};

struct ide;

/* The disk takes over `disk`: closed by ide_destroy, or at once if this
 * fails (NULL), so a caller never closes it itself. */
struct ide *ide_create(struct blk_backend *disk, ide_irq_fn irq, void *irq_ctx);
void ide_destroy(struct ide *ide);

/* Register access, pio_fn shaped: command block (offset 0-7 from 0x1f0)
 * and control block (the single port 0x3f6). */
void ide_cmd_io(void *opaque, uint16_t offset, bool is_write, uint8_t *data, unsigned size);
void ide_ctl_io(void *opaque, uint16_t offset, bool is_write, uint8_t *data, unsigned size);

struct ide_stats ide_stats(struct ide *ide);

/* Snapshot: the task file, the transfer under way (its buffer included)
 * and the interrupt state out to `w`; back from `r` into an IDE disk just
 * created on the same image. ide_load: 0, or -1 if malformed or the
 * image's size changed. */
struct snap_reader;
struct snap_writer;
void ide_save(struct ide *ide, struct snap_writer *w);
int ide_load(struct ide *ide, struct snap_reader *r);

#endif
