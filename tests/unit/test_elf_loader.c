/*
 * Unit tests for the ELF loader (src/elf_loader.c). The image is untrusted
 * input, so besides one good image there is one test per rejection: each
 * mutates a single field of an otherwise valid image and checks that the
 * loader refuses it, says why, and leaves guest RAM untouched.
 *
 * Every image handed to elf_load() is a malloc'd copy of exactly the stated
 * size, so under ASan any read past the end of the file is caught.
 */
#include <elf.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "elf_loader.h"
#include "guest_mem.h"
#include "layout.h"

#define RAM_SIZE (8ull << 20)

/* Where the test image keeps things, in the file and in guest memory. */
#define PHDR_OFF   sizeof(Elf64_Ehdr)
#define TEXT_OFF   0x1000u
#define TEXT_ADDR  0x100000ull
#define TEXT_SIZE  0x40u
#define DATA_OFF   0x2000u
#define DATA_ADDR  0x200000ull
#define DATA_FILESZ 0x20u
#define DATA_MEMSZ 0x1000u
#define ENTRY      (TEXT_ADDR + 0x10)
#define FILE_SIZE  (DATA_OFF + DATA_FILESZ)
#define MAX_SPEC_PHDRS 4

/* A test image before serialization: headers are plain structs that a test
 * edits freely, then spec_bytes() lays them out in a file. */
struct elf_spec {
	Elf64_Ehdr eh;
	Elf64_Phdr ph[MAX_SPEC_PHDRS];
	unsigned nph;   /* program headers written to the file at PHDR_OFF */
	size_t size;    /* file size */
	const void *extra;  /* more bytes (a note) written at extra_off */
	size_t extra_len, extra_off;
};

static uint8_t text_byte(unsigned i) { return (uint8_t)(0xa0 + i); }
static uint8_t data_byte(unsigned i) { return (uint8_t)(0x5a ^ i); }

/* The valid minimal image: text R-X at 1 MiB holding the entry point, data
 * RW at 2 MiB with a bss tail (memsz > filesz). */
static struct elf_spec good_spec(void)
{
	struct elf_spec s;
	memset(&s, 0, sizeof(s));
	memcpy(s.eh.e_ident, ELFMAG, SELFMAG);
	s.eh.e_ident[EI_CLASS] = ELFCLASS64;
	s.eh.e_ident[EI_DATA] = ELFDATA2LSB;
	s.eh.e_ident[EI_VERSION] = EV_CURRENT;
	s.eh.e_ident[EI_OSABI] = ELFOSABI_SYSV;
	s.eh.e_type = ET_EXEC;
	s.eh.e_machine = EM_X86_64;
	s.eh.e_version = EV_CURRENT;
	s.eh.e_entry = ENTRY;
	s.eh.e_phoff = PHDR_OFF;
	s.eh.e_ehsize = sizeof(Elf64_Ehdr);
	s.eh.e_phentsize = sizeof(Elf64_Phdr);
	s.eh.e_phnum = 2;
	s.nph = 2;
	s.ph[0] = (Elf64_Phdr){
		.p_type = PT_LOAD, .p_flags = PF_R | PF_X, .p_offset = TEXT_OFF,
		.p_vaddr = TEXT_ADDR, .p_paddr = TEXT_ADDR,
		.p_filesz = TEXT_SIZE, .p_memsz = TEXT_SIZE, .p_align = 0x1000,
	};
	s.ph[1] = (Elf64_Phdr){
		.p_type = PT_LOAD, .p_flags = PF_R | PF_W, .p_offset = DATA_OFF,
		.p_vaddr = DATA_ADDR, .p_paddr = DATA_ADDR,
		.p_filesz = DATA_FILESZ, .p_memsz = DATA_MEMSZ, .p_align = 0x1000,
	};
	s.size = FILE_SIZE;
	return s;
}

/* Lay the spec out in a malloc'd buffer of exactly s->size bytes. The
 * payload bytes are always at TEXT_OFF and DATA_OFF, whatever the headers
 * say, so mutated headers point at recognizable (or missing) bytes. */
