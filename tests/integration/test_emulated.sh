# Full virtualization beside paravirtualization: the emulated 16550A UART
# (`--console uart`) and IDE disk (`--disk-model ide`) driven by the guest
# runtime's stock-style drivers (guest/runtime/uart.c, ide.c) behind the
# same stdio and <pvmm/blk.h> as the para-API and virtio paths, so one
# guest binary runs on every path. Data written over one disk path is read
# back over the other (guest checksums against the host's cksum/cmp), and
# two hostile guests (tests/guests/uart_hostile.c, ide_hostile.c) check
# the exact register answers docs/devices.md promises; the VM must exit 0
# with the device still usable.

EMU_BENCH=build/bench/guests


# emu_field KEY: the value of KEY=VALUE in the "compare ..." line of $OUT.
emu_field() {
	sed -n "s/^compare .* $1=\([^ ]*\).*/\1/p" "$OUT"
}

# ---- UART -----------------------------------------------------------------

test_emulated_uart_hello() {
	run_pvmm run -s --console uart "$EXAMPLES/hello.elf" one "two words"
	expect_status 0
	# The same bytes as over the para console, nothing else.
	[ "$(cat "$OUT")" = "$(printf 'Hello from pvmm!\nargv[0] = %s\nargv[1] = one\nargv[2] = two words' "$EXAMPLES/hello.elf")" ] ||
		fail_because "stdout differs: $(head -c 300 "$OUT")"
	# stdout went over the UART, not the para-API console.
	grep -qE 'console bytes +0 out' "$ERR" || fail_because "the para console carried output: $(grep 'console bytes' "$ERR")"
	# A stock 8250 driver's cost: per 16 bytes one LSR read and 16 THR
	# writes, plus ~10 accesses to set the chip up and one to drain.
	local line accesses bytes
	line=$(grep 'uart16550' "$ERR")
	accesses=$(sed -n 's/.*uart16550 *\([0-9]*\) register accesses.*/\1/p' <<<"$line")
	bytes=$(sed -n 's/.* \([0-9]*\) bytes out.*/\1/p' <<<"$line")
	[ -n "$accesses" ] && [ "$bytes" = "$(wc -c <"$OUT")" ] || fail_because "uart stats: '$line'"
	[ -n "$accesses" ] && [ "$accesses" -le $((bytes + (bytes + 15) / 16 + 12)) ] ||
		fail_because "$accesses register accesses for $bytes bytes: more than 17 per 16 bytes"
}

test_emulated_uart_stderr_and_exit_flush() {
	# stderr shares the UART; exit waits for the transmitter (TEMT).
	run_pvmm run --console uart "$GUESTS/formats.elf"
	local want
	want=$("$PVMM" run "$GUESTS/formats.elf" 2>/dev/null)
	[ "$(cat "$OUT")" = "$want" ] || fail_because "formats.elf prints differently over the UART"
}

test_emulated_uart_input_from_a_file() {
	# A regular file: the monitor reads it on UART accesses. ^D ends input.
	printf 'hello uart\nsecond line\nno newline\004' >"$TEST_TMP/uart-in"
	STDIN=$TEST_TMP/uart-in run_pvmm run --console uart "$GUESTS/uart_echo.elf"
	expect_status 0
	expect_out "uart_echo present=1 stdio=1"
	grep -qx "uecho: hello uart" "$OUT" || fail_because "first line not echoed whole: $(head -c 300 "$OUT")"
	grep -qx "uecho: second line" "$OUT" || fail_because "second line not echoed"
	grep -qx "uecho: no newline" "$OUT" || fail_because "last line not echoed"
	expect_out "uart_echo lines=3 bytes_in=34 overruns=0"
	expect_out "uart_echo ok"
}

test_emulated_uart_input_from_a_pipe() {
	# A pipe: the monitor's I/O thread feeds the FIFO and marks the UART
	# ready for POLL. More than a FIFO's worth per line, in two bursts.
	# The first burst waits a moment: input offered before the guest has
	# switched its FIFO on is dropped by that switch (as on hardware).
	local long
	long=$(printf 'x%.0s' {1..300})
	STDIN=<(sleep 0.3; printf 'first %s\n' "$long"; sleep 0.2; printf 'second\n\004') \
		run_pvmm run --console uart "$GUESTS/uart_echo.elf"
	expect_status 0
	grep -qx "uecho: first $long" "$OUT" || fail_because "the 307-byte line did not arrive intact"
	grep -qx "uecho: second" "$OUT" || fail_because "second burst not echoed"
	expect_out "uart_echo lines=2 bytes_in=315 overruns=0"
}

