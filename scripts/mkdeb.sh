#!/usr/bin/env bash
# make deb: build a Debian package from a tree `make install DESTDIR=ROOT
# PREFIX=/usr` staged, with Debian's own dpkg-deb.
#   scripts/mkdeb.sh ROOT VERSION ARCH OUT.deb
# Depends: is worked out from the shared libraries bin/pvmm actually
# loads (readelf's NEEDED entries, each mapped to its package by dpkg -S);
# the release monitor is linked statically, so that list is usually empty.
set -euo pipefail
root=$1 version=$2 arch=$3 out=$4

# Debian policy: man pages gzip'd, without a timestamp.
find "$root/usr/share/man" -name '*.[0-9]' -exec gzip -9nf {} +

deps=()
for lib in $(readelf -d "$root/usr/bin/pvmm" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
	path=$(ldconfig -p | awk -v l="$lib" '$1 == l { print $NF; exit }')
	[ -n "$path" ] || { echo "mkdeb: no package found for $lib" >&2; exit 1; }
	pkg=$(dpkg -S "$(readlink -f "$path")" 2>/dev/null | head -1 | cut -d: -f1) ||
		pkg=$(dpkg -S "$path" | head -1 | cut -d: -f1)
	deps+=("$pkg")
done
depends=$(printf '%s\n' "${deps[@]+"${deps[@]}"}" | sort -u | paste -sd, - | sed 's/,/, /g')

mkdir -p "$root/DEBIAN"
{
	echo "Package: pvmm"
	echo "Version: $version"
	echo "Architecture: $arch"
	echo "Maintainer: pvmm developers <pvmm@localhost>"
	echo "Installed-Size: $(du -sk --exclude=DEBIAN "$root" | cut -f1)"
	[ -n "$depends" ] && echo "Depends: $depends"
	# pvmm-cc, the guest compiler driver, runs gcc and ld.
	echo "Recommends: gcc, binutils"
	echo "Section: admin"
	echo "Priority: optional"
	echo "Description: paravirtualizing virtual machine monitor on Linux KVM"
	echo " pvmm runs static x86-64 guests that drive the machine through a"
	echo " para-API (console, clock, memory, virtio devices) in KVM virtual"
	echo " machines, each monitor thread under its own seccomp filter. The"
	echo " package holds the monitor, its man page and the guest SDK"
	echo " (pvmm-cc, libpvmm.a, headers, pvmm.pc)."
} >"$root/DEBIAN/control"
dpkg-deb --root-owner-group --build "$root" "$out" >/dev/null
echo "$out"
