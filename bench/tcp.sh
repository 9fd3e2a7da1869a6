#!/usr/bin/env bash
# bench/tcp.sh BUILD OUT_DIR: TCP throughput of a guest's lwIP stack over
# user networking (libslirp), with host loopback TCP as the ceiling, in
# one run. Guest: build/examples/tcp_echo.elf at ring 3, --stats.
#   echo       the host sends MiB random bytes through hostfwd=tcp: and
#              reads the echo at once (MB/s each way; sha256 checked)
#   to host    the guest connects to a host listener (10.0.2.2) and sends
#   loopback   the same python3 client and listener over 127.0.0.1, no VM
# Per VM run: frames through the NIC and exits per frame (those that
# reached pvmm, and KVM's count). Each figure is the best of RUNS runs.
# Prints a table; writes OUT_DIR/tcp.json; "N of M targets met" (the
# targets: guest-to-host at least 0.3x loopback, at most 0.1 VM exits per frame).
# As root with /dev/net/tun the same two runs also go over a TAP of its own.
set -euo pipefail
build=$1 out=$2
cd "$(dirname "$0")/.."
MIB=${NET_BENCH_MIB:-8} RUNS=${NET_BENCH_RUNS:-3}
guest=$build/examples/tcp_echo.elf
tmp=$(mktemp -d)
vm=
cleanup() {
	[ -n "$vm" ] && kill -KILL "$vm" 2>/dev/null
	[ -n "${tap:-}" ] && ip link del "$tap" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

# The host side, one python3 program: "echo HOST PORT", "listen ADDR
# PORTFILE", "loopback"; prints MB/s.
cat >"$tmp/host.py" <<'PY'
import hashlib, os, socket, sys, threading, time
size = int(os.environ["BYTES"])
def echo(host, port):
    data = os.urandom(size)
    s = socket.create_connection((host, port), 10)
    got = bytearray()
    def rd():
        while True:
            b = s.recv(262144)
            if not b:
                break
            got.extend(b)
    t = threading.Thread(target=rd); t0 = time.time(); t.start()
    s.sendall(data); s.shutdown(socket.SHUT_WR); t.join(120)
    dt = time.time() - t0
    if hashlib.sha256(got).digest() != hashlib.sha256(data).digest():
        sys.exit("echo: data differs")
    return size / dt / 1e6
def sink(l):
    c, _ = l.accept(); n = 0; t0 = None
    while True:
        b = c.recv(262144)
        if t0 is None:
            t0 = time.time()
        if not b:
            break
        n += len(b)
    return n / (time.time() - t0) / 1e6
mode = sys.argv[1]
if mode == "echo":
    print("%.1f" % echo(sys.argv[2], int(sys.argv[3])))
elif mode == "listen":
    l = socket.socket(); l.bind((sys.argv[2], 0)); l.listen(1)
    open(sys.argv[3] + ".tmp", "w").write(str(l.getsockname()[1])); os.rename(sys.argv[3] + ".tmp", sys.argv[3])
    print("%.1f" % sink(l))
else:
    l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(1)
    srv = threading.Thread(target=lambda: print("%.1f" % sink(l))); srv.start()
    s = socket.create_connection(l.getsockname()); s.sendall(os.urandom(size)); s.close(); srv.join()
PY
export BYTES=$((MIB * 1048576))
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# per_frame STATS: "frames exits_pvmm kvm_exits" from a --stats file.
per_frame() {
	local f x k
	f=$(grep -m1 'virtio-net' "$1" | grep -oE '(rx|tx)_frames [0-9]+' | awk '{s += $2} END {print s + 0}')
	x=$(sed -n 's/^  vm exits *\([0-9]*\) to pvmm.*/\1/p' "$1")
	k=$(sed -n 's/^  kvm exits *\([0-9]*\) in all.*/\1/p' "$1")
	echo "$f ${x:-0} ${k:-0}"
}
best() { sort -g | tail -n 1; }

echo_rates=() host_rates=() loop_rates=() tap_echo_rates=() tap_host_rates=()
# Over TAP too, as root with /dev/net/tun: a TAP of this run's own,
# 10.232.N.0/24 (host .1, guest .2), deleted at exit.
tap= sub=
if [ "$(id -u)" -eq 0 ] && [ -c /dev/net/tun ] && command -v ip >/dev/null; then
	tap=pvbt$(($$ % 100000)) sub=10.232.$(($$ % 250 + 1))
	if ip tuntap add dev "$tap" mode tap 2>/dev/null; then
		ip addr add "$sub.1/24" dev "$tap" && ip link set "$tap" up
	else
		tap=
	fi
fi
for ((i = 0; i < RUNS; i++)); do
	port=$(free_port)
	timeout -s KILL 120 "$build/pvmm" run --stats --net "user,hostfwd=tcp:127.0.0.1:$port-:7" "$guest" conns=1 \
		>"$tmp/echo.out" 2>"$tmp/echo.err" &
	vm=$!
	for _ in $(seq 100); do grep -q "tcp_echo ready" "$tmp/echo.out" && break; sleep 0.1; done
	echo_rates+=("$(timeout 120 python3 "$tmp/host.py" echo 127.0.0.1 "$port")")
	wait "$vm"; vm=
	read -r ef ex ek < <(per_frame "$tmp/echo.err")

	rm -f "$tmp/port"
	timeout 120 python3 "$tmp/host.py" listen 127.0.0.1 "$tmp/port" >"$tmp/sink" &
	sink=$!
	for _ in $(seq 50); do [ -s "$tmp/port" ] && break; sleep 0.1; done
	timeout -s KILL 120 "$build/pvmm" run --stats --net user "$guest" "send=10.0.2.2:$(cat "$tmp/port")" \
		"bytes=$BYTES" >"$tmp/send.out" 2>"$tmp/send.err"
	wait "$sink"
	host_rates+=("$(cat "$tmp/sink")")
	read -r sf sx sk < <(per_frame "$tmp/send.err")

	loop_rates+=("$(timeout 60 python3 "$tmp/host.py" loopback)")

	if [ -n "$tap" ]; then
		timeout -s KILL 120 "$build/pvmm" run --stats --net "tap=$tap" "$guest" conns=1 "ip=$sub.2/24" \
			>"$tmp/techo.out" 2>"$tmp/techo.err" &
		vm=$!
		for _ in $(seq 100); do grep -q "tcp_echo ready" "$tmp/techo.out" && break; sleep 0.1; done
		tap_echo_rates+=("$(timeout 120 python3 "$tmp/host.py" echo "$sub.2" 7)")
		wait "$vm"; vm=
		read -r tef tex tek < <(per_frame "$tmp/techo.err")
		rm -f "$tmp/port"
		timeout 120 python3 "$tmp/host.py" listen "$sub.1" "$tmp/port" >"$tmp/tsink" &
		sink=$!
		for _ in $(seq 50); do [ -s "$tmp/port" ] && break; sleep 0.1; done
		timeout -s KILL 120 "$build/pvmm" run --stats --net "tap=$tap" "$guest" "ip=$sub.2/24" \
			"send=$sub.1:$(cat "$tmp/port")" "bytes=$BYTES" >"$tmp/tsend.out" 2>"$tmp/tsend.err"
		wait "$sink"
		tap_host_rates+=("$(cat "$tmp/tsink")")
	fi
done
e=$(printf '%s\n' "${echo_rates[@]}" | best)
h=$(printf '%s\n' "${host_rates[@]}" | best)
l=$(printf '%s\n' "${loop_rates[@]}" | best)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b ? a / b : 0 }'; }
exf=$(ratio "$ex" "$ef") ekf=$(ratio "$ek" "$ef") sxf=$(ratio "$sx" "$sf") skf=$(ratio "$sk" "$sf")

