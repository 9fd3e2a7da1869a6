/*
 * Snapshot and restore: what a paused VM is made of, out to a state file
 * and a sparse memory file, and back into a new VM (snapshot.h,
 * docs/snapshot.md).
 */
#include "snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "devices/device.h"
#include "emulated.h"
#include "irq.h"
#include "launch.h"
#include "layout.h"
#include "log.h"
#include "pagetable.h"
#include "pvclock.h"
#include "pvmmu.h"
#include "snapshot_format.h"
#include "stats.h"
#include "upcall.h"
#include "virtio/virtio.h"
#include "vm.h"

#define PAGE 4096u
#define COPY_CHUNK (1u << 20)
#define CONFIG_MAX 65536u
#define MAX_MSRS 32u

struct snapshot {
	struct snap_file file;
	char *state_path, *mem_path;
	int mem_fd;
	struct snap_mem_trailer trailer;
	/* From the CONFIG section. */
	char *config;           /* NUL-terminated copy */
	uint64_t guest_ns;      /* from the VM section */
	/* Sections by type. */
	const struct snap_section *memory, *vmsec, *pvmmu;
	const struct snap_section *vcpu[VM_MAX_CPUS];
	unsigned vcpus;
	const struct snap_section *device[PVMM_MAX_DEVICES];
	unsigned devices;
	const struct snap_section *emulated;
	/* Strings opt points into (kept for the VM's life). */
	char *strings[MACHINE_MAX_DEVICES + 1];
};

/* The MSRs a vCPU's state needs besides what sregs hold (EFER, FS/GS
 * base): the TSC first, so that every later one sees the right offset. */
static const uint32_t wanted_msrs[] = {
	0x00000010, /* IA32_TSC */
	0x00000174, /* SYSENTER_CS */
	0x00000175, /* SYSENTER_ESP */
	0x00000176, /* SYSENTER_EIP */
	0x00000277, /* PAT */
	0x000001a0, /* MISC_ENABLE */
	0xc0000081, /* STAR */
	0xc0000082, /* LSTAR */
	0xc0000083, /* CSTAR */
	0xc0000084, /* SFMASK */
	0xc0000102, /* KERNEL_GS_BASE */
	0xc0000103, /* TSC_AUX */
	0x000006e0, /* TSC_DEADLINE: after the LAPIC */
};

/* The sizes of the KVM structures saved raw: a file written by a build
 * with other ones is refused rather than misread. */
uint32_t snapshot_abi_sizes(void)
{
	const uint32_t sizes[] = {
		sizeof(struct kvm_regs), sizeof(struct kvm_sregs), sizeof(struct kvm_xsave),
		sizeof(struct kvm_xcrs), sizeof(struct kvm_debugregs), sizeof(struct kvm_vcpu_events),
		sizeof(struct kvm_mp_state), sizeof(struct kvm_lapic_state), sizeof(struct kvm_irqchip),
		sizeof(struct kvm_clock_data), sizeof(struct kvm_msr_entry), sizeof(struct snap_header),
	};
	return snap_crc32(0, sizes, sizeof(sizes));
}

static int fail(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(char *err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, SNAPSHOT_ERR_MAX, fmt, ap);
	va_end(ap);
	return -1;
}

char *snapshot_default_mem_path(const char *state_path)
{
	size_t n = strlen(state_path);
	char *p = malloc(n + 5);
	if (p)
		memcpy(p, state_path, n), memcpy(p + n, ".mem", 5);
	return p;
}

/* ---- create ---------------------------------------------------------------- */

static bool page_is_zero(const uint8_t *p)
{
	const uint64_t *q = (const uint64_t *)p;
	for (unsigned i = 0; i < PAGE / 8; i += 4)
		if (q[i] | q[i + 1] | q[i + 2] | q[i + 3])
			return false;
	return true;
}

static int write_all(int fd, const void *buf, size_t len, off_t off)
{
	const uint8_t *p = buf;
	while (len) {
		ssize_t n = pwrite(fd, p, len, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

/* Next data extent of `fd` at or after `off`, below `end`: [*start, *stop).
 * False when there is none. A file system without SEEK_DATA is all data. */
static bool next_extent(int fd, uint64_t off, uint64_t end, uint64_t *start, uint64_t *stop)
{
	off_t d = lseek(fd, (off_t)off, SEEK_DATA);
	if (d < 0) {
		if (errno == ENXIO)
			return false;
		*start = off;
		*stop = end;
		return off < end;
	}
	if ((uint64_t)d >= end)
		return false;
	off_t h = lseek(fd, d, SEEK_HOLE);
	*start = (uint64_t)d & ~(uint64_t)(PAGE - 1);
	*stop = h < 0 || (uint64_t)h > end ? end : ((uint64_t)h + PAGE - 1) & ~(uint64_t)(PAGE - 1);
	if (*stop > end)
		*stop = end;
	return true;
}

static void crc_page(uint32_t *crc, uint64_t index, const uint8_t *p)
{
	*crc = snap_crc32(*crc, &index, sizeof(index));
	*crc = snap_crc32(*crc, p, PAGE);
}

/* Guest memory, region by region at its memfd offset, skipping the memfd's
 * holes (pages never touched) and pages that are all zero. */
static int write_memory(struct vm *vm, const char *path, const uint8_t id[16], char *err)
{
	struct guest_mem *mem = &vm->mem;
	struct snap_mem_trailer t = { .image_size = mem->fd_size };
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0)
		return fail(err, "cannot write the memory file '%s': %s", path, strerror(errno));
	if (ftruncate(fd, (off_t)(mem->fd_size + SNAP_MEM_TRAILER)) < 0)
		goto io;
	for (unsigned i = 0; i < mem->nregions; i++) {
		const struct guest_mem_region *r = &mem->region[i];
		uint64_t off = r->fd_offset, end = r->fd_offset + r->size, a, b;
		while (next_extent(mem->fd, off, end, &a, &b)) {
			uint64_t run_start = 0;
			bool in_run = false;
			for (uint64_t p = a; p <= b; p += PAGE) {
				const uint8_t *host = p < b ? r->host + (p - r->fd_offset) : NULL;
				bool data = host && !page_is_zero(host);
				if (data) {
					crc_page(&t.data_crc, p / PAGE, host);
					t.data_pages++;
					if (!in_run)
						run_start = p, in_run = true;
				}
				if (!data && in_run) {
					if (write_all(fd, r->host + (run_start - r->fd_offset), p - run_start, (off_t)run_start))
						goto io;
					in_run = false;
				}
			}
			off = b;
		}
	}
	memcpy(t.magic, SNAP_MEM_MAGIC, 8);
	memcpy(t.id, id, 16);
	t.trailer_crc = snap_crc32(0, &t, sizeof(t));
	if (write_all(fd, &t, sizeof(t), (off_t)mem->fd_size))
		goto io;
	if (close(fd) < 0)
		return fail(err, "cannot write the memory file '%s': %s", path, strerror(errno));
	return 0;
io:
	fail(err, "cannot write the memory file '%s': %s", path, strerror(errno));
	close(fd);
	unlink(path);
	return -1;
}

static void put_config(struct snap_writer *w, const struct vm_options *o)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f) {
		w->failed = true;
		return;
	}
	fprintf(f, "image=%s\nmem_size=%llu\nmem_flags=%u\ncpus=%u\nring=%u\n", o->image ? o->image : "",
		(unsigned long long)o->mem_size, o->mem_flags, o->cpus, o->ring);
	fprintf(f, "virtio_console=%d\nuart_console=%d\nide=%d\nrng=%d\n", o->virtio_console, o->uart_console, o->ide,
		o->rng);
	for (unsigned i = 0; i < o->disk_count; i++)
		fprintf(f, "disk=%s\n", o->disks[i]);
	fclose(f);
	snap_begin(w, SNAP_SEC_CONFIG);
	snap_put(w, text, len);
	snap_end(w);
	free(text);
}

