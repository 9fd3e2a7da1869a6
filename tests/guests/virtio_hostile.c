/*
 * Hostile virtio-blk driver, one case per run: `virtio_hostile.elf CASE`
 * (no argument lists the cases). Run with `--disk IMAGE` (at least 64
 * sectors). The guest brings the device up with the runtime's transport,
 * then writes bad ring state straight into memory, kicks, and reports
 * what the device did. It always exits 0 after printing its observation;
 * the VM must survive every case.
 *
 * Structural damage (the ring or a chain itself is broken) must make the
 * device set DEVICE_NEEDS_RESET and stop; the guest prints
 *     CASE outcome=needs_reset status=0x..
 * then resets the device, sets it up again and reads a sector:
 *     CASE after_reset=0 (OK)
 * Request-level mistakes must be answered with VIRTIO_BLK_S_IOERR (or
 * UNSUPP) while the device keeps working:
 *     CASE outcome=answered status_byte=1 used_len=1
 *     CASE next_request=0 (OK)
 * Bad ring addresses must be refused at QueueReady:
 *     CASE queue_ready=0 status=0x..  (needs_reset=1)
 * A reset (or QueueReady = 0) with requests in flight must leave a device
 * that works after set-up again: `CASE after_reset=0 (OK)`.
 * Anything else prints `CASE outcome=...` with what happened instead
 * (`timeout`: no answer within 5 s).
 *
 * Cases that must not keep the monitor from stopping end by waiting for
 * ever; the test runs them with --timeout and expects status 69 soon
 * after it:
 *   console_requeue (--console virtio, some stdin): a receive chain with
 *     no writable byte, QueueReady = 0, the queue set up again with its
 *     used ring over its avail ring, QueueReady = 1, input arriving.
 *     Prints `console_requeue queue_ready=R needs_reset=N`, then waits.
 *   huge_reads (--disk of >= 3 GiB, --mem 64M): 256 READs of 3 GiB each,
 *     every one through one indirect table of 128 descriptors aliasing
 *     one 24 MiB buffer, kicked, then a device reset. Prints
 *     `huge_reads reset_done status_byte=S`, then waits.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <pvmm/guest.h>
#include <pvmm/virtio.h>
#include <pvmm/virtio_console.h>

#define QSIZE 8
#define WAIT_NS (5 * PVMM_NS_PER_S)

static const char *case_name;
static struct virtio_dev dev;
static struct virtqueue vq;
static int dev_index;

/* Request memory: header, data, status, a scratch indirect table. */
static struct {
	struct virtio_blk_req_hdr hdr;
	uint8_t status;
	uint8_t pad[7];
	struct virtq_desc table[QSIZE + 4] __attribute__((aligned(16)));
	uint8_t data[1024] __attribute__((aligned(512)));
} *mem;

static int setup(void)
{
	int err = virtio_init(&dev, (unsigned)dev_index, VIRTIO_ID_BLOCK);
	if (!err)
		err = virtio_negotiate(&dev, 0);
	if (!err)
		err = virtio_queue_init(&dev, &vq, 0, QSIZE);
	if (err) {
		printf("%s setup failed: %s\n", case_name, virtio_strerror(err));
		return err;
	}
	virtio_driver_ok(&dev);
	return 0;
}

static uint64_t capacity(void)
{
	return virtio_config_read64(&dev, VIRTIO_BLK_CFG_CAPACITY);
}

static void set_desc(unsigned i, const void *addr, uint32_t len, uint16_t flags, uint16_t next)
{
	vq.desc[i] = (struct virtq_desc){ (uint64_t)(uintptr_t)addr, len, flags, next };
}

/* Put `head` on the avail ring, publish, kick (always). */
static void post(uint16_t head)
{
	vq.avail->ring[vq.avail_idx & vq.mask] = head;
	vq.avail_idx++;
	virtio_barrier();
	*(volatile uint16_t *)&vq.avail->idx = vq.avail_idx;
	virtio_mb();
	*vq.notify = 0;
}

enum outcome { USED, NEEDS_RESET, TIMEOUT };

/* Wait for a used entry or NEEDS_RESET. */
static enum outcome observe(uint32_t *used_len)
{
	uint64_t deadline = pvmm_now_ns() + WAIT_NS;
	for (;;) {
		*vq.used_event = vq.last_used; /* signal on the next used entry */
		virtio_mb();
		if (*(volatile uint16_t *)&vq.used->idx != vq.last_used) {
			virtio_barrier();
			*used_len = vq.used->ring[vq.last_used & vq.mask].len;
			vq.last_used++;
			return USED;
		}
		if (virtio_status(&dev) & VIRTIO_STATUS_DEVICE_NEEDS_RESET)
			return NEEDS_RESET;
		if (pvmm_now_ns() >= deadline)
			return TIMEOUT;
		virtio_wait(&dev, deadline);
	}
}

