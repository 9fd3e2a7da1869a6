/*
 * Fuzz target: the emulated IDE disk's register model (src/devices/ide.c)
 * as a hostile guest drives it: any port access, of any size, as string
 * I/O or not, in any order, through the real port bus (pio_dispatch).
 *
 * The disk is a sparse temporary image opened with blk_open(), the way
 * tests/unit/test_ide.c does it, on one of four sizes: one sector, 64 KiB,
 * past the CHS geometry's 16383 cylinders, and past LBA28's 0FFFFFFFh
 * sectors. The files are unlinked at once and reopened through
 * /proc/self/fd, so nothing is left behind even when the fuzzer dies, and
 * each input starts from an all-zero image (truncated and re-extended).
 * They live in /dev/shm where it exists (see image_dir()).
 *
 * Input:
 *   u8 cfg     bits 0-1: image size; bit 2: read-only; bit 3: synchronous
 *              backend instead of io_uring (PVMM_BLK_NO_URING)
 *   then port accesses until the input ends, each:
 *     u8 op    bits 0-3: which port (mod 10): 0-7 the command block
 *              0x1f0-0x1f7, 8 the control port 0x3f6, 9 the unclaimed 0x3f7;
 *              bit 4: write; bits 5-6: size 1, 2, 4 (3 reads as 1);
 *              bit 7: string I/O, u8 reps - 1 follows
 *     writes: size * reps bytes of data
 *
 * Checked besides memory safety: the IRQ callback only reports changes of
 * level; BSY and DRQ are never both set; bytes of a read wider than the
 * register read as FFh; unclaimed ports reach nobody; the device counts
 * exactly the register accesses made.
 */
#include <fcntl.h>
#include <unistd.h>

#include "blk_backend.h"
#include "devices/ide.h"
#include "fuzz_common.h"
#include "pio.h"

#define SECTOR 512ull
#define N_IMAGES 4
#define MAX_REPS 256u

static const uint64_t image_bytes[N_IMAGES] = {
	SECTOR,
	64ull << 10,
	(16383ull * 16 * 63 + 1024) * SECTOR, /* more cylinders than CHS can name */
	(0x0fffffffull + 16) * SECTOR,        /* past LBA28 */
};

static int image_fd[N_IMAGES];
static bool images_ready;
static int irq_level;

static void irq_cb(void *ctx, int level)
{
	(void)ctx;
	FUZZ_CHECK(level == 0 || level == 1);
	FUZZ_CHECK(level != irq_level);
	irq_level = level;
}

/* tmpfs if there is one: FLUSH CACHE is a real fdatasync, milliseconds on
 * a disk, and a guest issues one in a few bytes of input. */
static const char *image_dir(void)
{
	const char *tmp = getenv("TMPDIR");
	if (access("/dev/shm", W_OK) == 0)
		return "/dev/shm";
	return tmp && *tmp && strlen(tmp) < 200 ? tmp : "/tmp";
}

static void make_images(void)
{
	const char *dir = image_dir();
	for (unsigned i = 0; i < N_IMAGES; i++) {
		char path[256];
		snprintf(path, sizeof(path), "%s/pvmm-fuzz-ide-XXXXXX", dir);
		image_fd[i] = mkstemp(path);
		FUZZ_CHECK(image_fd[i] >= 0);
		unlink(path);
	}
	images_ready = true;
}

