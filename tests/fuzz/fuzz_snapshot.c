/*
 * Fuzz target: the snapshot state file `pvmm restore` and PUT
 * /snapshot/load read (docs/snapshot.md): the container checks of
 * snap_parse() (src/snapshot_format.c), then snapshot_open() and
 * snapshot_options() (src/snapshot.c): the section table, the memory
 * file's trailer against the state file, the saved configuration and the
 * device requests made from it. Then, for an accepted snapshot, as much
 * of restore as runs without KVM, on a stand-in VM (8 MiB of guest memory
 * with the boot page tables and the PV MMU pool, as tests/unit/
 * test_pvmmu.c builds it; vCPU and VM fds -1): snapshot_restore_memory()
 * (the memory layout against the VM's, the memory file, pvmmu_load()) and
 * snapshot_restore_state() up to the first vCPU's first ioctl (the VM
 * section, the vCPU section's layout, its MSR list and its upcall state
 * through upcall_check()). Device state (virtio_load, emulated_load) is
 * not reached: it needs the devices.
 *
 * Every section has a CRC, so a mutated raw file would die at the first
 * checksum. The input is therefore a list of sections that the harness
 * assembles into a well-formed file with the real writer (snap_writer_*,
 * snap_finish), so the mutations land in the section parsers:
 *
 *   u8 flags
 *     bit 0: raw: the rest of the input is the state file itself, as is
 *            (the container checks: header, lengths, CRCs)
 *     bit 1: the memory file's trailer has another snapshot's id
 *     bit 2: the memory file is a page short
 *     bit 3: the header names another KVM API version
 *   then sections until the input ends, each:
 *     u8 type (as is: 0 and 8..255 are unknown types), u16 length, then
 *     that many payload bytes (fewer if the input ends first)
 *
 * The memory file is built to match the state file: the size the (last)
 * memory section gives plus the trailer, the header's id (raw: the id of
 * the input's header, if it parses), unless a flag says otherwise. Both
 * files are memfds, opened by their /proc/self/fd paths as restore opens
 * any file.
 *
 * Checked besides memory safety: the writer's file always passes
 * snap_parse() with the sections it was given; a file snap_parse() accepts
 * has its sections inside it, in order; only a file with one section of
 * each kind create writes once (and a vCPU section or more, no unknown
 * type) gets past snapshot_open(); every refusal (snapshot_open's or
 * snapshot_options') comes with a message; an accepted snapshot yields
 * options a VM could be built from: memory within the limits the command
 * line and the API allow, 1..VM_MAX_CPUS CPUs, ring 0 or 3, an image, and
 * every disk a path. FUZZ_SNAPSHOT_VERBOSE=1 in the environment prints
 * what became of each input.
 */
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "fuzz_common.h"
#include "guest_mem.h"
#include "launch.h"
#include "layout.h"
#include "log.h"
#include "machine.h"
#include "pagetable.h"
#include "pvmmu.h"
#include "snapshot.h"
#include "snapshot_format.h"
#include "vm.h"

#define F_RAW 1u
#define F_OTHER_ID 2u
#define F_MEM_SHORT 4u
#define F_OTHER_API 8u

static const uint8_t snap_id[16] = "fuzz-snapshot-id";

static int state_fd = -1, mem_fd = -1;
static char state_path[64], mem_path[64];
static int host_api = -1;

/* The stand-in VM restore's later steps run on. */
#define FAKE_MEM (8ull << 20)
static struct vm *fake;
static struct vm *fake_vm(void);

static void setup(void)
{
	state_fd = memfd_create("fuzz-snapshot-state", MFD_CLOEXEC);
	mem_fd = memfd_create("fuzz-snapshot-mem", MFD_CLOEXEC);
	FUZZ_CHECK(state_fd >= 0 && mem_fd >= 0);
	snprintf(state_path, sizeof(state_path), "/proc/self/fd/%d", state_fd);
	snprintf(mem_path, sizeof(mem_path), "/proc/self/fd/%d", mem_fd);
	/* snapshot_open() compares the header with this host's KVM, if any. */
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	host_api = kvm >= 0 ? ioctl(kvm, KVM_GET_API_VERSION, 0) : -1;
	if (kvm >= 0)
		close(kvm);
	/* Quiet (the refusals are the common case); log_last_error() still
	 * keeps each one. */
	log_configure(NULL, LOG_OFF);
	fake = fake_vm();
}