static int get_one(int fd, unsigned long req, void *arg, const char *what, unsigned cpu, char *err)
{
	if (ioctl(fd, req, arg) < 0)
		return fail(err, "CPU %u: %s failed: %s", cpu, what, strerror(errno));
	return 0;
}

/* The MSRs of `wanted_msrs` this host's KVM saves (KVM_GET_MSR_INDEX_LIST). */
static unsigned host_msrs(int kvm_fd, uint32_t out[MAX_MSRS])
{
	union {
		struct kvm_msr_list hdr;
		uint8_t room[sizeof(struct kvm_msr_list) + 4096 * sizeof(uint32_t)];
	} list = { .hdr.nmsrs = 4096 };
	unsigned n = 0;

	if (ioctl(kvm_fd, KVM_GET_MSR_INDEX_LIST, &list) < 0)
		list.hdr.nmsrs = 0;
	for (unsigned i = 0; i < sizeof(wanted_msrs) / sizeof(wanted_msrs[0]); i++) {
		bool listed = wanted_msrs[i] == 0x10; /* the TSC always */
		for (unsigned j = 0; j < list.hdr.nmsrs && !listed; j++)
			listed = list.hdr.indices[j] == wanted_msrs[i];
		if (listed && n < MAX_MSRS)
			out[n++] = wanted_msrs[i];
	}
	return n;
}

/* `restart`: the rip to save instead of the vCPU's (complete_exits), or 0. */
static int put_vcpu(struct snap_writer *w, struct vm *vm, struct vcpu *v, uint64_t restart, const uint32_t *msrs,
		    unsigned nmsrs, char *err)
{
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_xsave xsave;
	struct kvm_xcrs xcrs;
	struct kvm_debugregs dregs;
	struct kvm_vcpu_events events;
	struct kvm_mp_state mp = { 0 };
	struct kvm_lapic_state lapic = { 0 };
	unsigned i = v->index;

	if (get_one(v->fd, KVM_GET_REGS, &regs, "KVM_GET_REGS", i, err) ||
	    get_one(v->fd, KVM_GET_SREGS, &sregs, "KVM_GET_SREGS", i, err) ||
	    get_one(v->fd, KVM_GET_XSAVE, &xsave, "KVM_GET_XSAVE", i, err) ||
	    get_one(v->fd, KVM_GET_XCRS, &xcrs, "KVM_GET_XCRS", i, err) ||
	    get_one(v->fd, KVM_GET_DEBUGREGS, &dregs, "KVM_GET_DEBUGREGS", i, err) ||
	    get_one(v->fd, KVM_GET_VCPU_EVENTS, &events, "KVM_GET_VCPU_EVENTS", i, err))
		return -1;
	if (vm->irq.chip && (get_one(v->fd, KVM_GET_MP_STATE, &mp, "KVM_GET_MP_STATE", i, err) ||
			     get_one(v->fd, KVM_GET_LAPIC, &lapic, "KVM_GET_LAPIC", i, err)))
		return -1;
	if (restart)
		regs.rip = restart;
	snap_begin(w, SNAP_SEC_VCPU);
	snap_put_u32(w, i);
	snap_put_u32(w, v->state);
	snap_put_u64(w, v->start_rip);
	snap_put_u64(w, v->start_rsp);
	snap_put_u64(w, v->start_rdi);
	snap_put_u64(w, v->upcall_entry);
	snap_put_u64(w, v->upcall_info);
	snap_put_u64(w, v->mmu_gen);
	snap_put_u32(w, vm->irq.chip);
	snap_put(w, &regs, sizeof(regs));
	snap_put(w, &sregs, sizeof(sregs));
	snap_put(w, &xsave, sizeof(xsave));
	snap_put(w, &xcrs, sizeof(xcrs));
	snap_put(w, &dregs, sizeof(dregs));
	snap_put(w, &events, sizeof(events));
	snap_put(w, &mp, sizeof(mp));
	snap_put(w, &lapic, sizeof(lapic));
	/* One at a time: a host that refuses one still gives the others. */
	struct kvm_msr_entry got[MAX_MSRS];
	unsigned n = 0;
	for (unsigned k = 0; k < nmsrs; k++) {
		union {
			struct kvm_msrs hdr;
			uint8_t room[sizeof(struct kvm_msrs) + sizeof(struct kvm_msr_entry)];
		} one = { .hdr.nmsrs = 1 };
		one.hdr.entries[0].index = msrs[k];
		if (ioctl(v->fd, KVM_GET_MSRS, &one) == 1)
			got[n++] = one.hdr.entries[0];
	}
	snap_put_u32(w, n);
	snap_put(w, got, n * sizeof(got[0]));
	snap_end(w);
	return 0;
}

