# Snapshot and restore (docs/snapshot.md): a counting guest is paused over
# the API, snapshotted, killed, restored in a new process and counts on;
# its disk and memory come back exact; bad snapshots are refused with
# status 2; the memory file is sparse. Every wait is bounded.

SNAP_SOCK=$TEST_TMP/snap.sock
SNAP_N=20

snap_ring_args() {
	[ -n "${PVMM_RING:-}" ] && printf -- '--ring\n%s\n' "$PVMM_RING"
}

# snap_start OUT ERR ARGS...: pvmm ARGS in the background with the API on
# $SNAP_SOCK (its own --timeout the safety net); waits for the socket.
# Sets $snap_pid.
snap_start() {
	local out=$1 err=$2 i
	shift 2
	rm -f "$SNAP_SOCK"
	: >"$out"
	: >"$err"
	"$PVMM" "$@" >"$out" 2>"$err" </dev/null &
	snap_pid=$!
	for ((i = 0; i < 100; i++)); do
		[ -S "$SNAP_SOCK" ] && return 0
		sleep 0.1
	done
	fail_because "no API socket 10 s after starting pvmm $*"
	return 1
}

# snap_wait_for FILE TEXT: up to 60 s for TEXT in FILE.
snap_wait_for() {
	local i
	for ((i = 0; i < 600; i++)); do
		grep -qF -- "$2" "$1" && return 0
		sleep 0.1
	done
	fail_because "no '$2' in $(basename "$1") after 60 s"
	return 1
}

