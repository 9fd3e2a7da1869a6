# Helpers for integration tests. A test is a function named test_*; it
# runs the monitor with run_pvmm and states what must hold with expect_*.
# Any failed expectation fails the test; the test keeps going so that one
# run reports every broken expectation.

GUESTS=build/tests/guests
EXAMPLES=build/examples
TEST_TMP=$(mktemp -d)
OUT=$TEST_TMP/out
ERR=$TEST_TMP/err
status=0
test_failed=0

fail_because() {
	echo "    $*"
	test_failed=1
}

# run_pvmm ARGS...: run the monitor; stdin from $STDIN (default /dev/null).
# Sets $status; stdout in $OUT, stderr in $ERR. A monitor that hangs for
# 60 s, or any sanitizer report, fails the test. With PVMM_RING set (0 or
# 3), `pvmm run` gets `--ring $PVMM_RING`: tests/run.sh runs the whole
# suite again with guests at ring 3. With PVMM_TRANSPORT set (mmio or
# pci), `pvmm run` also gets `--transport $PVMM_TRANSPORT`: tests/run.sh
# runs the virtio test files again over virtio-pci.
run_pvmm() {
	local args=("$@")
	if [ -n "${PVMM_RING:-}" ] && [ "${1:-}" = run ]; then
		args=(run --ring "$PVMM_RING" "${args[@]:1}")
	fi
	if [ -n "${PVMM_TRANSPORT:-}" ] && [ "${1:-}" = run ]; then
		args=(run --transport "$PVMM_TRANSPORT" "${args[@]:1}")
	fi
	timeout -s KILL 60 "$PVMM" "${args[@]}" <"${STDIN:-/dev/null}" >"$OUT" 2>"$ERR"
	status=$?
	[ "$status" -eq 137 ] && fail_because "monitor hung (killed after 60 s): $*"
	if grep -qE 'ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:' "$ERR"; then
		fail_because "sanitizer report:"
		head -20 "$ERR" | sed 's/^/      /'
	fi
	return 0
}

expect_status() {
	[ "$status" -eq "$1" ] || fail_because "exit status $status, expected $1 (stderr: $(head -c 300 "$ERR"))"
}

expect_out() {
	grep -qF -- "$1" "$OUT" || fail_because "stdout lacks '$1' (got: $(head -c 300 "$OUT"))"
}

expect_no_out() {
	! grep -qF -- "$1" "$OUT" || fail_because "stdout has '$1'"
}

expect_err() {
	grep -qF -- "$1" "$ERR" || fail_because "stderr lacks '$1' (got: $(head -c 400 "$ERR"))"
}

# The monitor's own errors are one line each on stderr.
expect_err_lines() {
	local n
	n=$(wc -l <"$ERR")
	[ "$n" -eq "$1" ] || fail_because "stderr has $n lines, expected $1: $(head -c 400 "$ERR")"
}

# ring3: true when this run puts guests at ring 3 (PVMM_RING=3, or unset:
# the default), for the few expectations that differ there (no lidt, no
# I/O to unopened ports, much faster guest code).
ring3() {
	[ "${PVMM_RING:-3}" = 3 ]
}

run_test() {
	test_failed=0
	if ! declare -F "$1" >/dev/null; then
		echo "FAIL ${1#test_}: no such test function"
		return
	fi
	"$1"
	if [ "$test_failed" -eq 0 ]; then
		echo "PASS ${1#test_}"
	else
		echo "FAIL ${1#test_}"
	fi
}

# ---- a VM in the background (test_net.sh, test_tcp.sh) ---------------------

BG_VM_PID=

# bg_vm_start SECS ARGS...: `pvmm ARGS` in the background (a `run` at
# $PVMM_RING if set), stdout in $OUT, stderr in $ERR, killed after SECS s.
# Sets $BG_VM_PID.
bg_vm_start() {
	local secs=$1
	shift
	local args=("$@")
	if [ -n "${PVMM_RING:-}" ] && [ "${1:-}" = run ]; then
		args=(run --ring "$PVMM_RING" "${@:2}")
	fi
	timeout -s KILL "$secs" "$PVMM" "${args[@]}" </dev/null >"$OUT" 2>"$ERR" &
	BG_VM_PID=$!
}

