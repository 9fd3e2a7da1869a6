/*
 * virtio-blk through the runtime's driver (<pvmm/blk.h>), one scenario per
 * run: `blk_rw.elf CASE [args]`. Run with `--disk IMAGE` (the first disk
 * is the one used). Every case prints what it saw, one `key=value` line
 * or a few, ending with `CASE ok` and exit 0, or `CASE FAIL: why` and
 * exit 1. Errors print as `-N (ENAME)`.
 *
 * Checksums are POSIX cksum (CRC-32 of the bytes, then of the length),
 * printed as `cksum SECTOR COUNT: CRC LENGTH`, so the host checks them
 * with `dd ... | cksum`.
 *
 * Patterns: sector s of pattern P is 64 copies of the 8 bytes
 * printf '%c%06u\n' P s  (e.g. "A000007\n"), easy to make on the host.
 *
 *   info                     capacity, features, id
 *   rw N                     write pattern A to sectors 0..N-1 and the last
 *                            sector, flush, read back and compare
 *   readhost S N             print the checksum of sectors S..S+N-1
 *   writepattern P S N       write pattern P to sectors S..S+N-1, flush
 *   capacity                 last sector ok; one past the end and a read
 *                            straddling the end fail with ERANGE
 *   readonly                 reads work, write/discard/write-zeroes fail
 *   flush S                  write pattern F to sector S, flush, print
 *                            "flushed", then sleep until killed
 *   inflight poll|irq        32 asynchronous requests (16 writes, 16 reads)
 *                            in flight at once; each must complete once
 *   extras                   get_id, write zeroes, discard
 *   disks                    every disk: count, capacity, read-only flag
 *   idle N MS                N one-sector reads, then sleep MS ms with the
 *                            disk attached (the device's poll window must
 *                            not keep the I/O thread busy meanwhile)
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pvmm/blk.h>
#include <pvmm/guest.h>
#include <pvmm/irq.h>

#define SECTOR BLK_SECTOR_SIZE

static struct blk_dev *disk;
static const char *case_name;

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
	char msg[200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	printf("%s FAIL: %s\n", case_name, msg);
	return 1;
}

static void *alloc_sectors(uint32_t n)
{
	void *p = page_alloc((n * SECTOR + PVMM_PAGE_SIZE - 1) / PVMM_PAGE_SIZE);
	if (!p)
		panic("out of pages");
	return p;
}

/* ---- POSIX cksum ------------------------------------------------------- */

static uint32_t crc_table[256];

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i << 24;
		for (int k = 0; k < 8; k++)
			c = (c << 1) ^ ((c & 0x80000000u) ? 0x04c11db7u : 0);
		crc_table[i] = c;
	}
}

static void print_cksum(uint64_t sector, uint32_t count, const uint8_t *p)
{
	if (!crc_table[1])
		crc_init();
	uint32_t crc = 0;
	uint64_t len = (uint64_t)count * SECTOR;
	for (uint64_t i = 0; i < len; i++)
		crc = (crc << 8) ^ crc_table[(crc >> 24) ^ p[i]];
	for (uint64_t n = len; n; n >>= 8)
		crc = (crc << 8) ^ crc_table[(crc >> 24) ^ (n & 0xff)];
	printf("cksum %llu %u: %u %llu\n", (unsigned long long)sector, count, ~crc, (unsigned long long)len);
}

/* ---- Patterns ----------------------------------------------------------- */

/* 64 copies of "P%06u\n" (8 bytes): one rep stosq. */
static void fill_sector(uint8_t *p, char pat, uint64_t s)
{
	char q[9];
	snprintf(q, sizeof(q), "%c%06u\n", pat, (unsigned)(s % 1000000));
	uint64_t v;
	memcpy(&v, q, 8);
	uint64_t n = SECTOR / 8;
	__asm__ volatile("rep stosq" : "+D"(p), "+c"(n) : "a"(v) : "memory");
}

static const char *err_str(int err)
{
	static char buf[32];
	snprintf(buf, sizeof(buf), "%d (%s)", err, blk_strerror(err));
	return buf;
}

/* ---- Cases ----------------------------------------------------------------- */

