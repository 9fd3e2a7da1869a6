/*
 * blkbench: block I/O throughput and latency through the runtime's
 * asynchronous virtio-blk API. Run with `--disk IMAGE`.
 *
 *   blkbench [pattern=seq|rand] [op=read|write] [bs=BYTES] [qd=N]
 *            [bytes=TOTAL | count=OPS] [mode=poll|irq] [batch=N]
 *
 * Defaults: seq read, bs=4096, qd=1, bytes=4M, poll. Sizes take K/M/G.
 * `qd` requests are kept in flight; each wake-up collects what completed,
 * resubmits that many (one kick for the lot) and waits again; `batch`
 * (default 1) is how many completions a wake-up waits for (capped at qd).
 * Offsets are bs-aligned: sequential wraps at the end of the disk, random
 * comes from a xorshift64 (a few instructions per request). The data
 * buffers are never touched by the guest: no per-byte work anywhere.
 *
 * Prints one line (machine-readable, key=value):
 *   blkbench pattern=rand op=read bs=4096 qd=32 mode=poll ops=1024
 *     bytes=4194304 elapsed_ns=... iops=... kib_per_s=... avg_lat_ns=...
 *     kicks=... waits=... spurious=... interrupts=... errors=0
 * (on one line) and exits 0; exits 1 with "blkbench FAIL: ..." otherwise.
 * avg_lat_ns is elapsed_ns * qd / ops (Little's law), the mean time a
 * request spends in flight.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pvmm/blk.h>
#include <pvmm/guest.h>

#define MAX_QD 256

static struct blk_req reqs[MAX_QD];

static uint64_t parse_size(const char *s)
{
	char *end;
	uint64_t v = strtoull(s, &end, 0);
	switch (*end) {
	case 'k': case 'K': v <<= 10; break;
	case 'm': case 'M': v <<= 20; break;
	case 'g': case 'G': v <<= 30; break;
	}
	return v;
}

static int fail(const char *what, int err)
{
	printf("blkbench FAIL: %s%s%s\n", what, err ? ": " : "", err ? blk_strerror(err) : "");
	return 1;
}

int main(int argc, char **argv)
{
	const char *pattern = "seq", *op = "read", *mode = "poll";
	uint64_t bs = 4096, qd = 1, bytes = 4ull << 20, count = 0, batch = 1;
	for (int i = 1; i < argc; i++) {
		char *eq = strchr(argv[i], '=');
		if (!eq)
			return fail("arguments are key=value", 0);
		*eq = 0;
		const char *k = argv[i], *v = eq + 1;
		if (!strcmp(k, "pattern"))
			pattern = v;
		else if (!strcmp(k, "op"))
			op = v;
		else if (!strcmp(k, "bs"))
			bs = parse_size(v);
		else if (!strcmp(k, "qd"))
			qd = parse_size(v);
		else if (!strcmp(k, "bytes"))
			bytes = parse_size(v);
		else if (!strcmp(k, "count"))
			count = parse_size(v);
		else if (!strcmp(k, "mode"))
			mode = v;
		else if (!strcmp(k, "batch"))
			batch = parse_size(v);
		else
			return fail("unknown key", 0);
	}
	bool rand = !strcmp(pattern, "rand"), write = !strcmp(op, "write"), irq = !strcmp(mode, "irq");
	if ((!rand && strcmp(pattern, "seq")) || (!write && strcmp(op, "read")) || (!irq && strcmp(mode, "poll")))
		return fail("pattern=seq|rand op=read|write mode=poll|irq", 0);

	struct blk_dev *d = blk_first();
	if (!d)
		return fail("no disk", blk_open_error());
	if (bs == 0 || bs % BLK_SECTOR_SIZE || bs / BLK_SECTOR_SIZE > blk_max_sectors(d))
		return fail("bs must be a multiple of 512 within the device's request size", 0);
	if (qd == 0 || qd > MAX_QD || qd > blk_queue_size(d))
		return fail("qd out of range", 0);
	if (batch == 0)
		batch = 1;
	if (batch > qd)
		batch = qd;
	uint64_t blocks = blk_capacity(d) * BLK_SECTOR_SIZE / bs;
	if (blocks == 0)
		return fail("disk smaller than one block", 0);
	uint64_t ops = count ? count : bytes / bs;
	if (ops == 0)
		return fail("nothing to do", 0);
	if (irq) {
		int err = blk_set_mode(d, BLK_MODE_IRQ);
		if (err)
			return fail("irq mode", err);
	}

	/* One buffer per slot, never touched. */
	uint32_t sectors = (uint32_t)(bs / BLK_SECTOR_SIZE);
	uint8_t *bufs = page_alloc((size_t)((qd * bs + PVMM_PAGE_SIZE - 1) / PVMM_PAGE_SIZE));
	if (!bufs)
		return fail("out of memory for buffers", 0);
	for (uint64_t i = 0; i < qd; i++) {
		reqs[i].op = write ? BLK_OP_WRITE : BLK_OP_READ;
		reqs[i].count = sectors;
		reqs[i].buf = bufs + i * bs;
	}

	uint64_t next_block = 0, x = 0x9e3779b97f4a7c15ull, submitted = 0, done = 0, errors = 0;
	struct blk_req *out[MAX_QD];
	uint64_t start = pvmm_now_ns();
	/* Fill the queue, one kick. */
	for (uint64_t i = 0; i < qd && submitted < ops; i++) {
		uint64_t b;
		if (rand) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			b = x % blocks;
		} else {
			b = next_block;
			next_block = next_block + 1 == blocks ? 0 : next_block + 1;
		}
		reqs[i].sector = b * sectors;
		int err = blk_submit(d, &reqs[i]);
		if (err)
			return fail("submit", err);
		submitted++;
	}
	blk_kick(d);
	while (done < ops) {
		int w = blk_wait_n(d, (unsigned)batch, UINT64_MAX);
		if (w < 0)
			return fail("wait", w);
		int n = blk_poll_completions(d, out, MAX_QD);
		if (n < 0)
			return fail("poll", n);
		for (int i = 0; i < n; i++) {
			struct blk_req *r = out[i];
			errors += r->result != 0;
			done++;
			if (submitted == ops)
				continue;
			uint64_t b;
			if (rand) {
				x ^= x << 13, x ^= x >> 7, x ^= x << 17;
				b = x % blocks;
			} else {
				b = next_block;
				next_block = next_block + 1 == blocks ? 0 : next_block + 1;
			}
			r->sector = b * sectors;
			int err = blk_submit(d, r);
			if (err)
				return fail("resubmit", err);
			submitted++;
		}
		blk_kick(d);
	}
	uint64_t ns = pvmm_now_ns() - start;
	if (ns == 0)
		ns = 1;

	struct blk_stats st;
	blk_get_stats(d, &st);
	uint64_t total = ops * bs;
	printf("blkbench pattern=%s op=%s bs=%llu qd=%llu mode=%s batch=%llu ops=%llu bytes=%llu elapsed_ns=%llu "
	       "iops=%llu kib_per_s=%llu avg_lat_ns=%llu kicks=%llu waits=%llu spins=%llu spurious=%llu interrupts=%llu "
	       "errors=%llu\n",
	       pattern, op, (unsigned long long)bs, (unsigned long long)qd, mode, (unsigned long long)batch,
	       (unsigned long long)ops, (unsigned long long)total, (unsigned long long)ns,
	       (unsigned long long)(ops * PVMM_NS_PER_S / ns),
	       (unsigned long long)(total / 1024 * PVMM_NS_PER_S / ns), (unsigned long long)(ns * qd / ops),
	       (unsigned long long)st.kicks, (unsigned long long)st.waits, (unsigned long long)st.spins,
	       (unsigned long long)st.spurious,
	       (unsigned long long)st.interrupts, (unsigned long long)errors);
	return errors ? 1 : 0;
}
