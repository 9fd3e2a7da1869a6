#!/usr/bin/env bash
# Run pvmm's benchmarks (`make bench` calls this after `make all`):
#   1. build/bench/pvmm-bench: cold start, hypercall round trip, memory,
#      guest compute, block I/O, at ring 0 and ring 3 side by side; a table
#      on stdout, bench/results/latest.json plus a timestamped copy;
#   2. `pvmm bench compare --ring 0,3`: the same workload over paravirtual
#      and emulated paths at both rings, bench/results/compare.json and
#      compare.dat (skipped, with a message, while bench/guests/compare.elf
#      is not built);
#   3. bench/compare_chart.sh: docs/img/compare.png and compare.svg;
#   4. bench/vhost_user.sh: vhost-user-blk against qemu-storage-daemon;
#   5. bench/net.py: virtio-net packet rate, exits and monitor CPU per frame;
#   6. bench/linux.py: Linux's start-up (PVH and bzImage) under pvmm and QEMU's microvm;
#   7. bench/tcp.sh: guest TCP (lwIP) over user networking against host
#      loopback, bench/results/tcp.json.
# It ends with one line counting the targets met across 1 and 2.
# Extra arguments go to pvmm-bench (see `build/bench/pvmm-bench --help`);
# --strict also applies to the comparison. BUILD=DIR picks another build tree.
#
# Exit status: 0 when every measurement ran, whatever the verdicts; 1 when
# a program failed or a figure could not be taken; 2 bad usage; 3 a target
# was missed and --strict was given.
set -euo pipefail

cd "$(dirname "$0")/.."
build=${BUILD:-build}
# Hints name the build tree when it is not the default one.
with_build=""
[ "$build" = build ] || with_build=" BUILD=$build"

missing=0
need() { # need PATH WHAT HOW
	if [ ! -e "$1" ]; then
		echo "bench: $1 is missing: $2 ($3)" >&2
		missing=1
	fi
}
need "$build/pvmm" "the monitor" "make monitor$with_build"
need "$build/bench/rawvm" "the raw-KVM floor program" "make bench-build$with_build"
need "$build/bench/pvmm-bench" "the benchmark harness" "make bench-build$with_build"
need "$build/examples/hello.elf" "the hello example guest, used for cold start and memory" \
	"built by guest/guest.mk from guest/examples/hello.c: make guest$with_build"
need "$build/bench/guests/hcloop.elf" "the NOP-call loop guest, used for the hypercall figure" \
	"built by guest/guest.mk from bench/guests/hcloop.c: make guest$with_build"
need "$build/bench/guests/blkbench.elf" "the block I/O guest, used for the block figures" \
	"built by guest/guest.mk from bench/guests/blkbench.c: make guest$with_build"
need "$build/bench/guests/blkrw.elf" "the Solo5 block test guest" \
	"built by guest/guest.mk from bench/guests/blkrw.c: make guest$with_build"
need "$build/bench/guests/compute.elf" "the compute guest for ring 3, used for the compute figures" \
	"built by guest/guest.mk from bench/guests/compute.c: make guest$with_build"
need "$build/bench/guests/compute-ring0.elf" "the compute guest for ring 0 (no SSE)" \
	"built by guest/guest.mk from bench/guests/compute.c: make guest$with_build"
need "$build/bench/guests/mmubench.elf" "the PV MMU guest" \
	"built by guest/guest.mk from bench/guests/mmubench.c: make guest$with_build"
need "$build/bench/guests/irqbench.elf" "the interrupt-delivery guest" \
	"built by guest/guest.mk from bench/guests/irqbench.c: make guest$with_build"
if [ "$missing" -ne 0 ]; then
	echo "bench: cannot run until the programs above are built (make all$with_build builds them all)" >&2
	exit 1
fi

if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
	echo "bench: no read/write access to /dev/kvm: run as root or as a member of its group" >&2
	exit 1
fi

