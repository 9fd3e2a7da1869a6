/*
 * Unit tests for the split virtqueue, device side (src/virtio/queue.c). No
 * KVM: guest RAM is a plain guest_mem, and the tests write descriptor
 * tables and rings into it the way a driver would (or a hostile one).
 */
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cmocka.h>

#include <linux/virtio_ring.h>

#include "guest_mem.h"
#include "virtio/queue.h"

#define RAM_SIZE  (4ull << 20)
#define DESC_GPA  0x10000ull
#define AVAIL_GPA 0x20000ull
#define USED_GPA  0x30000ull
#define IND_GPA   0x40000ull  /* indirect tables */
#define BUF_GPA   0x100000ull /* buffers */

struct fixture {
	struct guest_mem mem;
	struct virtq vq;
	struct virtq_elem elem;
	uint16_t avail_idx; /* the driver's own copy */
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	assert_int_equal(guest_mem_init(&f->mem, RAM_SIZE, 0), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	guest_mem_free(&f->mem);
	free(f);
	return 0;
}

/* Set up and enable a queue of `size` entries at the default addresses. */
static void enable(struct fixture *f, uint16_t size, bool event_idx, bool indirect)
{
	virtq_reset(&f->vq);
	f->vq.size = size;
	f->vq.desc_gpa = DESC_GPA;
	f->vq.avail_gpa = AVAIL_GPA;
	f->vq.used_gpa = USED_GPA;
	f->vq.event_idx = event_idx;
	f->vq.indirect = indirect;
	f->avail_idx = 0;
	assert_int_equal(virtq_enable(&f->vq, &f->mem), 0);
	assert_true(f->vq.ready);
}

static void *ptr(struct fixture *f, uint64_t gpa)
{
	void *p = guest_mem_ptr(&f->mem, gpa, 1);
	assert_non_null(p);
	return p;
}

static void put_desc_at(struct fixture *f, uint64_t table, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
			uint16_t next)
{
	struct vring_desc d = { .addr = addr, .len = len, .flags = flags, .next = next };
	memcpy(ptr(f, table + 16ull * i), &d, sizeof(d));
}

static void put_desc(struct fixture *f, unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	put_desc_at(f, DESC_GPA, i, addr, len, flags, next);
}

static struct vring_avail *avail(struct fixture *f)
{
	return ptr(f, AVAIL_GPA);
}

static struct vring_used *used(struct fixture *f)
{
	return ptr(f, USED_GPA);
}

/* Make chain `head` available, as a driver does. */
static void offer(struct fixture *f, uint16_t head)
{
	avail(f)->ring[f->avail_idx % f->vq.size] = head;
	f->avail_idx++;
	avail(f)->idx = f->avail_idx;
}

static uint16_t used_event_of(struct fixture *f)
{
	return avail(f)->ring[f->vq.size];
}

static void set_used_event(struct fixture *f, uint16_t v)
{
	avail(f)->ring[f->vq.size] = v;
}

static uint16_t avail_event_of(struct fixture *f)
{
	uint16_t v;
	memcpy(&v, &used(f)->ring[f->vq.size], sizeof(v));
	return v;
}

static void expect_broken(struct fixture *f, const char *needle)
{
	assert_int_equal(virtq_pop(&f->vq, &f->elem), VIRTQ_BROKEN);
	assert_true(f->vq.broken);
	assert_non_null(memchr(f->vq.error, '\0', sizeof(f->vq.error)));
	if (!strstr(f->vq.error, needle))
		fail_msg("error \"%s\" does not mention \"%s\"", f->vq.error, needle);
	/* Sticky: the queue is never read again. */
	assert_int_equal(virtq_pop(&f->vq, &f->elem), VIRTQ_BROKEN);
}

static void expect_enable_fails(struct fixture *f, const char *needle)
{
	assert_int_equal(virtq_enable(&f->vq, &f->mem), -1);
	assert_false(f->vq.ready);
	if (!strstr(f->vq.error, needle))
		fail_msg("error \"%s\" does not mention \"%s\"", f->vq.error, needle);
}

static void prepare(struct fixture *f, uint16_t size)
{
	virtq_reset(&f->vq);
	f->vq.size = size;
	f->vq.desc_gpa = DESC_GPA;
	f->vq.avail_gpa = AVAIL_GPA;
	f->vq.used_gpa = USED_GPA;
}

/* ---- enable ------------------------------------------------------------ */

static void test_enable_maps_rings(void **state)
{
	struct fixture *f = *state;
	enable(f, 16, false, false);
	assert_ptr_equal(f->vq.desc, f->mem.host + DESC_GPA);
	assert_ptr_equal(f->vq.avail, f->mem.host + AVAIL_GPA);
	assert_ptr_equal(f->vq.used, f->mem.host + USED_GPA);
	assert_int_equal(f->vq.last_avail, 0);
	assert_int_equal(f->vq.used_idx, 0);
	assert_false(f->vq.broken);
}

static void test_enable_rejects_bad_sizes(void **state)
{
	struct fixture *f = *state;
	static const uint16_t bad[] = { 0, 3, 6, 100, 1023, 2048, 0x8000, 0xffff };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		prepare(f, bad[i]);
		expect_enable_fails(f, "power of two");
	}
	static const uint16_t good[] = { 1, 2, 256, VIRTQ_MAX_SIZE };
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		prepare(f, good[i]);
		assert_int_equal(virtq_enable(&f->vq, &f->mem), 0);
	}
}

