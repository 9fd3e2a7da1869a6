# virtio devices and the virtio-mmio transport, end to end: the virtio
# console (`--console virtio`) and virtio-rng (`--rng`) through the guest
# runtime's drivers, and a hostile virtio-blk driver
# (tests/guests/virtio_hostile.c) that breaks the rings on purpose. The VM
# must survive every hostile case: structural damage makes the device set
# DEVICE_NEEDS_RESET (and say why on stderr) until the guest resets it;
# a bad request gets an error status while the device keeps working.

# vio_image NAME: a 1 MiB zero image in $TEST_TMP; prints its path.
vio_image() {
	local img=$TEST_TMP/$1.img
	rm -f "$img"
	dd if=/dev/zero of="$img" bs=512 count=2048 status=none
	echo "$img"
}

test_virtio_console_round_trip() {
	printf 'hello virtio\nsecond line\n' >"$TEST_TMP/vcons-in"
	STDIN=$TEST_TMP/vcons-in run_pvmm run -s --console virtio "$GUESTS/vconsole.elf" 2
	expect_status 0
	expect_out "vconsole present=1 stdio=1"
	expect_out "direct vcons_write ok"
	expect_out "vecho: hello virtio"
	expect_out "vecho: second line"
	expect_out "vconsole ok"
	# A 4998-byte line (more than one transmit buffer) arrives whole.
	grep -qxE 'x{4998}' "$OUT" || fail_because "the long line did not arrive intact"
	# stdout went over virtio, not the para-API console.
	grep -qE 'console bytes +0 out' "$ERR" || fail_because "the para console carried output: $(grep 'console bytes' "$ERR")"
}

test_virtio_console_end_of_input() {
	printf 'one\ntwo\nthree\n' >"$TEST_TMP/vcons-eof"
	STDIN=$TEST_TMP/vcons-eof run_pvmm run --console virtio "$GUESTS/vconsole.elf" 0
	expect_status 0
	expect_out "vecho: one"
	expect_out "vecho: three"
	expect_out "vconsole eof after 3 lines"
	expect_out "vconsole ok"
}

# vcons_cost KIB: VM exits (kicks included, as pvmm bench compare counts
# them) of compare.elf writing KIB KiB through stdio to the virtio
# console, its output a file (batch mode), into $vcons_exits. Checks the
# output is whole.
vcons_cost() {
	local stats=$TEST_TMP/vcons-cost-$1.json
	run_pvmm run -q --stats-json "$stats" --console virtio build/bench/guests/compare.elf console "$1"
	expect_status 0
	local lines
	lines=$(grep -c '^console line [0-9]*: the quick brown fox jumps over the dog \.*$' "$OUT")
	[ "$lines" -eq $(($1 * 16)) ] || fail_because "$lines lines of output for $1 KiB, not $(($1 * 16))"
	expect_out "compare console bytes=$(($1 * 1024)) "
	vcons_exits=$(awk '{ while (match($0, /"(exits|kicks)": [0-9]+/)) {
		s = substr($0, RSTART, RLENGTH); sub(/.*: /, "", s)
		if (index(substr($0, RSTART, RLENGTH), "kicks")) k += s; else if (!e) e = s
		$0 = substr($0, RSTART + RLENGTH) } } END { print e + k }' "$stats")
}

# Output is batched: 64 KiB of 64-byte lines costs at most 1 exit per KiB
# more than no output at all (setup and exit are the same in both).
# Unbatched (a kick per line) it was some 19 per KiB.
test_virtio_console_batches_output() {
	local none full
	vcons_cost 0
	none=$vcons_exits
	vcons_cost 64
	full=$vcons_exits
	echo "    64 KiB: $full exits, none: $none"
	[ $((full - none)) -le 64 ] ||
		fail_because "64 KiB of console output cost $((full - none)) exits (kicks included), more than 64"
}

