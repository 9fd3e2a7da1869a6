/*
 * Unit tests for the emulated IDE/ATA disk (src/devices/ide.c).
 *
 * The test plays an ATA PIO driver on the register interface alone:
 * byte accesses to the command block (ide_cmd_io, offsets 0-7 from
 * 0x1f0) and the control block (ide_ctl_io, 0x3f6), 16-bit data-port
 * accesses, 32-bit ones, and string I/O ("rep insw/outsw/insd/outsd")
 * through the real port bus (pio_dispatch) as the run loop delivers it.
 * The IRQ callback records the line level and counts transitions.
 *
 * Images are temporary raw files (mkstemp + ftruncate, sparse), opened
 * with blk_open() and handed to ide_create(). The host writes known
 * patterns with pwrite() and checks guest writes with pread(). Expected
 * values are ATA/ATAPI-8's and docs/devices.md's.
 *
 * Every test runs twice: with the io_uring backend and with the
 * synchronous fallback (PVMM_BLK_NO_URING=1).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "blk_backend.h"
#include "blk_test_hook.h"
#include "devices/ide.h"
#include "pio.h"

/* Command block registers (offsets from 0x1f0). */
enum { DATA = 0, ERROR_FEATURE = 1, COUNT = 2, LBA_LOW = 3, LBA_MID = 4, LBA_HIGH = 5, DEVICE = 6,
       STATUS_COMMAND = 7 };

#define ST_ERR  0x01
#define ST_DRQ  0x08
#define ST_DSC  0x10
#define ST_DRDY 0x40
#define ST_BSY  0x80
#define ST_IDLE (ST_DRDY | ST_DSC)           /* 0x50 */
#define ST_DATA (ST_DRDY | ST_DSC | ST_DRQ)  /* 0x58 */
#define ST_FAIL (ST_DRDY | ST_DSC | ST_ERR)  /* 0x51 */
#define ERR_ABRT 0x04
#define ERR_IDNF 0x10
#define CTL_NIEN 0x02
#define CTL_SRST 0x04
#define CTL_HOB  0x80

#define CMD_READ_SECTORS       0x20
#define CMD_READ_SECTORS_EXT   0x24
#define CMD_READ_MULTIPLE_EXT  0x29
#define CMD_WRITE_SECTORS      0x30
#define CMD_WRITE_SECTORS_EXT  0x34
#define CMD_WRITE_MULTIPLE_EXT 0x39
#define CMD_READ_MULTIPLE      0xc4
#define CMD_WRITE_MULTIPLE     0xc5
#define CMD_SET_MULTIPLE       0xc6
#define CMD_CHECK_POWER_MODE   0xe5
#define CMD_FLUSH_CACHE        0xe7
#define CMD_FLUSH_CACHE_EXT    0xea
#define CMD_IDENTIFY           0xec
#define CMD_SET_FEATURES       0xef
#define SF_WRITE_CACHE_ON      0x02
#define SF_WRITE_CACHE_OFF     0x82
#define ID_WRITE_CACHE         0x0020  /* word 82: supported; word 85: enabled */

/* blk_test_hook.h: a backend opened with this set loses unflushed writes
 * when it closes, as a disk does in a power cut. */
#define CRASH_ENV "PVMM_BLK_TEST_CRASH_LOSES_UNFLUSHED"

#define SECTOR 512u
#define SMALL_BYTES (1ull << 20)        /* 2048 sectors */
#define SMALL_SECTORS (SMALL_BYTES / SECTOR)
#define MID_BYTES (300ull << 20)        /* 614400 sectors: LBA past 16 bits, room for 65536 */
#define MID_SECTORS (MID_BYTES / SECTOR)
#define HUGE_BYTES (3ull << 40)         /* 3 TiB sparse: past the LBA28 and 32-bit limits */
#define HUGE_SECTORS (HUGE_BYTES / SECTOR)

struct fx {
	char path[128];
	struct ide *ide;
	struct pio_bus bus;
	int level;              /* the IRQ line as the callback last set it */
	unsigned rises, falls;
	unsigned redundant;     /* callbacks that did not change the level */
};

static void irq_cb(void *ctx, int level)
{
	struct fx *f = ctx;
	if (level == f->level)
		f->redundant++;
	if (level)
		f->rises++;
	else
		f->falls++;
	f->level = level;
}

/* ---- images and the device ---------------------------------------------- */

static void new_image(struct fx *f, uint64_t bytes)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(f->path, sizeof(f->path), "%s/pvmm-ide-XXXXXX", tmp && strlen(tmp) < 80 ? tmp : "/tmp");
	int fd = mkstemp(f->path);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)bytes), 0);
	close(fd);
}

static void attach(struct fx *f, bool readonly)
{
	struct blk_backend *b = blk_open(f->path, readonly, 4);
	assert_non_null(b);
	f->ide = ide_create(b, irq_cb, f);
	assert_non_null(f->ide);
	f->level = 0;
	f->rises = f->falls = f->redundant = 0;
	memset(&f->bus, 0, sizeof(f->bus));
	assert_int_equal(pio_register(&f->bus, IDE_CMD_BASE, IDE_CMD_PORTS, "ide", ide_cmd_io, f->ide), 0);
	assert_int_equal(pio_register(&f->bus, IDE_CTL_PORT, 1, "ide-ctl", ide_ctl_io, f->ide), 0);
}

static void detach(struct fx *f)
{
	ide_destroy(f->ide); /* closes the backend too */
	f->ide = NULL;
	unlink(f->path);
}

/* Swap the fixture's disk for a fresh image of `bytes` (false: the file
 * system refused that size, e.g. a huge sparse file). */
static bool reimage(struct fx *f, uint64_t bytes, bool readonly)
{
	detach(f);
	const char *tmp = getenv("TMPDIR");
	snprintf(f->path, sizeof(f->path), "%s/pvmm-ide-XXXXXX", tmp && strlen(tmp) < 80 ? tmp : "/tmp");
	int fd = mkstemp(f->path);
	assert_true(fd >= 0);
	if (ftruncate(fd, (off_t)bytes) < 0) {
		close(fd);
		unlink(f->path);
		return false;
	}
	close(fd);
	attach(f, readonly);
	return true;
}

static int setup_common(void **state, bool sync)
{
	struct fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	if (sync)
		setenv("PVMM_BLK_NO_URING", "1", 1);
	else
		unsetenv("PVMM_BLK_NO_URING");
	new_image(f, SMALL_BYTES);
	attach(f, false);
	*state = f;
	return 0;
}

static int setup_uring(void **state) { return setup_common(state, false); }
static int setup_sync(void **state) { return setup_common(state, true); }

static int teardown(void **state)
{
	struct fx *f = *state;
	if (f->ide)
		detach(f);
	unsetenv("PVMM_BLK_NO_URING");
	unsetenv(CRASH_ENV);
	blk_trace_stop();
	free(f);
	return 0;
}

/* ---- host side of the image --------------------------------------------- */

static uint8_t pattern_byte(uint64_t lba, unsigned i)
{
	return (uint8_t)(lba * 131 + (lba >> 8) * 17 + (lba >> 24) * 5 + i * 7 + (i >> 8) + 1);
}

static void fill_pattern(uint8_t *buf, uint64_t lba, unsigned sectors)
{
	for (unsigned s = 0; s < sectors; s++)
		for (unsigned i = 0; i < SECTOR; i++)
			buf[s * SECTOR + i] = pattern_byte(lba + s, i);
}

static void host_write(struct fx *f, uint64_t lba, const void *buf, size_t len)
{
	int fd = open(f->path, O_WRONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, buf, len, (off_t)(lba * SECTOR)), (ssize_t)len);
	close(fd);
}

static void host_read(struct fx *f, uint64_t lba, void *buf, size_t len)
{
	int fd = open(f->path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, len, (off_t)(lba * SECTOR)), (ssize_t)len);
	close(fd);
}

/* Put the pattern on `sectors` sectors from `lba`. */
static void host_pattern(struct fx *f, uint64_t lba, unsigned sectors)
{
	uint8_t *buf = malloc((size_t)sectors * SECTOR);
	assert_non_null(buf);
	fill_pattern(buf, lba, sectors);
	host_write(f, lba, buf, (size_t)sectors * SECTOR);
	free(buf);
}

static void assert_pattern(const uint8_t *buf, uint64_t lba, unsigned sectors)
{
	for (unsigned s = 0; s < sectors; s++)
		for (unsigned i = 0; i < SECTOR; i++)
			if (buf[s * SECTOR + i] != pattern_byte(lba + s, i))
				fail_msg("sector %llu byte %u: got 0x%02x, want 0x%02x", (unsigned long long)(lba + s),
					 i, buf[s * SECTOR + i], pattern_byte(lba + s, i));
}

