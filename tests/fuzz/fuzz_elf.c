/*
 * Fuzz target: elf_load() (src/elf_loader.c), the guest image parser.
 *
 * The whole input is the image file. Guest RAM is 1 MiB + 64 KiB, mapped
 * so that the loader's promise "nothing outside [PVMM_IMAGE_MIN, size) is
 * written" is enforced by the MMU: the monitor's low area and a page past
 * the end of RAM are PROT_NONE, so a stray write faults at once. The input
 * is exactly its size (libFuzzer's buffer), so ASan catches an over-read.
 *
 * Checked besides memory safety: a refusal comes with a message and leaves
 * RAM untouched; an accepted image's entry point and end lie in RAM.
 */
#include <elf.h>
#include <sys/mman.h>

#include "elf_loader.h"
#include "fuzz_common.h"
#include "guest_mem.h"
#include "layout.h"

#define LOAD_BYTES 0x10000ull                    /* RAM above PVMM_IMAGE_MIN */
#define RAM_BYTES (PVMM_IMAGE_MIN + LOAD_BYTES)
#define GUARD_BYTES PAGE_SIZE

static struct guest_mem mem;

static void map_ram(void)
{
	uint8_t *p = mmap(NULL, RAM_BYTES + GUARD_BYTES, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	FUZZ_CHECK(p != MAP_FAILED);
	FUZZ_CHECK(mprotect(p + PVMM_IMAGE_MIN, LOAD_BYTES, PROT_READ | PROT_WRITE) == 0);
	mem.host = p;
	mem.size = RAM_BYTES;
}

static bool ram_is_zero(void)
{
	static const uint8_t zero[LOAD_BYTES];
	return memcmp(mem.host + PVMM_IMAGE_MIN, zero, LOAD_BYTES) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct elf_image image = { 0 };
	char err[ELF_ERR_MAX];

	if (!mem.host)
		map_ram();
	err[0] = '\0';
	if (elf_load(data, size, &mem, &image, err) == 0) {
		FUZZ_CHECK(image.entry >= PVMM_IMAGE_MIN && image.entry < RAM_BYTES);
		FUZZ_CHECK(image.image_end > PVMM_IMAGE_MIN && image.image_end <= RAM_BYTES);
		/* The loader expects zeroed RAM: give the next input some. */
		memset(mem.host + PVMM_IMAGE_MIN, 0, LOAD_BYTES);
	} else {
		FUZZ_CHECK(err[0] != '\0' && memchr(err, '\0', ELF_ERR_MAX));
		FUZZ_CHECK(ram_is_zero());
	}
	return 0;
}

/* ---- seeds ---------------------------------------------------------------- */

#define TEXT_ADDR PVMM_IMAGE_MIN
#define DATA_ADDR (PVMM_IMAGE_MIN + 0x8000u)

struct seed {
	Elf64_Ehdr eh;
	Elf64_Phdr ph[4];
	uint8_t payload[64];
};

static struct seed base_seed(unsigned nph)
{
	struct seed s;
	memset(&s, 0, sizeof(s));
	memcpy(s.eh.e_ident, ELFMAG, SELFMAG);
	s.eh.e_ident[EI_CLASS] = ELFCLASS64;
	s.eh.e_ident[EI_DATA] = ELFDATA2LSB;
	s.eh.e_ident[EI_VERSION] = EV_CURRENT;
	s.eh.e_type = ET_EXEC;
	s.eh.e_machine = EM_X86_64;
	s.eh.e_version = EV_CURRENT;
	s.eh.e_entry = TEXT_ADDR + 4;
	s.eh.e_phoff = offsetof(struct seed, ph);
	s.eh.e_ehsize = sizeof(Elf64_Ehdr);
	s.eh.e_phentsize = sizeof(Elf64_Phdr);
	s.eh.e_phnum = (Elf64_Half)nph;
	for (unsigned i = 0; i < sizeof(s.payload); i++)
		s.payload[i] = (uint8_t)(0x90 + i);
	return s;
}

static Elf64_Phdr load(uint32_t flags, uint64_t addr, uint64_t off, uint64_t filesz, uint64_t memsz)
{
	return (Elf64_Phdr){ .p_type = PT_LOAD, .p_flags = flags, .p_offset = off, .p_vaddr = addr,
			     .p_paddr = addr, .p_filesz = filesz, .p_memsz = memsz, .p_align = 0x1000 };
}

void fuzz_seeds(fuzz_emit_fn *emit)
{
	const uint64_t pay = offsetof(struct seed, payload);
	struct seed s;

	/* One text segment: the smallest image that loads. */
	s = base_seed(1);
	s.ph[0] = load(PF_R | PF_X, TEXT_ADDR, pay, 32, 32);
	emit("text-only", &s, sizeof(s));

	/* Text plus data with a bss tail, like every guest pvmm-cc builds. */
	s = base_seed(2);
	s.ph[0] = load(PF_R | PF_X, TEXT_ADDR, pay, 32, 32);
	s.ph[1] = load(PF_R | PF_W, DATA_ADDR, pay + 32, 32, 0x1000);
	emit("text-data-bss", &s, sizeof(s));

	/* Headers the loader must skip: a note, an empty PT_LOAD, GNU_STACK. */
	s = base_seed(4);
	s.ph[0] = (Elf64_Phdr){ .p_type = PT_NOTE, .p_offset = pay, .p_filesz = 16 };
	s.ph[1] = load(PF_R, 0, 0, 0, 0);
	s.ph[2] = load(PF_R | PF_X, TEXT_ADDR, pay, 64, 64);
	s.ph[3] = (Elf64_Phdr){ .p_type = PT_GNU_STACK, .p_flags = PF_R | PF_W };
	emit("skipped-headers", &s, sizeof(s));

	/* Rejected, but one field from valid: segments overlapping by a byte. */
	s = base_seed(2);
	s.ph[0] = load(PF_R | PF_X, TEXT_ADDR, pay, 32, 0x100);
	s.ph[1] = load(PF_R | PF_W, TEXT_ADDR + 0xff, pay + 32, 32, 32);
	emit("overlap", &s, sizeof(s));

	/* Rejected: a segment ending one byte past RAM. */
	s = base_seed(1);
	s.ph[0] = load(PF_R | PF_X, TEXT_ADDR, pay, 32, LOAD_BYTES + 1);
	emit("past-ram", &s, sizeof(s));

	/* Rejected: headers cut short. */
	s = base_seed(1);
	s.ph[0] = load(PF_R | PF_X, TEXT_ADDR, pay, 32, 32);
	emit("truncated-phdr", &s, sizeof(Elf64_Ehdr) + 20);
}
