/*
 * The IDE/ATA disk model (docs/devices.md) under register sequences a
 * stock driver would not make: run with `--disk IMAGE --disk-model ide`.
 * The runtime's driver opens the disk first (IDENTIFY, SET MULTIPLE 16,
 * nIEN set); then each case pokes the task file directly and prints what
 * it read as `name key=0xVALUE ...`. Each case starts from a settled
 * device (CHECK POWER MODE: Status 50h, Error 00h). At the end the disk
 * goes back to the driver, which must still read and write through
 * <pvmm/blk.h>: "after read=0 (OK) pattern=1 write=0 (OK) readback=1",
 * then "ide_hostile ok", exit 0.
 *
 * The image's sectors 0..7 must hold pattern H (64 copies of
 * printf 'H%06u\n' SECTOR each, as tests/guests/blk_rw.c makes them);
 * sector 5 must still hold it afterwards (the aborted write), sector 100
 * holds pattern W afterwards.
 *
 *   drq_abort       a command while a read's DRQ is pending
 *   write_abort     a command in the middle of a write's data block
 *   past_end        LBA28 read at the capacity, and straddling it; a write
 *   lba48_overflow  EXT reads whose count runs past the end
 *   features        reading the write-only Features register
 *   no_transfer     data port reads/writes with no transfer
 *   device1         everything addressed to the absent device 1
 *   unknown         NOP, DEVICE RESET, an unassigned code
 *   multiple        bad SET MULTIPLE sizes; READ MULTIPLE with it off
 *   chs0            CHS sector 0
 *   hob             the two-deep count/LBA registers read with HOB
 *   srst            soft reset: BSY while held, then the signature
 *   srst_transfer   soft reset in the middle of a read
 */
#include <stdio.h>
#include <string.h>
#include <pvmm/blk.h>
#include <pvmm/guest.h>
#include <pvmm/io.h>

#define DATA 0
#define ERROR 1
#define FEATURES 1
#define COUNT 2
#define LBAL 3
#define LBAM 4
#define LBAH 5
#define DEVICE 6
#define STATUS 7
#define COMMAND 7

static uint16_t base, ctl;
static uint64_t capacity;

static uint8_t rd(unsigned reg) { return inb((uint16_t)(base + reg)); }
static void wr(unsigned reg, uint8_t v) { outb((uint16_t)(base + reg), v); }
static uint8_t alt(void) { return inb(ctl); }

/* A good non-data command: the device ends up idle, Status 50h, Error 0. */
static void settle(void)
{
	wr(DEVICE, 0xa0);
	wr(COMMAND, 0xe5); /* CHECK POWER MODE */
	(void)rd(STATUS);
}

/* LBA28 task file and command. */
static void cmd28(uint8_t command, uint32_t lba, uint8_t count)
{
	wr(COUNT, count);
	wr(LBAL, (uint8_t)lba);
	wr(LBAM, (uint8_t)(lba >> 8));
	wr(LBAH, (uint8_t)(lba >> 16));
	wr(DEVICE, (uint8_t)(0xe0 | ((lba >> 24) & 0x0f)));
	wr(COMMAND, command);
}

/* LBA48 task file (previous bytes first) and command. */
static void cmd48(uint8_t command, uint64_t lba, uint16_t count)
{
	wr(COUNT, (uint8_t)(count >> 8));
	wr(LBAL, (uint8_t)(lba >> 24));
	wr(LBAM, (uint8_t)(lba >> 32));
	wr(LBAH, (uint8_t)(lba >> 40));
	wr(COUNT, (uint8_t)count);
	wr(LBAL, (uint8_t)lba);
	wr(LBAM, (uint8_t)(lba >> 8));
	wr(LBAH, (uint8_t)(lba >> 16));
	wr(DEVICE, 0xe0);
	wr(COMMAND, command);
}