static uint64_t file_hash(struct fx *f)
{
	struct stat st;
	assert_int_equal(stat(f->path, &st), 0);
	uint8_t *buf = malloc((size_t)st.st_size);
	assert_non_null(buf);
	host_read(f, 0, buf, (size_t)st.st_size);
	uint64_t h = 0xcbf29ce484222325ull;
	for (off_t i = 0; i < st.st_size; i++)
		h = (h ^ buf[i]) * 0x100000001b3ull;
	free(buf);
	return h;
}

/* ---- register access ---------------------------------------------------- */

static uint8_t inb(struct fx *f, uint16_t reg)
{
	uint8_t v = 0x5a;
	ide_cmd_io(f->ide, reg, false, &v, 1);
	return v;
}

static void outb(struct fx *f, uint16_t reg, uint8_t v)
{
	ide_cmd_io(f->ide, reg, true, &v, 1);
}

static uint16_t inw(struct fx *f)
{
	uint8_t d[2] = { 0x5a, 0x5a };
	ide_cmd_io(f->ide, DATA, false, d, 2);
	return (uint16_t)(d[0] | d[1] << 8);
}

static void outw(struct fx *f, uint16_t w)
{
	uint8_t d[2] = { (uint8_t)w, (uint8_t)(w >> 8) };
	ide_cmd_io(f->ide, DATA, true, d, 2);
}

static uint32_t inl(struct fx *f)
{
	uint8_t d[4] = { 0x5a, 0x5a, 0x5a, 0x5a };
	ide_cmd_io(f->ide, DATA, false, d, 4);
	return (uint32_t)d[0] | (uint32_t)d[1] << 8 | (uint32_t)d[2] << 16 | (uint32_t)d[3] << 24;
}

static uint8_t alt_status(struct fx *f)
{
	uint8_t v = 0x5a;
	ide_ctl_io(f->ide, 0, false, &v, 1);
	return v;
}

static void control(struct fx *f, uint8_t v)
{
	ide_ctl_io(f->ide, 0, true, &v, 1);
}

static uint8_t status(struct fx *f) { return inb(f, STATUS_COMMAND); }
static void command(struct fx *f, uint8_t c) { outb(f, STATUS_COMMAND, c); }

/* String I/O through the bus, as "rep insw" etc. arrive from the run loop. */
static void rep_in(struct fx *f, void *buf, unsigned size, unsigned reps)
{
	assert_true(pio_dispatch(&f->bus, IDE_CMD_BASE, false, buf, size, reps));
}

static void rep_out(struct fx *f, const void *buf, unsigned size, unsigned reps)
{
	assert_true(pio_dispatch(&f->bus, IDE_CMD_BASE, true, (uint8_t *)buf, size, reps));
}

static void task_lba28(struct fx *f, uint32_t lba, uint8_t count)
{
	outb(f, DEVICE, (uint8_t)(0xe0 | ((lba >> 24) & 0x0f)));
	outb(f, COUNT, count);
	outb(f, LBA_LOW, (uint8_t)lba);
	outb(f, LBA_MID, (uint8_t)(lba >> 8));
	outb(f, LBA_HIGH, (uint8_t)(lba >> 16));
}

/* LBA48: the high ("previous") bytes first, then the low ones. */
static void task_lba48(struct fx *f, uint64_t lba, uint16_t count)
{
	outb(f, DEVICE, 0x40);
	outb(f, COUNT, (uint8_t)(count >> 8));
	outb(f, LBA_LOW, (uint8_t)(lba >> 24));
	outb(f, LBA_MID, (uint8_t)(lba >> 32));
	outb(f, LBA_HIGH, (uint8_t)(lba >> 40));
	outb(f, COUNT, (uint8_t)count);
	outb(f, LBA_LOW, (uint8_t)lba);
	outb(f, LBA_MID, (uint8_t)(lba >> 8));
	outb(f, LBA_HIGH, (uint8_t)(lba >> 16));
}

/* The command completed: INTRQ was asserted, Status reads `want` (and
 * clears INTRQ), and on error the Error register holds `error`. */
static void expect_completion(struct fx *f, uint8_t want, uint8_t error)
{
	assert_int_equal(f->level, 1);
	assert_int_equal(alt_status(f), want);
	assert_int_equal(f->level, 1);              /* Alternate Status has no side effect */
	assert_int_equal(status(f), want);
	assert_int_equal(f->level, 0);
	if (want & ST_ERR)
		assert_int_equal(inb(f, ERROR_FEATURE), error);
}

static void expect_abort(struct fx *f) { expect_completion(f, ST_FAIL, ERR_ABRT); }
static void expect_idnf(struct fx *f) { expect_completion(f, ST_FAIL, ERR_IDNF); }

/* PIO in, one DRQ block: INTRQ before the data, then the data. */
static void read_block(struct fx *f, uint8_t *buf, unsigned sectors)
{
	assert_int_equal(f->level, 1);
	assert_int_equal(status(f), ST_DATA);
	assert_int_equal(f->level, 0);
	rep_in(f, buf, 2, sectors * SECTOR / 2);
}

/* READ SECTORS (LBA28), one interrupt per sector. */
static void read_sectors(struct fx *f, uint32_t lba, unsigned count, uint8_t *buf)
{
	unsigned rises = f->rises;
	task_lba28(f, lba, (uint8_t)count);
	command(f, CMD_READ_SECTORS);
	if (count == 0)
		count = 256;
	for (unsigned s = 0; s < count; s++)
		read_block(f, buf + (size_t)s * SECTOR, 1);
	assert_int_equal(alt_status(f), ST_IDLE);   /* DRQ dropped after the last word */
	assert_int_equal(f->level, 0);              /* PIO in: no interrupt at the end */
	assert_int_equal(f->rises - rises, count);
}

/* PIO out, one DRQ block: data, then INTRQ; Status tells what is next. */
static void write_block(struct fx *f, const uint8_t *buf, unsigned sectors, bool last)
{
	assert_int_equal(f->level, 0);
	assert_int_equal(alt_status(f), ST_DATA);
	rep_out(f, buf, 2, sectors * SECTOR / 2);
	assert_int_equal(f->level, 1);
	assert_int_equal(status(f), last ? ST_IDLE : ST_DATA);
	assert_int_equal(f->level, 0);
}

static void write_sectors(struct fx *f, uint32_t lba, unsigned count, const uint8_t *buf)
{
	task_lba28(f, lba, (uint8_t)count);
	command(f, CMD_WRITE_SECTORS);
	for (unsigned s = 0; s < count; s++)
		write_block(f, buf + (size_t)s * SECTOR, 1, s + 1 == count);
}

static void identify(struct fx *f, uint16_t id[256])
{
	command(f, CMD_IDENTIFY);
	read_block(f, (uint8_t *)id, 1);
	assert_int_equal(alt_status(f), ST_IDLE);
}

/* An ATA string: two characters per word, the first in the high byte. */
static void id_text(const uint16_t *id, unsigned w, unsigned words, char *out)
{
	for (unsigned i = 0; i < words; i++) {
		out[2 * i] = (char)(id[w + i] >> 8);
		out[2 * i + 1] = (char)(id[w + i] & 0xff);
	}
	out[2 * words] = '\0';
}

/* ---- power-on and IDENTIFY ---------------------------------------------- */

static void test_power_on_status_and_signature(void **state)
{
	struct fx *f = *state;
	assert_int_equal(alt_status(f), ST_IDLE);
	assert_int_equal(status(f), ST_IDLE);
	assert_int_equal(inb(f, COUNT), 1);
	assert_int_equal(inb(f, LBA_LOW), 1);
	assert_int_equal(inb(f, LBA_MID), 0);       /* 00/00: an ATA device, not ATAPI (14/EB) */
	assert_int_equal(inb(f, LBA_HIGH), 0);
	assert_int_equal(inb(f, ERROR_FEATURE), 0x01); /* diagnostic: device 0 passed */
	assert_int_equal(inb(f, DEVICE), 0xa0);     /* obsolete bits 7 and 5 read as 1 */
	assert_int_equal(f->level, 0);
	assert_int_equal(f->rises, 0);
}

static void test_identify_raises_irq_and_drq_status_read_clears_irq(void **state)
{
	struct fx *f = *state;

	command(f, CMD_IDENTIFY);
	assert_int_equal(f->level, 1);
	assert_int_equal(alt_status(f), ST_DATA);
	assert_int_equal(f->level, 1);
	assert_int_equal(status(f), ST_DATA);
	assert_int_equal(f->level, 0);
	for (unsigned i = 0; i < 255; i++)
		(void)inw(f);
	assert_int_equal(alt_status(f), ST_DATA);   /* one word to go */
	(void)inw(f);
	assert_int_equal(alt_status(f), ST_IDLE);   /* DRQ drops after word 255 */
	assert_int_equal(inw(f), 0xffff);           /* and nothing more to read */
	assert_int_equal(f->level, 0);
	assert_int_equal(f->rises, 1);
	assert_int_equal(f->redundant, 0);
}