static uint8_t *spec_bytes(const struct elf_spec *s)
{
	size_t full = FILE_SIZE > s->size ? FILE_SIZE : s->size;
	uint8_t *tmp = calloc(1, full);
	assert_non_null(tmp);
	memcpy(tmp, &s->eh, sizeof(s->eh));
	assert_true(PHDR_OFF + s->nph * sizeof(Elf64_Phdr) <= TEXT_OFF);
	memcpy(tmp + PHDR_OFF, s->ph, s->nph * sizeof(Elf64_Phdr));
	for (unsigned i = 0; i < TEXT_SIZE; i++)
		tmp[TEXT_OFF + i] = text_byte(i);
	for (unsigned i = 0; i < DATA_FILESZ; i++)
		tmp[DATA_OFF + i] = data_byte(i);
	if (s->extra) {
		assert_true(s->extra_off + s->extra_len <= full);
		memcpy(tmp + s->extra_off, s->extra, s->extra_len);
	}

	/* Exactly s->size bytes (at least 1 so malloc gives a real pointer;
	 * the loader is told the true size). */
	uint8_t *file = malloc(s->size ? s->size : 1);
	assert_non_null(file);
	memcpy(file, tmp, s->size);
	free(tmp);
	return file;
}

static struct guest_mem *new_ram(void)
{
	struct guest_mem *mem = calloc(1, sizeof(*mem));
	assert_non_null(mem);
	assert_int_equal(guest_mem_init(mem, RAM_SIZE, 0), 0);
	return mem;
}

static int setup_ram(void **state)
{
	*state = new_ram();
	return 0;
}

static int teardown_ram(void **state)
{
	struct guest_mem *mem = *state;
	guest_mem_free(mem);
	free(mem);
	return 0;
}

static bool range_zero(const struct guest_mem *mem, uint64_t from, uint64_t to)
{
	static const uint8_t zero[4096];
	while (from < to) {
		uint64_t n = to - from < sizeof(zero) ? to - from : sizeof(zero);
		if (memcmp(mem->host + from, zero, n) != 0)
			return false;
		from += n;
	}
	return true;
}

static int load_spec(const struct elf_spec *s, struct guest_mem *mem, struct elf_image *img,
		     char err[ELF_ERR_MAX])
{
	uint8_t *file = spec_bytes(s);
	memset(err, 'X', ELF_ERR_MAX);
	int r = elf_load(file, s->size, mem, img, err);
	free(file);
	return r;
}

/* The image must be refused with a message containing `needle`, and guest
 * RAM must still be all zero: validation happens before any copy. */
static void expect_reject(const struct elf_spec *s, struct guest_mem *mem, const char *needle)
{
	struct elf_image img = { 0 };
	char err[ELF_ERR_MAX];

	assert_int_equal(load_spec(s, mem, &img, err), -1);
	assert_non_null(memchr(err, '\0', ELF_ERR_MAX)); /* terminated */
	if (!strstr(err, needle))
		fail_msg("message \"%s\" does not mention \"%s\"", err, needle);
	assert_true(range_zero(mem, 0, mem->size));
}

/* ---- the good image ---------------------------------------------------- */

static void test_valid_image_loads(void **state)
{
	struct guest_mem *mem = *state;
	struct elf_spec s = good_spec();
	struct elf_image img = { 0 };
	char err[ELF_ERR_MAX];

	assert_int_equal(load_spec(&s, mem, &img, err), 0);
	assert_int_equal(img.entry, ENTRY);
	assert_int_equal(img.image_end, DATA_ADDR + DATA_MEMSZ);
}

/* The read-only pages: the text segment's whole page (it ends mid-page),
 * nothing of the data segment. */
static void test_read_only_pages_are_the_text_pages(void **state)
{
	struct guest_mem *mem = *state;
	struct elf_spec s = good_spec();
	struct elf_image img = { 0 };
	char err[ELF_ERR_MAX];

	assert_int_equal(load_spec(&s, mem, &img, err), 0);
	assert_int_equal(img.ro_count, 1);
	assert_int_equal(img.ro[0].start, TEXT_ADDR);
	assert_int_equal(img.ro[0].end, TEXT_ADDR + 0x1000);
}

