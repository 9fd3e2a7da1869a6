/*
 * Unit tests for the virtio-mmio transport (src/virtio/mmio.c), the shared
 * device logic (src/virtio/virtio.c), the I/O thread, POLL on a virtio
 * device, and the rng and console devices. No KVM: the VM has no KVM fd,
 * so devices come without ioeventfds and irqfd; register accesses go
 * straight to virtio_mmio_handle() and the VM's MMIO bus as the vCPU loop
 * would send them, and QueueNotify reaches the (optionally running) I/O
 * thread through the same eventfds KVM would signal.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <linux/virtio_config.h>
#include <linux/virtio_console.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>

#include "devices/device.h"
#include "devices/virtio_console.h"
#include "devices/virtio_rng.h"
#include "guest_mem.h"
#include "hypercall.h"
#include "iothread.h"
#include "irq.h"
#include "snapshot_format.h"
#include "stats.h"
#include "virtio/mmio.h"
#include "virtio/virtio.h"
#include "vm.h"

#define RAM_SIZE (8ull << 20)
#define RING_GPA(q) (0x10000ull + (q) * 0x4000ull) /* desc; avail +0x1000; used +0x2000 */
#define BUF_GPA 0x100000ull
#define BLOCK_GPA 0x2000ull

#define S_ACK VIRTIO_CONFIG_S_ACKNOWLEDGE
#define S_DRIVER VIRTIO_CONFIG_S_DRIVER
#define S_FEATURES_OK VIRTIO_CONFIG_S_FEATURES_OK
#define S_DRIVER_OK VIRTIO_CONFIG_S_DRIVER_OK
#define S_NEEDS_RESET VIRTIO_CONFIG_S_NEEDS_RESET

#define V1 (1ull << VIRTIO_F_VERSION_1)
#define EVENT_IDX (1ull << VIRTIO_RING_F_EVENT_IDX)
#define INDIRECT (1ull << VIRTIO_RING_F_INDIRECT_DESC)
#define TEST_FEATURE (1ull << 3)

/* ---- a device for the transport tests ---------------------------------- */

struct testdev {
	uint8_t config[8];
	unsigned config_writes;
	uint32_t last_write_off;
	unsigned activates, resets, notifies[2];
	int activate_ret;
	bool echo; /* queue_notify completes every buffer with len 7 */
};

static void t_config_read(struct virtio_dev *dev, uint32_t off, void *data, unsigned len)
{
	struct testdev *t = dev->priv;
	memcpy(data, t->config + off, len);
}

static void t_config_write(struct virtio_dev *dev, uint32_t off, const void *data, unsigned len)
{
	struct testdev *t = dev->priv;
	memcpy(t->config + off, data, len);
	t->config_writes++;
	t->last_write_off = off;
}

static int t_activate(struct virtio_dev *dev)
{
	struct testdev *t = dev->priv;
	t->activates++;
	return t->activate_ret;
}

static void t_notify(struct virtio_dev *dev, unsigned q)
{
	struct testdev *t = dev->priv;
	struct virtq_elem elem;
	bool used = false;

	t->notifies[q]++;
	while (t->echo) {
		enum virtq_pop_result r = virtq_pop(&dev->queues[q], &elem);
		if (r == VIRTQ_BROKEN) {
			virtio_queue_broken(dev, q);
			return;
		}
		if (r == VIRTQ_EMPTY)
			break;
		virtq_push(&dev->queues[q], elem.head, 7);
		dev->stats.requests++;
		used = true;
	}
	if (used)
		virtio_notify_used(dev, q);
}

static void t_reset(struct virtio_dev *dev)
{
	struct testdev *t = dev->priv;
	t->resets++;
}

static const struct virtio_ops test_ops = {
	.name = "test-dev",
	.device_id = 42,
	.features = TEST_FEATURE | (1ull << 40),
	.num_queues = 2,
	.queue_max = 64,
	.config_size = 8,
	.config_read = t_config_read,
	.config_write = t_config_write,
	.activate = t_activate,
	.queue_notify = t_notify,
	.reset = t_reset,
};

/* ---- fixture ------------------------------------------------------------ */

struct fixture {
	struct vm vm;
	struct testdev t;
	struct virtio_dev *dev;
	uint16_t avail_idx[2];
	uint16_t qsize[2];
	int pipe_in[2], pipe_out[2]; /* console: test writes pipe_in[1], reads pipe_out[0] */
	int saved_stderr;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	assert_int_equal(guest_mem_init(&f->vm.mem, RAM_SIZE, 0), 0);
	f->vm.kvm_fd = f->vm.vm_fd = f->vm.vcpu_fd = -1;
	f->vm.console_in_fd = -1;
	f->vm.console_out_fd = -1;
	f->vm.device_count = 1;
	f->vm.devices[0] = (struct pvmm_device_info){ .type = PVMM_DEV_CONSOLE, .irq = PVMM_NO_IRQ };
	for (unsigned i = 0; i < PVMM_MAX_DEVICES; i++)
		f->vm.ready_fd[i] = -1;
	f->vm.mono_base_ns = stats_now_ns();
	f->pipe_in[0] = f->pipe_in[1] = f->pipe_out[0] = f->pipe_out[1] = -1;
	f->saved_stderr = -1;
	*state = f;
	return 0;
}

/* A device of `ops` on the fixture VM's virtio-mmio transport, the way
 * start-up makes one (machine.c): on the VM's I/O loop, then attached. */
static struct virtio_dev *mmio_new(struct vm *vm, const struct virtio_ops *ops, void *priv)
{
	if (!vm->iothread)
		vm->iothread = iothread_create();
	struct virtio_ctx ctx = { .mem = &vm->mem, .io = vm->iothread };
	struct virtio_dev *dev = virtio_dev_new(&ctx, ops, priv);
	if (dev && virtio_mmio_attach(vm, dev)) {
		virtio_destroy(dev);
		return NULL;
	}
	return dev;
}

/* A device of `type` (devices/device.h) on the fixture VM, with the
 * console fds given. */
static struct virtio_dev *type_new(struct vm *vm, const struct device_type *type, int in_fd, int out_fd)
{
	if (!vm->iothread)
		vm->iothread = iothread_create();
	struct device_env env = { .virtio = { .mem = &vm->mem, .io = vm->iothread }, .in_fd = in_fd, .out = { .fd = out_fd }, .resize_fd = -1 };
	struct virtio_dev *dev = type->create_virtio(&env, NULL);
	if (dev && virtio_mmio_attach(vm, dev)) {
		virtio_destroy(dev);
		return NULL;
	}
	return dev;
}

/* setup + the test device at boot info index 1. */
static int setup_dev(void **state)
{
	setup(state);
	struct fixture *f = *state;
	f->dev = mmio_new(&f->vm, &test_ops, &f->t);
	assert_non_null(f->dev);
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	iothread_stop(f->vm.iothread, NULL);
	for (unsigned i = 0; i < f->vm.virtio_count; i++)
		virtio_destroy(f->vm.virtio[i]);
	iothread_destroy(f->vm.iothread);
	f->vm.iothread = NULL;
	if (f->saved_stderr >= 0) {
		fflush(stderr);
		dup2(f->saved_stderr, STDERR_FILENO);
		close(f->saved_stderr);
	}
	for (int i = 0; i < 2; i++) {
		if (f->pipe_in[i] >= 0)
			close(f->pipe_in[i]);
		if (f->pipe_out[i] >= 0)
			close(f->pipe_out[i]);
	}
	guest_mem_free(&f->vm.mem);
	free(f);
	return 0;
}

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED_BUILD 1
#endif
#endif

/* Tests that provoke warnings and errors keep the output readable. */
static void mute_stderr(struct fixture *f)
{
#ifdef SANITIZED_BUILD
	(void)f;
	return;
#endif
	int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	assert_true(null >= 0);
	fflush(stderr);
	f->saved_stderr = dup(STDERR_FILENO);
	dup2(null, STDERR_FILENO);
	close(null);
}

/* ---- register access ---------------------------------------------------- */

static uint32_t rd(struct fixture *f, uint64_t off)
{
	uint8_t data[4] = { 0xee, 0xee, 0xee, 0xee };
	uint32_t v;
	virtio_mmio_handle(f->dev, off, data, 4, false);
	memcpy(&v, data, 4);
	return v;
}

static void wr(struct fixture *f, uint64_t off, uint32_t v)
{
	uint8_t data[4];
	memcpy(data, &v, 4);
	virtio_mmio_handle(f->dev, off, data, 4, true);
}

static uint64_t rdn(struct fixture *f, uint64_t off, unsigned len)
{
	uint8_t data[8];
	uint64_t v = 0;
	memset(data, 0xee, sizeof(data));
	virtio_mmio_handle(f->dev, off, data, len, false);
	memcpy(&v, data, len);
	return v;
}