echo "== TCP over user networking (lwIP in the guest, ring 3), $MIB MiB, best of $RUNS"
printf '  %-28s %10s %16s %16s\n' "" "MB/s" "exits/frame" "kvm exits/frame"
printf '  %-28s %10s %16s %16s\n' "echo (each way at once)" "$e" "$exf" "$ekf"
printf '  %-28s %10s %16s %16s\n' "guest -> host" "$h" "$sxf" "$skf"
if [ -n "$tap" ]; then
	te=$(printf '%s\n' "${tap_echo_rates[@]}" | best)
	th=$(printf '%s\n' "${tap_host_rates[@]}" | best)
	printf '  %-28s %10s %16s %16s\n' "TAP: echo (each way)" "$te" "$(ratio "$tex" "$tef")" "$(ratio "$tek" "$tef")"
	printf '  %-28s %10s %16s %16s\n' "TAP: guest -> host" "$th" "" ""
else
	te=null th=null
	printf '  %-28s %s\n' "TAP" "SKIP (needs root and /dev/net/tun)"
fi
printf '  %-28s %10s\n' "host loopback (ceiling)" "$l"
# Targets, both from figures of this run: guest-to-host TCP at least 0.3x
# the host's own loopback (over TAP, as the issue puts it; over user
# networking where there is no TAP); at most 0.1 VM exits (KVM's count,
# ioeventfd kicks included) per frame under the echo's load.
met=0 total=2
if [ -n "$tap" ]; then g=$th gname="TAP guest -> host / loopback"; else g=$h gname="user guest -> host / loopback"; fi
of_loop=$(ratio "$g" "$l")
v1=MISS v2=MISS
awk -v r="$of_loop" 'BEGIN { exit !(r >= 0.3) }' && { met=$((met + 1)); v1=PASS; }
awk -v x="$ekf" 'BEGIN { exit !(x <= 0.1) }' && { met=$((met + 1)); v2=PASS; }
printf '  %-28s %10s  >= 0.30 %s (%s Gbit/s)\n' "$gname" "$of_loop" "$v1" "$(awk -v m="$g" 'BEGIN { printf "%.2f", m * 8 / 1000 }')"
printf '  %-28s %10s  <= 0.10 %s\n' "echo, VM exits per frame" "$ekf" "$v2"
mkdir -p "$out"
printf '{\n  "mib": %s,\n  "runs": %s,\n  "echo_mb_s": %s,\n  "guest_to_host_mb_s": %s,\n  "loopback_mb_s": %s,\n  "echo_exits_per_frame": %s,\n  "echo_kvm_exits_per_frame": %s,\n  "send_exits_per_frame": %s,\n  "send_kvm_exits_per_frame": %s,\n  "guest_to_host_of_loopback": %s,\n  "tap_echo_mb_s": %s,\n  "tap_guest_to_host_mb_s": %s\n}\n' \
	"$MIB" "$RUNS" "$e" "$h" "$l" "$exf" "$ekf" "$sxf" "$skf" "$of_loop" "$te" "$th" >"$out/tcp.json"
echo "tcp bench: wrote $out/tcp.json"
echo "$met of $total targets met"