static void test_identify_device_data(void **state)
{
	struct fx *f = *state;
	uint16_t id[256];
	char text[64];

	identify(f, id);
	assert_int_equal(id[0], 0x0040);            /* fixed ATA device */
	/* Capacity: 2048 sectors; CHS 2 cylinders x 16 heads x 63 sectors. */
	assert_int_equal(id[1], 2);
	assert_int_equal(id[3], 16);
	assert_int_equal(id[6], 63);
	assert_int_equal(id[57] | (uint32_t)id[58] << 16, 2 * 16 * 63);
	assert_int_equal(id[60] | (uint32_t)id[61] << 16, SMALL_SECTORS);
	assert_int_equal(id[100], SMALL_SECTORS);
	assert_int_equal(id[101], 0);
	assert_int_equal(id[102], 0);
	assert_int_equal(id[103], 0);
	assert_int_equal(id[47], 0x8000 | IDE_MAX_MULTIPLE);
	assert_true(id[49] & 0x0200);               /* LBA supported */
	assert_int_equal(id[59], 0);                /* no multiple mode set yet */
	assert_true(id[83] & 0x0400);               /* 48-bit address feature set */
	assert_true(id[83] & 0x3000);               /* FLUSH CACHE and FLUSH CACHE EXT */
	assert_int_equal(id[83] & 0xc000, 0x4000);  /* word valid: 01b in bits 15:14 */
	assert_true(id[86] & 0x0400);               /* ...and enabled */
	assert_int_equal(id[106] & 0xc000, 0x4000);

	id_text(id, 27, 20, text);
	assert_string_equal(text, "pvmm emulated ATA disk                  ");
	id_text(id, 23, 4, text);
	assert_string_equal(text, "0.1     ");
	id_text(id, 10, 10, text);
	assert_int_equal(strncmp(text, "PVMM", 4), 0);
	for (unsigned i = 0; i < 20; i++)
		assert_true(text[i] > 0x20 && text[i] < 0x7f); /* printable serial */

	/* Integrity word: A5h signature, checksum makes the 512 bytes sum to 0. */
	const uint8_t *bytes = (const uint8_t *)id;
	assert_int_equal(bytes[510], 0xa5);
	uint8_t sum = 0;
	for (unsigned i = 0; i < 512; i++)
		sum = (uint8_t)(sum + bytes[i]);
	assert_int_equal(sum, 0);

	/* Word 59 reports the multiple setting once there is one. */
	outb(f, COUNT, 8);
	command(f, CMD_SET_MULTIPLE);
	expect_completion(f, ST_IDLE, 0);
	identify(f, id);
	assert_int_equal(id[59], 0x0108);
	bytes = (const uint8_t *)id;
	sum = 0;
	for (unsigned i = 0; i < 512; i++)
		sum = (uint8_t)(sum + bytes[i]);
	assert_int_equal(sum, 0);
}

static void test_identify_capacity_mid_disk(void **state)
{
	struct fx *f = *state;
	uint16_t id[256];

	assert_true(reimage(f, MID_BYTES, false));
	identify(f, id);
	assert_int_equal(id[60] | (uint32_t)id[61] << 16, MID_SECTORS);
	assert_int_equal(id[100] | (uint32_t)id[101] << 16, MID_SECTORS);
	assert_int_equal(id[102], 0);
	assert_int_equal(id[103], 0);
	assert_int_equal(id[1], MID_SECTORS / (16 * 63)); /* 609 cylinders */
	assert_int_equal(id[54], id[1]);
}

/* ---- READ / WRITE SECTORS (LBA28) ---------------------------------------- */

static void test_read_sectors_one(void **state)
{
	struct fx *f = *state;
	uint8_t buf[SECTOR];

	host_pattern(f, 7, 1);
	read_sectors(f, 7, 1, buf);
	assert_pattern(buf, 7, 1);
	assert_int_equal(f->redundant, 0);
}

static void test_read_sectors_three_drq_and_irq_per_sector(void **state)
{
	struct fx *f = *state;
	uint8_t buf[3 * SECTOR];

	host_pattern(f, 1000, 3);
	read_sectors(f, 1000, 3, buf);              /* checks 3 interrupts, DRQ each time */
	assert_pattern(buf, 1000, 3);
	struct ide_stats s = ide_stats(f->ide);
	assert_int_equal(s.sectors_read, 3);
	assert_int_equal(s.commands, 1);
}

static void test_read_sectors_count_zero_means_256(void **state)
{
	struct fx *f = *state;
	const uint32_t lba = 0x090000;              /* needs the LBA high byte */
	uint8_t *buf = malloc(256 * SECTOR);
	assert_non_null(buf);

	assert_true(reimage(f, MID_BYTES, false));
	host_pattern(f, lba, 256);
	read_sectors(f, lba, 0, buf);
	assert_pattern(buf, lba, 256);
	free(buf);
}

static void test_read_sectors_uses_lba_bits_24_27_from_device(void **state)
{
	struct fx *f = *state;
	uint8_t buf[SECTOR];
	/* Bits 27:24 live in the Device register: on a small disk any of them
	 * set is past the end, which proves they are not ignored. */
	task_lba28(f, 0x01000000 | 5, 1);
	command(f, CMD_READ_SECTORS);
	expect_idnf(f);
	host_pattern(f, 5, 1);
	read_sectors(f, 5, 1, buf);
	assert_pattern(buf, 5, 1);
}

static void test_write_sectors_reach_the_file(void **state)
{
	struct fx *f = *state;
	uint8_t buf[3 * SECTOR], back[3 * SECTOR];

	fill_pattern(buf, 300, 3);
	write_sectors(f, 300, 3, buf);              /* IRQ after each block, none before the first */
	host_read(f, 300, back, sizeof(back));
	assert_memory_equal(back, buf, sizeof(buf));
	host_read(f, 299, back, SECTOR);            /* neighbours untouched */
	for (unsigned i = 0; i < SECTOR; i++)
		assert_int_equal(back[i], 0);
	host_read(f, 303, back, SECTOR);
	for (unsigned i = 0; i < SECTOR; i++)
		assert_int_equal(back[i], 0);
	assert_int_equal(ide_stats(f->ide).sectors_written, 3);
	/* Read back through the device too. */
	read_sectors(f, 300, 3, back);
	assert_memory_equal(back, buf, sizeof(buf));
}

static void test_write_sectors_alias_0x31_and_read_alias_0x21(void **state)
{
	struct fx *f = *state;
	uint8_t buf[SECTOR], back[SECTOR];

	fill_pattern(buf, 11, 1);
	task_lba28(f, 11, 1);
	command(f, 0x31);                           /* WRITE SECTORS without retry (obsolete alias) */
	write_block(f, buf, 1, true);
	task_lba28(f, 11, 1);
	command(f, 0x21);
	read_block(f, back, 1);
	assert_memory_equal(back, buf, SECTOR);
}

/* ---- LBA48 ---------------------------------------------------------------- */

static void test_read_write_sectors_ext_with_hob_registers(void **state)
{
	struct fx *f = *state;
	const uint64_t lba = 0x090001;
	uint8_t buf[2 * SECTOR], back[2 * SECTOR];

	assert_true(reimage(f, MID_BYTES, false));
	fill_pattern(buf, lba, 2);
	task_lba48(f, lba, 2);
	command(f, CMD_WRITE_SECTORS_EXT);
	write_block(f, buf, 1, false);
	write_block(f, buf + SECTOR, 1, true);
	host_read(f, lba, back, sizeof(back));
	assert_memory_equal(back, buf, sizeof(buf));

	host_pattern(f, lba + 10, 2);
	task_lba48(f, lba + 10, 2);
	command(f, CMD_READ_SECTORS_EXT);
	read_block(f, back, 1);
	read_block(f, back + SECTOR, 1);
	assert_int_equal(alt_status(f), ST_IDLE);
	assert_pattern(back, lba + 10, 2);
}

static void test_read_sectors_ext_count_from_hob_byte(void **state)
{
	struct fx *f = *state;
	const uint64_t lba = 0x80000;
	uint8_t *buf = malloc(256 * SECTOR);
	assert_non_null(buf);

	/* Count 0x0100: only the HOB byte is non-zero (an LBA28 device would read 0 = 256 too,
	 * so also check 0x0101 = 257 sectors, which it could not). */
	assert_true(reimage(f, MID_BYTES, false));
	host_pattern(f, lba, 257);
	task_lba48(f, lba, 0x0101);
	command(f, CMD_READ_SECTORS_EXT);
	for (unsigned s = 0; s < 257; s++) {
		read_block(f, buf + (s % 256) * SECTOR, 1);
		if (s == 255)
			assert_pattern(buf, lba, 256);
	}
	assert_pattern(buf, lba + 256, 1);
	assert_int_equal(alt_status(f), ST_IDLE);
	free(buf);
}