static struct vm *fake_vm(void)
{
	struct vm *vm = calloc(1, sizeof(*vm));
	FUZZ_CHECK(vm && guest_mem_init(&vm->mem, FAKE_MEM, 0) == 0);
	vm->vm_fd = vm->kvm_fd = vm->vcpu_fd = -1;
	vm->ring = 3;
	pagetable_build(&vm->mem, true);
	FUZZ_CHECK(layout_mark_private(&vm->mem, 3) == 0);
	FUZZ_CHECK(pvmmu_init(vm, false) == 0);
	vm->vcpus = calloc(VM_MAX_CPUS, sizeof(*vm->vcpus));
	FUZZ_CHECK(vm->vcpus);
	for (unsigned i = 0; i < VM_MAX_CPUS; i++)
		vm->vcpus[i] = (struct vcpu){ .index = i, .fd = -1 };
	return vm;
}

/* Restore's steps after snapshot_options(), on the stand-in VM: each
 * refusal with a message. The state step always ends refused, at the
 * first ioctl on a vCPU fd of -1 if not before. */
static void restore_parse(const struct snapshot *s, const struct vm_options *opt)
{
	fake->ring = opt->ring;
	fake->cpu_count = opt->cpus;
	fake->virtio_count = 0;
	log_clear_last_error();
	if (snapshot_restore_memory(fake, s) != 0) {
		FUZZ_CHECK(log_last_error()[0] != '\0');
		return;
	}
	log_clear_last_error();
	FUZZ_CHECK(snapshot_restore_state(fake, s) != 0);
	FUZZ_CHECK(log_last_error()[0] != '\0');
	if (getenv("FUZZ_SNAPSHOT_VERBOSE"))
		fprintf(stderr, "restore state refused: %s\n", log_last_error());
}

static void put_file(int fd, const void *data, size_t len)
{
	FUZZ_CHECK(ftruncate(fd, 0) == 0);
	FUZZ_CHECK(len == 0 || pwrite(fd, data, len, 0) == (ssize_t)len);
}

/* The memory file for a state file whose last memory section is `mem`
 * (NULL: none): image bytes (a hole) and the trailer. */
static void put_mem_file(const struct snap_section *mem, const uint8_t id[16], unsigned flags)
{
	struct snap_reader r;
	uint64_t image = 0;

	FUZZ_CHECK(ftruncate(mem_fd, 0) == 0);
	if (mem) {
		snap_reader_init(&r, mem);
		image = snap_get_u64(&r);
	}
	if (image > MEM_MAX + (1ull << 30))
		return; /* larger than any pvmm writes: an empty file */
	struct snap_mem_trailer t = { .image_size = image };
	memcpy(t.magic, SNAP_MEM_MAGIC, 8);
	memcpy(t.id, id, 16);
	if (flags & F_OTHER_ID)
		t.id[0] ^= 1;
	t.trailer_crc = snap_crc32(0, &t, sizeof(t));
	uint64_t size = image + SNAP_MEM_TRAILER - (flags & F_MEM_SHORT ? PAGE_SIZE : 0);
	FUZZ_CHECK(ftruncate(mem_fd, (off_t)size) == 0);
	if (image + sizeof(t) <= size)
		FUZZ_CHECK(pwrite(mem_fd, &t, sizeof(t), (off_t)image) == (ssize_t)sizeof(t));
}

/* A file snap_parse() accepted: its sections lie inside it, in order. */
static void check_parsed(const struct snap_file *f)
{
	const uint8_t *at = f->buf + sizeof(struct snap_header);
	FUZZ_CHECK(f->count >= 1 && f->count <= SNAP_MAX_SECTIONS && f->count == f->header.section_count);
	for (unsigned i = 0; i < f->count; i++) {
		const struct snap_section *s = &f->sec[i];
		FUZZ_CHECK(s->data >= at + sizeof(struct snap_section_header));
		FUZZ_CHECK(s->length <= SNAP_MAX_SECTION && s->length <= (size_t)(f->buf + f->len - s->data));
		at = s->data + s->length;
	}
}

