/*
 * Unit tests for the boot info block (src/bootinfo.c): what the guest finds
 * at rdi on entry, and the argument strings behind it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <pvmm/para.h>

#include "bootinfo.h"
#include "guest_mem.h"
#include "layout.h"

#define RAM_SIZE (16ull << 20)
#define ARGS_ROOM (LAYOUT_ARGS_END - LAYOUT_ARGS)

static int setup_ram(void **state)
{
	struct guest_mem *mem = calloc(1, sizeof(*mem));
	assert_non_null(mem);
	assert_int_equal(guest_mem_init(mem, RAM_SIZE, 0), 0);
	*state = mem;
	return 0;
}

static int teardown_ram(void **state)
{
	struct guest_mem *mem = *state;
	guest_mem_free(mem);
	free(mem);
	return 0;
}

static const struct pvmm_boot_info *boot_info(const struct guest_mem *mem)
{
	const struct pvmm_boot_info *bi = guest_mem_ptr(mem, LAYOUT_BOOT_INFO, sizeof(*bi));
	assert_non_null(bi);
	return bi;
}

static bool range_zero(const struct guest_mem *mem, uint64_t from, uint64_t to)
{
	for (uint64_t a = from; a < to; a++)
		if (mem->host[a])
			return false;
	return true;
}

static void expect_error(int ret, const char *err, const char *needle)
{
	assert_int_equal(ret, -1);
	assert_non_null(memchr(err, '\0', BOOTINFO_ERR_MAX));
	if (!strstr(err, needle))
		fail_msg("message \"%s\" does not mention \"%s\"", err, needle);
}

static void test_header_fields(void **state)
{
	struct guest_mem *mem = *state;
	char *argv[] = { "guest.elf", NULL };
	char err[BOOTINFO_ERR_MAX];

	assert_int_equal(bootinfo_write(mem, 0x123456, 1, argv, err), 0);
	const struct pvmm_boot_info *bi = boot_info(mem);
	assert_int_equal(bi->magic, PVMM_BOOT_MAGIC);
	assert_int_equal(bi->version, PVMM_PARA_VERSION);
	assert_int_equal(PVMM_VERSION_MAJOR_OF(bi->version), PVMM_PARA_VERSION_MAJOR);
	assert_int_equal(bi->mem_size, RAM_SIZE);
	assert_int_equal(bi->cpu_count, 1); /* until bootinfo_set_cpu_count() */
}

static void test_stack_fields(void **state)
{
	struct guest_mem *mem = *state;
	char *argv[] = { "g", NULL };
	char err[BOOTINFO_ERR_MAX];

	assert_int_equal(bootinfo_write(mem, PVMM_IMAGE_MIN + 0x1000, 1, argv, err), 0);
	const struct pvmm_boot_info *bi = boot_info(mem);
	assert_int_equal(bi->stack_top, LAYOUT_STACK_TOP);
	assert_int_equal(bi->stack_top % 16, 0); /* the ABI's rsp alignment */
	assert_int_equal(bi->stack_size, LAYOUT_STACK_SIZE);
	/* The guard page sits right below the stack. */
	assert_int_equal(bi->stack_top - bi->stack_size, LAYOUT_STACK_GUARD + PAGE_SIZE);
}

static void test_args_packed_nul_separated(void **state)
{
	struct guest_mem *mem = *state;
	char *argv[] = { "hello.elf", "a", "", "bc d", NULL };
	static const char want[] = "hello.elf\0a\0\0bc d"; /* plus the final NUL */
	char err[BOOTINFO_ERR_MAX];

	assert_int_equal(bootinfo_write(mem, 0x200000, 4, argv, err), 0);
	const struct pvmm_boot_info *bi = boot_info(mem);
	assert_int_equal(bi->argc, 4);
	assert_int_equal(bi->args, LAYOUT_ARGS);
	assert_int_equal(bi->args_len, sizeof(want));
	assert_memory_equal(mem->host + bi->args, want, sizeof(want));
	/* Nothing after the strings. */
	assert_true(range_zero(mem, LAYOUT_ARGS + sizeof(want), LAYOUT_ARGS_END));
}

static void test_no_args(void **state)
{
	struct guest_mem *mem = *state;
	char *argv[] = { NULL };
	char err[BOOTINFO_ERR_MAX];

	assert_int_equal(bootinfo_write(mem, 0x200000, 0, argv, err), 0);
	assert_int_equal(boot_info(mem)->argc, 0);
	assert_int_equal(boot_info(mem)->args_len, 0);
}