static void test_enable_rejects_misaligned_rings(void **state)
{
	struct fixture *f = *state;

	prepare(f, 16);
	f->vq.desc_gpa = DESC_GPA + 8;
	expect_enable_fails(f, "16-byte aligned");
	prepare(f, 16);
	f->vq.avail_gpa = AVAIL_GPA + 1;
	expect_enable_fails(f, "2-byte aligned");
	prepare(f, 16);
	f->vq.used_gpa = USED_GPA + 2;
	expect_enable_fails(f, "4-byte aligned");
	/* The minimum alignments are enough. */
	prepare(f, 16);
	f->vq.desc_gpa = DESC_GPA + 16;
	f->vq.avail_gpa = AVAIL_GPA + 2;
	f->vq.used_gpa = USED_GPA + 4;
	assert_int_equal(virtq_enable(&f->vq, &f->mem), 0);
}

static void test_enable_rejects_rings_outside_ram(void **state)
{
	struct fixture *f = *state;

	prepare(f, 16);
	f->vq.desc_gpa = RAM_SIZE - 16 * 16 + 16; /* last descriptor past the end */
	expect_enable_fails(f, "outside guest RAM");
	prepare(f, 16);
	f->vq.desc_gpa = RAM_SIZE;
	expect_enable_fails(f, "outside guest RAM");
	prepare(f, 16);
	f->vq.avail_gpa = RAM_SIZE - (4 + 2 * 16); /* room for the ring, not used_event */
	expect_enable_fails(f, "outside guest RAM");
	prepare(f, 16);
	f->vq.used_gpa = RAM_SIZE - (4 + 8 * 16); /* room for the ring, not avail_event */
	expect_enable_fails(f, "outside guest RAM");
	prepare(f, 16);
	f->vq.used_gpa = UINT64_MAX - 3; /* wraps around */
	expect_enable_fails(f, "outside guest RAM");
	prepare(f, 16);
	f->vq.desc_gpa = 0xfffffffffffff000ull;
	expect_enable_fails(f, "outside guest RAM");
}

static void test_enable_accepts_rings_ending_at_end_of_ram(void **state)
{
	struct fixture *f = *state;
	/* One ring at a time at the very end (all three there would overlap). */
	prepare(f, 16);
	f->vq.desc_gpa = RAM_SIZE - 16 * 16;
	assert_int_equal(virtq_enable(&f->vq, &f->mem), 0);
	prepare(f, 16);
	f->vq.avail_gpa = RAM_SIZE - (6 + 2 * 16);
	assert_int_equal(virtq_enable(&f->vq, &f->mem), 0);
	prepare(f, 16);
	f->vq.used_gpa = RAM_SIZE - 136; /* 134 bytes, rounded to stay 4-aligned */
	assert_int_equal(virtq_enable(&f->vq, &f->mem), 0);
}

/* Rings that share a byte are refused, whichever two they are: a used
 * ring over the avail ring (or the descriptors) lets the device's own
 * pushes make chains "available", which no bound on what the guest posted
 * limits. Sizes for n = 16: desc 256, avail 36 (+2 used_event), used 132
 * (+2 avail_event); the event-idx fields count only when negotiated. */
static void overlap_case(struct fixture *f, bool event_idx, uint64_t desc, uint64_t avail_gpa, uint64_t used_gpa,
			 bool ok)
{
	prepare(f, 16);
	f->vq.event_idx = event_idx;
	f->vq.desc_gpa = desc;
	f->vq.avail_gpa = avail_gpa;
	f->vq.used_gpa = used_gpa;
	if (ok) {
		if (virtq_enable(&f->vq, &f->mem) != 0)
			fail_msg("desc %#llx avail %#llx used %#llx event_idx %d refused: %s", (unsigned long long)desc,
				 (unsigned long long)avail_gpa, (unsigned long long)used_gpa, event_idx, f->vq.error);
	} else {
		expect_enable_fails(f, "overlaps");
	}
}

static void test_enable_rejects_overlapping_rings(void **state)
{
	struct fixture *f = *state;
	const uint64_t D = DESC_GPA;

	for (int ev = 0; ev <= 1; ev++) {
		/* used over avail: the fuzzer's case, exactly and in part */
		overlap_case(f, ev, D, AVAIL_GPA, AVAIL_GPA, false);
		overlap_case(f, ev, D, AVAIL_GPA, AVAIL_GPA + 32, false);
		overlap_case(f, ev, D, AVAIL_GPA + 4, AVAIL_GPA, false);
		/* avail over desc: its first bytes, its last two */
		overlap_case(f, ev, D, D, USED_GPA, false);
		overlap_case(f, ev, D, D + 16 * 16 - 2, USED_GPA, false);
		/* used over desc, both ways round */
		overlap_case(f, ev, D, AVAIL_GPA, D + 16 * 15, false);
		overlap_case(f, ev, D + 128, AVAIL_GPA, D, false);
		/* desc over avail / used from below */
		overlap_case(f, ev, AVAIL_GPA - 16 * 16 + 16, AVAIL_GPA, USED_GPA, false);
		overlap_case(f, ev, USED_GPA - 16 * 16 + 16, AVAIL_GPA, USED_GPA, false);
		/* all three at one address */
		overlap_case(f, ev, D, D, D, false);
		/* touching but not sharing a byte is fine */
		overlap_case(f, ev, D, D + 256, D + 256 + (ev ? 40 : 36), true);
		/* used (at D + 12) ends at D + 144 without EVENT_IDX, D + 146 with */
		overlap_case(f, ev, D + 144, AVAIL_GPA, D + 12, !ev);
	}
	/* The event-idx fields count only when negotiated: used right after
	 * avail->ring[16] is fine without EVENT_IDX, overlaps used_event with it. */
	overlap_case(f, false, D, AVAIL_GPA, AVAIL_GPA + 36, true);
	overlap_case(f, true, D, AVAIL_GPA, AVAIL_GPA + 36, false);
	/* ... and likewise avail_event after used->ring[16]. */
	overlap_case(f, false, D, USED_GPA + 132, USED_GPA, true);
	overlap_case(f, true, D, USED_GPA + 132, USED_GPA, false);
	overlap_case(f, true, D, USED_GPA + 134, USED_GPA, true);
}

