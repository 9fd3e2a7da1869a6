/* struct pvmm_boot_info: what the guest learns about its machine at entry. */
#ifndef PVMM_BOOTINFO_H
#define PVMM_BOOTINFO_H

#include <stdint.h>

#include "guest_mem.h"

#define BOOTINFO_ERR_MAX 256

/* Fill the boot info and argument strings (argv[0..argc-1]) at their
 * layout.h addresses. `image_end` is the end of the loaded image. Returns
 * 0, or -1 with a message in `err`. */
int bootinfo_write(struct guest_mem *mem, uint64_t image_end, int argc, char *const argv[],
		   char err[BOOTINFO_ERR_MAX]);

/* Devices the boot info lists; the para-API poll call accepts these bits. */
#define BOOTINFO_DEVICE_COUNT 1

#endif
