#!/usr/bin/env bash
# Run pvmm's benchmarks (`make bench` calls this after `make all`).
# Prints a table on stdout and writes bench/results/latest.json plus a
# timestamped copy. Extra arguments go to the harness (see
# `build/bench/pvmm-bench --help`); BUILD=DIR picks another build tree.
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
if [ "$missing" -ne 0 ]; then
	echo "bench: cannot run until the programs above are built (make all$with_build builds them all)" >&2
	exit 1
fi

if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
	echo "bench: no read/write access to /dev/kvm: run as root or as a member of its group" >&2
	exit 1
fi

mkdir -p bench/results
exec "$build/bench/pvmm-bench" --build "$build" --out bench/results "$@"
