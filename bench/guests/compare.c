/*
 * compare: the workload `pvmm bench compare` (src/bench_compare.c) runs
 * once per path. One binary for every path: the runtime picks the
 * console (para-API, virtio, UART) and the disk driver (virtio-blk, IDE)
 * from the boot info, and this program only uses stdio and <pvmm/blk.h>.
 *
 *   compare.elf console KIB      KIB KiB of text through stdio, in lines
 *                                of 64 bytes (newline included); KIB 0:
 *                                only the result line (the fixed cost)
 *   compare.elf blk-write MIB    MIB MiB written from sector 0 on, in 4 KiB
 *                                requests, up to 32 in flight (the async
 *                                API; IDE runs them one at a time), then
 *                                blk_flush
 *   compare.elf blk-read MIB     the same range read back the same way
 *   compare.elf net-send N       N Ethernet frames of 1 KiB (broadcast, a
 *                                local EtherType) sent on NIC 0 through
 *                                <pvmm/net.h>, virtio-net or NE2000, to
 *                                the null back end; N 0: the NIC opened,
 *                                nothing sent (the fixed cost)
 *
 * Each prints one last line on stdout (through the console under test):
 *
 *   compare WORKLOAD bytes=N ops=N ns=N sum=HEX
 *
 * bytes: payload bytes; ops: lines / requests; ns: elapsed time as the
 * guest sees it (pvmm_now_ns, from the first operation to the last
 * completion, flush included); sum: a checksum of the disk data (0 for
 * the console). No other output contains "compare " (the bench looks for
 * the first occurrence). Exit 0, or 1 with a "FAIL" line.
 *
 * Disk data, a function of the byte offset only, so that both paths
 * write the same bytes: sector s is 63 words of constant text followed
 * by the 8-byte word A(s) = (s + 1) * 0x9e3779b97f4a7c15. The text is
 * put in each buffer once, before the clock starts; per request the
 * guest stores only the 8 words A(s). The checksum is over the same last
 * word of every sector: a request's 8 such words hashed in order
 * (h = 3h + w) and weighted by the request's first sector s0,
 *
 *   sum = SUM over requests of h * (2 s0 + 1)   (mod 2^64)
 *
 * Why one word per sector: guest code runs interpreted here (~1 us an
 * instruction), so touching all 4 KiB per request (512 words, ~1500
 * instructions) would cost ten times what the virtio request itself
 * costs and the workload would measure the checksum, not the I/O path.
 * The last word is the one that catches the likely failures: a short
 * or shifted transfer leaves it stale (the buffer held another sector's
 * A before, or the wrong bytes land there), and sectors in the wrong
 * place change the ordered, weighted sum even though every A is there.
 * About 25 instructions a request.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pvmm/blk.h>
#include <pvmm/guest.h>
#include <pvmm/net.h>

#define LINE 64
#define REQ_BYTES 4096u
#define REQ_SECTORS (REQ_BYTES / BLK_SECTOR_SIZE)
#define WORDS_PER_SECTOR (BLK_SECTOR_SIZE / 8)
#define QD 32
#define GOLDEN 0x9e3779b97f4a7c15ull

static int fail(const char *what, int err)
{
	printf("FAIL: %s%s%s\n", what, err ? ": " : "", err ? blk_strerror(err) : "");
	return 1;
}

/* ---- Console ------------------------------------------------------------ */

static int run_console(uint64_t kib)
{
	/* "console line 000001: ..." padded with dots to 63 bytes, then '\n'. */
	static const char head[] = "console line 000000: the quick brown fox jumps over the dog ";
	_Static_assert(sizeof(head) - 1 < LINE - 1, "the text fits a line");
	char line[LINE];
	memset(line, '.', LINE - 1);
	memcpy(line, head, sizeof(head) - 1);
	line[LINE - 1] = '\n';
	const unsigned digits = 13; /* the counter's first digit */

	uint64_t lines = kib * 1024 / LINE;
	uint64_t start = pvmm_now_ns();
	for (uint64_t i = 0; i < lines; i++) {
		/* Count up in place: a few instructions a line, no printf. */
		for (int k = digits + 5; k >= (int)digits; k--) {
			if (line[k] != '9') {
				line[k]++;
				break;
			}
			line[k] = '0';
		}
		fwrite(line, 1, LINE, stdout);
	}
	fflush(stdout); /* until the console has taken it all */
	uint64_t ns = pvmm_now_ns() - start;
	printf("compare console bytes=%llu ops=%llu ns=%llu sum=0\n", (unsigned long long)(lines * LINE),
	       (unsigned long long)lines, (unsigned long long)ns);
	return 0;
}

/* ---- Disk ------------------------------------------------------------------ */

static struct blk_req reqs[QD];

/* The per-request part of the pattern: A(s) into the last word of each
 * of the request's sectors. */
static void fill(uint8_t *buf, uint64_t s0)
{
	uint64_t *w = (uint64_t *)buf + (WORDS_PER_SECTOR - 1);
	uint64_t a = (s0 + 1) * GOLDEN;
#pragma GCC unroll 8
	for (unsigned i = 0; i < REQ_SECTORS; i++, a += GOLDEN)
		w[i * WORDS_PER_SECTOR] = a;
}

/* The request's share of the checksum: the last words of its sectors
 * hashed in order (h = 3h + w, a lea and an add per word), weighted by
 * the request's place, 2s0 + 1. */
static uint64_t req_sum(const uint8_t *buf, uint64_t s0)
{
	const uint64_t *w = (const uint64_t *)buf + (WORDS_PER_SECTOR - 1);
	uint64_t h = 0;
#pragma GCC unroll 8
	for (unsigned i = 0; i < REQ_SECTORS; i++)
		h = 3 * h + w[i * WORDS_PER_SECTOR];
	return h * (2 * s0 + 1);
}

