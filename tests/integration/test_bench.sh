# The benchmark's own programs behave as the bench assumes: rawvm's modes
# run at the CPL they claim, and the compute guest prints its result line
# and computes what the host computes. Behaviour only: nothing here is
# timed. These pass --ring themselves, whatever PVMM_RING says.

RAWVM=build/bench/rawvm
COMPUTE=build/bench/guests/compute.elf
COMPUTE0=build/bench/guests/compute-ring0.elf

# run_rawvm ARGS...: like run_pvmm, for the floor program.
run_rawvm() {
	timeout -s KILL 60 "$RAWVM" "$@" </dev/null >"$OUT" 2>"$ERR"
	status=$?
}

test_bench_rawvm_modes_run_at_their_cpl() {
	run_rawvm -v
	expect_status 0
	expect_out "rawvm: mode=real cpl=0 exits=0"
	run_rawvm -v loop 5
	expect_status 0
	expect_out "rawvm: mode=long cpl=0 exits=5"
	run_rawvm -v cpl3
	expect_status 0
	expect_out "rawvm: mode=long cpl=3 exits=0"
	run_rawvm -v cpl3 loop 7
	expect_status 0
	expect_out "rawvm: mode=long cpl=3 exits=7"
	# Without -v the timed modes print nothing at all.
	run_rawvm cpl3 loop 3
	expect_status 0
	[ -s "$OUT" ] || [ -s "$ERR" ] && fail_because "rawvm cpl3 loop 3 printed something"
}

test_bench_rawvm_bad_arguments() {
	local args
	for args in "cpl3 loop" "cpl3 loop x" "loop -1" "cpl0" "cpl3 3"; do
		# shellcheck disable=SC2086
		run_rawvm $args
		expect_status 2
	done
}

# compute_int_sh N: the integer kernel of bench/compute_kernel.h in shell
# arithmetic (64-bit, wrapping; >> is arithmetic, so mask for a logical shift).
compute_int_sh() {
	local n=$1 i x=$((0x243f6a8885a308d3)) h=$((0xcbf29ce484222325))
	for ((i = 0; i < n; i++)); do
		x=$((x ^ (x << 13)))
		x=$((x ^ ((x >> 7) & 0x01ffffffffffffff)))
		x=$((x ^ (x << 17)))
		h=$(((h ^ x) * 0x100000001b3))
	done
	printf '%x' "$h"
}

test_bench_compute_guest_result_lines() {
	local want
	want=$(compute_int_sh 1000)
	PVMM_RING= run_pvmm run --ring 3 "$COMPUTE" int 1000 fp 1000
	expect_status 0
	expect_out "compute kernel=int n=1000 ns="
	expect_out " result=$want"
	expect_out "compute kernel=fp n=1000 ns="
	[ "$(grep -cE '^compute kernel=(int|fp) n=1000 ns=[0-9]+ result=[0-9a-f]+$' "$OUT")" -eq 2 ] ||
		fail_because "not two well-formed result lines: $(cat "$OUT")"
	PVMM_RING= run_pvmm run --ring 0 "$COMPUTE0" int 1000
	expect_status 0
	expect_out "compute kernel=int n=1000 ns="
	expect_out " result=$want"
}

test_bench_compute_ring0_build_refuses_fp() {
	PVMM_RING= run_pvmm run --ring 0 "$COMPUTE0" fp 10
	expect_status 1
	expect_out "compute FAIL: this build has no floating point"
	PVMM_RING= run_pvmm run --ring 3 "$COMPUTE" sqrt 10
	expect_status 1
	expect_out "compute FAIL: unknown kernel"
}

test_bench_compare_ring_option() {
	run_pvmm bench compare --ring 5
	expect_status 2
	expect_err "--ring takes 0, 3 or 0,3"
	run_pvmm bench compare --help
	expect_status 0
	expect_out "--ring LIST"
	expect_out "--ne2000-frames N"
	run_pvmm bench compare --net-frames 0
	expect_status 2
	expect_err "not a frame count"
}

