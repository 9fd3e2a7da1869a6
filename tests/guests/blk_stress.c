/*
 * Randomized asynchronous block I/O: `blk_stress.elf poll|irq [OPS [SEED]]`
 * (default 3000 operations, a random seed, printed so that a failing run
 * can be repeated). Run with `--disk IMAGE` (at least 512 sectors).
 *
 * 64 request slots, each owning sectors [8 * slot, 8 * slot + 8), so no
 * two requests in flight ever touch the same sector. Each round submits a
 * random number of idle slots (a random read or write of one of its
 * sectors), kicks or not, then waits in a random way (blk_wait,
 * blk_wait_n with a random count, or not at all) and collects. Writes put
 * a fresh tag in the sector's first 8 bytes; reads check the tag of the
 * last completed write of that sector. Every request must come back
 * exactly once, with result 0, and no wait may time out (10 s): a lost
 * wake-up fails the run instead of hanging it.
 *
 * Prints "blk_stress seed=S" first, then
 * "blk_stress mode=M ops=N reads_checked=R waits=W ok" and exits
 * 0, or "blk_stress FAIL: ..." and exits 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pvmm/blk.h>
#include <pvmm/guest.h>

#define SLOTS 64
#define SECTORS_PER_SLOT 8

static struct blk_req reqs[SLOTS];
static uint64_t tags[SLOTS * SECTORS_PER_SLOT]; /* last completed write's tag, 0 = never written */
static uint64_t pending_tag[SLOTS];
static uint8_t in_flight[SLOTS];
static uint64_t x = 0x2545f4914f6cdd1dull;

static uint64_t rnd(uint64_t n)
{
	x ^= x << 13, x ^= x >> 7, x ^= x << 17;
	return x % n;
}

static int fail(const char *what, int err)
{
	printf("blk_stress FAIL: %s (%s)\n", what, blk_strerror(err));
	return 1;
}

int main(int argc, char **argv)
{
	bool irq = argc > 1 && !strcmp(argv[1], "irq");
	uint64_t ops = argc > 2 ? strtoull(argv[2], NULL, 0) : 3000;
	if (argc > 3)
		x = strtoull(argv[3], NULL, 0);
	else
		pvmm_getrandom(&x, sizeof(x));
	if (x == 0)
		x = 1;
	printf("blk_stress seed=%llu\n", (unsigned long long)x);
	struct blk_dev *d = blk_first();
	if (!d)
		return fail("no disk", blk_open_error());
	if (blk_capacity(d) < SLOTS * SECTORS_PER_SLOT)
		return fail("disk too small", 0);
	int err;
	if (irq && (err = blk_set_mode(d, BLK_MODE_IRQ)))
		return fail("irq mode", err);
	uint8_t *bufs = page_alloc(SLOTS * 512 / PVMM_PAGE_SIZE);
	uint64_t submitted = 0, completed = 0, reads_checked = 0, waits = 0, next_tag = 1;
	unsigned busy = 0;

	while (completed < ops) {
		/* Submit a random number of idle slots. */
		unsigned want = (unsigned)rnd(SLOTS / 2) + 1;
		for (unsigned k = 0; k < want && submitted < ops && busy < SLOTS; k++) {
			unsigned s = (unsigned)rnd(SLOTS);
			while (in_flight[s])
				s = (s + 1) % SLOTS;
			struct blk_req *r = &reqs[s];
			r->tag = s;
			r->count = 1;
			r->buf = bufs + s * 512;
			r->sector = s * SECTORS_PER_SLOT + rnd(SECTORS_PER_SLOT);
			if (rnd(2)) {
				r->op = BLK_OP_WRITE;
				pending_tag[s] = next_tag++;
				memcpy(r->buf, &pending_tag[s], 8);
			} else {
				r->op = BLK_OP_READ;
				memset(r->buf, 0xee, 8);
			}
			if ((err = blk_submit(d, r)))
				return fail("submit", err);
			in_flight[s] = 1;
			busy++;
			submitted++;
		}
		if (rnd(4))
			blk_kick(d);
		/* Wait one way or another (or not at all). */
		uint64_t deadline = pvmm_now_ns() + 10 * PVMM_NS_PER_S;
		switch (rnd(3)) {
		case 0:
			err = blk_wait(d, deadline);
			waits++;
			break;
		case 1:
			err = blk_wait_n(d, (unsigned)rnd(SLOTS) + 1, deadline);
			waits++;
			break;
		default:
			err = 0;
		}
		if (err < 0)
			return fail("wait", err);
		struct blk_req *out[SLOTS];
		int n = blk_poll_completions(d, out, (unsigned)rnd(SLOTS) + 1);
		if (n < 0)
			return fail("poll", n);
		for (int i = 0; i < n; i++) {
			struct blk_req *r = out[i];
			unsigned s = (unsigned)r->tag;
			if (s >= SLOTS || r != &reqs[s] || !in_flight[s])
				return fail("a request came back twice or from nowhere", 0);
			if (r->result)
				return fail("request failed", r->result);
			uint64_t got;
			memcpy(&got, r->buf, 8);
			if (r->op == BLK_OP_WRITE) {
				tags[r->sector] = pending_tag[s];
			} else {
				if (tags[r->sector] && got != tags[r->sector]) {
					printf("sector %llu: tag %llu, expected %llu\n", (unsigned long long)r->sector,
					       (unsigned long long)got, (unsigned long long)tags[r->sector]);
					return fail("read back a stale or wrong tag", 0);
				}
				reads_checked += tags[r->sector] != 0;
			}
			in_flight[s] = 0;
			busy--;
			completed++;
		}
	}
	if (busy || blk_in_flight(d))
		return fail("requests left in flight", 0);
	printf("blk_stress mode=%s ops=%llu reads_checked=%llu waits=%llu ok\n", irq ? "irq" : "poll",
	       (unsigned long long)completed, (unsigned long long)reads_checked, (unsigned long long)waits);
	return 0;
}