static void test_usable_range(void **state)
{
	struct guest_mem *mem = *state;
	char *argv[] = { "g", NULL };
	char err[BOOTINFO_ERR_MAX];
	static const uint64_t ends[] = { 0x100001, 0x123456, 0x200000, 0x200fff, 0x201000, RAM_SIZE - PAGE_SIZE };

	for (size_t i = 0; i < sizeof(ends) / sizeof(ends[0]); i++) {
		assert_int_equal(bootinfo_write(mem, ends[i], 1, argv, err), 0);
		const struct pvmm_boot_info *bi = boot_info(mem);
		assert_int_equal(bi->usable_start % PAGE_SIZE, 0);
		assert_true(bi->usable_start >= ends[i]);
		assert_true(bi->usable_start - ends[i] < PAGE_SIZE); /* no page wasted */
		assert_true(bi->usable_start < bi->usable_end);
		assert_int_equal(bi->usable_end, RAM_SIZE);
	}
}

static void test_device_list_has_console(void **state)
{
	struct guest_mem *mem = *state;
	char *argv[] = { "g", NULL };
	char err[BOOTINFO_ERR_MAX];
	static const struct pvmm_device_info none;

	assert_int_equal(bootinfo_write(mem, 0x200000, 1, argv, err), 0);
	const struct pvmm_boot_info *bi = boot_info(mem);
	assert_int_equal(bi->device_count, BOOTINFO_DEVICE_COUNT);
	assert_true(bi->device_count >= 1 && bi->device_count <= PVMM_MAX_DEVICES);
	assert_int_equal(bi->devices[0].type, PVMM_DEV_CONSOLE);
	assert_int_equal(bi->devices[0].irq, PVMM_NO_IRQ);
	assert_int_equal(bi->devices[0].mmio_base, 0);
	assert_int_equal(bi->devices[0].mmio_size, 0);
	for (unsigned i = bi->device_count; i < PVMM_MAX_DEVICES; i++)
		assert_memory_equal(&bi->devices[i], &none, sizeof(none));
}

static void test_writes_only_boot_info_and_args(void **state)
{
	struct guest_mem *mem = *state;
	char *argv[] = { "x.elf", "yy", NULL };
	char err[BOOTINFO_ERR_MAX];

	assert_int_equal(bootinfo_write(mem, 0x300000, 2, argv, err), 0);
	assert_true(range_zero(mem, 0, LAYOUT_BOOT_INFO));
	assert_true(range_zero(mem, LAYOUT_BOOT_INFO + sizeof(struct pvmm_boot_info), LAYOUT_ARGS));
	assert_true(range_zero(mem, LAYOUT_ARGS + 9, 0x200000)); /* "x.elf\0yy\0" is 9 bytes */
}

static void test_args_exactly_filling_the_area(void **state)
{
	struct guest_mem *mem = *state;
	char *big = malloc(ARGS_ROOM);
	char err[BOOTINFO_ERR_MAX];

	assert_non_null(big);
	memset(big, 'a', ARGS_ROOM - 1);
	big[ARGS_ROOM - 1] = '\0'; /* with its NUL, exactly the room */
	char *argv[] = { big, NULL };
	assert_int_equal(bootinfo_write(mem, 0x200000, 1, argv, err), 0);
	assert_int_equal(boot_info(mem)->args_len, ARGS_ROOM);
	assert_int_equal(mem->host[LAYOUT_ARGS_END - 1], '\0');
	assert_true(range_zero(mem, LAYOUT_ARGS_END, 0x100000)); /* guard page untouched */
	free(big);
}

static void test_args_one_byte_too_long(void **state)
{
	struct guest_mem *mem = *state;
	char *big = malloc(ARGS_ROOM + 1);
	char err[BOOTINFO_ERR_MAX];

	assert_non_null(big);
	memset(big, 'a', ARGS_ROOM);
	big[ARGS_ROOM] = '\0';
	char *argv[] = { big, NULL };
	expect_error(bootinfo_write(mem, 0x200000, 1, argv, err), err, "too long");
	assert_int_equal(boot_info(mem)->magic, 0); /* no boot info on failure */
	assert_true(range_zero(mem, LAYOUT_ARGS_END, 0x100000));
	free(big);
}

