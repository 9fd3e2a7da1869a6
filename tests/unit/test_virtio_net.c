/*
 * Unit tests for virtio-net's receive placement, virtio_net_rx_place()
 * (src/devices/virtio_net.c): a received frame into one receive chain, or
 * with VIRTIO_NET_F_MRG_RXBUF into as many as it needs. No KVM and no back
 * end: guest RAM is a plain guest_mem and the test posts receive buffers
 * the way a driver does (or a careless one).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>

#include "devices/virtio_net.h"
#include "guest_mem.h"
#include "virtio/queue.h"

#define RAM_SIZE  (4ull << 20)
#define DESC_GPA  0x10000ull
#define AVAIL_GPA 0x20000ull
#define USED_GPA  0x30000ull
#define BUF_GPA   0x100000ull /* receive buffers, 16 KiB apart */
#define BUF_STRIDE 0x4000ull
#define QSIZE 16

struct fixture {
	struct guest_mem mem;
	struct virtq vq;
	uint16_t avail_idx;
	uint16_t used_seen;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	assert_int_equal(guest_mem_init(&f->mem, RAM_SIZE, 0), 0);
	f->vq.size = QSIZE;
	f->vq.desc_gpa = DESC_GPA;
	f->vq.avail_gpa = AVAIL_GPA;
	f->vq.used_gpa = USED_GPA;
	f->vq.event_idx = true;
	assert_int_equal(virtq_enable(&f->vq, &f->mem), 0);
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

static void *ptr(struct fixture *f, uint64_t gpa)
{
	void *p = guest_mem_ptr(&f->mem, gpa, 1);
	assert_non_null(p);
	return p;
}

/* Post descriptor `i` as a one-buffer chain of `len` bytes (device-writable
 * unless `readable`). */
static void post(struct fixture *f, unsigned i, uint32_t len, bool readable)
{
	struct vring_desc d = { .addr = BUF_GPA + BUF_STRIDE * i, .len = len,
				.flags = readable ? 0 : VRING_DESC_F_WRITE, .next = 0 };
	memcpy(ptr(f, DESC_GPA + 16ull * i), &d, sizeof(d));
	memset(ptr(f, d.addr), 0xee, len);
	struct vring_avail *a = ptr(f, AVAIL_GPA);
	a->ring[f->avail_idx % QSIZE] = (uint16_t)i;
	f->avail_idx++;
	a->idx = f->avail_idx;
}

/* The next used entry. */
static struct vring_used_elem take_used(struct fixture *f)
{
	struct vring_used *u = ptr(f, USED_GPA);
	assert_true((uint16_t)(u->idx - f->used_seen) > 0);
	struct vring_used_elem e = u->ring[f->used_seen % QSIZE];
	f->used_seen++;
	return e;
}

static unsigned used_pending(struct fixture *f)
{
	struct vring_used *u = ptr(f, USED_GPA);
	return (uint16_t)(u->idx - f->used_seen);
}

/* A frame of `len` bytes (header included) with a recognisable pattern. */
static uint8_t *make_frame(size_t len)
{
	uint8_t *frame = malloc(len);
	assert_non_null(frame);
	memset(frame, 0, NET_HDR_LEN);
	for (size_t i = NET_HDR_LEN; i < len; i++)
		frame[i] = (uint8_t)(i * 7 + 3);
	return frame;
}

static uint16_t num_buffers_in(struct fixture *f, unsigned desc)
{
	struct virtio_net_hdr_v1 h;
	memcpy(&h, ptr(f, BUF_GPA + BUF_STRIDE * desc), sizeof(h));
	return h.num_buffers;
}

static void test_one_chain_without_mergeable(void **state)
{
	struct fixture *f = *state;
	size_t len = NET_HDR_LEN + 1514;
	uint8_t *frame = make_frame(len);
	struct vnet_rx_place p;

	post(f, 0, 2048, false);
	assert_int_equal(virtio_net_rx_place(&f->vq, false, frame, len, &p), VNET_RX_OK);
	assert_int_equal(p.chains, 1);
	struct vring_used_elem e = take_used(f);
	assert_int_equal(e.id, 0);
	assert_int_equal(e.len, len);
	assert_int_equal(num_buffers_in(f, 0), 1);
	assert_memory_equal(ptr(f, BUF_GPA) + NET_HDR_LEN, frame + NET_HDR_LEN, len - NET_HDR_LEN);
	free(frame);
}

static void test_small_chain_without_mergeable_is_returned_empty(void **state)
{
	struct fixture *f = *state;
	size_t len = NET_HDR_LEN + 1000;
	uint8_t *frame = make_frame(len);
	struct vnet_rx_place p;

	post(f, 0, 512, false);  /* too small for the frame: returned empty */
	post(f, 1, 2048, false); /* takes it */
	assert_int_equal(virtio_net_rx_place(&f->vq, false, frame, len, &p), VNET_RX_OK);
	assert_int_equal(p.bad, 1);
	struct vring_used_elem e = take_used(f);
	assert_int_equal(e.id, 0);
	assert_int_equal(e.len, 0);
	e = take_used(f);
	assert_int_equal(e.id, 1);
	assert_int_equal(e.len, len);
	free(frame);
}

static void test_mergeable_spreads_a_frame(void **state)
{
	struct fixture *f = *state;
	size_t len = NET_HDR_LEN + 1514; /* 1526 bytes into 512-byte buffers: 3 chains */
	uint8_t *frame = make_frame(len);
	struct vnet_rx_place p;

	for (unsigned i = 0; i < 4; i++)
		post(f, i, 512, false);
	assert_int_equal(virtio_net_rx_place(&f->vq, true, frame, len, &p), VNET_RX_OK);
	assert_int_equal(p.chains, 3);
	assert_int_equal(num_buffers_in(f, 0), 3);
	assert_int_equal(used_pending(f), 3);
	size_t off = 0;
	for (unsigned i = 0; i < 3; i++) {
		struct vring_used_elem e = take_used(f);
		assert_int_equal(e.id, i);
		assert_int_equal(e.len, i < 2 ? 512 : len - 1024); /* all but the last filled */
		size_t skip = i == 0 ? NET_HDR_LEN : 0; /* the header differs: num_buffers */
		assert_memory_equal((uint8_t *)ptr(f, BUF_GPA + BUF_STRIDE * i) + skip, frame + off + skip,
				    e.len - skip);
		off += e.len;
	}
	assert_int_equal(off, len);
	/* The fourth buffer is still posted: the next frame takes it. */
	uint8_t *small = make_frame(NET_HDR_LEN + 60);
	assert_int_equal(virtio_net_rx_place(&f->vq, true, small, NET_HDR_LEN + 60, &p), VNET_RX_OK);
	assert_int_equal(take_used(f).id, 3);
	assert_int_equal(num_buffers_in(f, 3), 1);
	free(small);
	free(frame);
}

static void test_mergeable_too_few_buffers_keeps_them_posted(void **state)
{
	struct fixture *f = *state;
	size_t len = NET_HDR_LEN + 1514;
	uint8_t *frame = make_frame(len);
	struct vnet_rx_place p;

	post(f, 0, 512, false);
	post(f, 1, 512, false); /* 1024 bytes posted: the frame needs 1526 */
	assert_int_equal(virtio_net_rx_place(&f->vq, true, frame, len, &p), VNET_RX_NO_BUFFER);
	assert_int_equal(used_pending(f), 0);
	/* One more buffer: now the same two chains and the new one take it. */
	post(f, 2, 512, false);
	assert_int_equal(virtio_net_rx_place(&f->vq, true, frame, len, &p), VNET_RX_OK);
	assert_int_equal(p.chains, 3);
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(take_used(f).id, i);
	free(frame);
}

static void test_mergeable_bad_chain_mid_frame_drops_it_whole(void **state)
{
	struct fixture *f = *state;
	size_t len = NET_HDR_LEN + 1514;
	uint8_t *frame = make_frame(len);
	struct vnet_rx_place p;

	post(f, 0, 512, false);
	post(f, 1, 512, true);  /* device-readable: unusable */
	post(f, 2, 2048, false);
	assert_int_equal(virtio_net_rx_place(&f->vq, true, frame, len, &p), VNET_RX_BAD);
	assert_int_equal(p.bad, 1);
	/* Both chains came back empty, none split a frame. */
	struct vring_used_elem a = take_used(f), b = take_used(f);
	assert_int_equal(a.len, 0);
	assert_int_equal(b.len, 0);
	assert_int_equal(a.id + b.id, 1);
	/* The next frame lands whole in the chain after them. */
	assert_int_equal(virtio_net_rx_place(&f->vq, true, frame, len, &p), VNET_RX_OK);
	struct vring_used_elem e = take_used(f);
	assert_int_equal(e.id, 2);
	assert_int_equal(e.len, len);
	free(frame);
}

static void test_mergeable_chain_shorter_than_a_header_is_unusable(void **state)
{
	struct fixture *f = *state;
	size_t len = NET_HDR_LEN + 60;
	uint8_t *frame = make_frame(len);
	struct vnet_rx_place p;

	post(f, 0, NET_HDR_LEN - 1, false);
	post(f, 1, 512, false);
	assert_int_equal(virtio_net_rx_place(&f->vq, true, frame, len, &p), VNET_RX_OK);
	assert_int_equal(p.bad, 1);
	assert_int_equal(take_used(f).len, 0);
	struct vring_used_elem e = take_used(f);
	assert_int_equal(e.id, 1);
	assert_int_equal(e.len, len);
	free(frame);
}

static void test_empty_ring_drops(void **state)
{
	struct fixture *f = *state;
	uint8_t *frame = make_frame(NET_HDR_LEN + 60);
	struct vnet_rx_place p;

	assert_int_equal(virtio_net_rx_place(&f->vq, true, frame, NET_HDR_LEN + 60, &p), VNET_RX_NO_BUFFER);
	assert_int_equal(virtio_net_rx_place(&f->vq, false, frame, NET_HDR_LEN + 60, &p), VNET_RX_NO_BUFFER);
	assert_int_equal(used_pending(f), 0);
	free(frame);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_one_chain_without_mergeable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_small_chain_without_mergeable_is_returned_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mergeable_spreads_a_frame, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mergeable_too_few_buffers_keeps_them_posted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mergeable_bad_chain_mid_frame_drops_it_whole, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mergeable_chain_shorter_than_a_header_is_unusable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_ring_drops, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
