# TCP over lwIP in the guest (<pvmm/socket.h>): the tcp_echo and httpd
# examples. User networking (libslirp) needs no privileges: the host side
# is a hostfwd= port on 127.0.0.1, or a listener on 127.0.0.1 that the
# guest reaches as 10.0.2.2. The TAP test makes its own TAP and subnet
# (10.234.N.0/24), like test_net.sh, and passes with a note where
# /dev/net/tun is absent. Every client is bounded by timeout(1), every VM
# by timeout -s KILL, and each test stops its VM and deletes its TAP.

TCP_TAP=

tcp_cleanup() {
	bg_vm_kill
	if [ -n "$TCP_TAP" ]; then
		ip link del "$TCP_TAP" 2>/dev/null
		TCP_TAP=
	fi
}
# Keep whatever EXIT trap another test file set (all files share a shell).
tcp_prev_trap=$(trap -p EXIT | sed -e "s/^trap -- '//" -e "s/' EXIT\$//")
# shellcheck disable=SC2064
trap "tcp_cleanup; $tcp_prev_trap" EXIT

# Guest code at ring 0 is interpreted on hosts without VT-x: TCP there is
# ~100 times slower, so those runs move less data and wait longer.
tcp_bytes() { if ring3; then echo 1048576; else echo 65536; fi; }
tcp_slow() { if ring3; then echo 1; else echo 6; fi; }

tcp_free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# tcp_echo_client HOST PORT CONNS BYTES: CONNS sequential connections, each
# sending BYTES random bytes while reading the echo; prints one line per
# connection, "ok N" when the sha256 of what came back matches.
tcp_echo_client() {
	timeout 120 python3 - "$@" <<'PY'
import hashlib, os, socket, sys, threading
host, port, conns, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
for c in range(conns):
    data = os.urandom(size)
    s = socket.create_connection((host, port), 10)
    s.settimeout(60)
    got = bytearray()
    def reader():
        try:
            while True:
                b = s.recv(65536)
                if not b:
                    break
                got.extend(b)
        except OSError:
            pass
    t = threading.Thread(target=reader)
    t.start()
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    t.join(90)
    s.close()
    same = hashlib.sha256(got).digest() == hashlib.sha256(data).digest()
    print(("ok %d" % len(got)) if same else ("mismatch: sent %d, got %d" % (size, len(got))))
PY
}

test_tcp_echo_user_both_directions() {
	local port n r
	port=$(tcp_free_port)
	n=$(tcp_bytes)
	bg_vm_start 90 run --stats --net "user,hostfwd=tcp:127.0.0.1:$port-:7" "$EXAMPLES/tcp_echo.elf" conns=3
	if bg_vm_wait_out "tcp_echo ready port 7"; then
		r=$(tcp_echo_client 127.0.0.1 "$port" 3 "$n")
		[ "$r" = "$(printf 'ok %s\nok %s\nok %s' "$n" "$n" "$n")" ] ||
			fail_because "echo of 3 x $n bytes through hostfwd: $r"
	fi
	bg_vm_finish
	expect_status 0
	expect_out "tcp_echo done: 3 connections, $((3 * n)) bytes, 0 datagrams"
	expect_out "connection 3 from 10.0.2.2:"
	# Nothing lost on the way: no frame dropped for want of a buffer.
	local d
	d=$(grep -m1 'virtio-net' "$ERR" | grep -oE 'drop_rx_no_buffer [0-9]+' | grep -oE '[0-9]+$')
	[ "${d:-x}" = 0 ] || fail_because "drop_rx_no_buffer is '${d}', expected 0"
}

