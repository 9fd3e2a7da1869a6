/*
 * ELF64 guest image loader. The image is untrusted input: every header
 * field is checked before use, and each problem gets a one-line message
 * saying what is wrong and, where there is one, how to fix it.
 */
#ifndef PVMM_ELF_H
#define PVMM_ELF_H

#include <stddef.h>
#include <stdint.h>

#include "guest_mem.h"

#define ELF_MAX_PHDRS 64
#define ELF_ERR_MAX 256

#define ELF_RO_MAX 4

struct elf_image {
	uint64_t entry;      /* entry point (guest-physical = virtual) */
	uint64_t image_end;  /* first byte after the highest loaded segment */
	/* Whole pages that only segments without PF_W cover (text, rodata),
	 * page-aligned [start, end): the monitor maps them read-only. */
	struct {
		uint64_t start, end;
	} ro[ELF_RO_MAX];
	unsigned ro_count;
};

/* Validate `file` (`size` bytes) and copy its PT_LOAD segments into `mem`,
 * which must be zero-filled (bss is left as is). Returns 0, or -1 with a
 * message in `err`. Nothing outside [PVMM_IMAGE_MIN, mem->size) is written. */
int elf_load(const uint8_t *file, size_t size, struct guest_mem *mem,
	     struct elf_image *image, char err[ELF_ERR_MAX]);

/* An uncompressed Linux kernel (vmlinux) for a PVH boot: the same checks,
 * but each PT_LOAD segment goes to its physical address (p_paddr; its
 * virtual one is the kernel's high mapping), and the entry point is the
 * 32-bit one of the Xen note XEN_ELFNOTE_PHYS32_ENTRY. */
int elf_load_pvh(const uint8_t *file, size_t size, struct guest_mem *mem, struct elf_image *image,
		 char err[ELF_ERR_MAX]);

#endif
