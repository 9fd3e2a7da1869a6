/*
 * ATA PIO driver for the emulated IDE disk (primary channel, device 0),
 * behind <pvmm/blk.h>: blk.c calls it for a disk the boot info lists as
 * PVMM_DEV_IDE. It does what a stock PIO driver does on its best path,
 * register by register, each access an exit to the monitor:
 *
 *  - open: IDENTIFY DEVICE (capacity from words 60-61, or 100-103 when
 *    word 83 says LBA48; FLUSH CACHE (EXT) from word 83; the integrity
 *    word checked), then SET MULTIPLE MODE with the largest block the
 *    device offers (word 47, 16 sectors here);
 *  - read/write: the task file (LBA28 when the range fits, else the EXT
 *    command with its HOB bytes first), READ/WRITE MULTIPLE (EXT), one
 *    Alternate Status read for the 400 ns the host must wait before
 *    Status is valid, then per DRQ block: Status until BSY clears (which
 *    also acknowledges INTRQ), ERR/DRQ checked, `rep insw` / `rep outsw`
 *    of the block; the ending Status last;
 *  - FLUSH CACHE EXT (or FLUSH CACHE) and Status until BSY clears.
 *
 * Errors: IDNF -> -BLK_ERANGE, ABRT on a write -> -BLK_EIO and the disk
 * marked read-only (IDENTIFY cannot say so; the monitor refuses writes to
 * a read-only image with ABRT), anything else -> -BLK_EIO; a device that
 * stays BSY or breaks the protocol (no DRQ where data is due) is reset
 * (SRST) and the request fails with -BLK_EIO.
 *
 * Interrupts: polled by default, with nIEN set so the device never
 * interrupts. In interrupt mode (blk_set_mode(BLK_MODE_IRQ)) nIEN is
 * clear and the handler reads Status for each INTRQ, as the ATA protocol
 * has the host do; the driver takes that status instead of polling.
 * The device here is never busy (its I/O is synchronous), so the
 * interrupt is taken right after the access that raised it; if none came
 * the driver polls ("lost interrupt"), as libata does.
 */
#include <string.h>
#include <pvmm/blk.h>
#include <pvmm/guest.h>
#include <pvmm/io.h>
#include <pvmm/irq.h>
#include "runtime.h"

/* Command block registers (offsets from the base) and Device Control. */
#define REG_DATA    0
#define REG_ERROR   1 /* read */
#define REG_COUNT   2
#define REG_LBA_LOW 3
#define REG_LBA_MID 4
#define REG_LBA_HIGH 5
#define REG_DEVICE  6
#define REG_STATUS  7 /* read */
#define REG_COMMAND 7 /* write */
#define CTL_OFFSET  0x206 /* 0x1f0 -> 0x3f6, 0x170 -> 0x376 */

#define ST_ERR  0x01
#define ST_DRQ  0x08
#define ST_DF   0x20
#define ST_DRDY 0x40
#define ST_BSY  0x80
#define ERR_ABRT 0x04
#define ERR_IDNF 0x10
#define ERR_UNC  0x40
#define CTL_NIEN 0x02
#define CTL_SRST 0x04
#define DEV_OBS  0xa0 /* obsolete bits 7 and 5, set by convention */
#define DEV_LBA  0x40

#define CMD_READ_SECTORS      0x20
#define CMD_READ_SECTORS_EXT  0x24
#define CMD_READ_MULTIPLE     0xc4
#define CMD_READ_MULTIPLE_EXT 0x29
#define CMD_WRITE_SECTORS     0x30
#define CMD_WRITE_SECTORS_EXT 0x34
#define CMD_WRITE_MULTIPLE    0xc5
#define CMD_WRITE_MULTIPLE_EXT 0x39
#define CMD_SET_MULTIPLE      0xc6
#define CMD_FLUSH_CACHE       0xe7
#define CMD_FLUSH_CACHE_EXT   0xea
#define CMD_IDENTIFY          0xec

#define LBA28_LIMIT 0x0fffffffull /* 28-bit commands reach sectors below this */
#define MAX_MULTIPLE 16
/* Status reads while BSY before the device counts as hung: ~1 s at
 * ~10 us an exit (BSY is never seen from this monitor's device). */
