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

/* The descriptor of the note (`name`, `type`) in the PT_NOTE segment *ph,
 * or NULL; its length in *desc_len. The notes are untrusted: every size is
 * checked against the segment, and the segment against the file. */
static const uint8_t *find_note(const uint8_t *file, size_t size, const Elf64_Phdr *ph, const char *name,
				uint32_t type, uint32_t *desc_len)
{
	if (!in_file(ph->p_offset, ph->p_filesz, size))
		return NULL;
	uint64_t align = ph->p_align == 8 ? 8 : 4;
	uint32_t name_len = (uint32_t)strlen(name) + 1;
	const uint8_t *p = file + ph->p_offset;
	uint64_t left = ph->p_filesz;
	while (left >= 12) {
		uint32_t hdr[3]; /* namesz, descsz, type; the name follows at 12 */
		memcpy(hdr, p, sizeof(hdr));
		uint64_t desc = (12 + (uint64_t)hdr[0] + align - 1) & ~(align - 1);
		uint64_t end = (desc + (uint64_t)hdr[1] + align - 1) & ~(align - 1);
		if (end > left)
			return NULL;
		if (hdr[2] == type && hdr[0] == name_len && memcmp(p + 12, name, name_len) == 0) {
			*desc_len = hdr[1];
			return p + desc;
		}
		p += end;
		left -= end;
	}
	return NULL;
}

/* glibc's start files (crt1.o, Scrt1.o, rcrt1.o) put an NT_GNU_ABI_TAG
 * note ("GNU", type 1) in every program linked for Linux, static or
 * dynamic; pvmm guests never have it. */
