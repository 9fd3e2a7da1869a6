/*
 * Unit tests for irq_route() (src/irq.c) without KVM: before irq_setup()
 * a route is only remembered, so the checks and the table are testable.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "irq.h"
#include "vm.h"

static void test_route_defaults_to_cpu0_and_remembers(void **state)
{
	struct vm vm = { .cpu_count = 4, .kvm_fd = -1, .vm_fd = -1, .vcpu_fd = -1 };
	(void)state;
	for (unsigned pin = 0; pin < 24; pin++)
		assert_int_equal(vm.irq.dest[pin], 0);
	assert_int_equal(irq_route(&vm, IRQ_FIRST_DEVICE_PIN, 3), 0);
	assert_int_equal(vm.irq.dest[IRQ_FIRST_DEVICE_PIN], 3);
	assert_int_equal(vm.irq.dest[IRQ_FIRST_DEVICE_PIN + 1], 0);
}

static void test_route_rejects_bad_pin_and_cpu(void **state)
{
	struct vm vm = { .cpu_count = 2, .kvm_fd = -1, .vm_fd = -1, .vcpu_fd = -1 };
	(void)state;
	assert_int_equal(irq_route(&vm, 24, 0), -1);
	assert_int_equal(irq_route(&vm, 4, 2), -1);
	assert_int_equal(irq_route(&vm, 4, 1000), -1);
	for (unsigned pin = 0; pin < 24; pin++)
		assert_int_equal(vm.irq.dest[pin], 0);
	assert_int_equal(irq_route(&vm, 4, 1), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_route_defaults_to_cpu0_and_remembers),
		cmocka_unit_test(test_route_rejects_bad_pin_and_cpu),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
