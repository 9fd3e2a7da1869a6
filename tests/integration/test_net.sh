# virtio-net over TAP, end to end. Each test creates its own TAP in the
# root namespace (a unique name, a 10.233.N.0/24 subnet of its own, the
# host at .1 and the guest at .2), runs the guest in the background, talks
# to it from the host (ping, python3 UDP and AF_PACKET sockets: loopback
# of nothing else, only the TAP it made, bounded in count and time), then
# stops the VM and deletes the TAP. A test that cannot run because
# /dev/net/tun is absent passes with a note saying so.

NET_TAPS=()
net_seq=0
# The NIC model the functional tests run over (virtio or ne2000): each
# test_net_X has a test_net_ne2000_X twin running the same body.
NET_MODEL=virtio

net_cleanup() {
	bg_vm_kill
	local t
	for t in "${NET_TAPS[@]}"; do
		ip link del "$t" 2>/dev/null
	done
	NET_TAPS=()
}
trap net_cleanup EXIT

# net_skip: true (with a note) when this host cannot do TAP networking.
net_skip() {
	if [ ! -c /dev/net/tun ]; then
		echo "    (skipped: /dev/net/tun is absent on this host)"
		return 0
	fi
	return 1
}

# net_tap VAR MTU: create a TAP with the next subnet; sets $VAR to its
# name and NET_SUBNET to "10.233.N".
net_tap() {
	net_seq=$((net_seq + 1))
	local name="pvn$(($$ % 100000))x$net_seq"
	NET_SUBNET="10.233.$(( ($$ + net_seq * 7) % 250 + 1 ))"
	ip tuntap add dev "$name" mode tap || { fail_because "cannot create TAP $name"; return 1; }
	NET_TAPS+=("$name")
	ip link set "$name" mtu "${2:-1500}"
	ip addr add "$NET_SUBNET.1/24" dev "$name"
	ip link set "$name" up
	printf -v "$1" '%s' "$name"
}

# net_model_key: what --net gets for $NET_MODEL (nothing for virtio).
net_model_key() {
	[ "$NET_MODEL" = ne2000 ] && printf ',model=ne2000'
}

# net_stat_line: the NIC's --stats line.
net_stat_line() {
	if [ "$NET_MODEL" = ne2000 ]; then
		grep -m1 '^  ne2000 ' "$ERR"
	else
		grep -m1 'device .*virtio-net' "$ERR"
	fi
}

# net_stat NAME: the NIC's counter NAME from the --stats line.
net_stat() {
	net_stat_line | grep -oE "(, |^)$1 [0-9]+" | grep -oE '[0-9]+$'
}

expect_stat() {
	local v
	v=$(net_stat "$1")
	[ -n "$v" ] && [ "$v" "$2" "$3" ] || fail_because "$NET_MODEL $1 is '${v}', expected $2 $3"
}

# net_udp HOST N SIZE: send N datagrams of SIZE bytes to HOST:7, one at a
# time, each with a 1 s deadline; prints "echoed K of N".
net_udp() {
	timeout 60 python3 - "$@" <<'PY'
import socket, sys
host, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1.0)
ok = 0
for i in range(n):
    msg = bytes((i + j) & 0xff for j in range(size))
    s.sendto(msg, (host, 7))
    try:
        data, _ = s.recvfrom(65536)
        ok += data == msg
    except socket.timeout:
        pass
print("echoed %d of %d" % (ok, n))
PY
}

net_quit() {
	timeout 5 python3 -c 'import socket,sys; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"quit", (sys.argv[1], 7))' "$1"
}