static void test_lba48_registers_are_a_two_deep_fifo(void **state)
{
	struct fx *f = *state;
	uint8_t buf[SECTOR];

	/* Junk in the previous slots, then only the low bytes: the junk is the HOB. */
	host_pattern(f, 9, 1);
	outb(f, DEVICE, 0x40);
	outb(f, COUNT, 0x00);
	outb(f, LBA_LOW, 0xff);
	outb(f, LBA_MID, 0x00);
	outb(f, LBA_HIGH, 0x00);
	outb(f, COUNT, 1);
	outb(f, LBA_LOW, 9);
	outb(f, LBA_MID, 0);
	outb(f, LBA_HIGH, 0);
	command(f, CMD_READ_SECTORS_EXT);
	expect_idnf(f);                             /* LBA 0xff000009: past the end */

	/* Three writes: the first falls out, the last two count. */
	outb(f, LBA_LOW, 0x77);
	outb(f, LBA_LOW, 0x00);
	outb(f, LBA_LOW, 9);
	command(f, CMD_READ_SECTORS_EXT);
	read_block(f, buf, 1);
	assert_pattern(buf, 9, 1);
}

static void test_hob_readback_with_device_control_bit7(void **state)
{
	struct fx *f = *state;

	outb(f, COUNT, 0x12);
	outb(f, LBA_LOW, 0x34);
	outb(f, LBA_MID, 0x56);
	outb(f, LBA_HIGH, 0x78);
	outb(f, COUNT, 0x9a);
	outb(f, LBA_LOW, 0xbc);
	outb(f, LBA_MID, 0xde);
	outb(f, LBA_HIGH, 0xf0);
	assert_int_equal(inb(f, COUNT), 0x9a);
	assert_int_equal(inb(f, LBA_LOW), 0xbc);
	assert_int_equal(inb(f, LBA_MID), 0xde);
	assert_int_equal(inb(f, LBA_HIGH), 0xf0);
	control(f, CTL_HOB);
	assert_int_equal(inb(f, COUNT), 0x12);
	assert_int_equal(inb(f, LBA_LOW), 0x34);
	assert_int_equal(inb(f, LBA_MID), 0x56);
	assert_int_equal(inb(f, LBA_HIGH), 0x78);
	assert_int_equal(alt_status(f), ST_IDLE);   /* Status does not care */
	control(f, 0);
	assert_int_equal(inb(f, COUNT), 0x9a);

	/* Any task-file write clears HOB. */
	control(f, CTL_HOB);
	outb(f, ERROR_FEATURE, 0);
	assert_int_equal(inb(f, COUNT), 0x9a);
	control(f, CTL_HOB);
	outb(f, LBA_HIGH, 0x11);                    /* pushes 0xf0 into the HOB slot */
	assert_int_equal(inb(f, LBA_HIGH), 0x11);
	control(f, CTL_HOB);
	assert_int_equal(inb(f, LBA_HIGH), 0xf0);
	control(f, 0);
}

static void test_read_multiple_ext_count_zero_means_65536(void **state)
{
	struct fx *f = *state;
	const uint64_t lba = 0x10000;
	const unsigned marked[] = { 0, 40000, 65535 };  /* pattern here, zeros elsewhere */
	uint8_t *buf = malloc(16 * SECTOR);
	assert_non_null(buf);

	assert_true(reimage(f, MID_BYTES, false));
	for (unsigned i = 0; i < 3; i++)
		host_pattern(f, lba + marked[i], 1);
	outb(f, COUNT, 16);
	command(f, CMD_SET_MULTIPLE);
	expect_completion(f, ST_IDLE, 0);

	unsigned rises = f->rises;
	task_lba48(f, lba, 0);
	command(f, CMD_READ_MULTIPLE_EXT);
	for (unsigned blk = 0; blk < 65536 / 16; blk++) {
		assert_int_equal(f->level, 1);
		assert_int_equal(status(f), ST_DATA);
		rep_in(f, buf, 4, 16 * SECTOR / 4);     /* rep insd */
		for (unsigned s = 0; s < 16; s++) {
			unsigned n = blk * 16 + s;
			if (n == marked[0] || n == marked[1] || n == marked[2]) {
				assert_pattern(buf + s * SECTOR, lba + n, 1);
			} else {
				for (unsigned i = 0; i < SECTOR; i++)
					if (buf[s * SECTOR + i])
						fail_msg("sector %u not zero", n);
			}
		}
	}
	assert_int_equal(alt_status(f), ST_IDLE);
	assert_int_equal(f->rises - rises, 4096);
	assert_int_equal(ide_stats(f->ide).sectors_read, 65536);
	free(buf);
}

static void test_huge_disk_lba48_addressing_and_identify(void **state)
{
	struct fx *f = *state;
	uint16_t id[256];
	uint8_t buf[SECTOR], back[SECTOR];
	const uint64_t far = 0x123456789ull;        /* bits 32 and up: the HOB mid byte */

	if (!reimage(f, HUGE_BYTES, false))
		skip();                                 /* the file system will not make a 3 TiB sparse file */
	identify(f, id);
	assert_int_equal(id[60] | (uint32_t)id[61] << 16, 0x0fffffff); /* LBA28 capacity saturates */
	assert_int_equal(id[100], (uint16_t)HUGE_SECTORS);
	assert_int_equal(id[101], (uint16_t)(HUGE_SECTORS >> 16));
	assert_int_equal(id[102], (uint16_t)(HUGE_SECTORS >> 32));
	assert_int_equal(id[103], 0);
	assert_int_equal(id[1], 16383);             /* CHS cylinders saturate */

	host_pattern(f, far, 1);
	task_lba48(f, far, 1);
	command(f, CMD_READ_SECTORS_EXT);
	read_block(f, back, 1);
	assert_pattern(back, far, 1);

	fill_pattern(buf, HUGE_SECTORS - 1, 1);
	task_lba48(f, HUGE_SECTORS - 1, 1);         /* the last sector */
	command(f, CMD_WRITE_SECTORS_EXT);
	write_block(f, buf, 1, true);
	host_read(f, HUGE_SECTORS - 1, back, SECTOR);
	assert_memory_equal(back, buf, SECTOR);
	task_lba48(f, HUGE_SECTORS, 1);
	command(f, CMD_READ_SECTORS_EXT);
	expect_idnf(f);
}

static void test_lba28_commands_stop_at_0ffffffe_on_huge_disk(void **state)
{
	struct fx *f = *state;
	uint8_t back[SECTOR];

	/* Words 60-61 say 0FFFFFFFh sectors for 28-bit commands, so they reach
	 * LBA 0FFFFFFEh at most (ATA: READ NATIVE MAX returns 268,435,454
	 * on such a disk); beyond is IDNF even though the disk goes on. */
	if (!reimage(f, HUGE_BYTES, false))
		skip();
	host_pattern(f, 0x0ffffffe, 1);
	read_sectors(f, 0x0ffffffe, 1, back);
	assert_pattern(back, 0x0ffffffe, 1);
	task_lba28(f, 0x0fffffff, 1);
	command(f, CMD_READ_SECTORS);
	expect_idnf(f);
	task_lba28(f, 0x0ffffffe, 2);
	command(f, CMD_READ_SECTORS);
	expect_idnf(f);
}

/* ---- CHS ------------------------------------------------------------------ */

static void test_chs_addressing_maps_to_lba(void **state)
{
	struct fx *f = *state;
	uint8_t buf[SECTOR];
	const uint32_t lba = (1 * 16 + 2) * 63 + (3 - 1); /* C=1 H=2 S=3 -> 1136 */

	host_pattern(f, lba, 1);
	outb(f, DEVICE, 0xa0 | 2);                  /* LBA bit clear, head 2 */
	outb(f, COUNT, 1);
	outb(f, LBA_LOW, 3);                        /* sector */
	outb(f, LBA_MID, 1);                        /* cylinder low */
	outb(f, LBA_HIGH, 0);                       /* cylinder high */
	command(f, CMD_READ_SECTORS);
	read_block(f, buf, 1);
	assert_pattern(buf, lba, 1);

	/* The first sector of the disk is C/H/S 0/0/1. */
	host_pattern(f, 0, 1);
	outb(f, DEVICE, 0xa0);
	outb(f, LBA_LOW, 1);
	outb(f, LBA_MID, 0);
	command(f, CMD_READ_SECTORS);
	read_block(f, buf, 1);
	assert_pattern(buf, 0, 1);

	/* Sectors count from 1: sector 0 does not exist; nor does 64. */
	outb(f, LBA_LOW, 0);
	command(f, CMD_READ_SECTORS);
	expect_idnf(f);
	outb(f, LBA_LOW, 64);
	command(f, CMD_READ_SECTORS);
	expect_idnf(f);

	/* C=2 H=1 S=1 is sector 2079: past the end of 2048. */
	outb(f, DEVICE, 0xa0 | 1);
	outb(f, LBA_LOW, 1);
	outb(f, LBA_MID, 2);
	command(f, CMD_READ_SECTORS);
	expect_idnf(f);
}

/* ---- READ / WRITE MULTIPLE ------------------------------------------------ */

