# virtio-blk end to end: `pvmm run --disk`, the guest runtime's block
# driver (<pvmm/blk.h>, tests/guests/blk_rw.c) and the Solo5-equivalent
# block test (bench/guests/blkrw.c). The host side checks the image with
# coreutils: cksum, cmp, dd.

BLK_BENCH=build/bench/guests


# blk_expect_zero IMG START COUNT
blk_expect_zero() {
	cmp -s <(blk_sectors "$1" "$2" "$3") <(head -c $(($3 * 512)) /dev/zero) ||
		fail_because "image sectors $2..$(($2 + $3 - 1)) are not zero"
}

test_blk_info() {
	local img
	img=$(blk_image info 2048)
	run_pvmm run --disk "$img" "$GUESTS/blk_rw.elf" info
	expect_status 0
	expect_out "capacity=2048 block_size=512 readonly=0 flush=1"
	expect_out "get_id=0 (OK) id=pvmm-"
}

test_blk_write_flush_read_back() {
	local img
	img=$(blk_image rw 2048)
	run_pvmm run --disk "$img" "$GUESTS/blk_rw.elf" rw 16
	expect_status 0
	expect_out "rw ok sectors=17"
	# The guest's checksums of what it wrote match the image afterwards.
	expect_out "cksum 0 16: $(blk_cksum "$img" 0 16)"
	expect_out "cksum 2047 1: $(blk_cksum "$img" 2047 1)"
	blk_expect_sectors "$img" 0 16 A
	blk_expect_sectors "$img" 2047 1 A
	blk_expect_zero "$img" 16 2031
}

test_blk_guest_reads_what_the_host_wrote() {
	local img
	img=$(blk_image host 2048)
	blk_pattern H 100 32 | dd of="$img" bs=512 seek=100 conv=notrunc status=none
	run_pvmm run --disk "$img" "$GUESTS/blk_rw.elf" readhost 100 32
	expect_status 0
	expect_out "cksum 100 32: $(blk_cksum "$img" 100 32)"
	expect_out "host_pattern_mismatches=0"
}

test_blk_host_reads_what_the_guest_wrote() {
	local img
	img=$(blk_image guest 2048)
	run_pvmm run --disk "$img" "$GUESTS/blk_rw.elf" writepattern G 500 8
	expect_status 0
	expect_out "writepattern ok"
	blk_expect_sectors "$img" 500 8 G
	# Nothing around it changed.
	blk_expect_zero "$img" 0 500
	blk_expect_zero "$img" 508 1540
}

test_blk_capacity_edges() {
	local img
	img=$(blk_image cap 1001) # an odd size: the last sector is 1000
	run_pvmm run --disk "$img" "$GUESTS/blk_rw.elf" capacity
	expect_status 0
	expect_out "capacity=1001"
	expect_out "last=0 (OK)"
	expect_out "past_end=-6 (ERANGE)"
	expect_out "straddle=-6 (ERANGE)"
	expect_out "write_past_end=-6 (ERANGE)"
	expect_out "after=0 (OK)"
	expect_out "capacity ok"
	[ "$(stat -c %s "$img")" -eq $((1001 * 512)) ] || fail_because "the image changed size"
}

test_blk_readonly_disk_refuses_writes() {
	local img copy
	img=$(blk_image ro 2048)
	blk_pattern R 0 4 | dd of="$img" bs=512 conv=notrunc status=none
	copy=$TEST_TMP/ro-copy.img
	cp "$img" "$copy"
	run_pvmm run --disk "$img,readonly" "$GUESTS/blk_rw.elf" readonly
	expect_status 0
	expect_out "readonly=1"
	expect_out "read=0 (OK)"
	expect_out "cksum 0 1: $(blk_cksum "$img" 0 1)"
	expect_out "write=-5 (EIO)"
	expect_out "read_after=0 (OK)"
	expect_out "readonly ok"
	cmp -s "$img" "$copy" || fail_because "the read-only image was modified"
}

test_blk_flushed_write_survives_kill() {
	local img
	img=$(blk_image flush 2048)
	blk_flush_then_kill "$img" --disk "$img"
}

test_blk_many_in_flight_polling() {
	local img
	img=$(blk_image inflight-poll 2048)
	run_pvmm run --disk "$img" "$GUESTS/blk_rw.elf" inflight poll
	expect_status 0
	expect_out "in_flight_after_submit=32"
	expect_out "inflight mode=poll completed=32 missing=0 dup=0 stray=0 errors=0 extra=0 bad_data=0"
	expect_out "inflight ok"
	# The writes are in the image, the reads did not disturb theirs.
	local k
	for ((k = 0; k < 32; k += 2)); do blk_expect_sectors "$img" $((100 + k)) 1 W; done
	blk_expect_sectors "$img" 200 32 R
}