/* Whether sections of these types make a snapshot create could have
 * written: one configuration, memory layout, VM and PV MMU section, at
 * least one vCPU, at most one emulated-devices section, no other type.
 * Only such a file may get past snapshot_open(). */
static bool shape_ok(const uint8_t *types, unsigned n)
{
	unsigned count[SNAP_SEC_EMULATED + 1] = { 0 };
	for (unsigned i = 0; i < n; i++) {
		if (types[i] < SNAP_SEC_CONFIG || types[i] > SNAP_SEC_EMULATED)
			return false;
		count[types[i]]++;
	}
	return count[SNAP_SEC_CONFIG] == 1 && count[SNAP_SEC_MEMORY] == 1 && count[SNAP_SEC_VM] == 1 &&
	       count[SNAP_SEC_PVMMU] == 1 && count[SNAP_SEC_VCPU] >= 1 && count[SNAP_SEC_EMULATED] <= 1;
}

/* What restore's parsing makes of the state file now in state_fd, whose
 * sections have a shape create could have written (`shape`) or not. */
static void open_snapshot(bool shape)
{
	char err[SNAPSHOT_ERR_MAX];

	err[0] = '\0';
	struct snapshot *s = snapshot_open(state_path, mem_path, err);
	if (!s) {
		FUZZ_CHECK(err[0] != '\0' && memchr(err, '\0', sizeof(err)));
		if (getenv("FUZZ_SNAPSHOT_VERBOSE"))
			fprintf(stderr, "open refused: %s\n", err);
		return;
	}
	FUZZ_CHECK(shape);
	struct vm_options opt;
	vm_options_init(&opt);
	log_clear_last_error();
	if (snapshot_options(s, &opt) != 0) {
		FUZZ_CHECK(log_last_error()[0] != '\0');
		if (getenv("FUZZ_SNAPSHOT_VERBOSE"))
			fprintf(stderr, "options refused: %s\n", log_last_error());
	} else {
		if (getenv("FUZZ_SNAPSHOT_VERBOSE"))
			fprintf(stderr, "accepted: %u CPUs, %llu bytes, %u disks, %u devices\n", opt.cpus,
				(unsigned long long)opt.mem_size, opt.disk_count, opt.devices.count);
		FUZZ_CHECK(opt.restore == s && opt.guest_argc == 1);
		FUZZ_CHECK(opt.mem_size >= MEM_MIN && opt.mem_size <= MEM_MAX);
		FUZZ_CHECK(opt.cpus >= 1 && opt.cpus <= VM_MAX_CPUS);
		FUZZ_CHECK(opt.ring == 0 || opt.ring == 3);
		FUZZ_CHECK(opt.image != NULL);
		FUZZ_CHECK(opt.disk_count <= MACHINE_MAX_DEVICES && (!opt.ide || opt.disk_count <= 1));
		for (unsigned i = 0; i < opt.disk_count; i++)
			FUZZ_CHECK(opt.disks[i] != NULL);
		FUZZ_CHECK(opt.devices.count <= MACHINE_MAX_DEVICES);
		(void)snapshot_guest_ns(s);
		restore_parse(s, &opt);
	}
	snapshot_close(s);
}

