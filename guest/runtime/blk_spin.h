/*
 * How long the virtio-blk driver spins on the used ring before it sleeps
 * in POLL (blk.c, spin_for_used), where guest code runs natively.
 *
 * The spin adapts to the device, as the device's poll window adapts to
 * the driver. An answer that came within BLK_SPIN_MAX_NS of the wait's
 * start (during the spin, or after POLL) makes the next spin
 * BLK_SPIN_MAX_NS; a slower one (a slow disk, writes on a busy host)
 * halves it, and under BLK_SPIN_MIN_NS there is no spin. A wait that
 * slept in POLL also counts the vCPU's wake-up, so a device that became
 * fast again might never look fast from there: while the spin is off,
 * every BLK_SPIN_PROBE_EVERY-th wait spins the full BLK_SPIN_MAX_NS once
 * to find out. A disk that answers in milliseconds thus costs about two
 * full spins, then one every BLK_SPIN_PROBE_EVERY waits (~6 us a wait).
 *
 * Measured here (2026-12-03, ring 3, 4 KiB reads from the page cache at
 * 32 in flight): the device answers a round in ~40-80 us, which the
 * fixed 30 us spin of before missed in most rounds (one POLL exit per ~50
 * requests); with 100 us almost every round is caught.
 *
 * Header-only and free of the runtime, so the host's unit tests
 * (tests/unit/test_blk_spin.c) compile the same policy.
 */
#ifndef PVMM_GUEST_BLK_SPIN_H
#define PVMM_GUEST_BLK_SPIN_H

#include <stdint.h>

#define BLK_SPIN_MAX_NS 100000u
#define BLK_SPIN_MIN_NS 2000u     /* below this, no spin */
#define BLK_SPIN_PROBE_EVERY 16u  /* while off, one full spin per this many waits */

struct blk_spin {
	uint32_t ns;        /* the spin while it is on */
	uint32_t off_waits; /* waits since the spin went off or last probed */
};

static inline void blk_spin_init(struct blk_spin *s)
{
	s->ns = BLK_SPIN_MAX_NS;
	s->off_waits = 0;
}

/* How long this wait spins (0: none). */
static inline uint32_t blk_spin_for_wait(struct blk_spin *s)
{
	if (s->ns >= BLK_SPIN_MIN_NS)
		return s->ns;
	if (++s->off_waits >= BLK_SPIN_PROBE_EVERY) {
		s->off_waits = 0;
		return BLK_SPIN_MAX_NS; /* the probe */
	}
	return 0;
}

/* The wait's answer came `waited_ns` after the wait began. */
static inline void blk_spin_answered(struct blk_spin *s, uint64_t waited_ns)
{
	if (waited_ns <= BLK_SPIN_MAX_NS) {
		s->ns = BLK_SPIN_MAX_NS;
		s->off_waits = 0;
	} else {
		s->ns /= 2;
	}
}

#endif
