# The control plane (docs/api.md): the API socket with curl --unix-socket
# and pvmm ctl, --config-file, and malformed HTTP. Every wait is bounded.

API_SOCK=$TEST_TMP/api.sock

# api_start ARGS...: start pvmm ARGS in the background (stdout $OUT,
# stderr $ERR) and wait up to 10 s for the API socket. Sets $api_pid.
api_start() {
	local i
	rm -f "$API_SOCK"
	: >"$OUT"
	: >"$ERR"
	timeout -s KILL 60 "$PVMM" "$@" >"$OUT" 2>"$ERR" </dev/null &
	api_pid=$!
	for ((i = 0; i < 100; i++)); do
		[ -S "$API_SOCK" ] && return 0
		sleep 0.1
	done
	fail_because "no API socket 10 s after starting pvmm $*"
	return 1
}

# api_wait: wait up to 30 s for pvmm to exit; sets $status, checks that
# the socket went with it and that no sanitizer complained.
api_wait() {
	local i
	for ((i = 0; i < 300; i++)); do
		kill -0 "$api_pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$api_pid" 2>/dev/null; then
		fail_because "pvmm still running 30 s on"
		kill -KILL "$api_pid"
	fi
	wait "$api_pid"
	status=$?
	[ -e "$API_SOCK" ] && fail_because "the API socket is still there after pvmm exited"
	if grep -qE 'ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:' "$ERR"; then
		fail_because "sanitizer report:"
		head -20 "$ERR" | sed 's/^/      /'
	fi
	return 0
}

# api METHOD PATH [BODY]: one request; sets $code and $body.
api() {
	local out
	if [ $# -ge 3 ]; then
		out=$(curl -s -m 10 -X "$1" --unix-socket "$API_SOCK" --data "$3" -w '\n%{http_code}' "http://localhost$2")
	else
		out=$(curl -s -m 10 -X "$1" --unix-socket "$API_SOCK" -w '\n%{http_code}' "http://localhost$2")
	fi
	code=${out##*$'\n'}
	body=${out%$'\n'*}
	[ "$code" = "$out" ] && body=
	return 0
}

# expect_api CODE [TEXT]: the last answer had status CODE (and TEXT in its body).
expect_api() {
	[ "$code" = "$1" ] || fail_because "HTTP $code, expected $1 (body: $body)"
	if [ $# -ge 2 ] && [[ "$body" != *"$2"* ]]; then
		fail_because "answer lacks '$2' (body: $body)"
	fi
}

# wait_out TEXT: up to 30 s for TEXT on the guest's stdout.
wait_out() {
	local i
	for ((i = 0; i < 300; i++)); do
		grep -qF -- "$1" "$OUT" && return 0
		sleep 0.1
	done
	fail_because "no '$1' on stdout after 30 s"
}

api_ring_args() {
	[ -n "${PVMM_RING:-}" ] && printf -- '--ring\n%s\n' "$PVMM_RING"
}

# Firecracker's getting-started sequence as written, with a pvmm guest
# ELF for the kernel: the process exits with the guest's status.
test_api_getting_started() {
	local log=$TEST_TMP/fc.log img
	img=$(blk_image rootfs 64)
	: >"$log"
	api_start --api-sock "$API_SOCK" || return
	curl -s -X PUT --unix-socket "$API_SOCK" --data "{
		\"log_path\": \"$log\",
		\"level\": \"Debug\",
		\"show_level\": true,
		\"show_log_origin\": true
	}" "http://localhost/logger" >"$TEST_TMP/r1"
	curl -s -X PUT --unix-socket "$API_SOCK" --data "{
		\"kernel_image_path\": \"$PWD/$GUESTS/exit_status.elf\",
		\"boot_args\": \"7\"
	}" "http://localhost/boot-source" >"$TEST_TMP/r2"
	curl -s -X PUT --unix-socket "$API_SOCK" --data "{
		\"drive_id\": \"rootfs\",
		\"path_on_host\": \"$img\",
		\"is_root_device\": true,
		\"is_read_only\": false
	}" "http://localhost/drives/rootfs" >"$TEST_TMP/r3"
	curl -s -X PUT --unix-socket "$API_SOCK" --data "{
		\"action_type\": \"InstanceStart\"
	}" "http://localhost/actions" >"$TEST_TMP/r4"
	api_wait
	expect_status 7
	cat "$TEST_TMP"/r[1-4] | grep -q fault_message && fail_because "a step was refused: $(cat "$TEST_TMP"/r[1-4])"
	[ -e "$log" ] || fail_because "no log file"
}

