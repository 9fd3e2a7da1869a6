/*
 * Unit tests for start-up's device walk (src/machine.c) and the device
 * type declarations (src/devices/device.h): limits and argument checks
 * before anything touches KVM, whether the VM needs an irqchip, devices
 * created in order and listed in the boot info, and teardown giving back
 * every pin, bus window and fd the transports took. No KVM: the VM has
 * no fd, as in the other device tests.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "devices/device.h"
#include "guest_mem.h"
#include "iothread.h"
#include "machine.h"
#include "vm.h"

#define RAM_SIZE (16ull << 20)

struct fixture {
	struct vm vm;
	struct machine_devices m;
	char dir[64], image[96];
	int saved_stderr;
};

static void quiet(struct fixture *f)
{
	fflush(stderr);
	f->saved_stderr = dup(STDERR_FILENO);
	int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	dup2(null, STDERR_FILENO);
	close(null);
}

static void loud(struct fixture *f)
{
	if (f->saved_stderr < 0)
		return;
	fflush(stderr);
	dup2(f->saved_stderr, STDERR_FILENO);
	close(f->saved_stderr);
	f->saved_stderr = -1;
}

static int count_open_fds(void)
{
	int n = 0;
	for (int fd = 0; fd < 1024; fd++)
		n += fcntl(fd, F_GETFD) >= 0;
	return n;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	assert_int_equal(guest_mem_init(&f->vm.mem, RAM_SIZE, 0), 0);
	f->vm.kvm_fd = f->vm.vm_fd = f->vm.vcpu_fd = -1;
	f->vm.console_in_fd = f->vm.console_out_fd = -1;
	f->vm.device_count = 1;
	for (unsigned i = 0; i < PVMM_MAX_DEVICES; i++)
		f->vm.ready_fd[i] = -1;
	f->saved_stderr = -1;
	strcpy(f->dir, "/tmp/pvmm-test-machine-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->image, sizeof(f->image), "%s/disk.img", f->dir);
	int fd = open(f->image, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 1 << 20), 0);
	close(fd);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	loud(f);
	machine_destroy(&f->vm);
	guest_mem_free(&f->vm.mem);
	unlink(f->image);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void test_limits_and_parsers_run_before_kvm(void **state)
{
	struct fixture *f = *state;

	quiet(f);
	/* One rng, one console: a second of either is refused. */
	assert_int_equal(machine_request(&f->m, &virtio_rng_type, NULL), 0);
	assert_int_equal(machine_request(&f->m, &virtio_rng_type, NULL), -1);
	assert_int_equal(machine_request(&f->m, &virtio_console_type, NULL), 0);
	assert_int_equal(machine_request(&f->m, &virtio_console_type, NULL), -1);
	/* The disk parser sees the argument now, not after KVM is up. */
	assert_int_equal(machine_request(&f->m, &virtio_blk_type, "img,bogus"), -1);
	assert_int_equal(machine_request(&f->m, &virtio_blk_type, ",readonly"), -1);
	assert_int_equal(machine_request(&f->m, &ide_type, "x,nope"), -1);
	assert_int_equal(f->m.count, 2);
	/* At most 8 virtio devices: 6 more disks fit, the 7th does not. */
	for (int i = 0; i < 6; i++)
		assert_int_equal(machine_request(&f->m, &virtio_blk_type, "disk.img"), 0);
	assert_int_equal(machine_request(&f->m, &virtio_blk_type, "disk.img"), -1);
	/* An emulated device still fits: the limit is the transport's. */
	assert_int_equal(machine_request(&f->m, &uart16550_type, NULL), 0);
	loud(f);
	assert_int_equal(f->m.count, 9);
}

static void test_irqchip_only_when_a_device_interrupts(void **state)
{
	struct fixture *f = *state;
	assert_false(machine_needs_irqchip(&f->m));
	assert_false(machine_needs_iothread(&f->m));
	assert_int_equal(machine_request(&f->m, &virtio_rng_type, NULL), 0);
	assert_true(machine_needs_irqchip(&f->m));
	assert_true(machine_needs_iothread(&f->m));
}

static void test_disk_option(void **state)
{
	struct disk_spec d;
	(void)state;

	assert_int_equal(device_parse_disk("a.img", &d), 0);
	assert_string_equal(d.path, "a.img");
	assert_false(d.readonly);
	assert_null(d.id);
	device_free_disk(&d);
	assert_int_equal(device_parse_disk("dir,with,commas/a.img,readonly", &d), 0);
	assert_string_equal(d.path, "dir,with,commas/a.img");
	assert_true(d.readonly);
	device_free_disk(&d);
}