/* A well-formed one-sector read through descriptors 0..2. */
static void build_read(uint64_t sector)
{
	mem->hdr = (struct virtio_blk_req_hdr){ VIRTIO_BLK_T_IN, 0, sector };
	mem->status = 0xff;
	set_desc(0, &mem->hdr, sizeof(mem->hdr), VIRTQ_DESC_F_NEXT, 1);
	set_desc(1, mem->data, 512, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2);
	set_desc(2, &mem->status, 1, VIRTQ_DESC_F_WRITE, 0);
}

static const char *status_name(int s)
{
	return s == VIRTIO_BLK_S_OK ? "OK" : s == VIRTIO_BLK_S_IOERR ? "IOERR" : s == VIRTIO_BLK_S_UNSUPP ? "UNSUPP" : "?";
}

/* A good read after the bad request: the device still works. Returns the
 * status byte, or -1 if it did not answer. */
static int good_read(void)
{
	build_read(1);
	post(0);
	uint32_t len;
	enum outcome o = observe(&len);
	return o == USED ? mem->status : -1;
}

static void report_needs_reset(void)
{
	printf("%s outcome=needs_reset status=%#x\n", case_name, virtio_status(&dev));
	/* Recover: reset, set up again from scratch, read. */
	virtio_reset(&dev);
	if (setup())
		return;
	int s = good_read();
	printf("%s after_reset=%d (%s)\n", case_name, s, s < 0 ? "no answer" : status_name(s));
}

/* Kick what the case built and say what happened. */
static void conclude(void)
{
	uint32_t len = 0;
	enum outcome o = observe(&len);
	if (o == NEEDS_RESET) {
		report_needs_reset();
	} else if (o == USED) {
		printf("%s outcome=answered status_byte=%d (%s) used_len=%u\n", case_name, mem->status,
		       status_name(mem->status), len);
		int s = good_read();
		printf("%s next_request=%d (%s)\n", case_name, s, s < 0 ? "no answer" : status_name(s));
	} else {
		printf("%s outcome=timeout status=%#x\n", case_name, virtio_status(&dev));
	}
}

/* ---- Structural damage ----------------------------------------------- */

static void case_loop(void)
{
	build_read(0);
	set_desc(2, &mem->status, 1, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1); /* 1 -> 2 -> 1 -> ... */
	post(0);
}

static void case_self_loop(void)
{
	build_read(0);
	set_desc(1, mem->data, 512, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1); /* 1 -> 1 */
	post(0);
}

static void case_too_long(void)
{
	/* An indirect table of QSIZE + 1 well-linked descriptors: longer than
	 * the queue (the spec's limit for any chain). */
	struct virtq_desc *t = mem->table;
	mem->hdr = (struct virtio_blk_req_hdr){ VIRTIO_BLK_T_IN, 0, 0 };
	t[0] = (struct virtq_desc){ (uint64_t)(uintptr_t)&mem->hdr, 16, VIRTQ_DESC_F_NEXT, 1 };
	for (unsigned i = 1; i < QSIZE; i++)
		t[i] = (struct virtq_desc){ (uint64_t)(uintptr_t)mem->data + (i - 1) * 64, 64,
					    VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, (uint16_t)(i + 1) };
	t[QSIZE] = (struct virtq_desc){ (uint64_t)(uintptr_t)&mem->status, 1, VIRTQ_DESC_F_WRITE, 0 };
	set_desc(0, t, (QSIZE + 1) * sizeof(*t), VIRTQ_DESC_F_INDIRECT, 0);
	post(0);
}

static void case_outside_ram(void)
{
	build_read(0);
	set_desc(1, (void *)(uintptr_t)pvmm_boot_info()->mem_size, 512, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2);
	post(0);
}

/* A device write (a read request's data) aimed at the PML4: refused like
 * a buffer outside RAM. */
static void case_into_page_tables(void)
{
	build_read(0);
	set_desc(1, (void *)(uintptr_t)0x2000, 512, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2);
	post(0);
}

static void case_into_idt(void)
{
	build_read(0);
	set_desc(1, (void *)(uintptr_t)0xd6000, 512, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2);
	post(0);
}