static void test_multiple_commands_abort_before_set_multiple(void **state)
{
	struct fx *f = *state;
	static const uint8_t cmds[] = { CMD_READ_MULTIPLE, CMD_WRITE_MULTIPLE, CMD_READ_MULTIPLE_EXT,
					CMD_WRITE_MULTIPLE_EXT };
	uint64_t before = file_hash(f);

	for (unsigned i = 0; i < sizeof(cmds); i++) {
		task_lba28(f, 0, 1);
		command(f, cmds[i]);
		expect_abort(f);
		assert_int_equal(inw(f), 0xffff);       /* no transfer started */
	}
	assert_int_equal(file_hash(f), before);
}

static void test_set_multiple_8_then_read_multiple_16_is_two_blocks(void **state)
{
	struct fx *f = *state;
	uint8_t buf[16 * SECTOR];

	host_pattern(f, 40, 16);
	outb(f, COUNT, 8);
	command(f, CMD_SET_MULTIPLE);
	expect_completion(f, ST_IDLE, 0);

	unsigned rises = f->rises;
	task_lba28(f, 40, 16);
	command(f, CMD_READ_MULTIPLE);
	assert_int_equal(f->level, 1);
	assert_int_equal(status(f), ST_DATA);
	rep_in(f, buf, 2, 256);
	assert_int_equal(alt_status(f), ST_DATA);   /* mid-block: no new DRQ phase... */
	assert_int_equal(f->level, 0);              /* ...and no interrupt per sector */
	rep_in(f, buf + SECTOR, 2, 7 * 256);
	read_block(f, buf + 8 * SECTOR, 8);
	assert_int_equal(alt_status(f), ST_IDLE);
	assert_int_equal(f->rises - rises, 2);
	assert_pattern(buf, 40, 16);
}

static void test_read_multiple_last_block_is_partial(void **state)
{
	struct fx *f = *state;
	uint8_t buf[11 * SECTOR];

	host_pattern(f, 60, 11);
	outb(f, COUNT, 4);
	command(f, CMD_SET_MULTIPLE);
	expect_completion(f, ST_IDLE, 0);
	task_lba28(f, 60, 11);
	command(f, CMD_READ_MULTIPLE);
	read_block(f, buf, 4);
	read_block(f, buf + 4 * SECTOR, 4);
	read_block(f, buf + 8 * SECTOR, 3);         /* 11 = 4 + 4 + 3 */
	assert_int_equal(alt_status(f), ST_IDLE);
	assert_pattern(buf, 60, 11);
}

static void test_write_multiple_blocks_reach_the_file(void **state)
{
	struct fx *f = *state;
	uint8_t buf[6 * SECTOR], back[6 * SECTOR];

	outb(f, COUNT, 4);
	command(f, CMD_SET_MULTIPLE);
	expect_completion(f, ST_IDLE, 0);
	fill_pattern(buf, 200, 6);
	task_lba28(f, 200, 6);
	command(f, CMD_WRITE_MULTIPLE);
	write_block(f, buf, 4, false);
	write_block(f, buf + 4 * SECTOR, 2, true);
	host_read(f, 200, back, sizeof(back));
	assert_memory_equal(back, buf, sizeof(buf));

	/* WRITE MULTIPLE EXT, 16-sector blocks, rep outsd. */
	outb(f, COUNT, 16);
	command(f, CMD_SET_MULTIPLE);
	expect_completion(f, ST_IDLE, 0);
	uint8_t big[20 * SECTOR], bigback[20 * SECTOR];
	fill_pattern(big, 500, 20);
	task_lba48(f, 500, 20);
	command(f, CMD_WRITE_MULTIPLE_EXT);
	assert_int_equal(alt_status(f), ST_DATA);
	rep_out(f, big, 4, 16 * SECTOR / 4);
	assert_int_equal(status(f), ST_DATA);
	rep_out(f, big + 16 * SECTOR, 4, 4 * SECTOR / 4);
	expect_completion(f, ST_IDLE, 0);
	host_read(f, 500, bigback, sizeof(bigback));
	assert_memory_equal(bigback, big, sizeof(big));
}

static void test_set_multiple_rejects_bad_sizes(void **state)
{
	struct fx *f = *state;
	static const uint8_t bad[] = { 3, 5, 6, 12, 17, 32, 64, 128, 255 };
	static const uint8_t good[] = { 1, 2, 4, 8, 16 };

	for (unsigned i = 0; i < sizeof(bad); i++) {
		outb(f, COUNT, bad[i]);
		command(f, CMD_SET_MULTIPLE);
		expect_abort(f);
	}
	for (unsigned i = 0; i < sizeof(good); i++) {
		outb(f, COUNT, good[i]);
		command(f, CMD_SET_MULTIPLE);
		expect_completion(f, ST_IDLE, 0);
	}
	/* 0 turns multiple mode off again. */
	outb(f, COUNT, 0);
	command(f, CMD_SET_MULTIPLE);
	expect_completion(f, ST_IDLE, 0);
	task_lba28(f, 0, 1);
	command(f, CMD_READ_MULTIPLE);
	expect_abort(f);
}

/* ---- other commands ------------------------------------------------------- */

static void test_flush_cache_and_flush_cache_ext_succeed(void **state)
{
	struct fx *f = *state;
	uint8_t buf[SECTOR];

	fill_pattern(buf, 3, 1);
	write_sectors(f, 3, 1, buf);
	command(f, CMD_FLUSH_CACHE);
	expect_completion(f, ST_IDLE, 0);
	assert_int_equal(inb(f, ERROR_FEATURE), 0);
	command(f, CMD_FLUSH_CACHE_EXT);
	expect_completion(f, ST_IDLE, 0);
	assert_int_equal(inb(f, ERROR_FEATURE), 0);
}

static void test_set_features_and_power_commands(void **state)
{
	struct fx *f = *state;
	static const uint8_t accepted[] = { 0x02, 0x82, 0x03 };
	static const uint8_t simple[] = { 0x91, 0x10, 0xe0, 0xe1, 0xe2, 0xe3 };

	for (unsigned i = 0; i < sizeof(accepted); i++) {
		outb(f, ERROR_FEATURE, accepted[i]);
		command(f, CMD_SET_FEATURES);
		expect_completion(f, ST_IDLE, 0);
	}
	outb(f, ERROR_FEATURE, 0x55);               /* read look-ahead off: not offered */
	command(f, CMD_SET_FEATURES);
	expect_abort(f);
	for (unsigned i = 0; i < sizeof(simple); i++) {
		command(f, simple[i]);
		expect_completion(f, ST_IDLE, 0);
	}
	outb(f, COUNT, 0);
	command(f, CMD_CHECK_POWER_MODE);
	expect_completion(f, ST_IDLE, 0);
	assert_int_equal(inb(f, COUNT), 0xff);      /* active or idle */
}

/* ---- the write cache --------------------------------------------------------- */

static void set_features(struct fx *f, uint8_t feature)
{
	outb(f, ERROR_FEATURE, feature);
	command(f, CMD_SET_FEATURES);
	expect_completion(f, ST_IDLE, 0);
}

static uint8_t id_sum(const uint16_t id[256])
{
	const uint8_t *bytes = (const uint8_t *)id;
	uint8_t sum = 0;
	for (unsigned i = 0; i < 512; i++)
		sum = (uint8_t)(sum + bytes[i]);
	return sum;
}

#define TRACE_MAX 64
static struct blk_trace trace[TRACE_MAX];

/* WRITE SECTORS of one sector at `lba`; returns how the backend issued
 * it (BLK_TRACE_WRITE or BLK_TRACE_WRITE_DSYNC), checking it was one write
 * of that sector and nothing else. */
static enum blk_trace_op traced_write(struct fx *f, uint32_t lba)
{
	uint8_t buf[SECTOR];
	fill_pattern(buf, lba, 1);
	blk_trace_start(trace, TRACE_MAX);
	write_sectors(f, lba, 1, buf);
	assert_int_equal(blk_trace_stop(), 1);
	assert_int_equal(trace[0].offset, (uint64_t)lba * SECTOR);
	assert_int_equal(trace[0].len, SECTOR);
	return trace[0].op;
}

/* IDENTIFY word 85 says what SET FEATURES last chose (word 82: supported,
 * always), and the choice is real: with the cache off every write is
 * issued write-through; turning it off flushes what it held first. */
