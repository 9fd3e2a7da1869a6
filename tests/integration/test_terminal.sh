# The raw console (--console-mode, src/term.c): pvmm on a pseudo-terminal,
# driven by tests/integration/pty_drive.py. Inside the terminal a shell
# records `stty -g` before and after pvmm, and pvmm's exit status, so each
# test checks that the settings came back on that way out.

PTY_DRIVE=tests/integration/pty_drive.py

# on_pty STEP... -- PVMM_ARGS...: run pvmm on a new terminal, driving it
# with the steps (pty_drive.py). Sets $status (pvmm's), $pty_rc (the
# driver's: 0 when every step held); the terminal's output in $OUT.
on_pty() {
	local steps=()
	while [ "$1" != -- ]; do
		steps+=("$1")
		shift
	done
	shift
	local args=("$@")
	if [ -n "${PVMM_RING:-}" ] && [ "${1:-}" = run ]; then
		args=(run --ring "$PVMM_RING" "${args[@]:1}")
	fi
	rm -f "$TEST_TMP/stty_before" "$TEST_TMP/stty_after"
	if ! command -v python3 >/dev/null; then
		fail_because "python3 is needed to drive a pseudo-terminal"
		status=-1
		return
	fi
	# The shell ignores the signals sent to the terminal's process group
	# so it outlives pvmm (which sets its own handlers) to report.
	timeout -s KILL 60 python3 "$PTY_DRIVE" "${steps[@]}" -- sh -c \
		'trap "" TERM HUP; stty -g >"$1"; shift 2; "$@"; echo "pvmm-status=$?"; stty -g >"$0"' \
		"$TEST_TMP/stty_after" "$TEST_TMP/stty_before" x "$PVMM" "${args[@]}" >"$OUT" 2>"$ERR"
	pty_rc=$?
	status=$(sed -n 's/.*pvmm-status=\([0-9]*\).*/\1/p' "$OUT" | tail -1)
	[ -n "$status" ] || status=-1
	[ "$pty_rc" -eq 0 ] || fail_because "the terminal driver failed ($pty_rc): $(tail -c 300 "$ERR"); output: $(tail -c 600 "$OUT" | tr -d '\r')"
	if grep -qE 'ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:' "$OUT"; then
		fail_because "sanitizer report:"
		grep -A20 -E 'ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:' "$OUT" | head -20 | sed 's/^/      /'
	fi
}

expect_tty_restored() {
	if [ ! -s "$TEST_TMP/stty_before" ] || [ ! -s "$TEST_TMP/stty_after" ]; then
		fail_because "no stty record"
	elif ! cmp -s "$TEST_TMP/stty_before" "$TEST_TMP/stty_after"; then
		fail_because "terminal settings not restored: $(cat "$TEST_TMP/stty_before") -> $(cat "$TEST_TMP/stty_after")"
	fi
}

# Input reaches the guest unechoed and unbuffered (Enter as a newline),
# Ctrl-C is the guest's, Ctrl-A x quits with status 70 and one line, and
# the terminal comes back.
test_raw_echo_ctrl_c_and_quit() {
	on_pty raw send:'abc\r' expect:'echo: abc\r\n' send:'\x03' sleep:0.5 alive \
		send:'\x01x' exit -- run "$GUESTS/echo.elf"
	expect_status 70
	expect_out "pvmm: quit from the console (Ctrl-A x)"
	# No terminal echo: "abc" shows once, in the guest's line.
	local n
	n=$(grep -o abc "$OUT" | wc -l)
	[ "$n" -eq 1 ] || fail_because "'abc' shows $n times (the terminal echoed it?)"
	expect_no_out "stopped by signal"
	expect_tty_restored
}

# Ctrl-A z pauses (input meanwhile waits), Ctrl-A z again resumes.
test_raw_pause_resume() {
	on_pty raw send:'\x01z' expect:'pvmm: paused (Ctrl-A z resumes)' send:'def\n' sleep:0.5 \
		absent:'echo: def' alive raw send:'\x01z' expect:'pvmm: resumed' expect:'echo: def' \
		send:'ghi\n' expect:'echo: ghi' \
		send:'\x01x' exit -- run "$GUESTS/echo.elf"
	expect_status 70
	expect_tty_restored
}

# A guest that never reads its console: the escape key works all the same.
test_raw_keys_with_a_guest_not_reading() {
	on_pty raw send:'\x01h' expect:'Ctrl-A x quit' send:'\x01z' expect:'pvmm: paused' send:'\x01z' \
		expect:'pvmm: resumed' send:'\x01x' exit -- run "$GUESTS/spin.elf"
	expect_status 70
	expect_out "quit from the console"
	expect_tty_restored
}

