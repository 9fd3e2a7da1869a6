#include "linux_boot.h"

#include <asm/bootparam.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "devices/acpi_sleep.h"
#include "devices/i8042.h"
#include "elf_loader.h"
#include "vm.h"

#define E820_TYPE_RAM 1
#define E820_TYPE_RESERVED 2

/* The parts of boot_params a 64-bit entry reads, at their fixed offsets
 * (Documentation/arch/x86/zero-page.rst); asm/bootparam.h has them all. */
_Static_assert(sizeof(struct boot_params) == 4096, "boot_params is one page");
_Static_assert(offsetof(struct boot_params, hdr) == 0x1f1, "setup header at 0x1f1");
_Static_assert(offsetof(struct boot_params, e820_table) == 0x2d0, "e820 table at 0x2d0");

#define SETUP_HEADER_OFF 0x1f1u
#define HDRS_MAGIC 0x53726448u /* "HdrS" */
#define BOOT_FLAG 0xaa55u
#define LOADER_TYPE_UNDEFINED 0xffu
#define ENTRY_64_OFFSET 0x200u /* startup_64, from the protected-mode kernel's start */

/* PVH's start info (Xen's public arch-x86/hvm/start_info.h, version 1). */
#define HVM_START_MAGIC 0x336ec578u
struct hvm_start_info {
	uint32_t magic, version, flags, nr_modules;
	uint64_t modlist_paddr, cmdline_paddr, rsdp_paddr, memmap_paddr;
	uint32_t memmap_entries, reserved;
};
struct hvm_modlist_entry {
	uint64_t paddr, size, cmdline_paddr, reserved;
};
struct hvm_memmap_table_entry {
	uint64_t addr, size;
	uint32_t type, reserved;
};
_Static_assert(sizeof(struct hvm_start_info) == 56, "hvm_start_info layout");
#define PVH_MODLIST (LINUX_START_INFO + 0x40)
#define PVH_MEMMAP (LINUX_START_INFO + 0x100)

static int fail(char err[LINUX_ERR_MAX], const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(char err[LINUX_ERR_MAX], const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, LINUX_ERR_MAX, fmt, ap);
	va_end(ap);
	return -1;
}

static uint64_t mib_up(uint64_t bytes)
{
	return (bytes + (1ull << 20) - 1) >> 20;
}

bool linux_is_bzimage(const uint8_t *file, size_t size)
{
	uint32_t magic;
	if (size < 0x206)
		return false;
	memcpy(&magic, file + 0x202, sizeof(magic));
	return magic == HDRS_MAGIC;
}

/* The RAM map both protocols report: low RAM, the legacy hole's BIOS
 * area (which holds the ACPI tables), RAM from 1 MiB to the end of the
 * first region. */
struct ram_map {
	struct { uint64_t addr, size; uint32_t type; } e[3];
	unsigned n;
};

static void ram_map(const struct guest_mem *mem, struct ram_map *m)
{
	m->n = 0;
	m->e[m->n++] = (typeof(m->e[0])){ 0, LINUX_LOW_RAM_END, E820_TYPE_RAM };
	m->e[m->n++] = (typeof(m->e[0])){ LINUX_ACPI, LINUX_BIOS_END - LINUX_ACPI, E820_TYPE_RESERVED };
	m->e[m->n++] = (typeof(m->e[0])){ LINUX_KERNEL, mem->size - LINUX_KERNEL, E820_TYPE_RAM };
}

/* The command line: checked against the kernel's limit (`max`, without
 * its NUL), copied to LINUX_CMDLINE. */
static int check_cmdline(const char *cmdline, uint64_t max, char err[LINUX_ERR_MAX])
{
	size_t len = strlen(cmdline);
	if (max > LINUX_CMDLINE_MAX - 1)
		max = LINUX_CMDLINE_MAX - 1;
	if (len > max)
		return fail(err, "the kernel command line is %zu bytes; this kernel takes at most %llu", len,
			    (unsigned long long)max);
	return 0;
}

/* Where the initrd goes: page-aligned, as high as possible below `top`,
 * above `floor` (the kernel's end). */