static int case_info(void)
{
	char id[BLK_ID_BYTES + 1] = { 0 };
	int r = blk_get_id(disk, id);
	printf("capacity=%llu block_size=%u readonly=%d flush=%d discard=%d write_zeroes=%d queue=%u max_sectors=%u\n",
	       (unsigned long long)blk_capacity(disk), blk_block_size(disk), blk_readonly(disk), blk_can_flush(disk),
	       blk_can_discard(disk), blk_can_write_zeroes(disk), blk_queue_size(disk), blk_max_sectors(disk));
	printf("get_id=%s id=%s\n", err_str(r), id);
	return 0;
}

static int case_rw(uint32_t n)
{
	uint64_t cap = blk_capacity(disk);
	if (n == 0 || n >= cap)
		return fail("N=%u must be 1..capacity-1 (capacity %llu)", n, (unsigned long long)cap);
	uint8_t *w = alloc_sectors(n), *r = alloc_sectors(n), *last = alloc_sectors(1);
	for (uint32_t s = 0; s < n; s++)
		fill_sector(w + s * SECTOR, 'A', s);
	fill_sector(last, 'A', cap - 1);
	int err;
	if ((err = blk_write(disk, 0, w, n)))
		return fail("write 0..%u: %s", n - 1, err_str(err));
	if ((err = blk_write(disk, cap - 1, last, 1)))
		return fail("write last: %s", err_str(err));
	if ((err = blk_flush(disk)))
		return fail("flush: %s", err_str(err));
	memset(r, 0, n * SECTOR);
	if ((err = blk_read(disk, 0, r, n)))
		return fail("read 0..%u: %s", n - 1, err_str(err));
	if (memcmp(w, r, n * SECTOR))
		return fail("sectors 0..%u read back differ", n - 1);
	/* One sector at a time too: many small requests. */
	for (uint32_t s = 0; s < n; s++) {
		memset(r, 0, SECTOR);
		if ((err = blk_read(disk, s, r, 1)))
			return fail("read %u: %s", s, err_str(err));
		if (memcmp(w + s * SECTOR, r, SECTOR))
			return fail("sector %u read back differs", s);
	}
	memset(r, 0, SECTOR);
	if ((err = blk_read(disk, cap - 1, r, 1)))
		return fail("read last: %s", err_str(err));
	if (memcmp(last, r, SECTOR))
		return fail("last sector read back differs");
	print_cksum(0, n, w);
	print_cksum(cap - 1, 1, last);
	printf("rw ok sectors=%u\n", n + 1);
	return 0;
}

static int case_readhost(uint64_t s, uint32_t n)
{
	uint8_t *r = alloc_sectors(n);
	int err = blk_read(disk, s, r, n);
	if (err)
		return fail("read %llu+%u: %s", (unsigned long long)s, n, err_str(err));
	print_cksum(s, n, r);
	/* The host wrote pattern H; say whether it is there. */
	uint8_t *want = alloc_sectors(1);
	uint32_t bad = 0;
	for (uint32_t i = 0; i < n; i++) {
		fill_sector(want, 'H', s + i);
		bad += memcmp(want, r + i * SECTOR, SECTOR) != 0;
	}
	printf("host_pattern_mismatches=%u\n", bad);
	printf("readhost ok\n");
	return 0;
}

static int case_writepattern(char pat, uint64_t s, uint32_t n)
{
	uint8_t *w = alloc_sectors(n);
	for (uint32_t i = 0; i < n; i++)
		fill_sector(w + i * SECTOR, pat, s + i);
	int err = blk_write(disk, s, w, n);
	if (!err)
		err = blk_flush(disk);
	if (err)
		return fail("write %llu+%u: %s", (unsigned long long)s, n, err_str(err));
	printf("writepattern ok\n");
	return 0;
}

static int case_capacity(void)
{
	uint64_t cap = blk_capacity(disk);
	uint8_t *buf = alloc_sectors(2);
	printf("capacity=%llu\n", (unsigned long long)cap);
	int last = blk_read(disk, cap - 1, buf, 1);
	int past = blk_read(disk, cap, buf, 1);
	int straddle = blk_read(disk, cap - 1, buf, 2);
	int wpast = blk_write(disk, cap, buf, 1);
	int far = blk_read(disk, UINT64_MAX, buf, 1);
	printf("last=%s\n", err_str(last));
	printf("past_end=%s\n", err_str(past));
	printf("straddle=%s\n", err_str(straddle));
	printf("write_past_end=%s\n", err_str(wpast));
	printf("far=%s\n", err_str(far));
	/* Still working afterwards. */
	int again = blk_read(disk, 0, buf, 1);
	printf("after=%s\n", err_str(again));
	if (last || past != -BLK_ERANGE || straddle != -BLK_ERANGE || wpast != -BLK_ERANGE ||
	    far != -BLK_ERANGE || again)
		return fail("unexpected results");
	printf("capacity ok\n");
	return 0;
}

