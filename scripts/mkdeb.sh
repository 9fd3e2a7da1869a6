#!/usr/bin/env bash
# make deb: build a Debian package from a tree `make install DESTDIR=ROOT
# PREFIX=/usr` staged, with Debian's own dpkg-deb.
#   scripts/mkdeb.sh ROOT VERSION ARCH OUT.deb
# Depends: is worked out from the shared libraries the programs in bin/
# actually load (readelf's NEEDED entries, each mapped to its package by
# dpkg -S): the release monitor is linked statically, pvmm-slirp (the
# --net user helper) loads libslirp. usr/share/doc/pvmm gets the
# copyright file (with the libraries linked into the static monitor) and
# changelog.Debian.gz, as Debian policy asks of every package.
set -euo pipefail
root=$1 version=$2 arch=$3 out=$4

# Debian policy: man pages gzip'd, without a timestamp.
find "$root/usr/share/man" -name '*.[0-9]' -exec gzip -9nf {} +

deps=()
needed() { # the NEEDED entries of every ELF program in usr/bin
	local f
	for f in "$root"/usr/bin/*; do
		readelf -d "$f" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'
	done | sort -u
}
for lib in $(needed); do
	# Every reader here reads to the end: with pipefail, one that stopped
	# early (head -1) would fail the script whenever the writer got
	# SIGPIPE, which depends on timing.
	path=$(ldconfig -p | awk -v l="$lib" '$1 == l && !found { print $NF; found = 1 }')
	[ -n "$path" ] || { echo "mkdeb: no package found for $lib" >&2; exit 1; }
	pkg=$(dpkg -S "$(readlink -f "$path")" 2>/dev/null | sed -n '1s/:.*//p') || pkg=
	[ -n "$pkg" ] || pkg=$(dpkg -S "$path" | sed -n '1s/:.*//p')
	deps+=("$pkg")
done
depends=$(printf '%s\n' "${deps[@]+"${deps[@]}"}" | sort -u | paste -sd, - | sed 's/,/, /g')

doc=$root/usr/share/doc/pvmm
mkdir -p "$doc"
cat >"$doc/copyright" <<'EOC'
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: pvmm
Comment: pvmm's own sources do not state a licence yet; its developers
 have still to choose one, and this file will name it then.
 The release monitor (/usr/bin/pvmm) is linked statically with the
 libraries below, whose terms apply to their parts of it; their full
 texts are in /usr/share/doc/<package>/copyright of the packages named.

Files: *
Copyright: the pvmm developers
License: none-yet
 Not chosen yet (see the Comment above).

Files: usr/bin/pvmm (statically linked parts)
Copyright: the GNU C Library authors (libc6-dev);
 Jens Axboe and the liburing authors (liburing-dev);
 the json-c authors (libjson-c-dev)
License: LGPL-2.1+ and (MIT or LGPL-2.1) and MIT
 glibc: LGPL-2.1 or later, /usr/share/common-licenses/LGPL-2.1.
 liburing: MIT or LGPL-2.1, at the user's choice.
 json-c: MIT (Expat), see /usr/share/doc/libjson-c-dev/copyright.
EOC
# libpvmm-net.a holds lwIP (Debian's source package, scripts/lwip.sh):
# its BSD licence asks for its notice with binaries, taken from the
# unpacked source itself rather than kept in this tree.
lwip_dir=$(scripts/lwip.sh)
{
	echo
	echo "Files: usr/lib/pvmm/guest/libpvmm-net.a (lwIP's parts)"
	echo "Copyright: the lwIP authors (Debian source package lwip, $(cut -d' ' -f1 "$lwip_dir/.pvmm-ok"))"
	echo "License: BSD-3-Clause"
	sed -e 's/[[:space:]]*$//' -e 's/^/ /' -e 's/^ $/ ./' "$lwip_dir/COPYING"
} >>"$doc/copyright"
# One entry per version, dated by the commit it was built from, so the
# package is the same whenever it is rebuilt.
date_rfc=$(git log -1 --format=%cD 2>/dev/null || date -R)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
{
	echo "pvmm ($version) unstable; urgency=medium"
	echo
	echo "  * Built from pvmm's git tree at commit $commit with make deb; the"
	echo "    project's history is its git log."
	echo
	echo " -- pvmm developers <pvmm@localhost>  $date_rfc"
} | gzip -9n >"$doc/changelog.Debian.gz"

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
	echo " (pvmm-cc, libpvmm.a, libpvmm-net.a, headers, pvmm.pc)."
} >"$root/DEBIAN/control"
dpkg-deb --root-owner-group --build "$root" "$out" >/dev/null
echo "$out"