# Ctrl-A x while paused still quits.
test_raw_quit_while_paused() {
	on_pty raw send:'\x01z' expect:'pvmm: paused' send:'\x01x' exit -- run "$GUESTS/echo.elf"
	expect_status 70
	expect_out "quit from the console"
	expect_tty_restored
}

# Ctrl-A h lists the keys; Ctrl-A Ctrl-A sends one Ctrl-A; Ctrl-A and
# another key sends that key.
test_raw_help_and_literal() {
	on_pty raw send:'\x01h' expect:'Ctrl-A x quit' send:'\x01\x01\x01q\n' expect:'echo: \x01q' \
		send:'\x01x' exit -- run "$GUESTS/echo.elf"
	expect_status 70
	expect_tty_restored
}

test_raw_sigterm_restores() {
	on_pty raw signal:TERM exit -- run "$GUESTS/echo.elf"
	expect_status 70
	expect_out "stopped by signal SIGTERM"
	expect_tty_restored
}

test_raw_sighup_restores() {
	on_pty raw signal:HUP exit -- run "$GUESTS/echo.elf"
	expect_status 70
	expect_tty_restored
}

test_raw_timeout_restores() {
	on_pty raw exit -- run --timeout 1 "$GUESTS/echo.elf"
	expect_status 69
	expect_tty_restored
}

test_raw_guest_fault_restores() {
	on_pty exit -- run "$GUESTS/null_deref.elf"
	expect_status 65
	expect_tty_restored
}

# A thread killed by its seccomp filter: the SIGSYS handler restores.
test_raw_seccomp_kill_restores() {
	PVMM_TEST_SECCOMP_TRIP=io on_pty exit -- run --console virtio "$GUESTS/vconsole.elf"
	expect_status 72
	expect_out "seccomp: the io thread"
	expect_tty_restored
}

# The terminal's input thread under its own filter.
test_raw_input_thread_seccomp_kill_restores() {
	PVMM_TEST_SECCOMP_TRIP=console-input on_pty exit -- run "$GUESTS/echo.elf"
	expect_status 72
	expect_out "seccomp: the console-input thread"
	expect_tty_restored
}

# Ctrl-Z's stop gives the shell a cooked terminal; continuing makes it
# raw again.
test_raw_stop_and_continue() {
	on_pty raw signal:TSTP expect:'paused (SIGCONT' sleep:0.3 cooked signal:CONT \
		expect:'pvmm: resumed' sleep:0.3 raw send:'abc\n' expect:'echo: abc' send:'\x01x' exit \
		-- run "$GUESTS/echo.elf"
	expect_status 70
	expect_tty_restored
}

# The virtio console and the UART take the escape key too.
test_raw_virtio_console() {
	on_pty raw send:'hi\n' expect:'vecho: hi' send:'\x01z' expect:'pvmm: paused' \
		send:'\x01z' expect:'pvmm: resumed' send:'\x01x' exit -- run --console virtio "$GUESTS/vconsole.elf" 2
	expect_status 70
	expect_tty_restored
}

test_raw_uart() {
	on_pty raw send:'hi\n' expect:'uecho: hi' send:'\x01z' expect:'pvmm: paused' \
		send:'\x01z' expect:'pvmm: resumed' send:'\x01x' exit -- run --console uart "$GUESTS/uart_echo.elf"
	expect_status 70
	expect_tty_restored
}

# --console-mode cooked: the terminal as it was, Ctrl-A is plain input,
# Ctrl-D ends the input.
test_cooked_mode() {
	on_pty sleep:0.5 cooked send:'\x01x\n' expect:'echo: ' send:'abc\n' expect:'echo: abc' send:'\x04' exit \
		-- run --console-mode cooked "$GUESTS/echo.elf"
	expect_status 0
	expect_no_out "quit from the console"
	expect_tty_restored
}

# Without a terminal nothing changes; raw then is a usage error.
test_console_mode_without_tty() {
	STDIN=/dev/null run_pvmm run --console-mode raw "$GUESTS/echo.elf"
	expect_status 2
	expect_err "--console-mode raw: stdin is not a terminal"
	run_pvmm run --console-mode sideways "$GUESTS/echo.elf"
	expect_status 2
	expect_err "--console-mode 'sideways': use 'auto', 'raw' or 'cooked'"
	printf 'abc\n\001x\n' >"$TEST_TMP/in"
	STDIN=$TEST_TMP/in run_pvmm run "$GUESTS/echo.elf"
	expect_status 0
	expect_out "echo: abc"
	grep -q "$(printf 'echo: \001x')" "$OUT" || fail_because "Ctrl-A x from a file did not reach the guest"
}