static void test_write_cache_switch_is_reported_and_honoured(void **state)
{
	struct fx *f = *state;
	uint16_t id[256];

	identify(f, id);
	assert_true(id[82] & ID_WRITE_CACHE);
	assert_true(id[85] & ID_WRITE_CACHE);       /* on at power-on */
	assert_int_equal(traced_write(f, 7), BLK_TRACE_WRITE);

	blk_trace_start(trace, TRACE_MAX);
	set_features(f, SF_WRITE_CACHE_OFF);
	assert_int_equal(blk_trace_stop(), 1);
	assert_int_equal(trace[0].op, BLK_TRACE_FDATASYNC);
	identify(f, id);
	assert_true(id[82] & ID_WRITE_CACHE);
	assert_false(id[85] & ID_WRITE_CACHE);
	assert_int_equal(id[85] & 0xc000, 0x4000);
	assert_int_equal(id_sum(id), 0);
	assert_int_equal(traced_write(f, 8), BLK_TRACE_WRITE_DSYNC);
	assert_int_equal(traced_write(f, 9), BLK_TRACE_WRITE_DSYNC);

	set_features(f, SF_WRITE_CACHE_ON);
	identify(f, id);
	assert_true(id[85] & ID_WRITE_CACHE);
	assert_int_equal(id_sum(id), 0);
	assert_int_equal(traced_write(f, 10), BLK_TRACE_WRITE);
}

/* What "durable" means for the guest, with unflushed writes lost when the
 * backend closes: written with the cache on and then turned off - kept;
 * written with it off - kept; written with it on and never flushed -
 * lost (which shows the test can tell). */
static void test_write_cache_off_writes_survive_a_crash(void **state)
{
	struct fx *f = *state;
	uint8_t buf[SECTOR], back[SECTOR], zero[SECTOR] = { 0 };

	detach(f);
	setenv(CRASH_ENV, "1", 1);
	new_image(f, SMALL_BYTES);
	attach(f, false);
	fill_pattern(buf, 20, 1);
	write_sectors(f, 20, 1, buf);
	set_features(f, SF_WRITE_CACHE_OFF);
	fill_pattern(buf, 21, 1);
	write_sectors(f, 21, 1, buf);
	set_features(f, SF_WRITE_CACHE_ON);
	fill_pattern(buf, 22, 1);
	write_sectors(f, 22, 1, buf);
	read_sectors(f, 22, 1, back);               /* the device sees its cache */
	assert_pattern(back, 22, 1);
	ide_destroy(f->ide);                        /* the crash */
	f->ide = NULL;
	unsetenv(CRASH_ENV);

	host_read(f, 20, back, SECTOR);
	assert_pattern(back, 20, 1);
	host_read(f, 21, back, SECTOR);
	assert_pattern(back, 21, 1);
	host_read(f, 22, back, SECTOR);
	assert_memory_equal(back, zero, SECTOR);
	unlink(f->path);
}

/* ---- ownership of the disk ------------------------------------------------- */

/* Test only: make the next `calloc_failures` calloc calls fail. Defined
 * here, this calloc replaces libc's for the whole test program; malloc
 * and free stay the real ones (or ASan's), so every block still pairs. */
static int calloc_failures;

void *calloc(size_t n, size_t size)
{
	if (calloc_failures > 0) {
		calloc_failures--;
		errno = ENOMEM;
		return NULL;
	}
	if (size && n > SIZE_MAX / size) {
		errno = ENOMEM;
		return NULL;
	}
	void *p = malloc(n * size);
	if (p)
		explicit_bzero(p, n * size); /* not memset: the compiler would turn malloc+memset back into calloc */
	return p;
}

/* ide_create takes the disk over even when it fails: it is closed, so
 * its exclusive lock on the image is gone and nothing leaks (ASan). */
static void test_create_failure_closes_the_disk(void **state)
{
	struct fx *f = *state;

	ide_destroy(f->ide);
	f->ide = NULL;
	struct blk_backend *b = blk_open(f->path, false, 4);
	assert_non_null(b);
	calloc_failures = 1;
	assert_null(ide_create(b, irq_cb, f));
	assert_int_equal(calloc_failures, 0);       /* the failure did happen */
	b = blk_open(f->path, false, 4);            /* fails if the first one is still open */
	assert_non_null(b);
	blk_close(b);
	unlink(f->path);
}

/* ---- errors with defined results ------------------------------------------ */

static void test_lba_past_end_is_idnf(void **state)
{
	struct fx *f = *state;
	uint64_t before = file_hash(f);

	task_lba28(f, SMALL_SECTORS, 1);
	command(f, CMD_READ_SECTORS);
	expect_idnf(f);
	assert_int_equal(inw(f), 0xffff);
	task_lba28(f, 0x0fffffff, 1);
	command(f, CMD_WRITE_SECTORS);
	expect_idnf(f);
	assert_int_equal(alt_status(f) & ST_DRQ, 0);
	outw(f, 0x1234);                            /* no transfer: vanishes */
	assert_int_equal(file_hash(f), before);
	assert_int_equal(ide_stats(f->ide).errors, 2);
}

static void test_last_sector_ok_count_past_end_idnf(void **state)
{
	struct fx *f = *state;
	uint8_t buf[SECTOR];

	host_pattern(f, SMALL_SECTORS - 1, 1);
	read_sectors(f, SMALL_SECTORS - 1, 1, buf);
	assert_pattern(buf, SMALL_SECTORS - 1, 1);

	task_lba28(f, SMALL_SECTORS - 1, 2);
	command(f, CMD_READ_SECTORS);
	expect_idnf(f);
	task_lba28(f, SMALL_SECTORS - 256, 0);      /* 0 = 256: exactly to the end */
	command(f, CMD_READ_SECTORS);
	assert_int_equal(status(f), ST_DATA);
	command(f, 0xff);                           /* abandon it (aborts) */
	expect_abort(f);
	task_lba28(f, SMALL_SECTORS - 255, 0);      /* one too many */
	command(f, CMD_READ_SECTORS);
	expect_idnf(f);
	task_lba48(f, SMALL_SECTORS - 1, 2);
	command(f, CMD_WRITE_SECTORS_EXT);
	expect_idnf(f);
}

static void test_lba48_counts_that_would_overflow_are_idnf(void **state)
{
	struct fx *f = *state;
	static const struct { uint64_t lba; uint16_t count; } cases[] = {
		{ 0xffffffffffffull, 0xffff },          /* the very top of LBA48 */
		{ 0xffffffffffffull, 0 },
		{ SMALL_SECTORS - 1, 0 },               /* 0 = 65536 sectors */
		{ 0, 0 },                               /* 65536 > 2048 */
		{ 1, SMALL_SECTORS },                   /* one past */
		{ 0x100000000ull, 1 },                  /* 2^32: no truncation to 0 */
		{ 0x800000000000ull, 1 },               /* bit 47 */
	};
	uint64_t before = file_hash(f);

	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		task_lba48(f, cases[i].lba, cases[i].count);
		command(f, CMD_READ_SECTORS_EXT);
		expect_idnf(f);
		task_lba48(f, cases[i].lba, cases[i].count);
		command(f, CMD_WRITE_SECTORS_EXT);
		expect_idnf(f);
	}
	assert_int_equal(file_hash(f), before);
	/* 0..2047 in one go is fine. */
	task_lba48(f, 0, SMALL_SECTORS);
	command(f, CMD_READ_SECTORS_EXT);
	assert_int_equal(status(f), ST_DATA);
}

static void test_unknown_commands_abort(void **state)
{
	struct fx *f = *state;
	/* NOP, DEVICE RESET (ATAPI only), vendor/reserved, DMA and packet commands. */
	static const uint8_t cmds[] = { 0x00, 0x08, 0xff, 0x01, 0x50, 0xa0, 0xa1, 0xc8, 0xca, 0x25,
					0x35, 0xb0, 0xf8, 0x27 };
	for (unsigned i = 0; i < sizeof(cmds); i++) {
		command(f, cmds[i]);
		expect_abort(f);
		assert_int_equal(inw(f), 0xffff);
	}
	assert_int_equal(f->redundant, 0);
	/* The device still works. */
	uint16_t id[256];
	identify(f, id);
	assert_int_equal(id[0], 0x0040);
}

static void test_command_during_read_aborts_and_drops_drq(void **state)
{
	struct fx *f = *state;

	host_pattern(f, 0, 2);
	task_lba28(f, 0, 2);
	command(f, CMD_READ_SECTORS);
	assert_int_equal(status(f), ST_DATA);
	for (unsigned i = 0; i < 10; i++)
		(void)inw(f);
	command(f, CMD_IDENTIFY);
	expect_abort(f);
	assert_int_equal(alt_status(f) & ST_DRQ, 0);
	assert_int_equal(inw(f), 0xffff);
	assert_int_equal(inl(f), 0xffffffffu);

	/* In the middle of IDENTIFY too. */
	command(f, CMD_IDENTIFY);
	assert_int_equal(status(f), ST_DATA);
	(void)inw(f);
	command(f, CMD_READ_SECTORS);
	expect_abort(f);
	assert_int_equal(inw(f), 0xffff);
}

