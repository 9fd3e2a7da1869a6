/*
 * Fuzz target: the split virtqueue, device side (src/virtio/queue.c).
 *
 * A hostile driver controls all of guest RAM: descriptor table, avail and
 * used rings, indirect tables, and may rewrite any of it between two
 * device steps. Guest RAM here is 64 KiB of malloc'd memory, so ASan
 * catches any host access a bounds check let past the end.
 *
 * Input:
 *   u8  cfg        bits 0-3: log2 queue size (mod 11, so 1..1024);
 *                  bit 4 EVENT_IDX, bit 5 INDIRECT_DESC,
 *                  bit 6: ring addresses follow (else packed from GPA 0:
 *                  descriptors, avail ring, used ring, no overlap)
 *   [u16 desc_gpa, u16 avail_gpa, u16 used_gpa]   if bit 6
 *   u16 ram_len, then ram_len bytes copied to guest RAM at GPA 0
 *   then device steps, one op byte each (enum op), until the input ends;
 *   a final drain pops and completes whatever is still posted.
 *
 * Checked besides memory safety: a popped chain's buffers lie in RAM and
 * add up to its out_len/in_len; virtq_read_out/write_in copy exactly the
 * bytes that exist from the offset asked; a broken queue stays broken and
 * never interrupts; a drain without guest writes in between gets at most
 * `size` chains (what can be posted), so the device loop is bounded.
 */
#include <linux/virtio_ring.h>

#include "fuzz_common.h"
#include "guest_mem.h"
#include "virtio/queue.h"

#define RAM_BYTES 0x10000u
#define SCRATCH 4096u

enum op {
	OP_POP,         /* pop one chain; copy some of it in and out */
	OP_PUSH,        /* u8 which outstanding chain, u32 len: complete it */
	OP_INTERRUPT,   /* virtq_should_interrupt() */
	OP_GUEST_WRITE, /* u16 gpa, u16 value: the driver rewrites RAM (any ring) */
	OP_READ_OUT,    /* u16 offset, u16 len: from the last popped chain */
	OP_WRITE_IN,    /* u16 offset, u16 len: into the last popped chain */
	OP_RESET,       /* device reset, then the driver enables the queue again */
	OP_DRAIN,       /* pop and complete everything posted, as devices do */
	OP_COUNT
};

#define CFG_EVENT_IDX 0x10
#define CFG_INDIRECT  0x20
#define CFG_PLACED    0x40

struct state {
	uint8_t *ram;
	struct guest_mem mem;
	struct virtq vq;
	uint16_t size;
	bool event_idx, indirect, packed;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	struct virtq_elem elem;  /* the last chain popped */
	bool have_elem;
	uint16_t outstanding[VIRTQ_MAX_SIZE]; /* heads popped, not yet pushed */
	unsigned n_outstanding;
	uint8_t scratch[SCRATCH];
};

static struct state st;

static void enable(void)
{
	virtq_reset(&st.vq);
	st.vq.size = st.size;
	st.vq.desc_gpa = st.desc_gpa;
	st.vq.avail_gpa = st.avail_gpa;
	st.vq.used_gpa = st.used_gpa;
	st.vq.event_idx = st.event_idx;
	st.vq.indirect = st.indirect;
	if (virtq_enable(&st.vq, &st.mem) == 0)
		FUZZ_CHECK(st.vq.ready);
	else
		FUZZ_CHECK(!st.vq.ready && st.vq.error[0]);
	st.have_elem = false;
	st.n_outstanding = 0;
}

static bool in_ram(const void *p, uint64_t len)
{
	const uint8_t *b = p;
	return b >= st.ram && len <= RAM_BYTES && (uint64_t)(b - st.ram) <= RAM_BYTES - len;
}