/* ---- normal operation ------------------------------------------------- */

static void test_pop_empty_and_not_ready(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(virtq_pop(&f->vq, &f->elem), VIRTQ_EMPTY); /* never enabled */
	enable(f, 16, false, false);
	assert_int_equal(virtq_pop(&f->vq, &f->elem), VIRTQ_EMPTY);
}

static void test_pop_single_readable_buffer(void **state)
{
	struct fixture *f = *state;
	enable(f, 16, false, false);
	put_desc(f, 5, BUF_GPA, 100, 0, 0);
	offer(f, 5);
	assert_int_equal(virtq_pop(&f->vq, &f->elem), VIRTQ_GOT);
	assert_int_equal(f->elem.head, 5);
	assert_int_equal(f->elem.out_num, 1);
	assert_int_equal(f->elem.in_num, 0);
	assert_int_equal(f->elem.out_len, 100);
	assert_ptr_equal(f->elem.iov[0].iov_base, f->mem.host + BUF_GPA);
	assert_int_equal(f->elem.iov[0].iov_len, 100);
	assert_int_equal(f->vq.last_avail, 1);
	assert_int_equal(virtq_pop(&f->vq, &f->elem), VIRTQ_EMPTY);
}

static void test_pop_chain_out_then_in(void **state)
{
	struct fixture *f = *state;
	enable(f, 16, false, false);
	put_desc(f, 0, BUF_GPA, 16, VRING_DESC_F_NEXT, 7);
	put_desc(f, 7, BUF_GPA + 0x1000, 512, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 3);
	put_desc(f, 3, BUF_GPA + 0x2000, 1, VRING_DESC_F_WRITE, 0);
	offer(f, 0);
	assert_int_equal(virtq_pop(&f->vq, &f->elem), VIRTQ_GOT);
	assert_int_equal(f->elem.head, 0);
	assert_int_equal(f->elem.out_num, 1);
	assert_int_equal(f->elem.in_num, 2);
	assert_int_equal(f->elem.out_len, 16);
	assert_int_equal(f->elem.in_len, 513);
	assert_ptr_equal(f->elem.iov[1].iov_base, f->mem.host + BUF_GPA + 0x1000);
	assert_ptr_equal(f->elem.iov[2].iov_base, f->mem.host + BUF_GPA + 0x2000);
}

static void test_pop_accepts_zero_length_buffers(void **state)
{
	struct fixture *f = *state;
	enable(f, 16, false, false);
	put_desc(f, 0, BUF_GPA, 0, VRING_DESC_F_NEXT, 1);
	put_desc(f, 1, RAM_SIZE, 0, VRING_DESC_F_WRITE, 0); /* empty, at the very end */
	offer(f, 0);
	assert_int_equal(virtq_pop(&f->vq, &f->elem), VIRTQ_GOT);
	assert_int_equal(f->elem.out_len + f->elem.in_len, 0);
}

static void test_copy_helpers_span_segments(void **state)
{
	struct fixture *f = *state;
	uint8_t out[8];

	enable(f, 16, false, false);
	memcpy(ptr(f, BUF_GPA), "abc", 3);
	memcpy(ptr(f, BUF_GPA + 0x100), "defgh", 5);
	put_desc(f, 0, BUF_GPA, 3, VRING_DESC_F_NEXT, 1);
	put_desc(f, 1, BUF_GPA + 0x100, 5, VRING_DESC_F_NEXT, 2);
	put_desc(f, 2, BUF_GPA + 0x200, 2, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 3);
	put_desc(f, 3, BUF_GPA + 0x300, 4, VRING_DESC_F_WRITE, 0);
	offer(f, 0);
	assert_int_equal(virtq_pop(&f->vq, &f->elem), VIRTQ_GOT);

	assert_int_equal(virtq_read_out(&f->elem, 0, out, sizeof(out)), 8);
	assert_memory_equal(out, "abcdefgh", 8);
	assert_int_equal(virtq_read_out(&f->elem, 2, out, 3), 3);
	assert_memory_equal(out, "cde", 3);
	assert_int_equal(virtq_read_out(&f->elem, 6, out, 8), 2); /* only 2 left */
	assert_int_equal(virtq_read_out(&f->elem, 8, out, 8), 0);
	assert_int_equal(virtq_read_out(&f->elem, 100, out, 8), 0);

	assert_int_equal(virtq_write_in(&f->elem, 1, "XYZW", 4), 4);
	assert_memory_equal(ptr(f, BUF_GPA + 0x201), "X", 1);
	assert_memory_equal(ptr(f, BUF_GPA + 0x300), "YZW", 3);
	assert_int_equal(virtq_write_in(&f->elem, 0, "0123456789", 10), 6); /* 6 writable bytes */
	assert_int_equal(virtq_write_in(&f->elem, 6, "z", 1), 0);
	/* The readable part is never written. */
	assert_memory_equal(ptr(f, BUF_GPA), "abc", 3);
}

static void test_push_fills_used_ring(void **state)
{
	struct fixture *f = *state;
	enable(f, 4, false, false);
	for (unsigned i = 0; i < 6; i++) {
		put_desc(f, i % 4, BUF_GPA, 8, VRING_DESC_F_WRITE, 0);
		offer(f, (uint16_t)(i % 4));
		assert_int_equal(virtq_pop(&f->vq, &f->elem), VIRTQ_GOT);
		virtq_push(&f->vq, f->elem.head, 100 + i);
		struct vring_used_elem *e = &used(f)->ring[i % 4];
		assert_int_equal(e->id, i % 4);
		assert_int_equal(e->len, 100 + i);
		assert_int_equal(used(f)->idx, i + 1);
	}
}

