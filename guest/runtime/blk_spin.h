/*
 * How long the virtio-blk driver spins on the used ring before it sleeps
 * in POLL (blk.c, spin_for_used), where guest code runs natively.
 *
 * The spin adapts to the device, as the device's poll window adapts to
 * the driver: a wait that a spin of BLK_SPIN_MAX_NS would have covered
 * (its answer came that soon, during the spin or after POLL) makes the
 * next spin BLK_SPIN_MAX_NS; one that took longer (a slow disk, writes
 * on a busy host) halves it, and under BLK_SPIN_MIN_NS there is no spin
 * at all, so waiting on slow I/O burns no guest CPU. Measured here
 * (2026-12-03, ring 3, 4 KiB reads from the page cache at 32 in flight):
 * the device answers a round in ~40-80 us, which the fixed 30 us spin of
 * before missed in most rounds (one POLL exit per ~50 requests); with
 * 100 us almost every round is caught (2-10 POLLs per 32000 requests).
 *
 * Header-only and free of the runtime, so the host's unit tests
 * (tests/unit/test_blk_spin.c) compile the same policy.
 */
#ifndef PVMM_GUEST_BLK_SPIN_H
#define PVMM_GUEST_BLK_SPIN_H

#include <stdint.h>

#define BLK_SPIN_MAX_NS 100000u
#define BLK_SPIN_MIN_NS 2000u /* below this, no spin */

/* The spin for the next wait, after one that spun `spin_ns` and got its
 * answer `waited_ns` after it began. */
static inline uint32_t blk_spin_next(uint32_t spin_ns, uint64_t waited_ns)
{
	if (waited_ns <= BLK_SPIN_MAX_NS)
		return BLK_SPIN_MAX_NS;
	return spin_ns / 2;
}

/* Whether a wait spins at all. */
static inline int blk_spin_on(uint32_t spin_ns)
{
	return spin_ns >= BLK_SPIN_MIN_NS;
}

#endif
