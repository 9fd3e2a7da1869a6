/*
 * Unit tests for the Linux kernel loaders (src/linux_boot.c): a synthetic
 * bzImage and a synthetic PVH vmlinux, each accepted with every boot
 * parameter checked, then one test per refusal, each changing one field
 * of the good image and checking the message names the problem.
 *
 * Every image is a malloc'd buffer of exactly its size, so under ASan a
 * read past the end of the file is caught.
 */
#include <asm/bootparam.h>
#include <elf.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "guest_mem.h"
#include "linux_boot.h"

#define RAM_SIZE (64ull << 20)
#define SETUP_SECTS 2
#define SETUP_SIZE ((SETUP_SECTS + 1) * 512)
#define PAYLOAD 0x3000u
#define BZ_SIZE (SETUP_SIZE + PAYLOAD)
#define INIT_SIZE (8u << 20)
#define PREF_ADDR 0x1000000ull

static void put16(uint8_t *b, size_t off, uint16_t v) { memcpy(b + off, &v, 2); }
static void put32(uint8_t *b, size_t off, uint32_t v) { memcpy(b + off, &v, 4); }
static void put64(uint8_t *b, size_t off, uint64_t v) { memcpy(b + off, &v, 8); }

/* A bzImage of protocol 2.15: 2 setup sectors, a 12 KiB payload whose
 * bytes are recognizable, 64-bit, relocatable, preferring 16 MiB. */
static uint8_t *good_bzimage(void)
{
	uint8_t *b = calloc(1, BZ_SIZE);
	assert_non_null(b);
	b[0x1f1] = SETUP_SECTS;
	put16(b, 0x1fe, 0xaa55);
	b[0x200] = 0xeb;
	b[0x201] = 0x6a; /* the header runs to 0x26c */
	put32(b, 0x202, 0x53726448);
	put16(b, 0x206, 0x020f);
	b[0x211] = LOADED_HIGH;
	put32(b, 0x214, 0x100000);
	put32(b, 0x22c, 0x7fffffff);   /* initrd_addr_max */
	put32(b, 0x230, 0x200000);     /* kernel_alignment */
	b[0x234] = 1;                  /* relocatable */
	put16(b, 0x236, XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G);
	put32(b, 0x238, 2047);         /* cmdline_size */
	put64(b, 0x258, PREF_ADDR);    /* pref_address */
	put32(b, 0x260, INIT_SIZE);
	for (unsigned i = 0; i < PAYLOAD; i++)
		b[SETUP_SIZE + i] = (uint8_t)(i * 7 + 1);
	return b;
}

static struct guest_mem *new_ram(uint64_t size)
{
	struct guest_mem *mem = calloc(1, sizeof(*mem));
	assert_non_null(mem);
	assert_int_equal(guest_mem_init(mem, size, 0), 0);
	return mem;
}

static void free_ram(struct guest_mem *mem)
{
	guest_mem_free(mem);
	free(mem);
}

static int setup_ram(void **state)
{
	*state = new_ram(RAM_SIZE);
	return 0;
}

static int teardown_ram(void **state)
{
	free_ram(*state);
	return 0;
}

static const uint8_t initrd[5000] = { 1, 2, 3, [4999] = 9 };

static void expect_refusal(struct guest_mem *mem, const uint8_t *file, size_t size, const uint8_t *rd,
			   size_t rd_size, const char *cmdline, const char *needle)
{
	struct linux_boot boot;
	char err[LINUX_ERR_MAX] = "";
	uint8_t *copy = malloc(size ? size : 1);
	assert_non_null(copy);
	memcpy(copy, file, size);
	assert_int_equal(linux_load(copy, size, rd, rd_size, cmdline, mem, &boot, err), -1);
	free(copy);
	if (!strstr(err, needle))
		fail_msg("message \"%s\" does not mention \"%s\"", err, needle);
}

/* ---- bzImage ------------------------------------------------------------ */