static void raw_input(const uint8_t *data, size_t size)
{
	struct snap_file f;
	char err[SNAP_ERR_MAX];
	uint8_t *buf = malloc(size ? size : 1);
	static uint8_t types[SNAP_MAX_SECTIONS];
	bool shape = false;

	FUZZ_CHECK(buf);
	if (size)
		memcpy(buf, data, size);
	err[0] = '\0';
	if (snap_parse(&f, buf, size, snapshot_abi_sizes(), err) == 0) {
		check_parsed(&f);
		const struct snap_section *mem = NULL;
		for (unsigned i = 0; i < f.count; i++)
			if (f.sec[i].type == SNAP_SEC_MEMORY)
				mem = &f.sec[i];
		put_mem_file(mem, f.header.id, 0);
		for (unsigned i = 0; i < f.count; i++)
			types[i] = f.sec[i].type > 255 ? 0 : (uint8_t)f.sec[i].type;
		shape = shape_ok(types, f.count);
	} else {
		FUZZ_CHECK(err[0] != '\0' && memchr(err, '\0', sizeof(err)));
		put_mem_file(NULL, snap_id, 0);
	}
	put_file(state_fd, data, size);
	snap_file_free(&f);
	open_snapshot(shape);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = fuzz_in(data, size);
	static struct { uint16_t len; const uint8_t *p; } sec[SNAP_MAX_SECTIONS];
	static uint8_t types[SNAP_MAX_SECTIONS];
	unsigned n = 0;

	if (state_fd < 0)
		setup();
	unsigned flags = fuzz_u8(&in);
	if (flags & F_RAW) {
		raw_input(in.p, in.left);
		return 0;
	}
	struct snap_writer w;
	snap_writer_init(&w);
	while (fuzz_more(&in) && n < SNAP_MAX_SECTIONS) {
		types[n] = fuzz_u8(&in);
		sec[n].len = fuzz_u16(&in);
		if (sec[n].len > in.left)
			sec[n].len = (uint16_t)in.left;
		sec[n].p = in.p;
		in.p += sec[n].len;
		in.left -= sec[n].len;
		snap_begin(&w, types[n]);
		snap_put(&w, sec[n].p, sec[n].len);
		snap_end(&w);
		n++;
	}
	struct snap_header h = { .kvm_api = host_api >= 0 ? (uint32_t)host_api : 12, .tsc_khz = 2000000,
				 .abi_sizes = snapshot_abi_sizes() };
	if (flags & F_OTHER_API)
		h.kvm_api++;
	memcpy(h.id, snap_id, 16);
	FUZZ_CHECK(snap_finish(&w, &h) == 0);

	/* The writer and the reader agree: the file parses, section for section. */
	struct snap_file f;
	char err[SNAP_ERR_MAX] = "";
	uint8_t *copy = malloc(w.len);
	FUZZ_CHECK(copy);
	memcpy(copy, w.buf, w.len);
	int parsed = snap_parse(&f, copy, w.len, snapshot_abi_sizes(), err);
	if (n == 0) {
		FUZZ_CHECK(parsed != 0 && err[0]);
		f.buf = copy;
	} else {
		FUZZ_CHECK(parsed == 0);
		check_parsed(&f);
		FUZZ_CHECK(f.count == n);
		for (unsigned i = 0; i < n; i++)
			FUZZ_CHECK(f.sec[i].type == types[i] && f.sec[i].length == sec[i].len &&
				   memcmp(f.sec[i].data, sec[i].p, sec[i].len) == 0);
	}
	const struct snap_section *mem = NULL;
	for (unsigned i = 0; i < f.count; i++)
		if (f.sec[i].type == SNAP_SEC_MEMORY)
			mem = &f.sec[i];
	put_mem_file(mem, snap_id, flags);
	put_file(state_fd, w.buf, w.len);
	snap_file_free(&f);
	snap_writer_free(&w);
	open_snapshot(shape_ok(types, n));
	return 0;
}

/* ---- seeds ---------------------------------------------------------------- */

struct seed {
	uint8_t buf[65536];
	size_t len;
};

static void put(struct seed *s, const void *p, size_t len)
{
	FUZZ_CHECK(s->len + len <= sizeof(s->buf));
	memcpy(s->buf + s->len, p, len);
	s->len += len;
}

static void put_u32(struct seed *s, uint32_t v) { put(s, &v, 4); }
static void put_u64(struct seed *s, uint64_t v) { put(s, &v, 8); }

#define CONFIG_1CPU                                                                                          \
	"image=/tmp/pvmm-guest.elf\nmem_size=33554432\nmem_flags=0\ncpus=1\nring=3\nvirtio_console=1\n"    \
	"uart_console=0\nide=0\nrng=0\n"