static void wrn(struct fixture *f, uint64_t off, uint64_t v, unsigned len)
{
	uint8_t data[8];
	memcpy(data, &v, sizeof(data));
	virtio_mmio_handle(f->dev, off, data, len, true);
}

static uint32_t status(struct fixture *f)
{
	return rd(f, VIRTIO_MMIO_STATUS);
}

static uint64_t device_features(struct fixture *f)
{
	wr(f, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	uint64_t lo = rd(f, VIRTIO_MMIO_DEVICE_FEATURES);
	wr(f, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	return lo | (uint64_t)rd(f, VIRTIO_MMIO_DEVICE_FEATURES) << 32;
}

/* Steps 1-5 of device initialization; returns the status read back. */
static uint32_t negotiate(struct fixture *f, uint64_t features)
{
	wr(f, VIRTIO_MMIO_STATUS, 0);
	wr(f, VIRTIO_MMIO_STATUS, S_ACK);
	wr(f, VIRTIO_MMIO_STATUS, S_ACK | S_DRIVER);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)features);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(features >> 32));
	wr(f, VIRTIO_MMIO_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);
	return status(f);
}

static void set_queue(struct fixture *f, unsigned q, uint32_t size, uint64_t desc, uint64_t avail, uint64_t used)
{
	wr(f, VIRTIO_MMIO_QUEUE_SEL, q);
	wr(f, VIRTIO_MMIO_QUEUE_NUM, size);
	wr(f, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)desc);
	wr(f, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(desc >> 32));
	wr(f, VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)avail);
	wr(f, VIRTIO_MMIO_QUEUE_AVAIL_HIGH, (uint32_t)(avail >> 32));
	wr(f, VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)used);
	wr(f, VIRTIO_MMIO_QUEUE_USED_HIGH, (uint32_t)(used >> 32));
	if (q < 2)
		f->qsize[q] = (uint16_t)size;
}

static void setup_queue(struct fixture *f, unsigned q, uint16_t size)
{
	set_queue(f, q, size, RING_GPA(q), RING_GPA(q) + 0x1000, RING_GPA(q) + 0x2000);
	wr(f, VIRTIO_MMIO_QUEUE_READY, 1);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_READY), 1);
	f->avail_idx[q] = 0;
}

/* The whole initialization: features, every queue, DRIVER_OK. */
static void bring_up(struct fixture *f, uint64_t features)
{
	assert_true(negotiate(f, features) & S_FEATURES_OK);
	for (unsigned q = 0; q < f->dev->ops->num_queues; q++)
		setup_queue(f, q, 16);
	wr(f, VIRTIO_MMIO_STATUS, status(f) | S_DRIVER_OK);
	assert_true(status(f) & S_DRIVER_OK);
}

/* ---- the driver's side of the rings --------------------------------------- */

static void *gptr(struct fixture *f, uint64_t gpa)
{
	void *p = guest_mem_ptr(&f->vm.mem, gpa, 1);
	assert_non_null(p);
	return p;
}

static void put_desc(struct fixture *f, unsigned q, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	struct vring_desc d = { .addr = addr, .len = len, .flags = flags, .next = next };
	memcpy(gptr(f, RING_GPA(q) + 16ull * i), &d, sizeof(d));
}

static void offer(struct fixture *f, unsigned q, uint16_t head)
{
	struct vring_avail *a = gptr(f, RING_GPA(q) + 0x1000);
	a->ring[f->avail_idx[q] % f->qsize[q]] = head;
	f->avail_idx[q]++;
	__atomic_store_n(&a->idx, f->avail_idx[q], __ATOMIC_RELEASE);
}

static struct vring_used *used_ring(struct fixture *f, unsigned q)
{
	return gptr(f, RING_GPA(q) + 0x2000);
}

static uint16_t used_idx(struct fixture *f, unsigned q)
{
	return __atomic_load_n(&used_ring(f, q)->idx, __ATOMIC_ACQUIRE);
}

/* Consume the device's ready eventfd: true if it had been signalled. */
static bool take_ready(struct fixture *f, struct virtio_dev *dev)
{
	uint64_t n;
	return read(f->vm.ready_fd[dev->index], &n, sizeof(n)) == sizeof(n);
}

/* Wait up to 5 s for the device to interrupt (I/O thread tests). */
static void wait_ready(struct fixture *f, struct virtio_dev *dev)
{
	struct pollfd p = { .fd = f->vm.ready_fd[dev->index], .events = POLLIN };
	assert_int_equal(poll(&p, 1, 5000), 1);
	assert_true(take_ready(f, dev));
}

/* ---- identification and features ---------------------------------------- */

static void test_identity_registers(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(rd(f, VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	assert_int_equal(rd(f, VIRTIO_MMIO_VERSION), 2);
	assert_int_equal(rd(f, VIRTIO_MMIO_DEVICE_ID), 42);
	assert_int_equal(rd(f, VIRTIO_MMIO_VENDOR_ID), VIRTIO_MMIO_VENDOR);
	assert_int_equal(status(f), 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_CONFIG_GENERATION), 0);
	/* No shared memory regions: length reads as -1. */
	assert_int_equal(rd(f, VIRTIO_MMIO_SHM_LEN_LOW), 0xffffffffu);
	assert_int_equal(rd(f, VIRTIO_MMIO_SHM_LEN_HIGH), 0xffffffffu);
}

static void test_device_features(void **state)
{
	struct fixture *f = *state;
	uint64_t feat = device_features(f);
	assert_int_equal(feat, test_ops.features | V1 | EVENT_IDX | INDIRECT);
	wr(f, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 2);
	assert_int_equal(rd(f, VIRTIO_MMIO_DEVICE_FEATURES), 0);
}

static void test_features_ok_accepts_subset_with_v1(void **state)
{
	struct fixture *f = *state;
	uint32_t st = negotiate(f, V1 | EVENT_IDX | TEST_FEATURE);
	assert_int_equal(st, S_ACK | S_DRIVER | S_FEATURES_OK);
	assert_int_equal(f->dev->driver_features, V1 | EVENT_IDX | TEST_FEATURE);
}

static void test_features_ok_refuses_unoffered_bits(void **state)
{
	struct fixture *f = *state;
	mute_stderr(f);
	uint32_t st = negotiate(f, V1 | (1ull << 5));
	assert_int_equal(st, S_ACK | S_DRIVER); /* FEATURES_OK did not stick */
	assert_int_equal(f->dev->driver_features, 0);
}

static void test_features_ok_refuses_legacy_driver(void **state)
{
	struct fixture *f = *state;
	mute_stderr(f);
	assert_int_equal(negotiate(f, EVENT_IDX), S_ACK | S_DRIVER);
	assert_int_equal(negotiate(f, 0), S_ACK | S_DRIVER);
}

static void test_driver_features_frozen_after_features_ok(void **state)
{
	struct fixture *f = *state;
	mute_stderr(f);
	negotiate(f, V1);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)EVENT_IDX);
	wr(f, VIRTIO_MMIO_STATUS, status(f) | S_DRIVER_OK);
	assert_int_equal(f->dev->driver_features, V1);
}

/* ---- status machine --------------------------------------------------------- */

static void test_driver_ok_activates_once(void **state)
{
	struct fixture *f = *state;
	bring_up(f, V1);
	assert_int_equal(f->t.activates, 1);
	wr(f, VIRTIO_MMIO_STATUS, status(f)); /* same value again */
	assert_int_equal(f->t.activates, 1);
	assert_int_equal(status(f), S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
}

static void test_driver_ok_without_features_ok_is_ignored(void **state)
{
	struct fixture *f = *state;
	mute_stderr(f);
	wr(f, VIRTIO_MMIO_STATUS, S_ACK | S_DRIVER | S_DRIVER_OK);
	assert_int_equal(status(f), S_ACK | S_DRIVER);
	assert_int_equal(f->t.activates, 0);
}

static void test_activate_failure_needs_reset(void **state)
{
	struct fixture *f = *state;
	mute_stderr(f);
	f->t.activate_ret = -1;
	negotiate(f, V1);
	wr(f, VIRTIO_MMIO_STATUS, status(f) | S_DRIVER_OK);
	assert_true(status(f) & S_NEEDS_RESET);
	assert_true(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_CONFIG);
}

static void test_status_bits_cannot_be_cleared(void **state)
{
	struct fixture *f = *state;
	mute_stderr(f);
	negotiate(f, V1);
	wr(f, VIRTIO_MMIO_STATUS, S_ACK);
	assert_int_equal(status(f), S_ACK | S_DRIVER | S_FEATURES_OK);
}

static void test_needs_reset_belongs_to_the_device(void **state)
{
	struct fixture *f = *state;
	mute_stderr(f);
	wr(f, VIRTIO_MMIO_STATUS, S_ACK | S_NEEDS_RESET);
	assert_int_equal(status(f), S_ACK); /* the driver cannot set it */
	virtio_fail(f->dev, "test");
	wr(f, VIRTIO_MMIO_STATUS, S_ACK | S_DRIVER); /* nor clear it */
	assert_int_equal(status(f), S_ACK | S_DRIVER | S_NEEDS_RESET);
	wr(f, VIRTIO_MMIO_STATUS, 0);
	assert_int_equal(status(f), 0);
}

static void test_reset_forgets_driver_state(void **state)
{
	struct fixture *f = *state;
	bring_up(f, V1 | EVENT_IDX);
	virtio_interrupt(f->dev, 0);
	wr(f, VIRTIO_MMIO_QUEUE_SEL, 1);
	unsigned resets = f->t.resets;
	wr(f, VIRTIO_MMIO_STATUS, 0);
	assert_int_equal(f->t.resets, resets + 1);
	assert_int_equal(status(f), 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	assert_int_equal(f->dev->driver_features, 0);
	for (unsigned q = 0; q < 2; q++) {
		assert_false(f->dev->queues[q].ready);
		assert_int_equal(f->dev->queues[q].desc_gpa, 0);
	}
	/* QueueSel went back to 0 too. */
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_READY), 0);
	/* And the device can be brought up again. */
	bring_up(f, V1);
	assert_int_equal(f->t.activates, 2);
}