static int case_readonly(void)
{
	uint8_t *buf = alloc_sectors(1);
	printf("readonly=%d\n", blk_readonly(disk));
	int rd = blk_read(disk, 0, buf, 1);
	printf("read=%s\n", err_str(rd));
	print_cksum(0, 1, buf);
	int wr = blk_write(disk, 0, buf, 1);
	printf("write=%s\n", err_str(wr));
	if (blk_can_write_zeroes(disk))
		printf("write_zeroes=%s\n", err_str(blk_write_zeroes(disk, 0, 1, false)));
	if (blk_can_discard(disk))
		printf("discard=%s\n", err_str(blk_discard(disk, 0, 1)));
	int rd2 = blk_read(disk, 0, buf, 1);
	printf("read_after=%s\n", err_str(rd2));
	if (!blk_readonly(disk) || rd || wr != -BLK_EIO || rd2)
		return fail("unexpected results");
	printf("readonly ok\n");
	return 0;
}

static int case_flush(uint64_t s)
{
	uint8_t *w = alloc_sectors(1);
	fill_sector(w, 'F', s);
	int err = blk_write(disk, s, w, 1);
	if (!err)
		err = blk_flush(disk);
	if (err)
		return fail("write+flush: %s", err_str(err));
	printf("flushed\n");
	fflush(stdout);
	for (;;)
		sleep(60); /* until the test kills the monitor */
}

/* ---- Many requests in flight ------------------------------------------------ */

#define INFLIGHT 32
#define W_BASE 100 /* writes go to sectors W_BASE + k */
#define R_BASE 200 /* reads come from sectors R_BASE + k */

static struct blk_req reqs[INFLIGHT];

