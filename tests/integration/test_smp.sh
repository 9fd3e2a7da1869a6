# Several vCPUs (--cpus): secondaries start on CPU_START, any CPU's stop
# stops them all, bad CPU_START blocks are refused. And stops that must
# take effect whatever the console's reader does.

# JSON figure $2 of the "vcpus" entry for CPU $1 in $TEST_TMP/stats.json.
vcpu_json() {
	sed -n 's/.*"vcpus": \[\(.*\)\].*/\1/p' "$TEST_TMP/stats.json" | tr -d '\n' |
		grep -o "{\"cpu\": $1, [^{]*" | grep -o "\"$2\": [a-z0-9]*" | head -1 | sed 's/.*: //'
}

test_smp_four_cpus_check_in() {
	rm -f "$TEST_TMP/stats.json"
	run_pvmm run --cpus 4 --stats-json "$TEST_TMP/stats.json" "$GUESTS/smp.elf"
	expect_status 0
	expect_out "cpus: 4"
	expect_out "cpu 1 up"
	expect_out "cpu 2 up"
	expect_out "cpu 3 up"
	expect_out "all 4 CPUs checked in"
	local n cpu exits
	n=$(tr -d '\n' <"$TEST_TMP/stats.json" | grep -o '{"cpu": [0-9]*' | wc -l)
	[ "$n" -eq 4 ] || fail_because "--stats-json lists $n vCPUs, expected 4"
	for cpu in 0 1 2 3; do
		exits=$(vcpu_json "$cpu" exits)
		[ -n "$exits" ] && [ "$exits" -gt 0 ] || fail_because "CPU $cpu has no exits in --stats-json ('$exits')"
		[ "$(vcpu_json "$cpu" started)" = true ] || fail_because "CPU $cpu not marked started"
	done
	# The VM-wide total still comes first, for pvmm bench compare.
	grep -q '"exits": [0-9]*, "exits_by_reason"' "$TEST_TMP/stats.json" ||
		fail_because "--stats-json lost the VM-wide exits total"
}

test_smp_stats_text_per_cpu() {
	run_pvmm run --cpus 2 --stats "$GUESTS/smp.elf"
	expect_status 0
	expect_err "cpu 0"
	expect_err "cpu 1"
}

test_smp_one_cpu_by_default() {
	run_pvmm run "$GUESTS/smp.elf"
	expect_status 0
	expect_out "cpus: 1"
	expect_out "all 1 CPUs checked in"
}

test_smp_fault_on_secondary_stops_vm() {
	run_pvmm run --cpus 4 "$GUESTS/smp.elf" fault
	expect_status 65
	expect_err "guest fault on CPU 2"
	expect_err "#UD"
	expect_no_out "still running"
}

test_smp_exit_from_secondary() {
	run_pvmm run --cpus 4 "$GUESTS/smp.elf" exit
	expect_status 42
	expect_no_out "still running"
}

test_smp_timeout_stops_spinning_cpus() {
	run_pvmm run --cpus 4 --timeout 2 "$GUESTS/smp.elf" spin
	expect_status 69
	expect_err "--timeout"
	expect_err "CPU 3:"
}

test_smp_sigterm_stops_spinning_cpus() {
	local pid i
	"$PVMM" run --cpus 4 "$GUESTS/smp.elf" spin >"$OUT" 2>"$ERR" </dev/null &
	pid=$!
	for ((i = 0; i < 300; i++)); do
		grep -q "cpus: 4" "$OUT" && break
		sleep 0.1
	done
	sleep 0.5
	kill -TERM "$pid"
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		fail_because "pvmm --cpus 4 still running 10 s after SIGTERM"
		kill -KILL "$pid"
	fi
	wait "$pid"
	status=$?
	expect_status 70
	expect_err "stopped by signal"
}

test_smp_bad_cpu_start_refused() {
	run_pvmm run --cpus 3 "$GUESTS/smp.elf" badstart
	expect_status 0
	expect_out "out of range: -$((2))"          # PVMM_EINVAL
	expect_out "way out of range: -2"
	expect_out "cpu 0: -2"
	expect_out "entry outside RAM: -1"          # PVMM_EFAULT
	expect_out "stack outside RAM: -1"
	expect_out "stack misaligned: -2"
	expect_out "first: 0"
	expect_out "twice: -6"                      # PVMM_EBUSY
	expect_out "checked in: 2"
}

test_smp_cpu_start_without_cpus() {
	# One CPU: there is no CPU 1 to start.
	run_pvmm run "$GUESTS/smp.elf" badstart
	expect_status 0
	expect_out "first: -2"
}

# ---- the runtime's SMP (pvmm_cpu_start/join, locks) and WAKE ---------------