/* ---- queues ------------------------------------------------------------------ */

static void test_queue_setup(void **state)
{
	struct fixture *f = *state;
	negotiate(f, V1 | EVENT_IDX | INDIRECT);
	wr(f, VIRTIO_MMIO_QUEUE_SEL, 1);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_NUM_MAX), 64);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_READY), 0);
	set_queue(f, 1, 32, 0x50000, 0x20000, 0x30000);
	wr(f, VIRTIO_MMIO_QUEUE_READY, 1);
	struct virtq *vq = &f->dev->queues[1];
	assert_true(vq->ready);
	assert_int_equal(vq->size, 32);
	assert_int_equal(vq->desc_gpa, 0x50000);
	assert_int_equal(vq->avail_gpa, 0x20000);
	assert_int_equal(vq->used_gpa, 0x30000);
	assert_true(vq->event_idx);
	assert_true(vq->indirect);
	assert_false(f->dev->queues[0].ready);
}

static void test_queue_features_follow_negotiation(void **state)
{
	struct fixture *f = *state;
	negotiate(f, V1);
	setup_queue(f, 0, 16);
	assert_false(f->dev->queues[0].event_idx);
	assert_false(f->dev->queues[0].indirect);
}

static void test_nonexistent_queue(void **state)
{
	struct fixture *f = *state;
	mute_stderr(f);
	negotiate(f, V1);
	wr(f, VIRTIO_MMIO_QUEUE_SEL, 2);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_READY), 0);
	wr(f, VIRTIO_MMIO_QUEUE_NUM, 16);
	wr(f, VIRTIO_MMIO_QUEUE_READY, 1);
	wr(f, VIRTIO_MMIO_QUEUE_SEL, 0xffffffff);
	wr(f, VIRTIO_MMIO_QUEUE_READY, 1);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
	assert_int_equal(status(f) & S_NEEDS_RESET, 0);
}

static void test_queue_registers_frozen_while_ready(void **state)
{
	struct fixture *f = *state;
	mute_stderr(f);
	negotiate(f, V1);
	setup_queue(f, 0, 16);
	set_queue(f, 0, 8, 0x50000, 0x60000, 0x70000);
	struct virtq *vq = &f->dev->queues[0];
	assert_int_equal(vq->size, 16);
	assert_int_equal(vq->desc_gpa, RING_GPA(0));
	/* QueueReady 0 stops it; then it may be set up anew. */
	wr(f, VIRTIO_MMIO_QUEUE_READY, 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_READY), 0);
	set_queue(f, 0, 8, 0x50000, 0x60000, 0x70000);
	wr(f, VIRTIO_MMIO_QUEUE_READY, 1);
	assert_int_equal(vq->size, 8);
	assert_int_equal(vq->desc_gpa, 0x50000);
}

static void expect_needs_reset(struct fixture *f)
{
	assert_true(status(f) & S_NEEDS_RESET);
	assert_true(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_CONFIG);
	assert_true(take_ready(f, f->dev));
	assert_int_equal(f->dev->failures, 1);
}

static void test_queue_ready_with_bad_rings_needs_reset(void **state)
{
	struct fixture *f = *state;
	mute_stderr(f);
	negotiate(f, V1);
	/* The high halves count: this ring is at 4 GiB + 0x10000. */
	set_queue(f, 0, 16, (1ull << 32) | RING_GPA(0), RING_GPA(0) + 0x1000, RING_GPA(0) + 0x2000);
	assert_int_equal(f->dev->queues[0].desc_gpa, (1ull << 32) | RING_GPA(0));
	wr(f, VIRTIO_MMIO_QUEUE_READY, 1);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_READY), 0);
	expect_needs_reset(f);
}

static void test_queue_ready_with_bad_size_needs_reset(void **state)
{
	struct fixture *f = *state;
	mute_stderr(f);
	negotiate(f, V1);
	set_queue(f, 0, 12, RING_GPA(0), RING_GPA(0) + 0x1000, RING_GPA(0) + 0x2000);
	wr(f, VIRTIO_MMIO_QUEUE_READY, 1);
	expect_needs_reset(f);
}

static void test_queue_larger_than_max_needs_reset(void **state)
{
	struct fixture *f = *state;
	mute_stderr(f);
	negotiate(f, V1);
	set_queue(f, 0, 128, RING_GPA(0), RING_GPA(0) + 0x1000, RING_GPA(0) + 0x2000);
	wr(f, VIRTIO_MMIO_QUEUE_READY, 1);
	expect_needs_reset(f);
	/* A further failure is not logged or counted again. */
	virtio_fail(f->dev, "again");
	assert_int_equal(f->dev->failures, 1);
}

static void test_queue_ready_before_features_ok_needs_reset(void **state)
{
	struct fixture *f = *state;
	mute_stderr(f);
	wr(f, VIRTIO_MMIO_STATUS, S_ACK | S_DRIVER);
	set_queue(f, 0, 16, RING_GPA(0), RING_GPA(0) + 0x1000, RING_GPA(0) + 0x2000);
	wr(f, VIRTIO_MMIO_QUEUE_READY, 1);
	expect_needs_reset(f);
}

/* ---- bad accesses ---------------------------------------------------------------- */

static void test_wrong_width_and_misaligned_accesses(void **state)
{
	struct fixture *f = *state;
	mute_stderr(f);
	assert_int_equal(rdn(f, VIRTIO_MMIO_MAGIC_VALUE, 2), 0);
	assert_int_equal(rdn(f, VIRTIO_MMIO_MAGIC_VALUE, 1), 0);
	assert_int_equal(rdn(f, VIRTIO_MMIO_MAGIC_VALUE, 8), 0);
	assert_int_equal(rdn(f, VIRTIO_MMIO_MAGIC_VALUE + 1, 4), 0);
	wrn(f, VIRTIO_MMIO_STATUS, S_ACK, 1);
	wrn(f, VIRTIO_MMIO_STATUS, S_ACK, 2);
	wrn(f, VIRTIO_MMIO_STATUS + 2, S_ACK, 4);
	wrn(f, VIRTIO_MMIO_STATUS, S_ACK, 8);
	assert_int_equal(status(f), 0);
	/* Nonsense lengths (KVM never sends them) are dropped. */
	uint8_t data[8] = { 0 };
	virtio_mmio_handle(f->dev, VIRTIO_MMIO_STATUS, data, 0, true);
	virtio_mmio_handle(f->dev, VIRTIO_MMIO_STATUS, data, 9, true);
	assert_int_equal(status(f), 0);
}

