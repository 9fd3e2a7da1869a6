#include "bootinfo.h"

#include <stdio.h>
#include <string.h>

#include <pvmm/para.h>

#include "layout.h"

int bootinfo_write(struct guest_mem *mem, uint64_t image_end, int argc, char *const argv[],
		   char err[BOOTINFO_ERR_MAX])
{
	struct pvmm_boot_info *bi = guest_mem_ptr_private(mem, LAYOUT_BOOT_INFO, sizeof(*bi));
	char *args = guest_mem_ptr_private(mem, LAYOUT_ARGS, LAYOUT_ARGS_END - LAYOUT_ARGS);
	uint64_t used = 0, room = LAYOUT_ARGS_END - LAYOUT_ARGS;
	uint64_t usable_start = (image_end + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);

	for (int i = 0; i < argc; i++) {
		size_t len = strlen(argv[i]) + 1;
		if (len > room - used) {
			snprintf(err, BOOTINFO_ERR_MAX,
				 "guest arguments are too long: they must fit in %llu bytes",
				 (unsigned long long)room);
			return -1;
		}
		memcpy(args + used, argv[i], len);
		used += len;
	}
	if (usable_start >= mem->size) {
		snprintf(err, BOOTINFO_ERR_MAX, "the image leaves no free RAM; raise --mem");
		return -1;
	}

	*bi = (struct pvmm_boot_info){
		.magic = PVMM_BOOT_MAGIC,
		.version = PVMM_PARA_VERSION,
		.mem_size = mem->size,
		.usable_start = usable_start,
		.usable_end = mem->size,
		.stack_top = LAYOUT_STACK_TOP,
		.stack_size = LAYOUT_STACK_SIZE,
		.args = LAYOUT_ARGS,
		.args_len = (uint32_t)used,
		.argc = (uint32_t)argc,
		.device_count = BOOTINFO_DEVICE_COUNT,
		.cpu_count = 1,
		.devices[0] = { .type = PVMM_DEV_CONSOLE, .irq = PVMM_NO_IRQ },
	};
	_Static_assert(sizeof(struct pvmm_boot_info) <= LAYOUT_ARGS - LAYOUT_BOOT_INFO,
		       "boot info overlaps the argument area");
	return 0;
}

int bootinfo_set_devices(struct guest_mem *mem, const struct pvmm_device_info *devices, uint32_t count,
			 char err[BOOTINFO_ERR_MAX])
{
	struct pvmm_boot_info *bi = guest_mem_ptr_private(mem, LAYOUT_BOOT_INFO, sizeof(*bi));

	if (count == 0 || count > PVMM_MAX_DEVICES) {
		snprintf(err, BOOTINFO_ERR_MAX, "%u devices: the boot info lists 1 to %u", count, PVMM_MAX_DEVICES);
		return -1;
	}
	if (!bi || bi->magic != PVMM_BOOT_MAGIC) {
		snprintf(err, BOOTINFO_ERR_MAX, "internal error: no boot info to add devices to");
		return -1;
	}
	memset(bi->devices, 0, sizeof(bi->devices));
	memcpy(bi->devices, devices, count * sizeof(devices[0]));
	bi->device_count = count;
	return 0;
}

int bootinfo_set_cpu_count(struct guest_mem *mem, uint32_t count, char err[BOOTINFO_ERR_MAX])
{
	struct pvmm_boot_info *bi = guest_mem_ptr_private(mem, LAYOUT_BOOT_INFO, sizeof(*bi));

	if (count == 0 || count > PVMM_MAX_CPUS) {
		snprintf(err, BOOTINFO_ERR_MAX, "%u CPUs: the boot info lists 1 to %u", count, PVMM_MAX_CPUS);
		return -1;
	}
	if (!bi || bi->magic != PVMM_BOOT_MAGIC) {
		snprintf(err, BOOTINFO_ERR_MAX, "internal error: no boot info to set the CPU count in");
		return -1;
	}
	bi->cpu_count = count;
	return 0;
}

int bootinfo_set_clock_page(struct guest_mem *mem, uint64_t gpa, char err[BOOTINFO_ERR_MAX])
{
	struct pvmm_boot_info *bi = guest_mem_ptr_private(mem, LAYOUT_BOOT_INFO, sizeof(*bi));

	if ((gpa & (PAGE_SIZE - 1)) || !guest_mem_ptr_private(mem, gpa, PAGE_SIZE)) {
		snprintf(err, BOOTINFO_ERR_MAX, "internal error: clock page 0x%llx is not a page of RAM",
			 (unsigned long long)gpa);
		return -1;
	}
	if (!bi || bi->magic != PVMM_BOOT_MAGIC) {
		snprintf(err, BOOTINFO_ERR_MAX, "internal error: no boot info to name the clock page in");
		return -1;
	}
	bi->clock_page = gpa;
	return 0;
}
