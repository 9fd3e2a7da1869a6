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
# 60 s, or any sanitizer report, fails the test.
run_pvmm() {
	timeout -s KILL 60 "$PVMM" "$@" <"${STDIN:-/dev/null}" >"$OUT" 2>"$ERR"
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

run_test() {
	test_failed=0
	"$1"
	if [ "$test_failed" -eq 0 ]; then
		echo "PASS ${1#test_}"
	else
		echo "FAIL ${1#test_}"
	fi
}
