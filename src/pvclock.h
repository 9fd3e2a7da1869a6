/*
 * The PV clock page (para-API 1.3): monotonic time a guest reads with
 * rdtsc and a few loads instead of a CLOCK call, i.e. without an exit.
 * The monitor publishes tsc_base/ns_base and the TSC's rate as mult/shift
 * (struct pvmm_clock_page, include/pvmm/para.h) at boot and again when
 * the VM resumes from a pause, so the page's clock stands still while
 * paused, as the CLOCK call's does.
 */
#ifndef PVMM_PVCLOCK_H
#define PVMM_PVCLOCK_H

#include <stdbool.h>
#include <stdint.h>

#include <pvmm/para.h>

struct vm;

struct pvclock {
	struct vm *vm;
	struct pvmm_clock_page *page;  /* in guest RAM, at LAYOUT_CLOCK_PAGE */
	/* What the monitor last published. The guest can write its page, so
	 * the monitor never reads it back: it works from this copy. */
	struct pvmm_clock_page cur;
	uint64_t ns_at_pause;          /* guest time when the pause quiesced */
	bool active;                   /* published; boot info names the page */
};

/* mult and shift (0..32) such that (ticks * mult) >> shift is the ns of
 * `khz` kHz ticks, mult as large as 32 bits and shift <= 32 allow: mult
 * is at least 10^6, so the rate is off by at most 0.5 ppm (1e-10 at
 * 1..2 GHz). Returns 0, or -1 for a rate outside 1 kHz .. 2^32 - 1 kHz. */
int pvclock_scale_for_khz(uint64_t khz, uint32_t *mult, uint32_t *shift);

/* Write `cur`'s fields to `page` under the version protocol: version odd,
 * the fields, version even (cur->version advances by 2). */
void pvclock_publish(struct pvmm_clock_page *page, struct pvmm_clock_page *cur);

/* Set up vm's clock page: the TSC rate from KVM, the guest TSC at guest
 * time now (hypercall_guest_now: call after vm->mono_base_ns is set and
 * before the vCPUs run), the pause hooks, and boot info clock_page.
 * Returns 0; where the host gives no stable TSC, the VM simply has no
 * page (boot info clock_page 0: guests make the CLOCK call). -1 only for
 * an internal error (logged). */
int pvclock_setup(struct pvclock *pc, struct vm *vm);

/* The guest time a snapshot of the paused VM records: where the page's
 * clock stood at the pause, and never behind the CLOCK call's. */
uint64_t pvclock_paused_ns(const struct pvclock *pc);

#endif
