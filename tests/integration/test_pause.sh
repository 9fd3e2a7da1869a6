# Pause and resume: Ctrl-Z (SIGTSTP) parks every vCPU and the I/O thread,
# says so and stops the process; SIGCONT resumes it. The guest's monotonic
# clock skips the pause, its wall clock does not.

# The checksum pause_clock.elf prints: 10 slices of sum = sum * 31 + i.
pause_clock_check() {
	local sum=0 s i
	for ((s = 0; s < 10; s++)); do
		for ((i = 0; i < 2000; i++)); do
			sum=$((sum * 31 + i))
		done
	done
	printf 'check %x' "$sum"
}

# proc_state PID: the process state letter (R, S, T...).
proc_state() {
	sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1
}

# pause_run OPTIONS...: run pause_clock.elf, Ctrl-Z it once "ready", keep
# it stopped 2 s, continue it, wait for the end. Sets $status.
pause_run() {
	local pid i state=
	# Empty $OUT first: the background job truncates it only once it
	# runs, and the previous test's "ready" would start the pause early.
	: >"$OUT"
	"$PVMM" run "$@" "$GUESTS/pause_clock.elf" >"$OUT" 2>"$ERR" </dev/null &
	pid=$!
	for ((i = 0; i < 300; i++)); do
		grep -q ready "$OUT" && break
		sleep 0.1
	done
	kill -TSTP "$pid"
	for ((i = 0; i < 100; i++)); do
		state=$(proc_state "$pid")
		[ "$state" = T ] && break
		sleep 0.1
	done
	[ "$state" = T ] || fail_because "pvmm did not stop after SIGTSTP (state '$state')"
	expect_err "pvmm: paused (SIGCONT or fg resumes)"
	sleep 2
	kill -CONT "$pid"
	for ((i = 0; i < 300; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		fail_because "pvmm still running 30 s after SIGCONT"
		kill -KILL "$pid"
	fi
	wait "$pid"
	status=$?
}

# The guest's monotonic time must have skipped most of the 2 s pause.
expect_clock_skipped_pause() {
	local mono wall
	read -r mono wall < <(sed -n 's/^mono_ms \([0-9]*\) wall_ms \([0-9]*\)$/\1 \2/p' "$OUT")
	if [ -z "$mono" ]; then
		fail_because "no clock line in the output"
	elif [ $((wall - mono)) -lt 1500 ]; then
		fail_because "guest monotonic clock ran on while paused: mono $mono ms, wall $wall ms"
	fi
	# The PV clock page (behind pvmm_now_ns) and the CLOCK call stood
	# still alike: the same interval on both, to a few ms.
	local call page
	read -r call page < <(sed -n 's/^call_ms \([0-9]*\) page \([a-z]*\)$/\1 \2/p' "$OUT")
	[ "$page" = yes ] || fail_because "the guest had no PV clock page (page '$page')"
	if [ -z "$call" ] || [ -z "$mono" ] || [ $((call - mono)) -gt 5 ] || [ $((mono - call)) -gt 5 ]; then
		fail_because "page clock and CLOCK call disagree over the pause: page $mono ms, CLOCK $call ms"
	fi
}

test_pause_ctrl_z_then_continue() {
	pause_run
	expect_status 0
	expect_err "pvmm: resumed"
	expect_out "$(pause_clock_check)"
	expect_out "slices>=10: yes"
	expect_clock_skipped_pause
}

test_pause_with_io_thread_and_cpus() {
	# With devices (an I/O thread to pause) and secondaries parked in
	# their wait for CPU_START.
	pause_run --cpus 3 --rng
	expect_status 0
	expect_out "$(pause_clock_check)"
	expect_clock_skipped_pause
}

test_pause_does_not_count_against_timeout() {
	# 2 s stopped + ~3 s run > --timeout 4.5: only if the pause counted.
	pause_run --timeout 4.5
	expect_status 0
	expect_clock_skipped_pause
}

test_pause_then_sigterm_stops() {
	local pid i
	"$PVMM" run "$GUESTS/spin.elf" >"$OUT" 2>"$ERR" </dev/null &
	pid=$!
	for ((i = 0; i < 300; i++)); do
		grep -q spinning "$OUT" && break
		sleep 0.1
	done
	kill -TSTP "$pid"
	for ((i = 0; i < 100; i++)); do
		[ "$(proc_state "$pid")" = T ] && break
		sleep 0.1
	done
	kill -TERM "$pid"
	kill -CONT "$pid"
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		fail_because "paused pvmm did not stop on SIGTERM + SIGCONT"
		kill -KILL "$pid"
	fi
	wait "$pid"
	status=$?
	expect_status 70
}

# Ctrl-Z and fg, three times, while the guest has disk requests in flight
# (blk_stress: random reads and writes, interrupts, each request checked
# to come back exactly once and every read to see its sector's last
# write). A pause completes what is in flight and touches no ring until
# the resume; nothing may be lost, doubled or torn.
test_pause_during_disk_io() {
	local img pid i n state paused=0 ops=12000
	# Ring 3 runs the guest natively: ~30x the requests for ~the same time.
	ring3 && ops=400000
	img=$(blk_image pause_stress 1024)
	"$PVMM" run ${PVMM_RING:+--ring "$PVMM_RING"} --timeout 60 --disk "$img" "$GUESTS/blk_stress.elf" irq $ops \
		>"$OUT" 2>"$ERR" </dev/null &
	pid=$!
	for ((i = 0; i < 300; i++)); do
		grep -q "blk_stress seed" "$OUT" && break
		sleep 0.05
	done
	for ((n = 0; n < 3; n++)); do
		sleep 0.3
		kill -0 "$pid" 2>/dev/null || break
		kill -TSTP "$pid"
		for ((i = 0; i < 100; i++)); do
			state=$(proc_state "$pid")
			[ "$state" = T ] && break
			sleep 0.05
		done
		[ "$state" = T ] && paused=$((paused + 1))
		sleep 0.2
		kill -CONT "$pid"
	done
	wait "$pid"
	status=$?
	[ "$paused" -ge 2 ] || fail_because "only $paused of 3 pauses took effect (the run ended too soon?)"
	expect_status 0
	expect_out "blk_stress mode=irq ops=$ops"
	expect_out " ok"
	[ "$(grep -c 'pvmm: paused' "$ERR")" -eq "$paused" ] || fail_because "expected $paused 'paused' lines: $(cat "$ERR")"
}

# The same over the API socket: here the API thread, under its own
# seccomp filter, quiesces the disk, so it waits for the requests in
# flight itself (io_uring_enter, or the synchronous engine's calls).
test_pause_over_api_during_disk_io() {
	local img pid i n sock=$TEST_TMP/pause.sock paused=0 ops=12000
	ring3 && ops=400000
	img=$(blk_image pause_api_stress 1024)
	rm -f "$sock"
	"$PVMM" run ${PVMM_RING:+--ring "$PVMM_RING"} --timeout 60 --api-sock "$sock" --disk "$img" \
		"$GUESTS/blk_stress.elf" irq $ops >"$OUT" 2>"$ERR" </dev/null &
	pid=$!
	for ((i = 0; i < 300; i++)); do
		grep -q "blk_stress seed" "$OUT" && [ -S "$sock" ] && break
		sleep 0.05
	done
	for ((n = 0; n < 6; n++)); do
		sleep 0.2
		kill -0 "$pid" 2>/dev/null || break
		"$PVMM" ctl --api-sock "$sock" pause >/dev/null 2>>"$ERR" && paused=$((paused + 1))
		sleep 0.1
		"$PVMM" ctl --api-sock "$sock" resume >/dev/null 2>>"$ERR"
	done
	wait "$pid"
	status=$?
	[ "$paused" -ge 4 ] || fail_because "only $paused of 6 pauses over the API took effect: $(tail -2 "$ERR")"
	expect_status 0
	expect_out "blk_stress mode=irq ops=$ops"
	expect_out " ok"
}