static void check_elem(const struct virtq_elem *e)
{
	uint64_t out = 0, in = 0;
	FUZZ_CHECK(e->head < st.size);
	FUZZ_CHECK(e->out_num + e->in_num >= 1 && e->out_num + e->in_num <= VIRTQ_MAX_SEGS);
	for (unsigned i = 0; i < e->out_num + e->in_num; i++) {
		FUZZ_CHECK(in_ram(e->iov[i].iov_base, e->iov[i].iov_len));
		if (i < e->out_num)
			out += e->iov[i].iov_len;
		else
			in += e->iov[i].iov_len;
	}
	FUZZ_CHECK(out == e->out_len && in == e->in_len);
}

static void check_broken(void)
{
	FUZZ_CHECK(st.vq.broken && st.vq.error[0]);
	FUZZ_CHECK(!virtq_should_interrupt(&st.vq));
	FUZZ_CHECK(virtq_pop(&st.vq, &st.elem) == VIRTQ_BROKEN);
	st.have_elem = false;
}

static enum virtq_pop_result pop(void)
{
	enum virtq_pop_result r = virtq_pop(&st.vq, &st.elem);
	switch (r) {
	case VIRTQ_GOT:
		check_elem(&st.elem);
		st.have_elem = true;
		/* A driver may post one head twice: keep the oldest entries then. */
		if (st.n_outstanding < VIRTQ_MAX_SIZE)
			st.outstanding[st.n_outstanding++] = st.elem.head;
		break;
	case VIRTQ_BROKEN:
		check_broken();
		break;
	case VIRTQ_EMPTY:
		break;
	default:
		FUZZ_CHECK(!"virtq_pop result");
	}
	return r;
}

/* Bytes of a part of `total` bytes that exist from `offset`, up to `len`. */
static uint64_t expect(uint64_t total, uint64_t offset, uint64_t len)
{
	if (offset >= total)
		return 0;
	return total - offset < len ? total - offset : len;
}

static void copy_out(uint64_t offset, uint64_t len)
{
	if (!st.have_elem)
		return;
	len %= SCRATCH + 1;
	FUZZ_CHECK(virtq_read_out(&st.elem, offset, st.scratch, len) == expect(st.elem.out_len, offset, len));
}

static void copy_in(uint64_t offset, uint64_t len)
{
	if (!st.have_elem)
		return;
	len %= SCRATCH + 1;
	FUZZ_CHECK(virtq_write_in(&st.elem, offset, st.scratch, len) == expect(st.elem.in_len, offset, len));
}

static void push(unsigned which, uint32_t len)
{
	if (!st.n_outstanding)
		return;
	which %= st.n_outstanding;
	uint16_t head = st.outstanding[which];
	st.outstanding[which] = st.outstanding[--st.n_outstanding];
	virtq_push(&st.vq, head, len);
}