static void start(struct seed *s, uint8_t flags)
{
	s->len = 0;
	put(s, &flags, 1);
}

static void emit_seed(fuzz_emit_fn *emit, const char *name, const struct seed *s)
{
	emit(name, s->buf, s->len);
}

/* A section of the seed: type, length, payload. */
static void section(struct seed *s, uint8_t type, const void *p, size_t len)
{
	uint16_t l = (uint16_t)len;
	FUZZ_CHECK(len <= UINT16_MAX);
	put(s, &type, 1);
	put(s, &l, 2);
	put(s, p, len);
}

static void config(struct seed *s, const char *text)
{
	section(s, SNAP_SEC_CONFIG, text, strlen(text));
}

#define MEM_32M (32ull << 20)

static void memory(struct seed *s, uint64_t size)
{
	struct seed m = { .len = 0 };
	put_u64(&m, size);
	put_u32(&m, 1);
	put_u64(&m, 0);    /* gpa */
	put_u64(&m, size); /* size */
	put_u64(&m, 0);    /* fd offset */
	put_u32(&m, 0);    /* flags */
	section(s, SNAP_SEC_MEMORY, m.buf, m.len);
}

static void vm_state(struct seed *s)
{
	struct seed v = { .len = 0 };
	uint8_t dest[24] = { 0 };
	put_u64(&v, 123456789); /* guest time */
	put_u64(&v, 987654321); /* KVM clock */
	put_u32(&v, 0);         /* no irqchip */
	put(&v, dest, sizeof(dest));
	section(s, SNAP_SEC_VM, v.buf, v.len);
}

static void pvmmu(struct seed *s)
{
	uint8_t b[16] = { 0 };
	section(s, SNAP_SEC_PVMMU, b, sizeof(b));
}

/* A vCPU section as put_vcpu() writes it: registers zero but CR3, the
 * upcall entry and info given, the TSC as its one MSR. */
static void vcpu_upcall(struct seed *s, uint32_t index, uint64_t cr3, uint64_t entry, uint64_t info)
{
	static struct seed v;
	static uint8_t regs[sizeof(struct kvm_regs) + sizeof(struct kvm_sregs) + sizeof(struct kvm_xsave) +
			    sizeof(struct kvm_xcrs) + sizeof(struct kvm_debugregs) + sizeof(struct kvm_vcpu_events) +
			    sizeof(struct kvm_mp_state) + sizeof(struct kvm_lapic_state)];
	struct kvm_msr_entry tsc = { .index = 0x10, .data = 12345 };
	memset(regs, 0, sizeof(regs));
	memcpy(regs + sizeof(struct kvm_regs) + offsetof(struct kvm_sregs, cr3), &cr3, 8);
	v.len = 0;
	put_u32(&v, index);
	put_u32(&v, 1); /* running */
	put_u64(&v, PVMM_IMAGE_MIN); /* start rip, rsp, rdi */
	put_u64(&v, 0);
	put_u64(&v, 0);
	put_u64(&v, entry);
	put_u64(&v, info);
	put_u64(&v, 0); /* MMU generation */
	put_u32(&v, 0); /* irqchip */
	put(&v, regs, sizeof(regs));
	put_u32(&v, 1);
	put(&v, &tsc, sizeof(tsc));
	section(s, SNAP_SEC_VCPU, v.buf, v.len);
}

/* A vCPU section cut after its index and state, to keep the corpus
 * small: snapshot_open() only counts vCPU sections, and the seeds with
 * one only get as far as the stand-in VM's memory layout, which differs
 * (the restore-* seeds have whole ones). */
static void vcpu(struct seed *s, uint32_t index)
{
	uint32_t v[2] = { index, 1 };
	section(s, SNAP_SEC_VCPU, v, sizeof(v));
}

/* A snapshot of the stand-in VM restore_parse() uses: its memory layout
 * and PV MMU, one vCPU with `entry` and `info` as its upcall state. */