static void test_write_only_and_read_only_registers(void **state)
{
	struct fixture *f = *state;
	mute_stderr(f);
	static const uint64_t write_only[] = {
		VIRTIO_MMIO_DEVICE_FEATURES_SEL, VIRTIO_MMIO_DRIVER_FEATURES, VIRTIO_MMIO_QUEUE_SEL,
		VIRTIO_MMIO_QUEUE_NUM, VIRTIO_MMIO_QUEUE_NOTIFY, VIRTIO_MMIO_INTERRUPT_ACK,
		VIRTIO_MMIO_QUEUE_DESC_LOW, VIRTIO_MMIO_QUEUE_USED_HIGH,
		0x028, 0x03c, 0x040, /* legacy registers */
		0x0f8,               /* unassigned */
	};
	wr(f, VIRTIO_MMIO_QUEUE_SEL, 1);
	wr(f, VIRTIO_MMIO_QUEUE_NUM, 16);
	for (size_t i = 0; i < sizeof(write_only) / sizeof(write_only[0]); i++)
		assert_int_equal(rd(f, write_only[i]), 0);
	static const uint64_t read_only[] = {
		VIRTIO_MMIO_MAGIC_VALUE, VIRTIO_MMIO_VERSION, VIRTIO_MMIO_DEVICE_ID, VIRTIO_MMIO_VENDOR_ID,
		VIRTIO_MMIO_DEVICE_FEATURES, VIRTIO_MMIO_QUEUE_NUM_MAX, VIRTIO_MMIO_INTERRUPT_STATUS,
		VIRTIO_MMIO_CONFIG_GENERATION, VIRTIO_MMIO_SHM_LEN_LOW, 0x0f8,
	};
	for (size_t i = 0; i < sizeof(read_only) / sizeof(read_only[0]); i++)
		wr(f, read_only[i], 0x12345678);
	assert_int_equal(rd(f, VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	assert_int_equal(rd(f, VIRTIO_MMIO_DEVICE_ID), 42);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_NUM_MAX), 64);
	assert_int_equal(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	assert_int_equal(status(f), 0);
}

static void test_access_past_window_end(void **state)
{
	struct fixture *f = *state;
	mute_stderr(f);
	assert_int_equal(rdn(f, VIRTIO_MMIO_WINDOW - 4, 8), 0);
	assert_int_equal(rdn(f, VIRTIO_MMIO_WINDOW, 4), 0);
	wrn(f, VIRTIO_MMIO_WINDOW - 2, ~0ull, 4);
	assert_int_equal(f->t.config_writes, 0);
}

/* ---- config space --------------------------------------------------------------- */

static void test_config_reads(void **state)
{
	struct fixture *f = *state;
	memcpy(f->t.config, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
	assert_int_equal(rdn(f, VIRTIO_MMIO_CONFIG + 0, 1), 0x01);
	assert_int_equal(rdn(f, VIRTIO_MMIO_CONFIG + 7, 1), 0x08);
	assert_int_equal(rdn(f, VIRTIO_MMIO_CONFIG + 2, 2), 0x0403);
	assert_int_equal(rdn(f, VIRTIO_MMIO_CONFIG + 4, 4), 0x08070605);
	assert_int_equal(rdn(f, VIRTIO_MMIO_CONFIG, 8), 0x0807060504030201ull);
}

static void test_config_bad_accesses_read_zero(void **state)
{
	struct fixture *f = *state;
	mute_stderr(f);
	memset(f->t.config, 0xab, 8);
	assert_int_equal(rdn(f, VIRTIO_MMIO_CONFIG + 1, 2), 0); /* misaligned */
	assert_int_equal(rdn(f, VIRTIO_MMIO_CONFIG + 2, 4), 0);
	assert_int_equal(rdn(f, VIRTIO_MMIO_CONFIG + 4, 8), 0);
	assert_int_equal(rdn(f, VIRTIO_MMIO_CONFIG + 0, 3), 0); /* odd width */
	assert_int_equal(rdn(f, VIRTIO_MMIO_CONFIG + 8, 1), 0); /* past config_size */
	assert_int_equal(rdn(f, VIRTIO_MMIO_CONFIG + 8, 4), 0);
	assert_int_equal(rdn(f, VIRTIO_MMIO_WINDOW - 8, 8), 0);
}

static void test_config_writes(void **state)
{
	struct fixture *f = *state;
	mute_stderr(f);
	wrn(f, VIRTIO_MMIO_CONFIG + 4, 0xdeadbeef, 4);
	assert_int_equal(f->t.config_writes, 1);
	assert_int_equal(f->t.last_write_off, 4);
	assert_int_equal(rdn(f, VIRTIO_MMIO_CONFIG + 4, 4), 0xdeadbeef);
	wrn(f, VIRTIO_MMIO_CONFIG + 6, 1, 4);  /* runs past the end */
	wrn(f, VIRTIO_MMIO_CONFIG + 1, 1, 2);  /* misaligned */
	wrn(f, VIRTIO_MMIO_CONFIG + 64, 1, 1); /* outside */
	assert_int_equal(f->t.config_writes, 1);
}

static void test_config_generation_and_interrupt(void **state)
{
	struct fixture *f = *state;
	pthread_mutex_lock(&f->dev->lock);
	virtio_config_changed(f->dev);
	pthread_mutex_unlock(&f->dev->lock);
	assert_int_equal(rd(f, VIRTIO_MMIO_CONFIG_GENERATION), 1);
	assert_int_equal(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_CONFIG);
	assert_true(take_ready(f, f->dev));
	wr(f, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_CONFIG);
	assert_int_equal(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
}

/* ---- notifications and interrupts ------------------------------------------------- */

static void test_kick_before_driver_ok_is_dropped(void **state)
{
	struct fixture *f = *state;
	negotiate(f, V1);
	setup_queue(f, 0, 16);
	virtio_queue_kick(f->dev, 0, 3);
	assert_int_equal(f->t.notifies[0], 0);
	assert_int_equal(f->dev->stats.kicks, 3);
	wr(f, VIRTIO_MMIO_STATUS, status(f) | S_DRIVER_OK);
	virtio_queue_kick(f->dev, 0, 1);
	assert_int_equal(f->t.notifies[0], 1);
	virtio_queue_kick(f->dev, 5, 1); /* no such queue */
	assert_int_equal(f->t.notifies[0] + f->t.notifies[1], 1);
}

static void test_used_buffer_interrupt_and_ack(void **state)
{
	struct fixture *f = *state;
	f->t.echo = true;
	bring_up(f, V1);
	put_desc(f, 0, 0, BUF_GPA, 16, VRING_DESC_F_WRITE, 0);
	offer(f, 0, 0);
	virtio_queue_kick(f->dev, 0, 1);
	assert_int_equal(used_idx(f, 0), 1);
	assert_int_equal(used_ring(f, 0)->ring[0].len, 7);
	assert_int_equal(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_VRING);
	assert_true(take_ready(f, f->dev));
	assert_false(take_ready(f, f->dev)); /* consumed */
	assert_int_equal(f->dev->stats.interrupts, 1);
	wr(f, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_VRING);
	assert_int_equal(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
}

static void test_hostile_ring_needs_reset(void **state)
{
	struct fixture *f = *state;
	mute_stderr(f);
	f->t.echo = true;
	bring_up(f, V1);
	offer(f, 1, 200); /* head beyond the queue */
	virtio_queue_kick(f->dev, 1, 1);
	assert_true(status(f) & S_NEEDS_RESET);
	assert_true(f->dev->queues[0].broken && f->dev->queues[1].broken);
	assert_non_null(strstr(f->dev->queues[1].error, "head 200"));
	assert_true(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_CONFIG);
	/* The broken device ignores kicks until the driver resets it. */
	unsigned before = f->t.notifies[0];
	virtio_queue_kick(f->dev, 0, 1);
	assert_int_equal(f->t.notifies[0], before);
	wr(f, VIRTIO_MMIO_STATUS, 0);
	bring_up(f, V1);
	put_desc(f, 0, 0, BUF_GPA, 16, VRING_DESC_F_WRITE, 0);
	offer(f, 0, 0);
	virtio_queue_kick(f->dev, 0, 1);
	assert_int_equal(used_idx(f, 0), 1);
}

static void test_queue_notify_through_io_thread(void **state)
{
	struct fixture *f = *state;
	f->t.echo = true;
	bring_up(f, V1 | EVENT_IDX);
	assert_int_equal(iothread_start(f->vm.iothread), 0);
	for (unsigned i = 0; i < 3; i++) {
		put_desc(f, 1, i, BUF_GPA + 64 * i, 64, VRING_DESC_F_WRITE, 0);
		offer(f, 1, (uint16_t)i);
		wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 1); /* what KVM's ioeventfd would catch */
		wait_ready(f, f->dev);
		assert_int_equal(used_idx(f, 1), i + 1);
		/* Like a driver: interrupt me after the next used entry. */
		struct vring_avail *a = gptr(f, RING_GPA(1) + 0x1000);
		__atomic_store_n(&a->ring[16], (uint16_t)(i + 1), __ATOMIC_SEQ_CST);
	}
	pthread_mutex_lock(&f->dev->lock);
	assert_true(f->t.notifies[1] >= 1);
	assert_true(f->dev->stats.kicks >= 3);
	pthread_mutex_unlock(&f->dev->lock);
}

static void test_queue_notify_bad_queue_is_ignored(void **state)
{
	struct fixture *f = *state;
	mute_stderr(f);
	bring_up(f, V1);
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 2);
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 0xffffffff);
	assert_int_equal(f->dev->stats.kicks, 0);
	assert_int_equal(status(f) & S_NEEDS_RESET, 0);
}

/* ---- placement: windows, pins, boot info, POLL ----------------------------------- */

static void test_windows_pins_and_boot_info(void **state)
{
	struct fixture *f = *state;
	struct testdev t2 = { 0 };
	struct virtio_dev *d2 = mmio_new(&f->vm, &test_ops, &t2);
	assert_non_null(d2);

	assert_int_equal(f->vm.device_count, 3);
	assert_int_equal(f->dev->index, 1);
	assert_int_equal(d2->index, 2);
	const struct pvmm_device_info *a = &f->vm.devices[1], *b = &f->vm.devices[2];
	assert_int_equal(a->type, PVMM_DEV_VIRTIO_MMIO);
	assert_int_equal(a->irq, IRQ_FIRST_DEVICE_PIN);
	assert_int_equal(a->mmio_base, VIRTIO_MMIO_BASE);
	assert_int_equal(a->mmio_size, VIRTIO_MMIO_WINDOW);
	assert_int_equal(b->irq, IRQ_FIRST_DEVICE_PIN + 1);
	assert_int_equal(b->mmio_base, VIRTIO_MMIO_BASE + VIRTIO_MMIO_WINDOW);
	assert_true(f->vm.ready_fd[1] >= 0 && f->vm.ready_fd[2] >= 0);
	assert_true(f->vm.irq.pins & (1u << IRQ_FIRST_DEVICE_PIN));

	/* The MMIO bus routes by window. */
	uint8_t data[4];
	assert_true(mmio_dispatch(&f->vm.mmio, VIRTIO_MMIO_BASE + VIRTIO_MMIO_DEVICE_ID, false, data, 4));
	assert_int_equal(data[0], 42);
	assert_true(mmio_dispatch(&f->vm.mmio, b->mmio_base + VIRTIO_MMIO_STATUS, false, data, 4));
	assert_false(mmio_dispatch(&f->vm.mmio, VIRTIO_MMIO_BASE + 2 * VIRTIO_MMIO_WINDOW, false, data, 4));
	assert_false(mmio_dispatch(&f->vm.mmio, VIRTIO_MMIO_BASE - 4, false, data, 4));
	assert_false(mmio_dispatch(&f->vm.mmio, 0xfee000b0, true, data, 4));
}

static void test_device_limit(void **state)
{
	struct fixture *f = *state;
	struct testdev t[VIRTIO_MMIO_MAX_DEVICES];
	mute_stderr(f);
	memset(t, 0, sizeof(t));
	for (unsigned i = 1; i < VIRTIO_MMIO_MAX_DEVICES; i++)
		assert_non_null(mmio_new(&f->vm, &test_ops, &t[i]));
	assert_null(mmio_new(&f->vm, &test_ops, &t[0]));
	assert_int_equal(f->vm.device_count, 1 + VIRTIO_MMIO_MAX_DEVICES);
}

static int64_t poll_call(struct fixture *f, uint64_t deadline, uint64_t interest, uint64_t *ready)
{
	struct pvmm_poll_args a = { .ret = 0x7777, .deadline_ns = deadline, .interest = interest };
	void *block = gptr(f, BLOCK_GPA);
	memcpy(block, &a, sizeof(a));
	hypercall_handle(&f->vm, PVMM_CALL_POLL, BLOCK_GPA);
	memcpy(&a, block, sizeof(a));
	*ready = a.ready;
	return a.ret;
}

static void test_poll_waits_for_device_interrupt(void **state)
{
	struct fixture *f = *state;
	uint64_t ready;

	f->t.echo = true;
	bring_up(f, V1);
	assert_int_equal(poll_call(f, 0, 1ull << 1, &ready), 0);
	assert_int_equal(poll_call(f, 0, 1ull << 2, &ready), -PVMM_EINVAL); /* no device 2 */

	assert_int_equal(iothread_start(f->vm.iothread), 0);
	put_desc(f, 0, 0, BUF_GPA, 16, VRING_DESC_F_WRITE, 0);
	offer(f, 0, 0);
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	/* The guest sleeps in POLL until the I/O thread's interrupt. */
	uint64_t deadline = hypercall_guest_now(&f->vm) + 10ull * 1000000000ull;
	assert_int_equal(poll_call(f, deadline, 1ull << 1, &ready), 1);
	assert_int_equal(ready, 1ull << 1);
	assert_true(hypercall_guest_now(&f->vm) < deadline);
	/* Consumed: the next POLL sees nothing. */
	assert_int_equal(poll_call(f, 0, 1ull << 1, &ready), 0);
	assert_int_equal(used_idx(f, 0), 1);
}

static void test_irq_pin_bookkeeping(void **state)
{
	struct fixture *f = *state;
	struct vm *vm = &f->vm;

	assert_int_equal(irq_claim_pin(vm, 4), 0);
	assert_int_equal(irq_claim_pin(vm, 14), 0);
	assert_int_equal(irq_claim_pin(vm, 4), -1);  /* taken */
	assert_int_equal(irq_claim_pin(vm, 24), -1); /* no such pin */
	for (int pin = IRQ_FIRST_DEVICE_PIN; pin <= IRQ_LAST_DEVICE_PIN; pin++)
		assert_int_equal(irq_alloc_pin(vm), pin);
	assert_int_equal(irq_alloc_pin(vm), -1);
	assert_int_equal(irq_claim_pin(vm, IRQ_FIRST_DEVICE_PIN), -1);
	assert_int_equal(vm->irq.pins, (1u << 4) | (1u << 14) | 0xff0000u);
	/* Without an irqchip nothing can be raised. */
	assert_int_equal(irq_set_level(vm, 4, 1), -1);
	assert_int_equal(irq_setup(vm), 0); /* no chip: nothing to program */
}

/* ---- virtio-rng ------------------------------------------------------------------ */

static int setup_rng(void **state)
{
	setup(state);
	struct fixture *f = *state;
	f->dev = type_new(&f->vm, &virtio_rng_type, -1, -1);
	assert_non_null(f->dev);
	return 0;
}

static void test_rng_identity(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(rd(f, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_RNG);
	assert_int_equal(device_features(f), V1 | EVENT_IDX | INDIRECT);
	wr(f, VIRTIO_MMIO_QUEUE_SEL, 1);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_NUM_MAX), 0); /* one queue only */
}