static void test_many_args_too_long(void **state)
{
	/* Each fits, together they do not. */
	struct guest_mem *mem = *state;
	enum { N = 100 };
	char *argv[N + 1];
	char arg[100];
	char err[BOOTINFO_ERR_MAX];

	memset(arg, 'z', sizeof(arg) - 1);
	arg[sizeof(arg) - 1] = '\0';
	for (int i = 0; i < N; i++)
		argv[i] = arg;
	argv[N] = NULL;
	expect_error(bootinfo_write(mem, 0x200000, N, argv, err), err, "too long");
	assert_true(range_zero(mem, LAYOUT_ARGS_END, 0x100000));
}

static void test_image_filling_ram_is_refused(void **state)
{
	struct guest_mem *mem = *state;
	char *argv[] = { "g", NULL };
	char err[BOOTINFO_ERR_MAX];

	expect_error(bootinfo_write(mem, RAM_SIZE, 1, argv, err), err, "raise --mem");
	/* Rounds up to the end of RAM: no free page either. */
	expect_error(bootinfo_write(mem, RAM_SIZE - 1, 1, argv, err), err, "raise --mem");
	expect_error(bootinfo_write(mem, RAM_SIZE - PAGE_SIZE + 1, 1, argv, err), err, "raise --mem");
	assert_int_equal(boot_info(mem)->magic, 0);
}

static void test_set_devices_replaces_the_list(void **state)
{
	struct guest_mem *mem = *state;
	char *argv[] = { "g", NULL };
	char err[BOOTINFO_ERR_MAX];
	static const struct pvmm_device_info none;
	const struct pvmm_device_info devs[3] = {
		{ .type = PVMM_DEV_CONSOLE, .irq = PVMM_NO_IRQ },
		{ .type = PVMM_DEV_VIRTIO_MMIO, .irq = 16, .mmio_base = 0xd0000000, .mmio_size = 0x1000 },
		{ .type = PVMM_DEV_VIRTIO_MMIO, .irq = 17, .mmio_base = 0xd0001000, .mmio_size = 0x1000 },
	};

	assert_int_equal(bootinfo_write(mem, 0x200000, 1, argv, err), 0);
	assert_int_equal(bootinfo_set_devices(mem, devs, 3, err), 0);
	const struct pvmm_boot_info *bi = boot_info(mem);
	assert_int_equal(bi->device_count, 3);
	assert_memory_equal(bi->devices, devs, sizeof(devs));
	for (unsigned i = 3; i < PVMM_MAX_DEVICES; i++)
		assert_memory_equal(&bi->devices[i], &none, sizeof(none));
	assert_int_equal(bi->argc, 1); /* the rest is untouched */
	/* A shorter list clears the old entries. */
	assert_int_equal(bootinfo_set_devices(mem, devs, 1, err), 0);
	assert_int_equal(bi->device_count, 1);
	assert_memory_equal(&bi->devices[1], &none, sizeof(none));
}

static void test_set_devices_checks_count(void **state)
{
	struct guest_mem *mem = *state;
	char *argv[] = { "g", NULL };
	char err[BOOTINFO_ERR_MAX];
	struct pvmm_device_info devs[PVMM_MAX_DEVICES + 1] = { { .type = PVMM_DEV_CONSOLE } };

	/* Before bootinfo_write there is nothing to add to. */
	expect_error(bootinfo_set_devices(mem, devs, 1, err), err, "no boot info");
	assert_int_equal(bootinfo_write(mem, 0x200000, 1, argv, err), 0);
	expect_error(bootinfo_set_devices(mem, devs, 0, err), err, "1 to 16");
	expect_error(bootinfo_set_devices(mem, devs, PVMM_MAX_DEVICES + 1, err), err, "1 to 16");
	assert_int_equal(bootinfo_set_devices(mem, devs, PVMM_MAX_DEVICES, err), 0);
	assert_int_equal(boot_info(mem)->device_count, PVMM_MAX_DEVICES);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup_ram, teardown_ram)
	const struct CMUnitTest tests[] = {
		T(test_header_fields),
		T(test_stack_fields),
		T(test_args_packed_nul_separated),
		T(test_no_args),
		T(test_usable_range),
		T(test_device_list_has_console),
		T(test_writes_only_boot_info_and_args),
		T(test_args_exactly_filling_the_area),
		T(test_args_one_byte_too_long),
		T(test_many_args_too_long),
		T(test_image_filling_ram_is_refused),
		T(test_set_devices_replaces_the_list),
		T(test_set_devices_checks_count),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