# net_raw IFNAME MODE: frames written straight onto the TAP (AF_PACKET).
#   good N: N minimum-sized broadcast frames of a local EtherType
#   malformed: a burst of frames that are wrong at every layer
net_raw() {
	timeout 30 python3 - "$@" <<'PY'
import socket, struct, sys, random
ifname, mode = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((ifname, 0))
bcast, src = b"\xff" * 6, b"\x02\x00\x00\x00\x00\x01"
sent = refused = 0
def send(f):
    global sent, refused
    try:
        s.send(f); sent += 1
    except OSError:
        refused += 1
if mode == "good":
    for i in range(int(sys.argv[3])):
        send(bcast + src + b"\x88\xb5" + bytes(46))
else:
    rnd = random.Random(9)
    def ip(ver_ihl=0x45, total=None, csum=None, proto=17, payload=b"", frag=0):
        total = 20 + len(payload) if total is None else total
        h = struct.pack("!BBHHHBBH4s4s", ver_ihl, 0, total, 1, frag, 64, proto, 0,
                        bytes([10, 233, 0, 1]), bytes([10, 233, 0, 2]))
        if csum is None:
            c = sum(struct.unpack("!10H", h)); c = (c & 0xffff) + (c >> 16); c = ~c & 0xffff
        else:
            c = csum
        return h[:10] + struct.pack("!H", c) + h[12:] + payload
    frames = []
    for n in range(1, 14):                       # shorter than an Ethernet header
        frames.append(bytes(rnd.getrandbits(8) for _ in range(n)))
    for _ in range(40):                          # random garbage of every size
        frames.append(bcast + src + bytes(rnd.getrandbits(8) for _ in range(rnd.randrange(0, 1400))))
    e = bcast + src + b"\x08\x00"
    frames += [e + ip(csum=0x1234), e + ip(ver_ihl=0x4f), e + ip(ver_ihl=0x65), e + ip(total=1400),
               e + ip(payload=struct.pack("!HHHH", 1, 7, 4000, 0)), e + ip(frag=0x2000),
               e + ip(proto=1, payload=b"\x08\x00\x00\x00"), e + b"\x45", bcast + src + b"\x08\x06" + bytes(5),
               bcast + src + b"\x08\x06" + bytes(28)]
    frames.append(bcast + src + b"\x88\xb5" + bytes(3000))   # over the MTU: the kernel refuses it
    import time
    for _ in range(4):
        for i, f in enumerate(frames):
            send(f)
            if i % 16 == 15:
                time.sleep(0.02)   # the guest's receive buffers keep up
print("raw sent %d refused %d" % (sent, refused))
PY
}

net_ping_and_udp_echo() {
	net_skip && return
	local tap
	net_tap tap || return
	bg_vm_start 40 run --stats --net "tap=$tap$(net_model_key)" "$EXAMPLES/udp_echo.elf" "ip=$NET_SUBNET.2/24" "gw=$NET_SUBNET.1"
	if bg_vm_wait_out "mtu=1500 link=1"; then
		# One datagram first, so that the pings do not wait on ARP.
		net_udp "$NET_SUBNET.2" 1 8 >/dev/null
		timeout 10 ping -c 3 -i 0.2 -W 2 "$NET_SUBNET.2" >"$TEST_TMP/ping" 2>&1 ||
			fail_because "ping failed: $(tail -2 "$TEST_TMP/ping")"
		grep -q '3 received' "$TEST_TMP/ping" || fail_because "not 3 ping replies: $(tail -2 "$TEST_TMP/ping")"
		local r
		r=$(net_udp "$NET_SUBNET.2" 200 32)
		[ "$r" = "echoed 200 of 200" ] || fail_because "UDP echo: $r"
		net_quit "$NET_SUBNET.2"
	fi
	bg_vm_finish
	expect_status 0
	expect_out "udp_echo done: echoed 201"
	expect_out "icmp_replies 3"
	expect_stat tx_frames -ge 204
	expect_stat rx_frames -ge 205
	if [ "$NET_MODEL" = ne2000 ]; then
		expect_stat drop_tx_short -eq 0
		expect_stat drop_tx_bounds -eq 0
	else
		expect_stat drop_tx_layout -eq 0
	fi
	[ "$test_failed" -eq 0 ] || echo "    $(net_stat_line)"
	net_cleanup
}
test_net_ping_and_udp_echo() { local NET_MODEL=virtio; net_ping_and_udp_echo; }
test_net_ne2000_ping_and_udp_echo() { local NET_MODEL=ne2000; net_ping_and_udp_echo; }