static void test_rng_fills_buffers(void **state)
{
	struct fixture *f = *state;
	bring_up(f, V1 | INDIRECT);
	uint8_t *buf = gptr(f, BUF_GPA);
	memset(buf, 0, 4096);
	put_desc(f, 0, 0, BUF_GPA, 100, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	put_desc(f, 0, 1, BUF_GPA + 1024, 28, VRING_DESC_F_WRITE, 0);
	offer(f, 0, 0);
	virtio_queue_kick(f->dev, 0, 1);
	assert_int_equal(used_idx(f, 0), 1);
	assert_int_equal(used_ring(f, 0)->ring[0].id, 0);
	assert_int_equal(used_ring(f, 0)->ring[0].len, 128);
	unsigned nonzero = 0;
	for (unsigned i = 0; i < 100; i++)
		nonzero += buf[i] != 0;
	assert_true(nonzero > 50); /* 100 random bytes are not mostly zero */
	for (unsigned i = 100; i < 1024; i++)
		assert_int_equal(buf[i], 0); /* nothing outside the buffers */
	assert_true(take_ready(f, f->dev));
	assert_int_equal(f->dev->stats.requests, 1);
	assert_int_equal(f->dev->stats.errors, 0);
}

static void test_rng_readable_only_request_is_an_error(void **state)
{
	struct fixture *f = *state;
	bring_up(f, V1);
	put_desc(f, 0, 3, BUF_GPA, 100, 0, 0);
	offer(f, 0, 3);
	virtio_queue_kick(f->dev, 0, 1);
	assert_int_equal(used_idx(f, 0), 1);
	assert_int_equal(used_ring(f, 0)->ring[0].len, 0);
	assert_int_equal(f->dev->stats.errors, 1);
}

static void test_rng_caps_huge_requests(void **state)
{
	struct fixture *f = *state;
	bring_up(f, V1);
	put_desc(f, 0, 0, BUF_GPA, 4u << 20, VRING_DESC_F_WRITE, 0);
	offer(f, 0, 0);
	virtio_queue_kick(f->dev, 0, 1);
	assert_int_equal(used_ring(f, 0)->ring[0].len, 64 * 1024);
}

static void test_rng_hostile_chain(void **state)
{
	struct fixture *f = *state;
	mute_stderr(f);
	bring_up(f, V1);
	put_desc(f, 0, 0, BUF_GPA, 8, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 0); /* loops */
	offer(f, 0, 0);
	virtio_queue_kick(f->dev, 0, 1);
	assert_true(status(f) & S_NEEDS_RESET);
	assert_int_equal(used_idx(f, 0), 0);
}

/* ---- virtio-console ---------------------------------------------------------------- */

static int setup_console(void **state)
{
	setup(state);
	struct fixture *f = *state;
	assert_int_equal(pipe2(f->pipe_in, O_CLOEXEC), 0);
	assert_int_equal(pipe2(f->pipe_out, O_CLOEXEC | O_NONBLOCK), 0);
	f->dev = type_new(&f->vm, &virtio_console_type, f->pipe_in[0], f->pipe_out[1]);
	assert_non_null(f->dev);
	return 0;
}

static size_t drain_out(struct fixture *f, char *buf, size_t size)
{
	ssize_t n = read(f->pipe_out[0], buf, size);
	return n > 0 ? (size_t)n : 0;
}

static void test_console_identity(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(rd(f, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_CONSOLE);
	wr(f, VIRTIO_MMIO_QUEUE_SEL, 1);
	assert_true(rd(f, VIRTIO_MMIO_QUEUE_NUM_MAX) > 0);
	wr(f, VIRTIO_MMIO_QUEUE_SEL, 2);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
	assert_int_equal(rdn(f, VIRTIO_MMIO_CONFIG + 4, 4), 0); /* max_nr_ports: no MULTIPORT */
	/* Output to a pipe has no size to report. */
	assert_false(device_features(f) & (1ull << VIRTIO_CONSOLE_F_SIZE));
}

/* On a terminal the console offers SIZE with the terminal's size and
 * follows it: a resize (SIGWINCH writes the eventfd) is a configuration
 * change, so ConfigGeneration moves and the driver gets a config
 * interrupt; the same size again changes nothing. */
static void test_console_follows_terminal_size(void **state)
{
	struct fixture *f = *state;
	int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	assert_true(master >= 0);
	assert_int_equal(grantpt(master), 0);
	assert_int_equal(unlockpt(master), 0);
	int term = open(ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC);
	assert_true(term >= 0);
	struct winsize ws = { .ws_row = 40, .ws_col = 132 };
	assert_int_equal(ioctl(term, TIOCSWINSZ, &ws), 0);
	int resize = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	assert_true(resize >= 0);

	f->vm.iothread = iothread_create();
	struct device_env env = { .virtio = { .mem = &f->vm.mem, .io = f->vm.iothread }, .in_fd = -1,
				  .out = { .fd = term }, .resize_fd = resize };
	f->dev = virtio_console_type.create_virtio(&env, NULL);
	assert_non_null(f->dev);
	assert_int_equal(virtio_mmio_attach(&f->vm, f->dev), 0);
	assert_true(device_features(f) & (1ull << VIRTIO_CONSOLE_F_SIZE));
	assert_int_equal(rdn(f, VIRTIO_MMIO_CONFIG + 0, 2), 132); /* cols */
	assert_int_equal(rdn(f, VIRTIO_MMIO_CONFIG + 2, 2), 40);  /* rows */
	negotiate(f, V1 | (1ull << VIRTIO_CONSOLE_F_SIZE));
	wr(f, VIRTIO_MMIO_STATUS, status(f) | S_DRIVER_OK);
	uint32_t gen = rd(f, VIRTIO_MMIO_CONFIG_GENERATION);
	assert_int_equal(iothread_start(f->vm.iothread), 0);

	ws = (struct winsize){ .ws_row = 50, .ws_col = 100 };
	assert_int_equal(ioctl(term, TIOCSWINSZ, &ws), 0);
	uint64_t one = 1;
	assert_int_equal(write(resize, &one, sizeof(one)), sizeof(one));
	wait_ready(f, f->dev);
	assert_true(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_CONFIG);
	assert_int_not_equal(rd(f, VIRTIO_MMIO_CONFIG_GENERATION), gen);
	assert_int_equal(rdn(f, VIRTIO_MMIO_CONFIG + 0, 2), 100);
	assert_int_equal(rdn(f, VIRTIO_MMIO_CONFIG + 2, 2), 50);

	/* Unchanged: no new generation, no interrupt. */
	wr(f, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_CONFIG);
	gen = rd(f, VIRTIO_MMIO_CONFIG_GENERATION);
	assert_int_equal(write(resize, &one, sizeof(one)), sizeof(one));
	struct pollfd p = { .fd = f->vm.ready_fd[f->dev->index], .events = POLLIN };
	assert_int_equal(poll(&p, 1, 200), 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_CONFIG_GENERATION), gen);

	iothread_stop(f->vm.iothread, NULL);
	close(term);
	close(master);
	/* teardown frees the device and the I/O thread first */
	f->pipe_in[0] = resize; /* closed by teardown */
}

static void test_console_transmit(void **state)
{
	struct fixture *f = *state;
	char out[64];
	bring_up(f, V1);
	memcpy(gptr(f, BUF_GPA), "hello, ", 7);
	memcpy(gptr(f, BUF_GPA + 0x100), "world\n", 6);
	put_desc(f, 1, 0, BUF_GPA, 7, VRING_DESC_F_NEXT, 1);
	put_desc(f, 1, 1, BUF_GPA + 0x100, 6, 0, 0);
	offer(f, 1, 0);
	virtio_queue_kick(f->dev, 1, 1);
	assert_int_equal(drain_out(f, out, sizeof(out)), 13);
	assert_memory_equal(out, "hello, world\n", 13);
	assert_int_equal(used_idx(f, 1), 1);
	assert_int_equal(used_ring(f, 1)->ring[0].len, 0);
	assert_true(take_ready(f, f->dev));
}

static void test_console_emergency_write(void **state)
{
	struct fixture *f = *state;
	char out[4];
	wrn(f, VIRTIO_MMIO_CONFIG + 8, 'Z', 4);
	assert_int_equal(drain_out(f, out, sizeof(out)), 1);
	assert_int_equal(out[0], 'Z');
}

static void test_console_receive_and_eof(void **state)
{
	struct fixture *f = *state;
	bring_up(f, V1);
	for (unsigned i = 0; i < 4; i++)
		put_desc(f, 0, i, BUF_GPA + 0x100 * i, 4, VRING_DESC_F_WRITE, 0);

	/* A buffer but no input: nothing used yet. */
	offer(f, 0, 0);
	virtio_queue_kick(f->dev, 0, 1);
	assert_int_equal(used_idx(f, 0), 0);

	/* Six bytes arrive: they fill the held buffer and the next one. */
	assert_int_equal(write(f->pipe_in[1], "abcdef", 6), 6);
	offer(f, 0, 1);
	virtio_queue_kick(f->dev, 0, 1);
	assert_int_equal(used_idx(f, 0), 2);
	assert_int_equal(used_ring(f, 0)->ring[0].len, 4);
	assert_int_equal(used_ring(f, 0)->ring[1].len, 2);
	assert_memory_equal(gptr(f, BUF_GPA), "abcd", 4);
	assert_memory_equal(gptr(f, BUF_GPA + 0x100), "ef", 2);

	/* End of input: one zero-length buffer, then nothing more. */
	close(f->pipe_in[1]);
	f->pipe_in[1] = -1;
	offer(f, 0, 2);
	offer(f, 0, 3);
	virtio_queue_kick(f->dev, 0, 1);
	assert_int_equal(used_idx(f, 0), 3);
	assert_int_equal(used_ring(f, 0)->ring[2].id, 2);
	assert_int_equal(used_ring(f, 0)->ring[2].len, 0);
	virtio_queue_kick(f->dev, 0, 1);
	assert_int_equal(used_idx(f, 0), 3);
	assert_int_equal(f->dev->stats.requests, 3);
}

static void test_console_input_wakes_io_thread(void **state)
{
	struct fixture *f = *state;
	bring_up(f, V1 | EVENT_IDX);
	assert_int_equal(iothread_start(f->vm.iothread), 0);
	put_desc(f, 0, 0, BUF_GPA, 16, VRING_DESC_F_WRITE, 0);
	offer(f, 0, 0);
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	usleep(20000); /* let the I/O thread take the buffer and watch the input */
	assert_int_equal(used_idx(f, 0), 0);
	assert_int_equal(write(f->pipe_in[1], "xyz", 3), 3);
	wait_ready(f, f->dev);
	assert_int_equal(used_idx(f, 0), 1);
	assert_int_equal(used_ring(f, 0)->ring[0].len, 3);
	assert_memory_equal(gptr(f, BUF_GPA), "xyz", 3);
}

static void test_console_reset_while_holding_a_buffer(void **state)
{
	struct fixture *f = *state;
	bring_up(f, V1);
	put_desc(f, 0, 0, BUF_GPA, 16, VRING_DESC_F_WRITE, 0);
	offer(f, 0, 0);
	virtio_queue_kick(f->dev, 0, 1);
	wr(f, VIRTIO_MMIO_STATUS, 0);
	/* Input arriving for the old rings goes to the new driver instead. */
	assert_int_equal(write(f->pipe_in[1], "q", 1), 1);
	bring_up(f, V1);
	put_desc(f, 0, 5, BUF_GPA + 0x800, 16, VRING_DESC_F_WRITE, 0);
	offer(f, 0, 5);
	virtio_queue_kick(f->dev, 0, 1);
	assert_int_equal(used_idx(f, 0), 1);
	assert_int_equal(used_ring(f, 0)->ring[0].id, 5);
	assert_memory_equal(gptr(f, BUF_GPA + 0x800), "q", 1);
}

/* Run fn(f) in a child process and wait up to `ms` for it: a handler
 * that never returns must fail the test, not hang the suite. Returns the
 * child's exit status (fn's result), or -1 if it was still running. */
static int run_bounded(struct fixture *f, int (*fn)(struct fixture *), int ms)
{
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(fn(f));
	for (int waited = 0; waited < ms; waited += 10) {
		int st;
		if (waitpid(pid, &st, WNOHANG) == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 100;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -1;
}

/* A receive chain with no device-writable byte can carry no input: it is
 * returned at once, with length 0, counted as an error, and not held
 * (a held one is what a driver can later get pushed into a new ring). */
static void test_console_receive_chain_without_room_is_returned(void **state)
{
	struct fixture *f = *state;
	bring_up(f, V1);
	put_desc(f, 0, 0, BUF_GPA, 16, 0, 0);                  /* readable only */
	put_desc(f, 0, 1, BUF_GPA + 0x100, 0, VRING_DESC_F_WRITE, 0); /* writable, 0 bytes */
	put_desc(f, 0, 2, BUF_GPA + 0x200, 8, VRING_DESC_F_WRITE, 0);
	offer(f, 0, 0);
	offer(f, 0, 1);
	virtio_queue_kick(f->dev, 0, 1);
	/* No input pending, yet both came back. */
	assert_int_equal(used_idx(f, 0), 2);
	assert_int_equal(used_ring(f, 0)->ring[0].id, 0);
	assert_int_equal(used_ring(f, 0)->ring[0].len, 0);
	assert_int_equal(used_ring(f, 0)->ring[1].id, 1);
	assert_int_equal(used_ring(f, 0)->ring[1].len, 0);
	assert_int_equal(f->dev->stats.errors, 2);
	/* A proper buffer after them is held until input comes, then filled. */
	offer(f, 0, 2);
	virtio_queue_kick(f->dev, 0, 1);
	assert_int_equal(used_idx(f, 0), 2);
	assert_int_equal(write(f->pipe_in[1], "hi", 2), 2);
	virtio_queue_kick(f->dev, 0, 1);
	assert_int_equal(used_idx(f, 0), 3);
	assert_int_equal(used_ring(f, 0)->ring[2].id, 2);
	assert_int_equal(used_ring(f, 0)->ring[2].len, 2);
	assert_memory_equal(gptr(f, BUF_GPA + 0x200), "hi", 2);
}

/* The fuzzer's sequence: a receive chain with no room while no input is
 * pending, QueueReady = 0, the queue set up again with its used ring over
 * its avail ring, QueueReady = 1, then input. The re-setup must be
 * refused (NEEDS_RESET), and the input kick must return. */
static int fuzz_input_kick(struct fixture *f)
{
	virtio_queue_kick(f->dev, 0, 1);
	return 0;
}

static void test_console_requeue_over_avail_needs_reset(void **state)
{
	struct fixture *f = *state;
	mute_stderr(f);
	bring_up(f, V1);
	put_desc(f, 0, 0, BUF_GPA, 16, 0, 0); /* no writable buffer */
	offer(f, 0, 0);
	virtio_queue_kick(f->dev, 0, 1);
	wr(f, VIRTIO_MMIO_QUEUE_SEL, 0);
	wr(f, VIRTIO_MMIO_QUEUE_READY, 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_READY), 0);
	set_queue(f, 0, 16, RING_GPA(0), RING_GPA(0) + 0x1000, RING_GPA(0) + 0x1000);
	wr(f, VIRTIO_MMIO_QUEUE_READY, 1);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_READY), 0);
	expect_needs_reset(f);
	assert_int_equal(write(f->pipe_in[1], "input", 5), 5);
	assert_int_equal(run_bounded(f, fuzz_input_kick, 2000), 0);
	virtio_queue_kick(f->dev, 0, 1); /* and here: the device does not touch the rings */
	assert_true(status(f) & S_NEEDS_RESET);

	/* After a reset the device serves a proper ring again, and the input
	 * read so far is there for it. */
	bring_up(f, V1);
	put_desc(f, 0, 3, BUF_GPA + 0x400, 16, VRING_DESC_F_WRITE, 0);
	offer(f, 0, 3);
	virtio_queue_kick(f->dev, 0, 1);
	assert_int_equal(used_idx(f, 0), 1);
	assert_int_equal(used_ring(f, 0)->ring[0].id, 3);
	assert_int_equal(used_ring(f, 0)->ring[0].len, 5);
	assert_memory_equal(gptr(f, BUF_GPA + 0x400), "input", 5);
}