# bg_vm_wait_out TEXT [SECONDS]: wait until stdout has TEXT (at most
# SECONDS, default 20; no longer once the VM has exited).
bg_vm_wait_out() {
	local i
	for ((i = 0; i < ${2:-20} * 10; i++)); do
		grep -qF -- "$1" "$OUT" && return 0
		kill -0 "$BG_VM_PID" 2>/dev/null || break
		sleep 0.1
	done
	grep -qF -- "$1" "$OUT" && return 0
	fail_because "stdout never had '$1' (got: $(head -c 300 "$OUT"); stderr: $(head -c 300 "$ERR"))"
	return 1
}

# bg_vm_finish [SECONDS]: wait for the VM to exit (default 20 s; then it
# is killed and the test fails), set $status, check for sanitizer reports.
bg_vm_finish() {
	local i
	for ((i = 0; i < ${1:-20} * 10; i++)); do
		kill -0 "$BG_VM_PID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$BG_VM_PID" 2>/dev/null; then
		fail_because "the VM did not exit (stdout: $(tail -c 300 "$OUT"))"
		kill -KILL "$BG_VM_PID"
	fi
	wait "$BG_VM_PID"
	status=$?
	BG_VM_PID=
	if grep -qE 'ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:' "$ERR"; then
		fail_because "sanitizer report:"
		head -20 "$ERR" | sed 's/^/      /'
	fi
}

# bg_vm_kill: the background VM killed, if there is one (cleanups).
bg_vm_kill() {
	if [ -n "$BG_VM_PID" ]; then
		kill -KILL "$BG_VM_PID" 2>/dev/null
		wait "$BG_VM_PID" 2>/dev/null
		BG_VM_PID=
	fi
}

# ---- disk images (virtio-blk and IDE tests) --------------------------------

# blk_image NAME SECTORS: a zero-filled image in $TEST_TMP; prints its path.
blk_image() {
	local img=$TEST_TMP/$1.img
	rm -f "$img"
	dd if=/dev/zero of="$img" bs=512 count="$2" status=none
	echo "$img"
}

# blk_pattern P START COUNT: the bytes the guest's pattern P has in those
# sectors (blk_rw.c: each sector is 64 copies of printf '%c%06u\n' P s).
blk_pattern() {
	local s line i
	for ((s = $2; s < $2 + $3; s++)); do
		printf -v line '%s%06u\n' "$1" "$s"
		for ((i = 0; i < 6; i++)); do line=$line$line; done
		printf '%s' "$line"
	done
}

# blk_sectors IMG START COUNT: those sectors of the image, on stdout.
blk_sectors() {
	dd if="$1" bs=512 skip="$2" count="$3" status=none
}

# blk_cksum IMG START COUNT: "CRC LENGTH" as the guest prints it.
blk_cksum() {
	blk_sectors "$@" | cksum
}

# blk_expect_sectors IMG START COUNT P: the image holds pattern P there.
blk_expect_sectors() {
	cmp -s <(blk_sectors "$1" "$2" "$3") <(blk_pattern "$4" "$2" "$3") ||
		fail_because "image sectors $2..$(($2 + $3 - 1)) do not hold pattern $4"
}

# blk_flush_then_kill IMG PVMM-OPTIONS...: blk_rw.elf writes pattern F to
# sector 77 and flushes, prints "flushed" and spins; the monitor is then
# killed with SIGKILL, a crash mid-run, and the sector must be on the image.
# After SIGKILL the host page cache would still hold an unflushed write, so
# the backend runs with PVMM_BLK_TEST_CRASH_LOSES_UNFLUSHED=1 (test only,
# docs/virtio-blk.md): only a flush puts data in the image file, and the
# sector is there only if the guest flushed and the device really did.
blk_flush_then_kill() {
	local img=$1 pid i
	shift
	# pvmm itself in the background (its own --timeout as the safety net),
	# so that the kill hits the monitor and leaves nothing behind.
	PVMM_BLK_TEST_CRASH_LOSES_UNFLUSHED=1 \
		"$PVMM" run --timeout 60 "$@" "$GUESTS/blk_rw.elf" flush 77 >"$OUT" 2>"$ERR" &
	pid=$!
	for ((i = 0; i < 300; i++)); do
		grep -q flushed "$OUT" && break
		sleep 0.1
	done
	expect_out "flushed"
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	status=$?
	# 137: killed by SIGKILL, so it was a crash mid-run, not a clean exit.
	[ "$status" -eq 137 ] || fail_because "pvmm was not running when killed (status $status)"
	# Without the mode this test cannot fail; the backend says it is on.
	expect_err "test mode PVMM_BLK_TEST_CRASH_LOSES_UNFLUSHED"
	blk_expect_sectors "$img" 77 1 F
}