static void test_indices_wrap_around(void **state)
{
	struct fixture *f = *state;
	enable(f, 8, false, false);
	/* Start both sides just below the 16-bit wrap. */
	f->vq.last_avail = 0xfffe;
	f->vq.used_idx = 0xfffe;
	f->avail_idx = 0xfffe;
	for (unsigned i = 0; i < 5; i++) {
		put_desc(f, i, BUF_GPA, 8, VRING_DESC_F_WRITE, 0);
		offer(f, (uint16_t)i);
	}
	assert_int_equal(avail(f)->idx, 3);
	for (unsigned i = 0; i < 5; i++) {
		assert_int_equal(virtq_pop(&f->vq, &f->elem), VIRTQ_GOT);
		assert_int_equal(f->elem.head, i);
		virtq_push(&f->vq, f->elem.head, 1);
	}
	assert_int_equal(virtq_pop(&f->vq, &f->elem), VIRTQ_EMPTY);
	assert_int_equal(f->vq.last_avail, 3);
	assert_int_equal(used(f)->idx, 3);
}

static void test_full_ring_is_not_too_far_ahead(void **state)
{
	struct fixture *f = *state;
	enable(f, 8, false, false);
	for (unsigned i = 0; i < 8; i++) {
		put_desc(f, i, BUF_GPA, 8, 0, 0);
		offer(f, (uint16_t)i);
	}
	for (unsigned i = 0; i < 8; i++)
		assert_int_equal(virtq_pop(&f->vq, &f->elem), VIRTQ_GOT);
	assert_int_equal(virtq_pop(&f->vq, &f->elem), VIRTQ_EMPTY);
}

static void test_chain_as_long_as_the_queue(void **state)
{
	struct fixture *f = *state;
	enable(f, 16, false, false);
	for (unsigned i = 0; i < 16; i++)
		put_desc(f, i, BUF_GPA + i, 1, i < 15 ? VRING_DESC_F_NEXT : 0, (uint16_t)(i + 1));
	offer(f, 0);
	assert_int_equal(virtq_pop(&f->vq, &f->elem), VIRTQ_GOT);
	assert_int_equal(f->elem.out_num, 16);
}

static void test_indirect_table(void **state)
{
	struct fixture *f = *state;
	enable(f, 16, false, true);
	put_desc_at(f, IND_GPA, 0, BUF_GPA, 16, VRING_DESC_F_NEXT, 2);
	put_desc_at(f, IND_GPA, 2, BUF_GPA + 0x100, 32, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 1);
	put_desc_at(f, IND_GPA, 1, BUF_GPA + 0x200, 1, VRING_DESC_F_WRITE, 0);
	/* WRITE on the indirect descriptor itself means nothing. */
	put_desc(f, 9, IND_GPA, 3 * 16, VRING_DESC_F_INDIRECT | VRING_DESC_F_WRITE, 0);
	offer(f, 9);
	assert_int_equal(virtq_pop(&f->vq, &f->elem), VIRTQ_GOT);
	assert_int_equal(f->elem.head, 9);
	assert_int_equal(f->elem.out_num, 1);
	assert_int_equal(f->elem.in_num, 2);
	assert_int_equal(f->elem.out_len, 16);
	assert_int_equal(f->elem.in_len, 33);
	assert_ptr_equal(f->elem.iov[2].iov_base, f->mem.host + BUF_GPA + 0x200);
	virtq_push(&f->vq, f->elem.head, 33);
	assert_int_equal(used(f)->ring[0].id, 9);
}

static void test_indirect_table_need_not_be_aligned(void **state)
{
	/* The spec sets no alignment for indirect tables; reading one at an
	 * odd address must work (and stay quiet under UBSan). */
	struct fixture *f = *state;
	enable(f, 8, false, true);
	put_desc_at(f, IND_GPA + 3, 0, BUF_GPA, 8, VRING_DESC_F_NEXT, 1);
	put_desc_at(f, IND_GPA + 3, 1, BUF_GPA + 8, 8, VRING_DESC_F_WRITE, 0);
	put_desc(f, 0, IND_GPA + 3, 32, VRING_DESC_F_INDIRECT, 0);
	offer(f, 0);
	assert_int_equal(virtq_pop(&f->vq, &f->elem), VIRTQ_GOT);
	assert_int_equal(f->elem.out_num + f->elem.in_num, 2);
}

static void test_indirect_after_direct_descriptors(void **state)
{
	struct fixture *f = *state;
	enable(f, 16, false, true);
	put_desc_at(f, IND_GPA, 0, BUF_GPA + 0x100, 8, VRING_DESC_F_WRITE, 0);
	put_desc(f, 0, BUF_GPA, 16, VRING_DESC_F_NEXT, 1);
	put_desc(f, 1, IND_GPA, 16, VRING_DESC_F_INDIRECT, 0);
	offer(f, 0);
	assert_int_equal(virtq_pop(&f->vq, &f->elem), VIRTQ_GOT);
	assert_int_equal(f->elem.out_num, 1);
	assert_int_equal(f->elem.in_num, 1);
}

static void test_max_segments_accepted(void **state)
{
	struct fixture *f = *state;
	enable(f, 256, false, true);
	for (unsigned i = 0; i < VIRTQ_MAX_SEGS; i++)
		put_desc(f, i, BUF_GPA, 1, i + 1 < VIRTQ_MAX_SEGS ? VRING_DESC_F_NEXT : 0, (uint16_t)(i + 1));
	offer(f, 0);
	assert_int_equal(virtq_pop(&f->vq, &f->elem), VIRTQ_GOT);
	assert_int_equal(f->elem.out_num, VIRTQ_MAX_SEGS);
}

/* ---- hostile rings ------------------------------------------------------ */