test_emulated_uart_hostile_registers() {
	run_pvmm run --console uart "$GUESTS/uart_hostile.elf"
	ring3 || expect_status 0
	# Loopback: THR comes back on RBR (LSR DR|THRE|TEMT), MSR mirrors
	# MCR (RTS->CTS, DTR->DSR, OUT1->RI, OUT2->DCD), dropping them all sets
	# DCTS, DDSR, TERI and DDCD, which clear on reading; out of loopback a
	# connected line reads CTS|DSR|DCD with their deltas.
	expect_out "loopback msr=0xf0 lsr=0x61 data=ABC lsr_after=0x60 msr_drop=0x0f msr_again=0x00 msr_line=0xbb"
	# A 17th byte into the full 16-byte FIFO is lost and sets OE, which
	# clears on reading LSR.
	expect_out "overrun lsr=0x63 lsr_again=0x61 got=16 data=abcdefghijklmnop lsr_empty=0x60"
	# IIR (FIFO bits C0h): none, THRE (cleared by reading IIR), received
	# data, line status over data, data again once OE is read, modem status.
	expect_out "iir none=0xc1 thre=0xc2 thre_acked=0xc1 rda=0xc4 rls=0xc6 rda_again=0xc4 ms=0xc0 ms_acked=0xc1"
	expect_out "readonly lsr=0x60 msr=0xb0 after_ff lsr=0x60 msr=0xb0 after_00 lsr=0x60 msr=0xb0"
	expect_out "dlab dll=0x0c dlm=0x34 lcr=0x83 ier_after=0x05 restored_dll=0x01"
	if ring3; then
		# The 16-bit read of SCR (0x3ff) also reads port 0x400, which
		# the ring-3 I/O bitmap keeps closed: a clean #GP.
		expect_status 65
		expect_err "vector 13 (#GP general protection)"
		return 0
	fi
	expect_out "wide scr16=0xff5a scr=0xa5"
	# Back on the UART afterwards.
	expect_out "uart_hostile ok"
}

# ---- IDE --------------------------------------------------------------------

test_emulated_ide_write_flush_read_back() {
	local img
	img=$(blk_image emu-ide-rw 2048)
	run_pvmm run -s --disk "$img" --disk-model ide "$GUESTS/blk_rw.elf" rw 16
	expect_status 0
	expect_out "rw ok sectors=17"
	expect_out "cksum 0 16: $(blk_sectors "$img" 0 16 | cksum)"
	expect_out "cksum 2047 1: $(blk_sectors "$img" 2047 1 | cksum)"
	blk_expect_sectors "$img" 0 16 A
	blk_expect_sectors "$img" 2047 1 A
	cmp -s <(blk_sectors "$img" 16 2031) <(head -c $((2031 * 512)) /dev/zero) ||
		fail_because "sectors 16..2046 changed"
	# IDENTIFY, SET MULTIPLE, 2 writes, FLUSH CACHE EXT, 18 reads (33
	# sectors): the
	# driver sends one command per request.
	expect_err "23 commands, 33 sectors read, 17 written, 0 errors"
}

test_emulated_ide_info_and_interrupt_mode() {
	local img
	img=$(blk_image emu-ide-info 4096)
	run_pvmm run --disk "$img" --disk-model ide "$GUESTS/blk_rw.elf" info
	expect_status 0
	# Capacity from IDENTIFY words 100-103 (LBA48), FLUSH CACHE EXT from
	# word 83; the id is the IDENTIFY serial.
	expect_out "capacity=4096 block_size=512 readonly=0 flush=1 discard=0 write_zeroes=0"
	expect_out "get_id=0 (OK) id=PVMM"
	run_pvmm run --disk "$img" --disk-model ide "$GUESTS/blk_rw.elf" inflight poll
	expect_status 0
	expect_out "inflight mode=poll completed=32 missing=0 dup=0 stray=0 errors=0 extra=0 bad_data=0"
	expect_out "interrupts=0 irq_count=0"
	# Interrupt-driven PIO: one INTRQ per DRQ block and per written block.
	run_pvmm run --disk "$img" --disk-model ide "$GUESTS/blk_rw.elf" inflight irq
	expect_status 0
	expect_out "inflight mode=irq completed=32 missing=0 dup=0 stray=0 errors=0 extra=0 bad_data=0"
	expect_out "interrupts=50 irq_count=50"
	expect_out "inflight ok"
}