static void fake_snapshot(struct seed *s, struct vm *vm, uint64_t entry, uint64_t info)
{
	static struct seed m;
	struct snap_writer w;

	start(s, 0);
	config(s, "image=/tmp/pvmm-guest.elf\nmem_size=8388608\nmem_flags=0\ncpus=1\nring=3\nvirtio_console=0\n"
		  "uart_console=0\nide=0\nrng=0\n");
	m.len = 0;
	put_u64(&m, vm->mem.fd_size);
	put_u32(&m, vm->mem.nregions);
	for (unsigned i = 0; i < vm->mem.nregions; i++) {
		put_u64(&m, vm->mem.region[i].gpa);
		put_u64(&m, vm->mem.region[i].size);
		put_u64(&m, vm->mem.region[i].fd_offset);
		put_u32(&m, vm->mem.region[i].flags);
	}
	section(s, SNAP_SEC_MEMORY, m.buf, m.len);
	vm_state(s);
	snap_writer_init(&w);
	snap_begin(&w, SNAP_SEC_PVMMU);
	pvmmu_save(vm, &w);
	snap_end(&w);
	FUZZ_CHECK(!w.failed);
	const struct snap_section_header *sh = (const void *)(w.buf + sizeof(struct snap_header));
	section(s, SNAP_SEC_PVMMU, sh + 1, (size_t)sh->length);
	snap_writer_free(&w);
	vcpu_upcall(s, 0, LAYOUT_PML4, entry, info);
}

static void device(struct seed *s, const char *name)
{
	struct seed d = { .len = 0 };
	uint8_t core[64] = { 0 };
	put_u32(&d, (uint32_t)strlen(name));
	put(&d, name, strlen(name));
	put(&d, core, sizeof(core));
	section(s, SNAP_SEC_DEVICE, d.buf, d.len);
}

/* One VM's sections after its configuration: memory, VM, PV MMU, vCPUs, the console. */
static void body(struct seed *s, unsigned cpus)
{
	memory(s, MEM_32M);
	vm_state(s);
	pvmmu(s);
	for (unsigned i = 0; i < cpus; i++)
		vcpu(s, i);
	device(s, "virtio-console");
}

