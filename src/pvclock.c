#include "pvclock.h"

#include <cpuid.h>
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#if __has_include(<sys/platform/x86.h>)
#include <sys/platform/x86.h> /* glibc 2.33+: the CPUID bits it read at start-up */
#endif

#include <linux/kvm.h>

#include "bootinfo.h"
#include "hypercall.h"
#include "layout.h"
#include "log.h"
#include "stats.h"
#include "vm.h"
#include "vmctl.h"

#define MSR_IA32_TSC 0x10u
/* A TSC read whose host clock readings lie further apart than this is
 * retried (the thread was preempted): it would blur ns_base. */
#define PAIR_SLACK_NS 20000u
#define PAIR_TRIES 8

int pvclock_scale_for_khz(uint64_t khz, uint32_t *mult, uint32_t *shift)
{
	if (khz == 0 || khz > UINT32_MAX)
		return -1;
	/* ns per tick = 10^6 / khz. Take the largest shift whose mult still
	 * fits in 32 bits: 10^6 * 2^shift / khz < 2^32. */
	for (uint32_t s = 32;; s--) {
		unsigned __int128 scaled = ((unsigned __int128)1000000u << s) + khz / 2;
		unsigned __int128 m = scaled / khz;
		if (m <= UINT32_MAX) {
			*mult = (uint32_t)m;
			*shift = s;
			return 0;
		}
		if (s == 0)
			return -1; /* cannot happen for khz >= 1: 10^6 < 2^32 */
	}
}

