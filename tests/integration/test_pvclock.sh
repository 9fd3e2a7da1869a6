# The PV clock page: time without an exit. pvclock.elf reads the page's
# clock READS times, checks it never goes back and agrees with the CLOCK
# call; --stats-json shows whether the reads cost exits (counted, not
# timed: 10000 reads through an exit would be 10000 more).

# pvmm's own exits (all reasons) in $TEST_TMP/stats.json.
pvclock_exits() {
	grep -o '"exits": [0-9]*, "exits_by_reason"' "$TEST_TMP/stats.json" | grep -o '[0-9]*' | head -1
}

test_pvclock_reads_make_no_exits() {
	local base reads
	rm -f "$TEST_TMP/stats.json"
	run_pvmm run --stats-json "$TEST_TMP/stats.json" "$GUESTS/pvclock.elf" 0
	expect_status 0
	expect_out "pvclock ok"
	base=$(pvclock_exits)

	rm -f "$TEST_TMP/stats.json"
	run_pvmm run --stats-json "$TEST_TMP/stats.json" "$GUESTS/pvclock.elf" 10000
	expect_status 0
	expect_out "clock page at 0x"
	expect_out "reads 10000 monotonic: yes"
	expect_out "pvclock ok"
	reads=$(pvclock_exits)
	if [ -z "$base" ] || [ -z "$reads" ]; then
		fail_because "no exit counts in --stats-json ('$base', '$reads')"
	elif [ "$reads" -gt $((base + 10)) ]; then
		fail_because "10000 page reads cost exits: $reads exits against $base without them"
	fi
}

test_pvclock_with_cpus_and_devices() {
	# Several vCPUs (one TSC offset for all) and an I/O thread: still a page.
	run_pvmm run --cpus 3 --rng "$GUESTS/pvclock.elf" 1000
	expect_status 0
	expect_out "reads 1000 monotonic: yes"
	expect_out "pvclock ok"
}