static int case_inflight(const char *mode)
{
	bool irq = !strcmp(mode, "irq");
	if (!irq && strcmp(mode, "poll"))
		return fail("mode must be poll or irq");
	if (blk_capacity(disk) < R_BASE + INFLIGHT)
		return fail("disk too small");
	if (blk_queue_size(disk) < INFLIGHT)
		return fail("queue of %u entries", blk_queue_size(disk));
	int err;
	if (irq && (err = blk_set_mode(disk, BLK_MODE_IRQ)))
		return fail("irq mode: %s", err_str(err));
	uint8_t *data = alloc_sectors(INFLIGHT);
	uint8_t *check = alloc_sectors(1);
	/* Readable sectors with known contents first. */
	for (unsigned k = 0; k < INFLIGHT; k++)
		fill_sector(data + k * SECTOR, 'R', R_BASE + k);
	if ((err = blk_write(disk, R_BASE, data, INFLIGHT)))
		return fail("prepare: %s", err_str(err));

	/* Even tags write sector W_BASE + k, odd tags read R_BASE + k. */
	for (unsigned k = 0; k < INFLIGHT; k++) {
		struct blk_req *q = &reqs[k];
		memset(q, 0, sizeof(*q));
		q->tag = 1000 + k;
		q->count = 1;
		q->buf = data + k * SECTOR;
		if (k % 2 == 0) {
			q->op = BLK_OP_WRITE;
			q->sector = W_BASE + k;
			fill_sector(q->buf, 'W', W_BASE + k);
		} else {
			q->op = BLK_OP_READ;
			q->sector = R_BASE + k;
			memset(q->buf, 0, SECTOR);
		}
		if ((err = blk_submit(disk, q)))
			return fail("submit %u: %s", k, err_str(err));
	}
	/* Kick before printing: the print is an exit, long enough at ring 3
	 * for the device to finish everything before the kick could arm an
	 * interrupt, which would leave interrupt mode nothing to take. */
	unsigned in_flight = blk_in_flight(disk);
	blk_kick(disk);
	printf("in_flight_after_submit=%u\n", in_flight);

	unsigned seen[INFLIGHT] = { 0 };
	unsigned completed = 0, errors = 0, dups = 0, strays = 0, waits = 0;
	uint64_t deadline = pvmm_now_ns() + 20 * PVMM_NS_PER_S;
	while (completed < INFLIGHT) {
		int w = blk_wait(disk, deadline);
		waits++;
		if (w < 0)
			return fail("wait after %u completions: %s", completed, err_str(w));
		if (w == 0)
			return fail("nothing in flight after %u completions", completed);
		struct blk_req *done[8];
		int n;
		while ((n = blk_poll_completions(disk, done, 8)) > 0) {
			for (int i = 0; i < n; i++) {
				uint64_t k = done[i]->tag - 1000;
				if (k >= INFLIGHT || done[i] != &reqs[k]) {
					strays++;
					continue;
				}
				if (seen[k]++)
					dups++;
				if (done[i]->result)
					errors++;
				if (done[i]->state != BLK_REQ_IDLE)
					strays++;
				completed++;
			}
		}
		if (n < 0)
			return fail("poll: %s", err_str(n));
	}
	/* Nothing more may come. */
	struct blk_req *extra[1];
	int more = blk_poll_completions(disk, extra, 1);
	unsigned never = 0;
	for (unsigned k = 0; k < INFLIGHT; k++)
		never += seen[k] == 0;
	/* Reads got the right data, writes reached the disk. */
	unsigned bad_data = 0;
	for (unsigned k = 1; k < INFLIGHT; k += 2) {
		fill_sector(check, 'R', R_BASE + k);
		bad_data += memcmp(check, data + k * SECTOR, SECTOR) != 0;
	}
	for (unsigned k = 0; k < INFLIGHT; k += 2) {
		if ((err = blk_read(disk, W_BASE + k, check, 1)))
			return fail("verify read: %s", err_str(err));
		bad_data += memcmp(check, data + k * SECTOR, SECTOR) != 0;
	}
	struct blk_stats st;
	blk_get_stats(disk, &st);
	/* The device may finish the whole batch before the guest's wait arms
	 * an interrupt (a busy host descheduling the vCPU after the kick):
	 * then interrupt mode had nothing to take. More rounds of reads, each
	 * kicked and waited for at once, give it its chance; what is checked
	 * is that interrupts come when armed, not who wins one race. */
	for (unsigned round = 0; irq && st.interrupts == 0 && round < 8; round++) {
		for (unsigned k = 1; k < INFLIGHT; k += 2)
			if ((err = blk_submit(disk, &reqs[k])))
				return fail("round %u submit: %s", round, err_str(err));
		blk_kick(disk);
		for (unsigned left = INFLIGHT / 2; left;) {
			int w = blk_wait(disk, pvmm_now_ns() + 20 * PVMM_NS_PER_S);
			if (w <= 0)
				return fail("round %u wait: %s", round, w ? err_str(w) : "nothing in flight");
			struct blk_req *done[8];
			int n;
			while ((n = blk_poll_completions(disk, done, 8)) > 0)
				left -= (unsigned)n < left ? (unsigned)n : left;
			if (n < 0)
				return fail("round %u poll: %s", round, err_str(n));
		}
		blk_get_stats(disk, &st);
	}
	printf("inflight mode=%s completed=%u missing=%u dup=%u stray=%u errors=%u extra=%d bad_data=%u\n", mode,
	       completed, never, dups, strays, errors, more, bad_data);
	printf("stats waits=%u polls=%llu spurious=%llu kicks=%llu kicks_saved=%llu interrupts=%llu irq_count=%llu\n",
	       waits, (unsigned long long)st.waits, (unsigned long long)st.spurious, (unsigned long long)st.kicks,
	       (unsigned long long)st.kicks_saved, (unsigned long long)st.interrupts,
	       (unsigned long long)pvmm_irq_count(blk_virtio(disk)->irq));
	if (completed != INFLIGHT || never || dups || strays || errors || more != 0 || bad_data)
		return fail("bad completions");
	printf("interrupts by %s\n", blk_virtio(disk)->msix ? "msi-x" : "pin");
	if (irq && st.interrupts == 0)
		return fail("irq mode took no interrupts");
	if (!irq && (st.interrupts || pvmm_irq_count(blk_virtio(disk)->irq)))
		return fail("poll mode took interrupts");
	printf("inflight ok\n");
	return 0;
}

