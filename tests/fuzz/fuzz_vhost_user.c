/*
 * Fuzz target: the vhost-user message checks (src/vhost_user/protocol.c).
 *
 * A hostile front end controls every byte of every message and how many
 * fds come with it. The harness feeds a sequence of messages to
 * vu_parse() the way the back end would, keeps the last memory table and
 * ring sizes it accepted, and translates ring and buffer addresses
 * through that table like the back end does.
 *
 * Input:
 *   u8  limits     bits 0-1: num_queues - 1; bits 2-5: log2 queue_max (mod 16)
 *   then messages until the input ends, each:
 *     u8  nfds     (the message "came with" nfds % 10 fds: more than allowed too)
 *     u16 len      bytes of message (header + payload) that follow; at most
 *                  what remains
 *     len bytes    the message as it would arrive
 *     u64 uva, u32 len   an address to translate through the current table
 *
 * Checked besides memory safety: an accepted message's fields obey every
 * rule the back end relies on (payload size for the request, fd count,
 * ring index below num_queues, ring size a power of two within queue_max,
 * config range inside 256 bytes, a memory table of 1..8 non-overlapping,
 * non-wrapping regions); vu_parse() accepts nothing vu_check_header()
 * refuses; and a translation that succeeds lands wholly inside the region
 * whose front-end range holds it.
 */
#include "fuzz_common.h"
#include "vhost_user/protocol.h"

struct state {
	struct vu_limits lim;
	struct vu_region table[VU_MAX_REGIONS];
	unsigned nregions;
	uint32_t num[4];
};

static struct state st;

static void check_translation(uint64_t uva, uint64_t len)
{
	uint64_t gpa;
	if (!vu_uva_to_gpa(st.table, st.nregions, uva, len, &gpa))
		return;
	bool inside = false;
	for (unsigned i = 0; i < st.nregions; i++) {
		const struct vu_region *r = &st.table[i];
		if (uva >= r->uva && uva - r->uva <= r->size && len <= r->size - (uva - r->uva)) {
			FUZZ_CHECK(gpa == r->gpa + (uva - r->uva));
			FUZZ_CHECK(gpa >= r->gpa && len <= r->size && gpa - r->gpa <= r->size - len);
			inside = true;
			break;
		}
	}
	FUZZ_CHECK(inside);
}

