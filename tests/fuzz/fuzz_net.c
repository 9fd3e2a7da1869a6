/*
 * Fuzz target: virtio-net's transmit request path, virtio_net_tx_parse()
 * (src/devices/virtio_net.c): the 12-byte header and the Ethernet frame
 * behind it, spread over a chain of buffers of any lengths, readable and
 * writable mixed, against any MTU.
 *
 * Input:
 *   u16 mtu       mapped into 68..9000
 *   u8 nseg       mod 9 (0..8 buffers)
 *   nseg × { u8 writable (bit 0), u16 len mod 2049 }
 *   the bytes of the buffers, one after another (zeros past the end)
 *
 * Checked besides memory safety: a frame is accepted exactly when the
 * chain has no writable buffer, its bytes hold a complete header with
 * flags and gso_type 0, and the frame is 14..MTU+14 bytes; an accepted
 * frame comes out byte for byte, behind an all-zero header.
 */
#include "devices/virtio_net.h"
#include "fuzz_common.h"

#define MAX_SEGS 8
#define SEG_MAX 2048
#define OUT_MAX (NET_HDR_LEN + NET_ETH_HLEN + NET_MTU_MAX)

static uint8_t pool[MAX_SEGS * SEG_MAX];
static uint8_t flat[MAX_SEGS * SEG_MAX];
static uint8_t out[OUT_MAX];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = fuzz_in(data, size);
	static struct virtq_elem elem;
	unsigned mtu = NET_MTU_MIN + fuzz_u16(&in) % (NET_MTU_MAX - NET_MTU_MIN + 1);
	unsigned nseg = fuzz_u8(&in) % (MAX_SEGS + 1);
	bool writable[MAX_SEGS];
	size_t len[MAX_SEGS], total = 0;

	for (unsigned i = 0; i < nseg; i++) {
		writable[i] = fuzz_u8(&in) & 1;
		len[i] = fuzz_u16(&in) % (SEG_MAX + 1);
		total += len[i];
	}
	fuzz_bytes(&in, pool, total);

	/* The chain as virtq_pop() hands it over: readable buffers first. */
	memset(&elem, 0, sizeof(elem));
	size_t off = 0, flat_len = 0;
	bool any_writable = false;
	for (int pass = 0; pass < 2; pass++) {
		off = 0;
		for (unsigned i = 0; i < nseg; i++) {
			if (writable[i] == (pass == 1)) {
				elem.iov[elem.out_num + elem.in_num] = (struct iovec){ pool + off, len[i] };
				if (pass == 0) {
					elem.out_num++;
					elem.out_len += len[i];
					memcpy(flat + flat_len, pool + off, len[i]);
					flat_len += len[i];
				} else {
					elem.in_num++;
					elem.in_len += len[i];
					any_writable = true;
				}
			}
			off += len[i];
		}
	}

	size_t got = 0;
	memset(out, 0xa5, sizeof(out));
	enum vnet_tx_verdict v = virtio_net_tx_parse(&elem, mtu, out, &got);

	bool ok = !any_writable && flat_len >= NET_HDR_LEN && flat_len - NET_HDR_LEN >= NET_ETH_HLEN &&
		  flat_len - NET_HDR_LEN <= mtu + NET_ETH_HLEN && flat[0] == 0 && flat[1] == 0;
	FUZZ_CHECK((v == VNET_TX_OK) == ok);
	if (v == VNET_TX_OK) {
		FUZZ_CHECK(got == flat_len);
		static const uint8_t zero[NET_HDR_LEN];
		FUZZ_CHECK(memcmp(out, zero, NET_HDR_LEN) == 0);
		FUZZ_CHECK(memcmp(out + NET_HDR_LEN, flat + NET_HDR_LEN, got - NET_HDR_LEN) == 0);
	} else if (v == VNET_TX_SHORT) {
		FUZZ_CHECK(flat_len - NET_HDR_LEN < NET_ETH_HLEN);
	} else if (v == VNET_TX_LONG) {
		FUZZ_CHECK(flat_len - NET_HDR_LEN > mtu + NET_ETH_HLEN);
	}
	return 0;
}

/* ---- seeds ----------------------------------------------------------------- */

struct seed {
	uint8_t bytes[8192];
	size_t len;
};

static void put8(struct seed *s, uint8_t v) { s->bytes[s->len++] = v; }
static void put16(struct seed *s, uint16_t v) { put8(s, (uint8_t)v); put8(s, (uint8_t)(v >> 8)); }

/* A chain of segments (lengths, writable bits) over one frame: header
 * with gso_type `gso`, then `frame` bytes of a broadcast frame. */
static void chain(struct seed *s, uint16_t mtu_raw, unsigned n, const uint16_t *lens, const uint8_t *w,
		  uint8_t gso)
{
	s->len = 0;
	put16(s, mtu_raw);
	put8(s, (uint8_t)n);
	size_t total = 0;
	for (unsigned i = 0; i < n; i++) {
		put8(s, w[i]);
		put16(s, lens[i]);
		total += lens[i];
	}
	for (size_t i = 0; i < total && s->len < sizeof(s->bytes); i++) {
		uint8_t b = 0;
		if (i == 1)
			b = gso;
		else if (i >= NET_HDR_LEN && i < NET_HDR_LEN + 6)
			b = 0xff;
		else if (i == NET_HDR_LEN + 12)
			b = 0x08;
		else if (i > NET_HDR_LEN + 13)
			b = (uint8_t)i;
		put8(s, b);
	}
}

void fuzz_seeds(fuzz_emit_fn *emit)
{
	static struct seed s;
	/* mtu_raw 1432 maps to MTU 1500. */
	const uint16_t m1500 = 1500 - NET_MTU_MIN;
	uint8_t r[8] = { 0 }, w[8] = { 0, 1 };

	chain(&s, m1500, 1, (const uint16_t[]){ 12 + 60 }, r, 0);
	emit("one-buffer", s.bytes, s.len);
	chain(&s, m1500, 4, (const uint16_t[]){ 4, 4, 4, 60 }, r, 0);
	emit("split-header", s.bytes, s.len);
	chain(&s, m1500, 2, (const uint16_t[]){ 12, 1514 }, r, 0);
	emit("mtu-sized", s.bytes, s.len);
	chain(&s, m1500, 2, (const uint16_t[]){ 12, 1515 }, r, 0);
	emit("too-long", s.bytes, s.len);
	chain(&s, m1500, 1, (const uint16_t[]){ 12 + 13 }, r, 0);
	emit("too-short", s.bytes, s.len);
	chain(&s, m1500, 2, (const uint16_t[]){ 12 + 60, 64 }, w, 0);
	emit("writable", s.bytes, s.len);
	chain(&s, m1500, 1, (const uint16_t[]){ 12 + 60 }, r, 1);
	emit("gso-header", s.bytes, s.len);
	chain(&s, 0, 1, (const uint16_t[]){ 12 + 14 + 68 }, r, 0);
	emit("min-mtu", s.bytes, s.len);
}