static int run_blk(bool write, uint64_t mib)
{
	struct blk_dev *d = blk_first();
	if (!d)
		return fail("no disk", blk_open_error());
	uint64_t total = mib * (1024 * 1024 / REQ_BYTES); /* requests */
	if (total * REQ_SECTORS > blk_capacity(d))
		return fail("disk too small", 0);
	unsigned qd = blk_queue_size(d) < QD ? blk_queue_size(d) : QD;
	uint8_t *bufs = page_alloc(QD * REQ_BYTES / PVMM_PAGE_SIZE);
	if (!bufs)
		return fail("out of memory", 0);
	if (write) {
		/* The constant text, once per buffer (before the clock). */
		uint64_t text;
		memcpy(&text, "pvmm cmp", 8);
		uint64_t *p = (uint64_t *)bufs, n = QD * REQ_BYTES / 8;
		__asm__ volatile("rep stosq" : "+D"(p), "+c"(n) : "a"(text) : "memory");
	}
	for (unsigned i = 0; i < qd; i++) {
		reqs[i].op = write ? BLK_OP_WRITE : BLK_OP_READ;
		reqs[i].count = REQ_SECTORS;
		reqs[i].buf = bufs + (size_t)i * REQ_BYTES;
	}

	uint64_t next = 0, done = 0, sum = 0;
	struct blk_req *out[QD], *again[QD];
	uint64_t start = pvmm_now_ns();
	/* Fill the queue. Submissions go in batches (blk_submit_batch: the
	 * per-call costs once per batch), and reach the device with the kick
	 * that blk_wait does first. */
	unsigned m = 0;
	for (; m < qd && next < total; m++, next++) {
		struct blk_req *r = &reqs[m];
		r->sector = next * REQ_SECTORS;
		if (write) {
			fill(r->buf, r->sector);
			sum += req_sum(r->buf, r->sector);
		}
		again[m] = r;
	}
	while (done < total) {
		if (m) {
			int k = blk_submit_batch(d, again, m);
			if (k != (int)m)
				return fail("submit", k < 0 ? k : blk_submit(d, again[k]));
		}
		int w = blk_wait(d, UINT64_MAX);
		if (w < 0)
			return fail("wait", w);
		int n = blk_poll_completions(d, out, QD);
		if (n < 0)
			return fail("poll", n);
		m = 0;
		for (int i = 0; i < n; i++) {
			struct blk_req *r = out[i];
			if (r->result)
				return fail(write ? "write" : "read", r->result);
			if (!write)
				sum += req_sum(r->buf, r->sector);
			if (next < total) {
				r->sector = next++ * REQ_SECTORS;
				if (write) {
					fill(r->buf, r->sector);
					sum += req_sum(r->buf, r->sector);
				}
				again[m++] = r;
			}
		}
		done += (unsigned)n;
	}
	if (write) {
		int err = blk_flush(d);
		if (err)
			return fail("flush", err);
	}
	uint64_t ns = pvmm_now_ns() - start;
	printf("compare %s bytes=%llu ops=%llu ns=%llu sum=%016llx\n", write ? "blk-write" : "blk-read",
	       (unsigned long long)(total * REQ_BYTES), (unsigned long long)total, (unsigned long long)ns,
	       (unsigned long long)sum);
	return 0;
}

/* ---- Network ------------------------------------------------------------ */

#define FRAME 1024

static int run_net(uint64_t frames)
{
	static uint8_t frame[FRAME];
	int err = net_open(0);
	if (err) {
		printf("FAIL: no NIC (%d)\n", err);
		return 1;
	}
	memset(frame, 0xff, 6);
	net_mac(0, frame + 6);
	frame[12] = 0x88;
	frame[13] = 0xb5;
	for (unsigned i = 14; i < FRAME; i++)
		frame[i] = (uint8_t)i;
	uint64_t start = pvmm_now_ns();
	for (uint64_t i = 0; i < frames; i++) {
		frame[14] = (uint8_t)i; /* each frame its own */
		if ((err = net_send(0, frame, FRAME))) {
			printf("FAIL: net_send: %d\n", err);
			return 1;
		}
	}
	uint64_t ns = pvmm_now_ns() - start;
	printf("compare net-send bytes=%llu ops=%llu ns=%llu sum=0\n", (unsigned long long)(frames * FRAME),
	       (unsigned long long)frames, (unsigned long long)ns);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		printf("usage: compare.elf console KIB | blk-write MIB | blk-read MIB | net-send N\n");
		return 2;
	}
	char *end;
	uint64_t amount = strtoull(argv[2], &end, 10);
	/* console 0: only the result line, for the fixed cost of a run
	 * (pvmm bench compare's setup runs). */
	bool console = !strcmp(argv[1], "console"), net = !strcmp(argv[1], "net-send");
	if (net) {
		if (*end || amount > 1000000) {
			printf("FAIL: '%s' is not a frame count from 0 to 1000000\n", argv[2]);
			return 2;
		}
		return run_net(amount);
	}
	if (*end || (amount == 0 && !console) || amount > 1024) {
		printf("FAIL: '%s' is not a size from %d to 1024\n", argv[2], console ? 0 : 1);
		return 2;
	}
	if (console)
		return run_console(amount);
	if (!strcmp(argv[1], "blk-write"))
		return run_blk(true, amount);
	if (!strcmp(argv[1], "blk-read"))
		return run_blk(false, amount);
	printf("FAIL: unknown workload '%s'\n", argv[1]);
	return 2;
}