# The network workload bench compare runs, on each NIC model, to the null
# back end: every frame reaches the back end, and the NE2000 costs
# hundreds of exits a frame where virtio-net costs a fraction of one.
test_bench_compare_net_send() {
	local guest=build/bench/guests/compare.elf m
	for m in virtio ne2000; do
		run_pvmm run --stats-json "$TEST_TMP/$m.json" --net "null,model=$m" "$guest" net-send 50
		expect_status 0
		expect_out "compare net-send bytes=51200 ops=50 "
		grep -q '"tx_frames": 50' "$TEST_TMP/$m.json" || fail_because "$m: not 50 tx_frames: $(cat "$TEST_TMP/$m.json")"
	done
	local ex_v ex_n
	ex_v=$(grep -oE '"exits": [0-9]+' "$TEST_TMP/virtio.json" | head -1 | grep -oE '[0-9]+')
	ex_n=$(grep -oE '"exits": [0-9]+' "$TEST_TMP/ne2000.json" | head -1 | grep -oE '[0-9]+')
	[ "${ex_n:-0}" -ge 10000 ] || fail_because "NE2000: only ${ex_n} exits for 50 frames"
	[ "${ex_v:-99999}" -le 1000 ] || fail_because "virtio-net: ${ex_v} exits for 50 frames"
}

# mmubench, the page-table rows of make bench and bench compare: both
# modes print their result line, and --stats-json's kvm_mmu shows KVM's
# own view of the work. A ring-0 guest's own invlpg (two per mapping:
# map, then unmap) is intercepted by KVM where guest kernel code is
# interpreted (no VT-x here); the PV MMU call makes the guest run none.
test_bench_mmubench_kvm_counters() {
	local guest=build/bench/guests/mmubench.elf
	PVMM_RING= run_pvmm run --ring 0 -q --stats-json "$TEST_TMP/direct.json" "$guest" mode=direct n=256 rounds=1
	expect_status 0
	expect_out "mmubench mode=direct n=256 rounds=1 ns_per_map="
	PVMM_RING= run_pvmm run --ring 3 -q --stats-json "$TEST_TMP/pv.json" "$guest" mode=pv n=256 rounds=1
	expect_status 0
	expect_out "mmubench mode=pv n=256 rounds=1 ns_per_map="
	PVMM_RING= run_pvmm run --ring 3 -q "$guest" mode=direct
	expect_status 1
	expect_out "mode=direct refused: the guest runs at ring 3"
	if grep -q '"insn_emulation": null' "$TEST_TMP/direct.json"; then
		echo "    (KVM counts skipped: this kernel has no binary statistics)"
		return
	fi
	local key
	for key in pf_taken pf_emulate pf_guest tlb_flush invlpg insn_emulation; do
		grep -qE "\"kvm_mmu\": \{.*\"$key\": [0-9]+" "$TEST_TMP/direct.json" ||
			fail_because "no kvm_mmu.$key in $(grep kvm_mmu "$TEST_TMP/direct.json")"
	done
	local direct_invlpg pv_invlpg
	direct_invlpg=$(grep -oE '"invlpg": [0-9]+' "$TEST_TMP/direct.json" | grep -oE '[0-9]+')
	pv_invlpg=$(grep -oE '"invlpg": [0-9]+' "$TEST_TMP/pv.json" | grep -oE '[0-9]+')
	[ "${pv_invlpg:-1}" -eq 0 ] || fail_because "the ring-3 PV MMU guest: KVM saw ${pv_invlpg} invlpg"
	# Where KVM interprets CPL0 code (no VT-x), and shadows the guest's
	# page tables, each of the ring-0 guest's PTE writes is an emulated
	# instruction checked against them.
	if ! grep -qwE 'vmx|svm' /proc/cpuinfo; then
		local emulated checked
		emulated=$(grep -oE '"insn_emulation": [0-9]+' "$TEST_TMP/direct.json" | grep -oE '[0-9]+')
		checked=$(grep -oE '"mmu_pte_write": [0-9]+' "$TEST_TMP/direct.json" | grep -oE '[0-9]+')
		[ "${direct_invlpg:-0}" -ge 512 ] ||
			fail_because "256 mappings made and undone with invlpg: KVM counted ${direct_invlpg} invlpg"
		[ "${emulated:-0}" -ge 1024 ] ||
			fail_because "256 mappings made and undone at CPL0: KVM emulated only ${emulated} instructions"
		[ "${checked:-0}" -ge 512 ] ||
			fail_because "512 PTE writes at CPL0: KVM checked ${checked} writes against its shadow tables"
	fi
}
