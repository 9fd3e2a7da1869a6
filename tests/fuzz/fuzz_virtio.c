/*
 * Fuzz target: the virtio-mmio register file and the transport-independent
 * status machine (src/virtio/mmio.c, src/virtio/virtio.c) driving the real
 * devices (src/devices/virtio_rng.c, virtio_console.c, virtio_blk.c), the
 * way a hostile driver would: any register write in any order, config
 * accesses of any width, kicks, queue disable and re-setup, rings placed
 * anywhere in RAM (overlapping included) and rewritten at will.
 *
 * The VM is built by hand without KVM (vm_fd = -1): QueueNotify reaches
 * the device's kick eventfds, and the harness serves kicks itself as the
 * I/O thread would (virtio_queue_kick), and virtio-blk's completions with
 * the device's own test hook. Guest RAM is 2 MiB; the rings and buffers
 * the input builds live in its first 64 KiB.
 *
 * Input:
 *   u8 device     mod 3: rng, console, blk
 *   then ops, one byte each (enum op) with their operands, until the end;
 *   the harness then resets the device (Status = 0) and tears it down.
 *
 * Checked besides memory safety: after a reset no request is still in
 * flight (blk) and no queue is ready; Status reads back 0; every device
 * loop returns (a loop that spins hangs the fuzzer, which reports it).
 */
#include <fcntl.h>
#include <linux/virtio_mmio.h>
#include <unistd.h>

#include "devices/device.h"
#include "devices/virtio_blk.h"
#include "fuzz_common.h"
#include "guest_mem.h"
#include "iothread.h"
#include "log.h"
#include "virtio/mmio.h"
#include "vm.h"

#define RAM_BYTES (2u << 20)
#define WORK_BYTES 0x10000u
#define IMAGE_BYTES (1u << 20)

enum op {
	OP_REG_WRITE,   /* u8 register (index into regs[]), u32 value */
	OP_REG_READ,    /* u8 register */
	OP_CONFIG,      /* u8 offset, u8 len (1..8), u8 write?, u64 value */
	OP_KICK,        /* u8 queue: the I/O thread serves a notify */
	OP_COMPLETE,    /* blk: run the completion handler once */
	OP_GUEST_WRITE, /* u16 gpa, u32 value: the driver writes RAM */
	OP_INPUT,       /* console: u8 n, n bytes of stdin */
	OP_RAW,         /* u16 window offset, u8 len, u8 write?, u64 value: any access */
	OP_COUNT
};

static const uint16_t regs[] = {
	VIRTIO_MMIO_DEVICE_FEATURES_SEL, VIRTIO_MMIO_DRIVER_FEATURES, VIRTIO_MMIO_DRIVER_FEATURES_SEL,
	VIRTIO_MMIO_QUEUE_SEL, VIRTIO_MMIO_QUEUE_NUM, VIRTIO_MMIO_QUEUE_READY, VIRTIO_MMIO_QUEUE_NOTIFY,
	VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_STATUS, VIRTIO_MMIO_QUEUE_DESC_LOW, VIRTIO_MMIO_QUEUE_DESC_HIGH,
	VIRTIO_MMIO_QUEUE_AVAIL_LOW, VIRTIO_MMIO_QUEUE_AVAIL_HIGH, VIRTIO_MMIO_QUEUE_USED_LOW,
	VIRTIO_MMIO_QUEUE_USED_HIGH, VIRTIO_MMIO_DEVICE_FEATURES, VIRTIO_MMIO_INTERRUPT_STATUS,
	VIRTIO_MMIO_QUEUE_NUM_MAX, VIRTIO_MMIO_CONFIG_GENERATION, VIRTIO_MMIO_MAGIC_VALUE,
};
#define NREGS (sizeof(regs) / sizeof(regs[0]))

static struct guest_mem mem;
static char image[64];

static void once(void)
{
	static bool done;
	if (done)
		return;
	done = true;
	log_level = LOG_ERROR;
	if (guest_mem_init(&mem, RAM_BYTES, 0))
		abort();
	snprintf(image, sizeof(image), "/dev/shm/pvmm-fuzz-virtio-%d.img", getpid());
	int fd = open(image, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, IMAGE_BYTES))
		abort();
	close(fd);
}