static void case_drq_abort(void)
{
	settle();
	cmd28(0x20, 0, 2); /* READ SECTORS 0..1 */
	uint8_t drq = rd(STATUS);
	uint16_t first = inw(base + DATA);
	wr(COMMAND, 0xec); /* IDENTIFY in the middle of it */
	uint8_t st = rd(STATUS), err = rd(ERROR);
	uint16_t data = inw(base + DATA);
	printf("drq_abort status_drq=0x%02x first_word=0x%04x status=0x%02x error=0x%02x data=0x%04x\n", drq, first, st,
	       err, data);
}

static void case_write_abort(void)
{
	settle();
	cmd28(0x30, 5, 1); /* WRITE SECTORS 5: half a sector of junk, then a new command */
	uint8_t drq = rd(STATUS);
	for (int i = 0; i < 128; i++)
		outw(base + DATA, 0xdead);
	wr(COMMAND, 0xe7); /* FLUSH CACHE */
	uint8_t st = rd(STATUS), err = rd(ERROR);
	outw(base + DATA, 0xdead); /* no transfer any more: ignored */
	uint8_t st2 = rd(STATUS);
	printf("write_abort status_drq=0x%02x status=0x%02x error=0x%02x status_after_data=0x%02x\n", drq, st, err, st2);
}

static void case_past_end(void)
{
	settle();
	cmd28(0x20, (uint32_t)capacity, 1);
	uint8_t st = rd(STATUS), err = rd(ERROR);
	settle();
	cmd28(0x20, (uint32_t)capacity - 1, 2);
	uint8_t st2 = rd(STATUS), err2 = rd(ERROR);
	settle();
	cmd28(0x30, (uint32_t)capacity, 1);
	uint8_t st3 = rd(STATUS), err3 = rd(ERROR);
	settle();
	cmd28(0x20, (uint32_t)capacity - 1, 1); /* the last sector is fine */
	uint8_t st4 = rd(STATUS);
	uint16_t buf[256];
	insw(base + DATA, buf, 256);
	uint8_t st5 = rd(STATUS);
	printf("past_end status=0x%02x error=0x%02x straddle_status=0x%02x straddle_error=0x%02x "
	       "write_status=0x%02x write_error=0x%02x last_status=0x%02x last_done=0x%02x\n",
	       st, err, st2, err2, st3, err3, st4, st5);
}

static void case_lba48_overflow(void)
{
	settle();
	cmd48(0x24, capacity - 1, 2); /* READ SECTORS EXT: one too many */
	uint8_t st = rd(STATUS), err = rd(ERROR);
	settle();
	cmd48(0x24, 0, 0); /* count 0 = 65536 sectors, more than the disk */
	uint8_t st2 = rd(STATUS), err2 = rd(ERROR);
	settle();
	cmd48(0x24, 0xffffffffffffull, 2); /* the last 48-bit address, and past it */
	uint8_t st3 = rd(STATUS), err3 = rd(ERROR);
	printf("lba48_overflow status=0x%02x error=0x%02x count0_status=0x%02x count0_error=0x%02x "
	       "top_status=0x%02x top_error=0x%02x\n",
	       st, err, st2, err2, st3, err3);
}

static void case_features(void)
{
	settle();
	cmd28(0x20, (uint32_t)capacity, 1); /* IDNF: Error 10h */
	(void)rd(STATUS);
	wr(FEATURES, 0xab);
	uint8_t r = rd(FEATURES);
	settle();
	wr(FEATURES, 0xcd);
	uint8_t r2 = rd(FEATURES);
	printf("features after_idnf=0x%02x after_ok=0x%02x\n", r, r2);
}

static void case_no_transfer(void)
{
	settle();
	uint16_t w = inw(base + DATA);
	uint8_t b = inb(base + DATA);
	outw(base + DATA, 0x1234);
	uint8_t st = rd(STATUS);
	printf("no_transfer word=0x%04x byte=0x%02x status=0x%02x\n", w, b, st);
}