/* A writable segment sharing a page with a read-only one keeps that page
 * writable: data starting in text's last page, and text starting in
 * data's last page. */
static void test_read_only_pages_leave_shared_pages_writable(void **state)
{
	struct guest_mem *mem = *state;
	struct elf_spec s = good_spec();
	struct elf_image img = { 0 };
	char err[ELF_ERR_MAX];

	/* text: 3 pages and a bit from 1 MiB; data starts right after it,
	 * inside text's fourth page. */
	s.ph[0].p_memsz = 0x3000 + TEXT_SIZE;
	s.ph[1].p_vaddr = s.ph[1].p_paddr = TEXT_ADDR + 0x3000 + TEXT_SIZE;
	assert_int_equal(load_spec(&s, mem, &img, err), 0);
	assert_int_equal(img.ro_count, 1);
	assert_int_equal(img.ro[0].start, TEXT_ADDR);
	assert_int_equal(img.ro[0].end, TEXT_ADDR + 0x3000);

	/* data below text, ending inside text's first page */
	s = good_spec();
	s.ph[1].p_vaddr = s.ph[1].p_paddr = TEXT_ADDR + 0x100;
	s.ph[0].p_vaddr = s.ph[0].p_paddr = TEXT_ADDR + 0x1000 + 0x200;
	s.ph[0].p_memsz = 0x2000;
	s.eh.e_entry = s.ph[0].p_paddr;
	memset(mem->host, 0, mem->size);
	assert_int_equal(load_spec(&s, mem, &img, err), 0);
	assert_int_equal(img.ro_count, 1);
	assert_int_equal(img.ro[0].start, TEXT_ADDR + 0x2000);
	assert_int_equal(img.ro[0].end, TEXT_ADDR + 0x4000);
}

/* Only writable segments: nothing read-only. */
static void test_read_only_pages_none_when_all_writable(void **state)
{
	struct guest_mem *mem = *state;
	struct elf_spec s = good_spec();
	struct elf_image img = { 0 };
	char err[ELF_ERR_MAX];

	s.ph[0].p_flags |= PF_W;
	assert_int_equal(load_spec(&s, mem, &img, err), 0);
	assert_int_equal(img.ro_count, 0);
}

static void test_valid_image_copies_segments_and_leaves_bss_zero(void **state)
{
	struct guest_mem *mem = *state;
	struct elf_spec s = good_spec();
	struct elf_image img;
	char err[ELF_ERR_MAX];

	assert_int_equal(load_spec(&s, mem, &img, err), 0);
	for (unsigned i = 0; i < TEXT_SIZE; i++)
		assert_int_equal(mem->host[TEXT_ADDR + i], text_byte(i));
	for (unsigned i = 0; i < DATA_FILESZ; i++)
		assert_int_equal(mem->host[DATA_ADDR + i], data_byte(i));
	/* bss: the rest of the data segment's memsz */
	assert_true(range_zero(mem, DATA_ADDR + DATA_FILESZ, DATA_ADDR + DATA_MEMSZ));
}

static void test_valid_image_writes_nothing_outside_segments(void **state)
{
	struct guest_mem *mem = *state;
	struct elf_spec s = good_spec();
	struct elf_image img;
	char err[ELF_ERR_MAX];

	assert_int_equal(load_spec(&s, mem, &img, err), 0);
	assert_true(range_zero(mem, 0, PVMM_IMAGE_MIN));        /* monitor's area */
	assert_true(range_zero(mem, TEXT_ADDR + TEXT_SIZE, DATA_ADDR));
	assert_true(range_zero(mem, DATA_ADDR + DATA_FILESZ, mem->size));
}