#define BUSY_SPINS 100000

static inline uint8_t status(const struct ide_disk *d)
{
	return inb(d->cmd + REG_STATUS);
}

/* Poll Status (which acknowledges INTRQ) until BSY clears. */
static int poll_status(struct ide_disk *d, uint8_t *st)
{
	for (unsigned i = 0; i < BUSY_SPINS; i++) {
		uint8_t s = status(d);
		if (!(s & ST_BSY)) {
			*st = s;
			return 0;
		}
	}
	return -BLK_ETIMEDOUT;
}

/* Interrupt mode: the handler reads Status (acknowledging INTRQ) and
 * leaves it for step(). Interrupts that come when no step awaits one are
 * acknowledged and counted only. */
static void ide_irq(unsigned pin, void *arg)
{
	(void)pin;
	struct ide_disk *d = arg;
	d->interrupts++;
	uint8_t s = status(d);
	if (d->irq_expected) {
		d->irq_status = s;
		d->irq_seen = true;
		d->irq_expected = false;
	}
}

/* Before an access that makes the device interrupt (interrupt mode). */
static inline void expect_irq(struct ide_disk *d, bool irq)
{
	if (irq) {
		d->irq_seen = false;
		d->irq_expected = true;
	}
}

/* The status that starts the next protocol step: the interrupt's, or
 * polled. */
static int step(struct ide_disk *d, bool irq, uint8_t *st)
{
	if (irq) {
		d->irq_expected = false;
		if (d->irq_seen && !(d->irq_status & ST_BSY)) {
			*st = d->irq_status;
			return 0;
		}
		d->lost_interrupts++;
	}
	return poll_status(d, st);
}

/* SRST: drop whatever the device was doing; it comes back idle with its
 * signature (and keeps no transfer). */
static void soft_reset(struct ide_disk *d)
{
	uint8_t ctl = d->irq_mode ? 0 : CTL_NIEN;
	d->resets++;
	outb(d->ctl, ctl | CTL_SRST);
	outb(d->ctl, ctl);
	uint8_t st;
	poll_status(d, &st);
}

/* After ERR: what the Error register says, as a -BLK_E*. */
static int ata_error(struct ide_disk *d, bool write)
{
	uint8_t e = inb(d->cmd + REG_ERROR);
	if (e & ERR_IDNF)
		return -BLK_ERANGE;
	if ((e & ERR_ABRT) && write)
		d->readonly = true; /* the monitor's answer to a write to a read-only image */
	return -BLK_EIO;
}

/* A device that stays busy or wants no data where data is due. */
static int protocol_error(struct ide_disk *d)
{
	soft_reset(d);
	return -BLK_EIO;
}

/* Write the task file and the command, then wait the 400 ns before
 * Status is valid (one Alternate Status read, as stock drivers do). */
static void issue(struct ide_disk *d, uint8_t command, uint64_t lba, uint32_t count, bool ext)
{
	uint16_t p = d->cmd;
	if (ext) {
		/* The "previous" (HOB) bytes first: each write pushes the
		 * register's old value into its HOB slot. */
		outb(p + REG_COUNT, (uint8_t)(count >> 8));
		outb(p + REG_LBA_LOW, (uint8_t)(lba >> 24));
		outb(p + REG_LBA_MID, (uint8_t)(lba >> 32));
		outb(p + REG_LBA_HIGH, (uint8_t)(lba >> 40));
	}
	outb(p + REG_COUNT, (uint8_t)count);
	outb(p + REG_LBA_LOW, (uint8_t)lba);
	outb(p + REG_LBA_MID, (uint8_t)(lba >> 8));
	outb(p + REG_LBA_HIGH, (uint8_t)(lba >> 16));
	outb(p + REG_DEVICE, (uint8_t)(DEV_OBS | DEV_LBA | (ext ? 0 : (lba >> 24) & 0x0f)));
	outb(p + REG_COMMAND, command);
	d->commands++;
	(void)inb(d->ctl);
}

