/*
 * The guest virtio-blk driver's spin before POLL (guest/runtime/blk_spin.h),
 * compiled on the host: the policy that keeps a fast device's answers off
 * the POLL exit and a slow device's waits off the CPU.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../guest/runtime/blk_spin.h"

#define SLOW_NS 2000000u /* a disk that answers in 2 ms */

/* A fresh device spins the longest; an answer within the longest spin
 * keeps it there, from any current spin. */
static void test_fast_answer_restores_full_spin(void **state)
{
	(void)state;
	struct blk_spin s;
	blk_spin_init(&s);
	assert_int_equal(blk_spin_for_wait(&s), BLK_SPIN_MAX_NS);
	blk_spin_answered(&s, 40000);
	assert_int_equal(blk_spin_for_wait(&s), BLK_SPIN_MAX_NS);
	s.ns = BLK_SPIN_MAX_NS / 4;
	blk_spin_answered(&s, BLK_SPIN_MAX_NS);
	assert_int_equal(blk_spin_for_wait(&s), BLK_SPIN_MAX_NS);
}

/* Answers slower than the longest spin halve it, and a few in a row turn
 * it off: a disk that answers in milliseconds costs a handful of short
 * spins, then only the probes. */
static void test_slow_answers_turn_spin_off(void **state)
{
	(void)state;
	struct blk_spin s;
	blk_spin_init(&s);
	blk_spin_answered(&s, BLK_SPIN_MAX_NS + 1);
	assert_int_equal(blk_spin_for_wait(&s), BLK_SPIN_MAX_NS / 2);
	blk_spin_init(&s);
	uint64_t spun = 0;
	unsigned waits = 0;
	for (uint32_t ns; (ns = blk_spin_for_wait(&s)) != 0; waits++) {
		assert_true(waits < 10);
		spun += ns;
		blk_spin_answered(&s, SLOW_NS);
	}
	/* 100 + 50 + 25 + ... us: under two full spins in all. */
	assert_true(spun < 2ull * BLK_SPIN_MAX_NS);
}

/* While off, one wait in BLK_SPIN_PROBE_EVERY spins in full: a slow
 * device costs one full spin per that many waits, and a device that got
 * fast again is found by the next probe even if every POLL wake-up makes
 * it look slow. */
static void test_off_spin_probes(void **state)
{
	(void)state;
	struct blk_spin s;
	blk_spin_init(&s);
	for (unsigned i = 0; blk_spin_for_wait(&s); i++) {
		assert_true(i < 10);
		blk_spin_answered(&s, SLOW_NS);
	}
	blk_spin_answered(&s, SLOW_NS); /* the wait that found it off */
	uint64_t spun = 0;
	unsigned probes = 0;
	for (unsigned i = 0; i < 10 * BLK_SPIN_PROBE_EVERY; i++) {
		uint32_t ns = blk_spin_for_wait(&s);
		spun += ns;
		probes += ns != 0;
		assert_true(ns == 0 || ns == BLK_SPIN_MAX_NS);
		blk_spin_answered(&s, SLOW_NS);
	}
	assert_int_equal(probes, 10);
	assert_int_equal(spun, 10ull * BLK_SPIN_MAX_NS);
	/* A probe that catches the answer turns the spin back on. */
	for (unsigned i = 0; !blk_spin_for_wait(&s); i++) {
		assert_true(i < BLK_SPIN_PROBE_EVERY);
		blk_spin_answered(&s, SLOW_NS);
	}
	blk_spin_answered(&s, 30000);
	assert_int_equal(blk_spin_for_wait(&s), BLK_SPIN_MAX_NS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fast_answer_restores_full_spin),
		cmocka_unit_test(test_slow_answers_turn_spin_off),
		cmocka_unit_test(test_off_spin_probes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