static void test_image_from_unaligned_buffer_loads(void **state)
{
	/* File buffers need not be aligned: the loader copies headers out. */
	struct guest_mem *mem = *state;
	struct elf_spec s = good_spec();
	uint8_t *file = spec_bytes(&s);
	uint8_t *shifted = malloc(s.size + 1);
	struct elf_image img;
	char err[ELF_ERR_MAX];

	assert_non_null(shifted);
	memcpy(shifted + 1, file, s.size);
	assert_int_equal(elf_load(shifted + 1, s.size, mem, &img, err), 0);
	assert_int_equal(img.entry, ENTRY);
	assert_int_equal(mem->host[TEXT_ADDR], text_byte(0));
	free(shifted);
	free(file);
}

static void test_adjacent_segments_are_accepted(void **state)
{
	/* Touching is not overlapping: data starts right where text ends. */
	struct guest_mem *mem = *state;
	struct elf_spec s = good_spec();
	struct elf_image img;
	char err[ELF_ERR_MAX];

	s.ph[1].p_vaddr = s.ph[1].p_paddr = TEXT_ADDR + TEXT_SIZE;
	assert_int_equal(load_spec(&s, mem, &img, err), 0);
	assert_int_equal(img.image_end, TEXT_ADDR + TEXT_SIZE + DATA_MEMSZ);
	assert_int_equal(mem->host[TEXT_ADDR + TEXT_SIZE], data_byte(0));
}

static void test_segment_ending_at_end_of_ram_is_accepted(void **state)
{
	struct guest_mem *mem = *state;
	struct elf_spec s = good_spec();
	struct elf_image img;
	char err[ELF_ERR_MAX];

	s.ph[1].p_vaddr = s.ph[1].p_paddr = RAM_SIZE - DATA_MEMSZ;
	assert_int_equal(load_spec(&s, mem, &img, err), 0);
	assert_int_equal(img.image_end, RAM_SIZE);
}

static void test_entry_at_last_byte_of_text_is_accepted(void **state)
{
	struct guest_mem *mem = *state;
	struct elf_spec s = good_spec();
	struct elf_image img;
	char err[ELF_ERR_MAX];

	s.eh.e_entry = TEXT_ADDR + TEXT_SIZE - 1;
	assert_int_equal(load_spec(&s, mem, &img, err), 0);
}

static void test_empty_load_segments_are_ignored(void **state)
{
	/* A PT_LOAD with memsz 0 occupies nothing, even at a silly address. */
	struct guest_mem *mem = *state;
	struct elf_spec s = good_spec();
	struct elf_image img;
	char err[ELF_ERR_MAX];

	s.ph[2] = (Elf64_Phdr){ .p_type = PT_LOAD, .p_flags = PF_R, .p_vaddr = 0, .p_paddr = 0 };
	s.nph = s.eh.e_phnum = 3;
	assert_int_equal(load_spec(&s, mem, &img, err), 0);
	assert_int_equal(img.image_end, DATA_ADDR + DATA_MEMSZ);
}

/* ---- the ELF header ---------------------------------------------------- */

static void test_reject_bad_magic(void **state)
{
	struct elf_spec s = good_spec();
	s.eh.e_ident[EI_MAG1] = 'X';
	expect_reject(&s, *state, "bad magic");
}

static void test_reject_truncated_header(void **state)
{
	/* Too short to hold the ident: not recognizably ELF at all. */
	static const size_t tiny[] = { 0, 3 };
	/* Ident present, but the rest of the 64-byte header missing. */
	static const size_t short_hdr[] = { 20, 63 };

	for (size_t i = 0; i < sizeof(tiny) / sizeof(tiny[0]); i++) {
		struct elf_spec s = good_spec();
		s.size = tiny[i];
		expect_reject(&s, *state, "not an ELF file");
	}
	for (size_t i = 0; i < sizeof(short_hdr) / sizeof(short_hdr[0]); i++) {
		struct elf_spec s = good_spec();
		s.size = short_hdr[i];
		expect_reject(&s, *state, "truncated ELF header");
	}
}

static void test_reject_32bit_class(void **state)
{
	struct elf_spec s = good_spec();
	s.eh.e_ident[EI_CLASS] = ELFCLASS32;
	expect_reject(&s, *state, "not a 64-bit ELF");
}

