# pvmm vhost-user: the virtio-blk device behind a vhost-user back end.
#
# Hostile front ends (tests/host/vu_client.c, no QEMU): each malformed,
# oversized or out-of-order message, and a descriptor outside the memory
# table, must end that connection with one line while the back end keeps
# accepting the next. The console: vu_client's line reaches the back
# end's stdout and its stdin's line reaches vu_client. Linux (scripts/linux-kit.sh: Debian's kernel and
# busybox, booted by QEMU with vhost-user-blk-pci): the guest's own
# virtio-blk driver reads, writes, sees the capacity and a read-only disk,
# against pvmm and, side by side, against qemu-storage-daemon; a front end
# killed mid-I/O is followed by a new one that finds the data intact; and
# virtio-rng behind vhost-user-rng-pci feeds the guest's /dev/hwrng.

VU_CLIENT=build/tests/host/vu_client

# vu_start SOCKET LOG ARGS...: pvmm vhost-user in the background (its pid
# in $vu_pid), bounded by timeout; waits for the socket. Its stdin is
# $VU_STDIN if set (a background job's is otherwise /dev/null).
vu_start() {
	local sock=$1 log=$2 i
	shift 2
	rm -f "$sock"
	timeout -s KILL 300 "$PVMM" vhost-user --socket "$sock" "$@" 2>"$log" <"${VU_STDIN:-/dev/null}" &
	vu_pid=$!
	for ((i = 0; i < 100; i++)); do
		[ -S "$sock" ] && return 0
		sleep 0.05
	done
	fail_because "pvmm vhost-user did not create $sock: $(head -c 300 "$log")"
	return 1
}

# vu_stop LOG: SIGTERM, which must end it with status 0 and no sanitizer report.
vu_stop() {
	kill -TERM "$vu_pid" 2>/dev/null
	wait "$vu_pid"
	local rc=$?
	[ "$rc" -eq 0 ] || fail_because "pvmm vhost-user exited with $rc after SIGTERM: $(tail -c 300 "$1")"
	if grep -qE 'ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:' "$1"; then
		fail_because "sanitizer report:"
		head -20 "$1" | sed 's/^/      /'
	fi
}

VU_HOSTILE=(desc-outside ring-outside bad-version oversized truncated unknown-request stray-fd
	too-many-regions overlapping-regions region-past-file ring-size ring-too-big ring-index
	enable-before-features unoffered-features)