net_mtu_and_minimum_frames() {
	net_skip && return
	local tap
	net_tap tap || return
	bg_vm_start 40 run --stats --net "tap=$tap$(net_model_key)" "$EXAMPLES/udp_echo.elf" "ip=$NET_SUBNET.2/24"
	if bg_vm_wait_out "udp_echo ready"; then
		local r
		# 1472 bytes of UDP: a 1514-byte frame, MTU + 14, both ways.
		r=$(net_udp "$NET_SUBNET.2" 20 1472)
		[ "$r" = "echoed 20 of 20" ] || fail_because "MTU-sized UDP echo: $r"
		# An empty datagram: a 42-byte frame, padded to 60 by the guest.
		r=$(net_udp "$NET_SUBNET.2" 20 0)
		[ "$r" = "echoed 20 of 20" ] || fail_because "empty UDP echo: $r"
		timeout 10 ping -c 2 -i 0.2 -W 2 -s 1472 -M do "$NET_SUBNET.2" >"$TEST_TMP/ping" 2>&1 ||
			fail_because "MTU-sized ping failed: $(tail -2 "$TEST_TMP/ping")"
		# Bare 60-byte frames of an EtherType the guest ignores.
		r=$(net_raw "$tap" good 10)
		[ "$r" = "raw sent 10 refused 0" ] || fail_because "raw frames: $r"
		net_quit "$NET_SUBNET.2"
	fi
	bg_vm_finish
	expect_status 0
	expect_out "udp_echo done: echoed 40"
	expect_stat drop_rx_host -eq 0
	# 40 datagrams, 2 pings and the 10 raw frames at least.
	expect_stat rx_frames -ge 52
	net_cleanup
}
test_net_mtu_and_minimum_frames() { local NET_MODEL=virtio; net_mtu_and_minimum_frames; }
test_net_ne2000_mtu_and_minimum_frames() { local NET_MODEL=ne2000; net_mtu_and_minimum_frames; }

net_malformed_frames_from_host() {
	net_skip && return
	local tap
	net_tap tap || return
	bg_vm_start 40 run --stats --net "tap=$tap$(net_model_key)" "$EXAMPLES/udp_echo.elf" "ip=$NET_SUBNET.2/24"
	local r=
	if bg_vm_wait_out "udp_echo ready"; then
		r=$(net_raw "$tap" malformed)
		echo "$r" | grep -qE '^raw sent [1-9][0-9]* refused' || fail_because "raw burst: $r"
		# The guest still answers.
		r=$(net_udp "$NET_SUBNET.2" 20 64)
		[ "$r" = "echoed 20 of 20" ] || fail_because "UDP echo after the burst: $r"
		net_quit "$NET_SUBNET.2"
	fi
	bg_vm_finish
	expect_status 0
	expect_out "udp_echo done: echoed 20"
	# Frames shorter than an Ethernet header never reach the guest; the
	# guest's IPv4 layer counts the rest as malformed or not its own.
	local m sent
	m=$(grep -oE 'malformed [0-9]+' "$OUT" | grep -oE '[0-9]+')
	[ "${m:-0}" -ge 20 ] || fail_because "the guest counted ${m:-0} malformed frames"
	sent=$(echo "$r" | grep -oE 'sent [0-9]+' | grep -oE '[0-9]+')
	# Every frame the TAP carried is accounted for: delivered, or dropped
	# and counted (short ones by the device, the rest for want of a
	# buffer: virtio's posted chains, the NE2000's ring).
	local total
	if [ "$NET_MODEL" = ne2000 ]; then
		total=$(( $(net_stat rx_frames) + $(net_stat drop_rx_host) + $(net_stat drop_rx_overflow) ))
	else
		total=$(( $(net_stat rx_frames) + $(net_stat drop_rx_host) + $(net_stat drop_rx_no_buffer) ))
	fi
	[ "$total" -ge "${sent:-1}" ] || fail_because "sent $sent frames, the device accounts for $total"
	expect_stat rx_frames -ge 150
	net_cleanup
}
test_net_malformed_frames_from_host() { local NET_MODEL=virtio; net_malformed_frames_from_host; }
test_net_ne2000_malformed_frames_from_host() { local NET_MODEL=ne2000; net_malformed_frames_from_host; }