test_blk_many_in_flight_interrupts() {
	local img
	img=$(blk_image inflight-irq 2048)
	run_pvmm run --disk "$img" "$GUESTS/blk_rw.elf" inflight irq
	expect_status 0
	expect_out "in_flight_after_submit=32"
	expect_out "inflight mode=irq completed=32 missing=0 dup=0 stray=0 errors=0 extra=0 bad_data=0"
	expect_out "inflight ok"
	local k
	for ((k = 0; k < 32; k += 2)); do blk_expect_sectors "$img" $((100 + k)) 1 W; done
}

test_blk_get_id_write_zeroes_discard() {
	local img
	img=$(blk_image extras 2048)
	run_pvmm run --disk "$img" "$GUESTS/blk_rw.elf" extras
	expect_status 0
	expect_out "get_id=0 (OK) id=pvmm-"
	expect_out "write_zeroes=0 (OK)"
	expect_out "zeroed=1 kept=1"
	expect_out "discard=0 (OK)"
	expect_out "zero_count=-2 (EINVAL)"
	expect_out "extras ok"
	blk_expect_zero "$img" 300 2
}

test_blk_several_disks() {
	local a b
	a=$(blk_image disk-a 64)
	b=$(blk_image disk-b 128)
	run_pvmm run --disk "$a" --disk "$b,readonly" "$GUESTS/blk_rw.elf" disks
	expect_status 0
	expect_out "disks=2"
	expect_out "disk 0 capacity=64 readonly=0 read=0 (OK)"
	expect_out "disk 1 capacity=128 readonly=1 read=0 (OK)"
	expect_out "disks ok"
}

test_blk_guest_without_disk() {
	run_pvmm run "$GUESTS/blk_rw.elf" info
	expect_status 1
	expect_out "info FAIL: no disk: -1 (ENODEV) (blk_count=0)"
}

# Solo5's test_blk's requests, done the pvmm way: every 10th sector of a
# 4 MiB disk written, read back and compared (820 sectors). Only what it
# does is tested here; how long it takes is make bench's business.
test_blk_solo5_block_test_equivalent() {
	local img i
	img=$(blk_image solo5 8192)
	run_pvmm run --disk "$img" "$BLK_BENCH/blkrw.elf"
	expect_status 0
	expect_out "blkrw sectors=820 bytes=419840"
	expect_out "SUCCESS"
	local s
	for s in 0 10 4090 8190; do
		cmp -s <(blk_sectors "$img" "$s" 1) <(for ((i = 0; i < 512; i++)); do printf "$((i % 10))"; done) ||
			fail_because "sector $s does not hold the Solo5 pattern"
	done
}

test_blk_bench_guest_runs() {
	local img
	img=$(blk_image bench 8192)
	run_pvmm run --disk "$img" "$BLK_BENCH/blkbench.elf" pattern=rand op=write bs=4096 qd=32 count=256
	expect_status 0
	expect_out "blkbench pattern=rand op=write bs=4096 qd=32 mode=poll batch=1 ops=256 bytes=1048576"
	expect_out "errors=0"
	run_pvmm run --disk "$img" "$BLK_BENCH/blkbench.elf" pattern=seq op=read bs=65536 qd=8 count=64 mode=irq
	expect_status 0
	expect_out "blkbench pattern=seq op=read bs=65536 qd=8 mode=irq batch=1 ops=64 bytes=4194304"
	expect_out "errors=0"
}

# Randomized submit / kick / wait / collect patterns, both modes: every
# request back exactly once, reads see the last write, no lost wake-up
# (the guest fails on a 10 s wait instead of hanging). The seed is in the
# output for repeating a failure: blk_stress.elf MODE OPS SEED.
test_blk_stress_polling() {
	local img
	img=$(blk_image stress-poll 1024)
	run_pvmm run --disk "$img" "$GUESTS/blk_stress.elf" poll 2000
	expect_status 0
	expect_out "blk_stress mode=poll ops=2000"
	expect_out " ok"
}

test_blk_stress_interrupts() {
	local img
	img=$(blk_image stress-irq 1024)
	run_pvmm run --disk "$img" "$GUESTS/blk_stress.elf" irq 2000
	expect_status 0
	expect_out "blk_stress mode=irq ops=2000"
	expect_out " ok"
}

