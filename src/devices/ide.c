/*
 * ATA register model (ATA/ATAPI-8 subset), device 0 only.
 *
 * Disk I/O is synchronous: a command's data is ready when the guest next
 * reads the status register, so BSY is never seen and the number of
 * exits per operation does not depend on host timing (the point of this
 * device is to count them). INTRQ is asserted per DRQ block and on
 * completion, cleared by reading Status or writing Command, and gated by
 * Device Control nIEN.
 *
 * The write cache is the host page cache. With it on (the power-on
 * default) a write completes once the host has the data and FLUSH CACHE
 * makes it stable; SET FEATURES 82h turns it off, after flushing, and
 * from then on every write is write-through (RWF_DSYNC), until 02h.
 *
 * Every guest mistake has a defined answer: a command written while a
 * transfer is in progress aborts both (ERR, ABRT); an address or count
 * past the end of the disk is IDNF; an unknown command is ABRT; data port
 * access with no transfer reads 0xffff and writes vanish.
 */
#include "devices/ide.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "snapshot_format.h"

/* Command block registers. */
enum { REG_DATA = 0, REG_ERROR_FEATURE = 1, REG_COUNT = 2, REG_LBA_LOW = 3, REG_LBA_MID = 4,
       REG_LBA_HIGH = 5, REG_DEVICE = 6, REG_STATUS_COMMAND = 7 };

#define ST_ERR  0x01
#define ST_DRQ  0x08
#define ST_DSC  0x10
#define ST_DRDY 0x40
#define ST_BSY  0x80
#define ERR_ABRT 0x04
#define ERR_IDNF 0x10
#define ERR_UNC  0x40
#define DEV_LBA  0x40
#define DEV_DEV1 0x10
#define CTL_NIEN 0x02
#define CTL_SRST 0x04
#define CTL_HOB  0x80

/* Geometry reported for CHS addressing. */
#define CHS_HEADS 16
#define CHS_SPT 63
#define CHS_MAX_CYLINDERS 16383
#define LBA28_MAX 0x0fffffffull
#define LBA48_MAX (1ull << 48)

enum xfer { XFER_NONE, XFER_READ, XFER_WRITE, XFER_IDENTIFY };

struct ide {
	pthread_mutex_t lock;
	struct blk_backend *disk;
	uint64_t sectors;
	ide_irq_fn irq;
	void *irq_ctx;
	int irq_level;
	bool irq_pending;

	/* Task file. The count and LBA registers are two deep for LBA48:
	 * a write pushes the current value into the "previous" (HOB) slot. */
	uint8_t feature, error, device, status, control;
	uint8_t count[2], lba_low[2], lba_mid[2], lba_high[2]; /* [0] current, [1] previous */
	bool in_reset;
	unsigned multiple;      /* SET MULTIPLE MODE sectors per block, 0 = off */
	bool write_cache;       /* off: writes complete only once stable */

	/* The transfer in progress. */
	enum xfer xfer;
	uint64_t lba;           /* next sector to transfer */
	uint32_t remaining;     /* sectors still to transfer, current block included */
	unsigned block;         /* sectors per DRQ block for this command */
	unsigned pos, len;      /* bytes used / valid in buf */
	uint8_t buf[IDE_MAX_MULTIPLE * BLK_SECTOR_SIZE];

	struct ide_stats stats;
};

static void update_irq(struct ide *ide)
{
	int level = ide->irq_pending && !(ide->control & CTL_NIEN);
	if (level != ide->irq_level) {
		ide->irq_level = level;
		if (ide->irq)
			ide->irq(ide->irq_ctx, level);
	}
}

static void raise_irq(struct ide *ide)
{
	ide->irq_pending = true;
}

static void finish_ok(struct ide *ide)
{
	ide->xfer = XFER_NONE;
	ide->status = ST_DRDY | ST_DSC;
	ide->error = 0;
}

static void finish_error(struct ide *ide, uint8_t error)
{
	ide->xfer = XFER_NONE;
	ide->status = ST_DRDY | ST_DSC | ST_ERR;
	ide->error = error;
	ide->stats.errors++;
	raise_irq(ide);
}

/* One synchronous backend operation on the disk. */
struct sync_io {
	int result;
	bool done;
};

static void sync_done(struct blk_io *io, int result)
{
	struct sync_io *s = io->opaque;
	s->result = result;
	s->done = true;
}