test_net_hostile_guest() {
	net_skip && return
	local tap
	net_tap tap || return
	bg_vm_start 40 run --stats --net "tap=$tap" "$GUESTS/net_hostile.elf"
	if bg_vm_wait_out "rx armed"; then
		local r
		r=$(net_raw "$tap" good 3)
		[ "$r" = "raw sent 3 refused 0" ] || fail_because "raw frames: $r"
	fi
	bg_vm_finish
	expect_status 0
	local c
	for c in writable no_header short long gso split_ok mtu_ok min_ok; do
		expect_out "tx_$c used=1 len=0"
	done
	expect_out "rx_readable used=1 len=0"
	expect_out "rx_small used=1 len=0"
	grep -qE '^rx_good used=1 len=[1-9][0-9]+$' "$OUT" || fail_because "no frame in the good receive buffer"
	expect_out "tx_bad_addr outcome=needs_reset"
	expect_out "after_reset tx used=1 len=0"
	expect_out "net_hostile done"
	expect_err "virtio-net"
	expect_stat drop_tx_layout -eq 2
	expect_stat drop_tx_short -eq 1
	expect_stat drop_tx_long -eq 1
	expect_stat drop_tx_header -eq 1
	expect_stat drop_rx_bad_buffer -eq 2
	expect_stat tx_frames -eq 4
	net_cleanup
}

test_net_two_nics_two_subnets() {
	net_skip && return
	local tap1 tap2 sub1 sub2
	net_tap tap1 || return
	sub1=$NET_SUBNET
	net_tap tap2 || return
	sub2=$NET_SUBNET
	bg_vm_start 40 run --stats --net "tap=$tap1" --net "tap=$tap2,mac=02:00:00:00:00:22" \
		"$EXAMPLES/udp_echo.elf" "ip=$sub2.2/24" nic=1
	if bg_vm_wait_out "udp_echo ready mac=02:00:00:00:00:22"; then
		local r
		r=$(net_udp "$sub2.2" 10 100)
		[ "$r" = "echoed 10 of 10" ] || fail_because "UDP echo on the second NIC: $r"
		net_quit "$sub2.2"
	fi
	bg_vm_finish
	expect_status 0
	[ "$(grep -c 'device .*virtio-net' "$ERR")" -eq 2 ] || fail_because "not two virtio-net devices in --stats"
	grep -q "tap:$tap1" "$ERR" && grep -q "tap:$tap2" "$ERR" || fail_because "the NICs are not on $tap1 and $tap2"
	: "$sub1"
	net_cleanup
}

# Both models in one VM: NICs are numbered in command-line order whatever
# their model, so nic=N picks the same NIC either way round.
test_net_mixed_models() {
	net_skip && return
	local tap1 tap2 sub1 sub2 order
	for order in ne2000-first virtio-first; do
		net_tap tap1 || return
		sub1=$NET_SUBNET
		net_tap tap2 || return
		sub2=$NET_SUBNET
		local m1=",model=ne2000" m2=
		[ "$order" = virtio-first ] && { m1=; m2=",model=ne2000"; }
		bg_vm_start 40 run --stats --net "tap=$tap1$m1,mac=02:00:00:00:00:11" --net "tap=$tap2$m2,mac=02:00:00:00:00:22" \
			"$EXAMPLES/udp_echo.elf" "ip=$sub2.2/24" nic=1
		if bg_vm_wait_out "udp_echo ready mac=02:00:00:00:00:22"; then
			local r
			r=$(net_udp "$sub2.2" 10 100)
			[ "$r" = "echoed 10 of 10" ] || fail_because "$order: UDP echo on the second NIC: $r"
			net_quit "$sub2.2"
		fi
		bg_vm_finish
		expect_status 0
		grep -q "^  ne2000 .*tap:$([ "$order" = ne2000-first ] && echo "$tap1" || echo "$tap2")," "$ERR" ||
			fail_because "$order: the NE2000 is not on the right TAP: $(grep ne2000 "$ERR")"
		: "$sub1"
		net_cleanup
	done
}

test_net_bad_options() {
	run_pvmm run --net bogus "$EXAMPLES/hello.elf"
	expect_status 2
	expect_err "--net 'bogus'"
	run_pvmm run --net "tap=x,mac=01:00:00:00:00:01" "$EXAMPLES/hello.elf"
	expect_status 2
	expect_err "unicast"
	run_pvmm run --net "tap=x,mtu=20" "$EXAMPLES/hello.elf"
	expect_status 2
	expect_err "mtu="
	run_pvmm run --net "user,tap=x" "$EXAMPLES/hello.elf"
	expect_status 2
	expect_err "unknown option 'tap=x'"
}