static uint16_t port_of(unsigned reg)
{
	if (reg < IDE_CMD_PORTS)
		return (uint16_t)(IDE_CMD_BASE + reg);
	return reg == IDE_CMD_PORTS ? IDE_CTL_PORT : IDE_CTL_PORT + 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = fuzz_in(data, size);
	char path[64];

	if (!images_ready)
		make_images();

	uint8_t cfg = fuzz_u8(&in);
	unsigned img = cfg & 3;
	/* A fresh all-zero image for every input: the last one's writes go. */
	FUZZ_CHECK(ftruncate(image_fd[img], 0) == 0);
	FUZZ_CHECK(ftruncate(image_fd[img], (off_t)image_bytes[img]) == 0);
	if (cfg & 8)
		setenv("PVMM_BLK_NO_URING", "1", 1);
	else
		unsetenv("PVMM_BLK_NO_URING");
	snprintf(path, sizeof(path), "/proc/self/fd/%d", image_fd[img]);
	struct blk_backend *disk = blk_open(path, cfg & 4, 4);
	FUZZ_CHECK(disk);
	irq_level = 0;
	struct ide *ide = ide_create(disk, irq_cb, NULL);
	FUZZ_CHECK(ide);

	struct pio_bus bus;
	memset(&bus, 0, sizeof(bus));
	FUZZ_CHECK(pio_register(&bus, IDE_CMD_BASE, IDE_CMD_PORTS, "ide", ide_cmd_io, ide) == 0);
	FUZZ_CHECK(pio_register(&bus, IDE_CTL_PORT, 1, "ide-ctl", ide_ctl_io, ide) == 0);

	uint64_t accesses = 0;
	while (fuzz_more(&in)) {
		static uint8_t buf[4 * MAX_REPS];
		uint8_t op = fuzz_u8(&in);
		unsigned reg = (op & 0x0f) % (IDE_CMD_PORTS + 2);
		bool is_write = op & 0x10;
		unsigned width = (op >> 5) & 3, io_size = width == 1 ? 2 : width == 2 ? 4 : 1;
		unsigned reps = (op & 0x80) ? fuzz_u8(&in) + 1u : 1;
		uint16_t port = port_of(reg);

		if (is_write)
			fuzz_bytes(&in, buf, (size_t)io_size * reps);
		else
			memset(buf, 0xcc, (size_t)io_size * reps);
		bool claimed = pio_dispatch(&bus, port, is_write, buf, io_size, reps);
		FUZZ_CHECK(claimed == (reg <= IDE_CMD_PORTS));
		if (claimed)
			accesses += reps;
		if (is_write || !claimed)
			continue;
		for (unsigned i = 0; i < reps; i++) {
			const uint8_t *item = buf + i * io_size;
			if (port == IDE_CMD_BASE + 7 || port == IDE_CTL_PORT)
				FUZZ_CHECK((item[0] & 0x88) != 0x88); /* BSY with DRQ */
			/* Registers are 8 bits wide: the rest of a wider read is FFh.
			 * The data port moves words; a byte read of it is all FFh. */
			if (port != IDE_CMD_BASE)
				for (unsigned b = 1; b < io_size; b++)
					FUZZ_CHECK(item[b] == 0xff);
			else if (io_size == 1)
				FUZZ_CHECK(item[0] == 0xff);
		}
	}
	FUZZ_CHECK(ide_stats(ide).register_accesses == accesses);
	ide_destroy(ide);
	return 0;
}

/* ---- seeds ---------------------------------------------------------------- */

enum { OP_W = 0x10, OP_16 = 0x20, OP_32 = 0x40, OP_REP = 0x80 };
enum { R_DATA, R_FEAT, R_COUNT, R_LBA0, R_LBA1, R_LBA2, R_DEV, R_CMD, R_CTL };

struct seed {
	uint8_t bytes[4096];
	size_t len;
};

static void put8(struct seed *s, uint8_t v)
{
	s->bytes[s->len++] = v;
}

static void outb(struct seed *s, unsigned reg, uint8_t v)
{
	put8(s, (uint8_t)(OP_W | reg));
	put8(s, v);
}

static void inb(struct seed *s, unsigned reg)
{
	put8(s, (uint8_t)reg);
}

/* rep insw/outsw of one sector (256 words); outsw data is a pattern. */
static void rep_sector(struct seed *s, bool write)
{
	put8(s, (uint8_t)(OP_REP | OP_16 | (write ? OP_W : 0) | R_DATA));
	put8(s, 255);
	if (write)
		for (unsigned i = 0; i < 512; i++)
			put8(s, (uint8_t)(i * 7));
}