static void test_avail_idx_too_far_ahead(void **state)
{
	struct fixture *f = *state;
	enable(f, 8, false, false);
	put_desc(f, 0, BUF_GPA, 8, 0, 0);
	avail(f)->idx = 9;
	expect_broken(f, "ahead");
	/* Backwards (a driver "un-adding") is just as far ahead mod 2^16. */
	enable(f, 8, false, false);
	avail(f)->idx = 0xffff;
	expect_broken(f, "ahead");
}

static void test_head_out_of_range(void **state)
{
	struct fixture *f = *state;
	enable(f, 8, false, false);
	offer(f, 8);
	expect_broken(f, "head 8");
	enable(f, 8, false, false);
	offer(f, 0xffff);
	expect_broken(f, "head 65535");
}

static void test_chain_loop(void **state)
{
	struct fixture *f = *state;
	enable(f, 8, false, false);
	put_desc(f, 0, BUF_GPA, 1, VRING_DESC_F_NEXT, 1);
	put_desc(f, 1, BUF_GPA, 1, VRING_DESC_F_NEXT, 0);
	offer(f, 0);
	expect_broken(f, "loops");
	/* A descriptor pointing at itself. */
	enable(f, 8, false, false);
	put_desc(f, 3, BUF_GPA, 1, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 3);
	offer(f, 3);
	expect_broken(f, "loops");
}

static void test_next_out_of_range(void **state)
{
	struct fixture *f = *state;
	enable(f, 8, false, false);
	put_desc(f, 0, BUF_GPA, 1, VRING_DESC_F_NEXT, 8);
	offer(f, 0);
	expect_broken(f, "next 8");
}

static void test_buffer_outside_ram(void **state)
{
	struct fixture *f = *state;
	static const struct { uint64_t addr; uint32_t len; } bad[] = {
		{ RAM_SIZE, 1 },                     /* just past the end */
		{ RAM_SIZE - 4, 8 },                 /* straddles the end */
		{ UINT64_MAX - 1, 4 },               /* wraps around */
		{ 0x100000000ull, 16 },              /* far away */
		{ 0x1000, UINT32_MAX },              /* longer than RAM */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		enable(f, 8, false, false);
		put_desc(f, 0, BUF_GPA, 8, VRING_DESC_F_NEXT, 1);
		put_desc(f, 1, bad[i].addr, bad[i].len, VRING_DESC_F_WRITE, 0);
		offer(f, 0);
		expect_broken(f, "outside guest RAM");
	}
}

static void test_readable_after_writable(void **state)
{
	struct fixture *f = *state;
	enable(f, 8, false, false);
	put_desc(f, 0, BUF_GPA, 8, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	put_desc(f, 1, BUF_GPA, 8, 0, 0);
	offer(f, 0);
	expect_broken(f, "device-readable buffer after a device-writable one");
}

static void test_indirect_not_negotiated(void **state)
{
	struct fixture *f = *state;
	enable(f, 8, false, false);
	put_desc_at(f, IND_GPA, 0, BUF_GPA, 8, 0, 0);
	put_desc(f, 0, IND_GPA, 16, VRING_DESC_F_INDIRECT, 0);
	offer(f, 0);
	expect_broken(f, "not negotiated");
}

static void test_indirect_bad_length(void **state)
{
	struct fixture *f = *state;
	static const uint32_t bad[] = { 0, 8, 17, 24 };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		enable(f, 8, false, true);
		put_desc(f, 0, IND_GPA, bad[i], VRING_DESC_F_INDIRECT, 0);
		offer(f, 0);
		expect_broken(f, "multiple of 16");
	}
}

static void test_indirect_larger_than_queue(void **state)
{
	struct fixture *f = *state;
	enable(f, 8, false, true);
	put_desc(f, 0, IND_GPA, 9 * 16, VRING_DESC_F_INDIRECT, 0);
	offer(f, 0);
	expect_broken(f, "more than the queue size");
}

static void test_indirect_table_outside_ram(void **state)
{
	struct fixture *f = *state;
	enable(f, 8, false, true);
	put_desc(f, 0, RAM_SIZE - 16, 32, VRING_DESC_F_INDIRECT, 0);
	offer(f, 0);
	expect_broken(f, "outside guest RAM");
	enable(f, 8, false, true);
	put_desc(f, 0, UINT64_MAX - 15, 32, VRING_DESC_F_INDIRECT, 0);
	offer(f, 0);
	expect_broken(f, "outside guest RAM");
}

static void test_indirect_nested(void **state)
{
	struct fixture *f = *state;
	enable(f, 8, false, true);
	put_desc_at(f, IND_GPA, 0, BUF_GPA, 8, VRING_DESC_F_NEXT, 1);
	put_desc_at(f, IND_GPA, 1, IND_GPA, 32, VRING_DESC_F_INDIRECT, 0);
	put_desc(f, 0, IND_GPA, 32, VRING_DESC_F_INDIRECT, 0);
	offer(f, 0);
	expect_broken(f, "nesting");
}

static void test_indirect_with_next(void **state)
{
	struct fixture *f = *state;
	enable(f, 8, false, true);
	put_desc_at(f, IND_GPA, 0, BUF_GPA, 8, 0, 0);
	put_desc(f, 0, IND_GPA, 16, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 1);
	put_desc(f, 1, BUF_GPA, 8, 0, 0);
	offer(f, 0);
	expect_broken(f, "both INDIRECT and NEXT");
}

