/* struct pvmm_boot_info: what the guest learns about its machine at entry. */
#ifndef PVMM_BOOTINFO_H
#define PVMM_BOOTINFO_H

#include <stdint.h>

#include <pvmm/para.h>

#include "guest_mem.h"

#define BOOTINFO_ERR_MAX 256

/* Fill the boot info and argument strings (argv[0..argc-1]) at their
 * layout.h addresses. `image_end` is the end of the loaded image. Returns
 * 0, or -1 with a message in `err`. */
int bootinfo_write(struct guest_mem *mem, uint64_t image_end, int argc, char *const argv[],
		   char err[BOOTINFO_ERR_MAX]);

/* Devices bootinfo_write() lists: the para console alone. The VM's real
 * list (console first, then its virtio devices) replaces it through
 * bootinfo_set_devices() once the devices exist. */
#define BOOTINFO_DEVICE_COUNT 1

/* Write `count` (1..PVMM_MAX_DEVICES) device entries into the boot info
 * that bootinfo_write() filled; unused entries become zero. Returns 0, or
 * -1 with a message in `err`. */
int bootinfo_set_devices(struct guest_mem *mem, const struct pvmm_device_info *devices, uint32_t count,
			 char err[BOOTINFO_ERR_MAX]);

/* Tell the guest it has `count` (1..PVMM_MAX_CPUS) vCPUs; bootinfo_write()
 * says 1. Returns 0, or -1 with a message in `err`. */
int bootinfo_set_cpu_count(struct guest_mem *mem, uint32_t count, char err[BOOTINFO_ERR_MAX]);

/* (1.3) Name the PV clock page (a page-aligned RAM address) in the boot
 * info; bootinfo_write() says 0, none. Returns 0, or -1 with a message in
 * `err`. */
int bootinfo_set_clock_page(struct guest_mem *mem, uint64_t gpa, char err[BOOTINFO_ERR_MAX]);

#endif