/* The queue_stop path: a buffer held from the old ring is dropped when the
 * queue is disabled, never pushed into the ring set up next. */
static void test_console_held_buffer_not_pushed_into_new_ring(void **state)
{
	struct fixture *f = *state;
	bring_up(f, V1);
	put_desc(f, 0, 0, BUF_GPA, 16, VRING_DESC_F_WRITE, 0);
	offer(f, 0, 0);
	virtio_queue_kick(f->dev, 0, 1); /* held: no input yet */
	wr(f, VIRTIO_MMIO_QUEUE_SEL, 0);
	wr(f, VIRTIO_MMIO_QUEUE_READY, 0);
	/* A new ring elsewhere, empty. */
	struct vring_used *u = gptr(f, RING_GPA(2) + 0x2000);
	memset(gptr(f, RING_GPA(2)), 0, 0x3000);
	set_queue(f, 0, 16, RING_GPA(2), RING_GPA(2) + 0x1000, RING_GPA(2) + 0x2000);
	wr(f, VIRTIO_MMIO_QUEUE_READY, 1);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_READY), 1);
	assert_int_equal(write(f->pipe_in[1], "z", 1), 1);
	virtio_queue_kick(f->dev, 0, 1);
	assert_int_equal(__atomic_load_n(&u->idx, __ATOMIC_ACQUIRE), 0); /* nothing: the driver posted nothing */
	assert_int_equal(used_idx(f, 0), 0);                            /* nor into the old one */
	assert_false(status(f) & S_NEEDS_RESET);
}

