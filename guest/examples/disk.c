/* The synchronous block API: write a random pattern to a disk, read it
 * back, compare, and time it with <time.h>.
 *   truncate -s 1M disk.img
 *   build/pvmm run --disk disk.img build/examples/disk.elf [SECTOR]
 * Exit status: 0 the data came back, 1 no disk, 2 an I/O error, 3 a
 * mismatch. The disk keeps the pattern (the host can check it). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <pvmm/blk.h>
#include <pvmm/guest.h>

#define SECTORS 8 /* 4 KiB */

static uint8_t out[SECTORS * 512], in[SECTORS * 512];

static uint64_t elapsed_us(const struct timespec *a, const struct timespec *b)
{
	int64_t ns = (int64_t)(b->tv_sec - a->tv_sec) * 1000000000 + (b->tv_nsec - a->tv_nsec);
	return (uint64_t)ns / 1000;
}

int main(int argc, char **argv)
{
	struct blk_dev *d = blk_first();
	if (!d) {
		puts("no disk: run with --disk FILE");
		return 1;
	}
	uint64_t sector = argc > 1 ? strtoull(argv[1], NULL, 0) : 0;
	printf("disk: %" PRIu64 " sectors (%" PRIu64 " KiB)%s\n", blk_capacity(d),
	       blk_capacity(d) / 2, blk_readonly(d) ? ", read-only" : "");

	/* A pattern nobody can have left there: random bytes from the monitor. */
	if (pvmm_getrandom(out, sizeof(out)) != 0) {
		puts("no random bytes");
		return 2;
	}
	struct timespec t0, t1, t2;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int err = blk_write(d, sector, out, SECTORS);
	if (!err && blk_can_flush(d))
		err = blk_flush(d);
	if (err) {
		printf("write at sector %" PRIu64 ": %s\n", sector, blk_strerror(err));
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);

	usleep(10000); /* 10 ms in the monitor: the data must still be there */

	memset(in, 0, sizeof(in));
	err = blk_read(d, sector, in, SECTORS);
	if (err) {
		printf("read at sector %" PRIu64 ": %s\n", sector, blk_strerror(err));
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &t2);
	if (memcmp(in, out, sizeof(in)) != 0) {
		puts("MISMATCH: what was read is not what was written");
		return 3;
	}
	printf("wrote and read back %u bytes at sector %" PRIu64 ": identical "
	       "(write %" PRIu64 " us, read after a 10 ms sleep %" PRIu64 " us)\n",
	       (unsigned)sizeof(out), sector, elapsed_us(&t0, &t1), elapsed_us(&t1, &t2));
	return 0;
}