/* The task file for a 28-bit LBA command. */
static void task28(struct seed *s, uint8_t count, uint32_t lba)
{
	outb(s, R_COUNT, count);
	outb(s, R_LBA0, (uint8_t)lba);
	outb(s, R_LBA1, (uint8_t)(lba >> 8));
	outb(s, R_LBA2, (uint8_t)(lba >> 16));
	outb(s, R_DEV, (uint8_t)(0x40 | ((lba >> 24) & 0x0f)));
}

void fuzz_seeds(fuzz_emit_fn *emit)
{
	struct seed s;

	/* IDENTIFY, read back through 32-bit string I/O (128 dwords). */
	s.len = 0;
	put8(&s, 1);
	outb(&s, R_DEV, 0x40);
	outb(&s, R_CMD, 0xec);
	inb(&s, R_CMD);
	put8(&s, OP_REP | OP_32 | R_DATA);
	put8(&s, 127);
	inb(&s, R_CMD);
	emit("identify", s.bytes, s.len);

	/* WRITE SECTORS then READ SECTORS of the same sector, io_uring. */
	s.len = 0;
	put8(&s, 1);
	task28(&s, 1, 5);
	outb(&s, R_CMD, 0x30);
	rep_sector(&s, true);
	inb(&s, R_CMD);
	task28(&s, 1, 5);
	outb(&s, R_CMD, 0x20);
	inb(&s, R_CMD);
	rep_sector(&s, false);
	inb(&s, R_FEAT);
	emit("write-read", s.bytes, s.len);

	/* SET MULTIPLE 2, READ MULTIPLE EXT across LBA28's end, synchronous
	 * backend on the big image; HOB readback of the LBA registers. */
	s.len = 0;
	put8(&s, 3 | 8);
	outb(&s, R_COUNT, 2);
	outb(&s, R_CMD, 0xc6);
	inb(&s, R_CMD);
	const uint64_t lba = 0x0ffffffeull;
	outb(&s, R_COUNT, 0);
	outb(&s, R_COUNT, 4);
	for (unsigned i = 0; i < 2; i++) {
		outb(&s, R_LBA0, (uint8_t)(lba >> (24 * (1 - i))));
		outb(&s, R_LBA1, (uint8_t)(lba >> (24 * (1 - i) + 8)));
		outb(&s, R_LBA2, (uint8_t)(lba >> (24 * (1 - i) + 16)));
	}
	outb(&s, R_DEV, 0x40);
	outb(&s, R_CMD, 0x29);
	inb(&s, R_CMD);
	rep_sector(&s, false);
	rep_sector(&s, false);
	outb(&s, R_CTL, 0x80);
	inb(&s, R_LBA0);
	inb(&s, R_COUNT);
	emit("multiple-lba48", s.bytes, s.len);

	/* CHS read, a command during DRQ (abort), software reset, flush on a
	 * read-only one-sector disk, write refused. */
	s.len = 0;
	put8(&s, 0 | 4);
	outb(&s, R_COUNT, 1);
	outb(&s, R_LBA0, 1);
	outb(&s, R_LBA1, 0);
	outb(&s, R_LBA2, 0);
	outb(&s, R_DEV, 0x00);
	outb(&s, R_CMD, 0x20);
	outb(&s, R_CMD, 0xec);
	inb(&s, R_FEAT);
	outb(&s, R_CTL, 0x06);
	inb(&s, R_CTL);
	outb(&s, R_CTL, 0x02);
	outb(&s, R_CMD, 0xe7);
	task28(&s, 1, 0);
	outb(&s, R_CMD, 0x30);
	inb(&s, R_CMD);
	put8(&s, 9);
	emit("chs-reset-readonly", s.bytes, s.len);
}