/* Should a ring ever alias itself past virtq_enable (forced here), one
 * call still takes at most a queue's worth and leaves the rest to a kick
 * of its own: the I/O thread gets back to its loop. The forced state is a
 * used ring over the avail ring and one entry already pushed (a stale
 * buffer), so every push makes another chain "available". */
static int aliased_kick(struct fixture *f)
{
	struct virtq *vq = &f->dev->queues[0];
	vq->used = (struct vring_used *)vq->avail;
	vq->used_idx = 1;
	virtio_queue_kick(f->dev, 0, 1);
	uint64_t n = 0;
	if (read(f->dev->kicks[0].fd, &n, sizeof(n)) != sizeof(n) || n == 0)
		return 2; /* returned, but dropped the rest instead of kicking again */
	if (f->dev->kicks[0].own == 0)
		return 3; /* the self-kick would count as the guest's */
	return 0;
}

static void test_console_receive_loop_is_bounded(void **state)
{
	struct fixture *f = *state;
	bring_up(f, V1);
	put_desc(f, 0, 0, BUF_GPA, 16, 0, 0); /* no room: consumes no input */
	offer(f, 0, 0);
	assert_int_equal(write(f->pipe_in[1], "x", 1), 1);
	assert_int_equal(run_bounded(f, aliased_kick, 3000), 0);
}

/* The transmit side likewise. */
static int aliased_tx_kick(struct fixture *f)
{
	struct virtq *vq = &f->dev->queues[1];
	vq->used = (struct vring_used *)vq->avail;
	vq->used_idx = 1;
	virtio_queue_kick(f->dev, 1, 1);
	uint64_t n = 0;
	return read(f->dev->kicks[1].fd, &n, sizeof(n)) == sizeof(n) && n ? 0 : 2;
}

static void test_console_transmit_loop_is_bounded(void **state)
{
	struct fixture *f = *state;
	bring_up(f, V1);
	put_desc(f, 1, 0, BUF_GPA, 0, 0, 0);
	offer(f, 1, 0);
	assert_int_equal(run_bounded(f, aliased_tx_kick, 3000), 0);
}

/* virtio-rng: one kick takes at most a queue's worth (forced aliasing as
 * in test_console_receive_loop_is_bounded). */
static int aliased_rng_kick(struct fixture *f)
{
	struct virtq *vq = &f->dev->queues[0];
	vq->used = (struct vring_used *)vq->avail;
	vq->used_idx = 1;
	virtio_queue_kick(f->dev, 0, 1);
	uint64_t n = 0;
	return read(f->dev->kicks[0].fd, &n, sizeof(n)) == sizeof(n) && n ? 0 : 2;
}