/* The guest-virtual byte at `va` under the vCPU's page tables, or -1. */
static int guest_byte(struct vm *vm, const struct kvm_sregs *s, uint64_t va)
{
	uint64_t pa;
	if (!(s->cr0 & 0x80000000u))
		pa = va; /* paging off */
	else if (!pagetable_translate(&vm->mem, s->cr3, va, &pa))
		return -1;
	const uint8_t *b = guest_mem_ptr_private(&vm->mem, pa, 1);
	return b ? *b : -1;
}

/* Where a vCPU parked inside a para call (in_call) has the call's `out`:
 * the restored vCPU must start there and make the call again. KVM does
 * not say whether its rip is still at that `out` or already past it: the
 * fast port I/O path steps over the instruction on the next KVM_RUN, but
 * its instruction emulator (a CPL0 guest without VT-x, and this host's
 * ring 3 too) steps over it before exiting to us. So finish the exit
 * with one KVM_RUN with immediate_exit (the live vCPU goes on past the
 * `out` when resumed, as it would have) and look: if rip moved, it was
 * at the `out`; if not, KVM had stepped already, and the call was a
 * 32-bit `out` to a port above 0xff, whose last byte is 0xef (`out dx,
 * eax`; a prefix before it changes nothing for a call), one byte back. */
static int call_rip(struct vm *vm, struct vcpu *v, uint64_t *rip, char *err)
{
	struct kvm_regs before, after;
	struct kvm_sregs sregs;
	unsigned i = v->index;

	/* Only para calls park (vm_checkpoint), and only after one 32-bit
	 * `out` to their port (para_port_io). A second snapshot in the same
	 * pause finds rip past it, like the emulator's case. */
	if (get_one(v->fd, KVM_GET_REGS, &before, "KVM_GET_REGS", i, err))
		return -1;
	__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	if (ioctl(v->fd, KVM_RUN, 0) == 0)
		return fail(err, "CPU %u: KVM_RUN with immediate_exit ran the guest; its call cannot be found", i);
	if (get_one(v->fd, KVM_GET_REGS, &after, "KVM_GET_REGS", i, err) ||
	    get_one(v->fd, KVM_GET_SREGS, &sregs, "KVM_GET_SREGS", i, err))
		return -1;
	/* Either way rip is past the `out` now. Check that rather than save a
	 * state that skips or garbles the call: refuse the snapshot. */
	uint64_t len = after.rip - before.rip;
	if (guest_byte(vm, &sregs, sregs.cs.base + after.rip - 1) != 0xef || len > 15)
		return fail(err, "CPU %u: cannot find the para call it is in (no `out dx, eax` before rip %#llx)", i,
			    (unsigned long long)after.rip);
	*rip = len ? before.rip : after.rip - 1;
	return 0;
}

/* A vCPU that left KVM_RUN for port I/O or MMIO has not finished the
 * instruction: KVM completes it on the next KVM_RUN. Do that now, without
 * entering the guest (immediate_exit), so the saved registers are past it.
 * A vCPU parked inside a call's handling (in_call) is saved at the call's
 * `out` instead (call_rip), so the restored vCPU makes it again: nothing of
 * it has reached the guest or the outside (the console write and POLL,
 * which park, return before they park once they have done anything).
 * restart[i] is that rip, or 0. */
static int complete_exits(struct vm *vm, uint64_t restart[VM_MAX_CPUS], char *err)
{
	for (unsigned i = 0; i < vm->cpu_count; i++) {
		struct vcpu *v = &vm->vcpus[i];
		pthread_mutex_lock(&vm->ctl.lock);
		bool running = i == 0 || v->state == VCPU_RUNNING, in_call = v->in_call;
		pthread_mutex_unlock(&vm->ctl.lock);
		restart[i] = 0;
		if (in_call) {
			if (call_rip(vm, v, &restart[i], err))
				return -1;
			continue;
		}
		if (!running)
			continue;
		__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
		if (ioctl(v->fd, KVM_RUN, 0) == 0)
			log_warn("CPU %u: KVM_RUN with immediate_exit ran the guest", i);
	}
	return 0;
}