static void drive(struct virtio_dev *dev, uint64_t off, unsigned len, bool is_write, uint64_t value)
{
	uint8_t data[8];
	memcpy(data, &value, sizeof(data));
	virtio_mmio_handle(dev, off, data, len, is_write);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = fuzz_in(data, size);
	struct vm vm = { .kvm_fd = -1, .vm_fd = -1, .vcpu_fd = -1, .console_in_fd = -1, .console_out_fd = -1 };
	int input[2] = { -1, -1 }, out = -1;

	once();
	memset(mem.host, 0, WORK_BYTES);
	vm.mem = mem;
	vm.device_count = 1;
	for (unsigned i = 0; i < PVMM_MAX_DEVICES; i++)
		vm.ready_fd[i] = -1;
	vm.iothread = iothread_create();
	if (!vm.iothread || pipe2(input, O_CLOEXEC | O_NONBLOCK) || (out = open("/dev/null", O_WRONLY | O_CLOEXEC)) < 0)
		abort();

	const struct device_type *types[] = { &virtio_rng_type, &virtio_console_type, &virtio_blk_type };
	const struct device_type *type = types[fuzz_u8(&in) % 3];
	struct device_env env = { .virtio = { .mem = &vm.mem, .io = vm.iothread }, .in_fd = input[0], .out = { .fd = out }, .resize_fd = -1 };
	struct virtio_dev *dev = type->create_virtio(&env, type == &virtio_blk_type ? image : NULL);
	if (!dev || virtio_mmio_attach(&vm, dev))
		abort();
	bool blk = type == &virtio_blk_type;

	while (fuzz_more(&in)) {
		switch (fuzz_u8(&in) % OP_COUNT) {
		case OP_REG_WRITE: {
			uint16_t reg = regs[fuzz_u8(&in) % NREGS];
			drive(dev, reg, 4, true, fuzz_u32(&in));
			break;
		}
		case OP_REG_READ:
			drive(dev, regs[fuzz_u8(&in) % NREGS], 4, false, 0);
			break;
		case OP_CONFIG: {
			uint8_t off = fuzz_u8(&in), len = (uint8_t)(1 + fuzz_u8(&in) % 8);
			bool w = fuzz_u8(&in) & 1;
			drive(dev, VIRTIO_MMIO_CONFIG + off, len, w, fuzz_u64(&in));
			break;
		}
		case OP_KICK:
			virtio_queue_kick(dev, fuzz_u8(&in) % (VIRTIO_MAX_QUEUES + 1), 1);
			break;
		case OP_COMPLETE:
			if (blk)
				virtio_blk_wait_io(dev, 0);
			break;
		case OP_GUEST_WRITE: {
			uint16_t gpa = fuzz_u16(&in) & (WORK_BYTES - 4);
			uint32_t v = fuzz_u32(&in);
			memcpy(mem.host + gpa, &v, sizeof(v));
			break;
		}
		case OP_INPUT: {
			uint8_t n = fuzz_u8(&in) % 64, bytes[64];
			fuzz_bytes(&in, bytes, n);
			if (n && write(input[1], bytes, n) < 0) {
				/* a full pipe: the guest is not reading; fine */
			}
			break;
		}
		case OP_RAW: {
			uint16_t off = fuzz_u16(&in) & 0x1fff;
			uint8_t len = (uint8_t)(1 + fuzz_u8(&in) % 8);
			bool w = fuzz_u8(&in) & 1;
			drive(dev, off, len, w, fuzz_u64(&in));
			break;
		}
		}
	}

	/* A reset must leave nothing in flight and nothing ready. */
	drive(dev, VIRTIO_MMIO_STATUS, 4, true, 0);
	pthread_mutex_lock(&dev->lock);
	FUZZ_CHECK(dev->status == 0);
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		FUZZ_CHECK(!dev->queues[q].ready);
	if (blk)
		FUZZ_CHECK(virtio_blk_inflight(dev->priv) == 0);
	pthread_mutex_unlock(&dev->lock);

	iothread_stop(vm.iothread, NULL);
	virtio_destroy(dev);
	iothread_destroy(vm.iothread);
	close(input[0]);
	close(input[1]);
	close(out);
	return 0;
}

/* ---- seeds --------------------------------------------------------------- */

struct seed {
	uint8_t bytes[1024];
	size_t len;
};

static void put(struct seed *s, const void *p, size_t n)
{
	memcpy(s->bytes + s->len, p, n);
	s->len += n;
}

static void put_u8(struct seed *s, uint8_t v)
{
	put(s, &v, 1);
}

static unsigned reg_index(uint16_t reg)
{
	for (unsigned i = 0; i < NREGS; i++)
		if (regs[i] == reg)
			return i;
	abort();
}

static void reg_write(struct seed *s, uint16_t reg, uint32_t value)
{
	put_u8(s, OP_REG_WRITE);
	put_u8(s, (uint8_t)reg_index(reg));
	put(s, &value, 4);
}

static void guest_write(struct seed *s, uint16_t gpa, uint32_t value)
{
	put_u8(s, OP_GUEST_WRITE);
	put(s, &gpa, 2);
	put(s, &value, 4);
}

