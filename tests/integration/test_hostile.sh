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
test_hostile_unknown_call() {
	if ring3; then
		# Call 15's port is the trap port, which ring 3 may not use.
		run_pvmm run "$GUESTS/hostile.elf" unknown_call
		expect_status 65
		expect_err "vector 13 (#GP general protection)"
		return 0
	fi
	hostile_case unknown_call $ENOSYS
}
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

# A hostile virtio driver must never keep the monitor from stopping: the
# guest ends each case waiting for ever, pvmm must stop it at --timeout
# (status 69) within a few seconds, not hang (run_pvmm kills it at 60 s).

# expect_stopped_within SECONDS: the last run took at most that long.
expect_stopped_within() {
	local took=$(((hostile_end - hostile_start) / 1000000))
	[ "$took" -le $(($1 * 1000)) ] || fail_because "pvmm took ${took} ms to stop, more than $1 s"
}

test_hostile_console_requeue_over_avail() {
	printf 'some input for the console\n' >"$TEST_TMP/requeue-in"
	hostile_start=$(date +%s%N)
	STDIN=$TEST_TMP/requeue-in run_pvmm run --console virtio --timeout 3 "$GUESTS/virtio_hostile.elf" console_requeue
	hostile_end=$(date +%s%N)
	expect_status 69
	expect_stopped_within 10
	expect_out "console_requeue queue_ready=0 needs_reset=1"
	expect_err "overlaps"
}

test_hostile_blk_huge_aliased_reads() {
	local img=$TEST_TMP/huge.img
	truncate -s 4G "$img"
	hostile_start=$(date +%s%N)
	run_pvmm run --mem 64M --disk "$img" --timeout 3 "$GUESTS/virtio_hostile.elf" huge_reads
	hostile_end=$(date +%s%N)
	rm -f "$img"
	expect_status 69
	expect_stopped_within 8
	expect_out "huge_reads reset_done"
}

# Monitor-private memory: no buffer may name the monitor's structures
# below 1 MiB (GDT, page tables, IDT, stubs, clock page) or its PV MMU
# pool; the guest's own boot stack is fine.
test_hostile_console_read_into_idt() { hostile_case read_into_idt $EFAULT; }
test_hostile_random_into_idt() { hostile_case random_into_idt $EFAULT; }
test_hostile_random_into_pml4() { hostile_case random_into_pml4 $EFAULT; }
test_hostile_console_read_into_page_table() { hostile_case read_into_page_table $EFAULT; }
test_hostile_random_into_gdt() { hostile_case random_into_gdt $EFAULT; }
test_hostile_random_into_clock_page() { hostile_case random_into_clock_page $EFAULT; }
test_hostile_random_into_stubs() { hostile_case random_into_stubs $EFAULT; }
test_hostile_random_into_mmu_pool() { hostile_case random_into_mmu_pool $EFAULT; }
test_hostile_random_straddles_private() { hostile_case random_straddles_private $EFAULT; }
test_hostile_random_into_own_stack() { hostile_case random_into_stack 32; }

# After all those refusals the IDT and tables are intact: a fault still
# gets the monitor's (ring 3) or the runtime's (ring 0) usual report.
test_hostile_private_memory_then_fault() {
	STDIN=/dev/zero run_pvmm run "$GUESTS/hostile.elf" private_then_fault
	expect_status 65
	expect_out "private_then_fault $EFAULT $EFAULT $EFAULT $EFAULT $EFAULT"
	expect_err "guest fault"
	expect_err "vector 14 (#PF page fault)"
	expect_err "cr2 0"
}