# UDP sockets (sock_recvfrom/sock_sendto under sock_poll): datagrams of
# 1 to 1400 bytes, and one of 4000 (IP fragments both ways), through
# hostfwd=udp:, then one TCP connection ends the guest.
test_tcp_udp_socket_echo() {
	local port uport r
	port=$(tcp_free_port)
	uport=$(python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	bg_vm_start 90 run --net "user,hostfwd=tcp:127.0.0.1:$port-:7,hostfwd=udp:127.0.0.1:$uport-:7" \
		"$EXAMPLES/tcp_echo.elf" conns=1
	if bg_vm_wait_out "tcp_echo ready port 7"; then
		r=$(timeout 60 python3 - "$uport" <<'PY'
import os, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
ok = 0
sizes = [1 + (i * 97) % 1400 for i in range(100)] + [4000]
for n in sizes:
    m = os.urandom(n)
    s.sendto(m, ("127.0.0.1", int(sys.argv[1])))
    try:
        ok += s.recv(65536) == m
    except socket.timeout:
        pass
print("echoed %d of %d" % (ok, len(sizes)))
PY
)
		[ "$r" = "echoed 101 of 101" ] || fail_because "UDP socket echo: $r"
		r=$(tcp_echo_client 127.0.0.1 "$port" 1 1000)
		[ "$r" = "ok 1000" ] || fail_because "TCP echo after UDP: $r"
	fi
	bg_vm_finish
	expect_status 0
	expect_out "tcp_echo done: 1 connections, 1000 bytes, 101 datagrams"
}

# The guest connects out: to a listener on the host's loopback, which
# libslirp's NAT makes 10.0.2.2, and sends a pattern the host checks.
test_tcp_guest_to_host() {
	local n port
	n=$(tcp_bytes)
	rm -f "$TEST_TMP/tcp_port" "$TEST_TMP/tcp_recv"
	timeout 120 python3 - "$TEST_TMP/tcp_port" "$TEST_TMP/tcp_recv" "$n" <<'PY' &
import hashlib, socket, sys
portfile, result, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
l = socket.socket()
l.bind(("127.0.0.1", 0))
l.listen(1)
l.settimeout(100)
open(portfile + ".tmp", "w").write(str(l.getsockname()[1]))
import os; os.rename(portfile + ".tmp", portfile)
c, _ = l.accept()
c.settimeout(60)
h, got = hashlib.sha256(), 0
while True:
    b = c.recv(65536)
    if not b:
        break
    h.update(b); got += len(b)
want = hashlib.sha256(bytes((((i ^ (i >> 8) ^ (i >> 16)) * 37) & 255) for i in range(n))).digest()
open(result, "w").write("got %d %s\n" % (got, "match" if h.digest() == want else "MISMATCH"))
PY
	local lpid=$! i
	for ((i = 0; i < 50; i++)); do [ -s "$TEST_TMP/tcp_port" ] && break; sleep 0.1; done
	port=$(cat "$TEST_TMP/tcp_port" 2>/dev/null)
	[ -n "$port" ] || { fail_because "the host listener did not start"; kill "$lpid"; return; }
	bg_vm_start 90 run --net user "$EXAMPLES/tcp_echo.elf" "send=10.0.2.2:$port" "bytes=$n"
	bg_vm_finish $((30 * $(tcp_slow)))
	wait "$lpid"
	expect_status 0
	expect_out "tcp_echo sent $n bytes"
	[ "$(cat "$TEST_TMP/tcp_recv" 2>/dev/null)" = "got $n match" ] ||
		fail_because "the host listener: $(cat "$TEST_TMP/tcp_recv" 2>/dev/null || echo nothing)"
}

# DHCP against libslirp's server: the lease is .15 of whatever net= is.
test_tcp_dhcp_lease() {
	bg_vm_start 90 run --net user "$EXAMPLES/tcp_echo.elf" conns=0 send=10.0.2.2:1
	bg_vm_finish
	# No listener on port 1: the connection is refused, after the lease.
	expect_out "tcp_echo: address 10.0.2.15 gateway 10.0.2.2 (dhcp)"
	expect_out "connect to 10.0.2.2:1: error -111"
	expect_status 1
	bg_vm_start 90 run --net user,net=192.168.77.0/24 "$EXAMPLES/tcp_echo.elf" send=192.168.77.2:1
	bg_vm_finish
	expect_out "tcp_echo: address 192.168.77.15 gateway 192.168.77.2 (dhcp)"
	# A static address skips DHCP.
	bg_vm_start 90 run --net user "$EXAMPLES/tcp_echo.elf" ip=10.0.2.30/24 gw=10.0.2.2 send=10.0.2.2:1
	bg_vm_finish
	expect_out "tcp_echo: address 10.0.2.30 gateway 10.0.2.2 (static)"
	# A malformed address is named, exit 2.
	run_pvmm run --net user "$EXAMPLES/tcp_echo.elf" ip=10.0.2.300/24
	expect_status 2
	expect_out "'ip=10.0.2.300/24': expected ip=A.B.C.D/LEN"
}

# tcp_http_session BASE_URL: the requests test_tcp_httpd_* make, one line
# of results each; httpd counts 6 requests (the malformed one is refused).
tcp_http_session() {
	local base=$1
	timeout 60 python3 - "$base" <<'PY'
import socket, sys, urllib.parse
base = urllib.parse.urlsplit(sys.argv[1])
host, port = base.hostname, base.port or 80

def exchange(raw, conn=None):
    """Send raw; read one response (headers + Content-Length body)."""
    s = conn or socket.create_connection((host, port), 10)
    s.settimeout(20)
    s.sendall(raw)
    buf = b""
    while b"\r\n\r\n" not in buf:
        b = s.recv(4096)
        if not b:
            break
        buf += b
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    hdrs = {k.lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
    want = int(hdrs.get("content-length", "0"))
    if not raw.startswith(b"HEAD"):
        while len(body) < want:
            b = s.recv(4096)
            if not b:
                break
            body += b
    return s, lines[0], hdrs, body

def get(path, conn=None, method="GET", extra=""):
    return exchange(("%s %s HTTP/1.1\r\nHost: x\r\n%s\r\n" % (method, path, extra)).encode(), conn)

s, st, h, body = get("/")
print("index", st, h.get("content-length") == str(len(body)), b"Hello from a pvmm guest" in body, h.get("connection"))
s.close()
# Two requests on one keep-alive connection.
s, st, h, body = get("/stats")
s, st2, h2, body2 = get("/stats", s)
stats = dict(l.split(" ", 1) for l in body2.decode().strip().split("\n") if " " in l)
print("stats", st, st2, stats.get("requests"), int(stats.get("vm_exits", 0)) > 0, int(stats.get("kicks", 0)) > 0,
      int(stats.get("bytes_sent", 0)) > 0)
s.close()
s, st, h, body = get("/nope")
print("missing", st, h.get("content-length") == str(len(body)))
s.close()
# Malformed: the server answers 400 and closes.
s, st, h, body = exchange(b"GARBAGE\x01 \r\n\r\n")
closed = s.recv(100) == b""
print("malformed", st, h.get("connection"), closed)
s.close()
# Still serving.
s, st, h, body = get("/", extra="Connection: close\r\n")
print("after", st, h.get("connection"))
s.close()
s, st, h, body = get("/", method="HEAD")
print("head", st, h.get("content-length"), len(body))
s.close()
PY
}

tcp_expect_http_session() {
	local r=$1
	[ "$(sed -n 1p <<<"$r")" = "index HTTP/1.1 200 OK True True keep-alive" ] || fail_because "GET /: $(sed -n 1p <<<"$r")"
	[ "$(sed -n 2p <<<"$r")" = "stats HTTP/1.1 200 OK HTTP/1.1 200 OK 3 True True True" ] ||
		fail_because "GET /stats twice on one connection: $(sed -n 2p <<<"$r")"
	[ "$(sed -n 3p <<<"$r")" = "missing HTTP/1.1 404 Not Found True" ] || fail_because "GET /nope: $(sed -n 3p <<<"$r")"
	[ "$(sed -n 4p <<<"$r")" = "malformed HTTP/1.1 400 Bad Request close True" ] ||
		fail_because "malformed request: $(sed -n 4p <<<"$r")"
	[ "$(sed -n 5p <<<"$r")" = "after HTTP/1.1 200 OK close" ] || fail_because "GET / after it: $(sed -n 5p <<<"$r")"
	[ "$(sed -n 6p <<<"$r")" = "head HTTP/1.1 200 OK 254 0" ] || fail_because "HEAD /: $(sed -n 6p <<<"$r")"
}

# tcp_curl_pages BASE_URL: curl GET / and /stats (2 requests).
tcp_curl_pages() {
	local r
	r=$(timeout 10 curl -s -o "$TEST_TMP/page" -w '%{http_code} %{size_download}' "$1/")
	[ "$r" = "200 254" ] || fail_because "curl $1/: $r"
	grep -q "Hello from a pvmm guest" "$TEST_TMP/page" || fail_because "curl $1/: not the index page"
	r=$(timeout 10 curl -s "$1/stats")
	grep -qE '^vm_exits [1-9][0-9]*$' <<<"$r" || fail_because "curl $1/stats: no vm_exits count: $(head -c 200 <<<"$r")"
	grep -qE '^kicks [1-9][0-9]*$' <<<"$r" || fail_because "curl $1/stats: no kicks count"
	grep -qE '^requests 8$' <<<"$r" || fail_because "curl $1/stats: not the 8th request: $(grep requests <<<"$r")"
}

test_tcp_httpd_user() {
	local port r
	port=$(tcp_free_port)
	bg_vm_start 90 run --stats --net "user,hostfwd=tcp:127.0.0.1:$port-:80" "$EXAMPLES/httpd.elf" requests=8
	if bg_vm_wait_out "httpd ready on 10.0.2.15:80 (dhcp)"; then
		r=$(tcp_http_session "http://127.0.0.1:$port")
		tcp_expect_http_session "$r"
		tcp_curl_pages "http://127.0.0.1:$port"
	fi
	bg_vm_finish
	expect_status 0
	expect_out "httpd done: 8 requests"
	expect_out "1 refused"
}

# curl, and a flood of malformed requests: each refused, none fatal.
test_tcp_httpd_curl_and_malformed_flood() {
	local port r
	port=$(tcp_free_port)
	bg_vm_start 90 run --net "user,hostfwd=tcp:127.0.0.1:$port-:80" "$EXAMPLES/httpd.elf" requests=3
	if bg_vm_wait_out "httpd ready"; then
		timeout 20 python3 - "$port" <<'PY' >"$TEST_TMP/flood"
import os, random, socket, sys
port = int(sys.argv[1])
rnd = random.Random(7)
bad = [b"\x00\xff" * 50 + b"\r\n\r\n", b"GET / HTTP/9.9\r\nHost: x\r\n\r\n", b"GET /\r\n\r\n",
       b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-Big: " + b"a" * 20000 + b"\r\n\r\n",
       b"GET / HTTP/1.1\r\nContent-Length: zz\r\n\r\n", b"GET / HTTP/1.1\r\n folded\r\n\r\n"]
bad += [bytes(rnd.getrandbits(8) for _ in range(rnd.randrange(1, 300))) + b"\r\n\r\n" for _ in range(10)]
codes = []
for b in bad:
    s = socket.create_connection(("127.0.0.1", port), 5)
    s.settimeout(10)
    try:
        s.sendall(b)
    except OSError:
        pass
    resp = b""
    try:
        while True:
            d = s.recv(4096)
            if not d:
                break
            resp += d
    except OSError:
        pass
    codes.append(resp[9:12].decode("latin-1") or "none")
    s.close()
print(" ".join(codes))
PY
		# Every one answered with a 4xx or 5xx status.
		grep -qE '^([45][0-9][0-9] ?){16}$' "$TEST_TMP/flood" ||
			fail_because "malformed requests got: $(cat "$TEST_TMP/flood")"
		r=$(timeout 10 curl -s -o "$TEST_TMP/page" -w '%{http_code} %{size_download}' "http://127.0.0.1:$port/")
		[ "$r" = "200 254" ] || fail_because "curl / after the flood: $r"
		r=$(timeout 10 curl -s "http://127.0.0.1:$port/stats" "http://127.0.0.1:$port/stats" | grep -c '^requests ')
		[ "$r" = 2 ] || fail_because "curl /stats twice (keep-alive): $r pages"
	fi
	bg_vm_finish
	expect_status 0
	expect_out "httpd done: 3 requests"
}

test_tcp_httpd_tap() {
	if [ ! -c /dev/net/tun ]; then
		echo "    (skipped: /dev/net/tun is absent on this host)"
		return
	fi
	local sub="10.234.$(( $$ % 250 + 1 ))" r
	TCP_TAP="pvt$(($$ % 100000))"
	ip tuntap add dev "$TCP_TAP" mode tap || { fail_because "cannot create TAP $TCP_TAP"; TCP_TAP=; return; }
	ip addr add "$sub.1/24" dev "$TCP_TAP"
	ip link set "$TCP_TAP" up
	bg_vm_start 90 run --net "tap=$TCP_TAP" "$EXAMPLES/httpd.elf" "ip=$sub.2/24" "gw=$sub.1" requests=8
	if bg_vm_wait_out "httpd ready on $sub.2:80 (static)"; then
		r=$(tcp_http_session "http://$sub.2:80")
		tcp_expect_http_session "$r"
		tcp_curl_pages "http://$sub.2:80"
	fi
	bg_vm_finish
	expect_status 0
	expect_out "httpd done: 8 requests"
	tcp_cleanup
}

# scripts/lwip.sh takes lwIP only with the SHA-256 the Sources index
# gives: a fake mirror on loopback serves the real tarball with a wrong
# sum, then the right one. The cache is the test's own.
test_tcp_lwip_fetch_checks_sha256() {
	local cache="$TEST_TMP/lwcache" fm="$TEST_TMP/mirror" src
	src=$(scripts/lwip.sh 2>/dev/null) || { fail_because "scripts/lwip.sh has no lwIP"; return; }
	mkdir -p "$fm/dists/bookworm/main/source" "$fm/pool/main/l/lwip"
	# The tarball again, from the unpacked tree: lwip.sh keeps no copy.
	tar -C "$(dirname "$src")" -cJf "$fm/pool/main/l/lwip/lwip_2.1.3+dfsg1.orig.tar.xz" "$(basename "$src")"
	local sum
	sum=$(sha256sum "$fm/pool/main/l/lwip/lwip_2.1.3+dfsg1.orig.tar.xz" | cut -d' ' -f1)
	timeout 30 python3 -m http.server 0 --bind 127.0.0.1 --directory "$fm" >"$TEST_TMP/http.log" 2>&1 &
	local hpid=$! port= i
	for ((i = 0; i < 50; i++)); do
		port=$(grep -oE 'port [0-9]+' "$TEST_TMP/http.log" 2>/dev/null | grep -oE '[0-9]+' | head -1)
		[ -n "$port" ] && break
		sleep 0.1
	done
	local s r
	for s in bad good; do
		local use=$sum
		[ $s = bad ] && use=$(printf '1%.0s' {1..64})
		printf 'Package: lwip\nVersion: 2.1.3+dfsg1-2\nChecksums-Sha256:\n %s 1 lwip_2.1.3+dfsg1.orig.tar.xz\nDirectory: pool/main/l/lwip\n\n' \
			"$use" | xz >"$fm/dists/bookworm/main/source/Sources.xz"
		rm -rf "$cache"
		r=$(PVMM_CACHE="$cache" PVMM_DEBIAN_MIRROR="http://127.0.0.1:$port" timeout 60 scripts/lwip.sh 2>&1)
		if [ $s = bad ]; then
			grep -q "does not match the SHA-256" <<<"$r" || fail_because "a wrong SHA-256 was not refused: $r"
			[ ! -e "$cache/lwip-2.1.3+dfsg1" ] || fail_because "a refused tarball was unpacked"
		else
			[ -f "$cache/lwip-2.1.3+dfsg1/src/core/tcp.c" ] || fail_because "the right SHA-256 was refused: $r"
		fi
	done
	kill "$hpid" 2>/dev/null
	wait "$hpid" 2>/dev/null
}

# The socket API's edge cases (tests/guests/sock_api.c): bad sockets and
# types, bind conflicts, non-blocking accept/recv/connect, poll deadlines,
# the table limit, end of stream; a host listener takes the connection.
test_tcp_socket_api_edges() {
	rm -f "$TEST_TMP/sa_port" "$TEST_TMP/sa_got"
	timeout 60 python3 - "$TEST_TMP/sa_port" "$TEST_TMP/sa_got" <<'PY' &
import os, socket, sys
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(1); l.settimeout(50)
open(sys.argv[1] + ".tmp", "w").write(str(l.getsockname()[1])); os.rename(sys.argv[1] + ".tmp", sys.argv[1])
c, _ = l.accept(); c.settimeout(10)
got = b""
while len(got) < 5:
    b = c.recv(100)
    if not b:
        break
    got += b
open(sys.argv[2], "wb").write(got)
c.close()
PY
	local lpid=$! i
	for ((i = 0; i < 50; i++)); do [ -s "$TEST_TMP/sa_port" ] && break; sleep 0.1; done
	bg_vm_start 90 run --net user "$GUESTS/sock_api.elf" "host=$(cat "$TEST_TMP/sa_port")"
	bg_vm_finish $((20 * $(tcp_slow)))
	wait "$lpid"
	expect_status 0
	expect_out "sock_api done 0 failed"
	expect_no_out "FAIL"
	[ "$(grep -c ' ok$' "$OUT")" -eq 29 ] || fail_because "$(grep -c ' ok$' "$OUT") of 29 checks passed"
	[ "$(cat "$TEST_TMP/sa_got" 2>/dev/null)" = hello ] || fail_because "the host got '$(cat "$TEST_TMP/sa_got" 2>/dev/null)'"
}