strict=0
for arg in "$@"; do
	[ "$arg" = --strict ] && strict=1
done

mkdir -p bench/results
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

# "N of M targets met" from a log; "0 0" if there is none.
targets() {
	sed -n 's/^\([0-9][0-9]*\) of \([0-9][0-9]*\) targets met.*/\1 \2/p' "$1" | tail -n 1 | grep . || echo "0 0"
}

# 1. The harness. Exit 3 is --strict's "a target was missed": go on.
set +e
"$build/bench/pvmm-bench" --build "$build" --out bench/results "$@" | tee "$logs/bench"
status=${PIPESTATUS[0]}
set -e
if [ "$status" -ne 0 ] && [ "$status" -ne 3 ]; then
	exit "$status"
fi
failed=0
read -r met total < <(targets "$logs/bench")

# 2. Paravirtual against emulated paths, and 3. its chart.
compare_guest="$build/bench/guests/compare.elf"
summary="pvmm-bench $met of $total"
if [ ! -e "$compare_guest" ]; then
	echo
	echo "bench: skipping the paravirtual/emulated comparison: $compare_guest is not built" \
		"(bench/guests/compare.c; make guest$with_build builds it once it exists)"
	summary="$summary, comparison skipped"
else
	echo
	echo "== paravirtual vs emulated, both rings: $build/pvmm bench compare --ring 0,3 --out bench/results"
	set +e
	"$build/pvmm" bench compare --ring 0,3 --guest "$compare_guest" --out bench/results | tee "$logs/compare"
	compare_status=${PIPESTATUS[0]}
	set -e
	if [ "$compare_status" -ne 0 ]; then
		echo "bench: pvmm bench compare failed (exit status $compare_status): a run did not complete;" \
			"its messages are above" >&2
		failed=1
	fi
	read -r cmet ctotal < <(targets "$logs/compare")
	met=$((met + cmet))
	total=$((total + ctotal))
	summary="$summary, bench compare $cmet of $ctotal"
	if [ "$compare_status" -eq 0 ] && [ -s bench/results/compare.dat ]; then
		if command -v gnuplot >/dev/null 2>&1; then
			bench/compare_chart.sh bench/results/compare.dat docs/img || failed=1
		else
			echo "bench: no chart: gnuplot is not installed (Debian package gnuplot-nox; make deps installs it)" >&2
		fi
	fi
fi

# step NAME TITLE COMMAND...: one more benchmark program; its output is
# shown and kept, its "N of M targets met" added to the totals as NAME's.
step() {
	local name=$1 title=$2 status smet stotal
	shift 2
	echo
	echo "== $title: $*"
	set +e
	"$@" | tee "$logs/$name"
	status=${PIPESTATUS[0]}
	set -e
	if [ "$status" -ne 0 ]; then
		echo "bench: $* failed (exit status $status); its messages are above" >&2
		failed=1
	fi
	read -r smet stotal < <(targets "$logs/$name")
	met=$((met + smet))
	total=$((total + stotal))
	summary="$summary, $name $smet of $stotal"
}

# 4. vhost-user-blk against qemu-storage-daemon, Linux's driver under QEMU TCG.
step vhost-user "vhost-user back ends" bench/vhost_user.sh "$build" bench/results
# 5. The network: UDP echo over TAP and user networking.
step network "network" python3 bench/net.py "$build" bench/results
# 6. Linux start-up, pvmm against QEMU's microvm.
step Linux "Linux start-up" python3 bench/linux.py "$build" bench/results
# 7. TCP over user networking and TAP (lwIP in the guest) against host loopback.
step TCP "TCP, lwIP in the guest" bench/tcp.sh "$build" bench/results

echo
echo "bench: $met of $total targets met ($summary)"
if [ "$failed" -ne 0 ]; then
	exit 1
fi
if [ "$strict" -eq 1 ] && [ "$met" -ne "$total" ]; then
	exit 3
fi
exit 0