static int case_extras(void)
{
	char id[BLK_ID_BYTES + 1] = { 0 };
	int err = blk_get_id(disk, id);
	printf("get_id=%s id=%s\n", err_str(err), id);
	if (err || strncmp(id, "pvmm-", 5))
		return fail("get_id");
	uint8_t *buf = alloc_sectors(4);
	uint8_t *zero = alloc_sectors(4);
	memset(zero, 0, 4 * SECTOR);
	for (unsigned i = 0; i < 4; i++)
		fill_sector(buf + i * SECTOR, 'Z', 300 + i);
	if ((err = blk_write(disk, 300, buf, 4)))
		return fail("write: %s", err_str(err));
	if (blk_can_write_zeroes(disk)) {
		err = blk_write_zeroes(disk, 300, 2, false);
		printf("write_zeroes=%s\n", err_str(err));
		if ((err = blk_read(disk, 300, buf, 4)))
			return fail("read: %s", err_str(err));
		int zeroed = !memcmp(buf, zero, 2 * SECTOR);
		fill_sector(zero, 'Z', 302);
		int kept = !memcmp(buf + 2 * SECTOR, zero, SECTOR);
		printf("zeroed=%d kept=%d\n", zeroed, kept);
		if (!zeroed || !kept)
			return fail("write zeroes");
	} else {
		printf("write_zeroes=%s\n", err_str(blk_write_zeroes(disk, 300, 2, false)));
	}
	if (blk_can_discard(disk))
		printf("discard=%s\n", err_str(blk_discard(disk, 302, 2)));
	else
		printf("discard=%s\n", err_str(blk_discard(disk, 302, 2)));
	/* Nonsense the driver refuses without bothering the device. */
	printf("zero_count=%s\n", err_str(blk_read(disk, 0, buf, 0)));
	printf("null_buf=%s\n", err_str(blk_read(disk, 0, NULL, 1)));
	printf("extras ok\n");
	return 0;
}

static int case_disks(void)
{
	unsigned n = blk_count();
	printf("disks=%u\n", n);
	for (unsigned i = 0; i < n; i++) {
		struct blk_dev *d = blk_open(i);
		if (!d)
			return fail("disk %u: %s", i, err_str(blk_open_error()));
		uint8_t *buf = alloc_sectors(1);
		int err = blk_read(d, 0, buf, 1);
		printf("disk %u capacity=%llu readonly=%d read=%s\n", i, (unsigned long long)blk_capacity(d),
		       blk_readonly(d), err_str(err));
		if (err)
			return fail("disk %u read", i);
	}
	if (blk_open(n))
		return fail("blk_open(%u) found a disk", n);
	printf("disks ok\n");
	return 0;
}

static int case_idle(uint32_t n, uint64_t ms)
{
	uint8_t *r = alloc_sectors(1);
	for (uint32_t i = 0; i < n; i++) {
		int err = blk_read(disk, i, r, 1);
		if (err)
			return fail("read %u: %s", i, err_str(err));
	}
	sleep_ns(ms * 1000000ull);
	printf("idle ok reads=%u slept_ms=%llu\n", n, (unsigned long long)ms);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		printf("usage: blk_rw.elf info|rw N|readhost S N|writepattern P S N|capacity|readonly|flush S|inflight poll|irq|extras|disks|idle N MS\n");
		return 2;
	}
	case_name = argv[1];
	disk = blk_first();
	if (!disk)
		return fail("no disk: %s (blk_count=%u)", err_str(blk_open_error()), blk_count());
	const char *c = argv[1];
#define ARG(i) (argc > (i) ? strtoull(argv[i], NULL, 0) : 0)
	if (!strcmp(c, "info"))
		return case_info();
	if (!strcmp(c, "rw"))
		return case_rw((uint32_t)ARG(2));
	if (!strcmp(c, "readhost"))
		return case_readhost(ARG(2), (uint32_t)ARG(3));
	if (!strcmp(c, "writepattern") && argc > 4)
		return case_writepattern(argv[2][0], ARG(3), (uint32_t)ARG(4));
	if (!strcmp(c, "capacity"))
		return case_capacity();
	if (!strcmp(c, "readonly"))
		return case_readonly();
	if (!strcmp(c, "flush"))
		return case_flush(ARG(2));
	if (!strcmp(c, "inflight") && argc > 2)
		return case_inflight(argv[2]);
	if (!strcmp(c, "extras"))
		return case_extras();
	if (!strcmp(c, "disks"))
		return case_disks();
	if (!strcmp(c, "idle"))
		return case_idle((uint32_t)ARG(2), ARG(3));
	return fail("unknown case");
}
