#include "elf_loader.h"

#include <elf.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "layout.h"

static int fail(char err[ELF_ERR_MAX], const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, ELF_ERR_MAX, fmt, ap);
	va_end(ap);
	return -1;
}

/* [off, off + len) inside a file of `size` bytes, without overflow. */
static bool in_file(uint64_t off, uint64_t len, size_t size)
{
	return len <= size && off <= size - len;
}

static int check_header(const Elf64_Ehdr *eh, size_t size, char err[ELF_ERR_MAX])
{
	if (size < EI_NIDENT || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0)
		return fail(err, "not an ELF file (bad magic); build the guest with guest/pvmm-cc");
	if (size < sizeof(*eh))
		return fail(err, "truncated ELF header (%zu bytes)", size);
	if (eh->e_ident[EI_CLASS] != ELFCLASS64)
		return fail(err, "not a 64-bit ELF (class %u); pvmm runs x86-64 guests", eh->e_ident[EI_CLASS]);
	if (eh->e_ident[EI_DATA] != ELFDATA2LSB)
		return fail(err, "not a little-endian ELF");
	if (eh->e_ident[EI_VERSION] != EV_CURRENT || eh->e_version != EV_CURRENT)
		return fail(err, "unknown ELF version %u", eh->e_version);
	if (eh->e_machine != EM_X86_64)
		return fail(err, "ELF machine is %u, not x86-64 (62)", eh->e_machine);
	/* ET_DYN is refused in elf_load, once the program headers can tell a
	 * Linux program (static-pie, PIE) from a guest linked as a PIE. */
	if (eh->e_type != ET_EXEC && eh->e_type != ET_DYN)
		return fail(err, "ELF type %u is not an executable", eh->e_type);
	if (eh->e_phnum == 0)
		return fail(err, "ELF has no program headers");
	if (eh->e_phnum > ELF_MAX_PHDRS)
		return fail(err, "ELF has %u program headers (at most %d)", eh->e_phnum, ELF_MAX_PHDRS);
	if (eh->e_phentsize != sizeof(Elf64_Phdr))
		return fail(err, "ELF program header size %u, expected %zu", eh->e_phentsize, sizeof(Elf64_Phdr));
	if (!in_file(eh->e_phoff, (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr), size))
		return fail(err, "truncated ELF: program headers run past the end of the file");
	return 0;
}

/* Does the PT_NOTE segment *ph hold an NT_GNU_ABI_TAG note ("GNU", type
 * 1)? glibc's start files (crt1.o, Scrt1.o, rcrt1.o) put one in every
 * program linked for Linux, static or dynamic; pvmm guests never have it.
 * The notes are untrusted: every size is checked against the segment. */
static bool has_gnu_abi_tag(const uint8_t *file, size_t size, const Elf64_Phdr *ph)
{
	if (!in_file(ph->p_offset, ph->p_filesz, size))
		return false;
	uint64_t align = ph->p_align == 8 ? 8 : 4;
	const uint8_t *p = file + ph->p_offset;
	uint64_t left = ph->p_filesz;
	while (left >= 12) {
		uint32_t hdr[3]; /* namesz, descsz, type; the name follows at 12 */
		memcpy(hdr, p, sizeof(hdr));
		uint64_t desc = (12 + (uint64_t)hdr[0] + align - 1) & ~(align - 1);
		uint64_t end = (desc + (uint64_t)hdr[1] + align - 1) & ~(align - 1);
		if (end > left)
			return false;
		if (hdr[2] == NT_GNU_ABI_TAG && hdr[0] == 4 && memcmp(p + 12, "GNU", 4) == 0)
			return true;
		p += end;
		left -= end;
	}
	return false;
}

/* A program built for Linux: it asks for a program interpreter (dynamic
 * executables and PIEs) or carries glibc's ABI tag note (static and
 * static-pie ones). */
static bool linux_program(const uint8_t *file, size_t size, const Elf64_Phdr *ph, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		if (ph[i].p_type == PT_INTERP)
			return true;
		if (ph[i].p_type == PT_NOTE && has_gnu_abi_tag(file, size, &ph[i]))
			return true;
	}
	return false;
}