/* A command without data: its ending status. */
static int non_data(struct ide_disk *d, uint8_t command, uint32_t count, bool irq)
{
	uint8_t st;
	expect_irq(d, irq);
	outb(d->cmd + REG_COUNT, (uint8_t)count);
	outb(d->cmd + REG_DEVICE, DEV_OBS);
	outb(d->cmd + REG_COMMAND, command);
	d->commands++;
	(void)inb(d->ctl);
	int err = step(d, irq, &st);
	if (err)
		return protocol_error(d);
	if (st & (ST_ERR | ST_DF))
		return ata_error(d, false);
	if (st & ST_DRQ)
		return protocol_error(d);
	return 0;
}

int ide_rw(struct ide_disk *d, bool write, uint64_t lba, void *buf, uint32_t count)
{
	if (count == 0 || count > ide_max_sectors(d))
		return -BLK_EINVAL;
	if (lba >= d->capacity || count > d->capacity - lba)
		return -BLK_ERANGE;
	/* LBA28 when the range fits (fewer register writes), as libata does. */
	bool ext = lba + count > LBA28_LIMIT || count > 256;
	unsigned block = d->multiple ? d->multiple : 1;
	uint8_t command;
	if (d->multiple)
		command = write ? (ext ? CMD_WRITE_MULTIPLE_EXT : CMD_WRITE_MULTIPLE)
				: (ext ? CMD_READ_MULTIPLE_EXT : CMD_READ_MULTIPLE);
	else
		command = write ? (ext ? CMD_WRITE_SECTORS_EXT : CMD_WRITE_SECTORS)
				: (ext ? CMD_READ_SECTORS_EXT : CMD_READ_SECTORS);
	/* Interrupt mode needs interrupts on to see them; otherwise poll. */
	bool irq = d->irq_mode && pvmm_irq_enabled();
	uint8_t *p = buf;
	uint8_t st;
	int err;

	if (!write) {
		/* PIO in: an interrupt before each block's data. */
		expect_irq(d, irq);
		issue(d, command, lba, count, ext);
		while (count) {
			if ((err = step(d, irq, &st)))
				return protocol_error(d);
			if (st & (ST_ERR | ST_DF))
				return ata_error(d, false);
			if (!(st & ST_DRQ))
				return protocol_error(d);
			uint32_t n = count < block ? count : block;
			count -= n;
			expect_irq(d, irq && count); /* the next block's interrupt */
			insw(d->cmd + REG_DATA, p, (size_t)n * (BLK_SECTOR_SIZE / 2));
			p += (size_t)n * BLK_SECTOR_SIZE;
		}
		/* No interrupt after the last block: its ending status. */
		if (poll_status(d, &st))
			return protocol_error(d);
	} else {
		/* PIO out: the first block goes without an interrupt, each
		 * written block raises one. */
		issue(d, command, lba, count, ext);
		if (poll_status(d, &st))
			return protocol_error(d);
		while (count) {
			if (st & (ST_ERR | ST_DF))
				return ata_error(d, true);
			if (!(st & ST_DRQ))
				return protocol_error(d);
			uint32_t n = count < block ? count : block;
			count -= n;
			expect_irq(d, irq);
			outsw(d->cmd + REG_DATA, p, (size_t)n * (BLK_SECTOR_SIZE / 2));
			p += (size_t)n * BLK_SECTOR_SIZE;
			if (step(d, irq, &st))
				return protocol_error(d);
		}
	}
	if (st & (ST_ERR | ST_DF))
		return ata_error(d, write);
	if (st & ST_DRQ)
		return protocol_error(d); /* the device wants more than the command said */
	return 0;
}

int ide_flush(struct ide_disk *d)
{
	if (!d->flush)
		return 0;
	return non_data(d, d->flush_ext ? CMD_FLUSH_CACHE_EXT : CMD_FLUSH_CACHE, 0,
			d->irq_mode && pvmm_irq_enabled());
}

uint32_t ide_max_sectors(const struct ide_disk *d)
{
	return d->lba48 ? 65536 : 256;
}