static void test_bzimage_loads(void **state)
{
	struct guest_mem *mem = *state;
	uint8_t *b = good_bzimage();
	struct linux_boot boot;
	char err[LINUX_ERR_MAX];

	assert_true(linux_is_bzimage(b, BZ_SIZE));
	assert_int_equal(linux_load(b, BZ_SIZE, initrd, sizeof(initrd), "console=ttyS0 quiet", mem, &boot, err), 0);
	assert_int_equal(boot.kind, LINUX_ENTRY_64);
	assert_int_equal(boot.entry, LINUX_KERNEL + 0x200);
	assert_int_equal(boot.params, LINUX_ZERO_PAGE);
	assert_int_equal(boot.protocol, 0x020f);
	/* It decompresses at its preferred 16 MiB and needs init_size there. */
	assert_int_equal(boot.kernel_end, PREF_ADDR + INIT_SIZE);
	assert_true(boot.initrd >= boot.kernel_end);
	assert_int_equal(boot.initrd % 4096, 0);
	assert_true(boot.initrd + sizeof(initrd) <= RAM_SIZE);
	assert_true(RAM_SIZE - (boot.initrd + sizeof(initrd)) < 4096); /* as high as it goes */
	assert_memory_equal(mem->host + boot.initrd, initrd, sizeof(initrd));
	assert_memory_equal(mem->host + LINUX_KERNEL, b + SETUP_SIZE, PAYLOAD);
	assert_string_equal((char *)mem->host + LINUX_CMDLINE, "console=ttyS0 quiet");

	const struct boot_params *bp = (const void *)(mem->host + LINUX_ZERO_PAGE);
	assert_int_equal(bp->hdr.boot_flag, 0xaa55);
	assert_int_equal(bp->hdr.header, 0x53726448);
	assert_int_equal(bp->hdr.type_of_loader, 0xff);
	assert_int_equal(bp->hdr.cmd_line_ptr, LINUX_CMDLINE);
	assert_int_equal(bp->hdr.ramdisk_image, boot.initrd);
	assert_int_equal(bp->hdr.ramdisk_size, sizeof(initrd));
	assert_int_equal(bp->hdr.init_size, INIT_SIZE); /* the kernel's own header, copied */
	assert_int_equal(bp->e820_entries, 3);
	assert_int_equal(bp->e820_table[0].addr, 0);
	assert_int_equal(bp->e820_table[0].type, 1);
	assert_int_equal(bp->e820_table[1].type, 2);
	assert_int_equal(bp->e820_table[1].addr, LINUX_ACPI); /* the ACPI tables' area, reserved */
	assert_int_equal(bp->e820_table[1].addr + bp->e820_table[1].size, 0x100000);
	assert_int_equal(bp->e820_table[2].addr, LINUX_KERNEL);
	assert_int_equal(bp->e820_table[2].addr + bp->e820_table[2].size, RAM_SIZE);
	/* Past the header the kernel declared (0x26c), the zero page is zero. */
	assert_int_equal(((const uint8_t *)bp)[0x26c], 0);
	/* The ACPI tables: the RSDP at LINUX_ACPI, named in the zero page (2.14+). */
	assert_int_equal(bp->acpi_rsdp_addr, 0);
	assert_int_equal(linux_load_acpi(mem, &boot, 2, err), 0);
	assert_int_equal(bp->acpi_rsdp_addr, LINUX_ACPI);
	assert_memory_equal(mem->host + LINUX_ACPI, "RSD PTR ", 8);
	assert_int_equal(linux_load_acpi(mem, &boot, 0, err), -1);
	assert_non_null(strstr(err, "ACPI tables for 0 CPUs"));
	free(b);
}

static void test_bzimage_without_initrd(void **state)
{
	struct guest_mem *mem = *state;
	uint8_t *b = good_bzimage();
	struct linux_boot boot;
	char err[LINUX_ERR_MAX];

	assert_int_equal(linux_load(b, BZ_SIZE, NULL, 0, NULL, mem, &boot, err), 0);
	assert_int_equal(boot.initrd, 0);
	const struct boot_params *bp = (const void *)(mem->host + LINUX_ZERO_PAGE);
	assert_int_equal(bp->hdr.ramdisk_image, 0);
	assert_int_equal(bp->hdr.ramdisk_size, 0);
	assert_string_equal((char *)mem->host + LINUX_CMDLINE, "");
	free(b);
}