# The device polls the emptied ring for a short window (virtio_blk.c,
# "Polling"), bounded: a guest that reads a while and then sleeps 1 s with
# the disk attached costs the I/O thread no CPU beyond a few windows. The
# same run with every request's CPU and its sleep costs a few ms; a poll
# that kept going would cost about the whole second. Either ring.
test_blk_poll_window_idle_cpu() {
	local img j cpu
	img=$(blk_image idle 1024)
	j=$TEST_TMP/idle.json
	run_pvmm run --stats-json "$j" --disk "$img" "$GUESTS/blk_rw.elf" idle 500 1000
	expect_status 0
	expect_out "idle ok reads=500 slept_ms=1000"
	cpu=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["iothread_cpu_ns"] // 1000000)' "$j")
	[ -n "$cpu" ] && [ "$cpu" -lt 150 ] ||
		fail_because "the I/O thread used ${cpu:-?} ms of CPU over a run that sleeps 1 s (want < 150)"
	grep -q '"poll_misses"' "$j" || fail_because "no poll counters in --stats-json"
}

# ---- issue 13: --disk key=value, an image given twice --------------------

test_blk_disk_key_value_form() {
	local dir img
	dir=$TEST_TMP/with,comma
	mkdir -p "$dir"
	img=$dir/disk.img
	dd if=/dev/zero of="$img" bs=512 count=64 status=none
	# A comma in a value is written as two.
	run_pvmm run --disk "path=${img//,/,,},readonly=on,id=data-disk" "$GUESTS/blk_rw.elf" info
	expect_status 0
	expect_out "capacity=64 "
	expect_out "readonly=1"
	expect_out "get_id=0 (OK) id=data-disk"
	run_pvmm run --disk "id=rw,path=${img//,/,,},readonly=off" "$GUESTS/blk_rw.elf" info
	expect_status 0
	expect_out "readonly=0"
	expect_out "id=rw"
	# The emulated IDE disk shows the id as its serial number.
	run_pvmm run --disk-model ide --disk "path=${img//,/,,},id=ide-serial-7" "$GUESTS/blk_rw.elf" info
	expect_status 0
	expect_out "id=ide-serial-7"
	# The old form still works, and a path with a comma is refused there
	# with a pointer to the new one.
	run_pvmm run --disk "$(blk_image plain 64),readonly" "$GUESTS/blk_rw.elf" info
	expect_status 0
	expect_out "readonly=1"
	run_pvmm run --disk "$img" "$GUESTS/blk_rw.elf" info
	expect_status 2
	expect_err "--disk '$img': unknown disk option 'comma/disk.img'; the only one is 'readonly' (or write --disk path=FILE,readonly=on|off,id=NAME)"
	expect_err_lines 1
}

test_blk_disk_key_value_mistakes() {
	local img
	img=$(blk_image kv 64)
	run_pvmm run --disk "path=$img,readonly=yes" "$GUESTS/blk_rw.elf" info
	expect_status 2
	expect_err "--disk 'path=$img,readonly=yes': readonly takes on or off"
	expect_err_lines 1
	run_pvmm run --disk "path=$img,size=1G" "$GUESTS/blk_rw.elf" info
	expect_status 2
	expect_err "--disk 'path=$img,size=1G': unknown key 'size'; the keys are path, readonly and id"
	run_pvmm run --disk "readonly=on" "$GUESTS/blk_rw.elf" info
	expect_status 2
	expect_err "--disk 'readonly=on' names no image file: add path=FILE"
	run_pvmm run --disk "path=$img,id=an-id-longer-than-twenty" "$GUESTS/blk_rw.elf" info
	expect_status 2
	expect_err "id 'an-id-longer-than-twenty' must be 1 to 20 printable characters without spaces"
	run_pvmm run --disk "path=$img,id=x" --disk "path=$(blk_image kv2 64),id=x" "$GUESTS/blk_rw.elf" info
	expect_status 2
	expect_err "have the same id 'x'; give each disk its own"
	expect_err_lines 1
}

test_blk_same_image_twice_is_named() {
	local img
	img=$(blk_image twice 64)
	run_pvmm run --disk "$img" --disk "$img,readonly" "$GUESTS/blk_rw.elf" disks
	expect_status 2
	expect_err "pvmm: disk image '$img' is given twice (--disk '$img' and --disk '$img,readonly' are the same file); give it once, or make both readonly"
	expect_err_lines 1
	# Another name for the same file is the same image.
	ln -sf "$img" "$TEST_TMP/twice-link.img"
	run_pvmm run --disk "$img" --disk "path=$TEST_TMP/twice-link.img" "$GUESTS/blk_rw.elf" disks
	expect_status 2
	expect_err "is given twice"
	# Two read-only views of one image write nothing: allowed.
	run_pvmm run --disk "$img,readonly" --disk "$img,readonly" "$GUESTS/blk_rw.elf" disks
	expect_status 0
	expect_out "disks=2"
}
