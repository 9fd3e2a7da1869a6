/*
 * The runtime's split virtqueue without indirect descriptors, and with or
 * without EVENT_IDX: `virtq_direct.elf event|noevent`. Run with
 * `--disk IMAGE` (at least 64 sectors, zero-filled).
 *
 * Drives the disk through <pvmm/virtio.h> directly with a 16-entry queue
 * and three-descriptor chains (virtq_add), so at most 5 requests fit:
 * writes sectors 0..63 (sector s filled with byte s + 1), then reads them
 * back 5 in flight at a time, which makes the free list wrap and reuse
 * descriptors in completion order. Prints
 *     virtq_direct MODE requests=N kicks=K kicks_saved=S waits=W ok
 * and exits 0, or "virtq_direct FAIL: ..." and exits 1.
 */
#include <stdio.h>
#include <string.h>
#include <pvmm/guest.h>
#include <pvmm/virtio.h>

#define QSIZE 16
#define SECTORS 64
#define DEPTH 5

struct req {
	struct virtio_blk_req_hdr hdr;
	uint8_t status;
	uint8_t *buf;
	unsigned sector;
};

static struct virtio_dev dev;
static struct virtqueue vq;
static struct req reqs[DEPTH];
static unsigned waits;

static int fail(const char *what)
{
	printf("virtq_direct FAIL: %s\n", what);
	return 1;
}

static int add(struct req *r, uint32_t type, unsigned sector)
{
	r->hdr = (struct virtio_blk_req_hdr){ type, 0, sector };
	r->status = 0xff;
	r->sector = sector;
	struct virtq_desc t[3] = {
		{ (uint64_t)(uintptr_t)&r->hdr, sizeof(r->hdr), 0, 0 },
		{ (uint64_t)(uintptr_t)r->buf, 512, type == VIRTIO_BLK_T_IN ? VIRTQ_DESC_F_WRITE : 0, 0 },
		{ (uint64_t)(uintptr_t)&r->status, 1, VIRTQ_DESC_F_WRITE, 0 },
	};
	return virtq_add(&vq, t, 3, r);
}

/* Wait for one completion, return its request (NULL on error). */
static struct req *next_done(void)
{
	uint64_t deadline = pvmm_now_ns() + 10 * PVMM_NS_PER_S;
	for (;;) {
		void *c;
		uint32_t len;
		int r = virtq_get(&vq, &c, &len);
		if (r < 0)
			return NULL;
		if (r > 0)
			return c;
		if (virtq_arm(&vq, 1))
			continue;
		if (pvmm_now_ns() > deadline)
			return NULL;
		waits++;
		virtio_wait(&dev, deadline);
	}
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "event";
	bool event = !strcmp(mode, "event");
	int index = virtio_find(VIRTIO_ID_BLOCK, 0);
	if (index < 0)
		return fail("no disk");
	uint64_t wanted = VIRTIO_NEGOTIATE_EXACT | (event ? VIRTIO_BIT(VIRTIO_F_EVENT_IDX) : 0);
	if (virtio_init(&dev, (unsigned)index, VIRTIO_ID_BLOCK) || virtio_negotiate(&dev, wanted) ||
	    virtio_queue_init(&dev, &vq, 0, QSIZE))
		return fail("set-up");
	if (vq.indirect || vq.event_idx != event || vq.size != QSIZE)
		return fail("unexpected features");
	virtio_driver_ok(&dev);

	uint8_t *mem = page_alloc(SECTORS * 512 / PVMM_PAGE_SIZE);
	uint8_t *check = page_alloc(1);
	unsigned requests = 0;

	/* Writes, DEPTH in flight, refilled as they complete. */
	unsigned next = 0, done = 0;
	for (unsigned i = 0; i < DEPTH; i++) {
		reqs[i].buf = mem + next * 512;
		memset(reqs[i].buf, (int)next + 1, 512);
		if (add(&reqs[i], VIRTIO_BLK_T_OUT, next++) < 0)
			return fail("add write");
	}
	if (virtq_add(&vq, (struct virtq_desc[3]){ 0 }, 3, &reqs[0]) != -VIRTIO_EAGAIN)
		return fail("a full queue took another chain");
	virtq_kick(&vq);
	while (done < SECTORS) {
		struct req *r = next_done();
		if (!r || r->status != VIRTIO_BLK_S_OK)
			return fail("write completion");
		done++;
		requests++;
		if (next < SECTORS) {
			r->buf = mem + next * 512;
			memset(r->buf, (int)next + 1, 512);
			if (add(r, VIRTIO_BLK_T_OUT, next++) < 0)
				return fail("re-add write");
			virtq_kick(&vq);
		}
	}
	if (vq.num_free != QSIZE || virtq_in_flight(&vq) != 0)
		return fail("descriptors leaked after the writes");

	/* Reads back, same way, into a cleared area. */
	memset(mem, 0, SECTORS * 512);
	next = done = 0;
	for (unsigned i = 0; i < DEPTH; i++) {
		reqs[i].buf = mem + next * 512;
		if (add(&reqs[i], VIRTIO_BLK_T_IN, next++) < 0)
			return fail("add read");
	}
	virtq_kick(&vq);
	while (done < SECTORS) {
		struct req *r = next_done();
		if (!r || r->status != VIRTIO_BLK_S_OK)
			return fail("read completion");
		memset(check, (int)r->sector + 1, 512);
		if (memcmp(check, r->buf, 512))
			return fail("read data");
		done++;
		requests++;
		if (next < SECTORS) {
			r->buf = mem + next * 512;
			if (add(r, VIRTIO_BLK_T_IN, next++) < 0)
				return fail("re-add read");
			virtq_kick(&vq);
		}
	}
	if (vq.num_free != QSIZE || virtq_in_flight(&vq) != 0)
		return fail("descriptors leaked after the reads");
	printf("virtq_direct %s requests=%u kicks=%llu kicks_saved=%llu waits=%u ok\n", mode, requests,
	       (unsigned long long)vq.kicks, (unsigned long long)vq.kicks_saved, waits);
	return 0;
}