# Batched output held in the guest is not lost when it leaves through
# pvmm_exit() directly; the partial line comes out too.
test_virtio_console_raw_exit_keeps_output() {
	run_pvmm run --console virtio "$GUESTS/vconsole.elf" raw-exit
	expect_status 0
	expect_out "vconsole raw-exit line 1"
	expect_out "vconsole raw-exit line 2"
	expect_out "vconsole raw-exit partial"
}

test_virtio_console_absent_keeps_para_console() {
	run_pvmm run "$GUESTS/vconsole.elf"
	expect_status 1
	expect_out "vconsole present=0 stdio=0"
	expect_out "vconsole FAIL: stdio is not on the virtio console"
}

test_virtio_rng() {
	run_pvmm run --rng "$GUESTS/vrng.elf"
	expect_status 0
	expect_out "vrng present=1"
	expect_out "read1=32 read2=32"
	expect_out "big=100000"
	expect_out "vrng ok"
}

test_virtio_rng_absent() {
	run_pvmm run "$GUESTS/vrng.elf"
	expect_status 1
	expect_out "vrng present=0"
	expect_out "read1=-1 read2=-1"
}

test_virtio_all_devices_together() {
	local img
	img=$(vio_image together)
	STDIN=/dev/null run_pvmm run --console virtio --rng --disk "$img" "$GUESTS/blk_rw.elf" info
	expect_status 0
	expect_out "capacity=2048"
	run_pvmm run --rng --disk "$img" --console virtio "$GUESTS/vrng.elf"
	expect_status 0
	expect_out "vrng ok"
}

# The runtime's virtqueue with direct (non-indirect) chains, free-list
# reuse, with and without EVENT_IDX.
test_virtio_virtqueue_direct_chains_event_idx() {
	local img
	img=$(vio_image vq-event)
	run_pvmm run --disk "$img" "$GUESTS/virtq_direct.elf" event
	expect_status 0
	expect_out "virtq_direct event requests=128"
	expect_out " ok"
}

test_virtio_virtqueue_direct_chains_no_event_idx() {
	local img
	img=$(vio_image vq-noevent)
	run_pvmm run --disk "$img" "$GUESTS/virtq_direct.elf" noevent
	expect_status 0
	expect_out "virtq_direct noevent requests=128"
	expect_out " ok"
}

# ---- Hostile driver ---------------------------------------------------

# vio_structural CASE REASON: the device stops with NEEDS_RESET, logs
# REASON, and works again after a reset.
vio_structural() {
	local img
	img=$(vio_image "hostile-$1")
	run_pvmm run --disk "$img" "$GUESTS/virtio_hostile.elf" "$1"
	expect_status 0
	expect_out "$1 outcome=needs_reset"
	expect_out "$1 after_reset=0 (OK)"
	expect_err "virtio-blk"
	expect_err "the device stops until the guest resets it"
	expect_err "$2"
}

# vio_answered CASE STATUS: the request completes with that status byte,
# and the next request succeeds.
vio_answered() {
	local img
	img=$(vio_image "hostile-$1")
	run_pvmm run --disk "$img" "$GUESTS/virtio_hostile.elf" "$1"
	expect_status 0
	expect_out "$1 outcome=answered status_byte=$2"
	expect_out "$1 next_request=0 (OK)"
	expect_no_out "needs_reset"
}

# vio_ring CASE REASON: QueueReady is refused, NEEDS_RESET set, REASON
# logged; a reset brings the device back.
vio_ring() {
	local img
	img=$(vio_image "hostile-$1")
	run_pvmm run --disk "$img" "$GUESTS/virtio_hostile.elf" "$1"
	expect_status 0
	expect_out "$1 queue_ready=0"
	expect_out "needs_reset=1"
	expect_out "$1 after_reset=0 (OK)"
	expect_err "virtio-blk"
	expect_err "$2"
}

