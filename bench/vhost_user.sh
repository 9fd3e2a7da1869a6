#!/usr/bin/env bash
# bench/vhost_user.sh BUILD OUT_DIR: pvmm's vhost-user-blk back end against
# qemu-storage-daemon's, in one run, driven by Linux's own virtio-blk
# driver: the Linux kit (scripts/linux-kit.sh) under QEMU TCG reads and
# writes its disk with direct I/O (busybox dd, 4 KiB and 64 KiB blocks).
# The guest is an emulator, so the figures compare the back ends with each
# other, not with the host. Per back end: MB/s of each workload (dd's own
# figure), and the back end's CPU time per request (every thread's
# schedstat, before and after the boot, over the requests dd made).
# Prints a table; writes OUT_DIR/vhost_user.json. Exit 0, or 0 with a
# SKIP line where QEMU is not installed.
set -euo pipefail
build=$1 out=$2
cd "$(dirname "$0")/.."

if ! command -v qemu-system-x86_64 >/dev/null || ! command -v qemu-storage-daemon >/dev/null; then
	echo "vhost-user bench: SKIP (qemu-system-x86_64 / qemu-storage-daemon not installed; scripts/deps.sh installs them)"
	exit 0
fi
kit=$(scripts/linux-kit.sh)
tmp=$(mktemp -d)
bpid=
cleanup() {
	[ -n "$bpid" ] && kill -KILL "$bpid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

# MiB per workload: 4 KiB requests are slow under TCG, 64 KiB ones fast.
MIB_4K=32 MIB_64K=128
# The guest's side: busybox dd prints no rate, so each workload is timed
# with /proc/uptime (10 ms steps; the sizes keep that to a few per cent).
cat >"$tmp/check.sh" <<EOF
for bs in 4096 65536; do
	mib=$MIB_4K
	[ \$bs = 65536 ] && mib=$MIB_64K
	n=\$((mib * 1048576 / bs))
	t0=\$(cut -d' ' -f1 /proc/uptime)
	dd if=/dev/zero of=/dev/vda bs=\$bs count=\$n oflag=direct 2>/dev/null || echo "wl write failed"
	t1=\$(cut -d' ' -f1 /proc/uptime)
	echo "wl write \$bs \$((mib * 1048576)) \$t0 \$t1"
	t0=\$(cut -d' ' -f1 /proc/uptime)
	dd if=/dev/vda of=/dev/null bs=\$bs count=\$n iflag=direct 2>/dev/null || echo "wl read failed"
	t1=\$(cut -d' ' -f1 /proc/uptime)
	echo "wl read \$bs \$((mib * 1048576)) \$t0 \$t1"
done
EOF
scripts/linux-kit.sh initrd "$tmp/check.sh" "$tmp/initrd.gz"

# Nanoseconds of CPU every thread of PID has used (schedstat's first field).
cpu_ns() {
	local t sum=0 v
	for t in /proc/"$1"/task/*/schedstat; do
		read -r v _ <"$t" || v=0
		sum=$((sum + v))
	done
	echo "$sum"
}

# boot SOCK LOG: the kit against the vhost-user-blk at SOCK, bounded.
boot() {
	timeout -s KILL 300 qemu-system-x86_64 -M pc -accel tcg -cpu max -m 256 \
		-object memory-backend-memfd,id=mem,size=256M,share=on -numa node,memdev=mem \
		-chardev socket,id=c0,path="$1" -device vhost-user-blk-pci,chardev=c0 \
		-kernel "$kit/vmlinuz" -initrd "$tmp/initrd.gz" -append "console=ttyS0 panic=-1 quiet" \
		-display none -serial file:"$2" -monitor none -no-reboot </dev/null >/dev/null 2>"$2.err"
	grep -q 'pvmm-kit: check exit 0' "$2" && ! grep -q '^wl .* failed' "$2" || {
		echo "vhost-user bench: the guest did not finish its workloads: $(tail -c 300 "$2")" >&2
		exit 1
	}
}

# MB/s of workload OP BS from the guest's "wl OP BS BYTES T0 T1" line.
mb_s() {
	awk -v op="$1" -v bs="$2" '$1 == "wl" && $2 == op && $3 == bs {
		d = $6 - $5; printf "%.1f", (d > 0 ? $4 / d / 1e6 : 0) }' "$3"
}

declare -A mbs cpu_req
for be in pvmm qsd; do
	img=$tmp/$be.img sock=$tmp/$be.sock log=$tmp/$be.log
	truncate -s $((MIB_64K + 1))M "$img"
	if [ "$be" = pvmm ]; then
		"$build/pvmm" vhost-user --socket "$sock" blk --disk "$img" 2>"$tmp/$be.err" &
	else
		qemu-storage-daemon --blockdev driver=file,node-name=f,filename="$img",cache.direct=off \
			--export type=vhost-user-blk,id=e,node-name=f,addr.type=unix,addr.path="$sock",writable=on \
			>"$tmp/$be.err" 2>&1 &
	fi
	bpid=$!
	for ((i = 0; i < 100; i++)); do [ -S "$sock" ] && break; sleep 0.05; done
	[ -S "$sock" ] || { echo "vhost-user bench: $be made no socket: $(head -c 300 "$tmp/$be.err")" >&2; exit 1; }
	c0=$(cpu_ns "$bpid")
	boot "$sock" "$log"
	c1=$(cpu_ns "$bpid" 2>/dev/null || echo "$c0")
	kill -TERM "$bpid" 2>/dev/null || true
	wait "$bpid" 2>/dev/null || true
	bpid=
	# Requests: one per dd block (direct I/O, a block under the queue's limits).
	reqs=$((2 * (MIB_4K * 1048576 / 4096) + 2 * (MIB_64K * 1048576 / 65536)))
	cpu_req[$be]=$(awk -v c=$((c1 - c0)) -v n=$reqs 'BEGIN { printf "%.2f", c / n / 1000 }')
	for op in read write; do
		for bs in 4096 65536; do
			mbs[$be,$op,$bs]=$(mb_s "$op" "$bs" "$log")
		done
	done
done

printf '\n%-34s %10s %10s %8s %s\n' "vhost-user-blk, Linux under TCG" "pvmm" "qsd" "ratio" "target"
json="{\n  \"mib_4k\": $MIB_4K,\n  \"mib_64k\": $MIB_64K,\n  \"workloads\": ["
sep=
met=0 total=0
for op in read write; do
	for bs in 4096 65536; do
		p=${mbs[pvmm,$op,$bs]} q=${mbs[qsd,$op,$bs]}
		r=$(awk -v p="$p" -v q="$q" 'BEGIN { printf "%.2f", (q > 0 ? p / q : 0) }')
		v=$(awk -v r="$r" 'BEGIN { print (r >= 1.0 ? "PASS" : "MISS") }')
		total=$((total + 1))
		[ "$v" = PASS ] && met=$((met + 1))
		printf '%-34s %10s %10s %8s %s\n' "$op $((bs / 1024)) KiB, MB/s" "$p" "$q" "$r" ">= 1.00 $v"
		json+="$sep\n    {\"op\": \"$op\", \"bs\": $bs, \"pvmm_mb_s\": $p, \"qsd_mb_s\": $q, \"ratio\": $r}"
		sep=,
	done
done
p=${cpu_req[pvmm]} q=${cpu_req[qsd]}
r=$(awk -v p="$p" -v q="$q" 'BEGIN { printf "%.2f", (q > 0 ? p / q : 0) }')
v=$(awk -v r="$r" 'BEGIN { print (r <= 1.0 ? "PASS" : "MISS") }')
total=$((total + 1))
[ "$v" = PASS ] && met=$((met + 1))
printf '%-34s %10s %10s %8s %s\n' "back-end CPU per request, us" "$p" "$q" "$r" "<= 1.00 $v"
json+="\n  ],\n  \"cpu_us_per_request\": {\"pvmm\": $p, \"qsd\": $q, \"ratio\": $r}\n}\n"
printf "$json" >"$out/vhost_user.json"
echo "vhost-user bench: wrote $out/vhost_user.json"
echo "$met of $total targets met"