static int disk_io(struct ide *ide, enum blk_op op, uint64_t lba, void *buf, unsigned sectors)
{
	struct sync_io s = { 0 };
	struct iovec iov = { buf, (size_t)sectors * BLK_SECTOR_SIZE };
	struct blk_io io = {
		.op = op, .offset = lba * BLK_SECTOR_SIZE, .iov = &iov, .iovcnt = op == BLK_OP_FLUSH ? 0 : 1,
		.dsync = op == BLK_OP_WRITE && !ide->write_cache,
		.done = sync_done, .opaque = &s,
	};
	blk_submit(ide->disk, &io);
	blk_kick(ide->disk);
	blk_drain(ide->disk);
	return s.done ? s.result : -EIO;
}

/* Put an ATA string (space padded, bytes swapped within each word) at word `w`. */
static void id_string(uint16_t *id, unsigned w, unsigned words, const char *text)
{
	size_t len = strlen(text);
	for (unsigned i = 0; i < words * 2; i++) {
		uint8_t c = i < len ? (uint8_t)text[i] : ' ';
		if (i & 1)
			id[w + i / 2] |= c;
		else
			id[w + i / 2] = (uint16_t)(c << 8);
	}
}

static void build_identify(struct ide *ide)
{
	uint16_t id[256] = { 0 };
	uint64_t lba28 = ide->sectors < LBA28_MAX ? ide->sectors : LBA28_MAX;
	uint64_t cyls = ide->sectors / (CHS_HEADS * CHS_SPT);
	char serial[21];

	if (cyls > CHS_MAX_CYLINDERS)
		cyls = CHS_MAX_CYLINDERS;
	if (blk_serial(ide->disk))
		snprintf(serial, sizeof(serial), "%s", blk_serial(ide->disk));
	else
		snprintf(serial, sizeof(serial), "PVMM%016llx", (unsigned long long)blk_fingerprint(ide->disk));

	id[0] = 0x0040;                 /* fixed ATA device */
	id[1] = (uint16_t)cyls;
	id[3] = CHS_HEADS;
	id[6] = CHS_SPT;
	id_string(id, 10, 10, serial);
	id_string(id, 23, 4, "0.1");
	id_string(id, 27, 20, "pvmm emulated ATA disk");
	id[47] = 0x8000 | IDE_MAX_MULTIPLE;
	id[49] = 0x0200;                /* LBA; no DMA */
	id[50] = 0x4000;
	id[53] = 0x0003;                /* words 54-58 and 64-70 valid */
	id[54] = (uint16_t)cyls;
	id[55] = CHS_HEADS;
	id[56] = CHS_SPT;
	uint32_t chs_capacity = (uint32_t)(cyls * CHS_HEADS * CHS_SPT);
	id[57] = (uint16_t)chs_capacity;
	id[58] = (uint16_t)(chs_capacity >> 16);
	id[59] = (uint16_t)(ide->multiple ? 0x0100 | ide->multiple : 0);
	id[60] = (uint16_t)lba28;
	id[61] = (uint16_t)(lba28 >> 16);
	id[64] = 0x0003;                /* PIO modes 3 and 4 */
	id[65] = id[66] = id[67] = id[68] = 120;
	id[80] = 0x00f0;                /* ATA/ATAPI-4 to -7 */
	id[82] = 0x4020;                /* NOP, write cache supported */
	id[83] = 0x7400;                /* FLUSH CACHE (EXT), LBA48 */
	id[84] = 0x4000;
	id[85] = (uint16_t)(0x4000 | (ide->write_cache ? 0x0020 : 0)); /* write cache enabled */
	id[86] = 0x3400;
	id[87] = 0x4000;
	for (unsigned i = 0; i < 4; i++)
		id[100 + i] = (uint16_t)(ide->sectors >> (16 * i));
	id[106] = 0x4000;               /* 512-byte sectors, one per physical */

	/* Integrity word: signature A5h, and a checksum making all bytes sum to 0. */
	memcpy(ide->buf, id, sizeof(id));
	ide->buf[510] = 0xa5;
	uint8_t sum = 0;
	for (unsigned i = 0; i < 511; i++)
		sum = (uint8_t)(sum + ide->buf[i]);
	ide->buf[511] = (uint8_t)-sum;
}