test_virtio_hostile_chain_loops() { vio_structural loop "loops"; }
test_virtio_hostile_chain_loops_on_itself() { vio_structural self_loop "loops"; }
test_virtio_hostile_chain_longer_than_queue() { vio_structural too_long "more than the queue size"; }
test_virtio_hostile_buffer_outside_ram() { vio_structural outside_ram "is outside guest RAM"; }
# A read into monitor-private memory (the PML4, the IDT) is refused the same way.
test_virtio_hostile_read_into_page_tables() { vio_structural into_page_tables "buffer at 0x2000"; }
test_virtio_hostile_read_into_idt() { vio_structural into_idt "buffer at 0xd6000"; }
test_virtio_hostile_buffer_straddles_ram_end() { vio_structural straddles_ram_end "is outside guest RAM"; }
test_virtio_hostile_buffer_wraps_around() { vio_structural wrap "is outside guest RAM"; }
test_virtio_hostile_next_out_of_range() { vio_structural next_out_of_range "is beyond the queue size"; }
test_virtio_hostile_head_out_of_range() { vio_structural head_out_of_range "beyond the queue size"; }
test_virtio_hostile_avail_index_jumps() { vio_structural avail_jump "more than the queue size"; }
test_virtio_hostile_nested_indirect() { vio_structural nested_indirect "nesting is not allowed"; }
test_virtio_hostile_indirect_bad_length() { vio_structural indirect_bad_length "not a non-zero multiple of 16"; }
test_virtio_hostile_readable_after_writable() { vio_structural readable_after_writable "device-readable buffer after a device-writable one"; }

test_virtio_hostile_read_into_readable_buffer() { vio_answered wrong_direction "1 (IOERR)"; }
test_virtio_hostile_write_from_writable_buffer() { vio_answered write_into_writable "1 (IOERR)"; }
test_virtio_hostile_short_header() { vio_answered short_header "1 (IOERR)"; }
test_virtio_hostile_sector_past_end() { vio_answered past_end "1 (IOERR)"; }
test_virtio_hostile_read_straddles_end() { vio_answered straddles_end "1 (IOERR)"; }
test_virtio_hostile_huge_sector() { vio_answered huge_sector "1 (IOERR)"; }
test_virtio_hostile_partial_sector() { vio_answered partial_sector "1 (IOERR)"; }
test_virtio_hostile_unknown_request_type() { vio_answered unknown_type "2 (UNSUPP)"; }

test_virtio_hostile_no_status_byte() {
	# Nowhere to write a status: the chain comes back with length 0.
	vio_answered no_status "255 (?) used_len=0"
	expect_err "without a writable status byte"
}

test_virtio_hostile_ring_outside_ram() { vio_ring ring_outside_ram "is outside guest RAM"; }
test_virtio_hostile_ring_straddles_ram_end() { vio_ring ring_straddles_ram_end "is outside guest RAM"; }
test_virtio_hostile_ring_misaligned() { vio_ring ring_misaligned "is not 16-byte aligned"; }
test_virtio_hostile_used_ring_misaligned() { vio_ring used_misaligned "is not 4-byte aligned"; }
test_virtio_hostile_ring_address_wraps() { vio_ring ring_wraps "is outside guest RAM"; }

# A reset, or QueueReady = 0, with eight 32 KiB reads in flight: the
# device finishes or forgets them without touching the rings again, and
# works after a fresh set-up.
test_virtio_hostile_reset_in_flight() {
	local img
	img=$(vio_image hostile-reset)
	run_pvmm run --disk "$img" "$GUESTS/virtio_hostile.elf" reset_in_flight
	expect_status 0
	expect_out "reset_in_flight status_after_reset=0"
	expect_out "reset_in_flight after_reset=0 (OK)"
}

test_virtio_hostile_queue_disabled_in_flight() {
	local img
	img=$(vio_image hostile-qready)
	run_pvmm run --disk "$img" "$GUESTS/virtio_hostile.elf" queue_disabled_in_flight
	expect_status 0
	expect_out "queue_disabled_in_flight queue_ready=0"
	expect_out "queue_disabled_in_flight after_reset=0 (OK)"
}
