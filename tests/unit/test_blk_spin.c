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

/* An answer within the longest spin: the next wait spins that long, from
 * any current spin, none included. */
static void test_fast_answer_restores_full_spin(void **state)
{
	(void)state;
	assert_int_equal(blk_spin_next(BLK_SPIN_MAX_NS, 40000), BLK_SPIN_MAX_NS);
	assert_int_equal(blk_spin_next(BLK_SPIN_MAX_NS / 4, 1), BLK_SPIN_MAX_NS);
	assert_int_equal(blk_spin_next(0, BLK_SPIN_MAX_NS), BLK_SPIN_MAX_NS);
	assert_true(blk_spin_on(blk_spin_next(0, 60000)));
}

/* Answers slower than the longest spin halve it, and a few of them in a
 * row turn it off: a disk that answers in milliseconds costs a handful of
 * short spins, then none. */
static void test_slow_answers_turn_spin_off(void **state)
{
	(void)state;
	uint32_t spin = BLK_SPIN_MAX_NS;
	uint64_t spun = 0;
	int waits = 0;
	assert_int_equal(blk_spin_next(spin, BLK_SPIN_MAX_NS + 1), BLK_SPIN_MAX_NS / 2);
	while (blk_spin_on(spin)) {
		spun += spin;
		spin = blk_spin_next(spin, 2000000);
		waits++;
		assert_true(waits < 10);
	}
	/* 100 + 50 + 25 + ... us: under two full spins in all. */
	assert_true(spun < 2ull * BLK_SPIN_MAX_NS);
	/* Off stays off while the answers stay slow. */
	assert_false(blk_spin_on(blk_spin_next(spin, 2000000)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fast_answer_restores_full_spin),
		cmocka_unit_test(test_slow_answers_turn_spin_off),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