static void case_straddles_ram_end(void)
{
	build_read(0);
	set_desc(1, (void *)(uintptr_t)(pvmm_boot_info()->mem_size - 256), 512,
		 VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2);
	post(0);
}

static void case_wrap(void)
{
	build_read(0);
	set_desc(1, (void *)(uintptr_t)0xfffffffffffff000ull, 0x2000, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2);
	post(0);
}

static void case_next_out_of_range(void)
{
	build_read(0);
	set_desc(1, mem->data, 512, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, QSIZE + 3);
	post(0);
}

static void case_head_out_of_range(void)
{
	build_read(0);
	post(QSIZE + 1);
}

static void case_avail_jump(void)
{
	/* avail->idx runs QSIZE + 1 entries ahead of the device. */
	build_read(0);
	for (unsigned i = 0; i < QSIZE; i++)
		vq.avail->ring[i] = 0;
	vq.avail_idx = (uint16_t)(vq.avail_idx + QSIZE);
	post(0);
}

static void case_nested_indirect(void)
{
	struct virtq_desc *t = mem->table;
	t[0] = (struct virtq_desc){ (uint64_t)(uintptr_t)&t[4], 3 * sizeof(*t), VIRTQ_DESC_F_INDIRECT, 0 };
	set_desc(0, t, sizeof(*t), VIRTQ_DESC_F_INDIRECT, 0);
	post(0);
}

static void case_indirect_bad_length(void)
{
	build_read(0);
	set_desc(3, mem->table, 20, VIRTQ_DESC_F_INDIRECT, 0); /* not a multiple of 16 */
	post(3);
}

static void case_readable_after_writable(void)
{
	/* header, status (writable), then data readable: out after in. */
	mem->hdr = (struct virtio_blk_req_hdr){ VIRTIO_BLK_T_OUT, 0, 0 };
	mem->status = 0xff;
	set_desc(0, &mem->hdr, 16, VIRTQ_DESC_F_NEXT, 1);
	set_desc(1, &mem->status, 1, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2);
	set_desc(2, mem->data, 512, 0, 0);
	post(0);
}

/* ---- Request-level mistakes ---------------------------------------------- */

static void case_wrong_direction(void)
{
	/* A read whose data buffer is device-readable. */
	build_read(0);
	set_desc(1, mem->data, 512, VIRTQ_DESC_F_NEXT, 2);
	post(0);
}

static void case_write_into_writable(void)
{
	/* A write whose data buffer is device-writable. */
	build_read(0);
	mem->hdr.type = VIRTIO_BLK_T_OUT;
	post(0);
}

static void case_short_header(void)
{
	build_read(0);
	set_desc(0, &mem->hdr, 8, VIRTQ_DESC_F_NEXT, 1);
	post(0);
}

static void case_past_end(void)
{
	build_read(capacity());
	post(0);
}

static void case_straddles_end(void)
{
	build_read(capacity() - 1);
	set_desc(1, mem->data, 1024, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2);
	post(0);
}

static void case_huge_sector(void)
{
	build_read(UINT64_MAX);
	post(0);
}

static void case_partial_sector(void)
{
	build_read(0);
	set_desc(1, mem->data, 100, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2);
	post(0);
}

static void case_unknown_type(void)
{
	build_read(0);
	mem->hdr.type = 99;
	post(0);
}

static void case_no_status(void)
{
	/* Nothing writable at all: no status byte to answer in. */
	build_read(0);
	mem->hdr.type = VIRTIO_BLK_T_OUT;
	set_desc(1, mem->data, 512, 0, 0);
	post(0);
}

/* ---- Resets with requests in flight ------------------------------------------- */

/* Eight 32 KiB reads through indirect tables, kicked, then the rug pulled. */
static void start_big_reads(void)
{
	static struct virtio_blk_req_hdr hdrs[8];
	static uint8_t status[8];
	static struct virtq_desc tables[8][3] __attribute__((aligned(16)));
	uint8_t *buf = page_alloc(8 * 8);
	for (unsigned i = 0; i < 8; i++) {
		hdrs[i] = (struct virtio_blk_req_hdr){ VIRTIO_BLK_T_IN, 0, i * 64 };
		tables[i][0] = (struct virtq_desc){ (uint64_t)(uintptr_t)&hdrs[i], 16, VIRTQ_DESC_F_NEXT, 1 };
		tables[i][1] = (struct virtq_desc){ (uint64_t)(uintptr_t)buf + i * 32768, 32768,
						    VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2 };
		tables[i][2] = (struct virtq_desc){ (uint64_t)(uintptr_t)&status[i], 1, VIRTQ_DESC_F_WRITE, 0 };
		set_desc(i, tables[i], sizeof(tables[i]), VIRTQ_DESC_F_INDIRECT, 0);
		vq.avail->ring[vq.avail_idx++ & vq.mask] = (uint16_t)i;
	}
	virtio_barrier();
	*(volatile uint16_t *)&vq.avail->idx = vq.avail_idx;
	virtio_mb();
	*vq.notify = 0;
}