static void test_reject_big_endian(void **state)
{
	struct elf_spec s = good_spec();
	s.eh.e_ident[EI_DATA] = ELFDATA2MSB;
	expect_reject(&s, *state, "little-endian");
}

static void test_reject_unknown_version(void **state)
{
	struct elf_spec s = good_spec();
	s.eh.e_version = 2;
	expect_reject(&s, *state, "version");
}

static void test_reject_wrong_machine(void **state)
{
	struct elf_spec s = good_spec();
	s.eh.e_machine = EM_AARCH64;
	expect_reject(&s, *state, "not x86-64");
}

static void test_reject_pie_mentions_no_pie(void **state)
{
	struct elf_spec s = good_spec();
	s.eh.e_type = ET_DYN;
	expect_reject(&s, *state, "-no-pie");
}

static void test_reject_relocatable_object(void **state)
{
	struct elf_spec s = good_spec();
	s.eh.e_type = ET_REL;
	expect_reject(&s, *state, "not an executable");
}

static void test_reject_zero_phnum(void **state)
{
	struct elf_spec s = good_spec();
	s.eh.e_phnum = 0;
	expect_reject(&s, *state, "no program headers");
}

static void test_reject_too_many_phdrs(void **state)
{
	struct elf_spec s = good_spec();
	s.eh.e_phnum = ELF_MAX_PHDRS + 1;
	expect_reject(&s, *state, "at most 64");
}

static void test_reject_wrong_phentsize(void **state)
{
	struct elf_spec s = good_spec();
	s.eh.e_phentsize = sizeof(Elf64_Phdr) - 1;
	expect_reject(&s, *state, "program header size");
}

static void test_reject_phoff_past_end(void **state)
{
	struct elf_spec s = good_spec();
	s.eh.e_phoff = FILE_SIZE - sizeof(Elf64_Phdr); /* second header would run off */
	expect_reject(&s, *state, "program headers run past the end");

	s = good_spec();
	s.eh.e_phoff = FILE_SIZE + 1;
	expect_reject(&s, *state, "program headers run past the end");
}

static void test_reject_phoff_overflow(void **state)
{
	/* phoff + phnum * 56 wraps around 2^64 to a small number. */
	struct elf_spec s = good_spec();
	s.eh.e_phoff = UINT64_MAX - 10;
	expect_reject(&s, *state, "program headers run past the end");
}

/* ---- program headers --------------------------------------------------- */

static void test_reject_filesz_above_memsz(void **state)
{
	struct elf_spec s = good_spec();
	s.ph[1].p_filesz = DATA_MEMSZ + 1;
	expect_reject(&s, *state, "exceeds memory size");
}

static void test_reject_segment_past_end_of_file(void **state)
{
	struct elf_spec s = good_spec();
	s.ph[1].p_filesz = DATA_FILESZ + 1; /* one byte beyond the file */
	expect_reject(&s, *state, "runs past the end of the file");
}

static void test_reject_segment_offset_overflow(void **state)
{
	/* offset + filesz wraps around to a small number. */
	struct elf_spec s = good_spec();
	s.ph[0].p_offset = UINT64_MAX - 8;
	expect_reject(&s, *state, "runs past the end of the file");
}

static void test_reject_vaddr_not_paddr(void **state)
{
	struct elf_spec s = good_spec();
	s.ph[1].p_vaddr = 0xffffffff80200000ull;
	expect_reject(&s, *state, "differs from physical");
}

static void test_reject_segment_below_1mib(void **state)
{
	struct elf_spec s = good_spec();
	s.ph[1].p_vaddr = s.ph[1].p_paddr = 0xff000;
	s.ph[1].p_memsz = s.ph[1].p_filesz; /* wholly below 1 MiB */
	expect_reject(&s, *state, "monitor's area");
}