static void test_indirect_loop_and_bad_next(void **state)
{
	struct fixture *f = *state;
	enable(f, 8, false, true);
	put_desc_at(f, IND_GPA, 0, BUF_GPA, 8, VRING_DESC_F_NEXT, 1);
	put_desc_at(f, IND_GPA, 1, BUF_GPA, 8, VRING_DESC_F_NEXT, 0);
	put_desc(f, 0, IND_GPA, 32, VRING_DESC_F_INDIRECT, 0);
	offer(f, 0);
	expect_broken(f, "loops");

	enable(f, 8, false, true);
	put_desc_at(f, IND_GPA, 0, BUF_GPA, 8, VRING_DESC_F_NEXT, 2); /* table has 2 entries */
	put_desc(f, 0, IND_GPA, 32, VRING_DESC_F_INDIRECT, 0);
	offer(f, 0);
	expect_broken(f, "beyond its 2 entries");
}

static void test_indirect_buffer_outside_ram(void **state)
{
	struct fixture *f = *state;
	enable(f, 8, false, true);
	put_desc_at(f, IND_GPA, 0, RAM_SIZE - 1, 2, VRING_DESC_F_WRITE, 0);
	put_desc(f, 0, IND_GPA, 16, VRING_DESC_F_INDIRECT, 0);
	offer(f, 0);
	expect_broken(f, "indirect descriptor 0: buffer");
}

static void test_too_many_segments(void **state)
{
	struct fixture *f = *state;
	enable(f, 256, false, true);
	for (unsigned i = 0; i <= VIRTQ_MAX_SEGS; i++)
		put_desc(f, i, BUF_GPA, 1, i < VIRTQ_MAX_SEGS ? VRING_DESC_F_NEXT : 0, (uint16_t)(i + 1));
	offer(f, 0);
	expect_broken(f, "more than 130 buffers");

	/* The same through an indirect table. */
	enable(f, 256, false, true);
	for (unsigned i = 0; i <= VIRTQ_MAX_SEGS; i++)
		put_desc_at(f, IND_GPA, i, BUF_GPA, 1, i < VIRTQ_MAX_SEGS ? VRING_DESC_F_NEXT : 0, (uint16_t)(i + 1));
	put_desc(f, 0, IND_GPA, (VIRTQ_MAX_SEGS + 1) * 16, VRING_DESC_F_INDIRECT, 0);
	offer(f, 0);
	expect_broken(f, "more than 130 buffers");
}

static void test_broken_queue_takes_no_pushes(void **state)
{
	struct fixture *f = *state;
	enable(f, 8, false, false);
	put_desc(f, 0, BUF_GPA, 8, VRING_DESC_F_WRITE, 0);
	offer(f, 0);
	assert_int_equal(virtq_pop(&f->vq, &f->elem), VIRTQ_GOT);
	offer(f, 9);
	expect_broken(f, "head 9");
	virtq_push(&f->vq, 0, 8);
	assert_int_equal(used(f)->idx, 0);
	assert_false(virtq_should_interrupt(&f->vq));
}

static void test_reset_forgets_everything(void **state)
{
	struct fixture *f = *state;
	enable(f, 8, true, true);
	put_desc(f, 0, BUF_GPA, 8, 0, 0);
	offer(f, 0);
	assert_int_equal(virtq_pop(&f->vq, &f->elem), VIRTQ_GOT);
	virtq_reset(&f->vq);
	assert_false(f->vq.ready);
	assert_false(f->vq.event_idx);
	assert_int_equal(f->vq.size, 0);
	assert_int_equal(f->vq.last_avail, 0);
	assert_null(f->vq.desc);
	assert_int_equal(virtq_pop(&f->vq, &f->elem), VIRTQ_EMPTY);
	virtq_push(&f->vq, 0, 1); /* harmless */
}

/* ---- notification suppression --------------------------------------------- */

static void test_avail_event_published(void **state)
{
	struct fixture *f = *state;
	enable(f, 8, true, false);
	put_desc(f, 0, BUF_GPA, 8, 0, 0);
	put_desc(f, 1, BUF_GPA, 8, 0, 0);

	/* An empty queue asks for a kick at the next entry. */
	assert_int_equal(virtq_pop(&f->vq, &f->elem), VIRTQ_EMPTY);
	assert_int_equal(avail_event_of(f), 0);
	offer(f, 0);
	offer(f, 1);
	assert_int_equal(virtq_pop(&f->vq, &f->elem), VIRTQ_GOT);
	assert_int_equal(avail_event_of(f), 1);
	assert_int_equal(virtq_pop(&f->vq, &f->elem), VIRTQ_GOT);
	assert_int_equal(avail_event_of(f), 2);
	assert_int_equal(virtq_pop(&f->vq, &f->elem), VIRTQ_EMPTY);
	assert_int_equal(avail_event_of(f), 2);
}

static void test_avail_event_untouched_without_event_idx(void **state)
{
	struct fixture *f = *state;
	enable(f, 8, false, false);
	uint16_t sentinel = 0x5a5a;
	memcpy(&used(f)->ring[8], &sentinel, sizeof(sentinel));
	put_desc(f, 0, BUF_GPA, 8, 0, 0);
	offer(f, 0);
	assert_int_equal(virtq_pop(&f->vq, &f->elem), VIRTQ_GOT);
	assert_int_equal(virtq_pop(&f->vq, &f->elem), VIRTQ_EMPTY);
	assert_int_equal(avail_event_of(f), 0x5a5a);
}

/* A burst pop: while the device takes chains, no add the driver makes
 * needs a kick (vring_need_event is false); the pop that finds the ring
 * empty asks for the next entry again. */