static void case_reset_in_flight(void)
{
	start_big_reads();
	virtio_reset(&dev);
	printf("%s status_after_reset=%#x\n", case_name, virtio_status(&dev));
	if (setup())
		return;
	int s = good_read();
	printf("%s after_reset=%d (%s)\n", case_name, s, s < 0 ? "no answer" : status_name(s));
}

static void case_queue_disabled_in_flight(void)
{
	start_big_reads();
	virtio_write32(&dev, VIRTIO_MMIO_QUEUE_SEL, 0);
	virtio_write32(&dev, VIRTIO_MMIO_QUEUE_READY, 0);
	printf("%s queue_ready=%u status=%#x\n", case_name, virtio_read32(&dev, VIRTIO_MMIO_QUEUE_READY),
	       virtio_status(&dev));
	virtio_reset(&dev);
	if (setup())
		return;
	int s = good_read();
	printf("%s after_reset=%d (%s)\n", case_name, s, s < 0 ? "no answer" : status_name(s));
}

/* ---- Ring addresses ------------------------------------------------------------ */

/* Set queue 0 up by hand with the given ring addresses and report what
 * QueueReady and Status say. */
static void manual_queue(uint64_t desc, uint64_t driver, uint64_t device)
{
	virtio_write32(&dev, VIRTIO_MMIO_QUEUE_SEL, 0);
	virtio_write32(&dev, VIRTIO_MMIO_QUEUE_NUM, QSIZE);
	virtio_write32(&dev, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)desc);
	virtio_write32(&dev, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(desc >> 32));
	virtio_write32(&dev, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)driver);
	virtio_write32(&dev, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, (uint32_t)(driver >> 32));
	virtio_write32(&dev, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)device);
	virtio_write32(&dev, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, (uint32_t)(device >> 32));
	virtio_write32(&dev, VIRTIO_MMIO_QUEUE_READY, 1);
	uint32_t ready = virtio_read32(&dev, VIRTIO_MMIO_QUEUE_READY);
	uint32_t status = virtio_status(&dev);
	printf("%s queue_ready=%u status=%#x needs_reset=%d\n", case_name, ready, status,
	       !!(status & VIRTIO_STATUS_DEVICE_NEEDS_RESET));
	/* Recover as a driver would. */
	virtio_reset(&dev);
	if (setup())
		return;
	int s = good_read();
	printf("%s after_reset=%d (%s)\n", case_name, s, s < 0 ? "no answer" : status_name(s));
}

static int ring_setup_only(void)
{
	int err = virtio_init(&dev, (unsigned)dev_index, VIRTIO_ID_BLOCK);
	if (!err)
		err = virtio_negotiate(&dev, 0);
	if (err)
		printf("%s setup failed: %s\n", case_name, virtio_strerror(err));
	return err;
}

static uint8_t *ring_page(void)
{
	uint8_t *p = page_alloc(1);
	memset(p, 0, PVMM_PAGE_SIZE);
	return p;
}

static void case_ring_outside_ram(void)
{
	uint64_t end = pvmm_boot_info()->mem_size;
	uint8_t *p = ring_page();
	manual_queue(end, (uint64_t)(uintptr_t)p + 512, (uint64_t)(uintptr_t)p + 1024);
}

static void case_ring_straddles_ram_end(void)
{
	uint64_t end = pvmm_boot_info()->mem_size;
	uint8_t *p = ring_page();
	manual_queue((uint64_t)(uintptr_t)p, (uint64_t)(uintptr_t)p + 512, end - 16);
}

static void case_ring_misaligned(void)
{
	uint8_t *p = ring_page();
	manual_queue((uint64_t)(uintptr_t)p + 8, (uint64_t)(uintptr_t)p + 512, (uint64_t)(uintptr_t)p + 1024);
}