test_api_info_and_machine_config() {
	api_start --api-sock "$API_SOCK" || return
	api GET /
	expect_api 200 '"state":"Not started"'
	expect_api 200 '"app_name":"pvmm"'
	api GET /version
	expect_api 200 '"firecracker_version":'
	api GET /machine-config
	expect_api 200 '"vcpu_count":1'
	api PUT /machine-config '{"vcpu_count": 2, "mem_size_mib": 64, "smt": false, "track_dirty_pages": false}'
	expect_api 204
	api PATCH /machine-config '{"mem_size_mib": 48}'
	expect_api 204
	api GET /machine-config
	expect_api 200 '"mem_size_mib":48'
	expect_api 200 '"vcpu_count":2'
	api PUT /entropy '{}'
	expect_api 204
	api PUT /metrics "{\"metrics_path\": \"$TEST_TMP/m.json\"}"
	expect_api 204
	api GET /vm/config
	expect_api 200 '"entropy":{}'
	expect_api 200 "\"metrics_path\":\"$TEST_TMP/m.json\""
	api GET /vm/config/
	expect_api 200 '"machine-config"'
	kill -TERM "$api_pid"
	api_wait
	expect_status 70
}

test_api_errors() {
	api_start --api-sock "$API_SOCK" || return
	api PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 64'
	expect_api 400 'not valid JSON'
	api PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 64} x'
	expect_api 400 'not valid JSON'
	api PUT /machine-config '[1]'
	expect_api 400 'must be a JSON object'
	api PUT /machine-config '{"vcpu_count": "1", "mem_size_mib": 64}'
	expect_api 400 "'vcpu_count' must be an integer"
	api PUT /machine-config '{"vcpu_count": 1}'
	expect_api 400 "missing required field 'mem_size_mib'"
	api PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 64, "color": "red"}'
	expect_api 400 "unknown field 'color'"
	api PUT /machine-config '{"vcpu_count": 65, "mem_size_mib": 64}'
	expect_api 400 'out of range'
	api PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 63}'
	expect_api 400 'mem_size_mib'
	api PATCH /machine-config '{"smt": true}'
	expect_api 400 'smt'
	api PUT /machine-config
	expect_api 400 'needs a JSON body'
	api PUT /boot-source '{"boot_args": "x"}'
	expect_api 400 "missing required field 'kernel_image_path'"
	api PUT /boot-source "{\"kernel_image_path\": \"$TEST_TMP/none.elf\"}"
	expect_api 400 'cannot open kernel_image_path'
	api PUT /boot-source "{\"kernel_image_path\": \"$PWD/$GUESTS/spin.elf\", \"initrd_path\": \"/dev/null\"}"
	expect_api 400 'initrd'
	api PUT /drives/a '{"drive_id": "b", "path_on_host": "/dev/null", "is_root_device": false}'
	expect_api 400 'differs'
	api PUT /drives/a '{"drive_id": "a", "path_on_host": "/dev/null", "is_root_device": false, "partuuid": "x"}'
	expect_api 400 "'partuuid' is not supported"
	api PUT /drives/a '{"drive_id": "a", "is_root_device": false}'
	expect_api 400 "missing required field 'path_on_host'"
	api PUT /entropy '{"rate_limiter": {"bandwidth": {"size": 1, "refill_time": 1}}}'
	expect_api 400 'rate_limiter'
	api PUT /logger '{"level": "Loud"}'
	expect_api 400 'level'
	api PUT /metrics '{}'
	expect_api 400 "missing required field 'metrics_path'"
	api PUT /actions '{"action_type": "Reboot"}'
	expect_api 400 'unknown action_type'
	api PUT /actions '{"action_type": "FlushMetrics"}'
	expect_api 400 'PUT /metrics'
	api PUT /actions '{"action_type": "InstanceStart"}'
	expect_api 400 'boot source'
	api PATCH /vm '{"state": "Paused"}'
	expect_api 400 'not running'
	api PATCH /vm '{"state": "Sleeping"}'
	expect_api 400 'Paused'
	api DELETE /machine-config
	expect_api 405 'not allowed'
	api GET /actions
	expect_api 405 'not allowed'
	api POST /vm '{}'
	expect_api 405 'not allowed'
	api GET /network-interfaces/eth0
	expect_api 404 'no such resource'
	api GET /drives
	expect_api 404 'no such resource'
	# Still serving, still not started.
	api GET /
	expect_api 200 '"state":"Not started"'
	kill -TERM "$api_pid"
	api_wait
	expect_status 70
}