void pvclock_publish(struct pvmm_clock_page *page, struct pvmm_clock_page *cur)
{
	uint32_t v = cur->version | 1;

	__atomic_store_n(&page->version, v, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	__atomic_store_n(&page->flags, cur->flags, __ATOMIC_RELAXED);
	__atomic_store_n(&page->mult, cur->mult, __ATOMIC_RELAXED);
	__atomic_store_n(&page->shift, cur->shift, __ATOMIC_RELAXED);
	__atomic_store_n(&page->tsc_base, cur->tsc_base, __ATOMIC_RELAXED);
	__atomic_store_n(&page->ns_base, cur->ns_base, __ATOMIC_RELAXED);
	__atomic_store_n(&page->tsc_khz, cur->tsc_khz, __ATOMIC_RELAXED);
	for (unsigned i = 0; i < sizeof(page->reserved) / sizeof(page->reserved[0]); i++)
		__atomic_store_n(&page->reserved[i], 0, __ATOMIC_RELAXED);
	cur->version = v + 1;
	__atomic_store_n(&page->version, cur->version, __ATOMIC_RELEASE);
}

/* The guest's TSC (vCPU 0's IA32_TSC: KVM's offset applied) and the
 * guest time at that moment, the midpoint of host clock readings around
 * the read. Only while no vCPU runs in KVM_RUN (before boot, paused). */
static int read_guest_tsc(struct vm *vm, uint64_t *tsc, uint64_t *guest_ns)
{
	/* struct kvm_msrs ends in a flexible array: room for one entry. */
	union {
		struct kvm_msrs hdr;
		uint8_t room[sizeof(struct kvm_msrs) + sizeof(struct kvm_msr_entry)];
	} msrs;
	uint64_t best = UINT64_MAX;

	for (int i = 0; i < PAIR_TRIES && best > PAIR_SLACK_NS; i++) {
		memset(&msrs, 0, sizeof(msrs));
		msrs.hdr.nmsrs = 1;
		msrs.hdr.entries[0].index = MSR_IA32_TSC;
		uint64_t t0 = hypercall_guest_now(vm);
		int n = ioctl(vm->vcpu_fd, KVM_GET_MSRS, &msrs);
		uint64_t t1 = hypercall_guest_now(vm);
		if (n != 1)
			return -1;
		if (t1 - t0 < best) {
			best = t1 - t0;
			*tsc = msrs.hdr.entries[0].data;
			*guest_ns = t0 + (t1 - t0) / 2;
		}
	}
	return 0;
}

/* What the page says at guest TSC `tsc`. */
static uint64_t page_time(const struct pvmm_clock_page *p, uint64_t tsc)
{
	return p->ns_base + pvmm_clock_scale(tsc > p->tsc_base ? tsc - p->tsc_base : 0, p->mult, p->shift);
}

/* Pause hooks. Every vCPU is parked: note where the page's clock stands,
 * and never behind the CLOCK call's time, so a page that ran slow (TSC
 * rate vs the host's CLOCK_MONOTONIC) catches up at each pause. */
static void pvclock_quiesce(void *opaque)
{
	struct pvclock *pc = opaque;
	uint64_t tsc, at_tsc, page = 0;
	uint64_t clock = hypercall_guest_now(pc->vm);

	if (read_guest_tsc(pc->vm, &tsc, &at_tsc) == 0)
		page = page_time(&pc->cur, tsc);
	pc->ns_at_pause = page > clock ? page : clock;
}

uint64_t pvclock_paused_ns(const struct pvclock *pc)
{
	return pc->ns_at_pause;
}

/* Resume: the page's clock goes on from where it stood, at the TSC now. */
static void pvclock_resume(void *opaque)
{
	struct pvclock *pc = opaque;
	uint64_t tsc, now;

	if (read_guest_tsc(pc->vm, &tsc, &now)) {
		/* No TSC to restart from: take the page away, guests fall back
		 * to the CLOCK call (which stood still too). */
		pc->cur.flags &= ~PVMM_CLOCK_TSC_STABLE;
		log_warn("cannot read the guest TSC on resume: the PV clock page is withdrawn");
	} else {
		pc->cur.tsc_base = tsc;
		pc->cur.ns_base = pc->ns_at_pause;
	}
	pvclock_publish(pc->page, &pc->cur);
}

/* An invariant TSC ticks at one rate in every power state (CPUID
 * 0x80000007 EDX bit 8); without it the page's formula does not hold.
 * glibc's copy of the bit where it has one: each cpuid is a trap to the
 * hypervisor when pvmm runs in a VM (__get_cpuid's four cost ~45 us). */
static bool host_tsc_invariant(void)
{
#ifdef CPU_FEATURE_PRESENT
	return CPU_FEATURE_PRESENT(INVARIANT_TSC);
#else
	unsigned eax, ebx, ecx, edx;

	if (!__get_cpuid(0x80000000u, &eax, &ebx, &ecx, &edx) || eax < 0x80000007u)
		return false;
	__get_cpuid(0x80000007u, &eax, &ebx, &ecx, &edx);
	return edx & (1u << 8);
#endif
}

/* Every vCPU's TSC offset the same (vCPUs created together get one from
 * KVM): the formula then holds on all of them. Without the attribute
 * (kernels before 5.16) trust KVM's synchronization at creation. A single
 * vCPU agrees with itself: no ioctls at start-up. */
static bool vcpu_offsets_agree(struct vm *vm)
{
	uint64_t first = 0;

	if (vm->cpu_count < 2)
		return true;

	for (unsigned i = 0; i < vm->cpu_count; i++) {
		uint64_t off = 0;
		struct kvm_device_attr attr = { .group = KVM_VCPU_TSC_CTRL, .attr = KVM_VCPU_TSC_OFFSET,
						.addr = (uint64_t)(uintptr_t)&off };
		if (ioctl(vm->vcpus[i].fd, KVM_HAS_DEVICE_ATTR, &attr))
			return true;
		if (ioctl(vm->vcpus[i].fd, KVM_GET_DEVICE_ATTR, &attr))
			return false;
		if (i == 0)
			first = off;
		else if (off != first)
			return false;
	}
	return true;
}

int pvclock_setup(struct pvclock *pc, struct vm *vm)
{
	char err[BOOTINFO_ERR_MAX];
	uint64_t tsc, now;

	*pc = (struct pvclock){ .vm = vm };
	pc->page = guest_mem_ptr_private(&vm->mem, LAYOUT_CLOCK_PAGE, PAGE_SIZE);
	if (!pc->page)
		return -1;
	int khz = ioctl(vm->vcpu_fd, KVM_GET_TSC_KHZ, 0);
	if (khz <= 0 || pvclock_scale_for_khz((uint64_t)khz, &pc->cur.mult, &pc->cur.shift))
		return 0;
	if (!host_tsc_invariant() || !vcpu_offsets_agree(vm) || read_guest_tsc(vm, &tsc, &now))
		return 0;
	pc->cur.tsc_khz = (uint64_t)khz;
	pc->cur.tsc_base = tsc;
	pc->cur.ns_base = now;
	pc->cur.flags = PVMM_CLOCK_TSC_STABLE;
	if (vm_add_hook(vm, pvclock_quiesce, pvclock_resume, pc)) {
		log_error("internal error: no room for the PV clock's pause hooks");
		return -1;
	}
	pvclock_publish(pc->page, &pc->cur);
	if (bootinfo_set_clock_page(&vm->mem, LAYOUT_CLOCK_PAGE, err)) {
		log_error("%s", err);
		return -1;
	}
	pc->active = true;
	return 0;
}