static bool has_gnu_abi_tag(const uint8_t *file, size_t size, const Elf64_Phdr *ph)
{
	uint32_t len;
	return find_note(file, size, ph, "GNU", NT_GNU_ABI_TAG, &len) != NULL;
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

/* physical: load at p_paddr whatever p_vaddr says (a Linux vmlinux
 * links its virtual addresses high); else the two must be equal. */
static int check_segment(const Elf64_Phdr *ph, unsigned index, size_t size, const struct guest_mem *mem,
			 bool physical, char err[ELF_ERR_MAX])
{
	if (ph->p_filesz > ph->p_memsz)
		return fail(err, "segment %u: file size %#llx exceeds memory size %#llx", index,
			    (unsigned long long)ph->p_filesz, (unsigned long long)ph->p_memsz);
	if (ph->p_memsz > MEM_MAX)
		return fail(err, "segment %u: absurd size %#llx", index, (unsigned long long)ph->p_memsz);
	if (!in_file(ph->p_offset, ph->p_filesz, size))
		return fail(err, "truncated ELF: segment %u runs past the end of the file", index);
	if (!physical && ph->p_vaddr != ph->p_paddr)
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

static int load_segments(const uint8_t *file, size_t size, const Elf64_Ehdr *ehp, const Elf64_Phdr *ph,
			 struct guest_mem *mem, bool physical, uint64_t entry, struct elf_image *image,
			 char err[ELF_ERR_MAX]);

int elf_load(const uint8_t *file, size_t size, struct guest_mem *mem,
	     struct elf_image *image, char err[ELF_ERR_MAX])
{
	Elf64_Ehdr eh = {0};
	Elf64_Phdr ph[ELF_MAX_PHDRS];

	/* Copy headers out: the file buffer need not be aligned. */
	memcpy(&eh, file, size < sizeof(eh) ? size : sizeof(eh));
	if (check_header(&eh, size, err))
		return -1;
	memcpy(ph, file + eh.e_phoff, eh.e_phnum * sizeof(Elf64_Phdr));
	if (linux_program(file, size, ph, eh.e_phnum))
		return fail(err, "built for Linux, not a pvmm guest: build it with pvmm-cc");
	if (eh.e_type == ET_DYN)
		return fail(err, "position-independent ELF (ET_DYN); link with -no-pie (guest/pvmm-cc does)");

	for (unsigned i = 0; i < eh.e_phnum; i++)
		if (ph[i].p_type == PT_INTERP || ph[i].p_type == PT_DYNAMIC)
			return fail(err, "dynamically linked ELF; guests must be static (build with guest/pvmm-cc)");
	return load_segments(file, size, &eh, ph, mem, false, eh.e_entry, image, err);
}

/* The pages of each segment without PF_W that no writable segment
 * shares (segments never overlap, so only a boundary page can be
 * shared), at most ELF_RO_MAX ranges; a segment past them stays
 * writable, which is only less protection. */
static void read_only_pages(const Elf64_Phdr *const *load, unsigned nload, struct elf_image *image)
{
	image->ro_count = 0;
	for (unsigned i = 0; i < nload && image->ro_count < ELF_RO_MAX; i++) {
		if (load[i]->p_flags & PF_W)
			continue;
		uint64_t start = load[i]->p_paddr & ~(uint64_t)(PAGE_SIZE - 1);
		uint64_t end = (load[i]->p_paddr + load[i]->p_memsz + PAGE_SIZE - 1) & ~(uint64_t)(PAGE_SIZE - 1);
		for (unsigned j = 0; j < nload; j++) {
			if (!(load[j]->p_flags & PF_W))
				continue;
			uint64_t w_start = load[j]->p_paddr & ~(uint64_t)(PAGE_SIZE - 1);
			uint64_t w_end = (load[j]->p_paddr + load[j]->p_memsz + PAGE_SIZE - 1) & ~(uint64_t)(PAGE_SIZE - 1);
			if (w_end > start && w_start < end) {
				if (w_start <= start)
					start = w_end;
				else
					end = w_start;
			}
		}
		if (end > start) {
			image->ro[image->ro_count].start = start;
			image->ro[image->ro_count].end = end;
			image->ro_count++;
		}
	}
}

/* Check every PT_LOAD segment of the checked headers, then copy them
 * (at p_paddr). `entry` must lie in an executable one. */
static int load_segments(const uint8_t *file, size_t size, const Elf64_Ehdr *ehp, const Elf64_Phdr *ph,
			 struct guest_mem *mem, bool physical, uint64_t entry, struct elf_image *image,
			 char err[ELF_ERR_MAX])
{
	const Elf64_Ehdr eh = *ehp;
	const Elf64_Phdr *load[ELF_MAX_PHDRS];
	unsigned nload = 0;
	bool entry_ok = false;
	uint64_t end = 0;

	for (unsigned i = 0; i < eh.e_phnum; i++) {
		if (ph[i].p_type != PT_LOAD)
			continue;
		/* An empty segment occupies nothing, wherever it claims to be. */
		if (ph[i].p_memsz == 0 && ph[i].p_filesz == 0)
			continue;
		if (check_segment(&ph[i], i, size, mem, physical, err))
			return -1;
		for (unsigned j = 0; j < nload; j++)
			if (overlaps(&ph[i], load[j]))
				return fail(err, "segments %u and %u overlap at %#llx", (unsigned)(load[j] - ph), i,
					    (unsigned long long)ph[i].p_paddr);
		load[nload++] = &ph[i];
		if ((ph[i].p_flags & PF_X) && entry >= ph[i].p_paddr && entry - ph[i].p_paddr < ph[i].p_memsz)
			entry_ok = true;
		if (ph[i].p_paddr + ph[i].p_memsz > end)
			end = ph[i].p_paddr + ph[i].p_memsz;
	}
	if (nload == 0)
		return fail(err, "ELF has no loadable segments");
	if (!entry_ok)
		return fail(err, "entry point %#llx is not inside an executable loaded segment",
			    (unsigned long long)entry);

	/* All checked: now copy. bss beyond p_filesz is already zero. */
	for (unsigned i = 0; i < nload; i++)
		memcpy(guest_mem_ptr(mem, load[i]->p_paddr, load[i]->p_filesz),
		       file + load[i]->p_offset, load[i]->p_filesz);

	image->entry = entry;
	image->image_end = end;
	read_only_pages(load, nload, image);
	return 0;
}

/* Xen's ELF note type for the 32-bit PVH entry point (Xen's public
 * elfnote.h; Linux's vmlinux carries it with CONFIG_PVH). */
#define XEN_ELFNOTE_PHYS32_ENTRY 18

int elf_load_pvh(const uint8_t *file, size_t size, struct guest_mem *mem, struct elf_image *image,
		 char err[ELF_ERR_MAX])
{
	Elf64_Ehdr eh = {0};
	Elf64_Phdr ph[ELF_MAX_PHDRS];
	const uint8_t *desc = NULL;
	uint32_t desc_len = 0;

	memcpy(&eh, file, size < sizeof(eh) ? size : sizeof(eh));
	if (check_header(&eh, size, err))
		return -1;
	memcpy(ph, file + eh.e_phoff, eh.e_phnum * sizeof(Elf64_Phdr));
	if (eh.e_type != ET_EXEC)
		return fail(err, "kernel ELF type %u is not an executable vmlinux", eh.e_type);
	for (unsigned i = 0; i < eh.e_phnum && !desc; i++)
		if (ph[i].p_type == PT_NOTE)
			desc = find_note(file, size, &ph[i], "Xen", XEN_ELFNOTE_PHYS32_ENTRY, &desc_len);
	if (!desc)
		return fail(err, "the kernel ELF has no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY): build it with "
				 "CONFIG_PVH=y, or boot its bzImage");
	if (desc_len != 4 && desc_len != 8)
		return fail(err, "the PVH entry note has %u bytes, expected 4 or 8", desc_len);
	uint64_t entry = 0;
	memcpy(&entry, desc, desc_len);
	if (entry >> 32)
		return fail(err, "the PVH entry %#llx is above 4 GiB; it must be a 32-bit physical address",
			    (unsigned long long)entry);
	return load_segments(file, size, &eh, ph, mem, true, entry, image, err);
}