# The NIC model: a bad one, a second NE2000, an MTU the NE2000 cannot
# carry, a bad --net-model; each one line and status 2, before any TAP.
test_net_model_errors() {
	local v
	for v in "tap=x,model=e1000" "user,model=ne2000,mtu=1501" "user,model=ne2000|user,model=ne2000" \
		"user|user,mac=02:00:00:00:00:09|--net-model|ne2000" "user|--net-model|rtl8139"; do
		local args=() a
		IFS='|' read -ra parts <<<"$v"
		args=(--net "${parts[0]}")
		for ((a = 1; a < ${#parts[@]}; a++)); do
			case "${parts[a]}" in
			--net-model) args+=(--net-model "${parts[a + 1]}"); a=$((a + 1)) ;;
			*) args+=(--net "${parts[a]}") ;;
			esac
		done
		run_pvmm run "${args[@]}" "$EXAMPLES/hello.elf"
		expect_status 2
		[ "$(wc -l <"$ERR")" -eq 1 ] || fail_because "'$v': not one line: $(cat "$ERR")"
	done
	run_pvmm run --net "user,model=ne2000" --net "user,model=ne2000,mac=02:00:00:00:00:09" "$EXAMPLES/hello.elf"
	expect_err "one NE2000"
	run_pvmm run --net "user,model=ne2000,mtu=1501" "$EXAMPLES/hello.elf"
	expect_err "mtu= up to 1500"
	# One NE2000 beside a virtio-net NIC is fine, in either order.
	run_pvmm run --net "user,model=ne2000" --net "user,mac=02:00:00:00:00:09" "$EXAMPLES/hello.elf"
	expect_status 0
}

test_net_tap_errors_are_one_line() {
	net_skip && return
	# Not a TAP: the loopback interface.
	run_pvmm run --net tap=lo "$EXAMPLES/hello.elf"
	expect_status 2
	expect_err "--net tap=lo: an interface of that name exists and is not a TAP"
	expect_err_lines 1
	# Without CAP_NET_ADMIN a TAP cannot be created.
	if command -v setpriv >/dev/null; then
		timeout 20 setpriv --bounding-set=-net_admin --inh-caps=-net_admin \
			"$PVMM" run --net "tap=pvnoperm$$" "$EXAMPLES/hello.elf" >"$OUT" 2>"$ERR"
		status=$?
		expect_status 2
		expect_err "not permitted to create or attach this TAP"
		expect_err_lines 1
	fi
}

# --net user (libslirp in the pvmm-slirp helper): no TAP, no privileges;
# traffic only from host loopback through hostfwd= to the guest.

# net_free_port udp|tcp: a loopback port nothing is bound to right now.
net_free_port() {
	python3 -c 'import socket,sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM if sys.argv[1] == "udp" else socket.SOCK_STREAM)
s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' "$1"
}

# net_udp_port ADDR PORT N SIZE: like net_udp, to ADDR:PORT.
net_udp_port() {
	timeout 60 python3 - "$@" <<'PY'
import socket, sys
host, port, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1.0)
ok = 0
for i in range(n):
    msg = bytes((i + j) & 0xff for j in range(size))
    s.sendto(msg, (host, port))
    try:
        data, _ = s.recvfrom(65536)
        ok += data == msg
    except socket.timeout:
        pass
print("echoed %d of %d" % (ok, n))
PY
}