static void test_pop_burst_quiet_while_busy_event_idx(void **state)
{
	struct fixture *f = *state;
	enable(f, 8, true, false);
	for (uint16_t i = 0; i < 4; i++)
		put_desc(f, i, BUF_GPA, 8, 0, 0);
	offer(f, 0);
	offer(f, 1);
	assert_int_equal(virtq_pop_burst(&f->vq, &f->elem), VIRTQ_GOT);
	/* The driver adds two more while the device works: no kick. */
	uint16_t old = f->avail_idx;
	offer(f, 2);
	offer(f, 3);
	assert_false(vring_need_event(avail_event_of(f), f->avail_idx, old));
	for (int i = 0; i < 3; i++)
		assert_int_equal(virtq_pop_burst(&f->vq, &f->elem), VIRTQ_GOT);
	/* One behind the device: behind anything the driver adds next. */
	assert_int_equal(avail_event_of(f), 3);
	/* Empty: kicks wanted again, from the next entry on. */
	assert_int_equal(virtq_pop_burst(&f->vq, &f->elem), VIRTQ_EMPTY);
	assert_int_equal(avail_event_of(f), 4);
	old = f->avail_idx;
	offer(f, 0);
	assert_true(vring_need_event(avail_event_of(f), f->avail_idx, old));
	/* And one found on the last look is taken. */
	assert_int_equal(virtq_pop_burst(&f->vq, &f->elem), VIRTQ_GOT);
	assert_int_equal(virtq_pop_burst(&f->vq, &f->elem), VIRTQ_EMPTY);
}

static void test_pop_burst_quiet_while_busy_no_event_idx(void **state)
{
	struct fixture *f = *state;
	enable(f, 8, false, false);
	put_desc(f, 0, BUF_GPA, 8, 0, 0);
	put_desc(f, 1, BUF_GPA, 8, 0, 0);
	offer(f, 0);
	assert_int_equal(virtq_pop_burst(&f->vq, &f->elem), VIRTQ_GOT);
	assert_int_equal(used(f)->flags, VRING_USED_F_NO_NOTIFY);
	offer(f, 1);
	assert_int_equal(virtq_pop_burst(&f->vq, &f->elem), VIRTQ_GOT);
	assert_int_equal(used(f)->flags, VRING_USED_F_NO_NOTIFY);
	assert_int_equal(virtq_pop_burst(&f->vq, &f->elem), VIRTQ_EMPTY);
	assert_int_equal(used(f)->flags, 0);
	/* A plain pop never touches the flag. */
	offer(f, 0);
	assert_int_equal(virtq_pop(&f->vq, &f->elem), VIRTQ_GOT);
	assert_int_equal(used(f)->flags, 0);
}

/* Pop and push `n` buffers (descriptor 0 over and over). */
static void complete(struct fixture *f, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		put_desc(f, 0, BUF_GPA, 8, VRING_DESC_F_WRITE, 0);
		offer(f, 0);
		assert_int_equal(virtq_pop(&f->vq, &f->elem), VIRTQ_GOT);
		virtq_push(&f->vq, f->elem.head, 8);
	}
}

static void test_event_idx_interrupts_per_used_event(void **state)
{
	struct fixture *f = *state;
	enable(f, 8, true, false);

	/* The first interrupt always goes out. */
	complete(f, 1);
	assert_true(virtq_should_interrupt(&f->vq));
	/* Nothing new: no interrupt. */
	assert_false(virtq_should_interrupt(&f->vq));

	/* Driver wants one when entry 3 is used; entries 1 and 2 do not. */
	set_used_event(f, 3);
	complete(f, 2);
	assert_false(virtq_should_interrupt(&f->vq));
	complete(f, 1); /* entry 3 */
	assert_true(virtq_should_interrupt(&f->vq));

	/* Several at once, crossing the event: one interrupt. */
	set_used_event(f, 5);
	complete(f, 3); /* 4, 5, 6 */
	assert_true(virtq_should_interrupt(&f->vq));
	/* An event behind the new entries: the driver is not waiting. */
	set_used_event(f, 2);
	complete(f, 2);
	assert_false(virtq_should_interrupt(&f->vq));
	assert_int_equal(used_event_of(f), 2);
}

static void test_event_idx_wraps_around(void **state)
{
	struct fixture *f = *state;
	static const struct { uint16_t event; bool want; } cases[] = {
		{ 0xfffe, true },  /* the first new entry */
		{ 0xffff, true },
		{ 0x0000, true },  /* past the wrap */
		{ 0x0001, false }, /* the next one, not used yet */
		{ 0xfffd, false }, /* already signalled before */
		{ 0x8000, false },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enable(f, 8, true, false);
		f->vq.last_avail = 0xfffe;
		f->avail_idx = 0xfffe;
		f->vq.used_idx = 0xfffe;
		f->vq.signalled_used = 0xfffe;
		f->vq.signalled_valid = true;
		complete(f, 3); /* used entries 0xfffe, 0xffff, 0x0000; used_idx 1 */
		assert_int_equal(f->vq.used_idx, 1);
		set_used_event(f, cases[i].event);
		if (virtq_should_interrupt(&f->vq) != cases[i].want)
			fail_msg("used_event %#x: expected %s", cases[i].event, cases[i].want ? "an interrupt" : "none");
	}
}

static void test_no_interrupt_flag_without_event_idx(void **state)
{
	struct fixture *f = *state;
	enable(f, 8, false, false);
	set_used_event(f, 0xffff); /* ignored without event idx */

	avail(f)->flags = VRING_AVAIL_F_NO_INTERRUPT;
	complete(f, 1);
	assert_false(virtq_should_interrupt(&f->vq));
	avail(f)->flags = 0;
	complete(f, 1);
	assert_true(virtq_should_interrupt(&f->vq));
	assert_false(virtq_should_interrupt(&f->vq)); /* nothing new */
	complete(f, 1);
	assert_true(virtq_should_interrupt(&f->vq));
}

static void test_no_interrupt_flag_ignored_with_event_idx(void **state)
{
	struct fixture *f = *state;
	enable(f, 8, true, false);
	avail(f)->flags = VRING_AVAIL_F_NO_INTERRUPT;
	complete(f, 1);
	assert_true(virtq_should_interrupt(&f->vq)); /* first one */
	set_used_event(f, 1);
	complete(f, 1);
	assert_true(virtq_should_interrupt(&f->vq));
}