static void test_bzimage_refusals(void **state)
{
	struct guest_mem *mem = *state;
	uint8_t *b = good_bzimage();

	expect_refusal(mem, b, 0x200, NULL, 0, "", "not a Linux kernel");
	expect_refusal(mem, b, 0x250, NULL, 0, "", "truncated");
	expect_refusal(mem, b, SETUP_SIZE, NULL, 0, "", "truncated: its setup code");

	put16(b, 0x1fe, 0x1234);
	expect_refusal(mem, b, BZ_SIZE, NULL, 0, "", "0xAA55");
	put16(b, 0x1fe, 0xaa55);

	put32(b, 0x202, 0x12345678);
	expect_refusal(mem, b, BZ_SIZE, NULL, 0, "", "neither a bzImage");
	put32(b, 0x202, 0x53726448);

	put16(b, 0x206, 0x0205);
	expect_refusal(mem, b, BZ_SIZE, NULL, 0, "", "boot protocol 2.05; pvmm needs 2.06");
	put16(b, 0x206, 0x020f);

	b[0x211] = 0;
	expect_refusal(mem, b, BZ_SIZE, NULL, 0, "", "a zImage");
	b[0x211] = LOADED_HIGH;

	put16(b, 0x236, 0);
	expect_refusal(mem, b, BZ_SIZE, NULL, 0, "", "no 64-bit entry point");
	put16(b, 0x236, XLF_KERNEL_64);

	char long_cmdline[3000];
	memset(long_cmdline, 'a', sizeof(long_cmdline) - 1);
	long_cmdline[sizeof(long_cmdline) - 1] = 0;
	expect_refusal(mem, b, BZ_SIZE, NULL, 0, long_cmdline, "command line is 2999 bytes; this kernel takes at most 2047");

	put32(b, 0x260, 0xf0000000u); /* init_size: more than the VM has */
	expect_refusal(mem, b, BZ_SIZE, NULL, 0, "", "needs 3856 MiB of RAM");
	put32(b, 0x260, INIT_SIZE);

	put64(b, 0x258, 0xfffffffffffff000ull); /* would overflow base + init_size */
	expect_refusal(mem, b, BZ_SIZE, NULL, 0, "", "decompresses itself at 0xfffffffffffff000");
	put64(b, 0x258, PREF_ADDR);

	put32(b, 0x22c, 0x01800000u); /* initrd below 24 MiB, but the kernel ends at 24 MiB */
	expect_refusal(mem, b, BZ_SIZE, initrd, sizeof(initrd), "", "initrd (1 MiB) does not fit");
	put32(b, 0x22c, 0x7fffffff);

	static uint8_t big_initrd[60u << 20];
	expect_refusal(mem, b, BZ_SIZE, big_initrd, sizeof(big_initrd), "", "initrd (60 MiB) does not fit");
	free(b);
}

static void test_too_little_ram(void **state)
{
	(void)state;
	struct guest_mem *small = new_ram(1ull << 20);
	uint8_t *b = good_bzimage();
	expect_refusal(small, b, BZ_SIZE, NULL, 0, "", "too little for a Linux kernel");
	free(b);
	free_ram(small);
}

/* ---- PVH ---------------------------------------------------------------- */

#define PVH_TEXT_PADDR 0x1000000ull
#define PVH_TEXT_OFF 0x1000u
#define PVH_TEXT_SIZE 0x100u
#define PVH_NOTE_OFF 0x800u
#define PVH_BSS 0x200000u
#define PVH_SIZE (PVH_TEXT_OFF + PVH_TEXT_SIZE)

/* A vmlinux: text linked high, loaded at 16 MiB with a bss tail, and a
 * PT_NOTE with Xen's PHYS32_ENTRY note (desc_len bytes of `entry`). */
static uint8_t *pvh_image(uint64_t entry, uint32_t desc_len, uint32_t note_type)
{
	uint8_t *b = calloc(1, PVH_SIZE);
	assert_non_null(b);
	Elf64_Ehdr *eh = (void *)b;
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = ET_EXEC;
	eh->e_machine = EM_X86_64;
	eh->e_version = EV_CURRENT;
	eh->e_entry = 0xffffffff81000000ull;
	eh->e_phoff = sizeof(*eh);
	eh->e_ehsize = sizeof(*eh);
	eh->e_phentsize = sizeof(Elf64_Phdr);
	eh->e_phnum = 2;
	Elf64_Phdr *ph = (void *)(b + sizeof(*eh));
	ph[0] = (Elf64_Phdr){
		.p_type = PT_LOAD, .p_flags = PF_R | PF_X, .p_offset = PVH_TEXT_OFF,
		.p_vaddr = 0xffffffff81000000ull, .p_paddr = PVH_TEXT_PADDR,
		.p_filesz = PVH_TEXT_SIZE, .p_memsz = PVH_TEXT_SIZE + PVH_BSS, .p_align = 0x1000,
	};
	ph[1] = (Elf64_Phdr){ .p_type = PT_NOTE, .p_offset = PVH_NOTE_OFF, .p_filesz = 12 + 4 + 8, .p_align = 4 };
	uint32_t note[3] = { 4, desc_len, note_type };
	memcpy(b + PVH_NOTE_OFF, note, sizeof(note));
	memcpy(b + PVH_NOTE_OFF + 12, "Xen", 4);
	memcpy(b + PVH_NOTE_OFF + 16, &entry, desc_len <= 8 ? desc_len : 8);
	for (unsigned i = 0; i < PVH_TEXT_SIZE; i++)
		b[PVH_TEXT_OFF + i] = (uint8_t)(0x90 + i);
	return b;
}