/* What a device's kick handler does: everything posted, each completed. */
static void drain(void)
{
	unsigned got = 0;
	/* Each pop takes one posted entry, and at most `size` can be posted.
	 * Only rings the driver placed overlapping can move avail->idx under
	 * the device's own writes, so only packed rings get the exact check;
	 * the others just stop at the same bound. */
	while (got <= st.size) {
		enum virtq_pop_result r = pop();
		if (r != VIRTQ_GOT)
			return;
		got++;
		FUZZ_CHECK(!st.packed || got <= st.size);
		uint64_t in = st.elem.in_len;
		push(st.n_outstanding - 1, (uint32_t)(in < UINT32_MAX ? in : UINT32_MAX));
		if (virtq_should_interrupt(&st.vq))
			FUZZ_CHECK(st.vq.ready && !st.vq.broken);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = fuzz_in(data, size);

	if (!st.ram) {
		st.ram = aligned_alloc(4096, RAM_BYTES);
		FUZZ_CHECK(st.ram);
		st.mem.host = st.ram;
		st.mem.size = RAM_BYTES;
	}
	memset(st.ram, 0, RAM_BYTES);

	uint8_t cfg = fuzz_u8(&in);
	st.size = (uint16_t)(1u << ((cfg & 0x0f) % 11));
	st.event_idx = cfg & CFG_EVENT_IDX;
	st.indirect = cfg & CFG_INDIRECT;
	st.packed = !(cfg & CFG_PLACED);
	if (st.packed) {
		st.desc_gpa = 0;
		st.avail_gpa = 16ull * st.size;
		st.used_gpa = (st.avail_gpa + 6 + 2ull * st.size + 3) & ~3ull;
	} else {
		st.desc_gpa = fuzz_u16(&in);
		st.avail_gpa = fuzz_u16(&in);
		st.used_gpa = fuzz_u16(&in);
	}
	size_t ram_len = fuzz_u16(&in);
	fuzz_bytes(&in, st.ram, ram_len < RAM_BYTES ? ram_len : RAM_BYTES);

	enable();
	while (fuzz_more(&in)) {
		switch (fuzz_u8(&in) % OP_COUNT) {
		case OP_POP:
			if (pop() == VIRTQ_GOT) {
				copy_out(0, st.elem.out_len);
				copy_in(0, st.elem.in_len);
			}
			break;
		case OP_PUSH: {
			unsigned which = fuzz_u8(&in);
			push(which, fuzz_u32(&in));
			break;
		}
		case OP_INTERRUPT:
			if (virtq_should_interrupt(&st.vq))
				FUZZ_CHECK(st.vq.ready && !st.vq.broken);
			break;
		case OP_GUEST_WRITE: {
			uint16_t gpa = fuzz_u16(&in), value = fuzz_u16(&in);
			memcpy(st.ram + (gpa & ~1u), &value, sizeof(value));
			break;
		}
		case OP_READ_OUT: {
			uint16_t off = fuzz_u16(&in);
			copy_out(off, fuzz_u16(&in));
			break;
		}
		case OP_WRITE_IN: {
			uint16_t off = fuzz_u16(&in);
			copy_in(off, fuzz_u16(&in));
			break;
		}
		case OP_RESET:
			enable();
			break;
		case OP_DRAIN:
			drain();
			break;
		}
	}
	drain();
	return 0;
}

/* ---- seeds ---------------------------------------------------------------- */

/* A packed-layout input under construction: header, RAM image, ops. */
struct seed {
	uint8_t bytes[2048];
	size_t len;
	uint16_t qsize;
	size_t ram_at;        /* where the RAM image starts in `bytes` */
	uint64_t avail, used; /* GPAs */
};

static void seed_begin(struct seed *s, unsigned log2, uint8_t features, uint16_t ram_len)
{
	memset(s, 0, sizeof(*s));
	s->qsize = (uint16_t)(1u << log2);
	s->bytes[0] = (uint8_t)(log2 | features);
	s->bytes[1] = (uint8_t)ram_len;
	s->bytes[2] = (uint8_t)(ram_len >> 8);
	s->ram_at = 3;
	s->len = s->ram_at + ram_len;
	s->avail = 16ull * s->qsize;
	s->used = (s->avail + 6 + 2ull * s->qsize + 3) & ~3ull;
}

static void seed_put(struct seed *s, uint64_t gpa, const void *v, size_t n)
{
	memcpy(s->bytes + s->ram_at + gpa, v, n);
}

static void seed_desc(struct seed *s, uint64_t table, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
		      uint16_t next)
{
	struct vring_desc d = { .addr = addr, .len = len, .flags = flags, .next = next };
	seed_put(s, table + 16ull * i, &d, sizeof(d));
}

static void seed_post(struct seed *s, uint16_t idx, const uint16_t *heads)
{
	for (unsigned i = 0; i < idx; i++)
		seed_put(s, s->avail + 4 + 2ull * i, &heads[i], 2);
	seed_put(s, s->avail + 2, &idx, 2);
}

static void seed_ops(struct seed *s, const uint8_t *ops, size_t n)
{
	memcpy(s->bytes + s->len, ops, n);
	s->len += n;
}

void fuzz_seeds(fuzz_emit_fn *emit)
{
	struct seed s;

	/* Queue of 4, one request: a readable header then a writable buffer,
	 * popped, copied, completed, interrupt decided. */
	seed_begin(&s, 2, 0, 128);
	seed_desc(&s, 0, 0, 0x8000, 16, VRING_DESC_F_NEXT, 1);
	seed_desc(&s, 0, 1, 0x9000, 64, VRING_DESC_F_WRITE, 0);
	seed_post(&s, 1, (const uint16_t[]){ 0 });
	{
		const uint8_t ops[] = { OP_POP, OP_READ_OUT, 4, 0, 8, 0, OP_WRITE_IN, 10, 0, 200, 0,
					OP_PUSH, 0, 64, 0, 0, 0, OP_INTERRUPT };
		seed_ops(&s, ops, sizeof(ops));
	}
	emit("simple-chain", s.bytes, s.len);

	/* Queue of 8 with EVENT_IDX and INDIRECT_DESC: two heads, one an
	 * indirect table of three buffers, drained the way devices do. */
	seed_begin(&s, 3, CFG_EVENT_IDX | CFG_INDIRECT, 512);
	seed_desc(&s, 0, 0, 0x180, 48, VRING_DESC_F_INDIRECT, 0);
	seed_desc(&s, 0, 1, 0xa000, 512, 0, 0);
	seed_desc(&s, 0x180, 0, 0xb000, 16, VRING_DESC_F_NEXT, 1);
	seed_desc(&s, 0x180, 1, 0xc000, 4096, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 2);
	seed_desc(&s, 0x180, 2, 0xd000, 1, VRING_DESC_F_WRITE, 0);
	seed_post(&s, 2, (const uint16_t[]){ 0, 1 });
	{
		uint16_t used_event = 1;
		seed_put(&s, s.avail + 4 + 2ull * s.qsize, &used_event, 2);
		const uint8_t ops[] = { OP_DRAIN, OP_INTERRUPT };
		seed_ops(&s, ops, sizeof(ops));
	}
	emit("indirect-event-idx", s.bytes, s.len);

	/* A chain that loops back on itself: the queue must break, not spin. */
	seed_begin(&s, 1, 0, 64);
	seed_desc(&s, 0, 0, 0x8000, 16, VRING_DESC_F_NEXT, 1);
	seed_desc(&s, 0, 1, 0x8100, 16, VRING_DESC_F_NEXT, 0);
	seed_post(&s, 1, (const uint16_t[]){ 0 });
	{
		const uint8_t ops[] = { OP_POP, OP_INTERRUPT, OP_RESET, OP_POP };
		seed_ops(&s, ops, sizeof(ops));
	}
	emit("loop", s.bytes, s.len);

	/* Nothing posted at first; the driver then posts behind the device's
	 * back (guest writes to the avail ring), out-of-order completion. */
	seed_begin(&s, 2, CFG_EVENT_IDX, 128);
	seed_desc(&s, 0, 0, 0x8000, 32, VRING_DESC_F_WRITE, 0);
	seed_desc(&s, 0, 1, 0x8100, 32, 0, 0);
	{
		uint8_t ops[] = { OP_POP,
				  OP_GUEST_WRITE, 0, 0, 0, 0,  /* ring[0] = 0 */
				  OP_GUEST_WRITE, 0, 0, 1, 0,  /* ring[1] = 1 */
				  OP_GUEST_WRITE, 0, 0, 2, 0,  /* idx = 2 */
				  OP_POP, OP_POP, OP_PUSH, 1, 0, 0, 0, 0, OP_PUSH, 0, 32, 0, 0, 0, OP_INTERRUPT };
		/* GPAs of ring[0], ring[1] and idx in this layout. */
		uint16_t gpas[3] = { (uint16_t)(s.avail + 4), (uint16_t)(s.avail + 6), (uint16_t)(s.avail + 2) };
		for (unsigned i = 0; i < 3; i++)
			memcpy(&ops[2 + 5 * i], &gpas[i], 2);
		seed_ops(&s, ops, sizeof(ops));
	}
	emit("late-post", s.bytes, s.len);

	/* Rings placed by the driver: a used ring that is misaligned. */
	{
		const uint8_t placed[] = { 2 | CFG_PLACED, 0x00, 0x10, 0x00, 0x20, 0x02, 0x30, 0, 0, OP_POP };
		emit("misaligned-used", placed, sizeof(placed));
	}
}