static int place_initrd(size_t initrd_size, uint64_t floor, uint64_t top, uint64_t *at, char err[LINUX_ERR_MAX])
{
	if (initrd_size == 0) {
		*at = 0;
		return 0;
	}
	if (initrd_size > top || ((top - initrd_size) & ~0xfffull) < floor)
		return fail(err, "the initrd (%llu MiB) does not fit between the kernel's end (%llu MiB) and %llu MiB; "
				 "give the VM more memory (--mem)",
			    (unsigned long long)mib_up(initrd_size), (unsigned long long)mib_up(floor),
			    (unsigned long long)(top >> 20));
	*at = (top - initrd_size) & ~0xfffull;
	return 0;
}

static void *ptr(struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	return guest_mem_ptr(mem, gpa, len);
}

static int load_bzimage(const uint8_t *file, size_t size, const uint8_t *initrd, size_t initrd_size,
			const char *cmdline, struct guest_mem *mem, struct linux_boot *boot, char err[LINUX_ERR_MAX])
{
	struct setup_header hdr = { 0 };

	if (size < 0x264)
		return fail(err, "the bzImage is truncated (%zu bytes, its header alone needs 612)", size);
	memcpy(&hdr, file + SETUP_HEADER_OFF, sizeof(hdr));
	if (hdr.boot_flag != BOOT_FLAG)
		return fail(err, "the kernel's boot sector has no 0xAA55 signature; not a bzImage");
	if (hdr.version < LINUX_PROTO_MIN)
		return fail(err, "the kernel speaks boot protocol %u.%02u; pvmm needs 2.06 or later", hdr.version >> 8,
			    hdr.version & 0xff);
	if (!(hdr.loadflags & LOADED_HIGH))
		return fail(err, "a zImage (loaded low), not a bzImage; pvmm boots bzImages");
	if (hdr.version >= 0x020c && !(hdr.xloadflags & XLF_KERNEL_64))
		return fail(err, "the bzImage has no 64-bit entry point (a 32-bit kernel?); pvmm boots x86-64 kernels");
	uint64_t setup_sects = hdr.setup_sects ? hdr.setup_sects : 4;
	uint64_t setup_size = (setup_sects + 1) * 512;
	if (setup_size >= size)
		return fail(err, "the bzImage is truncated: its setup code (%llu bytes) is all there is",
			    (unsigned long long)setup_size);
	uint64_t payload = size - setup_size;
	/* A relocatable kernel decompresses itself at its preferred address
	 * if it was loaded below it; init_size is what it needs from there. */
	uint64_t base = LINUX_KERNEL;
	if (hdr.version >= 0x020a && hdr.relocatable_kernel && hdr.pref_address > base)
		base = hdr.pref_address;
	uint64_t need = hdr.version >= 0x020a ? hdr.init_size : 0;
	if (base >= mem->size)
		return fail(err, "the kernel decompresses itself at %#llx, beyond the VM's %llu MiB of RAM; give it "
				 "more with --mem", (unsigned long long)base, (unsigned long long)(mem->size >> 20));
	if (payload > mem->size - LINUX_KERNEL)
		return fail(err, "the kernel (%llu MiB) does not fit in the VM's %llu MiB of RAM; give it more with --mem",
			    (unsigned long long)mib_up(payload), (unsigned long long)(mem->size >> 20));
	/* Both below mem->size now (need is 32-bit): no overflow. */
	uint64_t kernel_end = base + need > LINUX_KERNEL + payload ? base + need : LINUX_KERNEL + payload;
	if (kernel_end > mem->size)
		return fail(err, "the kernel needs %llu MiB of RAM to boot, the VM has %llu; give it more with --mem",
			    (unsigned long long)mib_up(kernel_end), (unsigned long long)(mem->size >> 20));
	if (check_cmdline(cmdline, hdr.cmdline_size, err))
		return -1;
	uint64_t top = mem->size;
	if ((uint64_t)hdr.initrd_addr_max + 1 < top)
		top = (uint64_t)hdr.initrd_addr_max + 1;
	uint64_t initrd_at = 0;
	if (place_initrd(initrd_size, kernel_end, top, &initrd_at, err))
		return -1;

	/* Checked: write. The zero page holds the kernel's own setup header
	 * (as long as the kernel says it is), then what the loader fills in. */
	struct boot_params *bp = ptr(mem, LINUX_ZERO_PAGE, sizeof(*bp));
	char *cl = ptr(mem, LINUX_CMDLINE, strlen(cmdline) + 1);
	uint8_t *kernel = ptr(mem, LINUX_KERNEL, payload);
	uint8_t *rd = initrd_size ? ptr(mem, initrd_at, initrd_size) : NULL;
	if (!bp || !cl || !kernel || (initrd_size && !rd))
		return fail(err, "guest RAM does not hold the boot structures (RAM of %llu MiB)",
			    (unsigned long long)(mem->size >> 20));
	memset(bp, 0, sizeof(*bp));
	size_t hdr_len = 0x202 + (size_t)file[0x201] - SETUP_HEADER_OFF; /* the jump at 0x200 says how long */
	if (hdr_len > sizeof(hdr))
		hdr_len = sizeof(hdr);
	memcpy(&bp->hdr, file + SETUP_HEADER_OFF, hdr_len);
	bp->hdr.type_of_loader = LOADER_TYPE_UNDEFINED;
	bp->hdr.vid_mode = 0xffff; /* "normal" */
	bp->hdr.code32_start = (uint32_t)LINUX_KERNEL;
	bp->hdr.cmd_line_ptr = (uint32_t)LINUX_CMDLINE;
	bp->hdr.ramdisk_image = (uint32_t)initrd_at;
	bp->hdr.ramdisk_size = (uint32_t)initrd_size;
	bp->ext_ramdisk_image = (uint32_t)(initrd_at >> 32);
	bp->ext_ramdisk_size = (uint32_t)((uint64_t)initrd_size >> 32);
	struct ram_map m;
	ram_map(mem, &m);
	for (unsigned i = 0; i < m.n; i++)
		bp->e820_table[i] = (struct boot_e820_entry){ m.e[i].addr, m.e[i].size, m.e[i].type };
	bp->e820_entries = (uint8_t)m.n;
	memcpy(cl, cmdline, strlen(cmdline) + 1);
	memcpy(kernel, file + setup_size, payload);
	if (initrd_size)
		memcpy(rd, initrd, initrd_size);

	*boot = (struct linux_boot){
		.kind = LINUX_ENTRY_64, .entry = LINUX_KERNEL + ENTRY_64_OFFSET, .params = LINUX_ZERO_PAGE,
		.kernel_end = kernel_end, .initrd = initrd_at, .initrd_size = initrd_size, .protocol = hdr.version,
	};
	return 0;
}

