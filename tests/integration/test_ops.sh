# Operations (issue 13): --metrics-path, --stats-json's status and verdict,
# --log-file and --log-level, --console-log, a closed console, and every
# output path checked before KVM is touched.

# metric_values FILE KEY: KEY's number on each line of FILE, one a line.
metric_values() {
	grep -o "\"$2\": [0-9.]*" "$1" | sed 's/.*: //'
}

test_ops_metrics_lines_while_running() {
	local m=$TEST_TMP/metrics.jsonl n first last
	run_pvmm run --rng --metrics-path "$m" --metrics-interval 0.1 --timeout 1 "$GUESTS/spin.elf"
	expect_status 69
	n=$(wc -l <"$m")
	[ "$n" -ge 5 ] || fail_because "only $n metrics lines in 1 s at 0.1 s intervals"
	# Every line one object with the schema, a time stamp, the counters.
	[ "$(grep -c '^{"schema": 1, "type": "[a-z]*", "seq": [0-9]*, "unix_ms": [0-9]*, "uptime_ms": [0-9.]*, "exits": [0-9]*, "exits_by_reason": {.*}, "calls": {.*}, "console_bytes_out": [0-9]*, .*"devices": \[{"name": "virtio-rng", .*"rss_kib": [0-9]*, "cpu_user_ns": [0-9]*, "cpu_sys_ns": [0-9]*.*}$' "$m")" -eq "$n" ] ||
		fail_because "a metrics line is not of the documented shape: $(head -c 400 "$m")"
	head -1 "$m" | grep -q '"type": "start", "seq": 0,' || fail_because "first line is not the start"
	[ "$(grep -c '"type": "sample"' "$m")" -eq $((n - 2)) ] || fail_because "not all middle lines are samples"
	tail -1 "$m" | grep -q '"type": "exit", .*"status": 69, "verdict": "timeout"}$' ||
		fail_because "last line lacks the exit status and verdict: $(tail -1 "$m")"
	# Sequence numbers count up; time and CPU grow while the guest spins.
	[ "$(metric_values "$m" seq | tr '\n' ' ')" = "$(seq 0 $((n - 1)) | tr '\n' ' ')" ] ||
		fail_because "seq is not 0..$((n - 1))"
	first=$(metric_values "$m" uptime_ms | head -1)
	last=$(metric_values "$m" uptime_ms | tail -1)
	awk -v a="$first" -v b="$last" 'BEGIN { exit !(b - a >= 700) }' || fail_because "uptime_ms $first .. $last did not grow"
	# User or system time: a ring-0 guest on a host without VT-x is KVM's
	# interpreter, system time.
	first=$(($(metric_values "$m" cpu_user_ns | head -1) + $(metric_values "$m" cpu_sys_ns | head -1)))
	last=$(($(metric_values "$m" cpu_user_ns | tail -1) + $(metric_values "$m" cpu_sys_ns | tail -1)))
	[ "$last" -gt "$first" ] || fail_because "process CPU time did not grow ($first .. $last ns)"
	# The guest printed once before spinning: the final count shows it.
	[ "$(metric_values "$m" console_bytes_out | tail -1)" -gt 0 ] || fail_because "console_bytes_out stayed 0"
}

test_ops_stats_json_has_status_and_verdict() {
	local j=$TEST_TMP/stats.json
	run_pvmm run --stats-json "$j" "$EXAMPLES/hello.elf"
	expect_status 0
	grep -q '^"schema_version": 2, "status": 0, "verdict": "exit"$' "$j" || fail_because "no status line: $(tail -3 "$j")"
	run_pvmm run --stats-json "$j" "$GUESTS/abort.elf" abort
	expect_status 64
	grep -q '"status": 64, "verdict": "abort"' "$j" || fail_because "abort not in stats: $(tail -2 "$j")"
	run_pvmm run --stats-json "$j" --timeout 0.2 "$GUESTS/spin.elf"
	expect_status 69
	grep -q '"status": 69, "verdict": "timeout"' "$j" || fail_because "timeout not in stats: $(tail -2 "$j")"
}

