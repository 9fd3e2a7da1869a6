# The PV MMU (PVMM_CALL_MMU) and the runtime's read-only text, at the ring
# PVMM_RING says. A fault is the monitor's usual report, status 65.

# Present + write (+ user at ring 3): a write to a read-only page.
test_mmu_text_is_read_only() {
	run_pvmm run "$GUESTS/mmu.elf" text_write
	expect_status 65
	local at
	at=$(awk '/writing text at/ { print $4 }' "$OUT")
	[ -n "$at" ] || fail_because "the guest did not say where its text is"
	expect_err "guest fault"
	expect_err "vector 14 (#PF page fault)"
	expect_err "cr2 $at"
	if ring3; then expect_err "error code 0x7, rip"; else expect_err "error code 0x3, rip"; fi
	expect_no_out "went through"
}

test_mmu_rodata_is_read_only() {
	run_pvmm run "$GUESTS/mmu.elf" rodata_write
	expect_status 65
	local at
	at=$(awk '/writing rodata at/ { print $4 }' "$OUT")
	[ -n "$at" ] || fail_because "the guest did not say where rodata is"
	expect_err "vector 14 (#PF page fault)"
	expect_err "cr2 $at"
	if ring3; then expect_err "error code 0x7, rip"; else expect_err "error code 0x3, rip"; fi
	expect_no_out "went through"
}

# Not present (+ user at ring 3): a read of a freshly unmapped page.
test_mmu_unmapped_page_faults() {
	run_pvmm run "$GUESTS/mmu.elf" unmap
	expect_status 65
	local at
	at=$(awk '/^unmapped/ { print $2 }' "$OUT")
	[ -n "$at" ] || fail_because "the guest did not unmap"
	expect_err "vector 14 (#PF page fault)"
	expect_err "cr2 $at"
	if ring3; then expect_err "error code 0x4, rip"; else expect_err "error code 0, rip"; fi
	expect_no_out "from an unmapped page"
}

test_mmu_map_works() {
	run_pvmm run "$GUESTS/mmu.elf" map
	expect_status 0
	expect_out "map ok: wrote via 0x80000000, read 0x1234567890abcdef"
	expect_out "alias ok"
}

test_mmu_protect_then_write_faults() {
	run_pvmm run "$GUESTS/mmu.elf" protect
	expect_status 65
	expect_out "read-only page reads 42"
	expect_err "vector 14 (#PF page fault)"
	if ring3; then expect_err "error code 0x7, rip"; else expect_err "error code 0x3, rip"; fi
	expect_no_out "went through"
}

test_mmu_bad_batches_refused() {
	run_pvmm run "$GUESTS/mmu.elf" bad
	expect_status 0
	local name
	for name in va_unaligned va_low va_high va_straddles_end va_noncanonical pages_zero pages_many \
		kind_zero kind_unknown flags_unknown reserved unmap_pa pa_unaligned protect_unmapped; do
		expect_out "$name ret=-2 failed=1"
	done
	for name in pa_outside_ram pa_runs_out_of_ram pa_page_tables pa_idt pa_pool; do
		expect_out "$name ret=-1 failed=1"
	done
	expect_out "count_zero ret=-2 failed=0"
	expect_out "count_many ret=-2 failed=513"
	expect_out "ops_private ret=-1"
	expect_out "ops_outside_ram ret=-1"
	expect_out "block_reserved ret=-2"
	expect_out "intact yes"
}

# 10,000 map/write/check/unmap rounds: each batch takes fresh table pages,
# so the pool runs out and is recycled many times over.
test_mmu_many_batches_recycle_the_pool() {
	run_pvmm run --stats "$GUESTS/mmu.elf" cycles 10000
	expect_status 0
	expect_out "cycles 10000 ok"
	expect_err "pv mmu recycles"
}

# An unmap on CPU 0 is in force on CPU 1 before the call returns.
test_mmu_unmap_reaches_other_cpus() {
	run_pvmm run --cpus 2 "$GUESTS/mmu.elf" smp
	expect_status 65
	expect_out "cpu 1 reads 0x80000000"
	expect_err "guest fault on CPU 1"
	expect_err "cr2 0x80000000"
	expect_no_out "still reads"
}

# A secondary CPU's stack overflow hits its guard page.
test_mmu_secondary_stack_guard() {
	run_pvmm run --cpus 2 "$GUESTS/mmu.elf" guard
	expect_status 65
	expect_out "cpu 1 overflows its stack"
	expect_err "guest fault on CPU 1"
	expect_err "vector 14 (#PF page fault)"
	# The fault is in the guard page, the stack block's lowest page.
	local guard cr2
	guard=$(awk '/^guard page/ { print $3 }' "$OUT")
	cr2=$(grep -o 'cr2 0x[0-9a-f]*' "$ERR" | head -1 | awk '{ print $2 }')
	if [ -z "$guard" ] || [ -z "$cr2" ] || (( cr2 < guard || cr2 >= guard + 4096 )); then
		fail_because "fault at ${cr2:-?}, not in the guard page at ${guard:-?}"
	fi
	expect_no_out "came back"
	expect_no_out "recursion returned"
}

# Ring 3: RAM the heap has not grown into is unmapped (a stray pointer
# there faults); at ring 0 the identity map stays as it is.
test_mmu_heap_beyond_its_end() {
	run_pvmm run "$GUESTS/mmu.elf" heap_beyond
	if ring3; then
		expect_status 65
		local at
		at=$(awk '/^beyond/ { print $2 }' "$OUT")
		[ -n "$at" ] || fail_because "the guest printed no address"
		expect_err "vector 14 (#PF page fault)"
		expect_err "cr2 $at"
		expect_no_out "has not grown into"
	else
		expect_status 1
		expect_out "has not grown into"
	fi
}

# The heap grows into that RAM on demand, 2 MiB at a time: every page of
# 24 MiB of blocks written and read back (32 MiB of guest RAM).
test_mmu_heap_grows_on_demand() {
	run_pvmm run -s "$GUESTS/mmu.elf" heap_grow 24
	expect_status 0
	expect_out "heap ok 24 MiB"
	if ring3; then
		local calls
		calls=$(awk '$1 == "mmu" { print $2 }' "$ERR")
		[ "${calls:-0}" -ge 10 ] || fail_because "expected the heap to grow with >= 10 MMU calls, saw '${calls:-none}'"
	fi
}