/* The driver's handshake, queues 0..nq-1 of 8 entries at 0x1000 + 0x1000*q
 * (descriptors), +0x200 (avail), +0x400 (used). */
static void handshake(struct seed *s, unsigned device, unsigned nq)
{
	s->len = 0;
	put_u8(s, (uint8_t)device);
	reg_write(s, VIRTIO_MMIO_STATUS, 1);
	reg_write(s, VIRTIO_MMIO_STATUS, 3);
	reg_write(s, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	reg_write(s, VIRTIO_MMIO_DRIVER_FEATURES, 1); /* VERSION_1 */
	reg_write(s, VIRTIO_MMIO_STATUS, 0xb);
	for (unsigned q = 0; q < nq; q++) {
		uint32_t base = 0x1000 + 0x1000 * q;
		reg_write(s, VIRTIO_MMIO_QUEUE_SEL, q);
		reg_write(s, VIRTIO_MMIO_QUEUE_NUM, 8);
		reg_write(s, VIRTIO_MMIO_QUEUE_DESC_LOW, base);
		reg_write(s, VIRTIO_MMIO_QUEUE_AVAIL_LOW, base + 0x200);
		reg_write(s, VIRTIO_MMIO_QUEUE_USED_LOW, base + 0x400);
		reg_write(s, VIRTIO_MMIO_QUEUE_READY, 1);
	}
	reg_write(s, VIRTIO_MMIO_STATUS, 0xf);
}

/* Descriptor d of queue q: addr, len, flags, next. */
static void desc(struct seed *s, unsigned q, unsigned d, uint32_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	uint16_t at = (uint16_t)(0x1000 + 0x1000 * q + 16 * d);
	guest_write(s, at, addr);
	guest_write(s, (uint16_t)(at + 8), len);
	guest_write(s, (uint16_t)(at + 12), (uint32_t)flags | (uint32_t)next << 16);
}

/* Post head `d` as avail entry `slot` of queue q and kick. */
static void post(struct seed *s, unsigned q, unsigned slot, uint16_t head)
{
	uint16_t avail = (uint16_t)(0x1000 + 0x1000 * q + 0x200);
	guest_write(s, (uint16_t)(avail + 4 + 2 * (slot & ~1u)), slot & 1 ? (uint32_t)head << 16 : head);
	guest_write(s, avail, (uint32_t)(slot + 1) << 16);
	put_u8(s, OP_KICK);
	put_u8(s, (uint8_t)q);
}

void fuzz_seeds(fuzz_emit_fn *emit)
{
	struct seed s;

	/* rng: one writable buffer. */
	handshake(&s, 0, 1);
	desc(&s, 0, 0, 0x8000, 64, VRING_DESC_F_WRITE, 0);
	post(&s, 0, 0, 0);
	emit("rng-one-request", s.bytes, s.len);

	/* console: output, then input into a receive buffer. */
	handshake(&s, 1, 2);
	desc(&s, 1, 0, 0x8000, 5, 0, 0);
	guest_write(&s, 0x8000, 0x6c6c6568);
	post(&s, 1, 0, 0);
	desc(&s, 0, 0, 0x9000, 32, VRING_DESC_F_WRITE, 0);
	put_u8(&s, OP_INPUT);
	put_u8(&s, 3);
	put(&s, "hi\n", 3);
	post(&s, 0, 0, 0);
	emit("console-out-and-in", s.bytes, s.len);

	/* blk: a read of sector 0 (header, data, status), completed; then
	 * the queue disabled and set up again. */
	handshake(&s, 2, 1);
	guest_write(&s, 0x8000, 0);          /* type IN */
	guest_write(&s, 0x8008, 0);          /* sector 0 */
	desc(&s, 0, 0, 0x8000, 16, VRING_DESC_F_NEXT, 1);
	desc(&s, 0, 1, 0x9000, 512, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 2);
	desc(&s, 0, 2, 0x8100, 1, VRING_DESC_F_WRITE, 0);
	post(&s, 0, 0, 0);
	put_u8(&s, OP_COMPLETE);
	reg_write(&s, VIRTIO_MMIO_QUEUE_READY, 0);
	reg_write(&s, VIRTIO_MMIO_QUEUE_READY, 1);
	emit("blk-read-then-requeue", s.bytes, s.len);

	/* blk: config space read at every width. */
	handshake(&s, 2, 1);
	for (uint8_t len = 1; len <= 8; len *= 2) {
		uint8_t op[] = { OP_CONFIG, 0, (uint8_t)(len - 1), 0, 0, 0, 0, 0, 0, 0, 0, 0 };
		put(&s, op, sizeof(op));
	}
	emit("blk-config", s.bytes, s.len);
}