static void check_accepted(const struct vu_msg *m)
{
	switch (m->request) {
	case VU_SET_MEM_TABLE: {
		unsigned n = m->u.mem.nregions;
		FUZZ_CHECK(n >= 1 && n <= VU_MAX_REGIONS && m->nfds == n && m->size == 8 + 32 * n);
		for (unsigned i = 0; i < n; i++) {
			const struct vu_region *a = &m->u.mem.region[i];
			FUZZ_CHECK(a->size && a->gpa + a->size > a->gpa && a->uva + a->size > a->uva);
			for (unsigned j = 0; j < i; j++) {
				const struct vu_region *b = &m->u.mem.region[j];
				FUZZ_CHECK(a->gpa + a->size <= b->gpa || b->gpa + b->size <= a->gpa);
				FUZZ_CHECK(a->uva + a->size <= b->uva || b->uva + b->size <= a->uva);
			}
		}
		memcpy(st.table, m->u.mem.region, n * sizeof(st.table[0]));
		st.nregions = n;
		break;
	}
	case VU_SET_VRING_NUM: {
		uint32_t num = m->u.state.num;
		FUZZ_CHECK(m->u.state.index < st.lim.num_queues);
		FUZZ_CHECK(num >= 1 && num <= st.lim.queue_max && num <= VU_RING_MAX && !(num & (num - 1)));
		st.num[m->u.state.index] = num;
		break;
	}
	case VU_SET_VRING_BASE:
		FUZZ_CHECK(m->u.state.index < st.lim.num_queues && m->u.state.num <= 0xffff);
		break;
	case VU_GET_VRING_BASE:
		FUZZ_CHECK(m->u.state.index < st.lim.num_queues);
		break;
	case VU_SET_VRING_ENABLE:
		FUZZ_CHECK(m->u.state.index < st.lim.num_queues && m->u.state.num <= 1);
		break;
	case VU_SET_VRING_ADDR: {
		unsigned q = m->u.addr.index;
		FUZZ_CHECK(q < st.lim.num_queues && m->u.addr.flags == 0 && m->nfds == 0);
		/* What the back end does with it: translate each ring whole. */
		if (st.num[q]) {
			check_translation(m->u.addr.desc, vu_desc_bytes(st.num[q]));
			check_translation(m->u.addr.avail, vu_avail_bytes(st.num[q]));
			check_translation(m->u.addr.used, vu_used_bytes(st.num[q]));
		}
		break;
	}
	case VU_SET_VRING_KICK:
	case VU_SET_VRING_CALL:
	case VU_SET_VRING_ERR:
		FUZZ_CHECK((m->u.u64 & VU_VRING_INDEX_MASK) < st.lim.num_queues);
		FUZZ_CHECK(m->nfds == (m->u.u64 & VU_VRING_NOFD ? 0u : 1u));
		break;
	case VU_GET_CONFIG:
	case VU_SET_CONFIG:
		FUZZ_CHECK(m->u.config.size <= VU_CONFIG_MAX && m->u.config.offset + m->u.config.size <= VU_CONFIG_MAX);
		FUZZ_CHECK(m->size == VU_CONFIG_HDR + m->u.config.size && m->nfds == 0);
		break;
	default:
		FUZZ_CHECK(vu_request_name(m->request) != NULL);
		FUZZ_CHECK(m->nfds == 0);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = fuzz_in(data, size);
	static uint8_t buf[65536];
	char why[256];
	struct vu_msg m;

	memset(&st, 0, sizeof(st));
	uint8_t limits = fuzz_u8(&in);
	st.lim.num_queues = 1 + (limits & 3);
	st.lim.queue_max = 1u << ((limits >> 2) % 16);

	while (fuzz_more(&in)) {
		unsigned nfds = fuzz_u8(&in) % 10;
		size_t len = fuzz_u16(&in);
		if (len > in.left)
			len = in.left;
		fuzz_bytes(&in, buf, len);
		why[0] = '\0';
		int r = vu_parse(buf, len, nfds, &st.lim, &m, why, sizeof(why));
		if (r == 0) {
			FUZZ_CHECK(len >= VU_HDR_SIZE && vu_check_header(buf, &st.lim, why, sizeof(why)) == 0);
			FUZZ_CHECK(m.size == len - VU_HDR_SIZE && m.size <= VU_PAYLOAD_MAX && m.nfds == nfds);
			FUZZ_CHECK((m.flags & VU_FLAG_VERSION_MASK) == VU_VERSION && !(m.flags & VU_FLAG_REPLY));
			check_accepted(&m);
		} else {
			FUZZ_CHECK(r == -1 && why[0] && strlen(why) < sizeof(why));
		}
		uint64_t uva = fuzz_u64(&in);
		check_translation(uva, fuzz_u32(&in));
	}
	return 0;
}

/* ---- seeds ------------------------------------------------------------- */

struct seed {
	uint8_t bytes[4096];
	size_t len;
};

static void put(struct seed *s, const void *p, size_t n)
{
	if (n)
		memcpy(s->bytes + s->len, p, n);
	s->len += n;
}

static void msg(struct seed *s, unsigned nfds, uint32_t req, uint32_t flags, const void *payload, uint32_t size)
{
	uint8_t b = (uint8_t)nfds;
	uint16_t len = (uint16_t)(VU_HDR_SIZE + size);
	put(s, &b, 1);
	put(s, &len, 2);
	put(s, &req, 4);
	put(s, &flags, 4);
	put(s, &size, 4);
	put(s, payload, size);
	uint64_t uva = 0x7f0000001000ull;
	uint32_t tlen = 64;
	put(s, &uva, 8);
	put(s, &tlen, 4);
}

void fuzz_seeds(fuzz_emit_fn *emit)
{
	struct seed s;
	uint64_t u64;
	uint32_t state[2];

	/* QEMU's start-up: features, protocol features, config. */
	s.len = 0;
	s.bytes[s.len++] = 0 | (8 << 2); /* 1 queue, queue_max 256 */
	msg(&s, 0, VU_SET_OWNER, 1, NULL, 0);
	msg(&s, 0, VU_GET_FEATURES, 1, NULL, 0);
	u64 = (1ull << 32) | (1ull << 30);
	msg(&s, 0, VU_SET_FEATURES, 1, &u64, 8);
	msg(&s, 0, VU_GET_PROTOCOL_FEATURES, 1, NULL, 0);
	u64 = (1ull << VU_PROTOCOL_F_REPLY_ACK) | (1ull << VU_PROTOCOL_F_CONFIG);
	msg(&s, 0, VU_SET_PROTOCOL_FEATURES, 1, &u64, 8);
	{
		uint32_t cfg[3 + 15] = { 0, 60, 0 };
		msg(&s, 0, VU_GET_CONFIG, 1, cfg, sizeof(cfg));
	}
	emit("handshake", s.bytes, s.len);

	/* A ring set up in a two-region table, then stopped. */
	s.len = 0;
	s.bytes[s.len++] = 1 | (8 << 2);
	{
		uint8_t p[8 + 64] = { 2 };
		struct vu_region r[2] = { { 0, 0xa0000, 0x7f0000000000ull, 0 },
					  { 0x100000, 0xff00000, 0x7f0000100000ull, 0x100000 } };
		memcpy(p + 8, r, sizeof(r));
		msg(&s, 2, VU_SET_MEM_TABLE, 1 | VU_FLAG_NEED_REPLY, p, sizeof(p));
	}
	state[0] = 0, state[1] = 128;
	msg(&s, 0, VU_SET_VRING_NUM, 1, state, 8);
	state[1] = 0;
	msg(&s, 0, VU_SET_VRING_BASE, 1, state, 8);
	{
		uint8_t p[40] = { 0 };
		uint64_t a[4] = { 0x7f0000200000ull, 0x7f0000202000ull, 0x7f0000201000ull, 0 };
		memcpy(p + 8, a, 32);
		msg(&s, 0, VU_SET_VRING_ADDR, 1, p, 40);
	}
	u64 = 0;
	msg(&s, 1, VU_SET_VRING_CALL, 1, &u64, 8);
	msg(&s, 1, VU_SET_VRING_KICK, 1, &u64, 8);
	u64 = VU_VRING_NOFD;
	msg(&s, 0, VU_SET_VRING_ERR, 1, &u64, 8);
	state[1] = 1;
	msg(&s, 0, VU_SET_VRING_ENABLE, 1, state, 8);
	msg(&s, 0, VU_GET_VRING_BASE, 1, state, 8);
	emit("ring-setup", s.bytes, s.len);

	/* Wrong things: overlapping regions, a ring size of 3, an oversized
	 * config read, a stray fd, an unknown request. */
	s.len = 0;
	s.bytes[s.len++] = 0 | (8 << 2);
	{
		uint8_t p[8 + 64] = { 2 };
		struct vu_region r[2] = { { 0, 0x80000, 0x1000000, 0 }, { 0x40000, 0x80000, 0x2000000, 0 } };
		memcpy(p + 8, r, sizeof(r));
		msg(&s, 2, VU_SET_MEM_TABLE, 1, p, sizeof(p));
	}
	state[0] = 0, state[1] = 3;
	msg(&s, 0, VU_SET_VRING_NUM, 1, state, 8);
	{
		uint32_t cfg[3] = { 200, 100, 0 };
		msg(&s, 0, VU_GET_CONFIG, 1, cfg, sizeof(cfg));
	}
	u64 = 1ull << 32;
	msg(&s, 1, VU_SET_FEATURES, 1, &u64, 8);
	msg(&s, 0, 99, 1, NULL, 0);
	emit("refused", s.bytes, s.len);
}