# A guest that fails to load: InstanceStart says why, and another start
# with a good image works.
test_api_start_failure_then_retry() {
	local bad=$TEST_TMP/bad.elf
	echo "not an ELF" >"$bad"
	api_start --api-sock "$API_SOCK" || return
	api PUT /boot-source "{\"kernel_image_path\": \"$bad\"}"
	expect_api 204
	api PUT /actions '{"action_type": "InstanceStart"}'
	expect_api 400 'InstanceStart failed'
	api GET /
	expect_api 200 '"state":"Not started"'
	api PUT /boot-source "{\"kernel_image_path\": \"$PWD/$GUESTS/exit_status.elf\", \"boot_args\": \"3\"}"
	expect_api 204
	api PUT /actions '{"action_type": "InstanceStart"}'
	expect_api 204
	api_wait
	expect_status 3
}

# PATCH /vm while a guest counts: the guest's monotonic clock skips the
# pause; pvmm ctl reports the state; changes after start are refused.
test_api_pause_resume() {
	local mono wall
	api_start run $(api_ring_args) --api-sock "$API_SOCK" || return
	api PUT /boot-source "{\"kernel_image_path\": \"$PWD/$GUESTS/pause_clock.elf\"}"
	expect_api 204
	api PUT /actions '{"action_type": "InstanceStart"}'
	expect_api 204
	wait_out ready
	api PATCH /vm '{"state": "Paused"}'
	expect_api 204
	api GET /
	expect_api 200 '"state":"Paused"'
	[ "$("$PVMM" ctl --api-sock "$API_SOCK" info)" = "Paused (pvmm 0.1.0, id anonymous-instance)" ] ||
		fail_because "pvmm ctl info does not say Paused"
	sleep 2
	api PUT /drives/late '{"drive_id": "late", "path_on_host": "/dev/null", "is_root_device": false}'
	expect_api 400 'after InstanceStart'
	api PUT /boot-source "{\"kernel_image_path\": \"$PWD/$GUESTS/spin.elf\"}"
	expect_api 400 'after InstanceStart'
	api PUT /actions '{"action_type": "InstanceStart"}'
	expect_api 400 'already running'
	api PATCH /vm '{"state": "Resumed"}'
	expect_api 204
	api GET /
	expect_api 200 '"state":"Running"'
	api_wait
	expect_status 0
	expect_out "slices>=10: yes"
	read -r mono wall < <(sed -n 's/^mono_ms \([0-9]*\) wall_ms \([0-9]*\)$/\1 \2/p' "$OUT")
	if [ -z "$mono" ]; then
		fail_because "no clock line in the output"
	elif [ $((wall - mono)) -lt 1500 ]; then
		fail_because "guest monotonic clock ran on while paused: mono $mono ms, wall $wall ms"
	fi
}