static void test_reject_segment_straddling_1mib(void **state)
{
	/* Starts one page below 1 MiB and reaches well above it. */
	struct elf_spec s = good_spec();
	s.ph[1].p_vaddr = s.ph[1].p_paddr = PVMM_IMAGE_MIN - 0x1000;
	s.ph[1].p_memsz = 0x3000;
	s.ph[0].p_vaddr = s.ph[0].p_paddr = 0x300000;
	s.eh.e_entry = 0x300000;
	expect_reject(&s, *state, "monitor's area");
}

static void test_reject_segment_past_end_of_ram(void **state)
{
	struct elf_spec s = good_spec();
	s.ph[1].p_vaddr = s.ph[1].p_paddr = RAM_SIZE - DATA_MEMSZ + 1;
	expect_reject(&s, *state, "outside guest RAM");

	s = good_spec();
	s.ph[1].p_vaddr = s.ph[1].p_paddr = 0x40000000; /* 1 GiB, far beyond 8 MiB */
	expect_reject(&s, *state, "raise --mem");
}

static void test_reject_segment_wrapping_address_space(void **state)
{
	/* paddr + memsz wraps past 2^64 to a small, in-RAM-looking end. */
	struct elf_spec s = good_spec();
	s.ph[1].p_vaddr = s.ph[1].p_paddr = UINT64_MAX - 0xfff;
	s.ph[1].p_memsz = 0x2000;
	expect_reject(&s, *state, "outside guest RAM");
}

static void test_reject_absurd_memsz(void **state)
{
	struct elf_spec s = good_spec();
	s.ph[1].p_memsz = 1ull << 40;
	expect_reject(&s, *state, "absurd size");

	s = good_spec();
	s.ph[1].p_memsz = UINT64_MAX;
	expect_reject(&s, *state, "absurd size");
}

static void test_reject_overlapping_segments(void **state)
{
	/* Data starts inside text. */
	struct elf_spec s = good_spec();
	s.ph[1].p_vaddr = s.ph[1].p_paddr = TEXT_ADDR + TEXT_SIZE - 1;
	expect_reject(&s, *state, "overlap");

	/* Same start. */
	s = good_spec();
	s.ph[1].p_vaddr = s.ph[1].p_paddr = TEXT_ADDR;
	expect_reject(&s, *state, "overlap");

	/* Data wholly contains text (checked in the other order too). */
	s = good_spec();
	s.ph[0].p_vaddr = s.ph[0].p_paddr = TEXT_ADDR + 0x1000;
	s.eh.e_entry = TEXT_ADDR + 0x1000;
	s.ph[1].p_vaddr = s.ph[1].p_paddr = TEXT_ADDR;
	s.ph[1].p_memsz = 0x3000;
	expect_reject(&s, *state, "overlap");
}

static void test_reject_entry_outside_segments(void **state)
{
	struct elf_spec s = good_spec();
	s.eh.e_entry = 0x300000;
	expect_reject(&s, *state, "entry point");

	s = good_spec();
	s.eh.e_entry = TEXT_ADDR + TEXT_SIZE; /* one past the end of text */
	expect_reject(&s, *state, "entry point");

	s = good_spec();
	s.eh.e_entry = 0;
	expect_reject(&s, *state, "entry point");
}

static void test_reject_entry_in_non_executable_segment(void **state)
{
	struct elf_spec s = good_spec();
	s.eh.e_entry = DATA_ADDR + 4;
	expect_reject(&s, *state, "not inside an executable");
}

static void test_reject_interp(void **state)
{
	struct elf_spec s = good_spec();
	s.ph[2] = (Elf64_Phdr){ .p_type = PT_INTERP, .p_flags = PF_R, .p_offset = TEXT_OFF,
				.p_filesz = 8, .p_memsz = 8 };
	s.nph = s.eh.e_phnum = 3;
	expect_reject(&s, *state, "built for Linux, not a pvmm guest: build it with pvmm-cc");
}

#define NOTE_OFF 0x800u