int ide_set_irq_mode(struct ide_disk *d, bool on)
{
	if (on == d->irq_mode)
		return 0;
	if (on) {
		if (d->pin >= PVMM_IRQ_PINS)
			return -BLK_EUNSUPP;
		pvmm_irq_register(d->pin, ide_irq, d);
		d->irq_mode = true;
		outb(d->ctl, 0); /* nIEN clear: the device may interrupt */
	} else {
		outb(d->ctl, CTL_NIEN);
		d->irq_mode = false;
		pvmm_irq_unregister(d->pin);
	}
	return 0;
}

/* IDENTIFY's integrity word: signature A5h in the low byte of word 255,
 * all 512 bytes summing to 0 mod 256. Bytes are summed in four 16-bit
 * lanes of a 64-bit word, two loads' worth per step: ~400 instructions
 * instead of ~1500 for a byte loop. */
static bool identify_ok(const uint16_t *id)
{
	if ((id[255] & 0xff) != 0xa5)
		return true; /* no integrity word: nothing to check */
	const uint64_t *w = (const uint64_t *)id;
	const uint64_t m = 0x00ff00ff00ff00ffull;
	uint64_t acc = 0;
	for (unsigned i = 0; i < 64; i++)
		acc += (w[i] & m) + ((w[i] >> 8) & m);
	return ((acc + (acc >> 16) + (acc >> 32) + (acc >> 48)) & 0xff) == 0;
}

int ide_open(struct ide_disk *d, const struct pvmm_device_info *info)
{
	if (info->mmio_size < 8 || info->mmio_base + 8 > 0x10000)
		return -BLK_ENODEV;
	memset(d, 0, sizeof(*d));
	d->cmd = (uint16_t)info->mmio_base;
	d->ctl = (uint16_t)(info->mmio_base + CTL_OFFSET);
	d->pin = info->irq;

	outb(d->ctl, CTL_NIEN); /* polled: the device does not interrupt */
	outb(d->cmd + REG_DEVICE, DEV_OBS); /* device 0 */
	uint8_t st = status(d);
	if (st == 0xff || st == 0)
		return -BLK_ENODEV; /* floating bus, or nobody answers */

	/* IDENTIFY DEVICE: one DRQ block of 256 words. */
	_Alignas(8) uint16_t id[256];
	outb(d->cmd + REG_COMMAND, CMD_IDENTIFY);
	d->commands++;
	(void)inb(d->ctl);
	if (poll_status(d, &st) || (st & (ST_ERR | ST_DF)) || !(st & ST_DRQ))
		return -BLK_ENODEV;
	insw(d->cmd + REG_DATA, id, 256);
	if (poll_status(d, &st) || (st & (ST_ERR | ST_DRQ)))
		return -BLK_ENODEV;
	if (!identify_ok(id))
		return -BLK_EIO;
	if (!(id[49] & 0x0200))
		return -BLK_EUNSUPP; /* CHS only: not worth supporting */
	bool w83_valid = (id[83] & 0xc000) == 0x4000;
	d->lba48 = w83_valid && (id[83] & 0x0400);
	if (d->lba48)
		d->capacity = (uint64_t)id[100] | (uint64_t)id[101] << 16 | (uint64_t)id[102] << 32 |
			      (uint64_t)id[103] << 48;
	else
		d->capacity = (uint64_t)id[60] | (uint64_t)id[61] << 16;
	d->flush = w83_valid && (id[83] & 0x1000);
	d->flush_ext = d->flush && d->lba48 && (id[83] & 0x2000);
	for (unsigned i = 0; i < 10; i++) {
		d->serial[2 * i] = (char)(id[10 + i] >> 8);
		d->serial[2 * i + 1] = (char)id[10 + i];
	}

	/* READ/WRITE MULTIPLE with the largest power of two the device takes. */
	unsigned max = id[47] & 0xff;
	unsigned m = MAX_MULTIPLE;
	while (m > max)
		m >>= 1;
	if (m > 1 && non_data(d, CMD_SET_MULTIPLE, m, false) == 0)
		d->multiple = m;
	return d->capacity ? 0 : -BLK_ENODEV;
}