test_vhost_user_hostile_front_ends() {
	local sock=$TEST_TMP/vu-h.sock log=$TEST_TMP/vu-h.log img s out closed
	img=$(blk_image vu-h 2048)
	vu_start "$sock" "$log" blk --disk "$img" || return 0
	timeout 10 "$VU_CLIENT" "$sock" hello >"$OUT" 2>&1 || fail_because "hello: $(cat "$OUT")"
	expect_out "capacity 2048"
	for s in "${VU_HOSTILE[@]}"; do
		out=$(timeout 10 "$VU_CLIENT" "$sock" "$s" 2>&1) || fail_because "$s: $out"
		# Still serving: a polite front end after every hostile one.
		out=$(timeout 10 "$VU_CLIENT" "$sock" hello 2>&1) || fail_because "hello after $s: $out"
	done
	out=$(timeout 10 "$VU_CLIENT" "$sock" io 2>&1) || fail_because "io after all of them: $out"
	kill -0 "$vu_pid" 2>/dev/null || fail_because "the back end died"
	vu_stop "$log"
	# One line per hostile connection, and only the damaged ring has the
	# core's own line before it.
	closed=$(grep -cE '; connection [0-9]+ closed$' "$log")
	[ "$closed" -eq ${#VU_HOSTILE[@]} ] ||
		fail_because "$closed connections closed with a reason, expected ${#VU_HOSTILE[@]}: $(cat "$log")"
	local other
	other=$(grep -vE 'connected$|disconnected$|listening on|; connection [0-9]+ closed$' "$log" | grep -c .)
	[ "$other" -eq 1 ] || fail_because "$other lines beside the closing ones, expected 1 (the damaged ring): $(cat "$log")"
	grep -q 'is outside guest RAM' "$log" || fail_because "no line about the descriptor outside the table"
	# What io wrote (sector 1: bytes i*7+3) is in the image.
	cmp -s <(blk_sectors "$img" 1 1) <(for ((i = 0; i < 512; i++)); do printf "\\$(printf %o $(((i * 7 + 3) & 255)))"; done) ||
		fail_because "sector 1 does not hold what the io front end wrote"
	[ ! -e "$sock" ] || fail_because "the socket was left behind"
}

test_vhost_user_once_and_cli() {
	local sock=$TEST_TMP/vu-c.sock log=$TEST_TMP/vu-c.log img
	img=$(blk_image vu-c 64)
	vu_start "$sock" "$log" --once blk --disk "$img" || return 0
	timeout 10 "$VU_CLIENT" "$sock" hello >/dev/null 2>&1 || fail_because "hello failed"
	local i
	for ((i = 0; i < 100; i++)); do
		kill -0 "$vu_pid" 2>/dev/null || break
		sleep 0.05
	done
	wait "$vu_pid"
	status=$?
	expect_status 0
	run_pvmm vhost-user blk --disk "$img"
	expect_status 2
	expect_err "needs --socket"
	run_pvmm vhost-user --socket "$sock" blk
	expect_status 2
	expect_err "--disk"
	run_pvmm vhost-user --socket "$sock" tape
	expect_status 2
	expect_err "unknown device 'tape'"
	run_pvmm vhost-user --socket "$sock" blk --disk "$TEST_TMP/no-such.img"
	expect_status 1
	run_pvmm vhost-user --help
	expect_status 0
	expect_out "Usage: pvmm vhost-user"
	run_pvmm vhost-user --socket "$sock" --seccomp maybe rng
	expect_status 2
	expect_err "--seccomp takes on or off, not 'maybe'"
}

# The back end's filter is loaded (issue 13): a test hook makes the I/O
# loop try socket(2) right after loading it, which must end the process
# with status 72 and a line naming the thread and the call. With
# --seccomp off the same hook does nothing and a front end is served.
test_vhost_user_seccomp() {
	local sock=$TEST_TMP/vu-s.sock log=$TEST_TMP/vu-s.log i out
	rm -f "$sock"
	PVMM_TEST_SECCOMP_TRIP=vhost-user timeout -s KILL 30 "$PVMM" vhost-user --socket "$sock" rng 2>"$log" &
	vu_pid=$!
	# The loop starts as the socket appears; the trip follows at once.
	for ((i = 0; i < 100; i++)); do
		kill -0 "$vu_pid" 2>/dev/null || break
		[ -S "$sock" ] && timeout 5 "$VU_CLIENT" "$sock" hello >/dev/null 2>&1
		sleep 0.05
	done
	wait "$vu_pid"
	status=$?
	expect_status 72
	grep -q "seccomp: the vhost-user thread made a forbidden system call socket" "$log" ||
		fail_because "no seccomp line: $(head -c 300 "$log")"
	PVMM_TEST_SECCOMP_TRIP=vhost-user vu_start "$sock" "$log" --seccomp off rng || return 0
	out=$(timeout 10 "$VU_CLIENT" "$sock" hello 2>&1) || fail_because "hello with --seccomp off: $out"
	vu_stop "$log"
}

# The console (vu_client console; QEMU 7.2 has no vhost-user console front
# end): the front end's line on the transmitq reaches the back end's
# stdout, and a line written to its stdin (a fifo, written only once the
# front end waits, so the device's watch on stdin is what delivers it)
# fills the front end's receive buffers. Once stdin ends, the next front
# end gets end of input and its output still goes out. Then SIGTERM ends
# it cleanly.
test_vhost_user_console() {
	local sock=$TEST_TMP/vu-con.sock log=$TEST_TMP/vu-con.log fifo=$TEST_TMP/vu-con.in
	local bout=$TEST_TMP/vu-con.out cpid rc out
	rm -f "$fifo"
	mkfifo "$fifo" || { fail_because "mkfifo failed"; return 0; }
	# Held open read-write on fd 7: opening the fifo never blocks, and its
	# input stays open (no end of input) until the test closes it.
	exec 7<>"$fifo"
	VU_STDIN=$fifo vu_start "$sock" "$log" console >"$bout" 7>&- || { exec 7>&-; return 0; }
	timeout 15 "$VU_CLIENT" "$sock" console >"$OUT" 2>"$TEST_TMP/vu-con.err" 7>&- &
	cpid=$!
	sleep 0.5
	printf 'hello from the back end\n' >&7
	wait "$cpid"
	rc=$?
	exec 7>&-
	[ "$rc" -eq 0 ] || fail_because "vu_client console exited with $rc: $(cat "$TEST_TMP/vu-con.err")"
	expect_out "received: hello from the back end"
	grep -qx 'hello from the front end' "$bout" ||
		fail_because "the back end's stdout lacks the front end's line: '$(head -c 200 "$bout")'"
	# fd 7 closed: stdin has ended, so the next front end gets end of
	# input (an empty receive buffer) and its output still goes out.
	out=$(timeout 15 "$VU_CLIENT" "$sock" console-eof 2>&1) || fail_because "console-eof: $out"
	[ "$out" = "end of input" ] || fail_because "console-eof printed '$out'"
	[ "$(grep -cx 'hello from the front end' "$bout")" -eq 2 ] ||
		fail_because "the second front end's line is not on stdout: '$(head -c 200 "$bout")'"
	kill -0 "$vu_pid" 2>/dev/null || fail_because "the back end died"
	vu_stop "$log"
	[ ! -e "$sock" ] || fail_because "the socket was left behind"
	run_pvmm vhost-user --socket "$sock" console --disk "$TEST_TMP/x.img"
	expect_status 2
	expect_err "console takes no --disk"
}

# A stdout nobody reads (a fifo already full) holds the console's output
# up, but SIGTERM must still end the back end, at once and with status 0.
test_vhost_user_console_stalled_stdout() {
	local sock=$TEST_TMP/vu-cs.sock log=$TEST_TMP/vu-cs.log fifo=$TEST_TMP/vu-cs.out cpid i
	rm -f "$fifo"
	mkfifo "$fifo" || { fail_because "mkfifo failed"; return 0; }
	exec 8<>"$fifo"
	head -c 65536 /dev/zero >&8 # a pipe's default capacity: full
	vu_start "$sock" "$log" console >"$fifo" 8>&- || { exec 8>&-; return 0; }
	timeout 10 "$VU_CLIENT" "$sock" console >/dev/null 2>&1 8>&- &
	cpid=$!
	sleep 1
	kill -TERM "$vu_pid" 2>/dev/null
	for ((i = 0; i < 50; i++)); do
		kill -0 "$vu_pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$vu_pid" 2>/dev/null; then
		fail_because "SIGTERM did not end a back end whose stdout is full within 5 s"
		kill -KILL $(ps -o pid= --ppid "$vu_pid") "$vu_pid" 2>/dev/null # pvmm, then its timeout
	fi
	vu_stop "$log"
	kill "$cpid" 2>/dev/null
	wait "$cpid" 2>/dev/null
	exec 8>&-
}

# ---- Linux guests --------------------------------------------------------

# vu_linux_ready: true if QEMU and the kit are there (the kit is built on
# first use: a download from Debian's archive, once). False, with a PASS
# note, only where QEMU is not installed; once per suite in the ring-0
# pass, which would repeat the ring-3 pass exactly.
vu_linux_ready() {
	if [ "${PVMM_RING:-3}" = 0 ]; then
		echo "    (vhost-user Linux tests run in the ring-3 passes; the ring does not apply)"
		return 1
	fi
	if ! command -v qemu-system-x86_64 >/dev/null || ! command -v qemu-storage-daemon >/dev/null; then
		echo "    SKIP: qemu-system-x86_64 / qemu-storage-daemon not installed (scripts/deps.sh installs them)"
		return 1
	fi
	if [ -z "${VU_KIT:-}" ]; then
		VU_KIT=$(scripts/linux-kit.sh 2>"$TEST_TMP/kit.log") || {
			fail_because "scripts/linux-kit.sh failed: $(tail -3 "$TEST_TMP/kit.log")"
			return 1
		}
	fi
	return 0
}

# vu_boot SOCKET CHECK LOG [QEMU_PID_VAR]: boot the kit with CHECK as its
# check script and the vhost-user-blk at SOCKET; console in LOG. Bounded.
vu_boot() {
	local sock=$1 check=$2 log=$3 initrd=$TEST_TMP/initrd-$RANDOM.gz
	scripts/linux-kit.sh initrd "$check" "$initrd"
	timeout -s KILL 60 qemu-system-x86_64 -M pc -accel tcg -cpu max -m 256 \
		-object memory-backend-memfd,id=mem,size=256M,share=on -numa node,memdev=mem \
		-chardev socket,id=c0,path="$sock" -device vhost-user-blk-pci,chardev=c0 \
		-kernel "$VU_KIT/vmlinuz" -initrd "$initrd" -append "console=ttyS0 panic=-1 quiet" \
		-display none -serial file:"$log" -monitor none -no-reboot </dev/null >/dev/null 2>"$log.err"
	grep -q 'pvmm-kit: check exit' "$log" ||
		fail_because "the guest did not finish its check ($sock): $(tail -c 400 "$log") $(tail -c 200 "$log.err")"
}

# The guest side of the read/write check: capacity, the checksum of the
# first MiB, then 1 MiB of known data written at 2 MiB with a flush.
vu_rw_check() {
	cat >"$1" <<'EOF'
echo "capacity $(cat /sys/block/vda/size)"
echo "read $(dd if=/dev/vda bs=65536 count=16 2>/dev/null | md5sum | cut -d' ' -f1)"
if yes pvmm-guest-data | head -c 1048576 | dd of=/dev/vda bs=65536 seek=32 conv=fsync 2>/dev/null; then
	echo "write ok"
else
	echo "write failed"
fi
echo 3 >/proc/sys/vm/drop_caches
echo "reread $(dd if=/dev/vda bs=65536 skip=32 count=16 2>/dev/null | md5sum | cut -d' ' -f1)"
# 1 MiB requests straight to the device: chains of seg_max buffers.
dd if=/dev/vda of=/dev/null bs=1048576 count=4 iflag=direct 2>/dev/null && echo "large requests ok"
EOF
}

vu_md5() {
	dd if="$1" bs=65536 skip="$2" count=16 status=none | md5sum | cut -d' ' -f1
}

test_vhost_user_linux_read_write() {
	vu_linux_ready || return 0
	local img=$TEST_TMP/vu-l.img ref=$TEST_TMP/vu-ref.img check=$TEST_TMP/rw.sh
	local sock=$TEST_TMP/vu-l.sock qsock=$TEST_TMP/vu-q.sock log=$TEST_TMP/vu-l.log qlog=$TEST_TMP/vu-q.log
	head -c $((8 << 20)) /dev/urandom >"$img"
	cp "$img" "$ref"
	local want_read want_write
	want_read=$(vu_md5 "$img" 0)
	want_write=$(yes pvmm-guest-data | head -c 1048576 | md5sum | cut -d' ' -f1)
	vu_rw_check "$check"

	vu_start "$sock" "$log" blk --disk "$img" || return 0
	vu_boot "$sock" "$check" "$TEST_TMP/con-pvmm.log"
	vu_stop "$log"
	rm -f "$qsock"
	timeout -s KILL 60 qemu-storage-daemon --blockdev driver=file,node-name=f,filename="$ref" \
		--export type=vhost-user-blk,id=e,node-name=f,addr.type=unix,addr.path="$qsock",writable=on \
		>"$qlog" 2>&1 &
	local qsd=$! i
	for ((i = 0; i < 100; i++)); do [ -S "$qsock" ] && break; sleep 0.05; done
	vu_boot "$qsock" "$check" "$TEST_TMP/con-qsd.log"
	kill -TERM "$qsd" 2>/dev/null
	wait "$qsd" 2>/dev/null

	local who con
	for who in pvmm qsd; do
		con=$TEST_TMP/con-$who.log
		grep -q "capacity 16384" "$con" || fail_because "$who: the guest saw capacity $(grep capacity "$con")"
		grep -q "read $want_read" "$con" || fail_because "$who: the guest read $(grep '^read' "$con"), host has $want_read"
		grep -q "write ok" "$con" || fail_because "$who: the guest's write failed"
		grep -q "reread $want_write" "$con" || fail_because "$who: the guest read back $(grep reread "$con")"
		grep -q "large requests ok" "$con" || fail_because "$who: 1 MiB direct reads failed"
	done
	[ "$(vu_md5 "$img" 32)" = "$want_write" ] || fail_because "pvmm: the image does not hold what the guest wrote"
	[ "$(vu_md5 "$ref" 32)" = "$want_write" ] || fail_because "qemu-storage-daemon: the image does not hold what the guest wrote"
	cmp -s "$img" "$ref" || fail_because "the two images differ after the same guest run"
}

test_vhost_user_linux_readonly() {
	vu_linux_ready || return 0
	local img=$TEST_TMP/vu-ro.img check=$TEST_TMP/ro.sh sock=$TEST_TMP/vu-ro.sock log=$TEST_TMP/vu-ro.log
	local con=$TEST_TMP/con-ro.log before
	head -c $((4 << 20)) /dev/urandom >"$img"
	before=$(md5sum <"$img")
	vu_rw_check "$check"
	echo 'echo "ro $(cat /sys/block/vda/ro)"' >>"$check"
	vu_start "$sock" "$log" blk --disk "$img,readonly" || return 0
	vu_boot "$sock" "$check" "$con"
	vu_stop "$log"
	grep -q "capacity 8192" "$con" || fail_because "the guest saw $(grep capacity "$con")"
	grep -q "read $(vu_md5 "$img" 0)" "$con" || fail_because "the guest read the wrong data"
	grep -q "write failed" "$con" || fail_because "the guest's write to a read-only disk did not fail"
	grep -q "ro 1" "$con" || fail_because "the guest does not see the disk as read-only"
	[ "$(md5sum <"$img")" = "$before" ] || fail_because "the read-only image changed"
}

test_vhost_user_linux_front_end_killed() {
	vu_linux_ready || return 0
	local img=$TEST_TMP/vu-k.img sock=$TEST_TMP/vu-k.sock log=$TEST_TMP/vu-k.log
	local w=$TEST_TMP/k1.sh r=$TEST_TMP/k2.sh con=$TEST_TMP/con-k1.log want i qpid
	img=$(blk_image vu-k 32768)
	want=$(yes pvmm-flushed | head -c 1048576 | md5sum | cut -d' ' -f1)
	# First guest: 1 MiB of known data, flushed, then writes without end
	# until its QEMU is killed.
	cat >"$w" <<'EOF'
yes pvmm-flushed | head -c 1048576 | dd of=/dev/vda bs=65536 conv=fsync 2>/dev/null && echo "flushed"
echo "writing"
while :; do dd if=/dev/zero of=/dev/vda bs=65536 seek=64 count=128 oflag=direct 2>/dev/null || break; done
echo "dd ended"
EOF
	cat >"$r" <<'EOF'
echo "data $(dd if=/dev/vda bs=65536 count=16 2>/dev/null | md5sum | cut -d' ' -f1)"
EOF
	vu_start "$sock" "$log" blk --disk "$img" || return 0
	scripts/linux-kit.sh initrd "$w" "$TEST_TMP/k1.gz"
	timeout -s KILL 60 qemu-system-x86_64 -M pc -accel tcg -cpu max -m 256 \
		-object memory-backend-memfd,id=mem,size=256M,share=on -numa node,memdev=mem \
		-chardev socket,id=c0,path="$sock" -device vhost-user-blk-pci,chardev=c0 \
		-kernel "$VU_KIT/vmlinuz" -initrd "$TEST_TMP/k1.gz" -append "console=ttyS0 panic=-1 quiet" \
		-display none -serial file:"$con" -monitor none -no-reboot -pidfile "$TEST_TMP/k1.pid" \
		</dev/null >/dev/null 2>&1 &
	qpid=$!
	for ((i = 0; i < 300; i++)); do
		grep -q flushed "$con" 2>/dev/null && break
		sleep 0.1
	done
	grep -q flushed "$con" || fail_because "the first guest did not flush: $(tail -c 300 "$con")"
	for ((i = 0; i < 50; i++)); do
		grep -q writing "$con" 2>/dev/null && break
		sleep 0.1
	done
	sleep 0.5 # the endless writes are under way
	# QEMU itself, not the timeout around it.
	kill -KILL "$(cat "$TEST_TMP/k1.pid")" 2>/dev/null || fail_because "no QEMU to kill"
	wait "$qpid" 2>/dev/null
	grep -q "dd ended" "$con" && fail_because "the first guest's dd ended before the kill: the test proves nothing"
	kill -0 "$vu_pid" 2>/dev/null || fail_because "the back end died with its front end"
	vu_boot "$sock" "$r" "$TEST_TMP/con-k2.log"
	grep -q "data $want" "$TEST_TMP/con-k2.log" ||
		fail_because "the second guest read $(grep data "$TEST_TMP/con-k2.log"), expected $want"
	[ "$(vu_md5 "$img" 0)" = "$want" ] || fail_because "the image lost the flushed data"
	vu_stop "$log"
	grep -q "front end 2 connected" "$log" || fail_because "the second front end was not served: $(cat "$log")"
}

test_vhost_user_linux_rng() {
	vu_linux_ready || return 0
	local sock=$TEST_TMP/vu-r.sock log=$TEST_TMP/vu-r.log check=$TEST_TMP/rng.sh con=$TEST_TMP/con-rng.log
	local initrd=$TEST_TMP/rng.gz a b
	cat >"$check" <<'EOS'
echo "rng $(cat /sys/class/misc/hw_random/rng_current)"
for i in 1 2; do
	echo "sample $(dd if=/dev/hwrng bs=64 count=16 2>/dev/null | md5sum | cut -d' ' -f1) $(dd if=/dev/hwrng bs=64 count=16 2>/dev/null | wc -c)"
done
EOS
	vu_start "$sock" "$log" rng || return 0
	scripts/linux-kit.sh initrd "$check" "$initrd"
	timeout -s KILL 60 qemu-system-x86_64 -M pc -accel tcg -cpu max -m 256 \
		-object memory-backend-memfd,id=mem,size=256M,share=on -numa node,memdev=mem \
		-chardev socket,id=c0,path="$sock" -device vhost-user-rng-pci,chardev=c0 \
		-kernel "$VU_KIT/vmlinuz" -initrd "$initrd" -append "console=ttyS0 panic=-1 quiet" \
		-display none -serial file:"$con" -monitor none -no-reboot </dev/null >/dev/null 2>&1
	vu_stop "$log"
	grep -q "rng virtio_rng" "$con" || fail_because "the guest's hwrng is not virtio-rng: $(grep rng "$con")"
	[ "$(grep -c '^sample [0-9a-f]* 1024' "$con")" -eq 2 ] || fail_because "the guest did not read 1 KiB twice: $(tail -c 300 "$con")"
	a=$(grep '^sample' "$con" | sed -n 1p | cut -d' ' -f2)
	b=$(grep '^sample' "$con" | sed -n 2p | cut -d' ' -f2)
	[ -n "$a" ] && [ "$a" != "$b" ] || fail_because "two samples of the guest's hwrng are equal"
}

# ---- virtio-net over vhost-user ---------------------------------------------

# vu_net_boot SOCKET CHECK LOG: boot the kit with QEMU's vhost-user net
# front end on SOCKET. vectors=0: QEMU 7.2 under TCG segfaults in
# vhost_net_start (msix_set_vector_notifiers, reading a NULL vector_irqfd:
# TCG has no KVM irqfds) when the guest enables MSI-X on the vhost-user
# netdev (docs/vhost-user.md); with INTx it works. Bounded.
vu_net_boot() {
	local sock=$1 check=$2 log=$3 initrd=$TEST_TMP/initrd-net-$RANDOM.gz
	scripts/linux-kit.sh initrd "$check" "$initrd"
	timeout -s KILL 90 qemu-system-x86_64 -M pc -accel tcg -cpu max -m 256 \
		-object memory-backend-memfd,id=mem,size=256M,share=on -numa node,memdev=mem \
		-chardev socket,id=c0,path="$sock" -netdev vhost-user,chardev=c0,id=n0 \
		-device virtio-net-pci,netdev=n0,vectors=0 \
		-kernel "$VU_KIT/vmlinuz" -initrd "$initrd" -append "console=ttyS0 panic=-1 quiet" \
		-display none -serial file:"$log" -monitor none -no-reboot </dev/null >/dev/null 2>"$log.err"
	grep -q 'pvmm-kit: check exit' "$log" ||
		fail_because "the guest did not finish its check ($sock): $(tail -c 400 "$log") $(tail -c 200 "$log.err")"
}

# vu_http DIR ADDR PORT: python3's http.server for DIR on ADDR:PORT in the
# background, bounded by timeout (its pid in $vu_http_pid: stop it with
# vu_http_stop, whose SIGTERM timeout passes on to the server); waits
# until it answers.
vu_http() {
	(cd "$1" && exec timeout -s KILL 120 python3 -m http.server "$3" --bind "$2") >"$TEST_TMP/http-$3.log" 2>&1 &
	vu_http_pid=$!
	local i
	for ((i = 0; i < 100; i++)); do
		python3 -c "import socket,sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), 1)" "$2" "$3" \
			2>/dev/null && return 0
		sleep 0.05
	done
	fail_because "http.server on $2:$3 did not start: $(cat "$TEST_TMP/http-$3.log")"
	return 1
}

vu_http_stop() {
	kill -TERM "$vu_http_pid" 2>/dev/null
	wait "$vu_http_pid" 2>/dev/null
}

# The guest's stock virtio_net driver (QEMU's virtio-net-pci front end)
# over pvmm's vhost-user back end on a TAP the test made: three pings of
# the host side of the TAP, then a 2 MiB file fetched from an HTTP server
# listening only on the TAP's address, checked by its MD5.
test_vhost_user_linux_net_tap() {
	vu_linux_ready || return 0
	if [ ! -c /dev/net/tun ]; then
		echo "    (skipped: /dev/net/tun is absent on this host)"
		return 0
	fi
	local tap="pvu$(($$ % 100000))" sub="10.235.$(($$ % 250 + 1))" port=$((20000 + $$ % 20000))
	local dir=$TEST_TMP/www sock=$TEST_TMP/vu-n.sock log=$TEST_TMP/vu-n.log check=$TEST_TMP/net.sh
	local con=$TEST_TMP/con-net.log want
	ip tuntap add dev "$tap" mode tap || { fail_because "cannot create TAP $tap"; return 0; }
	ip addr add "$sub.1/24" dev "$tap"
	ip link set "$tap" up
	mkdir -p "$dir"
	head -c $((2 << 20)) /dev/urandom >"$dir/blob"
	want=$(md5sum <"$dir/blob" | cut -d' ' -f1)
	cat >"$check" <<EOS
ip link set eth0 up
ip addr add $sub.2/24 dev eth0
ping -c 3 -W 2 $sub.1 | grep -q '3 packets received' && echo "ping ok"
echo "file \$(wget -q -O - http://$sub.1:$port/blob | md5sum | cut -d' ' -f1)"
EOS
	if vu_http "$dir" "$sub.1" "$port" && vu_start "$sock" "$log" net --net "tap=$tap"; then
		vu_net_boot "$sock" "$check" "$con"
		vu_stop "$log"
	fi
	vu_http_stop
	ip link del "$tap" 2>/dev/null
	grep -q "ping ok" "$con" || fail_because "the guest's pings of $sub.1 failed: $(tail -c 300 "$con")"
	grep -q "file $want" "$con" || fail_because "the guest fetched $(grep '^file' "$con"), expected $want"
	grep -q "front end 1 connected" "$log" || fail_because "no front end was served: $(cat "$log")"
}

# The same device on user networking (libslirp in pvmm-slirp, spawned by
# the back end): the guest, at slirp's default 10.0.2.15, fetches the
# file from a server on the host's loopback through slirp's 10.0.2.2.
test_vhost_user_linux_net_user() {
	vu_linux_ready || return 0
	if [ ! -x build/pvmm-slirp ]; then
		echo "    (skipped: build/pvmm-slirp is not built: libslirp-dev missing)"
		return 0
	fi
	local port=$((20000 + ($$ + 7) % 20000)) dir=$TEST_TMP/www-u sock=$TEST_TMP/vu-u.sock log=$TEST_TMP/vu-u.log
	local check=$TEST_TMP/net-u.sh con=$TEST_TMP/con-net-u.log want
	mkdir -p "$dir"
	head -c $((1 << 20)) /dev/urandom >"$dir/blob"
	want=$(md5sum <"$dir/blob" | cut -d' ' -f1)
	cat >"$check" <<EOS
ip link set eth0 up
ip addr add 10.0.2.15/24 dev eth0
ip route add default via 10.0.2.2
echo "file \$(wget -q -O - http://10.0.2.2:$port/blob | md5sum | cut -d' ' -f1)"
EOS
	if vu_http "$dir" 127.0.0.1 "$port" && vu_start "$sock" "$log" net --net user; then
		vu_net_boot "$sock" "$check" "$con"
		vu_stop "$log"
	fi
	vu_http_stop
	grep -q "file $want" "$con" || fail_because "the guest fetched $(grep '^file' "$con"), expected $want"
}

test_vhost_user_net_cli() {
	local sock=$TEST_TMP/vu-nc.sock
	run_pvmm vhost-user --socket "$sock" net
	expect_status 2
	expect_err "net needs --net tap=NAME or --net user"
	run_pvmm vhost-user --socket "$sock" net --net bogus
	expect_status 2
	expect_err_lines 1
	run_pvmm vhost-user --socket "$sock" rng --net user
	expect_status 2
	expect_err "--net is for the net device, not rng"
}
