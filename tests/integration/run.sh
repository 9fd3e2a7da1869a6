#!/usr/bin/env bash
# Runs every test_* function of tests/integration/test_*.sh against the
# monitor in $PVMM, printing one "PASS name" or "FAIL name: why" per test.
set -u
cd "$(dirname "$0")/../.."
: "${PVMM:=build/pvmm}"
export PVMM

source tests/integration/lib.sh
for file in tests/integration/test_*.sh; do
	source "$file"
done
for test in $(declare -F | awk '$3 ~ /^test_/ { print $3 }'); do
	run_test "$test"
done
rm -rf "$TEST_TMP"
