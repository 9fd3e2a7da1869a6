# Real guests built on the runtime: output, exit status, and every way a
# guest can fail, each reported with its own status.

test_hello_prints_arguments() {
	run_pvmm run "$EXAMPLES/hello.elf" one "two words" three
	expect_status 0
	expect_out "Hello from pvmm!"
	expect_out "argv[1] = one"
	expect_out "argv[2] = two words"
	expect_out "argv[3] = three"
	expect_no_out "argv[4]"
}

test_paratour_every_call() {
	echo "typed input" >"$TEST_TMP/input"
	STDIN=$TEST_TMP/input run_pvmm run "$EXAMPLES/paratour.elf"
	expect_status 0
	expect_no_out "FAIL"
	local name
	for name in version boot_info console_write clock_monotonic clock_wall poll_deadline random stats stats_counts console_read nop; do
		expect_out "ok $name"
	done
}

test_exit_status_passes_through() {
	local s
	for s in 0 1 7 42 63; do
		run_pvmm run "$GUESTS/exit_status.elf" "$s"
		expect_status "$s"
	done
}

test_exit_status_out_of_range_is_refused() {
	# 0..63 belong to the guest; above that the runtime aborts, loudly.
	run_pvmm run "$GUESTS/exit_status.elf" 64
	expect_status 64
	expect_err "guest aborted: main returned 64, which is above 63 (the highest status a guest can exit with): reported as 64"
	run_pvmm run "$GUESTS/exit_status.elf" 100
	expect_status 64
	expect_err "guest aborted: main returned 100, which is above 63 (the highest status a guest can exit with): reported as 64"
	run_pvmm run "$GUESTS/exit_status.elf" 100 exit
	expect_status 64
	expect_err "guest aborted: exit(100): 100 is above 63 (the highest status a guest can exit with): reported as 64"
	run_pvmm run "$GUESTS/exit_status.elf" -1
	expect_status 64
	expect_err "guest aborted: main returned -1, which is below 0: reported as 64"
}

test_null_dereference() {
	run_pvmm run "$GUESTS/null_deref.elf"
	expect_status 65
	expect_err "guest fault"
	expect_err "vector 14 (#PF page fault)"
	expect_err "cr2 0"
	expect_err "rip 0x1"
}

test_invalid_opcode() {
	run_pvmm run "$GUESTS/bad_opcode.elf"
	expect_status 65
	expect_err "vector 6 (#UD invalid opcode)"
}

test_stack_overflow_hits_guard_page() {
	run_pvmm run "$GUESTS/stack_overflow.elf"
	expect_status 65
	expect_err "vector 14 (#PF page fault)"
	# cr2 lies in the guard page under the stack (layout.h: 0x10000).
	expect_err "cr2 0x10"
}

test_spinning_guest_times_out() {
	run_pvmm run --timeout 0.5 "$GUESTS/spin.elf"
	expect_status 69
	expect_out "spinning"
	expect_err "--timeout 0.5 s"
}

test_abort_paths() {
	run_pvmm run "$GUESTS/abort.elf" abort
	expect_status 64
	expect_err "guest aborted: abort() called"
	run_pvmm run "$GUESTS/abort.elf" assert
	expect_status 64
	expect_err "1 == 2"
	run_pvmm run "$GUESTS/abort.elf" panic
	expect_status 64
	expect_err "custom 42"
}

test_triple_fault() {
	run_pvmm run "$GUESTS/triple_fault.elf"
	if ring3; then
		# It cannot load an empty IDT at ring 3: lidt is a clean #GP.
		expect_status 65
		expect_err "vector 13 (#GP general protection)"
		return 0
	fi
	expect_status 66
	expect_err "triple-faulted"
	expect_err "rip 0x"
}

test_access_to_unbacked_memory() {
	run_pvmm run "$GUESTS/wild_access.elf"
	expect_status 65
	expect_err "at 0xe0000000, which is neither RAM nor a device"
}

test_emulation_failure_or_sse_runs() {
	# Without VT-x, KVM's emulator cannot run SSE: a clear report. With
	# VT-x the instruction just runs.
	run_pvmm run "$GUESTS/sse.elf"
	if [ "$status" -eq 0 ]; then
		expect_out "sse ok"
	else
		expect_status 67
		expect_err "emulation failure"
		expect_err "instruction bytes:"
	fi
}

test_console_input_echo() {
	printf 'first line\nsecond line\n' >"$TEST_TMP/input"
	STDIN=$TEST_TMP/input run_pvmm run "$GUESTS/echo.elf"
	expect_status 0
	expect_out "echo: first line"
	expect_out "echo: second line"
}

test_runtime_library_checks() {
	run_pvmm run "$GUESTS/formats.elf"
	expect_status 0
	expect_no_out "FAIL"
	expect_out "ok"
	grep -qx "marker after a full buffer's newline" "$OUT" ||
		fail_because "a newline put into a full stdout buffer did not flush its line"
}

test_stats_report() {
	run_pvmm run --stats "$EXAMPLES/hello.elf"
	expect_status 0
	expect_err "pvmm stats:"
	expect_err "vm exits"
	expect_err "console_write"
	expect_err "exit             1"
}

test_quiet_keeps_errors() {
	run_pvmm run -q "$GUESTS/null_deref.elf"
	expect_status 65
	expect_err "guest fault"
}