/* --disk path=FILE,readonly=on|off,id=NAME: any order, ",," a comma. */
static void test_disk_key_value(void **state)
{
	struct disk_spec d;
	(void)state;

	assert_int_equal(device_parse_disk("path=a,,b.img,readonly=on,id=disk0", &d), 0);
	assert_string_equal(d.path, "a,b.img");
	assert_true(d.readonly);
	assert_string_equal(d.id, "disk0");
	device_free_disk(&d);
	assert_int_equal(device_parse_disk("readonly=off,path=x,,,,y", &d), 0);
	assert_string_equal(d.path, "x,,y");
	assert_false(d.readonly);
	assert_null(d.id);
	device_free_disk(&d);
	assert_int_equal(device_parse_disk("id=a,path=p,", &d), 0); /* a trailing comma ends the list */
	assert_string_equal(d.path, "p");
	device_free_disk(&d);
	assert_int_equal(device_parse_disk("path=p,readonly=1", &d), -1);
	assert_int_equal(device_parse_disk("path=p,path=q", &d), -1);
	assert_int_equal(device_parse_disk("path=p,readonly=on,readonly=off", &d), -1);
	assert_int_equal(device_parse_disk("path=p,bogus", &d), -1);
	assert_int_equal(device_parse_disk("path=p,id=has space", &d), -1);
	assert_int_equal(device_parse_disk("path=p,id=", &d), -1);
	assert_int_equal(device_parse_disk("path=", &d), -1);
	assert_int_equal(device_parse_disk("id=x", &d), -1);
}

/* Devices come up in request order, each in the boot info, each window
 * on the MMIO bus; teardown gives back pins, windows and fds. */
static void test_create_and_teardown_give_everything_back(void **state)
{
	struct fixture *f = *state;
	int fds_before = count_open_fds();

	assert_int_equal(machine_request(&f->m, &virtio_rng_type, NULL), 0);
	assert_int_equal(machine_request(&f->m, &virtio_blk_type, f->image), 0);
	assert_int_equal(machine_create(&f->vm, &f->m, -1, -1), 0);
	assert_int_equal(f->vm.device_count, 3);
	assert_int_equal(f->vm.virtio_count, 2);
	assert_int_equal(f->vm.devices[1].type, PVMM_DEV_VIRTIO_MMIO);
	assert_int_equal(f->vm.devices[2].type, PVMM_DEV_VIRTIO_MMIO);
	assert_true(f->vm.devices[1].mmio_base != f->vm.devices[2].mmio_base);
	assert_int_equal(f->vm.mmio.count, 2);
	assert_int_equal(__builtin_popcount(f->vm.irq.pins), 2);
	assert_true(f->vm.ready_fd[1] >= 0 && f->vm.ready_fd[2] >= 0);
	assert_true(count_open_fds() > fds_before);

	machine_destroy(&f->vm);
	assert_int_equal(f->vm.mmio.count, 0);
	assert_int_equal(f->vm.irq.pins, 0);
	assert_int_equal(f->vm.ready_fd[1], -1);
	assert_int_equal(f->vm.ready_fd[2], -1);
	assert_null(f->vm.iothread);
	assert_int_equal(count_open_fds(), fds_before);
}

/* A disk that cannot be opened fails start-up with nothing left over. */
static void test_failed_create_leaves_nothing(void **state)
{
	struct fixture *f = *state;
	char missing[128];
	snprintf(missing, sizeof(missing), "%s/missing.img", f->dir);
	int fds_before = count_open_fds();

	assert_int_equal(machine_request(&f->m, &virtio_rng_type, NULL), 0);
	assert_int_equal(machine_request(&f->m, &virtio_blk_type, missing), 0);
	quiet(f);
	assert_int_equal(machine_create(&f->vm, &f->m, -1, -1), -1);
	loud(f);
	machine_destroy(&f->vm);
	assert_int_equal(f->vm.mmio.count, 0);
	assert_int_equal(f->vm.irq.pins, 0);
	assert_int_equal(count_open_fds(), fds_before);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_limits_and_parsers_run_before_kvm, setup, teardown),
		cmocka_unit_test_setup_teardown(test_irqchip_only_when_a_device_interrupts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disk_option, setup, teardown),
		cmocka_unit_test(test_disk_key_value),
		cmocka_unit_test_setup_teardown(test_create_and_teardown_give_everything_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_create_leaves_nothing, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