net_user_udp_echo() {
	local port tport
	port=$(net_free_port udp)
	tport=$(net_free_port tcp)
	bg_vm_start 40 run --stats --net "user,hostfwd=udp:127.0.0.1:$port-:7,hostfwd=tcp:127.0.0.1:$tport-:80$(net_model_key)" \
		"$EXAMPLES/udp_echo.elf" ip=10.0.2.15/24 gw=10.0.2.2
	local helper=
	if bg_vm_wait_out "mtu=1500 link=1"; then
		local r mon
		# timeout(1) → pvmm → pvmm-slirp
		mon=$(pgrep -P "$BG_VM_PID" | head -1)
		[ -n "$mon" ] && helper=$(pgrep -P "$mon" -x pvmm-slirp | head -1)
		[ -n "$helper" ] || fail_because "no pvmm-slirp helper under the monitor"
		r=$(net_udp_port 127.0.0.1 "$port" 200 32)
		[ "$r" = "echoed 200 of 200" ] || fail_because "UDP echo through hostfwd: $r"
		r=$(net_udp_port 127.0.0.1 "$port" 20 1400)
		[ "$r" = "echoed 20 of 20" ] || fail_because "1400-byte UDP echo through hostfwd: $r"
		# The tcp forward listens on the host (the guest has no TCP to answer).
		timeout 5 python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 2).close()' \
			"$tport" || fail_because "hostfwd=tcp:127.0.0.1:$tport is not listening"
		timeout 5 python3 -c 'import socket,sys; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"quit", ("127.0.0.1", int(sys.argv[1])))' "$port"
	fi
	bg_vm_finish
	expect_status 0
	expect_out "udp_echo done: echoed 220"
	expect_err "user:10.0.2.0"
	expect_stat tx_frames -ge 220
	expect_stat drop_tx_host -eq 0
	expect_stat drop_rx_host -eq 0
	# The helper went with the monitor (which waited for it).
	[ -z "$helper" ] || ! kill -0 "$helper" 2>/dev/null || fail_because "pvmm-slirp $helper outlived the monitor"
}
test_net_user_udp_echo() { local NET_MODEL=virtio; net_user_udp_echo; }
test_net_ne2000_user_udp_echo() { local NET_MODEL=ne2000; net_user_udp_echo; }

test_net_user_other_network() {
	local port
	port=$(net_free_port udp)
	bg_vm_start 40 run --net "user,net=192.168.77.0/24,hostfwd=udp:127.0.0.1:$port-192.168.77.15:7" \
		"$EXAMPLES/udp_echo.elf" ip=192.168.77.15/24 gw=192.168.77.2
	if bg_vm_wait_out "mtu=1500 link=1"; then
		local r
		r=$(net_udp_port 127.0.0.1 "$port" 10 64)
		[ "$r" = "echoed 10 of 10" ] || fail_because "UDP echo on net=192.168.77.0/24: $r"
		timeout 5 python3 -c 'import socket,sys; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"quit", ("127.0.0.1", int(sys.argv[1])))' "$port"
	fi
	bg_vm_finish
	expect_status 0
	expect_out "udp_echo done: echoed 10"
}

test_net_user_bad_hostfwd() {
	local spec
	for spec in "hostfwd=udp:127.0.0.1:0-:7" "hostfwd=udp:127.0.0.1:70000-:7" "hostfwd=sctp:127.0.0.1:5000-:7" \
		"hostfwd=udp:127.0.0.1:5000" "hostfwd=udp:127.0.0.1:5000-:" "hostfwd=udp:1.2.3:5000-:7" \
		"hostfwd=tcp::5000-10.0.3.15:7" "hostfwd=udp:127.0.0.1:5000-:7,hostfwd=udp:127.0.0.1:5000-:8" \
		"net=10.0.2.1/24" "net=10.0.2.0/31" "hostfwd="; do
		run_pvmm run --net "user,$spec" "$EXAMPLES/hello.elf"
		expect_status 2
		expect_err "--net user"
		expect_err_lines 1
		expect_no_out "Hello"
	done
}

test_net_user_port_in_use() {
	local proto
	for proto in udp tcp; do
		# A socket of ours holds the port while pvmm starts.
		timeout 30 python3 - "$proto" "$PVMM" "$EXAMPLES/hello.elf" "$OUT" "$ERR" <<'PY'
import socket, subprocess, sys
proto, pvmm, elf, out, err = sys.argv[1:]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM)
s.bind(("127.0.0.1", 0))
if proto == "tcp":
    s.listen(1)
port = s.getsockname()[1]
with open(out, "w") as o, open(err, "w") as e:
    r = subprocess.run([pvmm, "run", "--net", "user,hostfwd=%s:127.0.0.1:%d-:7" % (proto, port), elf],
                       stdin=subprocess.DEVNULL, stdout=o, stderr=e, timeout=20)
sys.exit(r.returncode)
PY
		status=$?
		expect_status 2
		expect_err "hostfwd=$proto:127.0.0.1:"
		expect_err "cannot listen on the host port"
		expect_err_lines 1
		expect_no_out "Hello"
	done
}