# snap_api METHOD PATH [BODY]: one request; sets $code and $body.
snap_api() {
	local out
	out=$(curl -s -m 30 -X "$1" --unix-socket "$SNAP_SOCK" ${3:+--data "$3"} -w '\n%{http_code}' \
		"http://localhost$2")
	code=${out##*$'\n'}
	body=${out%$'\n'*}
	[ "$code" = "$out" ] && body=
	return 0
}

# snap_end_pid PID: wait up to 60 s for it to exit (then KILL); $status.
snap_end_pid() {
	local i
	for ((i = 0; i < 600; i++)); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$1" 2>/dev/null; then
		fail_because "pvmm $1 still running 60 s on"
		kill -KILL "$1"
	fi
	wait "$1"
	status=$?
}

# snap_no_sanitizer FILE...: no AddressSanitizer, LeakSanitizer or UBSan
# report in them (the asan build's runs).
snap_no_sanitizer() {
	local f
	for f in "$@"; do
		if grep -qE 'ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:' "$f"; then
			fail_because "sanitizer report in $(basename "$f"):"
			head -20 "$f" | sed 's/^/      /'
		fi
	done
	return 0
}

snap_kill() {
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	return 0
}

# snap_diagnose SNAP BEFORE AFTER: after a failed check, what a diagnosis
# needs: the saved registers of CPU 0 (is rip at a call's `out`, 0xef?),
# the last lines the original printed and the first the restored one did.
snap_diagnose() {
	echo "      saved CPU 0: $(python3 "$(dirname "${BASH_SOURCE[0]}")/snapedit.py" "$1" - vcpu-regs 0 2>&1)"
	echo "      the original printed last: $(tail -c 400 "$2" | tr -s . | tail -3 | tr '\n' '|')"
	echo "      the restored one printed first: $(head -c 400 "$3" | tr -s . | head -3 | tr '\n' '|')"
}

# The counting guest uninterrupted: its last line, and its disk.
snap_reference() {
	snap_ref_img=$(blk_image snapref 64)
	"$PVMM" run $(snap_ring_args) --timeout 120 --disk "$snap_ref_img" "$GUESTS/snap_counter.elf" $SNAP_N disk \
		>"$TEST_TMP/ref.out" 2>&1 </dev/null
	snap_ref_done=$(grep '^done ' "$TEST_TMP/ref.out")
	[ -n "$snap_ref_done" ] || fail_because "the reference run printed no 'done' line: $(tail -3 "$TEST_TMP/ref.out")"
}

# snap_take_counting SNAP IMG: the guest on IMG runs to count 5, is paused
# and snapshotted to SNAP (SNAP.mem) with pvmm ctl, then killed. Sets
# $snap_last (the last count before the pause).
snap_take_counting() {
	local snap=$1 img=$2 o=$TEST_TMP/take.out e=$TEST_TMP/take.err
	snap_taken_out=$o
	snap_start "$o" "$e" run $(snap_ring_args) --timeout 120 --api-sock "$SNAP_SOCK" --disk "$img" \
		"$GUESTS/snap_counter.elf" $SNAP_N disk || return 1
	snap_wait_for "$o" "count 5 " || { snap_kill "$snap_pid"; return 1; }
	"$PVMM" ctl --api-sock "$SNAP_SOCK" pause >/dev/null || fail_because "pvmm ctl pause failed"
	local out
	out=$("$PVMM" ctl --api-sock "$SNAP_SOCK" snapshot "$snap" 2>&1) ||
		fail_because "pvmm ctl snapshot failed: $out"
	snap_last=$(sed -n 's/^count \([0-9]*\) .*/\1/p' "$o" | tail -1)
	snap_kill "$snap_pid"
	[ -s "$snap" ] && [ -s "$snap.mem" ] || fail_because "no snapshot files at $snap"
}

test_snapshot_restore_counts_on_disk_exact() {
	local snap=$TEST_TMP/s1 img o=$TEST_TMP/r.out e=$TEST_TMP/r.err
	snap_reference
	img=$(blk_image snapdisk 64)
	snap_take_counting "$snap" "$img" || return
	timeout -s KILL 120 "$PVMM" restore "$snap" --timeout 110 >"$o" 2>"$e" </dev/null
	status=$?
	snap_no_sanitizer "$e"
	[ "$status" = 0 ] || fail_because "restore exited $status: $(head -3 "$e")"
	local first
	first=$(sed -n 's/^count \([0-9]*\) .*/\1/p' "$o" | head -1)
	if [ "$first" != $((snap_last + 1)) ] || [ "$status" != 0 ]; then
		[ "$first" = $((snap_last + 1)) ] ||
			fail_because "restored guest went on at count '$first', paused after $snap_last"
		snap_diagnose "$snap" "$snap_taken_out" "$o"
	fi
	grep -q '^ready' "$o" && fail_because "the restored guest started over (printed ready)"
	grep -qxF "$snap_ref_done" "$o" || fail_because "restored run ended '$(grep '^done' "$o")', expected '$snap_ref_done'"
	grep -qx 'disk ok' "$o" || fail_because "the guest's disk check failed: $(tail -1 "$o")"
	cmp -s "$img" "$snap_ref_img" || fail_because "the disk image differs from the uninterrupted run's"
}

# snap_blocked_write NAME ARGS...: snap_counter ARGS with its console
# on a full pipe (pipe_stall.py), so the pause catches it inside a console
# write that cannot go on; snapshotted, killed, restored: what the pipe
# held and what the restored guest prints must be the uninterrupted run's
# output byte for byte, no line lost, none repeated; the original's
# --console-log what it wrote, no more.
snap_blocked_write() {
	local name=$1 s=$TEST_TMP/$1 held=$TEST_TMP/$1.held o=$TEST_TMP/$1.out e=$TEST_TMP/$1.err ref=$TEST_TMP/$1.ref
	local log=$TEST_TMP/$1.log
	shift
	"$PVMM" run $(snap_ring_args) --timeout 60 "$GUESTS/snap_counter.elf" "$@" >"$ref" 2>&1 </dev/null ||
		fail_because "the uninterrupted run failed: $(tail -2 "$ref" | cut -c1-100)"
	rm -f "$SNAP_SOCK"
	python3 "$(dirname "${BASH_SOURCE[0]}")/pipe_stall.py" "$held" \
		"'$PVMM' ctl --api-sock '$SNAP_SOCK' pause >/dev/null && '$PVMM' ctl --api-sock '$SNAP_SOCK' snapshot '$s' >/dev/null" \
		-- "$PVMM" run $(snap_ring_args) --timeout 60 --api-sock "$SNAP_SOCK" --console-log "$log" \
		"$GUESTS/snap_counter.elf" "$@" 2>"$e" || { fail_because "no snapshot of the blocked guest: $(tail -2 "$e")"; return; }
	cmp -s "$log" "$held" ||
		fail_because "the --console-log has $(wc -c <"$log") bytes, but $(wc -c <"$held") were written"
	timeout -s KILL 60 "$PVMM" restore "$s" --timeout 50 >"$o" 2>"$e" </dev/null
	status=$?
	snap_no_sanitizer "$e"
	[ "$status" = 0 ] || fail_because "restore exited $status: $(head -3 "$e" | cut -c1-100) $(grep early "$o")"
	if ! cat "$held" "$o" | cmp -s - "$ref"; then
		fail_because "held + restored output is not the uninterrupted run's ($(wc -c <"$held") + $(wc -c <"$o") bytes, expected $(wc -c <"$ref")): $(cat "$held" "$o" | cmp - "$ref" 2>&1 | head -1)"
		snap_diagnose "$s" "$held" "$o"
	fi
}

# A snapshot of a guest blocked in a console write that wrote nothing
# yet: the restored guest makes that write (whether KVM had stepped its
# vCPU over the call's `out` or not).
test_snapshot_console_write_blocked() {
	snap_blocked_write cwb 400 fast
}

# A console write of 6000 bytes, blocked after the first 4 KiB: the
# restored guest writes the rest, not the whole again, nor nothing.
test_snapshot_console_write_partial() {
	snap_blocked_write cwp 3 wide
}

# A second snapshot of the restored VM, taken before it runs a step
# (PUT /snapshot/load without resume_vm), has the same memory, except the
# PV clock page the restore republishes for the new host clock.
test_snapshot_memory_bit_exact() {
	local a=$TEST_TMP/ma b=$TEST_TMP/mb img o=$TEST_TMP/l.out e=$TEST_TMP/l.err
	img=$(blk_image snapmem 64)
	snap_take_counting "$a" "$img" || return
	snap_start "$o" "$e" --api-sock "$SNAP_SOCK" || return
	snap_api PUT /snapshot/load "{\"snapshot_path\": \"$a\", \"mem_file_path\": \"$a.mem\"}"
	[ "$code" = 204 ] || fail_because "snapshot/load: HTTP $code ($body)"
	snap_api GET /
	[[ "$body" == *'"Paused"'* ]] || fail_because "loaded VM is not Paused: $body"
	snap_api PUT /snapshot/create "{\"snapshot_path\": \"$b\", \"mem_file_path\": \"$b.mem\"}"
	[ "$code" = 204 ] || fail_because "second snapshot: HTTP $code ($body)"
	local size clock=$((0xd8000)) off bad=0
	size=$(($(stat -c %s "$a.mem") - 4096))
	[ "$size" = $(($(stat -c %s "$b.mem") - 4096)) ] || fail_because "the memory files differ in size"
	while read -r off _; do
		off=$((off - 1))
		if [ "$off" -lt "$clock" ] || [ "$off" -ge $((clock + 4096)) ]; then
			bad=$((bad + 1))
		fi
	done < <(cmp -l -n "$size" "$a.mem" "$b.mem" 2>/dev/null)
	[ "$bad" = 0 ] || fail_because "$bad bytes of memory differ outside the PV clock page"
	# And it runs on from there, to the same end.
	snap_api PATCH /vm '{"state": "Resumed"}'
	[ "$code" = 204 ] || fail_because "resume: HTTP $code ($body)"
	snap_wait_for "$o" "disk ok"
	snap_end_pid "$snap_pid"
	grep -q "^done $SNAP_N " "$o" || fail_because "the loaded VM did not count to the end: $(tail -2 "$o")"
	snap_no_sanitizer "$e"
	[ "$status" = 0 ] || fail_because "loaded VM exited $status: $(head -3 "$e")"
}

test_snapshot_needs_pause() {
	local o=$TEST_TMP/p.out e=$TEST_TMP/p.err
	snap_start "$o" "$e" run $(snap_ring_args) --timeout 60 --api-sock "$SNAP_SOCK" "$GUESTS/snap_counter.elf" 200 ||
		return
	snap_wait_for "$o" "count 1 "
	snap_api PUT /snapshot/create "{\"snapshot_path\": \"$TEST_TMP/np\", \"mem_file_path\": \"$TEST_TMP/np.mem\"}"
	[ "$code" = 400 ] || fail_because "snapshot of a running VM: HTTP $code, expected 400"
	[[ "$body" == *"must be paused"* ]] || fail_because "no clear fault_message: $body"
	[ -e "$TEST_TMP/np" ] && fail_because "a snapshot file was written anyway"
	local out
	out=$("$PVMM" ctl --api-sock "$SNAP_SOCK" snapshot "$TEST_TMP/np" 2>&1) && fail_because "pvmm ctl snapshot succeeded"
	[[ "$out" == *"must be paused"* ]] || fail_because "pvmm ctl said: $out"
	snap_kill "$snap_pid"
}

# The NE2000 has no save support: a snapshot of a VM with one is refused
# with the device named, and nothing is written.
test_snapshot_refuses_ne2000() {
	local o=$TEST_TMP/n.out e=$TEST_TMP/n.err
	snap_start "$o" "$e" run $(snap_ring_args) --timeout 60 --api-sock "$SNAP_SOCK" --net null,model=ne2000 \
		"$GUESTS/snap_counter.elf" 200 || return
	snap_wait_for "$o" "count 1 "
	"$PVMM" ctl --api-sock "$SNAP_SOCK" pause >/dev/null || fail_because "pvmm ctl pause failed"
	local out
	out=$("$PVMM" ctl --api-sock "$SNAP_SOCK" snapshot "$TEST_TMP/ns" 2>&1) && fail_because "pvmm ctl snapshot succeeded"
	[[ "$out" == *"ne2000 cannot be snapshotted"* ]] || fail_because "pvmm ctl said: $out"
	[ -e "$TEST_TMP/ns" ] && fail_because "a snapshot file was written anyway"
	snap_kill "$snap_pid"
}

# The virtio console: the guest waits for input with a receive buffer
# held by the device; the restored one gets the new process's stdin in it.
test_snapshot_virtio_console_input() {
	local s=$TEST_TMP/vc o=$TEST_TMP/vc.out e=$TEST_TMP/vc.err fifo=$TEST_TMP/vc.fifo i
	rm -f "$fifo" "$SNAP_SOCK"
	mkfifo "$fifo"
	: >"$o"
	"$PVMM" run $(snap_ring_args) --timeout 60 --console virtio --api-sock "$SNAP_SOCK" "$GUESTS/vconsole.elf" 2 \
		<"$fifo" >"$o" 2>"$e" &
	snap_pid=$!
	exec 7>"$fifo" # no input, and no end of it either
	for ((i = 0; i < 100; i++)); do
		[ -S "$SNAP_SOCK" ] && grep -q "vconsole present" "$o" && break
		sleep 0.1
	done
	sleep 0.3 # into its read
	"$PVMM" ctl --api-sock "$SNAP_SOCK" pause >/dev/null
	"$PVMM" ctl --api-sock "$SNAP_SOCK" snapshot "$s" >/dev/null || fail_because "snapshot failed: $(tail -1 "$e")"
	snap_kill "$snap_pid"
	exec 7>&-
	printf 'alpha\nbeta\n' | timeout -s KILL 60 "$PVMM" restore "$s" --timeout 50 >"$o" 2>"$e"
	status=$?
	snap_no_sanitizer "$e"
	[ "$status" = 0 ] || fail_because "restore exited $status: $(head -3 "$e")"
	grep -qx 'vecho: alpha' "$o" && grep -qx 'vecho: beta' "$o" && grep -qx 'vconsole ok' "$o" ||
		fail_because "the restored guest did not read its input: $(tail -3 "$o" | cut -c1-80)"
}

# The emulated devices: the UART as the console and an IDE disk come back
# with their registers; the count goes on and the disk ends as it would.
test_snapshot_uart_and_ide() {
	local s=$TEST_TMP/em img ref_img o=$TEST_TMP/em.out e=$TEST_TMP/em.err ref last first
	ref_img=$(blk_image emref 64)
	ref=$("$PVMM" run $(snap_ring_args) --timeout 120 --console uart --disk-model ide --disk "$ref_img" \
		"$GUESTS/snap_counter.elf" $SNAP_N disk </dev/null | grep '^done ')
	img=$(blk_image emdisk 64)
	snap_start "$o" "$e" run $(snap_ring_args) --timeout 120 --console uart --disk-model ide --disk "$img" \
		--api-sock "$SNAP_SOCK" "$GUESTS/snap_counter.elf" $SNAP_N disk || return
	snap_wait_for "$o" "count 5 " || { snap_kill "$snap_pid"; return; }
	"$PVMM" ctl --api-sock "$SNAP_SOCK" pause >/dev/null
	"$PVMM" ctl --api-sock "$SNAP_SOCK" snapshot "$s" >/dev/null || fail_because "snapshot failed: $(tail -1 "$e")"
	last=$(sed -n 's/^count \([0-9]*\) .*/\1/p' "$o" | tail -1)
	snap_kill "$snap_pid"
	timeout -s KILL 120 "$PVMM" restore "$s" --timeout 110 >"$o" 2>"$e" </dev/null
	status=$?
	snap_no_sanitizer "$e"
	[ "$status" = 0 ] || fail_because "restore exited $status: $(head -3 "$e")"
	first=$(sed -n 's/^count \([0-9]*\) .*/\1/p' "$o" | head -1)
	[ "$first" = $((last + 1)) ] || fail_because "restored guest went on at count '$first', paused after $last"
	grep -qxF "$ref" "$o" || fail_because "restored run ended '$(grep '^done' "$o")', expected '$ref'"
	grep -qx 'disk ok' "$o" || fail_because "the guest's IDE disk check failed: $(tail -1 "$o")"
	cmp -s "$img" "$ref_img" || fail_because "the IDE image differs from the uninterrupted run's"
}

# snap_refused ARGS...: pvmm restore ARGS exits 2 with one line saying
# "refused" and runs nothing.
snap_refused() {
	timeout -s KILL 30 "$PVMM" restore "$@" >"$OUT" 2>"$ERR" </dev/null
	status=$?
	snap_no_sanitizer "$ERR"
	[ "$status" = 2 ] || fail_because "restore $* exited $status, expected 2"
	[ "$(wc -l <"$ERR")" = 1 ] || fail_because "expected one line, got: $(head -3 "$ERR")"
	grep -q "refused\|cannot open" "$ERR" || fail_because "no refusal in: $(cat "$ERR")"
	[ -s "$OUT" ] && fail_because "the guest ran: $(head -1 "$OUT")"
	return 0
}

test_snapshot_refuses_bad_files() {
	local s=$TEST_TMP/g img b=$TEST_TMP/bad size
	img=$(blk_image snapbad 64)
	snap_take_counting "$s" "$img" || return
	size=$(stat -c %s "$s")
	# Truncated.
	head -c $((size - 100)) "$s" >"$b"
	snap_refused "$b" --mem-file "$s.mem"
	grep -q truncated "$ERR" || fail_because "truncation not named: $(cat "$ERR")"
	# Wrong version (the 4 bytes after the magic).
	cp "$s" "$b"
	printf '\x63' | dd of="$b" bs=1 seek=8 conv=notrunc status=none
	snap_refused "$b" --mem-file "$s.mem"
	grep -q "format version 99" "$ERR" || fail_because "wrong version not named: $(cat "$ERR")"
	# A byte of a section flipped: its checksum.
	cp "$s" "$b"
	printf '\xff' | dd of="$b" bs=1 seek=$((size - 200)) conv=notrunc status=none
	snap_refused "$b" --mem-file "$s.mem"
	grep -q "checksum" "$ERR" || fail_because "bad checksum not named: $(cat "$ERR")"
	# Not a snapshot at all.
	echo hello >"$b"
	snap_refused "$b" --mem-file "$s.mem"
	# The memory file of another snapshot.
	local img2 s2=$TEST_TMP/g2
	img2=$(blk_image snapbad2 64)
	snap_take_counting "$s2" "$img2" || return
	snap_refused "$s" --mem-file "$s2.mem"
	grep -q "another snapshot" "$ERR" || fail_because "foreign memory file not named: $(cat "$ERR")"
	# A truncated memory file.
	head -c 1048576 "$s.mem" >"$b.mem"
	snap_refused "$s" --mem-file "$b.mem"
	# A memory file whose contents changed (a page of data flipped).
	cp --sparse=always "$s.mem" "$b.mem"
	printf '\x5a\x5a\x5a\x5a' | dd of="$b.mem" bs=1 seek=$((0x110000)) conv=notrunc status=none
	snap_refused "$s" --mem-file "$b.mem"
	grep -q "checksum" "$ERR" || fail_because "changed memory not caught: $(cat "$ERR")"
}

# A 512 MiB guest that touches little: its memory file is 512 MiB long
# but takes a few MiB of disk.
test_snapshot_memory_file_is_sparse() {
	local s=$TEST_TMP/big o=$TEST_TMP/b.out e=$TEST_TMP/b.err blocks len
	snap_start "$o" "$e" run $(snap_ring_args) --timeout 60 --mem 512M --api-sock "$SNAP_SOCK" \
		"$GUESTS/snap_counter.elf" 200 || return
	snap_wait_for "$o" "count 2 "
	"$PVMM" ctl --api-sock "$SNAP_SOCK" pause >/dev/null
	"$PVMM" ctl --api-sock "$SNAP_SOCK" snapshot "$s" >/dev/null || fail_because "snapshot failed"
	snap_kill "$snap_pid"
	len=$(stat -c %s "$s.mem")
	blocks=$(($(stat -c '%b * %B' "$s.mem")))
	[ "$len" -ge $((512 << 20)) ] || fail_because "memory file is only $len bytes long"
	[ "$blocks" -le $((8 << 20)) ] || fail_because "memory file takes $blocks bytes of disk (more than 8 MiB)"
	# And it restores: the count goes on.
	timeout -s KILL 60 "$PVMM" restore "$s" --timeout 3 >"$o" 2>"$e" </dev/null
	snap_no_sanitizer "$e"
	grep -q '^count ' "$o" || fail_because "the restored 512 MiB guest printed nothing: $(head -2 "$e")"
}

# Two CPUs, both counting: the second (started by the guest, running at
# the pause) goes on too after the restore.
test_snapshot_two_cpus() {
	local s=$TEST_TMP/smp o=$TEST_TMP/c.out e=$TEST_TMP/c.err ref last first
	ref=$("$PVMM" run $(snap_ring_args) --timeout 120 --cpus 2 "$GUESTS/snap_counter.elf" $SNAP_N smp </dev/null |
		grep '^done ')
	snap_start "$o" "$e" run $(snap_ring_args) --timeout 120 --cpus 2 --api-sock "$SNAP_SOCK" \
		"$GUESTS/snap_counter.elf" $SNAP_N smp || return
	snap_wait_for "$o" "count 5 " || { snap_kill "$snap_pid"; return; }
	"$PVMM" ctl --api-sock "$SNAP_SOCK" pause >/dev/null
	"$PVMM" ctl --api-sock "$SNAP_SOCK" snapshot "$s" >/dev/null || fail_because "snapshot failed"
	last=$(sed -n 's/^count \([0-9]*\) .*/\1/p' "$o" | tail -1)
	snap_kill "$snap_pid"
	timeout -s KILL 120 "$PVMM" restore "$s" --timeout 110 >"$o" 2>"$e" </dev/null
	status=$?
	snap_no_sanitizer "$e"
	[ "$status" = 0 ] || fail_because "restore exited $status: $(head -3 "$e")"
	first=$(sed -n 's/^count \([0-9]*\) .*/\1/p' "$o" | head -1)
	[ "$first" = $((last + 1)) ] || fail_because "restored guest went on at count '$first', paused after $last"
	grep -qxF "$ref" "$o" || fail_because "restored run ended '$(grep '^done' "$o")', expected '$ref'"
	grep -qx 'cpu1 ok' "$o" || fail_because "CPU 1 did not count on: $(tail -1 "$o")"
}

# PUT /snapshot/load of a damaged snapshot is a 400 naming what is wrong,
# and leaves the instance free to load a good one.
test_snapshot_load_refused_then_loaded() {
	local s=$TEST_TMP/ld img o=$TEST_TMP/ld.out e=$TEST_TMP/ld.err
	img=$(blk_image snapld 64)
	snap_take_counting "$s" "$img" || return
	cp --sparse=always "$s.mem" "$s.bad.mem"
	printf '\x5a\x5a\x5a\x5a' | dd of="$s.bad.mem" bs=1 seek=$((0x110000)) conv=notrunc status=none
	snap_start "$o" "$e" --api-sock "$SNAP_SOCK" || return
	snap_api PUT /snapshot/load "{\"snapshot_path\": \"$s\", \"mem_file_path\": \"$s.bad.mem\"}"
	[ "$code" = 400 ] || fail_because "load of a corrupt memory file: HTTP $code"
	[[ "$body" == *"snapshot/load: memory file"*"checksum"* ]] || fail_because "unclear refusal: $body"
	snap_api PUT /snapshot/load "{\"snapshot_path\": \"$TEST_TMP/none\"}"
	[ "$code" = 400 ] || fail_because "load of a missing snapshot: HTTP $code"
	snap_api GET /
	[[ "$body" == *'"Not started"'* ]] || fail_because "state after refused loads: $body"
	snap_api PUT /snapshot/load "{\"snapshot_path\": \"$s\", \"resume_vm\": true}"
	[ "$code" = 204 ] || fail_because "load of the good snapshot: HTTP $code ($body)"
	snap_api PUT /snapshot/load "{\"snapshot_path\": \"$s\"}"
	[ "$code" = 400 ] || fail_because "a second load while running: HTTP $code"
	snap_wait_for "$o" "disk ok"
	snap_end_pid "$snap_pid"
	snap_no_sanitizer "$e"
	[ "$status" = 0 ] || fail_because "loaded VM exited $status: $(head -3 "$e")"
}

# snap_edit IN OUT OP ARGS...: a field of the state file changed, with its
# checksums recomputed (snapedit.py), so that the restore's own checks of
# the field are what refuses it.
snap_edit() {
	python3 "$(dirname "${BASH_SOURCE[0]}")/snapedit.py" "$@" || fail_because "snapedit.py $* failed"
}

# snap_field_refused SNAP WHAT OP ARGS...: SNAP with one field edited
# (snap_edit OP ARGS) is refused by pvmm restore with status 2 and one
# line naming WHAT.
snap_field_refused() {
	local s=$1 what=$2 b=$TEST_TMP/field
	shift 2
	snap_edit "$s" "$b" "$@"
	snap_refused "$b" --mem-file "$s.mem"
	grep -qi -- "$what" "$ERR" || fail_because "$* not refused for '$what': $(cat "$ERR")"
}

# Every field of a state file is checked, not only its checksums: each
# edit below is a valid container whose contents the monitor would not
# have written.
test_snapshot_refuses_bad_fields() {
	local s=$TEST_TMP/f img b=$TEST_TMP/field priv many=() i
	img=$(blk_image snapfield 64)
	snap_take_counting "$s" "$img" || return
	# The editor itself changes nothing else: a no-op edit is the same file.
	snap_edit "$s" "$b" config-set nosuchkey x
	cmp -s "$s" "$b" || fail_because "snapedit.py does not write back an unedited file as it was"
	# Upcall state: the same checks as PVMM_CALL_UPCALL.
	priv=$(python3 "$(dirname "${BASH_SOURCE[0]}")/snapedit.py" "$s" - private-gpa)
	snap_field_refused "$s" "upcall" upcall 0 0x400000 "$priv"
	snap_field_refused "$s" "upcall" upcall 0 0x400000 0x2000
	snap_field_refused "$s" "upcall" upcall 0 0x400000 0x200008
	snap_field_refused "$s" "upcall" upcall 0 0 0x200000
	# The configuration: a repeated key, many times (string slots), an
	# unknown one, a missing or malformed value.
	snap_field_refused "$s" "configuration" config-append "image=/again"
	# 15 more (MACHINE_MAX_DEVICES) fill every string slot before the disk.
	for ((i = 0; i < 15; i++)); do many+=("image=/x$i"); done
	snap_field_refused "$s" "configuration" config-prepend "$(printf '%s\n' "${many[@]}" | head -c -1)"
	snap_field_refused "$s" "configuration" config-append "colour=blue"
	snap_field_refused "$s" "configuration" config-set rng ""
	snap_field_refused "$s" "configuration" config-set cpus "1x"
	# Memory outside what --mem allows (found by tests/fuzz/fuzz_snapshot):
	# refused with the configuration, not left to fail inside vm_launch.
	snap_field_refused "$s" "configuration" config-set mem_size 1
	snap_field_refused "$s" "configuration" config-set mem_size 12582912000
	# A section create writes once, twice (the memory layout, the VM, the
	# PV MMU): not the second quietly taken.
	snap_field_refused "$s" "sections" section-repeat 2
	snap_field_refused "$s" "sections" section-repeat 3
	snap_field_refused "$s" "sections" section-repeat 4
	# virtio: features the device did not offer, a queue size other than
	# the one the driver chose.
	snap_field_refused "$s" "feature" virtio 0 driver_features 0xffffffffffffffff
	snap_field_refused "$s" "queue 0" virtio 0 q0_num 4096
	# An MSR the monitor does not save.
	snap_field_refused "$s" "MSR" msr 0 1 0x3b
	# Over the API: a 400 naming the field, and the instance stays free.
	local o=$TEST_TMP/fa.out e=$TEST_TMP/fa.err
	snap_edit "$s" "$b.api" config-prepend "$(printf '%s\n' "${many[@]}" | head -c -1)"
	snap_edit "$s" "$b.api2" virtio 0 driver_features 0xffffffffffffffff
	snap_start "$o" "$e" --api-sock "$SNAP_SOCK" || return
	snap_api PUT /snapshot/load "{\"snapshot_path\": \"$b.api\", \"mem_file_path\": \"$s.mem\"}"
	[ "$code" = 400 ] && [[ "$body" == *configuration* ]] || fail_because "load of a bad config: HTTP $code ($body)"
	snap_api PUT /snapshot/load "{\"snapshot_path\": \"$b.api2\", \"mem_file_path\": \"$s.mem\"}"
	[ "$code" = 400 ] && [[ "$body" == *feature* ]] || fail_because "load of bad features: HTTP $code ($body)"
	snap_api GET /
	[[ "$body" == *'"Not started"'* ]] || fail_because "state after refused loads: $body"
	snap_kill "$snap_pid"
	snap_no_sanitizer "$e"
}