static void case_used_misaligned(void)
{
	uint8_t *p = ring_page();
	manual_queue((uint64_t)(uintptr_t)p, (uint64_t)(uintptr_t)p + 512, (uint64_t)(uintptr_t)p + 1026);
}

static void case_ring_wraps(void)
{
	uint8_t *p = ring_page();
	manual_queue(0xffffffffffffff00ull, (uint64_t)(uintptr_t)p + 512, (uint64_t)(uintptr_t)p + 1024);
}

/* ---- Cases that must not stop the monitor from stopping -------------- */

static void wait_forever(void)
{
	for (;;)
		pvmm_sleep_until(pvmm_now_ns() + PVMM_NS_PER_S);
}

static void case_console_requeue(void)
{
	vcons_set_stdio(false); /* printf goes to the para console from here */
	int idx = virtio_find(VIRTIO_ID_CONSOLE, 0);
	if (idx < 0) {
		printf("%s: no virtio console (run with --console virtio)\n", case_name);
		return;
	}
	int err = virtio_init(&dev, (unsigned)idx, VIRTIO_ID_CONSOLE);
	if (!err)
		err = virtio_negotiate(&dev, 0);
	if (!err)
		err = virtio_queue_init(&dev, &vq, 0, QSIZE);
	if (err) {
		printf("%s setup failed: %s\n", case_name, virtio_strerror(err));
		return;
	}
	virtio_driver_ok(&dev);
	/* A receive chain with no device-writable byte. */
	set_desc(0, mem->data, 16, 0, 0);
	post(0);
	pvmm_sleep_until(pvmm_now_ns() + PVMM_NS_PER_S / 20); /* let the device take it */
	virtio_write32(&dev, VIRTIO_MMIO_QUEUE_SEL, 0);
	virtio_write32(&dev, VIRTIO_MMIO_QUEUE_READY, 0);
	/* Again, with the used ring over the avail ring. */
	uint64_t d = (uint64_t)(uintptr_t)vq.desc, a = (uint64_t)(uintptr_t)vq.avail;
	virtio_write32(&dev, VIRTIO_MMIO_QUEUE_NUM, QSIZE);
	virtio_write32(&dev, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)d);
	virtio_write32(&dev, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(d >> 32));
	virtio_write32(&dev, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)a);
	virtio_write32(&dev, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, (uint32_t)(a >> 32));
	virtio_write32(&dev, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)a);
	virtio_write32(&dev, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, (uint32_t)(a >> 32));
	virtio_write32(&dev, VIRTIO_MMIO_QUEUE_READY, 1);
	*vq.notify = 0;
	printf("%s queue_ready=%u needs_reset=%d\n", case_name, virtio_read32(&dev, VIRTIO_MMIO_QUEUE_READY),
	       !!(virtio_status(&dev) & VIRTIO_STATUS_DEVICE_NEEDS_RESET));
	wait_forever(); /* stdin's input arrives meanwhile */
}

#define HUGE_DESCS 128
#define HUGE_BUF (24u << 20)

static void case_huge_reads(void)
{
	static struct virtio_blk_req_hdr hdr;
	static volatile uint8_t status;
	static struct virtq_desc table[HUGE_DESCS + 2] __attribute__((aligned(16)));
	struct virtqueue big;
	uint8_t *buf = page_alloc(HUGE_BUF / PVMM_PAGE_SIZE);
	int err = virtio_init(&dev, (unsigned)dev_index, VIRTIO_ID_BLOCK);
	if (!err)
		err = virtio_negotiate(&dev, 0);
	if (!err)
		err = virtio_queue_init(&dev, &big, 0, 256);
	if (err || !buf || !big.indirect || big.size < 256) {
		printf("%s setup failed: %s\n", case_name, err ? virtio_strerror(err) : "no memory or no indirect");
		return;
	}
	virtio_driver_ok(&dev);
	hdr = (struct virtio_blk_req_hdr){ VIRTIO_BLK_T_IN, 0, 0 };
	status = 0xff;
	table[0] = (struct virtq_desc){ (uint64_t)(uintptr_t)&hdr, 16, VIRTQ_DESC_F_NEXT, 1 };
	for (unsigned i = 1; i <= HUGE_DESCS; i++)
		table[i] = (struct virtq_desc){ (uint64_t)(uintptr_t)buf, HUGE_BUF, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE,
						(uint16_t)(i + 1) };
	table[HUGE_DESCS + 1] = (struct virtq_desc){ (uint64_t)(uintptr_t)&status, 1, VIRTQ_DESC_F_WRITE, 0 };
	for (unsigned i = 0; i < 256; i++) {
		big.desc[i] = (struct virtq_desc){ (uint64_t)(uintptr_t)table, sizeof(table), VIRTQ_DESC_F_INDIRECT, 0 };
		big.avail->ring[i] = (uint16_t)i;
	}
	virtio_barrier();
	*(volatile uint16_t *)&big.avail->idx = 256;
	virtio_mb();
	*big.notify = 0;
	pvmm_sleep_until(pvmm_now_ns() + PVMM_NS_PER_S / 5); /* let the device take them */
	virtio_reset(&dev); /* waits for what is in flight */
	printf("%s reset_done status_byte=%d\n", case_name, status);
	wait_forever();
}

