#!/usr/bin/env bash
# make demo: build a guest from C with one command, run it, and show what
# the run cost in VM exits.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "A guest is plain C against the pvmm runtime"
sed -n '/int main/,/^}/p' guest/examples/hello.c

step "Build it with one command: guest/pvmm-cc -o build/demo-hello.elf guest/examples/hello.c"
guest/pvmm-cc -o build/demo-hello.elf guest/examples/hello.c
ls -l build/demo-hello.elf

step "Run it: build/pvmm run --stats build/demo-hello.elf demo 'of pvmm'"
build/pvmm run --stats build/demo-hello.elf demo "of pvmm"

step "Every para-API call, checked by a guest: build/pvmm run build/examples/paratour.elf"
echo "console input for the guest" | build/pvmm run build/examples/paratour.elf

step "A failing guest is reported, not hung on: NULL dereference"
build/pvmm run build/tests/guests/null_deref.elf || echo "(exit status $?: guest CPU fault)"

step "A runaway guest is stopped: --timeout 0.5"
build/pvmm run --timeout 0.5 build/tests/guests/spin.elf || echo "(exit status $?: timeout)"

step "Paravirtual vs emulated: one guest reads 1 MiB in 4 KiB requests over virtio-blk, then IDE"
img=build/demo-disk.img
rm -f "$img" && truncate -s 2M "$img"
build/pvmm run --disk "$img" build/bench/guests/compare.elf blk-write 1 >/dev/null
for model in virtio ide; do
	build/pvmm run --stats --disk "$img" --disk-model "$model" build/bench/guests/compare.elf blk-read 1 \
		2>build/demo-stats.txt | sed "s/^/  $model: /"
	grep -E "^  (vm exits|device|ide)" build/demo-stats.txt | sed "s/^/  $model: /"
done
rm -f "$img" build/demo-stats.txt

step "TCP/IP in a guest: lwIP, DHCP from user networking, an HTTP server (build/examples/httpd.elf)"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
echo "build/pvmm run --net user,hostfwd=tcp:127.0.0.1:$port-:80 build/examples/httpd.elf requests=2"
timeout -s KILL 30 build/pvmm run --net "user,hostfwd=tcp:127.0.0.1:$port-:80" build/examples/httpd.elf requests=2 \
	>build/demo-httpd.txt 2>&1 &
httpd=$!
for _ in $(seq 100); do grep -q "httpd ready" build/demo-httpd.txt && break; sleep 0.1; done
cat build/demo-httpd.txt
echo "\$ curl http://127.0.0.1:$port/"
timeout 10 curl -sS "http://127.0.0.1:$port/" || true
echo "\$ curl http://127.0.0.1:$port/stats   (the monitor's counts, from PVMM_CALL_STATS)"
timeout 10 curl -sS "http://127.0.0.1:$port/stats" || true
wait "$httpd" || echo "(httpd exit status $?)"
tail -n 1 build/demo-httpd.txt
rm -f build/demo-httpd.txt

echo
echo "Next: make check (all tests), make bench (start-up, hypercall cost, memory, virtio-blk,"
echo "and the paravirtual-vs-emulated comparison with its chart in docs/img/)."