/* The command's starting sector from the task file, or false (IDNF). */
static bool command_lba(struct ide *ide, bool lba48, uint64_t *lba)
{
	if (lba48) {
		*lba = (uint64_t)ide->lba_low[0] | (uint64_t)ide->lba_mid[0] << 8 |
		       (uint64_t)ide->lba_high[0] << 16 | (uint64_t)ide->lba_low[1] << 24 |
		       (uint64_t)ide->lba_mid[1] << 32 | (uint64_t)ide->lba_high[1] << 40;
		return true;
	}
	if (ide->device & DEV_LBA) {
		*lba = (uint64_t)ide->lba_low[0] | (uint64_t)ide->lba_mid[0] << 8 |
		       (uint64_t)ide->lba_high[0] << 16 | (uint64_t)(ide->device & 0x0f) << 24;
		return true;
	}
	/* CHS: cylinder in mid/high, head in the device register, sector from 1. */
	uint64_t cyl = (uint64_t)ide->lba_mid[0] | (uint64_t)ide->lba_high[0] << 8;
	unsigned head = ide->device & 0x0f, sector = ide->lba_low[0];
	if (sector == 0 || sector > CHS_SPT)
		return false;
	*lba = (cyl * CHS_HEADS + head) * CHS_SPT + (sector - 1);
	return true;
}

/* Load the next DRQ block of a read, or finish the write side's block. */
static void start_block(struct ide *ide)
{
	unsigned n = ide->remaining < ide->block ? ide->remaining : ide->block;
	ide->pos = 0;
	ide->len = n * BLK_SECTOR_SIZE;
	if (ide->xfer == XFER_READ) {
		if (disk_io(ide, BLK_OP_READ, ide->lba, ide->buf, n) < 0) {
			finish_error(ide, ERR_UNC);
			return;
		}
		ide->stats.sectors_read += n;
		raise_irq(ide); /* PIO in: an interrupt per block, before its data */
	}
	ide->status = ST_DRDY | ST_DSC | ST_DRQ;
}

static void start_transfer(struct ide *ide, enum xfer xfer, bool lba48, bool multiple)
{
	uint64_t lba;
	uint32_t count = lba48 ? ((uint32_t)ide->count[1] << 8 | ide->count[0]) : ide->count[0];

	if (count == 0)
		count = lba48 ? 65536 : 256;
	if (multiple && !ide->multiple) {
		finish_error(ide, ERR_ABRT); /* READ/WRITE MULTIPLE before SET MULTIPLE MODE */
		return;
	}
	/* 28-bit commands reach only the 0FFFFFFFh sectors IDENTIFY words 60-61 report. */
	uint64_t limit = lba48 || ide->sectors < LBA28_MAX ? ide->sectors : LBA28_MAX;
	if (!command_lba(ide, lba48, &lba) || lba >= limit || count > limit - lba) {
		finish_error(ide, ERR_IDNF);
		return;
	}
	if (xfer == XFER_WRITE && blk_readonly(ide->disk)) {
		finish_error(ide, ERR_ABRT);
		return;
	}
	ide->xfer = xfer;
	ide->lba = lba;
	ide->remaining = count;
	ide->block = multiple ? ide->multiple : 1;
	start_block(ide); /* PIO out: the first block needs no interrupt */
}

static void flush(struct ide *ide)
{
	if (disk_io(ide, BLK_OP_FLUSH, 0, NULL, 0) < 0)
		finish_error(ide, ERR_UNC); /* the host could not make the data stable */
	else {
		finish_ok(ide);
		raise_irq(ide);
	}
}

/* SET FEATURES 02h / 82h. Turning the cache off first makes what it holds
 * stable: the guest may count on every completed write being so now. */
static void set_write_cache(struct ide *ide, bool on)
{
	if (!on && ide->write_cache && disk_io(ide, BLK_OP_FLUSH, 0, NULL, 0) < 0) {
		finish_error(ide, ERR_ABRT); /* still on, as IDENTIFY keeps saying */
		return;
	}
	ide->write_cache = on;
	finish_ok(ide);
	raise_irq(ide);
}

static void reset_device(struct ide *ide)
{
	ide->xfer = XFER_NONE;
	ide->irq_pending = false;
	/* The ATA signature: count 1, LBA 1/0/0, diagnostic "device 0 passed". */
	ide->count[0] = 1;
	ide->lba_low[0] = 1;
	ide->lba_mid[0] = 0;
	ide->lba_high[0] = 0;
	ide->device = 0;
	ide->error = 0x01;
	ide->status = ST_DRDY | ST_DSC;
}