int snapshot_create(struct vm *vm, const char *state_path, const char *mem_path, char err[SNAPSHOT_ERR_MAX])
{
	const struct vm_options *o = vm->options;
	struct snap_writer w;
	struct snap_header h = { 0 };
	uint64_t t0 = stats_now_ns();

	pthread_mutex_lock(&vm->ctl.lock);
	bool paused = vm->ctl.paused;
	uint64_t paused_at = vm->ctl.paused_at_ns;
	pthread_mutex_unlock(&vm->ctl.lock);
	if (!paused)
		return fail(err, "the VM must be paused first (PATCH /vm {\"state\": \"Paused\"})");
	if (!o)
		return fail(err, "internal error: the VM has no recorded configuration");
	for (unsigned i = 0; i < vm->virtio_count; i++)
		if (!virtio_can_save(vm->virtio[i]))
			return fail(err, "device %s cannot be snapshotted yet (no save support); "
					 "the devices with it are listed in docs/snapshot.md", vm->virtio[i]->ops->name);
	if (!emulated_can_save(vm))
		return fail(err, "device ne2000 cannot be snapshotted yet (no save support); "
				 "the devices with it are listed in docs/snapshot.md");
	if (strcmp(state_path, mem_path) == 0)
		return fail(err, "snapshot_path and mem_file_path are the same file");

	uint64_t restart[VM_MAX_CPUS];
	if (complete_exits(vm, restart, err))
		return -1;

	int api = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);
	int khz = ioctl(vm->vcpu_fd, KVM_GET_TSC_KHZ, 0);
	h.kvm_api = api > 0 ? (uint32_t)api : 0;
	h.tsc_khz = khz > 0 ? (uint64_t)khz : 0;
	h.abi_sizes = snapshot_abi_sizes();
	if (getrandom(h.id, sizeof(h.id), 0) != (ssize_t)sizeof(h.id))
		return fail(err, "cannot draw the snapshot's id: %s", strerror(errno));

	snap_writer_init(&w);
	put_config(&w, o);

	snap_begin(&w, SNAP_SEC_MEMORY);
	snap_put_u64(&w, vm->mem.fd_size);
	snap_put_u32(&w, vm->mem.nregions);
	for (unsigned i = 0; i < vm->mem.nregions; i++) {
		const struct guest_mem_region *r = &vm->mem.region[i];
		snap_put_u64(&w, r->gpa);
		snap_put_u64(&w, r->size);
		snap_put_u64(&w, r->fd_offset);
		snap_put_u32(&w, r->flags);
	}
	snap_end(&w);

	/* The VM: the guest's time at the pause, the irqchip, KVM's clock. */
	uint64_t clock_ns = paused_at - __atomic_load_n(&vm->mono_base_ns, __ATOMIC_ACQUIRE);
	uint64_t page_ns = vm->pvclock ? pvclock_paused_ns(vm->pvclock) : 0;
	struct kvm_clock_data kclock = { 0 };
	if (ioctl(vm->vm_fd, KVM_GET_CLOCK, &kclock) < 0) {
		snap_writer_free(&w);
		return fail(err, "KVM_GET_CLOCK failed: %s", strerror(errno));
	}
	snap_begin(&w, SNAP_SEC_VM);
	snap_put_u64(&w, page_ns > clock_ns ? page_ns : clock_ns);
	snap_put_u64(&w, kclock.clock);
	snap_put_u32(&w, vm->irq.chip);
	snap_put(&w, vm->irq.dest, sizeof(vm->irq.dest));
	for (uint32_t chip = 0; chip < 3 && vm->irq.chip; chip++) {
		struct kvm_irqchip c = { .chip_id = chip };
		if (ioctl(vm->vm_fd, KVM_GET_IRQCHIP, &c) < 0) {
			snap_writer_free(&w);
			return fail(err, "KVM_GET_IRQCHIP failed: %s", strerror(errno));
		}
		snap_put(&w, &c, sizeof(c));
	}
	snap_end(&w);

	snap_begin(&w, SNAP_SEC_PVMMU);
	pvmmu_save(vm, &w);
	snap_end(&w);

	uint32_t msrs[MAX_MSRS];
	unsigned nmsrs = host_msrs(vm->kvm_fd, msrs);
	for (unsigned i = 0; i < vm->cpu_count; i++)
		if (put_vcpu(&w, vm, &vm->vcpus[i], restart[i], msrs, nmsrs, err)) {
			snap_writer_free(&w);
			return -1;
		}
	for (unsigned i = 0; i < vm->virtio_count; i++) {
		snap_begin(&w, SNAP_SEC_DEVICE);
		snap_put_str(&w, vm->virtio[i]->ops->name);
		virtio_save(vm->virtio[i], &w);
		snap_end(&w);
	}
	if (vm->emulated) {
		snap_begin(&w, SNAP_SEC_EMULATED);
		emulated_save(vm, &w);
		snap_end(&w);
	}
	if (snap_finish(&w, &h)) {
		snap_writer_free(&w);
		return fail(err, "out of memory building the snapshot");
	}
	if (write_memory(vm, mem_path, h.id, err)) {
		snap_writer_free(&w);
		return -1;
	}
	/* The state file last, and whole or not at all: a reader never finds
	 * a half-written one (nor one paired with an old memory file). */
	size_t tl = strlen(state_path) + 8;
	char *tmp = malloc(tl);
	int fd = -1;
	if (tmp) {
		snprintf(tmp, tl, "%s.tmp", state_path);
		fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	}
	if (fd < 0 || write_all(fd, w.buf, w.len, 0) || close(fd) < 0 || rename(tmp, state_path) < 0) {
		fail(err, "cannot write the snapshot file '%s': %s", state_path, strerror(errno ? errno : ENOMEM));
		if (tmp)
			unlink(tmp);
		free(tmp);
		snap_writer_free(&w);
		return -1;
	}
	free(tmp);
	log_info("snapshot written: %s (%zu bytes), %s (%llu MiB of memory) in %.1f ms", state_path, w.len, mem_path,
		 (unsigned long long)(vm->mem.fd_size >> 20), (stats_now_ns() - t0) / 1e6);
	snap_writer_free(&w);
	return 0;
}

/* ---- open and check ---------------------------------------------------------- */

