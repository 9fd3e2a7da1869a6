#!/usr/bin/env bash
# Runs every test_* function of tests/integration/test_*.sh against the
# monitor in $PVMM, printing one "PASS name" or "FAIL name: why" per test.
# With arguments, only those test files (paths or names like test_blk.sh);
# with PVMM_TEST_MATCH, only the tests whose names match that awk regex.
set -u
cd "$(dirname "$0")/../.."
: "${PVMM:=build/pvmm}"
export PVMM

source tests/integration/lib.sh
files=(tests/integration/test_*.sh)
[ $# -gt 0 ] && files=("${@/#/tests/integration/}") && files=("${files[@]/#tests\/integration\/tests\/integration\//tests/integration/}")
for file in "${files[@]}"; do
	source "$file"
done
for test in $(declare -F | awk -v m="${PVMM_TEST_MATCH:-.}" '$3 ~ /^test_/ && $3 ~ m { print $3 }'); do
	run_test "$test"
done
rm -rf "$TEST_TMP"