static void execute(struct ide *ide, uint8_t command)
{
	ide->stats.commands++;
	switch (command) {
	case 0xec: /* IDENTIFY DEVICE */
		build_identify(ide);
		ide->xfer = XFER_IDENTIFY;
		ide->remaining = 1;
		ide->block = 1;
		ide->pos = 0;
		ide->len = BLK_SECTOR_SIZE;
		ide->status = ST_DRDY | ST_DSC | ST_DRQ;
		raise_irq(ide);
		break;
	case 0x20: case 0x21: start_transfer(ide, XFER_READ, false, false); break;   /* READ SECTORS */
	case 0x24: start_transfer(ide, XFER_READ, true, false); break;               /* READ SECTORS EXT */
	case 0xc4: start_transfer(ide, XFER_READ, false, true); break;               /* READ MULTIPLE */
	case 0x29: start_transfer(ide, XFER_READ, true, true); break;                /* READ MULTIPLE EXT */
	case 0x30: case 0x31: start_transfer(ide, XFER_WRITE, false, false); break;  /* WRITE SECTORS */
	case 0x34: start_transfer(ide, XFER_WRITE, true, false); break;              /* WRITE SECTORS EXT */
	case 0xc5: start_transfer(ide, XFER_WRITE, false, true); break;              /* WRITE MULTIPLE */
	case 0x39: start_transfer(ide, XFER_WRITE, true, true); break;               /* WRITE MULTIPLE EXT */
	case 0xe7: case 0xea: flush(ide); break;                                     /* FLUSH CACHE (EXT) */
	case 0xc6: /* SET MULTIPLE MODE: a power of two up to IDE_MAX_MULTIPLE, or 0 to turn off */
		if (ide->count[0] > IDE_MAX_MULTIPLE || (ide->count[0] & (ide->count[0] - 1))) {
			finish_error(ide, ERR_ABRT);
		} else {
			ide->multiple = ide->count[0];
			finish_ok(ide);
			raise_irq(ide);
		}
		break;
	case 0xef: /* SET FEATURES: write cache on/off, and transfer mode accepted */
		if (ide->feature == 0x02 || ide->feature == 0x82) {
			set_write_cache(ide, ide->feature == 0x02);
		} else if (ide->feature == 0x03) {
			finish_ok(ide);
			raise_irq(ide);
		} else {
			finish_error(ide, ERR_ABRT);
		}
		break;
	case 0x91: /* INITIALIZE DEVICE PARAMETERS: our geometry is fixed */
	case 0x10: /* RECALIBRATE */
	case 0xe0: case 0xe1: case 0xe2: case 0xe3: /* STANDBY/IDLE (IMMEDIATE) */
		finish_ok(ide);
		raise_irq(ide);
		break;
	case 0x90: /* EXECUTE DEVICE DIAGNOSTIC: the reset signature, "device 0 passed" */
		reset_device(ide);
		raise_irq(ide);
		break;
	case 0xe5: /* CHECK POWER MODE: active */
		ide->count[0] = 0xff;
		finish_ok(ide);
		raise_irq(ide);
		break;
	default: /* NOP, DEVICE RESET (ATAPI only) and everything else */
		finish_error(ide, ERR_ABRT);
		break;
	}
}

static void write_command(struct ide *ide, uint8_t command)
{
	ide->irq_pending = false; /* writing Command clears INTRQ */
	if (ide->device & DEV_DEV1)
		return;           /* no device 1: nobody answers */
	if (ide->in_reset)
		return;
	if (ide->status & ST_DRQ) {
		/* A new command in the middle of a transfer: abort both. */
		finish_error(ide, ERR_ABRT);
		return;
	}
	execute(ide, command);
}

/* Data port: one 16-bit word of the current DRQ block. */
static uint16_t data_read(struct ide *ide)
{
	if (!(ide->status & ST_DRQ) || (ide->xfer != XFER_READ && ide->xfer != XFER_IDENTIFY))
		return 0xffff;
	uint16_t word = (uint16_t)(ide->buf[ide->pos] | ide->buf[ide->pos + 1] << 8);
	ide->pos += 2;
	if (ide->pos == ide->len) {
		unsigned n = ide->len / BLK_SECTOR_SIZE;
		ide->remaining -= n;
		ide->lba += n;
		if (ide->remaining && ide->xfer == XFER_READ)
			start_block(ide);
		else
			finish_ok(ide);
	}
	return word;
}