test_emulated_ide_capacity_edges() {
	local img
	img=$(blk_image emu-ide-cap 1001) # odd size: the last sector is 1000
	run_pvmm run --disk "$img" --disk-model ide "$GUESTS/blk_rw.elf" capacity
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

test_emulated_ide_readonly_refuses_writes() {
	local img copy
	img=$(blk_image emu-ide-ro 2048)
	blk_pattern R 0 4 | dd of="$img" bs=512 conv=notrunc status=none
	copy=$TEST_TMP/emu-ide-ro-copy.img
	cp "$img" "$copy"
	run_pvmm run -s --disk "$img,readonly" --disk-model ide "$GUESTS/blk_rw.elf" readonly
	expect_status 0
	# IDENTIFY cannot say read-only: the monitor answers the write with
	# ABRT, which the driver reports as EIO (as virtio-blk does) and from
	# then on blk_readonly() says so.
	expect_out "readonly=0"
	expect_out "read=0 (OK)"
	expect_out "cksum 0 1: $(blk_sectors "$img" 0 1 | cksum)"
	expect_out "write=-5 (EIO)"
	expect_out "read_after=0 (OK)"
	expect_out "readonly ok"
	expect_err "0 written, 1 errors"
	cmp -s "$img" "$copy" || fail_because "the read-only image was modified"
}

test_emulated_ide_flushed_write_survives_kill() {
	local img
	img=$(blk_image emu-ide-flush 2048)
	blk_flush_then_kill "$img" --disk "$img" --disk-model ide
}

test_emulated_ide_hostile_registers() {
	local img copy
	img=$(blk_image emu-ide-hostile 2048)
	blk_pattern H 0 8 | dd of="$img" bs=512 conv=notrunc status=none
	copy=$TEST_TMP/emu-ide-hostile-copy.img
	cp "$img" "$copy"
	run_pvmm run --disk "$img" --disk-model ide "$GUESTS/ide_hostile.elf"
	expect_status 0
	expect_out "ide_hostile capacity=2048"
	# Status 58h = DRDY|DSC|DRQ, 51h = DRDY|DSC|ERR, 50h = DRDY|DSC;
	# Error 04h = ABRT, 10h = IDNF.
	expect_out "drq_abort status_drq=0x58 first_word=0x3048 status=0x51 error=0x04 data=0xffff"
	expect_out "write_abort status_drq=0x58 status=0x51 error=0x04 status_after_data=0x51"
	expect_out "past_end status=0x51 error=0x10 straddle_status=0x51 straddle_error=0x10 write_status=0x51 write_error=0x10 last_status=0x58 last_done=0x50"
	expect_out "lba48_overflow status=0x51 error=0x10 count0_status=0x51 count0_error=0x10 top_status=0x51 top_error=0x10"
	# Features is write-only: reading its port gives Error.
	expect_out "features after_idnf=0x10 after_ok=0x00"
	expect_out "no_transfer word=0xffff byte=0xff status=0x50"
	expect_out "device1 status=0x00 alt=0x00 after_command=0x00 device0_status=0x50 data=0xffff"
	expect_out "unknown nop_status=0x51 nop_error=0x04 reset_status=0x51 reset_error=0x04 ff_status=0x51 ff_error=0x04"
	expect_out "multiple three_status=0x51 three_error=0x04 big_status=0x51 big_error=0x04 off_status=0x50 read_multiple_status=0x51 read_multiple_error=0x04 restore_status=0x50"
	expect_out "chs0 status=0x51 error=0x10"
	expect_out "hob count=0x34 lbal=0x78 hob_count=0x12 hob_lbal=0x56 count_after_write=0x34"
	# SRST: BSY while held, then the signature (count 1, LBA 1/0/0,
	# Error 01h "device 0 passed").
	expect_out "srst held=0x80 held_alt=0x80 status=0x50 error=0x01 signature=01/01/00/00 device=0xa0"
	expect_out "srst_transfer status_drq=0x58 status=0x50 data=0xffff"
	# The device still works for the driver afterwards.
	expect_out "after read=0 (OK) pattern=1 write=0 (OK) readback=1"
	expect_out "ide_hostile ok"
	# Only sector 100 changed (the aborted write to sector 5 did nothing).
	cmp -s <(blk_sectors "$img" 0 100) <(blk_sectors "$copy" 0 100) || fail_because "sectors 0..99 changed"
	blk_expect_sectors "$img" 100 1 W
	cmp -s <(blk_sectors "$img" 101 1947) <(blk_sectors "$copy" 101 1947) || fail_because "sectors 101.. changed"
}

# ---- One binary, both disk paths ---------------------------------------------

test_emulated_virtio_writes_ide_reads() {
	local img
	img=$(blk_image emu-v2i 4096)
	run_pvmm run --disk "$img" "$GUESTS/blk_rw.elf" writepattern H 1000 40
	expect_status 0
	expect_out "writepattern ok"
	blk_expect_sectors "$img" 1000 40 H
	run_pvmm run --disk "$img" --disk-model ide "$GUESTS/blk_rw.elf" readhost 1000 40
	expect_status 0
	expect_out "cksum 1000 40: $(blk_sectors "$img" 1000 40 | cksum)"
	expect_out "host_pattern_mismatches=0"
}

test_emulated_ide_writes_virtio_reads() {
	local img twin
	img=$(blk_image emu-i2v 4096)
	twin=$(blk_image emu-i2v-twin 4096)
	run_pvmm run --disk "$img" --disk-model ide "$GUESTS/blk_rw.elf" writepattern H 3000 40
	expect_status 0
	expect_out "writepattern ok"
	run_pvmm run --disk "$img" "$GUESTS/blk_rw.elf" readhost 3000 40
	expect_status 0
	expect_out "cksum 3000 40: $(blk_sectors "$img" 3000 40 | cksum)"
	expect_out "host_pattern_mismatches=0"
	# The same write over virtio gives the same image, byte for byte.
	run_pvmm run --disk "$twin" "$GUESTS/blk_rw.elf" writepattern H 3000 40
	expect_status 0
	cmp -s "$img" "$twin" || fail_because "IDE and virtio wrote different images"
}

test_emulated_compare_guest_same_data_both_paths() {
	local img sum_w sum_v sum_i
	img=$(blk_image emu-compare 4096)
	run_pvmm run --disk "$img" "$EMU_BENCH/compare.elf" blk-write 1
	expect_status 0
	expect_out "compare blk-write bytes=1048576 ops=256 ns="
	sum_w=$(emu_field sum)
	run_pvmm run --disk "$img" "$EMU_BENCH/compare.elf" blk-read 1
	expect_status 0
	sum_v=$(emu_field sum)
	run_pvmm run -s --disk "$img" --disk-model ide "$EMU_BENCH/compare.elf" blk-read 1
	expect_status 0
	expect_out "compare blk-read bytes=1048576 ops=256 ns="
	sum_i=$(emu_field sum)
	[ -n "$sum_w" ] && [ "$sum_w" = "$sum_v" ] && [ "$sum_v" = "$sum_i" ] ||
		fail_because "checksums differ: written $sum_w, virtio read $sum_v, IDE read $sum_i"
	# IDE: one READ MULTIPLE per 4 KiB request.
	expect_err "258 commands, 2048 sectors read, 0 written, 0 errors"
	# The data is a function of the offset: sector s ends with the 8-byte
	# little-endian (s + 1) * 0x9e3779b97f4a7c15; check a few on the host.
	local s want got
	for s in 0 7 2047; do
		want=$(printf '%016x' $(((s + 1) * 0x9e3779b97f4a7c15)) | sed 's/../& /g' | awk '{for (i = NF; i > 0; i--) printf "%s", $i}')
		got=$(dd if="$img" bs=8 skip=$((s * 64 + 63)) count=1 status=none | od -An -tx1 | tr -d ' \n')
		[ "$want" = "$got" ] || fail_because "sector $s ends with $got, expected $want"
	done
	# The blk-read run above did not write.
	run_pvmm run --disk "$img" "$EMU_BENCH/compare.elf" blk-read 1
	[ "$(emu_field sum)" = "$sum_w" ] || fail_because "the image changed under reads"
}

test_emulated_compare_console_every_path() {
	local c
	for c in hypercall virtio uart; do
		run_pvmm run --console "$c" "$EMU_BENCH/compare.elf" console 2
		expect_status 0
		[ "$(grep -c '^console line [0-9]\{6\}: ' "$OUT")" -eq 32 ] || fail_because "$c: not 32 text lines"
		grep -q '^console line 000032: ' "$OUT" || fail_because "$c: the last text line is missing"
		[ "$(grep -v '^compare ' "$OUT" | awk '{ if (length($0) != 63) bad++ } END { print bad + 0 }')" -eq 0 ] ||
			fail_because "$c: a text line is not 63 bytes + newline"
		expect_out "compare console bytes=2048 ops=32 ns="
		[ "$(grep -c 'compare ' "$OUT")" -eq 1 ] || fail_because "$c: 'compare ' appears more than once"
	done
}

test_emulated_uart_input_survives_flow_control() {
	# A pipe carrying far more than the 16-byte FIFO while the guest drops
	# and raises RTS all the time: bytes the I/O thread read while the FIFO
	# had room, but that the UART refused once RTS dropped, must wait and
	# come later, in order; and a pause must never miss the guest's
	# re-watch (then input would stall and the guest time out short).
	local n=3000
	STDIN=<(sleep 0.3; for ((i = 0; i < n / 26 + 1; i++)); do printf abcdefghijklmnopqrstuvwxyz; done | head -c $n) \
		run_pvmm run --console uart "$GUESTS/uart_echo.elf" rts $n
	expect_status 0
	expect_out "uart_echo rts got=$n in_order=1"
}