static void test_command_during_write_aborts_and_writes_nothing(void **state)
{
	struct fx *f = *state;
	uint8_t back[SECTOR];

	host_pattern(f, 5, 1);
	task_lba28(f, 5, 1);
	command(f, CMD_WRITE_SECTORS);
	assert_int_equal(alt_status(f), ST_DATA);
	for (unsigned i = 0; i < 100; i++)
		outw(f, 0xdead);
	command(f, CMD_FLUSH_CACHE);
	expect_abort(f);
	for (unsigned i = 0; i < 256; i++)
		outw(f, 0xbeef);                        /* now there is no transfer */
	host_read(f, 5, back, SECTOR);
	assert_pattern(back, 5, 1);
	assert_int_equal(ide_stats(f->ide).sectors_written, 0);
}

static void test_data_port_without_transfer(void **state)
{
	struct fx *f = *state;
	uint64_t before = file_hash(f);
	uint8_t b = 0;

	assert_int_equal(inw(f), 0xffff);
	assert_int_equal(inl(f), 0xffffffffu);
	ide_cmd_io(f->ide, DATA, false, &b, 1);
	assert_int_equal(b, 0xff);
	for (unsigned i = 0; i < 300; i++) {
		outw(f, (uint16_t)(i * 0x101));
		uint8_t d[4] = { 1, 2, 3, 4 };
		ide_cmd_io(f->ide, DATA, true, d, 4);
		ide_cmd_io(f->ide, DATA, true, d, 1);
	}
	assert_int_equal(alt_status(f), ST_IDLE);
	assert_int_equal(f->rises, 0);
	assert_int_equal(file_hash(f), before);
}

static void test_byte_access_to_data_port_moves_nothing(void **state)
{
	struct fx *f = *state;
	uint8_t buf[SECTOR], b = 0;

	host_pattern(f, 17, 1);
	task_lba28(f, 17, 1);
	command(f, CMD_READ_SECTORS);
	assert_int_equal(status(f), ST_DATA);
	ide_cmd_io(f->ide, DATA, false, &b, 1);
	assert_int_equal(b, 0xff);
	b = 0x42;
	ide_cmd_io(f->ide, DATA, true, &b, 1);      /* and a byte write is ignored */
	rep_in(f, buf, 2, 256);                     /* still exactly one sector to read */
	assert_pattern(buf, 17, 1);
	assert_int_equal(alt_status(f), ST_IDLE);
}

static void test_write_to_readonly_disk_aborts(void **state)
{
	struct fx *f = *state;
	uint8_t buf[SECTOR];

	assert_true(reimage(f, SMALL_BYTES, true));
	host_pattern(f, 0, 4);
	uint64_t before = file_hash(f);

	task_lba28(f, 1, 1);
	command(f, CMD_WRITE_SECTORS);
	expect_abort(f);
	for (unsigned i = 0; i < 256; i++)
		outw(f, 0);
	task_lba48(f, 2, 1);
	command(f, CMD_WRITE_SECTORS_EXT);
	expect_abort(f);
	outb(f, COUNT, 2);
	command(f, CMD_SET_MULTIPLE);
	expect_completion(f, ST_IDLE, 0);
	task_lba28(f, 0, 2);
	command(f, CMD_WRITE_MULTIPLE);
	expect_abort(f);
	assert_int_equal(file_hash(f), before);

	read_sectors(f, 3, 1, buf);                 /* reading is fine */
	assert_pattern(buf, 3, 1);
}

static void test_device1_selected_reads_zero_and_ignores_commands(void **state)
{
	struct fx *f = *state;

	outb(f, DEVICE, 0xb0);
	assert_int_equal(status(f), 0x00);
	assert_int_equal(alt_status(f), 0x00);
	assert_int_equal(inb(f, DEVICE), 0xb0);
	command(f, CMD_IDENTIFY);
	assert_int_equal(f->level, 0);
	assert_int_equal(status(f), 0x00);
	task_lba28(f, 0, 1);                        /* back to device 0 (0xe0) */
	assert_int_equal(alt_status(f), ST_IDLE);   /* the IDENTIFY never ran */
	assert_int_equal(inw(f), 0xffff);
	assert_int_equal(ide_stats(f->ide).commands, 0);
	outb(f, DEVICE, 0xf0);                      /* LBA mode, device 1 */
	command(f, CMD_READ_SECTORS);
	assert_int_equal(f->level, 0);
	outb(f, DEVICE, 0xe0);
	assert_int_equal(alt_status(f), ST_IDLE);
	assert_int_equal(f->rises, 0);
}

static void test_nien_masks_irq_line(void **state)
{
	struct fx *f = *state;

	control(f, CTL_NIEN);
	command(f, CMD_IDENTIFY);
	assert_int_equal(f->level, 0);              /* masked... */
	assert_int_equal(alt_status(f), ST_DATA);   /* ...but the command ran */
	control(f, 0);
	assert_int_equal(f->level, 1);              /* the pending interrupt shows */
	control(f, CTL_NIEN);
	assert_int_equal(f->level, 0);
	control(f, 0);
	assert_int_equal(status(f), ST_DATA);
	assert_int_equal(f->level, 0);
	for (unsigned i = 0; i < 256; i++)
		(void)inw(f);

	/* Polling with nIEN set: the driver sees completion in Status alone. */
	control(f, CTL_NIEN);
	host_pattern(f, 1, 2);
	task_lba28(f, 1, 2);
	command(f, CMD_READ_SECTORS);
	uint8_t buf[2 * SECTOR];
	for (unsigned s = 0; s < 2; s++) {
		assert_int_equal(status(f), ST_DATA);
		rep_in(f, buf + s * SECTOR, 2, 256);
	}
	assert_int_equal(status(f), ST_IDLE);
	assert_pattern(buf, 1, 2);
	assert_int_equal(f->rises, 2);              /* only the two unmaskings above */
}

static void test_srst_resets_device_and_drops_transfer(void **state)
{
	struct fx *f = *state;

	host_pattern(f, 0, 2);
	outb(f, ERROR_FEATURE, 0);
	task_lba28(f, 0, 2);
	command(f, CMD_READ_SECTORS);
	assert_int_equal(status(f), ST_DATA);
	for (unsigned i = 0; i < 100; i++)
		(void)inw(f);

	control(f, CTL_SRST | CTL_NIEN);            /* as Linux does it */
	assert_int_equal(alt_status(f), ST_BSY);
	assert_int_equal(status(f), ST_BSY);
	command(f, CMD_IDENTIFY);                   /* ignored while in reset */
	assert_int_equal(alt_status(f), ST_BSY);
	control(f, CTL_NIEN);
	assert_int_equal(alt_status(f), ST_IDLE);
	assert_int_equal(inb(f, COUNT), 1);
	assert_int_equal(inb(f, LBA_LOW), 1);
	assert_int_equal(inb(f, LBA_MID), 0);
	assert_int_equal(inb(f, LBA_HIGH), 0);
	assert_int_equal(inb(f, ERROR_FEATURE), 0x01);
	assert_int_equal(inb(f, DEVICE), 0xa0);
	assert_int_equal(inw(f), 0xffff);           /* the read is gone */
	control(f, 0);
	assert_int_equal(f->level, 0);              /* nothing pending after reset */
	assert_int_equal(status(f), ST_IDLE);

	/* SRST during a write: nothing reaches the disk. */
	uint64_t before = file_hash(f);
	task_lba28(f, 0, 1);
	command(f, CMD_WRITE_SECTORS);
	for (unsigned i = 0; i < 200; i++)
		outw(f, 0x0bad);
	control(f, CTL_SRST);
	control(f, 0);
	for (unsigned i = 0; i < 56; i++)
		outw(f, 0x0bad);
	assert_int_equal(alt_status(f), ST_IDLE);
	assert_int_equal(file_hash(f), before);

	/* And it works afterwards. */
	uint8_t buf[SECTOR];
	read_sectors(f, 1, 1, buf);
	assert_pattern(buf, 1, 1);
}

/* ---- 32-bit and string accesses ------------------------------------------- */

static void test_32bit_data_accesses_move_two_words(void **state)
{
	struct fx *f = *state;
	uint8_t buf[SECTOR], back[SECTOR];

	host_pattern(f, 77, 1);
	task_lba28(f, 77, 1);
	command(f, CMD_READ_SECTORS);
	assert_int_equal(status(f), ST_DATA);
	for (unsigned i = 0; i < SECTOR / 4; i++) {
		uint32_t v = inl(f);
		memcpy(buf + 4 * i, &v, 4);             /* little-endian host, as the guest */
	}
	assert_pattern(buf, 77, 1);
	assert_int_equal(alt_status(f), ST_IDLE);

	fill_pattern(buf, 78, 1);
	task_lba28(f, 78, 1);
	command(f, CMD_WRITE_SECTORS);
	rep_out(f, buf, 4, SECTOR / 4);             /* rep outsd */
	expect_completion(f, ST_IDLE, 0);
	host_read(f, 78, back, SECTOR);
	assert_memory_equal(back, buf, SECTOR);

	/* A dword straddling the end: the word past the end reads FFFFh. */
	task_lba28(f, 77, 1);
	command(f, CMD_READ_SECTORS);
	assert_int_equal(status(f), ST_DATA);
	for (unsigned i = 0; i < 255; i++)
		(void)inw(f);
	uint32_t last = inl(f);
	assert_int_equal(last & 0xffff, pattern_byte(77, 510) | pattern_byte(77, 511) << 8);
	assert_int_equal(last >> 16, 0xffff);
	assert_int_equal(alt_status(f), ST_IDLE);
}