static void data_write(struct ide *ide, uint16_t word)
{
	if (!(ide->status & ST_DRQ) || ide->xfer != XFER_WRITE)
		return;
	ide->buf[ide->pos] = (uint8_t)word;
	ide->buf[ide->pos + 1] = (uint8_t)(word >> 8);
	ide->pos += 2;
	if (ide->pos < ide->len)
		return;
	unsigned n = ide->len / BLK_SECTOR_SIZE;
	if (disk_io(ide, BLK_OP_WRITE, ide->lba, ide->buf, n) < 0) {
		finish_error(ide, ERR_UNC);
		return;
	}
	ide->stats.sectors_written += n;
	ide->remaining -= n;
	ide->lba += n;
	raise_irq(ide); /* PIO out: an interrupt after each block */
	if (ide->remaining)
		start_block(ide);
	else
		finish_ok(ide);
}

static uint8_t status_value(const struct ide *ide)
{
	if (ide->device & DEV_DEV1)
		return 0; /* device 0 answers for an absent device 1 with 00h */
	return ide->in_reset ? ST_BSY : ide->status;
}

/* Write a count/LBA register: the old value becomes the "previous" one. */
static void push_reg(uint8_t reg[2], uint8_t value)
{
	reg[1] = reg[0];
	reg[0] = value;
}

static uint8_t pick(const struct ide *ide, const uint8_t reg[2])
{
	return reg[(ide->control & CTL_HOB) ? 1 : 0];
}

void ide_cmd_io(void *opaque, uint16_t offset, bool is_write, uint8_t *data, unsigned size)
{
	struct ide *ide = opaque;

	pthread_mutex_lock(&ide->lock);
	ide->stats.register_accesses++;
	if (offset == REG_DATA) {
		/* 16-bit PIO; a 32-bit access moves two words; bytes are not a transfer unit. */
		for (unsigned i = 0; i + 2 <= size; i += 2) {
			if (is_write) {
				data_write(ide, (uint16_t)(data[i] | data[i + 1] << 8));
			} else {
				uint16_t w = data_read(ide);
				data[i] = (uint8_t)w;
				data[i + 1] = (uint8_t)(w >> 8);
			}
		}
		if (size == 1 && !is_write)
			data[0] = 0xff;
	} else if (is_write) {
		uint8_t v = data[0];
		ide->control &= (uint8_t)~CTL_HOB; /* any command block write clears HOB */
		switch (offset) {
		case REG_ERROR_FEATURE: ide->feature = v; break;
		case REG_COUNT: push_reg(ide->count, v); break;
		case REG_LBA_LOW: push_reg(ide->lba_low, v); break;
		case REG_LBA_MID: push_reg(ide->lba_mid, v); break;
		case REG_LBA_HIGH: push_reg(ide->lba_high, v); break;
		case REG_DEVICE: ide->device = v; break;
		default: write_command(ide, v); break;
		}
	} else {
		uint8_t v;
		switch (offset) {
		case REG_ERROR_FEATURE: v = ide->error; break;
		case REG_COUNT: v = pick(ide, ide->count); break;
		case REG_LBA_LOW: v = pick(ide, ide->lba_low); break;
		case REG_LBA_MID: v = pick(ide, ide->lba_mid); break;
		case REG_LBA_HIGH: v = pick(ide, ide->lba_high); break;
		case REG_DEVICE: v = ide->device | 0xa0; break; /* obsolete bits read as 1 */
		default:
			v = status_value(ide);
			ide->irq_pending = false; /* reading Status acknowledges INTRQ */
			break;
		}
		data[0] = v;
		for (unsigned i = 1; i < size; i++)
			data[i] = 0xff;
	}
	update_irq(ide);
	pthread_mutex_unlock(&ide->lock);
}

void ide_ctl_io(void *opaque, uint16_t offset, bool is_write, uint8_t *data, unsigned size)
{
	struct ide *ide = opaque;
	(void)offset;

	pthread_mutex_lock(&ide->lock);
	ide->stats.register_accesses++;
	if (is_write) {
		uint8_t v = data[0];
		bool was_reset = ide->control & CTL_SRST;
		ide->control = v & (CTL_NIEN | CTL_SRST | CTL_HOB);
		if (v & CTL_SRST) {
			/* Held in reset: nothing moves, nothing interrupts. */
			ide->in_reset = true;
			ide->xfer = XFER_NONE;
			ide->status &= (uint8_t)~ST_DRQ;
			ide->irq_pending = false;
		} else if (was_reset) {
			ide->in_reset = false; /* SRST released: the reset completes */
			reset_device(ide);
		}
	} else {
		data[0] = status_value(ide); /* Alternate Status: no INTRQ side effect */
		for (unsigned i = 1; i < size; i++)
			data[i] = 0xff;
	}
	update_irq(ide);
	pthread_mutex_unlock(&ide->lock);
}