static int read_whole(const char *path, uint8_t **buf, size_t *len, char *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;

	if (fd < 0)
		return fail(err, "cannot open snapshot '%s': %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > (off_t)(SNAP_MAX_SECTIONS * (uint64_t)SNAP_MAX_SECTION)) {
		close(fd);
		return fail(err, "snapshot '%s' is not a regular file of a sensible size", path);
	}
	*len = (size_t)st.st_size;
	*buf = malloc(*len ? *len : 1);
	if (!*buf) {
		close(fd);
		return fail(err, "out of memory reading snapshot '%s'", path);
	}
	size_t got = 0;
	while (got < *len) {
		ssize_t n = read(fd, *buf + got, *len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (got != *len) {
		free(*buf);
		return fail(err, "cannot read snapshot '%s'", path);
	}
	return 0;
}

void snapshot_close(struct snapshot *s)
{
	if (!s)
		return;
	snap_file_free(&s->file);
	if (s->mem_fd >= 0)
		close(s->mem_fd);
	free(s->state_path);
	free(s->mem_path);
	free(s->config);
	for (unsigned i = 0; i < sizeof(s->strings) / sizeof(s->strings[0]); i++)
		free(s->strings[i]);
	free(s);
}

struct snapshot *snapshot_open(const char *state_path, const char *mem_path, char err[SNAPSHOT_ERR_MAX])
{
	struct snapshot *s = calloc(1, sizeof(*s));
	char why[SNAP_ERR_MAX];
	uint8_t *buf = NULL;
	size_t len = 0;

	if (!s) {
		fail(err, "out of memory");
		return NULL;
	}
	s->mem_fd = -1;
	s->state_path = strdup(state_path);
	s->mem_path = mem_path ? strdup(mem_path) : snapshot_default_mem_path(state_path);
	if (!s->state_path || !s->mem_path) {
		fail(err, "out of memory");
		goto bad;
	}
	if (read_whole(state_path, &buf, &len, err))
		goto bad;
	if (snap_parse(&s->file, buf, len, snapshot_abi_sizes(), why)) {
		fail(err, "snapshot '%s' is refused: %s", state_path, why);
		goto bad;
	}
	const struct snap_header *h = &s->file.header;
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	int api = kvm >= 0 ? ioctl(kvm, KVM_GET_API_VERSION, 0) : -1;
	if (kvm >= 0)
		close(kvm);
	if (api >= 0 && (uint32_t)api != h->kvm_api) {
		fail(err, "snapshot '%s' is refused: written under KVM API %u, this host has %d", state_path, h->kvm_api,
		     api);
		goto bad;
	}
	for (unsigned i = 0; i < s->file.count; i++) {
		const struct snap_section *sec = &s->file.sec[i];
		switch (sec->type) {
		case SNAP_SEC_CONFIG:
			if (s->config || sec->length >= CONFIG_MAX)
				goto malformed;
			s->config = calloc(1, (size_t)sec->length + 1);
			if (!s->config)
				goto malformed;
			memcpy(s->config, sec->data, (size_t)sec->length);
			break;
		/* One of each, as create writes them: a second one is not
		 * quietly preferred to the first. */
		case SNAP_SEC_MEMORY:
			if (s->memory)
				goto malformed;
			s->memory = sec;
			break;
		case SNAP_SEC_VM:
			if (s->vmsec)
				goto malformed;
			s->vmsec = sec;
			break;
		case SNAP_SEC_PVMMU:
			if (s->pvmmu)
				goto malformed;
			s->pvmmu = sec;
			break;
		case SNAP_SEC_VCPU:
			if (s->vcpus >= VM_MAX_CPUS)
				goto malformed;
			s->vcpu[s->vcpus++] = sec;
			break;
		case SNAP_SEC_EMULATED:
			if (s->emulated)
				goto malformed;
			s->emulated = sec;
			break;
		case SNAP_SEC_DEVICE:
			if (s->devices >= PVMM_MAX_DEVICES)
				goto malformed;
			s->device[s->devices++] = sec;
			break;
		default:
			fail(err, "snapshot '%s' is refused: it has a section of unknown type %u", state_path, sec->type);
			goto bad;
		}
	}
	if (!s->config || !s->memory || !s->vmsec || !s->pvmmu || !s->vcpus)
		goto malformed;
	struct snap_reader r;
	snap_reader_init(&r, s->vmsec);
	s->guest_ns = snap_get_u64(&r);

	/* The memory file: its trailer names this snapshot, and its size fits. */
	s->mem_fd = open(s->mem_path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (s->mem_fd < 0) {
		fail(err, "cannot open the snapshot's memory file '%s': %s", s->mem_path, strerror(errno));
		goto bad;
	}
	snap_reader_init(&r, s->memory);
	uint64_t image = snap_get_u64(&r);
	struct snap_mem_trailer *t = &s->trailer;
	uint32_t crc;
	if (fstat(s->mem_fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != image + SNAP_MEM_TRAILER ||
	    pread(s->mem_fd, t, sizeof(*t), (off_t)image) != (ssize_t)sizeof(*t) ||
	    memcmp(t->magic, SNAP_MEM_MAGIC, 8) != 0 || (crc = t->trailer_crc, t->trailer_crc = 0,
							  snap_crc32(0, t, sizeof(*t)) != crc) ||
	    t->image_size != image) {
		fail(err, "memory file '%s' is refused: it is not a pvmm memory file of this snapshot's size (truncated or "
			  "corrupt)", s->mem_path);
		goto bad;
	}
	t->trailer_crc = crc;
	if (memcmp(t->id, h->id, sizeof(t->id)) != 0) {
		fail(err, "memory file '%s' is refused: it belongs to another snapshot than '%s'", s->mem_path,
		     state_path);
		goto bad;
	}
	return s;
malformed:
	fail(err, "snapshot '%s' is refused: its sections are incomplete or malformed", state_path);
bad:
	snapshot_close(s);
	return NULL;
}

uint64_t snapshot_guest_ns(const struct snapshot *s)
{
	return s->guest_ns;
}

/* ---- options from the saved configuration ------------------------------------ */

static char *keep(struct snapshot *s, const char *v)
{
	for (unsigned i = 0; i < sizeof(s->strings) / sizeof(s->strings[0]); i++)
		if (!s->strings[i])
			return s->strings[i] = strdup(v);
	return NULL;
}

/* A decimal number with nothing around it, at most `max`. */
static bool config_number(const char *v, unsigned long long max, unsigned long long *out)
{
	char *end;
	if (*v < '0' || *v > '9')
		return false;
	errno = 0;
	*out = strtoull(v, &end, 10);
	return !errno && !*end && *out <= max;
}

/* The configuration put_config() writes: every key once (disk up to
 * MACHINE_MAX_DEVICES times), each with a value of its kind. Anything else
 * (an unknown, missing or repeated key, an empty or malformed value) is
 * refused with `why` naming it: the file is not trusted. */
static int parse_config(struct snapshot *s, struct vm_options *opt, char *text, char *why, size_t why_len)
{
	enum { IMAGE, MEM_SIZE, MEM_FLAGS, CPUS, RING, VCONSOLE, UART, IDE, RNG, DISK, NKEYS };
	static const struct {
		const char *name;
		unsigned long long max; /* 0: a string */
	} keys[NKEYS] = {
		[IMAGE] = { "image", 0 },	   [MEM_SIZE] = { "mem_size", UINT64_MAX },
		[MEM_FLAGS] = { "mem_flags", UINT32_MAX }, [CPUS] = { "cpus", VM_MAX_CPUS },
		[RING] = { "ring", 3 },		   [VCONSOLE] = { "virtio_console", 1 },
		[UART] = { "uart_console", 1 },	   [IDE] = { "ide", 1 },
		[RNG] = { "rng", 1 },		   [DISK] = { "disk", 0 },
	};
	unsigned seen[NKEYS] = { 0 };
	char *save = NULL;

	opt->disk_count = 0;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(line, '=');
		unsigned k = 0;
		if (eq)
			*eq = '\0';
		while (k < NKEYS && strcmp(line, keys[k].name) != 0)
			k++;
		if (k == NKEYS) {
			snprintf(why, why_len, "unknown key '%.40s'", line);
			return -1;
		}
		if (!eq || !eq[1]) {
			snprintf(why, why_len, "key '%s' has no value", keys[k].name);
			return -1;
		}
		if (seen[k]++ && k != DISK) {
			snprintf(why, why_len, "key '%s' is repeated", keys[k].name);
			return -1;
		}
		const char *v = eq + 1;
		unsigned long long n = 0;
		if (keys[k].max && !config_number(v, keys[k].max, &n)) {
			snprintf(why, why_len, "key '%s' has the value '%.40s', not a number up to %llu", keys[k].name, v,
				 keys[k].max);
			return -1;
		}
		switch (k) {
		case IMAGE:
			if (!(opt->image = keep(s, v))) {
				snprintf(why, why_len, "out of memory");
				return -1;
			}
			break;
		case MEM_SIZE: opt->mem_size = n; break;
		case MEM_FLAGS: opt->mem_flags = (uint32_t)n; break;
		case CPUS: opt->cpus = (unsigned)n; break;
		case RING: opt->ring = (unsigned)n; break;
		case VCONSOLE: opt->virtio_console = n; break;
		case UART: opt->uart_console = n; break;
		case IDE: opt->ide = n; break;
		case RNG: opt->rng = n; break;
		case DISK:
			if (opt->disk_count >= MACHINE_MAX_DEVICES) {
				snprintf(why, why_len, "more than %u disks", MACHINE_MAX_DEVICES);
				return -1;
			}
			if (!(opt->disks[opt->disk_count] = keep(s, v))) {
				snprintf(why, why_len, "out of memory");
				return -1;
			}
			opt->disk_count++;
			break;
		}
	}
	for (unsigned k = 0; k < NKEYS; k++)
		if (!seen[k] && k != DISK) {
			snprintf(why, why_len, "key '%s' is missing", keys[k].name);
			return -1;
		}
	if (opt->cpus < 1 || opt->cpus != s->vcpus) {
		snprintf(why, why_len, "it has %u CPUs and %u CPU states", opt->cpus, s->vcpus);
		return -1;
	}
	if (opt->ring != 0 && opt->ring != 3) {
		snprintf(why, why_len, "ring is neither 0 nor 3");
		return -1;
	}
	/* What --mem and PUT /machine-config allow: no VM pvmm built has
	 * another size, and the memory layout is built from it. */
	if (opt->mem_size < MEM_MIN || opt->mem_size > MEM_MAX || opt->mem_size % HUGE_PAGE_SIZE) {
		snprintf(why, why_len, "mem_size %llu is not 4 MiB to 3 GiB in whole 2 MiB",
			 (unsigned long long)opt->mem_size);
		return -1;
	}
	return 0;
}

int snapshot_options(struct snapshot *s, struct vm_options *opt)
{
	char why[160] = "";
	char *text = strdup(s->config);

	if (!text) {
		log_error("out of memory");
		return -1;
	}
	int bad = parse_config(s, opt, text, why, sizeof(why));
	free(text);
	if (bad) {
		log_error("snapshot '%s' is refused: its configuration is malformed: %s", s->state_path, why);
		return -1;
	}
	opt->guest_argc = 1;
	opt->restore = s;
	opt->devices.count = 0;
	return vm_options_request_devices(opt);
}

/* ---- restore ----------------------------------------------------------------- */

int snapshot_restore_memory(struct vm *vm, const struct snapshot *s)
{
	struct guest_mem *mem = &vm->mem;
	struct snap_reader r;
	char why[SNAPSHOT_ERR_MAX] = "";
	uint64_t t0 = stats_now_ns();

	snap_reader_init(&r, s->memory);
	uint64_t fd_size = snap_get_u64(&r);
	uint32_t n = snap_get_u32(&r);
	bool same = fd_size == mem->fd_size && n == mem->nregions;
	for (unsigned i = 0; i < n && same; i++) {
		const struct guest_mem_region *g = &mem->region[i];
		uint64_t gpa = snap_get_u64(&r), size = snap_get_u64(&r), off = snap_get_u64(&r);
		uint32_t flags = snap_get_u32(&r);
		same = !r.bad && gpa == g->gpa && size == g->size && off == g->fd_offset && flags == g->flags;
	}
	if (!same || r.bad || r.left) {
		log_error("snapshot '%s' is refused: its memory layout differs from the one this pvmm builds",
			  s->state_path);
		return -1;
	}
	uint8_t *buf = malloc(COPY_CHUNK);
	if (!buf) {
		log_error("out of memory");
		return -1;
	}
	uint32_t crc = 0;
	uint64_t pages = 0;
	int ret = 0;
	for (unsigned i = 0; i < mem->nregions && !ret; i++) {
		const struct guest_mem_region *g = &mem->region[i];
		uint64_t off = g->fd_offset, end = g->fd_offset + g->size, a, b;
		while (!ret && next_extent(s->mem_fd, off, end, &a, &b)) {
			for (uint64_t p = a; p < b && !ret; p += COPY_CHUNK) {
				size_t want = (size_t)(b - p < COPY_CHUNK ? b - p : COPY_CHUNK);
				if (pread(s->mem_fd, buf, want, (off_t)p) != (ssize_t)want) {
					snprintf(why, sizeof(why), "cannot read it: %s", strerror(errno ? errno : EIO));
					ret = -1;
					break;
				}
				/* Only pages with data are written: the rest stay holes. */
				for (size_t k = 0; k < want; k += PAGE)
					if (!page_is_zero(buf + k)) {
						crc_page(&crc, (p + k) / PAGE, buf + k);
						pages++;
						memcpy(g->host + (p + k - g->fd_offset), buf + k, PAGE);
					}
			}
			off = b;
		}
	}
	free(buf);
	if (!ret && (pages != s->trailer.data_pages || crc != s->trailer.data_crc)) {
		snprintf(why, sizeof(why), "its contents do not match their checksum (corrupt)");
		ret = -1;
	}
	if (ret) {
		log_error("memory file '%s' is refused: %s", s->mem_path, why);
		return -1;
	}
	snap_reader_init(&r, s->pvmmu);
	if (pvmmu_load(vm, &r, why, sizeof(why)) || r.left) {
		log_error("snapshot '%s' is refused: %s", s->state_path, why[0] ? why : "its PV MMU state is malformed");
		return -1;
	}
	log_debug("restored %llu pages of memory in %.1f ms", (unsigned long long)pages, (stats_now_ns() - t0) / 1e6);
	return 0;
}

static int set_one(int fd, unsigned long req, void *arg, const char *what, unsigned cpu)
{
	if (ioctl(fd, req, arg) < 0) {
		log_error("restore: CPU %u: %s failed: %s", cpu, what, strerror(errno));
		return -1;
	}
	return 0;
}

static int load_vcpu(struct vm *vm, struct vcpu *v, const struct snap_section *sec)
{
	struct snap_reader r;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_xsave xsave;
	struct kvm_xcrs xcrs;
	struct kvm_debugregs dregs;
	struct kvm_vcpu_events events;
	struct kvm_mp_state mp;
	struct kvm_lapic_state lapic;
	union {
		struct kvm_msrs hdr;
		uint8_t room[sizeof(struct kvm_msrs) + MAX_MSRS * sizeof(struct kvm_msr_entry)];
	} msrs;

	snap_reader_init(&r, sec);
	unsigned i = snap_get_u32(&r);
	uint32_t state = snap_get_u32(&r);
	v->start_rip = snap_get_u64(&r);
	v->start_rsp = snap_get_u64(&r);
	v->start_rdi = snap_get_u64(&r);
	uint64_t upcall_entry = snap_get_u64(&r);
	uint64_t upcall_info = snap_get_u64(&r);
	v->mmu_gen = snap_get_u64(&r);
	uint32_t chip = snap_get_u32(&r);
	snap_get(&r, &regs, sizeof(regs));
	snap_get(&r, &sregs, sizeof(sregs));
	snap_get(&r, &xsave, sizeof(xsave));
	snap_get(&r, &xcrs, sizeof(xcrs));
	snap_get(&r, &dregs, sizeof(dregs));
	snap_get(&r, &events, sizeof(events));
	snap_get(&r, &mp, sizeof(mp));
	snap_get(&r, &lapic, sizeof(lapic));
	uint32_t n = snap_get_u32(&r);
	if (n > MAX_MSRS)
		r.bad = true;
	memset(&msrs, 0, sizeof(msrs));
	msrs.hdr.nmsrs = r.bad ? 0 : n;
	snap_get(&r, msrs.hdr.entries, msrs.hdr.nmsrs * sizeof(struct kvm_msr_entry));
	if (r.bad || r.left || i != v->index || state > VCPU_RUNNING || chip != vm->irq.chip) {
		log_error("snapshot: CPU %u's saved state is malformed", v->index);
		return -1;
	}
	/* The MSRs create saves, in its order (the TSC first), and no other:
	 * KVM would set any index the file names. */
	for (unsigned k = 0, w = 0; k < msrs.hdr.nmsrs; k++, w++) {
		const struct kvm_msr_entry *e = &msrs.hdr.entries[k];
		while (w < sizeof(wanted_msrs) / sizeof(wanted_msrs[0]) && wanted_msrs[w] != e->index)
			w++;
		if (w == sizeof(wanted_msrs) / sizeof(wanted_msrs[0]) || e->reserved) {
			log_error("snapshot: CPU %u's saved state is refused: MSR %#x is not one pvmm saves (or is out "
				  "of order)", i, e->index);
			return -1;
		}
	}
	/* Upcall state as PVMM_CALL_UPCALL would have recorded it (info 0
	 * without an entry), with the call's checks under the saved CR3. */
	int64_t uerr = upcall_entry || upcall_info ? upcall_check(vm, sregs.cr3, upcall_entry, upcall_info) : 0;
	if (!upcall_entry && upcall_info)
		uerr = -PVMM_EINVAL;
	if (uerr) {
		log_error("snapshot: CPU %u's saved state is refused: its upcall entry %#llx and info block %#llx "
			  "fail the checks of PVMM_CALL_UPCALL (%s)", i, (unsigned long long)upcall_entry,
			  (unsigned long long)upcall_info, uerr == -PVMM_EFAULT ? "the block is not the guest's "
			  "CPL3-writable memory" : "not a ring-3 VM, or the block is not 16-byte aligned");
		return -1;
	}
	v->upcall_entry = upcall_entry;
	v->upcall_info = upcall_info;
	/* Segments and control registers first (the mode regs are read in),
	 * then the registers, the FPU/SSE state, and the LAPIC after the
	 * irqchip; MSRs after the LAPIC (TSC deadline); events and MP state
	 * last, on the complete CPU. */
	if (set_one(v->fd, KVM_SET_SREGS, &sregs, "KVM_SET_SREGS", i) ||
	    set_one(v->fd, KVM_SET_REGS, &regs, "KVM_SET_REGS", i) ||
	    set_one(v->fd, KVM_SET_XSAVE, &xsave, "KVM_SET_XSAVE", i) ||
	    set_one(v->fd, KVM_SET_XCRS, &xcrs, "KVM_SET_XCRS", i) ||
	    set_one(v->fd, KVM_SET_DEBUGREGS, &dregs, "KVM_SET_DEBUGREGS", i) ||
	    (chip && set_one(v->fd, KVM_SET_LAPIC, &lapic, "KVM_SET_LAPIC", i)))
		return -1;
	if (n && ioctl(v->fd, KVM_SET_MSRS, &msrs) != (int)n) {
		log_error("restore: CPU %u: KVM_SET_MSRS took fewer than the %u saved MSRs", i, n);
		return -1;
	}
	if (set_one(v->fd, KVM_SET_VCPU_EVENTS, &events, "KVM_SET_VCPU_EVENTS", i) ||
	    (chip && set_one(v->fd, KVM_SET_MP_STATE, &mp, "KVM_SET_MP_STATE", i)))
		return -1;
	v->state = (enum vcpu_state)state;
	v->restored_running = i != 0 && state == VCPU_RUNNING;
	return 0;
}

int snapshot_restore_state(struct vm *vm, const struct snapshot *s)
{
	struct snap_reader r;

	snap_reader_init(&r, s->vmsec);
	(void)snap_get_u64(&r); /* guest time: snapshot_guest_ns() */
	struct kvm_clock_data kclock = { .clock = snap_get_u64(&r) };
	uint32_t chip = snap_get_u32(&r);
	uint8_t dest[24];
	snap_get(&r, dest, sizeof(dest));
	struct kvm_irqchip chips[3];
	for (unsigned c = 0; c < 3 && chip; c++)
		snap_get(&r, &chips[c], sizeof(chips[c]));
	if (r.bad || r.left || chip != vm->irq.chip) {
		log_error("snapshot '%s' is refused: its VM state is malformed or its devices differ", s->state_path);
		return -1;
	}
	if (s->vcpus != vm->cpu_count || s->devices != vm->virtio_count) {
		log_error("snapshot '%s' is refused: it has %u CPUs and %u virtio devices, the VM built from it %u and %u",
			  s->state_path, s->vcpus, s->devices, vm->cpu_count, vm->virtio_count);
		return -1;
	}
	/* The irqchip before any LAPIC; the routes the guest changed. */
	for (unsigned c = 0; c < 3 && chip; c++)
		if (ioctl(vm->vm_fd, KVM_SET_IRQCHIP, &chips[c]) < 0) {
			log_error("restore: KVM_SET_IRQCHIP failed: %s", strerror(errno));
			return -1;
		}
	for (unsigned pin = 0; pin < 24 && chip; pin++)
		if ((vm->irq.pins & (1u << pin)) && dest[pin] != vm->irq.dest[pin] && dest[pin] < vm->cpu_count)
			vm->irq.dest[pin] = dest[pin];
	if (ioctl(vm->vm_fd, KVM_SET_CLOCK, &kclock) < 0)
		log_warn("restore: KVM_SET_CLOCK failed: %s (pvmm guests do not use kvmclock)", strerror(errno));
	for (unsigned i = 0; i < vm->cpu_count; i++)
		if (load_vcpu(vm, &vm->vcpus[i], s->vcpu[i]))
			return -1;
	for (unsigned i = 0; i < s->devices; i++) {
		char name[64], why[SNAPSHOT_ERR_MAX];
		struct virtio_dev *d = vm->virtio[i];
		snap_reader_init(&r, s->device[i]);
		snap_get_str(&r, name, sizeof(name));
		if (r.bad || strcmp(name, d->ops->name) != 0) {
			log_error("snapshot '%s' is refused: its device %u is %s, the VM built from it has %s",
				  s->state_path, i, r.bad ? "malformed" : name, d->ops->name);
			return -1;
		}
		if (virtio_load(d, &r, why, sizeof(why))) {
			log_error("snapshot '%s' is refused: %s", s->state_path, why);
			return -1;
		}
	}
	if (!s->emulated != !vm->emulated) {
		log_error("snapshot '%s' is refused: the VM built from it %s emulated devices and the snapshot %s",
			  s->state_path, vm->emulated ? "has" : "has no", s->emulated ? "has" : "has none");
		return -1;
	}
	if (vm->emulated) {
		snap_reader_init(&r, s->emulated);
		if (emulated_load(vm, &r))
			return -1;
	}
	/* Wake-ups the old process had not delivered yet are gone with it:
	 * one spurious wake of each POLL source makes the guest look again. */
	uint64_t one = 1;
	for (unsigned i = 0; i < vm->device_count; i++)
		if (vm->ready_fd[i] >= 0 && write(vm->ready_fd[i], &one, sizeof(one)) < 0)
			log_debug("restore: cannot wake device %u's POLL", i);
	for (unsigned i = 0; i < vm->cpu_count; i++)
		if (vm->ctl.cpu_wake_fd[i] >= 0 && write(vm->ctl.cpu_wake_fd[i], &one, sizeof(one)) < 0)
			log_debug("restore: cannot wake CPU %u's POLL", i);
	return 0;
}