/* ---- concurrency -------------------------------------------------------- */

/* A driver thread and a device thread share a queue with EVENT_IDX, as a
 * guest vCPU and the I/O thread do. The driver kicks only when
 * vring_need_event says so; the device sleeps until kicked and drains the
 * queue. If the device's "publish avail_event, fence, look again" were
 * missing, a buffer added while it went to sleep would never be seen and
 * the test would hang (it gives up after 10 s without progress). */
#define STRESS_BUFFERS 100000u

struct stress {
	struct fixture *f;
	int kick;             /* eventfd: driver -> device */
	unsigned processed;   /* device thread only */
	bool failed;
};

static void *stress_device(void *arg)
{
	struct stress *st = arg;
	struct virtq *vq = &st->f->vq;
	struct virtq_elem *elem = malloc(sizeof(*elem));

	while (st->processed < STRESS_BUFFERS) {
		struct pollfd p = { .fd = st->kick, .events = POLLIN };
		uint64_t n;
		if (poll(&p, 1, 10000) != 1) {
			__atomic_store_n(&st->failed, true, __ATOMIC_RELAXED); /* a lost kick */
			break;
		}
		if (read(st->kick, &n, sizeof(n)) != sizeof(n))
			continue;
		enum virtq_pop_result r;
		while ((r = virtq_pop(vq, elem)) == VIRTQ_GOT) {
			virtq_push(vq, elem->head, 0);
			st->processed++;
		}
		if (r == VIRTQ_BROKEN) {
			__atomic_store_n(&st->failed, true, __ATOMIC_RELAXED);
			break;
		}
	}
	free(elem);
	return NULL;
}

static void test_event_idx_no_lost_kicks(void **state)
{
	struct fixture *f = *state;
	struct stress st = { .f = f, .kick = eventfd(0, EFD_CLOEXEC) };
	const uint16_t size = 8;
	struct vring_avail *a = avail(f);
	struct vring_used *u = used(f);
	uint16_t *avail_event = (uint16_t *)&u->ring[size];
	pthread_t device;
	unsigned kicks = 0;

	assert_true(st.kick >= 0);
	enable(f, size, true, false);
	for (unsigned i = 0; i < size; i++)
		put_desc(f, i, BUF_GPA + 64 * i, 64, VRING_DESC_F_WRITE, 0);
	assert_int_equal(pthread_create(&device, NULL, stress_device, &st), 0);

	uint16_t idx = 0;
	for (unsigned i = 0; i < STRESS_BUFFERS && !__atomic_load_n(&st.failed, __ATOMIC_RELAXED); i++) {
		/* Wait for a free slot (the device returns them in order). */
		while ((uint16_t)(idx - __atomic_load_n(&u->idx, __ATOMIC_ACQUIRE)) >= size &&
		       !__atomic_load_n(&st.failed, __ATOMIC_RELAXED))
			sched_yield();
		a->ring[idx % size] = (uint16_t)(idx % size);
		uint16_t old = idx++;
		__atomic_store_n(&a->idx, idx, __ATOMIC_RELEASE);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (vring_need_event(__atomic_load_n(avail_event, __ATOMIC_RELAXED), idx, old)) {
			uint64_t one = 1;
			assert_int_equal(write(st.kick, &one, sizeof(one)), sizeof(one));
			kicks++;
		}
	}
	pthread_join(device, NULL);
	close(st.kick);
	assert_false(st.failed);
	assert_int_equal(st.processed, STRESS_BUFFERS);
	assert_int_equal(u->idx, (uint16_t)STRESS_BUFFERS);
	assert_true(kicks >= 1 && kicks <= STRESS_BUFFERS);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_enable_maps_rings),
		T(test_enable_rejects_bad_sizes),
		T(test_enable_rejects_misaligned_rings),
		T(test_enable_rejects_rings_outside_ram),
		T(test_enable_accepts_rings_ending_at_end_of_ram),
		T(test_enable_rejects_overlapping_rings),
		T(test_pop_empty_and_not_ready),
		T(test_pop_single_readable_buffer),
		T(test_pop_chain_out_then_in),
		T(test_pop_accepts_zero_length_buffers),
		T(test_copy_helpers_span_segments),
		T(test_push_fills_used_ring),
		T(test_indices_wrap_around),
		T(test_full_ring_is_not_too_far_ahead),
		T(test_chain_as_long_as_the_queue),
		T(test_indirect_table),
		T(test_indirect_table_need_not_be_aligned),
		T(test_indirect_after_direct_descriptors),
		T(test_max_segments_accepted),
		T(test_avail_idx_too_far_ahead),
		T(test_head_out_of_range),
		T(test_chain_loop),
		T(test_next_out_of_range),
		T(test_buffer_outside_ram),
		T(test_readable_after_writable),
		T(test_indirect_not_negotiated),
		T(test_indirect_bad_length),
		T(test_indirect_larger_than_queue),
		T(test_indirect_table_outside_ram),
		T(test_indirect_nested),
		T(test_indirect_with_next),
		T(test_indirect_loop_and_bad_next),
		T(test_indirect_buffer_outside_ram),
		T(test_too_many_segments),
		T(test_broken_queue_takes_no_pushes),
		T(test_reset_forgets_everything),
		T(test_avail_event_published),
		T(test_avail_event_untouched_without_event_idx),
		T(test_pop_burst_quiet_while_busy_event_idx),
		T(test_pop_burst_quiet_while_busy_no_event_idx),
		T(test_event_idx_interrupts_per_used_event),
		T(test_event_idx_wraps_around),
		T(test_no_interrupt_flag_without_event_idx),
		T(test_no_interrupt_flag_ignored_with_event_idx),
		T(test_event_idx_no_lost_kicks),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
