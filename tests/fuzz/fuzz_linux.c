/*
 * Fuzz target: linux_load() (src/linux_boot.c), the bzImage and PVH
 * vmlinux loaders, with elf_load_pvh() under the latter.
 *
 * Input: one byte of command-line length (0..255 bytes of 'c'), two bytes
 * of initrd length (that many 0x5a bytes), then the kernel image, exactly
 * as long as what is left, so ASan catches any over-read. Guest RAM is 32 MiB with a
 * PROT_NONE page after it, so a write past the end faults.
 *
 * Checked besides memory safety: a refusal has a message; an accepted
 * kernel's entry, parameters, kernel end and initrd lie in RAM, and the
 * initrd is above the kernel and holds its bytes.
 */
#include <sys/mman.h>

#include "fuzz_common.h"
#include "guest_mem.h"
#include "linux_boot.h"

#define RAM_BYTES (32ull << 20)
#define GUARD_BYTES 0x1000ull

static struct guest_mem mem;
static uint8_t initrd[65535];

static void map_ram(void)
{
	uint8_t *p = mmap(NULL, RAM_BYTES + GUARD_BYTES, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	FUZZ_CHECK(p != MAP_FAILED);
	FUZZ_CHECK(mprotect(p, RAM_BYTES, PROT_READ | PROT_WRITE) == 0);
	mem.host = p;
	mem.size = RAM_BYTES;
	memset(initrd, 0x5a, sizeof(initrd));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = fuzz_in(data, size);
	struct linux_boot boot;
	char err[LINUX_ERR_MAX], cmdline[256];

	if (!mem.host)
		map_ram();
	size_t cmdline_len = fuzz_u8(&in);
	memset(cmdline, 'c', cmdline_len);
	cmdline[cmdline_len] = '\0';
	size_t initrd_len = fuzz_u16(&in);
	/* The kernel is exactly the rest: a copy of that size, for ASan. */
	uint8_t *kernel = malloc(in.left ? in.left : 1);
	FUZZ_CHECK(kernel);
	memcpy(kernel, in.p, in.left);
	err[0] = '\0';
	if (linux_load(kernel, in.left, initrd_len ? initrd : NULL, initrd_len, cmdline, &mem, &boot, err) == 0) {
		FUZZ_CHECK(boot.entry < RAM_BYTES && boot.params < RAM_BYTES && boot.kernel_end <= RAM_BYTES);
		if (initrd_len) {
			FUZZ_CHECK(boot.initrd >= boot.kernel_end && boot.initrd + initrd_len <= RAM_BYTES);
			FUZZ_CHECK(memcmp(mem.host + boot.initrd, initrd, initrd_len) == 0);
		}
		/* The loaders expect zeroed RAM: give the next input some. */
		memset(mem.host, 0, RAM_BYTES);
	} else {
		FUZZ_CHECK(err[0] != '\0' && memchr(err, '\0', LINUX_ERR_MAX));
		/* A PVH kernel's segments may be in before its initrd is
		 * refused (the VM then never runs): clean up for the next. */
		memset(mem.host, 0, RAM_BYTES);
	}
	free(kernel);
	return 0;
}

/* ---- seeds ---------------------------------------------------------------- */

static void put16(uint8_t *b, size_t off, uint16_t v) { memcpy(b + off, &v, 2); }
static void put32(uint8_t *b, size_t off, uint32_t v) { memcpy(b + off, &v, 4); }

void fuzz_seeds(fuzz_emit_fn *emit)
{
	/* A bzImage, protocol 2.15, 2 setup sectors and 1 KiB of payload,
	 * after a 16-byte command line and a 4 KiB initrd. */
	static uint8_t s[3 + 3 * 512 + 1024];
	uint8_t *b = s + 3;
	s[0] = 16;
	s[1] = 0x00;
	s[2] = 0x10;
	b[0x1f1] = 2;
	put16(b, 0x1fe, 0xaa55);
	b[0x200] = 0xeb;
	b[0x201] = 0x6a;
	put32(b, 0x202, 0x53726448);
	put16(b, 0x206, 0x020f);
	b[0x211] = 1;
	put32(b, 0x22c, 0x7fffffff);
	put16(b, 0x236, 3);
	put32(b, 0x238, 2047);
	put32(b, 0x260, 1u << 20);
	emit("bzimage", s, sizeof(s));

	/* A vmlinux: one text segment at 16 MiB, Xen's PVH entry note. */
	static uint8_t v[3 + 0x1100];
	uint8_t *e = v + 3;
	v[0] = 8;
	memcpy(e, "\177ELF", 4);
	e[4] = 2; /* 64-bit */
	e[5] = 1; /* little-endian */
	e[6] = 1;
	put16(e, 16, 2);      /* ET_EXEC */
	put16(e, 18, 62);     /* x86-64 */
	put32(e, 20, 1);
	memcpy(e + 32, &(uint64_t){ 64 }, 8); /* e_phoff */
	put16(e, 52, 64);
	put16(e, 54, 56);
	put16(e, 56, 2);
	uint8_t *ph = e + 64;
	put32(ph, 0, 1); /* PT_LOAD */
	put32(ph, 4, 5); /* R X */
	memcpy(ph + 8, &(uint64_t){ 0x1000 }, 8);
	memcpy(ph + 16, &(uint64_t){ 0xffffffff81000000ull }, 8);
	memcpy(ph + 24, &(uint64_t){ 0x1000000 }, 8);
	memcpy(ph + 32, &(uint64_t){ 0x100 }, 8);
	memcpy(ph + 40, &(uint64_t){ 0x100 }, 8);
	ph += 56;
	put32(ph, 0, 4); /* PT_NOTE */
	memcpy(ph + 8, &(uint64_t){ 0x800 }, 8);
	memcpy(ph + 32, &(uint64_t){ 20 }, 8);
	memcpy(ph + 48, &(uint64_t){ 4 }, 8);
	put32(e, 0x800, 4);
	put32(e, 0x804, 4);
	put32(e, 0x808, 18);
	memcpy(e + 0x80c, "Xen", 4);
	put32(e, 0x810, 0x1000010);
	emit("pvh", v, sizeof(v));
}
