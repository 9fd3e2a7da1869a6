/*
 * Loading a Linux kernel: a bzImage through the x86 boot protocol (2.06
 * or later, entered at its 64-bit entry point with a boot_params "zero
 * page") or an uncompressed vmlinux through PVH (entered in 32-bit
 * protected mode with an hvm_start_info), plus its initrd and command
 * line. Kernel, initrd and command line come from the user's files, and
 * every field of them is checked before it is used: a bad one gets a
 * one-line message. A bzImage is written only once all its checks have
 * passed; a vmlinux's segments may be in RAM when its initrd is found not
 * to fit, and the caller then never starts the VM.
 *
 * Guest-physical layout of a Linux boot (below 1 MiB, the loader's):
 *   0x01000  GDT, then the 64-bit entry's page tables (cpu setup)
 *   0x06000  PVH: struct hvm_start_info, its module list and memory map
 *   0x07000  bzImage: struct boot_params (the zero page)
 *   0x20000  the command line, at most LINUX_CMDLINE_MAX bytes
 *   0xe0000  the ACPI tables, the RSDP first (acpi.h); 0xe0000..0xfffff
 *            is reported reserved, where a PC's BIOS area is
 *   0x100000 the kernel (bzImage: its protected-mode part; vmlinux: its
 *            segments at their physical addresses)
 *   top      the initrd, as high as the kernel allows, page-aligned
 */
#ifndef PVMM_LINUX_BOOT_H
#define PVMM_LINUX_BOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "acpi.h"
#include "guest_mem.h"

#define LINUX_ERR_MAX 256
#define LINUX_START_INFO 0x6000ull
#define LINUX_ZERO_PAGE  0x7000ull
#define LINUX_CMDLINE    0x20000ull
#define LINUX_CMDLINE_MAX 0x10000ull
#define LINUX_KERNEL     0x100000ull
/* Where low RAM ends for the kernel: the EBDA and BIOS area above it are
 * reported reserved, as a PC's are. */
#define LINUX_LOW_RAM_END 0x9fc00ull
#define LINUX_ACPI 0xe0000ull
#define LINUX_BIOS_END 0x100000ull
/* KVM's in-kernel IOAPIC: its fixed MMIO base, its ID after reset. */
#define LINUX_IOAPIC_ADDR 0xfec00000u
#define LINUX_IOAPIC_ID 0

/* x86 boot protocol versions */
#define LINUX_PROTO_MIN 0x0206 /* cmdline_size, initrd_addr_max */

enum linux_entry {
	LINUX_ENTRY_64,  /* bzImage: long mode, paging on, %rsi = zero page */
	LINUX_ENTRY_PVH, /* vmlinux: 32-bit protected mode, paging off, %ebx = start info */
};

struct linux_boot {
	enum linux_entry kind;
	uint64_t entry;          /* guest-physical */
	uint64_t params;         /* zero page or start info, guest-physical */
	uint64_t kernel_end;     /* first byte above what the kernel may use at boot */
	uint64_t initrd, initrd_size; /* 0, 0 without one */
	uint16_t protocol;       /* bzImage: the boot protocol version; PVH: 0 */
};

/* Does the file look like a Linux kernel pvmm can boot (a bzImage's
 * "HdrS" or an ELF)? For telling a kernel from a pvmm guest image only:
 * linux_load() does the checking. */
bool linux_is_bzimage(const uint8_t *file, size_t size);

/* Load `kernel` (a bzImage, or an ELF vmlinux with a PVH note), `initrd`
 * (NULL, 0 for none) and `cmdline` into `mem` (zero-filled, its first
 * region RAM from 0), and write the boot parameters. 0, or -1 with a
 * message in err. */
int linux_load(const uint8_t *kernel, size_t kernel_size, const uint8_t *initrd, size_t initrd_size,
	       const char *cmdline, struct guest_mem *mem, struct linux_boot *boot, char err[LINUX_ERR_MAX]);

/* The ACPI configuration of a --kernel guest with `cpus` vCPUs: the
 * IOAPIC above, the UART at 0x3f8 IRQ 4, the sleep registers of
 * devices/acpi_sleep.h, the i8042's reset as the FADT's reset register. */
void linux_acpi_config(struct acpi_config *cfg, unsigned cpus);

/* Build the ACPI tables at LINUX_ACPI, after linux_load(), and point the
 * boot parameters at the RSDP (the start info's rsdp_paddr; a bzImage's
 * acpi_rsdp_addr from protocol 2.14). 0, or -1 with a message in err. */
int linux_load_acpi(struct guest_mem *mem, const struct linux_boot *boot, unsigned cpus, char err[LINUX_ERR_MAX]);

#endif