static void case_device1(void)
{
	settle();
	wr(DEVICE, 0xb0); /* device 1: absent */
	uint8_t st = rd(STATUS), as = alt();
	wr(COMMAND, 0xec); /* ignored */
	uint8_t st2 = rd(STATUS);
	wr(DEVICE, 0xa0);
	uint8_t st0 = rd(STATUS);
	uint16_t data = inw(base + DATA);
	printf("device1 status=0x%02x alt=0x%02x after_command=0x%02x device0_status=0x%02x data=0x%04x\n", st, as, st2,
	       st0, data);
}

static void case_unknown(void)
{
	settle();
	wr(COMMAND, 0x00); /* NOP */
	uint8_t st = rd(STATUS), err = rd(ERROR);
	settle();
	wr(COMMAND, 0x08); /* DEVICE RESET (ATAPI only) */
	uint8_t st2 = rd(STATUS), err2 = rd(ERROR);
	settle();
	wr(COMMAND, 0xff);
	uint8_t st3 = rd(STATUS), err3 = rd(ERROR);
	printf("unknown nop_status=0x%02x nop_error=0x%02x reset_status=0x%02x reset_error=0x%02x "
	       "ff_status=0x%02x ff_error=0x%02x\n",
	       st, err, st2, err2, st3, err3);
}

static void case_multiple(void)
{
	settle();
	wr(COUNT, 3);
	wr(DEVICE, 0xa0);
	wr(COMMAND, 0xc6); /* SET MULTIPLE 3: not a power of two */
	uint8_t st = rd(STATUS), err = rd(ERROR);
	settle();
	wr(COUNT, 32);
	wr(COMMAND, 0xc6); /* 32: more than the device's 16 */
	uint8_t st2 = rd(STATUS), err2 = rd(ERROR);
	settle();
	wr(COUNT, 0);
	wr(COMMAND, 0xc6); /* off */
	uint8_t st3 = rd(STATUS);
	cmd28(0xc4, 0, 1); /* READ MULTIPLE with multiple mode off */
	uint8_t st4 = rd(STATUS), err4 = rd(ERROR);
	settle();
	wr(COUNT, 16);
	wr(COMMAND, 0xc6); /* back to what the driver set */
	uint8_t st5 = rd(STATUS);
	printf("multiple three_status=0x%02x three_error=0x%02x big_status=0x%02x big_error=0x%02x off_status=0x%02x "
	       "read_multiple_status=0x%02x read_multiple_error=0x%02x restore_status=0x%02x\n",
	       st, err, st2, err2, st3, st4, err4, st5);
}

static void case_chs0(void)
{
	settle();
	wr(COUNT, 1);
	wr(LBAL, 0); /* sector 0: CHS sectors count from 1 */
	wr(LBAM, 0);
	wr(LBAH, 0);
	wr(DEVICE, 0xa0); /* LBA bit clear: CHS */
	wr(COMMAND, 0x20);
	uint8_t st = rd(STATUS), err = rd(ERROR);
	printf("chs0 status=0x%02x error=0x%02x\n", st, err);
}

static void case_hob(void)
{
	settle();
	wr(COUNT, 0x12);
	wr(COUNT, 0x34);
	wr(LBAL, 0x56);
	wr(LBAL, 0x78);
	uint8_t count = rd(COUNT), lbal = rd(LBAL);
	outb(ctl, 0x82); /* HOB | nIEN */
	uint8_t hob_count = rd(COUNT), hob_lbal = rd(LBAL);
	wr(LBAH, 0); /* any command block write clears HOB */
	uint8_t count_after = rd(COUNT);
	outb(ctl, 0x02);
	printf("hob count=0x%02x lbal=0x%02x hob_count=0x%02x hob_lbal=0x%02x count_after_write=0x%02x\n", count, lbal,
	       hob_count, hob_lbal, count_after);
}

static void case_srst(void)
{
	settle();
	outb(ctl, 0x06); /* SRST | nIEN */
	uint8_t held = rd(STATUS), held_alt = alt();
	outb(ctl, 0x02);
	uint8_t st = rd(STATUS), err = rd(ERROR);
	uint8_t count = rd(COUNT), lbal = rd(LBAL), lbam = rd(LBAM), lbah = rd(LBAH), dev = rd(DEVICE);
	printf("srst held=0x%02x held_alt=0x%02x status=0x%02x error=0x%02x signature=%02x/%02x/%02x/%02x device=0x%02x\n",
	       held, held_alt, st, err, count, lbal, lbam, lbah, dev);
}