static int check_segment(const Elf64_Phdr *ph, unsigned index, size_t size,
			 const struct guest_mem *mem, char err[ELF_ERR_MAX])
{
	if (ph->p_filesz > ph->p_memsz)
		return fail(err, "segment %u: file size %#llx exceeds memory size %#llx", index,
			    (unsigned long long)ph->p_filesz, (unsigned long long)ph->p_memsz);
	if (ph->p_memsz > MEM_MAX)
		return fail(err, "segment %u: absurd size %#llx", index, (unsigned long long)ph->p_memsz);
	if (!in_file(ph->p_offset, ph->p_filesz, size))
		return fail(err, "truncated ELF: segment %u runs past the end of the file", index);
	if (ph->p_vaddr != ph->p_paddr)
		return fail(err, "segment %u: virtual address %#llx differs from physical %#llx; pvmm identity-maps guests",
			    index, (unsigned long long)ph->p_vaddr, (unsigned long long)ph->p_paddr);
	if (ph->p_paddr < PVMM_IMAGE_MIN)
		return fail(err, "segment %u at %#llx overlaps the monitor's area below %#x; link at %#x or above",
			    index, (unsigned long long)ph->p_paddr, PVMM_IMAGE_MIN, PVMM_IMAGE_MIN);
	if (!guest_mem_range_ok(mem, ph->p_paddr, ph->p_memsz))
		return fail(err, "segment %u [%#llx, +%#llx) lies outside guest RAM (%llu MiB); raise --mem",
			    index, (unsigned long long)ph->p_paddr, (unsigned long long)ph->p_memsz,
			    (unsigned long long)(mem->size >> 20));
	return 0;
}

static bool overlaps(const Elf64_Phdr *a, const Elf64_Phdr *b)
{
	return a->p_paddr < b->p_paddr + b->p_memsz && b->p_paddr < a->p_paddr + a->p_memsz;
}

int elf_load(const uint8_t *file, size_t size, struct guest_mem *mem,
	     struct elf_image *image, char err[ELF_ERR_MAX])
{
	Elf64_Ehdr eh = {0};
	Elf64_Phdr ph[ELF_MAX_PHDRS];
	const Elf64_Phdr *load[ELF_MAX_PHDRS];
	unsigned nload = 0;
	bool entry_ok = false;
	uint64_t end = 0;

	/* Copy headers out: the file buffer need not be aligned. */
	memcpy(&eh, file, size < sizeof(eh) ? size : sizeof(eh));
	if (check_header(&eh, size, err))
		return -1;
	memcpy(ph, file + eh.e_phoff, eh.e_phnum * sizeof(Elf64_Phdr));
	if (linux_program(file, size, ph, eh.e_phnum))
		return fail(err, "built for Linux, not a pvmm guest: build it with pvmm-cc");
	if (eh.e_type == ET_DYN)
		return fail(err, "position-independent ELF (ET_DYN); link with -no-pie (guest/pvmm-cc does)");

	for (unsigned i = 0; i < eh.e_phnum; i++) {
		if (ph[i].p_type == PT_INTERP || ph[i].p_type == PT_DYNAMIC)
			return fail(err, "dynamically linked ELF; guests must be static (build with guest/pvmm-cc)");
		if (ph[i].p_type != PT_LOAD)
			continue;
		/* An empty segment occupies nothing, wherever it claims to be. */
		if (ph[i].p_memsz == 0 && ph[i].p_filesz == 0)
			continue;
		if (check_segment(&ph[i], i, size, mem, err))
			return -1;
		for (unsigned j = 0; j < nload; j++)
			if (overlaps(&ph[i], load[j]))
				return fail(err, "segments %u and %u overlap at %#llx", (unsigned)(load[j] - ph), i,
					    (unsigned long long)ph[i].p_paddr);
		load[nload++] = &ph[i];
		if ((ph[i].p_flags & PF_X) && eh.e_entry >= ph[i].p_paddr &&
		    eh.e_entry - ph[i].p_paddr < ph[i].p_memsz)
			entry_ok = true;
		if (ph[i].p_paddr + ph[i].p_memsz > end)
			end = ph[i].p_paddr + ph[i].p_memsz;
	}
	if (nload == 0)
		return fail(err, "ELF has no loadable segments");
	if (!entry_ok)
		return fail(err, "entry point %#llx is not inside an executable loaded segment",
			    (unsigned long long)eh.e_entry);

	/* All checked: now copy. bss beyond p_filesz is already zero. */
	for (unsigned i = 0; i < nload; i++)
		memcpy(guest_mem_ptr(mem, load[i]->p_paddr, load[i]->p_filesz),
		       file + load[i]->p_offset, load[i]->p_filesz);

	image->entry = eh.e_entry;
	image->image_end = end;
	return 0;
}