static void test_string_io_crosses_sector_boundaries(void **state)
{
	struct fx *f = *state;
	uint8_t buf[4 * SECTOR];

	/* One rep insw over several sectors of READ SECTORS: the device moves
	 * to the next DRQ block between items, as real hardware does. */
	host_pattern(f, 90, 4);
	task_lba28(f, 90, 4);
	command(f, CMD_READ_SECTORS);
	rep_in(f, buf, 2, 4 * 256);
	assert_pattern(buf, 90, 4);
	assert_int_equal(alt_status(f), ST_IDLE);
}

/* ---- statistics ------------------------------------------------------------ */

static void test_stats_count_commands_sectors_errors(void **state)
{
	struct fx *f = *state;
	uint8_t buf[2 * SECTOR];

	read_sectors(f, 0, 2, buf);
	write_sectors(f, 0, 2, buf);
	command(f, 0x00);
	expect_abort(f);
	struct ide_stats s = ide_stats(f->ide);
	assert_int_equal(s.commands, 3);
	assert_int_equal(s.sectors_read, 2);
	assert_int_equal(s.sectors_written, 2);
	assert_int_equal(s.errors, 1);
	assert_true(s.register_accesses > 1000);    /* every data word is an access */
}

/* ---- randomised hostile sequence ------------------------------------------ */

static uint64_t rng_state;

static uint32_t rnd(void)
{
	/* xorshift64*: deterministic, so a failure replays exactly. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545f4914f6cdd1dull) >> 32);
}

static void test_random_hostile_register_sequence(void **state)
{
	struct fx *f = *state;
	static const uint8_t cmds[] = { 0x20, 0x21, 0x24, 0x29, 0x30, 0x31, 0x34, 0x39, 0xc4, 0xc5, 0xc6,
					0xe7, 0xea, 0xec, 0xef, 0x91, 0x10, 0xe0, 0xe5, 0x00, 0x08 };
	static const unsigned sizes[] = { 1, 2, 4 };
	bool srst = false, nien = false;
	unsigned transfers = 0;

	rng_state = 0x2545f4914f6cdd1dull;
	for (unsigned step = 0; step < 20000; step++) {
		unsigned port = rnd() % 12;             /* 0-7 command block, 8 control, 9-11 data again */
		if (port > 8)
			port = DATA;
		unsigned size = sizes[rnd() % 3];
		bool write = rnd() & 1;
		uint8_t d[4];
		uint32_t r = rnd();
		memcpy(d, &r, 4);

		/* Bias the values towards what makes the device do something. */
		if (write && port == STATUS_COMMAND && rnd() % 4)
			d[0] = cmds[rnd() % sizeof(cmds)];
		if (write && port == DEVICE && rnd() % 4)
			d[0] = (rnd() & 1) ? 0xe0 : 0x40;
		if (write && (port == COUNT || port == LBA_MID || port == LBA_HIGH) && rnd() % 2)
			d[0] = (uint8_t)(rnd() % 4);        /* small addresses fit the disk */
		if (write && port == 8 && rnd() % 4)
			d[0] &= CTL_NIEN | CTL_HOB;         /* out of reset most of the time */

		uint8_t dev = inb(f, DEVICE);
		uint8_t before = alt_status(f);
		bool quiet = !(dev & 0x10) && !srst && !(before & ST_DRQ);

		if (port == 8)
			ide_ctl_io(f->ide, 0, write, d, size);
		else
			ide_cmd_io(f->ide, (uint16_t)port, write, d, size);
		if (port == 8 && write) {
			srst = d[0] & CTL_SRST;
			nien = d[0] & CTL_NIEN;
		}

		if (!write && port != DATA)
			for (unsigned i = 1; i < size; i++)
				assert_int_equal(d[i], 0xff);   /* a byte register: the rest reads FFh */
		if (!write && port == DATA && quiet)
			for (unsigned i = 0; i < size; i++)
				assert_int_equal(d[i], 0xff);   /* no transfer: FFFFh */

		uint8_t st = alt_status(f);
		dev = inb(f, DEVICE);
		if (dev & 0x10) {
			assert_int_equal(st, 0x00);
		} else if (srst) {
			assert_int_equal(st, ST_BSY);
		} else {
			assert_int_equal(st & (ST_DRDY | ST_DSC), ST_DRDY | ST_DSC);
			assert_int_equal(st & ~(ST_DRDY | ST_DSC | ST_DRQ | ST_ERR), 0); /* no BSY, DF, CORR, IDX */
			if (st & ST_ERR) {
				assert_int_equal(st & ST_DRQ, 0);
				assert_int_not_equal(inb(f, ERROR_FEATURE), 0);
			}
			if ((st & ST_DRQ) && !(before & ST_DRQ))
				transfers++;
		}
		if (nien)
			assert_int_equal(f->level, 0);
		assert_int_equal(f->redundant, 0);
	}
	assert_true(transfers > 50);                /* the walk really moved data */

	/* Settle: out of reset, device 0, then finish whatever transfer is open
	 * (DRQ means a transfer the data port moves forward, and it ends). */
	control(f, 0);
	outb(f, DEVICE, 0xe0);
	unsigned guard = 0;
	while (alt_status(f) & ST_DRQ) {
		(void)inw(f);
		outw(f, 0);
		assert_true(++guard < 1u << 21);
	}
	assert_int_equal(alt_status(f) & (ST_DRDY | ST_DSC | ST_DRQ), ST_DRDY | ST_DSC);
	(void)status(f);
	uint16_t id[256];
	identify(f, id);
	assert_int_equal(id[0], 0x0040);
	assert_int_equal(id[60] | (uint32_t)id[61] << 16, SMALL_SECTORS);
}

#define BOTH(fn) \
	{ #fn " (io_uring)", fn, setup_uring, teardown, NULL }, \
	{ #fn " (sync)", fn, setup_sync, teardown, NULL }

int main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH(test_power_on_status_and_signature),
		BOTH(test_identify_raises_irq_and_drq_status_read_clears_irq),
		BOTH(test_identify_device_data),
		BOTH(test_identify_capacity_mid_disk),
		BOTH(test_read_sectors_one),
		BOTH(test_read_sectors_three_drq_and_irq_per_sector),
		BOTH(test_read_sectors_count_zero_means_256),
		BOTH(test_read_sectors_uses_lba_bits_24_27_from_device),
		BOTH(test_write_sectors_reach_the_file),
		BOTH(test_write_sectors_alias_0x31_and_read_alias_0x21),
		BOTH(test_read_write_sectors_ext_with_hob_registers),
		BOTH(test_read_sectors_ext_count_from_hob_byte),
		BOTH(test_lba48_registers_are_a_two_deep_fifo),
		BOTH(test_hob_readback_with_device_control_bit7),
		BOTH(test_read_multiple_ext_count_zero_means_65536),
		BOTH(test_huge_disk_lba48_addressing_and_identify),
		BOTH(test_lba28_commands_stop_at_0ffffffe_on_huge_disk),
		BOTH(test_chs_addressing_maps_to_lba),
		BOTH(test_multiple_commands_abort_before_set_multiple),
		BOTH(test_set_multiple_8_then_read_multiple_16_is_two_blocks),
		BOTH(test_read_multiple_last_block_is_partial),
		BOTH(test_write_multiple_blocks_reach_the_file),
		BOTH(test_set_multiple_rejects_bad_sizes),
		BOTH(test_flush_cache_and_flush_cache_ext_succeed),
		BOTH(test_set_features_and_power_commands),
		BOTH(test_write_cache_switch_is_reported_and_honoured),
		BOTH(test_write_cache_off_writes_survive_a_crash),
		BOTH(test_create_failure_closes_the_disk),
		BOTH(test_lba_past_end_is_idnf),
		BOTH(test_last_sector_ok_count_past_end_idnf),
		BOTH(test_lba48_counts_that_would_overflow_are_idnf),
		BOTH(test_unknown_commands_abort),
		BOTH(test_command_during_read_aborts_and_drops_drq),
		BOTH(test_command_during_write_aborts_and_writes_nothing),
		BOTH(test_data_port_without_transfer),
		BOTH(test_byte_access_to_data_port_moves_nothing),
		BOTH(test_write_to_readonly_disk_aborts),
		BOTH(test_device1_selected_reads_zero_and_ignores_commands),
		BOTH(test_nien_masks_irq_line),
		BOTH(test_srst_resets_device_and_drops_transfer),
		BOTH(test_32bit_data_accesses_move_two_words),
		BOTH(test_string_io_crosses_sector_boundaries),
		BOTH(test_stats_count_commands_sectors_errors),
		BOTH(test_random_hostile_register_sequence),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