void fuzz_seeds(fuzz_emit_fn *emit)
{
	static struct seed s;
	struct vm *vm = fake_vm();

	/* Through restore's memory step to the first vCPU's ioctl, on the
	 * stand-in VM: an upcall info block the guest may write, one in the
	 * monitor's memory (refused). */
	fake_snapshot(&s, vm, PVMM_IMAGE_MIN, 0x200000);
	emit_seed(emit, "restore-upcall", &s);
	fake_snapshot(&s, vm, PVMM_IMAGE_MIN, 0x2000);
	emit_seed(emit, "restore-upcall-private", &s);
	pvmmu_free(vm);
	guest_mem_free(&vm->mem);
	free(vm->vcpus);
	free(vm);

	/* Accepted: one CPU and the virtio console, as `pvmm run` makes. */
	start(&s, 0);
	config(&s, CONFIG_1CPU);
	body(&s, 1);
	emit_seed(emit, "valid-1cpu", &s);

	/* Accepted: two CPUs, rng, two disks (one readonly), ring 0. */
	start(&s, 0);
	config(&s, "image=/tmp/pvmm-guest.elf\nmem_size=67108864\nmem_flags=0\ncpus=2\nring=0\nvirtio_console=1\n"
		   "uart_console=0\nide=0\nrng=1\ndisk=/tmp/pvmm-a.img\ndisk=/tmp/pvmm-b.img,readonly\n");
	body(&s, 2);
	device(&s, "virtio-rng");
	device(&s, "virtio-blk");
	device(&s, "virtio-blk");
	emit_seed(emit, "valid-2cpu-disks", &s);

	/* Accepted: the UART and an IDE disk (an emulated section). */
	start(&s, 0);
	config(&s, "image=/tmp/pvmm-guest.elf\nmem_size=33554432\nmem_flags=0\ncpus=1\nring=3\nvirtio_console=0\n"
		   "uart_console=1\nide=1\nrng=0\ndisk=/tmp/pvmm-ide.img\n");
	memory(&s, MEM_32M);
	vm_state(&s);
	pvmmu(&s);
	vcpu(&s, 0);
	{
		uint8_t emu[64] = { 0 };
		section(&s, SNAP_SEC_EMULATED, emu, sizeof(emu));
	}
	emit_seed(emit, "valid-uart-ide", &s);

	/* Refused by the configuration: two CPUs, one vCPU section. */
	start(&s, 0);
	config(&s, "image=/tmp/pvmm-guest.elf\nmem_size=33554432\nmem_flags=0\ncpus=2\nring=3\nvirtio_console=1\n"
		   "uart_console=0\nide=0\nrng=0\n");
	body(&s, 1);
	emit_seed(emit, "cpus-mismatch", &s);

	/* Refused: a repeated key; a key without a value; memory out of range. */
	start(&s, 0);
	config(&s, CONFIG_1CPU "ring=3\n");
	body(&s, 1);
	emit_seed(emit, "repeated-key", &s);
	start(&s, 0);
	config(&s, "image=/tmp/pvmm-guest.elf\nmem_size=\nmem_flags=0\ncpus=1\nring=3\nvirtio_console=1\n"
		   "uart_console=0\nide=0\nrng=0\n");
	body(&s, 1);
	emit_seed(emit, "empty-value", &s);
	start(&s, 0);
	config(&s, "image=/tmp/pvmm-guest.elf\nmem_size=4096\nmem_flags=0\ncpus=1\nring=3\nvirtio_console=1\n"
		   "uart_console=0\nide=0\nrng=0\n");
	body(&s, 1);
	emit_seed(emit, "mem-size-tiny", &s);

	/* Refused by the section table: no PV MMU section; an unknown type. */
	start(&s, 0);
	config(&s, CONFIG_1CPU);
	memory(&s, MEM_32M);
	vm_state(&s);
	vcpu(&s, 0);
	emit_seed(emit, "no-pvmmu", &s);
	start(&s, 0);
	config(&s, CONFIG_1CPU);
	body(&s, 1);
	section(&s, 9, "x", 1);
	emit_seed(emit, "unknown-section", &s);
	start(&s, 0);
	config(&s, CONFIG_1CPU);
	body(&s, 1);
	memory(&s, MEM_32M);
	emit_seed(emit, "repeated-memory", &s);

	/* Refused by the memory file: another snapshot's, a page short; and
	 * a header from another KVM API. */
	start(&s, F_OTHER_ID);
	config(&s, CONFIG_1CPU);
	body(&s, 1);
	emit_seed(emit, "mem-other-id", &s);
	s.buf[0] = F_MEM_SHORT;
	emit_seed(emit, "mem-short", &s);
	s.buf[0] = F_OTHER_API;
	emit_seed(emit, "other-kvm-api", &s);

	/* Raw: the valid one-CPU file, byte for byte, and with a byte of a
	 * section flipped (its checksum no longer matches). */
	start(&s, 0);
	config(&s, CONFIG_1CPU);
	body(&s, 1);
	{
		struct snap_writer w;
		struct snap_header h = { .kvm_api = host_api >= 0 ? (uint32_t)host_api : 12, .tsc_khz = 2000000,
					 .abi_sizes = snapshot_abi_sizes() };
		size_t at = 1;
		memcpy(h.id, snap_id, 16);
		snap_writer_init(&w);
		while (at < s.len) {
			uint16_t l;
			memcpy(&l, s.buf + at + 1, 2);
			snap_begin(&w, s.buf[at]);
			snap_put(&w, s.buf + at + 3, l);
			snap_end(&w);
			at += 3u + l;
		}
		FUZZ_CHECK(snap_finish(&w, &h) == 0);
		start(&s, F_RAW);
		put(&s, w.buf, w.len);
		emit_seed(emit, "raw-valid-1cpu", &s);
		s.buf[1 + sizeof(struct snap_header) + sizeof(struct snap_section_header)] ^= 0x20;
		emit_seed(emit, "raw-bad-crc", &s);
		snap_writer_free(&w);
	}
}