/* ---- Dispatch ---------------------------------------------------------------------- */

struct hcase {
	const char *name;
	void (*fn)(void);
	int ring; /* 1: sets the queue up itself; 2: reports on its own; 3: console, no disk; 4: does everything itself */
};

static const struct hcase cases[] = {
	{ "loop", case_loop, 0 },
	{ "self_loop", case_self_loop, 0 },
	{ "too_long", case_too_long, 0 },
	{ "outside_ram", case_outside_ram, 0 },
	{ "into_page_tables", case_into_page_tables, 0 },
	{ "into_idt", case_into_idt, 0 },
	{ "straddles_ram_end", case_straddles_ram_end, 0 },
	{ "wrap", case_wrap, 0 },
	{ "next_out_of_range", case_next_out_of_range, 0 },
	{ "head_out_of_range", case_head_out_of_range, 0 },
	{ "avail_jump", case_avail_jump, 0 },
	{ "nested_indirect", case_nested_indirect, 0 },
	{ "indirect_bad_length", case_indirect_bad_length, 0 },
	{ "readable_after_writable", case_readable_after_writable, 0 },
	{ "wrong_direction", case_wrong_direction, 0 },
	{ "write_into_writable", case_write_into_writable, 0 },
	{ "short_header", case_short_header, 0 },
	{ "past_end", case_past_end, 0 },
	{ "straddles_end", case_straddles_end, 0 },
	{ "huge_sector", case_huge_sector, 0 },
	{ "partial_sector", case_partial_sector, 0 },
	{ "unknown_type", case_unknown_type, 0 },
	{ "no_status", case_no_status, 0 },
	{ "reset_in_flight", case_reset_in_flight, 2 },
	{ "queue_disabled_in_flight", case_queue_disabled_in_flight, 2 },
	{ "ring_outside_ram", case_ring_outside_ram, 1 },
	{ "ring_straddles_ram_end", case_ring_straddles_ram_end, 1 },
	{ "ring_misaligned", case_ring_misaligned, 1 },
	{ "used_misaligned", case_used_misaligned, 1 },
	{ "ring_wraps", case_ring_wraps, 1 },
	{ "console_requeue", case_console_requeue, 3 },
	{ "huge_reads", case_huge_reads, 4 },
};

int main(int argc, char **argv)
{
	unsigned n = sizeof(cases) / sizeof(cases[0]);
	if (argc < 2) {
		for (unsigned i = 0; i < n; i++)
			printf("%s\n", cases[i].name);
		return 0;
	}
	case_name = argv[1];
	mem = page_alloc(1);
	memset(mem, 0, sizeof(*mem));
	for (unsigned i = 0; i < n; i++) {
		if (cases[i].ring == 3 && !strcmp(cases[i].name, case_name)) {
			cases[i].fn();
			return 0;
		}
	}
	dev_index = virtio_find(VIRTIO_ID_BLOCK, 0);
	if (dev_index < 0) {
		printf("%s: no virtio-blk device (run with --disk)\n", case_name);
		return 0;
	}
	for (unsigned i = 0; i < n; i++) {
		if (strcmp(cases[i].name, case_name))
			continue;
		if (cases[i].ring == 4) {
			cases[i].fn();
			return 0;
		}
		if (cases[i].ring == 1) {
			if (ring_setup_only())
				return 0;
			cases[i].fn();
			return 0;
		}
		if (setup())
			return 0;
		/* The device works before the damage. */
		int s = good_read();
		if (s != VIRTIO_BLK_S_OK) {
			printf("%s: a good read failed first: %d\n", case_name, s);
			return 0;
		}
		cases[i].fn();
		if (cases[i].ring == 0)
			conclude();
		return 0;
	}
	printf("%s: unknown case\n", case_name);
	return 0;
}