# pvmm run --api-sock PATH GUEST.elf starts at once; pvmm ctl drives it.
test_api_ctl_commands() {
	local m=$TEST_TMP/ctl-metrics.json line
	api_start run $(api_ring_args) --api-sock "$API_SOCK" "$GUESTS/spin.elf" || return
	wait_out spinning
	line=$("$PVMM" ctl --api-sock "$API_SOCK" info)
	[ "$line" = "Running (pvmm 0.1.0, id anonymous-instance)" ] || fail_because "ctl info: '$line'"
	[ "$("$PVMM" ctl --api-sock "$API_SOCK" pause)" = paused ] || fail_because "ctl pause failed"
	[ "$("$PVMM" ctl --api-sock "$API_SOCK" resume)" = resumed ] || fail_because "ctl resume failed"
	"$PVMM" ctl --api-sock "$API_SOCK" metrics 2>"$TEST_TMP/ctl.err"
	[ $? -eq 1 ] || fail_because "ctl metrics without a metrics file did not exit 1"
	grep -q 'PUT /metrics' "$TEST_TMP/ctl.err" || fail_because "ctl metrics: $(cat "$TEST_TMP/ctl.err")"
	api PUT /metrics "{\"metrics_path\": \"$m\"}"
	expect_api 400 'after InstanceStart'
	[ "$("$PVMM" ctl --api-sock "$API_SOCK" stop)" = stopping ] || fail_because "ctl stop failed"
	api_wait
	expect_status 0
	expect_err "stopped by the API's SendCtrlAltDel"
	"$PVMM" ctl --api-sock "$API_SOCK" info 2>/dev/null
	[ $? -eq 3 ] || fail_because "ctl on a missing socket did not exit 3"
	"$PVMM" ctl --api-sock "$API_SOCK" reboot 2>/dev/null
	[ $? -eq 2 ] || fail_because "ctl with an unknown command did not exit 2"
}

# PUT /metrics: one JSON line per FlushMetrics and one at exit.
test_api_metrics() {
	local m=$TEST_TMP/metrics.json
	rm -f "$m"
	api_start run $(api_ring_args) --api-sock "$API_SOCK" || return
	api PUT /metrics "{\"metrics_path\": \"$m\"}"
	expect_api 204
	api PUT /boot-source "{\"kernel_image_path\": \"$PWD/$GUESTS/spin.elf\"}"
	api PUT /actions '{"action_type": "InstanceStart"}'
	expect_api 204
	wait_out spinning
	api PUT /actions '{"action_type": "FlushMetrics"}'
	expect_api 204
	api PUT /actions '{"action_type": "SendCtrlAltDel"}'
	expect_api 204
	api_wait
	expect_status 0
	[ "$(wc -l <"$m")" -eq 2 ] || fail_because "metrics file has $(wc -l <"$m") lines, expected 2"
	grep -q '"state": "Running", "pvmm": {' "$m" || fail_because "no running metrics line: $(head -c 300 "$m")"
	tail -1 "$m" | grep -q '"state": "Stopped".*"exits_by_reason"' || fail_because "no final metrics line"
}

# --config-file starts the VM with no API call at all.
test_api_config_file() {
	local cfg=$TEST_TMP/vm.json
	cat >"$cfg" <<-JSON
	{
	  "boot-source": { "kernel_image_path": "$PWD/$GUESTS/vrng.elf" },
	  "machine-config": { "vcpu_count": 1, "mem_size_mib": 64 },
	  "entropy": {},
	  "drives": [],
	  "metrics": { "metrics_path": "$TEST_TMP/cfg-metrics.json" }
	}
	JSON
	run_pvmm --config-file "$cfg"
	expect_status 0
	[ -s "$TEST_TMP/cfg-metrics.json" ] || fail_because "no metrics line at exit"
	printf '{"boot-source": {"kernel_image_path": "%s"}, "network-interfaces": []}' \
		"$PWD/$GUESTS/exit_status.elf" >"$cfg"
	run_pvmm --config-file "$cfg"
	expect_status 2
	expect_err "unknown top-level key 'network-interfaces'"
	echo '{"machine-config": {"vcpu_count": 1, "mem_size_mib": 64}}' >"$cfg"
	run_pvmm --config-file "$cfg"
	expect_status 2
	expect_err 'no "boot-source"'
	echo '{"boot-source": ' >"$cfg"
	run_pvmm --config-file "$cfg"
	expect_status 2
	expect_err 'not valid JSON'
	run_pvmm run --config-file "$cfg" "$GUESTS/spin.elf"
	expect_status 2
}

