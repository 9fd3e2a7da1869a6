/*
 * blkrw: the requests of Solo5's block test (tests/test_blk in Solo5),
 * done the pvmm way. Its time is not comparable with Solo5's: the guest
 * code below is much leaner than Solo5's test, and on hosts without VT-x
 * guest instructions, not the monitor, dominate (see bench/README.md).
 *
 * Same work: for every 10th 512-byte sector of the first disk, write the
 * sector with the pattern '0' + i % 10, read it back, compare; run with
 * `--disk IMAGE` (Solo5's test uses a 4 MiB image: 820 sectors). What
 * differs is how the guest does it: the pattern is built once (it is the
 * same for every sector), the read buffer is cleared and compared with
 * 8-byte string instructions, and each request is a synchronous virtio-blk
 * request (about a hundred guest instructions, one QueueNotify, one POLL).
 *
 * `blkrw [STEP]` (default 10). Prints
 *     blkrw sectors=N bytes=B elapsed_ms=T
 *     SUCCESS
 * and exits 0; on a mismatch or an error prints FAILURE and exits 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pvmm/blk.h>
#include <pvmm/guest.h>

#define SECTOR 512

static uint8_t wbuf[SECTOR] __attribute__((aligned(64)));
static uint8_t rbuf[SECTOR] __attribute__((aligned(64)));

int main(int argc, char **argv)
{
	uint64_t step = argc > 1 ? strtoull(argv[1], NULL, 0) : 10;
	struct blk_dev *d = blk_first();
	if (!d || step == 0) {
		printf("blkrw: no disk (%s)\nFAILURE\n", blk_strerror(blk_open_error()));
		return 1;
	}
	for (int i = 0; i < SECTOR; i++)
		wbuf[i] = (uint8_t)('0' + i % 10);

	uint64_t start = pvmm_now_ns();
	uint64_t cap = blk_capacity(d), n = 0;
	for (uint64_t s = 0; s < cap; s += step) {
		memset(rbuf, 0, SECTOR);
		int err = blk_write(d, s, wbuf, 1);
		if (!err)
			err = blk_read(d, s, rbuf, 1);
		if (err || memcmp(wbuf, rbuf, SECTOR)) {
			printf("blkrw: sector %llu: %s\nFAILURE\n", (unsigned long long)s,
			       err ? blk_strerror(err) : "read back differs");
			return 1;
		}
		n++;
	}
	uint64_t ns = pvmm_now_ns() - start;
	printf("blkrw sectors=%llu bytes=%llu elapsed_ms=%llu\n", (unsigned long long)n,
	       (unsigned long long)(n * SECTOR), (unsigned long long)(ns / PVMM_NS_PER_MS));
	printf("SUCCESS\n");
	return 0;
}