test_ops_output_paths_checked_before_kvm() {
	local opt
	# No KVM device at all: the path's mistake is found first, alone.
	for opt in --stats-json --metrics-path --log-file --console-log; do
		PVMM_KVM_DEVICE=/nonexistent/kvm run_pvmm run "$opt" "$TEST_TMP/no/such/dir/file" "$EXAMPLES/hello.elf"
		expect_status 2
		expect_err "pvmm: $opt: cannot write '$TEST_TMP/no/such/dir/file': No such file or directory"
		expect_err_lines 1
	done
	PVMM_KVM_DEVICE=/nonexistent/kvm run_pvmm run --stats-json "$TEST_TMP" "$EXAMPLES/hello.elf"
	expect_status 2
	expect_err "pvmm: --stats-json '$TEST_TMP' is a directory; give a file name"
	expect_err_lines 1
	# The check leaves nothing behind.
	run_pvmm run --stats-json "$TEST_TMP/later.json" --mem 1 "$EXAMPLES/hello.elf"
	expect_status 2
	[ -e "$TEST_TMP/later.json" ] && fail_because "the writability check left a file behind"
}

test_ops_log_file_and_level() {
	local log=$TEST_TMP/pvmm.log
	run_pvmm run --log-file "$log" --log-level debug "$GUESTS/abort.elf" abort
	expect_status 64
	[ -s "$ERR" ] && fail_because "stderr not empty with --log-file: $(head -c 200 "$ERR")"
	grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z pvmm: debug: starting the guest at 0x' "$log" ||
		fail_because "no time-stamped debug line: $(head -c 300 "$log")"
	grep -qE 'Z pvmm: guest aborted: ' "$log" || fail_because "the error is not in the log file"
	grep -q 'pvmm: debug: the guest stopped with status 64 (abort)' "$log" || fail_because "no stop line"
	# The default level prints no debug lines; error hides warnings.
	run_pvmm run --log-level info "$EXAMPLES/hello.elf"
	expect_status 0
	grep -q debug "$ERR" && fail_because "debug line at info level"
	run_pvmm run --log-level loud "$EXAMPLES/hello.elf"
	expect_status 2
	expect_err "pvmm: --log-level 'loud': use error, warn, info or debug"
	expect_err_lines 1
}

test_ops_console_log_copies_output() {
	local c=$TEST_TMP/console.log
	run_pvmm run --console-log "$c" "$EXAMPLES/hello.elf" a b
	expect_status 0
	cmp -s "$c" "$OUT" || fail_because "console log differs from stdout: $(head -c 200 "$c")"
	expect_out "argv[2] = b"
	# The UART's output goes there too.
	run_pvmm run --console uart --console-log "$c" "$EXAMPLES/hello.elf"
	expect_status 0
	cmp -s "$c" "$OUT" || fail_because "UART console log differs from stdout"
	[ -s "$c" ] || fail_because "UART console log is empty"
}

test_ops_closed_console_stops_guest() {
	local model
	# flood.elf prints forever; once head has its bytes, nobody reads.
	timeout -s KILL 60 "$PVMM" run --timeout 30 "$GUESTS/flood.elf" 2>"$ERR" | head -c 100 >/dev/null
	status=${PIPESTATUS[0]}
	expect_status 71
	expect_err "pvmm: console output closed (nobody reads it: EPIPE); stopped the guest"
	for model in virtio uart; do
		timeout -s KILL 60 "$PVMM" run --console $model --timeout 30 "$GUESTS/flood.elf" 2>"$ERR" </dev/null |
			head -c 100 >/dev/null
		status=${PIPESTATUS[0]}
		expect_status 71
		expect_err "console output closed"
	done
}