/* Notes as the GNU toolchain writes them (4-byte aligned). */
static const uint8_t gnu_property_note[] = { /* NT_GNU_PROPERTY_TYPE_0, "GNU" */
	4, 0, 0, 0, 16, 0, 0, 0, 5, 0, 0, 0, 'G', 'N', 'U', 0,
	2, 0, 0, 0xc0, 4, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0,
};
static const uint8_t abi_tag_after_other_note[] = {
	/* an unrelated note first: name "pvmm" (5 bytes, padded to 8), no desc */
	5, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 'p', 'v', 'm', 'm', 0, 0, 0, 0,
	/* NT_GNU_ABI_TAG: "GNU", OS 0 (Linux), ABI 3.2.0 */
	4, 0, 0, 0, 16, 0, 0, 0, 1, 0, 0, 0, 'G', 'N', 'U', 0,
	0, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0,
};

static struct elf_spec spec_with_note(const void *note, size_t len)
{
	struct elf_spec s = good_spec();
	s.extra = note;
	s.extra_len = len;
	s.extra_off = NOTE_OFF;
	s.ph[2] = (Elf64_Phdr){ .p_type = PT_NOTE, .p_flags = PF_R, .p_offset = NOTE_OFF,
				.p_filesz = len, .p_memsz = len, .p_align = 4 };
	s.nph = s.eh.e_phnum = 3;
	return s;
}

/* gcc -static hello.c: ET_EXEC, no interpreter, glibc's ABI tag note. */
static void test_reject_linux_static(void **state)
{
	struct elf_spec s = spec_with_note(abi_tag_after_other_note, sizeof(abi_tag_after_other_note));
	expect_reject(&s, *state, "built for Linux, not a pvmm guest: build it with pvmm-cc");
}

/* gcc -static-pie: ET_DYN with the note: the Linux message, not -no-pie. */
static void test_reject_linux_static_pie(void **state)
{
	struct elf_spec s = spec_with_note(abi_tag_after_other_note, sizeof(abi_tag_after_other_note));
	s.eh.e_type = ET_DYN;
	expect_reject(&s, *state, "built for Linux");
}

/* In an 8-aligned note segment (where ld puts .note.gnu.property) the
 * name still starts right after the 12-byte header; only the descriptor
 * and the next note are aligned to 8. */
static void test_reject_linux_abi_tag_in_8_aligned_notes(void **state)
{
	uint8_t notes[sizeof(gnu_property_note) + 32];
	memcpy(notes, gnu_property_note, sizeof(gnu_property_note));
	memcpy(notes + sizeof(gnu_property_note), abi_tag_after_other_note + 20, 32);
	struct elf_spec s = spec_with_note(notes, sizeof(notes));
	s.ph[2].p_align = 8;
	expect_reject(&s, *state, "built for Linux");
}

/* Other notes are no evidence: the image loads. */
static void test_other_notes_are_accepted(void **state)
{
	struct guest_mem *mem = *state;
	struct elf_spec s = spec_with_note(gnu_property_note, sizeof(gnu_property_note));
	struct elf_image img;
	char err[ELF_ERR_MAX];
	assert_int_equal(load_spec(&s, mem, &img, err), 0);
}

/* Note sizes that run past the segment (or wrap) are not followed. */
static void test_malformed_notes_are_not_followed(void **state)
{
	struct guest_mem *mem = *state;
	struct elf_image img;
	char err[ELF_ERR_MAX];
	uint8_t note[sizeof(abi_tag_after_other_note)];
	static const uint32_t bad_sizes[] = { 0xffffffffu, 0xfffffffdu, 0x80000000u, 64 };

	for (size_t i = 0; i < sizeof(bad_sizes) / sizeof(bad_sizes[0]); i++) {
		memcpy(note, abi_tag_after_other_note, sizeof(note));
		memcpy(note, &bad_sizes[i], 4); /* the first note's namesz */
		struct elf_spec s = spec_with_note(note, sizeof(note));
		assert_int_equal(load_spec(&s, mem, &img, err), 0);
		memcpy(note, abi_tag_after_other_note, sizeof(note));
		memcpy(note + 4, &bad_sizes[i], 4); /* its descsz */
		s = spec_with_note(note, sizeof(note));
		assert_int_equal(load_spec(&s, mem, &img, err), 0);
	}
	/* The segment itself past the end of the file: no note read. */
	struct elf_spec s = spec_with_note(abi_tag_after_other_note, sizeof(abi_tag_after_other_note));
	s.ph[2].p_filesz = 1ull << 40;
	assert_int_equal(load_spec(&s, mem, &img, err), 0);
}