struct start_info {
	uint32_t magic, version, flags, nr_modules;
	uint64_t modlist_paddr, cmdline_paddr, rsdp_paddr, memmap_paddr;
	uint32_t memmap_entries, reserved;
};

static void test_pvh_loads(void **state)
{
	struct guest_mem *mem = *state;
	uint8_t *b = pvh_image(PVH_TEXT_PADDR + 0x10, 4, 18);
	struct linux_boot boot;
	char err[LINUX_ERR_MAX];

	assert_false(linux_is_bzimage(b, PVH_SIZE));
	assert_int_equal(linux_load(b, PVH_SIZE, initrd, sizeof(initrd), "root=/dev/vda", mem, &boot, err), 0);
	assert_int_equal(boot.kind, LINUX_ENTRY_PVH);
	assert_int_equal(boot.entry, PVH_TEXT_PADDR + 0x10);
	assert_int_equal(boot.params, LINUX_START_INFO);
	assert_int_equal(boot.kernel_end, PVH_TEXT_PADDR + PVH_TEXT_SIZE + PVH_BSS);
	assert_memory_equal(mem->host + PVH_TEXT_PADDR, b + PVH_TEXT_OFF, PVH_TEXT_SIZE);
	assert_true(boot.initrd >= boot.kernel_end);
	assert_memory_equal(mem->host + boot.initrd, initrd, sizeof(initrd));

	const struct start_info *si = (const void *)(mem->host + LINUX_START_INFO);
	assert_int_equal(si->magic, 0x336ec578);
	assert_int_equal(si->version, 1);
	assert_int_equal(si->nr_modules, 1);
	assert_int_equal(si->cmdline_paddr, LINUX_CMDLINE);
	assert_string_equal((char *)mem->host + LINUX_CMDLINE, "root=/dev/vda");
	assert_int_equal(si->memmap_entries, 3);
	const uint64_t *mod = (const void *)(mem->host + si->modlist_paddr);
	assert_int_equal(mod[0], boot.initrd);
	assert_int_equal(mod[1], sizeof(initrd));
	const uint64_t *map = (const void *)(mem->host + si->memmap_paddr);
	assert_int_equal(map[6], LINUX_KERNEL);           /* third entry's addr */
	assert_int_equal(map[6] + map[7], RAM_SIZE);      /* ... to the end of RAM */
	assert_int_equal(map[3], LINUX_ACPI);             /* second: the ACPI area, reserved */
	assert_int_equal(map[3] + map[4], 0x100000);
	assert_int_equal(map[5], 2);
	assert_int_equal(si->rsdp_paddr, 0);
	assert_int_equal(linux_load_acpi(mem, &boot, 1, err), 0);
	assert_int_equal(si->rsdp_paddr, LINUX_ACPI);
	assert_memory_equal(mem->host + LINUX_ACPI, "RSD PTR ", 8);
	free(b);
}

static void test_pvh_refusals(void **state)
{
	struct guest_mem *mem = *state;
	uint8_t *b;

	b = pvh_image(PVH_TEXT_PADDR, 4, 17); /* some other Xen note */
	expect_refusal(mem, b, PVH_SIZE, NULL, 0, "", "no PVH entry note");
	free(b);
	b = pvh_image(PVH_TEXT_PADDR, 2, 18);
	expect_refusal(mem, b, PVH_SIZE, NULL, 0, "", "the PVH entry note has 2 bytes");
	free(b);
	b = pvh_image(PVH_TEXT_PADDR, 200, 18); /* runs past its segment */
	expect_refusal(mem, b, PVH_SIZE, NULL, 0, "", "no PVH entry note");
	free(b);
	b = pvh_image(0x100000000ull, 8, 18);
	expect_refusal(mem, b, PVH_SIZE, NULL, 0, "", "above 4 GiB");
	free(b);
	b = pvh_image(0x200000, 4, 18); /* not in the text */
	expect_refusal(mem, b, PVH_SIZE, NULL, 0, "", "not inside an executable loaded segment");
	free(b);
	b = pvh_image(PVH_TEXT_PADDR, 4, 18);
	expect_refusal(mem, b, PVH_SIZE - 1, NULL, 0, "", "truncated ELF");
	static uint8_t big_initrd[50u << 20];
	expect_refusal(mem, b, PVH_SIZE, big_initrd, sizeof(big_initrd), "", "initrd (50 MiB) does not fit");
	free(b);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup_ram, teardown_ram)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_bzimage_loads),
		T(test_bzimage_without_initrd),
		T(test_bzimage_refusals),
		cmocka_unit_test(test_too_little_ram),
		T(test_pvh_loads),
		T(test_pvh_refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