static void test_rng_loop_is_bounded(void **state)
{
	struct fixture *f = *state;
	bring_up(f, V1);
	put_desc(f, 0, 0, BUF_GPA, 0, VRING_DESC_F_WRITE, 0);
	offer(f, 0, 0);
	assert_int_equal(run_bounded(f, aliased_rng_kick, 3000), 0);
}

/* ---- snapshot: the core's state restored (virtio_load) ------------------------ */

static void t_save(struct virtio_dev *dev, struct snap_writer *w)
{
	(void)dev;
	(void)w; /* no state of its own */
}

static const struct virtio_ops snap_ops = {
	.name = "test-dev",
	.device_id = 42,
	.features = TEST_FEATURE | (1ull << 40),
	.num_queues = 2,
	.queue_max = 64,
	.config_size = 8,
	.config_read = t_config_read,
	.config_write = t_config_write,
	.activate = t_activate,
	.queue_notify = t_notify,
	.reset = t_reset,
	.save = t_save,
};

static int setup_snap(void **state)
{
	setup(state);
	struct fixture *f = *state;
	f->dev = mmio_new(&f->vm, &snap_ops, &f->t);
	assert_non_null(f->dev);
	return 0;
}

/* Offsets in virtio_save()'s record: driver features, queue 0's size and flags. */
#define SNAP_DRIVER_FEATURES 8
#define SNAP_Q0_SIZE 40
#define SNAP_Q0_FLAGS 68

/* The device brought up with `features`, saved, one field of the record
 * changed by `edit` (NULL: none), and loaded into a new device of the same
 * kind. Returns virtio_load()'s result; the new device in *out. */
static int save_edit_load(struct fixture *f, uint64_t features, void (*edit)(uint8_t *rec), struct virtio_dev **out,
			  char *err, size_t err_len)
{
	static struct testdev t2;
	struct snap_writer w;

	bring_up(f, features);
	snap_writer_init(&w);
	virtio_save(f->dev, &w);
	assert_false(w.failed);
	uint8_t *rec = w.buf + sizeof(struct snap_header);
	if (edit)
		edit(rec);
	struct snap_section sec = { .type = SNAP_SEC_DEVICE, .data = rec, .length = w.len - sizeof(struct snap_header) };
	struct snap_reader r;
	snap_reader_init(&r, &sec);
	struct virtio_ctx ctx = { .mem = &f->vm.mem, .io = f->vm.iothread };
	memset(&t2, 0, sizeof(t2));
	struct virtio_dev *d = virtio_dev_new(&ctx, &snap_ops, &t2);
	assert_non_null(d);
	f->vm.virtio[f->vm.virtio_count++] = d; /* the teardown's to destroy */
	int ret = virtio_load(d, &r, err, err_len);
	snap_writer_free(&w);
	*out = d;
	return ret;
}

static void set_ring_mode_flags(uint8_t *rec)
{
	rec[SNAP_Q0_FLAGS] |= 2 | 4; /* event idx, indirect */
}

static void clear_ring_mode_flags(uint8_t *rec)
{
	rec[SNAP_Q0_FLAGS] &= (uint8_t)~(2 | 4);
}

/* A queue's event-idx and indirect modes follow the accepted features, as
 * when the driver enables it, whatever flags the file has. */
static void test_snapshot_load_derives_ring_modes(void **state)
{
	struct fixture *f = *state;
	struct virtio_dev *d;
	char err[256] = "";

	assert_int_equal(save_edit_load(f, V1, set_ring_mode_flags, &d, err, sizeof(err)), 0);
	assert_true(d->queues[0].ready);
	assert_false(d->queues[0].event_idx);
	assert_false(d->queues[0].indirect);
}

static void test_snapshot_load_derives_ring_modes_on(void **state)
{
	struct fixture *f = *state;
	struct virtio_dev *d;
	char err[256] = "";

	assert_int_equal(save_edit_load(f, V1 | EVENT_IDX | INDIRECT, clear_ring_mode_flags, &d, err, sizeof(err)), 0);
	assert_true(d->queues[0].event_idx);
	assert_true(d->queues[0].indirect);
}

static void unoffered_feature(uint8_t *rec)
{
	rec[SNAP_DRIVER_FEATURES + 6] |= 1u << 2; /* bit 50 */
}

static void test_snapshot_load_refuses_unoffered_features(void **state)
{
	struct fixture *f = *state;
	struct virtio_dev *d;
	char err[256] = "";

	assert_int_equal(save_edit_load(f, V1, unoffered_feature, &d, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "features"));
}

static void other_size(uint8_t *rec)
{
	rec[SNAP_Q0_SIZE] = 32; /* the driver chose 16 */
}

static void test_snapshot_load_refuses_other_queue_size(void **state)
{
	struct fixture *f = *state;
	struct virtio_dev *d;
	char err[256] = "";

	assert_int_equal(save_edit_load(f, V1, other_size, &d, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "queue 0"));
	assert_false(d->queues[0].ready);
}

static void test_snapshot_load_round_trip(void **state)
{
	struct fixture *f = *state;
	struct virtio_dev *d;
	char err[256] = "";

	assert_int_equal(save_edit_load(f, V1 | TEST_FEATURE, NULL, &d, err, sizeof(err)), 0);
	assert_true(d->driver_features == (V1 | TEST_FEATURE));
	assert_true(d->status & S_DRIVER_OK);
	assert_true(d->queues[0].ready && d->queues[1].ready);
	assert_int_equal(d->queues[1].size, 16);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup_dev, teardown)
#define R(fn) cmocka_unit_test_setup_teardown(fn, setup_rng, teardown)
#define C(fn) cmocka_unit_test_setup_teardown(fn, setup_console, teardown)
	const struct CMUnitTest tests[] = {
		T(test_identity_registers),
		cmocka_unit_test_setup_teardown(test_snapshot_load_round_trip, setup_snap, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_load_derives_ring_modes, setup_snap, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_load_derives_ring_modes_on, setup_snap, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_load_refuses_unoffered_features, setup_snap, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_load_refuses_other_queue_size, setup_snap, teardown),
		T(test_device_features),
		T(test_features_ok_accepts_subset_with_v1),
		T(test_features_ok_refuses_unoffered_bits),
		T(test_features_ok_refuses_legacy_driver),
		T(test_driver_features_frozen_after_features_ok),
		T(test_driver_ok_activates_once),
		T(test_driver_ok_without_features_ok_is_ignored),
		T(test_activate_failure_needs_reset),
		T(test_status_bits_cannot_be_cleared),
		T(test_needs_reset_belongs_to_the_device),
		T(test_reset_forgets_driver_state),
		T(test_queue_setup),
		T(test_queue_features_follow_negotiation),
		T(test_nonexistent_queue),
		T(test_queue_registers_frozen_while_ready),
		T(test_queue_ready_with_bad_rings_needs_reset),
		T(test_queue_ready_with_bad_size_needs_reset),
		T(test_queue_larger_than_max_needs_reset),
		T(test_queue_ready_before_features_ok_needs_reset),
		T(test_wrong_width_and_misaligned_accesses),
		T(test_write_only_and_read_only_registers),
		T(test_access_past_window_end),
		T(test_config_reads),
		T(test_config_bad_accesses_read_zero),
		T(test_config_writes),
		T(test_config_generation_and_interrupt),
		T(test_kick_before_driver_ok_is_dropped),
		T(test_used_buffer_interrupt_and_ack),
		T(test_hostile_ring_needs_reset),
		T(test_queue_notify_through_io_thread),
		T(test_queue_notify_bad_queue_is_ignored),
		T(test_windows_pins_and_boot_info),
		T(test_device_limit),
		T(test_poll_waits_for_device_interrupt),
		cmocka_unit_test_setup_teardown(test_irq_pin_bookkeeping, setup, teardown),
		R(test_rng_identity),
		R(test_rng_fills_buffers),
		R(test_rng_readable_only_request_is_an_error),
		R(test_rng_caps_huge_requests),
		R(test_rng_hostile_chain),
		R(test_rng_loop_is_bounded),
		C(test_console_identity),
		cmocka_unit_test_setup_teardown(test_console_follows_terminal_size, setup, teardown),
		C(test_console_transmit),
		C(test_console_emergency_write),
		C(test_console_receive_and_eof),
		C(test_console_input_wakes_io_thread),
		C(test_console_reset_while_holding_a_buffer),
		C(test_console_receive_chain_without_room_is_returned),
		C(test_console_requeue_over_avail_needs_reset),
		C(test_console_held_buffer_not_pushed_into_new_ring),
		C(test_console_receive_loop_is_bounded),
		C(test_console_transmit_loop_is_bounded),
	};
#undef T
#undef R
#undef C
	return cmocka_run_group_tests(tests, NULL, NULL);
}