static void test_reject_dynamic(void **state)
{
	struct elf_spec s = good_spec();
	s.ph[2] = (Elf64_Phdr){ .p_type = PT_DYNAMIC, .p_flags = PF_R };
	s.nph = s.eh.e_phnum = 3;
	expect_reject(&s, *state, "dynamically linked");
}

static void test_reject_no_load_segment(void **state)
{
	struct elf_spec s = good_spec();
	s.ph[0].p_type = PT_NOTE;
	s.ph[1].p_type = PT_GNU_STACK;
	expect_reject(&s, *state, "no loadable segments");

	/* PT_LOADs that occupy nothing count as none. */
	s = good_spec();
	s.ph[0].p_memsz = s.ph[0].p_filesz = 0;
	s.ph[1].p_memsz = s.ph[1].p_filesz = 0;
	expect_reject(&s, *state, "no loadable segments");
}

static void test_rejected_late_writes_nothing(void **state)
{
	/* Both segments pass their own checks; the image fails only on the
	 * entry point, after all headers were read. Still no byte copied. */
	struct elf_spec s = good_spec();
	s.eh.e_entry = DATA_ADDR;
	expect_reject(&s, *state, "entry point");
	/* The second segment is the bad one: the first was already accepted. */
	s = good_spec();
	s.ph[1].p_vaddr = s.ph[1].p_paddr = RAM_SIZE;
	expect_reject(&s, *state, "outside guest RAM");
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup_ram, teardown_ram)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_valid_image_loads),
		T(test_read_only_pages_are_the_text_pages),
		T(test_read_only_pages_leave_shared_pages_writable),
		T(test_read_only_pages_none_when_all_writable),
		T(test_valid_image_copies_segments_and_leaves_bss_zero),
		T(test_valid_image_writes_nothing_outside_segments),
		T(test_image_from_unaligned_buffer_loads),
		T(test_adjacent_segments_are_accepted),
		T(test_segment_ending_at_end_of_ram_is_accepted),
		T(test_entry_at_last_byte_of_text_is_accepted),
		T(test_empty_load_segments_are_ignored),
		T(test_reject_bad_magic),
		T(test_reject_truncated_header),
		T(test_reject_32bit_class),
		T(test_reject_big_endian),
		T(test_reject_unknown_version),
		T(test_reject_wrong_machine),
		T(test_reject_pie_mentions_no_pie),
		T(test_reject_relocatable_object),
		T(test_reject_zero_phnum),
		T(test_reject_too_many_phdrs),
		T(test_reject_wrong_phentsize),
		T(test_reject_phoff_past_end),
		T(test_reject_phoff_overflow),
		T(test_reject_filesz_above_memsz),
		T(test_reject_segment_past_end_of_file),
		T(test_reject_segment_offset_overflow),
		T(test_reject_vaddr_not_paddr),
		T(test_reject_segment_below_1mib),
		T(test_reject_segment_straddling_1mib),
		T(test_reject_segment_past_end_of_ram),
		T(test_reject_segment_wrapping_address_space),
		T(test_reject_absurd_memsz),
		T(test_reject_overlapping_segments),
		T(test_reject_entry_outside_segments),
		T(test_reject_entry_in_non_executable_segment),
		T(test_reject_interp),
		T(test_reject_linux_static),
		T(test_reject_linux_static_pie),
		T(test_reject_linux_abi_tag_in_8_aligned_notes),
		T(test_other_notes_are_accepted),
		T(test_malformed_notes_are_not_followed),
		T(test_reject_dynamic),
		T(test_reject_no_load_segment),
		T(test_rejected_late_writes_nothing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
