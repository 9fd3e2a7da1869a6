#!/usr/bin/env bash
# make check: every test pvmm has, ending with the line "N passed, N failed".
#   1. unit tests (cmocka), plain and under ASan+UBSan
#   2. integration tests (real guests under KVM) against build/pvmm and
#      against the ASan+UBSan monitor build/asan/pvmm with guests at ring 3
#      (the default), then build/pvmm with every guest at ring 0 (--ring 0)
#   3. the fuzz targets' regression corpora, replayed under ASan+UBSan
#   4. device files compile without the VM's or any transport's headers
#   5. the monitor, runtime and tests build warning-free under clang too
set -u
cd "$(dirname "$0")/.."

passed=0
failed=0

# cmocka prints "[  PASSED  ] N test(s)." and "[  FAILED  ] N test(s)".
run_unit() {
	local bin=$1 out rc p f
	out=$(CMOCKA_MESSAGE_OUTPUT=stdout "$bin" 2>&1)
	rc=$?
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' <<<"$out" | tail -1)
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' <<<"$out" | tail -1)
	p=${p:-0} f=${f:-0}
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1 # crashed or a sanitizer stopped it before the summary
	fi
	[ "$f" -ne 0 ] && printf '%s\n' "$out" | grep -E 'FAILED|ERROR|Sanitizer|runtime error' | head -20
	echo "unit  $bin: $p passed, $f failed"
	passed=$((passed + p))
	failed=$((failed + f))
}

for bin in build/tests/unit/test_* build/asan/tests/unit/test_*; do
	[ -x "$bin" ] && run_unit "$bin"
done

# The release and ASan monitors with guests at ring 3, then the release
# monitor again with every guest at ring 0 (lib.sh's PVMM_RING).
for run in build/pvmm:3 build/asan/pvmm:3 build/pvmm:0; do
	monitor=${run%:*} ring=${run#*:}
	echo "== integration tests with $monitor, guests at ring $ring"
	out=$(PVMM=$monitor PVMM_RING=$ring tests/integration/run.sh 2>&1)
	printf '%s\n' "$out" | grep -v '^PASS '
	p=$(grep -c '^PASS ' <<<"$out")
	f=$(grep -c '^FAIL ' <<<"$out")
	passed=$((passed + p))
	failed=$((failed + f))
	echo "integration ($monitor, ring $ring): $p passed, $f failed"
done

# The virtio device tests again over virtio-pci (--transport pci; lib.sh's
# PVMM_TRANSPORT), release and ASan monitors, guests at ring 3. The
# virtio-mmio register tests (virtio_hostile.c) stay mmio-only; PCI's own
# hostile cases are test_pci.sh's and the unit tests'.
PCI_MATCH='^test_(virtio_(console|rng|all)|blk_|pci_)'
for monitor in build/pvmm build/asan/pvmm; do
	echo "== integration tests over virtio-pci with $monitor"
	out=$(PVMM=$monitor PVMM_RING=3 PVMM_TRANSPORT=pci PVMM_TEST_MATCH=$PCI_MATCH \
		tests/integration/run.sh test_virtio.sh test_blk.sh test_pci.sh 2>&1)
	printf '%s\n' "$out" | grep -v '^PASS '
	p=$(grep -c '^PASS ' <<<"$out")
	f=$(grep -c '^FAIL ' <<<"$out")
	passed=$((passed + p))
	failed=$((failed + f))
	echo "integration over virtio-pci ($monitor): $p passed, $f failed"
done

# Each fuzz target's regression corpus, replayed under ASan+UBSan: one
# PASS/FAIL per target (tests/fuzz/README.md).
echo "== fuzz corpus replay"
for bin in build/fuzz/replay/fuzz_*; do
	[ -x "$bin" ] || continue
	t=${bin##*/}
	if out=$("$bin" "tests/fuzz/corpus/$t" 2>&1); then
		echo "PASS fuzz replay $t: ${out##*$'\n'}"
		passed=$((passed + 1))
	else
		printf '%s\n' "$out" | grep '^replay: ' | tail -1
		printf '%s\n' "$out" | grep -E 'ERROR|SUMMARY|runtime error|fuzz check|#[0-9] |^replayed' | head -20
		echo "FAIL fuzz replay $t"
		failed=$((failed + 1))
	fi
done

echo "== device files stand apart from the VM and the transports"
if tests/check_layering.sh; then
	echo "PASS device layering"
	passed=$((passed + 1))
else
	echo "FAIL device layering: a file in src/devices/ includes a VM or transport header"
	failed=$((failed + 1))
fi

echo "== clang build"
if make -s --no-print-directory CC=clang BUILD=build/clang monitor guest tests-build bench-build >build/clang.log 2>&1; then
	echo "PASS clang build"
	passed=$((passed + 1))
else
	tail -20 build/clang.log
	echo "FAIL clang build (see build/clang.log)"
	failed=$((failed + 1))
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