static int load_pvh(const uint8_t *file, size_t size, const uint8_t *initrd, size_t initrd_size,
		    const char *cmdline, struct guest_mem *mem, struct linux_boot *boot, char err[LINUX_ERR_MAX])
{
	struct elf_image img;
	char why[ELF_ERR_MAX];

	if (check_cmdline(cmdline, LINUX_CMDLINE_MAX - 1, err))
		return -1;
	if (elf_load_pvh(file, size, mem, &img, why))
		return fail(err, "%s", why);
	if (img.entry < LINUX_KERNEL)
		return fail(err, "the PVH entry %#llx is below 1 MiB, where pvmm keeps the boot structures",
			    (unsigned long long)img.entry);
	uint64_t initrd_at = 0;
	if (place_initrd(initrd_size, (img.image_end + 0xfff) & ~0xfffull, mem->size, &initrd_at, err))
		return -1;

	struct hvm_start_info *si = ptr(mem, LINUX_START_INFO, sizeof(*si));
	struct hvm_modlist_entry *mod = ptr(mem, PVH_MODLIST, sizeof(*mod));
	struct hvm_memmap_table_entry *map = ptr(mem, PVH_MEMMAP, 3 * sizeof(*map));
	char *cl = ptr(mem, LINUX_CMDLINE, strlen(cmdline) + 1);
	uint8_t *rd = initrd_size ? ptr(mem, initrd_at, initrd_size) : NULL;
	if (!si || !mod || !map || !cl || (initrd_size && !rd))
		return fail(err, "guest RAM does not hold the boot structures (RAM of %llu MiB)",
			    (unsigned long long)(mem->size >> 20));
	struct ram_map m;
	ram_map(mem, &m);
	for (unsigned i = 0; i < m.n; i++)
		map[i] = (struct hvm_memmap_table_entry){ m.e[i].addr, m.e[i].size, m.e[i].type, 0 };
	*si = (struct hvm_start_info){
		.magic = HVM_START_MAGIC, .version = 1, .cmdline_paddr = LINUX_CMDLINE,
		.memmap_paddr = PVH_MEMMAP, .memmap_entries = m.n,
	};
	if (initrd_size) {
		*mod = (struct hvm_modlist_entry){ .paddr = initrd_at, .size = initrd_size };
		si->nr_modules = 1;
		si->modlist_paddr = PVH_MODLIST;
		memcpy(rd, initrd, initrd_size);
	}
	memcpy(cl, cmdline, strlen(cmdline) + 1);
	*boot = (struct linux_boot){
		.kind = LINUX_ENTRY_PVH, .entry = img.entry, .params = LINUX_START_INFO,
		.kernel_end = img.image_end, .initrd = initrd_at, .initrd_size = initrd_size,
	};
	return 0;
}