static void case_srst_transfer(void)
{
	settle();
	cmd28(0x20, 0, 4);
	uint8_t drq = rd(STATUS);
	uint16_t buf[100];
	insw(base + DATA, buf, 100);
	outb(ctl, 0x06);
	outb(ctl, 0x02);
	uint8_t st = rd(STATUS);
	uint16_t data = inw(base + DATA);
	printf("srst_transfer status_drq=0x%02x status=0x%02x data=0x%04x\n", drq, st, data);
}

/* Pattern P of sector s: 64 copies of "P%06u\n". */
static void fill_sector(uint8_t *p, char pat, uint64_t s)
{
	char q[9];
	snprintf(q, sizeof(q), "%c%06u\n", pat, (unsigned)(s % 1000000));
	for (unsigned i = 0; i < BLK_SECTOR_SIZE; i += 8)
		memcpy(p + i, q, 8);
}

int main(int argc, char **argv)
{
	struct blk_dev *d = blk_first();
	const struct pvmm_boot_info *bi = pvmm_boot_info();
	int idx = -1;
	for (uint32_t i = 0; i < bi->device_count && i < PVMM_MAX_DEVICES; i++)
		if (bi->devices[i].type == PVMM_DEV_IDE)
			idx = (int)i;
	if (!d || idx < 0) {
		printf("ide_hostile FAIL: no IDE disk (run with --disk IMAGE --disk-model ide): %s\n",
		       blk_strerror(blk_open_error()));
		return 1;
	}
	base = (uint16_t)bi->devices[idx].mmio_base;
	ctl = (uint16_t)(base + 0x206);
	capacity = blk_capacity(d);
	if (capacity < 128 || capacity >= 0x0fffffff) {
		printf("ide_hostile FAIL: needs a disk of 128 sectors to 128 GiB\n");
		return 1;
	}
	printf("ide_hostile capacity=%llu\n", (unsigned long long)capacity);

	const char *only = argc > 1 ? argv[1] : NULL;
	static const struct {
		const char *name;
		void (*fn)(void);
	} cases[] = {
		{ "drq_abort", case_drq_abort }, { "write_abort", case_write_abort },
		{ "past_end", case_past_end },   { "lba48_overflow", case_lba48_overflow },
		{ "features", case_features },   { "no_transfer", case_no_transfer },
		{ "device1", case_device1 },     { "unknown", case_unknown },
		{ "multiple", case_multiple },   { "chs0", case_chs0 },
		{ "hob", case_hob },             { "srst", case_srst },
		{ "srst_transfer", case_srst_transfer },
	};
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (!only || !strcmp(only, cases[i].name))
			cases[i].fn();

	/* The driver again: the device must still work. */
	uint8_t *buf = page_alloc(2), *want = buf + 4096;
	int rd_err = blk_read(d, 0, buf, 8);
	int pattern = 1;
	for (unsigned s = 0; s < 8; s++) {
		fill_sector(want, 'H', s);
		pattern &= !memcmp(want, buf + s * BLK_SECTOR_SIZE, BLK_SECTOR_SIZE);
	}
	fill_sector(want, 'W', 100);
	int wr_err = blk_write(d, 100, want, 1);
	memset(buf, 0, BLK_SECTOR_SIZE);
	int rb_err = blk_read(d, 100, buf, 1);
	int readback = !rb_err && !memcmp(want, buf, BLK_SECTOR_SIZE);
	printf("after read=%d (%s) pattern=%d write=%d (%s) readback=%d\n", rd_err, blk_strerror(rd_err), pattern, wr_err,
	       blk_strerror(wr_err), readback);
	if (rd_err || !pattern || wr_err || !readback) {
		printf("ide_hostile FAIL: the disk does not work after the cases\n");
		return 1;
	}
	printf("ide_hostile ok\n");
	return 0;
}