# raw BYTES-FILE: send the file over the socket, print the answer.
raw() {
	timeout 15 python3 - "$API_SOCK" "$1" <<-'PY'
	import socket, sys
	s = socket.socket(socket.AF_UNIX)
	s.settimeout(10)
	s.connect(sys.argv[1])
	try:
	    s.sendall(open(sys.argv[2], "rb").read())
	    s.shutdown(socket.SHUT_WR)
	except OSError:
	    pass
	out = b""
	try:
	    while True:
	        b = s.recv(65536)
	        if not b:
	            break
	        out += b
	except OSError:
	    pass
	sys.stdout.write(out.decode("latin-1").split("\r\n")[0] + "\n")
	PY
}

# Malformed HTTP never takes the monitor down (run under build/asan/pvmm
# too): each gets an error status, and the API still answers afterwards.
test_api_malformed_http() {
	local f=$TEST_TMP/req
	api_start --api-sock "$API_SOCK" || return
	{ printf 'GET / HTTP/1.1\r\nX: '; head -c 9000 /dev/zero | tr '\0' a; printf '\r\n\r\n'; } >"$f"
	[[ "$(raw "$f")" == "HTTP/1.1 431 "* ]] || fail_because "huge header not answered 431"
	printf 'GET / HTTP/1.1\nHost: x\n\n' >"$f"
	[[ "$(raw "$f")" == "HTTP/1.1 400 "* ]] || fail_because "bare LF not answered 400"
	head -c 5000 /dev/urandom >"$f"
	[[ "$(raw "$f")" == "HTTP/1.1 4"* ]] || fail_because "garbage not answered 4xx"
	printf 'PUT /logger HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n' >"$f"
	[[ "$(raw "$f")" == "HTTP/1.1 411 "* ]] || fail_because "chunked body not answered 411"
	printf 'PUT /logger HTTP/1.1\r\nContent-Length: 70000\r\n\r\n' >"$f"
	[[ "$(raw "$f")" == "HTTP/1.1 413 "* ]] || fail_because "huge body not answered 413"
	{ printf 'GET /'; head -c 5000 /dev/zero | tr '\0' a; } >"$f"
	[[ "$(raw "$f")" == "HTTP/1.1 414 "* ]] || fail_because "huge request line not answered 414"
	printf 'GET / HTTP/1.1\r\nHost: x' >"$f"
	[ -z "$(raw "$f")" ] || fail_because "a request cut short got an answer"
	# Two requests on one connection, then one with Expect: 100-continue.
	printf 'GET /version HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\nConnection: close\r\n\r\n' >"$f"
	[[ "$(raw "$f")" == "HTTP/1.1 200 "* ]] || fail_because "pipelined requests not answered"
	curl -s -m 10 -X PUT -H 'Expect: 100-continue' --unix-socket "$API_SOCK" --data '{"level": "Info"}' \
		-o /dev/null -w '%{http_code}' http://localhost/logger >"$TEST_TMP/code"
	[ "$(cat "$TEST_TMP/code")" = 204 ] || fail_because "Expect: 100-continue not served"
	# A client that stalls mid-request does not block others.
	local stalled
	{ printf 'GET / HTTP/1.1\r\n'; sleep 3; } | timeout 10 python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(sys.stdin.buffer.read(16)); import time; time.sleep(2)
' "$API_SOCK" &
	stalled=$!
	sleep 0.5
	api GET /
	expect_api 200 '"state":"Not started"'
	wait "$stalled"
	kill -TERM "$api_pid"
	api_wait
	expect_status 70
}