int linux_load(const uint8_t *kernel, size_t kernel_size, const uint8_t *initrd, size_t initrd_size,
	       const char *cmdline, struct guest_mem *mem, struct linux_boot *boot, char err[LINUX_ERR_MAX])
{
	if (mem->size < 2 * LINUX_KERNEL)
		return fail(err, "%llu MiB of RAM is too little for a Linux kernel; give it --mem 64M or more",
			    (unsigned long long)(mem->size >> 20));
	if (!cmdline)
		cmdline = "";
	if (kernel_size >= 4 && memcmp(kernel, "\177ELF", 4) == 0)
		return load_pvh(kernel, kernel_size, initrd, initrd_size, cmdline, mem, boot, err);
	if (!linux_is_bzimage(kernel, kernel_size))
		return fail(err, "not a Linux kernel: neither a bzImage (no 'HdrS' header) nor an ELF vmlinux");
	return load_bzimage(kernel, kernel_size, initrd, initrd_size, cmdline, mem, boot, err);
}

/* --cpus takes up to VM_MAX_CPUS: the MADT must hold them all. */
_Static_assert(VM_MAX_CPUS <= ACPI_MAX_CPUS, "the MADT lists every vCPU");

void linux_acpi_config(struct acpi_config *cfg, unsigned cpus)
{
	*cfg = (struct acpi_config){
		.base = LINUX_ACPI, .cpus = cpus, .ioapic_addr = LINUX_IOAPIC_ADDR, .ioapic_id = LINUX_IOAPIC_ID,
		.ioapic_gsi_base = 0, .sleep_port = ACPI_SLEEP_PORT, .s5_type = ACPI_SLEEP_S5_TYPE,
		.reset_port = I8042_CMD_PORT, .reset_value = I8042_CMD_RESET, .uart_port = 0x3f8, .uart_irq = 4,
	};
}

int linux_load_acpi(struct guest_mem *mem, const struct linux_boot *boot, unsigned cpus, char err[LINUX_ERR_MAX])
{
	struct acpi_config cfg;
	struct acpi_tables t;
	uint8_t *area = ptr(mem, LINUX_ACPI, LINUX_BIOS_END - LINUX_ACPI);

	linux_acpi_config(&cfg, cpus);
	if (!area || acpi_build(&cfg, area, LINUX_BIOS_END - LINUX_ACPI, &t))
		return fail(err, "cannot build the ACPI tables for %u CPUs (1 to %u)", cpus, ACPI_MAX_CPUS);
	if (boot->kind == LINUX_ENTRY_PVH) {
		struct hvm_start_info *si = ptr(mem, boot->params, sizeof(*si));
		if (!si)
			return fail(err, "guest RAM does not hold the start info");
		si->rsdp_paddr = t.rsdp;
	} else if (boot->protocol >= 0x020e) {
		struct boot_params *bp = ptr(mem, boot->params, sizeof(*bp));
		if (!bp)
			return fail(err, "guest RAM does not hold the zero page");
		bp->acpi_rsdp_addr = t.rsdp;
	}
	return 0;
}
