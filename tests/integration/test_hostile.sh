# Hostile para-API use. Recoverable mistakes return the documented error
# code to the guest, which carries on; blocks the monitor cannot even
# answer stop the VM with status 68. Never a monitor crash or hang.

# Error codes from include/pvmm/para.h.
EFAULT=-1
EINVAL=-2
ENOSYS=-3

hostile_case() {
	run_pvmm run "$GUESTS/hostile.elf" "$1"
	expect_status 0
	expect_out "$1 result=$2"
}

test_hostile_buffer_outside_ram() { hostile_case console_outside_ram $EFAULT; }
test_hostile_length_wraps() { hostile_case console_wrap $EINVAL; }
test_hostile_length_too_big() { hostile_case console_too_long $EINVAL; }
test_hostile_random_outside_ram() { hostile_case random_outside_ram $EFAULT; }
test_hostile_random_too_big() { hostile_case random_too_long $EINVAL; }
test_hostile_unknown_clock() { hostile_case clock_bad_id $EINVAL; }
test_hostile_reserved_field() { hostile_case clock_reserved $EINVAL; }
test_hostile_poll_unknown_device() { hostile_case poll_bad_interest $EINVAL; }
test_hostile_unknown_call() { hostile_case unknown_call $ENOSYS; }
test_hostile_exit_status_too_big() { hostile_case exit_too_big $EINVAL; }

hostile_fatal() {
	run_pvmm run "$GUESTS/hostile.elf" "$1"
	expect_status 68
	expect_err "$2"
}

test_hostile_block_outside_ram() { hostile_fatal block_outside_ram "is outside guest RAM; stopping the VM"; }
test_hostile_block_misaligned() { hostile_fatal block_misaligned "is not 8-byte aligned"; }
test_hostile_byte_out() { hostile_fatal byte_out "8-bit out"; }
test_hostile_in_from_port() { hostile_fatal port_in "32-bit in"; }
test_hostile_nop_baseline() { hostile_case nop 0; }
test_hostile_buffer_straddles_ram_end() { hostile_case console_straddles_end $EFAULT; }
test_hostile_short_length_wraps() { hostile_case console_wrap_short $EFAULT; }
test_hostile_abort_unknown_kind() { hostile_case abort_bad_kind $EINVAL; }
test_hostile_block_straddles_ram_end() { hostile_fatal block_straddles_end "is outside guest RAM; stopping the VM"; }