struct ide_stats ide_stats(struct ide *ide)
{
	pthread_mutex_lock(&ide->lock);
	struct ide_stats s = ide->stats;
	pthread_mutex_unlock(&ide->lock);
	return s;
}

struct ide *ide_create(struct blk_backend *disk, ide_irq_fn irq, void *irq_ctx)
{
	struct ide *ide = calloc(1, sizeof(*ide));
	if (!ide) {
		blk_close(disk); /* ours even on failure: the caller has nothing to undo */
		return NULL;
	}
	pthread_mutex_init(&ide->lock, NULL);
	ide->disk = disk;
	ide->sectors = blk_size(disk) / BLK_SECTOR_SIZE;
	ide->irq = irq;
	ide->irq_ctx = irq_ctx;
	ide->write_cache = true;
	reset_device(ide);
	return ide;
}

void ide_destroy(struct ide *ide)
{
	if (!ide)
		return;
	blk_close(ide->disk);
	pthread_mutex_destroy(&ide->lock);
	free(ide);
}


void ide_save(struct ide *ide, struct snap_writer *w)
{
	pthread_mutex_lock(&ide->lock);
	snap_put_u64(w, ide->sectors);
	const uint8_t tf[13] = { ide->feature, ide->error, ide->device, ide->status, ide->control,
				 ide->count[0], ide->count[1], ide->lba_low[0], ide->lba_low[1],
				 ide->lba_mid[0], ide->lba_mid[1], ide->lba_high[0], ide->lba_high[1] };
	snap_put(w, tf, sizeof(tf));
	snap_put_u32(w, (uint32_t)ide->in_reset | (uint32_t)ide->write_cache << 1 | (uint32_t)ide->irq_pending << 2 |
				(uint32_t)(ide->irq_level != 0) << 3);
	snap_put_u32(w, ide->multiple);
	snap_put_u32(w, ide->xfer);
	snap_put_u64(w, ide->lba);
	snap_put_u32(w, ide->remaining);
	snap_put_u32(w, ide->block);
	snap_put_u32(w, ide->pos);
	snap_put_u32(w, ide->len);
	snap_put(w, ide->buf, sizeof(ide->buf));
	pthread_mutex_unlock(&ide->lock);
}

int ide_load(struct ide *ide, struct snap_reader *r)
{
	uint64_t sectors = snap_get_u64(r);
	uint8_t tf[13];
	snap_get(r, tf, sizeof(tf));
	uint32_t flags = snap_get_u32(r), multiple = snap_get_u32(r), xfer = snap_get_u32(r);
	uint64_t lba = snap_get_u64(r);
	uint32_t remaining = snap_get_u32(r), block = snap_get_u32(r), pos = snap_get_u32(r), len = snap_get_u32(r);
	if (r->bad || xfer > XFER_IDENTIFY || multiple > IDE_MAX_MULTIPLE || block > IDE_MAX_MULTIPLE ||
	    len > sizeof(ide->buf) || pos > len)
		return -1;
	pthread_mutex_lock(&ide->lock);
	if (sectors != ide->sectors) {
		pthread_mutex_unlock(&ide->lock);
		return -1;
	}
	snap_get(r, ide->buf, sizeof(ide->buf));
	ide->feature = tf[0], ide->error = tf[1], ide->device = tf[2], ide->status = tf[3], ide->control = tf[4];
	ide->count[0] = tf[5], ide->count[1] = tf[6], ide->lba_low[0] = tf[7], ide->lba_low[1] = tf[8];
	ide->lba_mid[0] = tf[9], ide->lba_mid[1] = tf[10], ide->lba_high[0] = tf[11], ide->lba_high[1] = tf[12];
	ide->in_reset = flags & 1;
	ide->write_cache = flags & 2;
	ide->irq_pending = flags & 4;
	ide->irq_level = (flags & 8) ? 1 : 0;
	ide->multiple = multiple;
	ide->xfer = (enum xfer)xfer;
	ide->lba = lba;
	ide->remaining = remaining;
	ide->block = block;
	ide->pos = pos;
	ide->len = len;
	pthread_mutex_unlock(&ide->lock);
	return r->bad ? -1 : 0;
}
