#!/usr/bin/env bash
# Device files (src/devices/*.c) must not see the VM or any transport: a
# device gets guest memory, its I/O loop and an interrupt callback through
# its context, so the same file can sit behind virtio-mmio, virtio-pci or
# a vhost-user server. Each one is compiled with the VM's, the buses' and
# the transports' headers replaced by ones that stop the compiler.
set -u
cd "$(dirname "$0")/.."
poison=build/poison
rm -rf "$poison"
mkdir -p "$poison/virtio"
for h in vm.h kvm.h vcpu.h irq.h pio.h mmio_bus.h pci.h emulated.h machine.h hypercall.h cpu.h virtio/mmio.h virtio/pci.h; do
	echo "#error \"a device file includes $h: devices get what they need from their context\"" >"$poison/$h"
done
status=0
for f in src/devices/*.c; do
	if ! out=$(${CC:-cc} -std=gnu11 -fsyntax-only -D_GNU_SOURCE -I"$poison" -Iinclude -Isrc "$f" 2>&1); then
		echo "$f:"
		grep -m3 error <<<"$out"
		status=1
	fi
done
exit $status
