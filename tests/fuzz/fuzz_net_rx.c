/*
 * Fuzz target: virtio-net's receive placement, virtio_net_rx_place()
 * (src/devices/virtio_net.c), on receive rings a hostile driver wrote:
 * descriptors of any address, length and flags, avail entries of any
 * head, with or without MRG_RXBUF, frames of any length up to the largest
 * MTU. Guest RAM is 64 KiB of malloc'd memory, so ASan catches any host
 * access a bounds check let past the end.
 *
 * Input:
 *   u8  cfg        bits 0-2: log2 queue size (mod 5: 1..16); bit 3
 *                  EVENT_IDX; bit 4 mergeable buffers
 *   u16 ram_len, then ram_len bytes copied to guest RAM at GPA 0 (the
 *                  rings are packed from GPA 0: descriptors, avail, used)
 *   then steps until the input ends: u8 op; op even: u16 frame length
 *   (mod 9015, plus the 12-byte header and 14-byte Ethernet header): place
 *   a frame; op odd: u16 gpa, u16 value: the driver rewrites RAM.
 *
 * Checked besides memory safety (the buffers may overlap the rings, so
 * the used ring's contents prove nothing; the device's own index does):
 * a placed frame pushes exactly its chains and the unusable ones met
 * before it; without mergeable buffers a frame takes one chain; a frame
 * not placed pushes only unusable chains, or (dropped mid-frame) at least
 * one; a broken ring stays broken and pushes nothing. The unit tests in
 * tests/unit/test_virtio_net.c check the bytes and lengths.
 */
#include <linux/virtio_ring.h>

#include "devices/virtio_net.h"
#include "fuzz_common.h"
#include "guest_mem.h"
#include "virtio/queue.h"

#define RAM_BYTES 0x10000u
#define FRAME_MAX (NET_HDR_LEN + NET_ETH_HLEN + NET_MTU_MAX)

static uint8_t *ram;
static struct guest_mem mem;
static struct virtq vq;
static uint8_t frame[FRAME_MAX];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = fuzz_in(data, size);

	if (!ram) {
		ram = aligned_alloc(4096, RAM_BYTES);
		FUZZ_CHECK(ram);
		mem.host = ram;
		mem.size = RAM_BYTES;
	}
	memset(ram, 0, RAM_BYTES);

	uint8_t cfg = fuzz_u8(&in);
	uint16_t qsize = (uint16_t)(1u << ((cfg & 7) % 5));
	bool mergeable = cfg & 0x10;
	uint64_t avail_gpa = 16ull * qsize;
	uint64_t used_gpa = (avail_gpa + 6 + 2ull * qsize + 3) & ~3ull;
	size_t ram_len = fuzz_u16(&in);
	fuzz_bytes(&in, ram, ram_len < RAM_BYTES ? ram_len : RAM_BYTES);

	virtq_reset(&vq);
	vq.size = qsize;
	vq.desc_gpa = 0;
	vq.avail_gpa = avail_gpa;
	vq.used_gpa = used_gpa;
	vq.event_idx = cfg & 0x08;
	FUZZ_CHECK(virtq_enable(&vq, &mem) == 0);

	while (fuzz_more(&in)) {
		uint8_t op = fuzz_u8(&in);
		if (op & 1) {
			uint16_t gpa = fuzz_u16(&in), value = fuzz_u16(&in);
			if (gpa <= RAM_BYTES - 2)
				memcpy(ram + gpa, &value, 2);
			continue;
		}
		size_t len = NET_HDR_LEN + NET_ETH_HLEN + fuzz_u16(&in) % (NET_MTU_MAX + 1);
		for (size_t i = 0; i < len; i++)
			frame[i] = (uint8_t)(i * 13 + 1);
		bool was_broken = vq.broken;
		uint16_t before = vq.used_idx;
		struct vnet_rx_place p;
		enum vnet_rx_verdict v = virtio_net_rx_place(&vq, mergeable, frame, len, &p);
		uint16_t pushed = (uint16_t)(vq.used_idx - before);
		if (was_broken)
			FUZZ_CHECK(v == VNET_RX_BROKEN && pushed == 0);
		if (v == VNET_RX_BROKEN) {
			FUZZ_CHECK(vq.broken && vq.error[0]);
			continue;
		}
		FUZZ_CHECK(pushed >= p.bad);
		if (v != VNET_RX_OK) {
			FUZZ_CHECK(v == VNET_RX_NO_BUFFER ? pushed == p.bad : p.bad >= 1);
			continue;
		}
		FUZZ_CHECK(p.chains >= 1 && pushed == p.bad + p.chains);
		FUZZ_CHECK(mergeable || p.chains == 1);
	}
	return 0;
}

/* Seeds: eight 512-byte receive buffers posted on a queue of 8, then a
 * 1500-byte frame, a minimum one, the driver moving avail's index, and a
 * frame larger than every buffer left; with and without MRG_RXBUF. */
void fuzz_seeds(fuzz_emit_fn *emit)
{
	static uint8_t s[1 + 2 + 0x200 + 16];
	const unsigned q = 8, avail = 16 * q;
	for (int merge = 0; merge < 2; merge++) {
		size_t n = 0;
		memset(s, 0, sizeof(s));
		s[n++] = (uint8_t)(3 | 0x08 | (merge ? 0x10 : 0));
		s[n++] = 0x00;
		s[n++] = 0x02; /* ram_len 0x200 */
		uint8_t *r = s + n;
		for (unsigned i = 0; i < q; i++) {
			uint64_t addr = 0x8000 + 0x800ull * i;
			memcpy(r + 16 * i, &addr, 8);
			r[16 * i + 8] = 0x00; /* len 512 */
			r[16 * i + 9] = 0x02;
			r[16 * i + 12] = VRING_DESC_F_WRITE;
			r[avail + 4 + 2 * i] = (uint8_t)i;
		}
		r[avail + 2] = (uint8_t)q; /* avail idx */
		n += 0x200;
		const uint8_t steps[] = { 0, 0xdc, 0x05, 0, 60, 0, 1, (uint8_t)(avail + 2), 0, 12, 0, 0, 0xb8, 0x0b };
		memcpy(s + n, steps, sizeof(steps));
		n += sizeof(steps);
		emit(merge ? "merged" : "single", s, n);
	}
}