test_smp_sum_same_total_on_one_and_four_cpus() {
	local one four cpu
	run_pvmm run --cpus 1 "$EXAMPLES/smp_sum.elf"
	expect_status 0
	expect_out "total matches"
	one=$(sed -n 's/^total over 1 CPUs: \([0-9]*\)$/\1/p' "$OUT")
	run_pvmm run --cpus 4 "$EXAMPLES/smp_sum.elf"
	expect_status 0
	expect_out "total matches"
	four=$(sed -n 's/^total over 4 CPUs: \([0-9]*\)$/\1/p' "$OUT")
	[ -n "$one" ] && [ "$one" = "$four" ] || fail_because "totals differ: 1 CPU '$one', 4 CPUs '$four'"
	for cpu in 0 1 2 3; do
		expect_out "cpu $cpu: i^3 for i in ["
	done
	local shares
	shares=$(grep -c '^cpu [0-9]*: i^3 for i in' "$OUT")
	[ "$shares" -eq 4 ] || fail_because "$shares shares printed on 4 CPUs, expected 4"
}

test_smp_wake_invalid_cpu_is_einval() {
	run_pvmm run --cpus 3 "$GUESTS/smp_wake.elf" badwake
	expect_status 0
	expect_out "cpu count: -2"                  # PVMM_EINVAL: cpu == cpu_count
	expect_out "cpu 64: -2"
	expect_out "cpu max: -2"
	expect_out "reserved: -2"
	expect_out "self: 0"
	expect_out "poll after self wake: 1 woken"  # kept until the POLL
	expect_out "join cpu 0: -2"
	expect_out "join unstarted: -2"
}

test_smp_wake_ends_a_long_poll() {
	# CPU 1 POLLs with a 10 s deadline; CPU 0's WAKE must end it well
	# before --timeout 5 would stop the VM (a hang guard, not a timing test).
	run_pvmm run --cpus 2 --timeout 5 --stats "$GUESTS/smp_wake.elf" woken
	expect_status 0
	expect_out "wake: 0"
	expect_out "cpu 1 woken"
	expect_out "joined 1: 0"
	expect_no_out "not woken"
	! grep -qF -- "--timeout" "$ERR" || fail_because "--timeout fired: the WAKE did not end the POLL"
	grep -qE '^ +wake +[1-9]' "$ERR" || fail_because "--stats counts no wake call"
}

test_smp_blocking_lock_and_malloc_on_four_cpus() {
	run_pvmm run --cpus 4 "$GUESTS/smp_wake.elf" lock
	expect_status 0
	expect_out "counter: 400 of 400"
	expect_out "bad blocks: 0"
}

test_smp_cpu_id_per_cpu() {
	local cpu
	run_pvmm run --cpus 4 "$GUESTS/smp_wake.elf" id
	expect_status 0
	for cpu in 0 1 2 3; do
		expect_out "cpu $cpu says id $cpu"
	done
}

# ---- stops with a console nobody reads ------------------------------------

# stall_run HOW OPTIONS...: flood.elf writes into a FIFO whose reader never
# reads, so the console stalls. HOW "term": SIGTERM after 2 s; "timeout":
# the options' --timeout. Sets $status; fails if pvmm outlives the stop by
# 10 s (a hang guard, not a timing test).
stall_run() {
	local how=$1 fifo=$TEST_TMP/stall.fifo pid reader i
	shift
	rm -f "$fifo"
	mkfifo "$fifo"
	sleep 60 <"$fifo" &
	reader=$!
	"$PVMM" run "$@" "$GUESTS/flood.elf" >"$fifo" 2>"$ERR" </dev/null &
	pid=$!
	sleep 2
	[ "$how" = term ] && kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		fail_because "pvmm still running 10 s after the stop ($how, $*): console write not stoppable"
		kill -KILL "$pid"
	fi
	wait "$pid"
	status=$?
	kill "$reader" 2>/dev/null
	wait "$reader" 2>/dev/null
	rm -f "$fifo"
}

test_stop_sigterm_stalled_para_console() {
	stall_run term
	expect_status 70
	expect_err "could not be delivered"
}

test_stop_timeout_stalled_para_console() {
	stall_run timeout --timeout 2
	expect_status 69
	expect_err "could not be delivered"
}

test_stop_sigterm_stalled_uart() {
	stall_run term --console uart
	expect_status 70
}

test_stop_timeout_stalled_uart() {
	stall_run timeout --console uart --timeout 2
	expect_status 69
}

test_stop_sigterm_stalled_virtio_console() {
	stall_run term --console virtio
	expect_status 70
}

test_stop_stalled_console_stats() {
	stall_run timeout --timeout 2 --stats
	expect_status 69
	expect_err "could not be delivered"
	grep -qE 'console bytes +[0-9]+ out, [0-9]+ in, [0-9]+ could not be delivered' "$ERR" ||
		fail_because "--stats does not count the undelivered console bytes"
}

test_smp_with_irqchip() {
	# With a device the VM has the in-kernel irqchip, which holds
	# secondaries in wait-for-SIPI unless the monitor makes them runnable.
	run_pvmm run --cpus 4 --rng "$GUESTS/smp.elf"
	expect_status 0
	expect_out "all 4 CPUs checked in"
}

test_smp_sixty_four_cpus() {
	run_pvmm run --cpus 64 "$GUESTS/smp.elf"
	expect_status 0
	expect_out "all 64 CPUs checked in"
}
