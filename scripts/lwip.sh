#!/usr/bin/env bash
# lwIP's sources, from Debian's source package, for the guest's TCP/IP stack
# (guest/lwip/, built by guest/guest.mk into build/guest/libpvmm-net.a).
#
#   scripts/lwip.sh      fetch and unpack them if they are missing; print the folder
#
# Nothing of lwIP is kept in the repository. The upstream tarball Debian
# ships (lwip_VERSION.orig.tar.xz) is unpacked into
# ${PVMM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pvmm}/lwip-VERSION, once.
# It comes from `apt-get source` where a deb-src entry exists (apt checks
# it), otherwise from the Debian mirror the system's apt sources name:
# dists/SUITE/main/source/Sources.xz says where it lies and what its
# SHA-256 is, and the download must match it.
set -euo pipefail

version=2.1.3+dfsg1
orig=lwip_$version.orig.tar.xz
cache=${PVMM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pvmm}
dest=$cache/lwip-$version

die() {
	echo "lwip.sh: $*" >&2
	exit 1
}

if [ -f "$dest/.pvmm-ok" ]; then
	echo "$dest"
	exit 0
fi

for tool in tar xz sha256sum; do
	command -v "$tool" >/dev/null || die "needs $tool (scripts/deps.sh installs it)"
done

work=$cache/lwip-$version.tmp
rm -rf "$work"
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT

# The http(s) mirrors of apt's Debian sources (one-line and deb822 formats),
# or only PVMM_DEBIAN_MIRROR if set (a local mirror; the tests' fake one).
mirrors() {
	local f
	if [ -n "${PVMM_DEBIAN_MIRROR:-}" ]; then
		echo "$PVMM_DEBIAN_MIRROR"
		return
	fi
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
		[ -r "$f" ] || continue
		sed -nE -e 's/^deb(-src)?( \[[^]]*\])? (https?:\/\/[^ ]+).*/\3/p' \
			-e 's/^URIs: *(https?:\/\/[^ ]+).*/\1/p' "$f"
	done | grep -v -- '-security' | awk '!seen[$0]++'
	echo http://deb.debian.org/debian
}

fetch() { # URL OUT
	if command -v curl >/dev/null; then
		curl -fsSL --retry 2 --connect-timeout 20 --max-time 300 -o "$2" "$1"
	elif command -v wget >/dev/null; then
		wget -q -T 60 -O "$2" "$1"
	else
		die "needs curl or wget to download lwIP (scripts/deps.sh installs curl)"
	fi
}

got=
# 1. apt-get source, when apt has a deb-src entry for it (apt verifies the files).
if [ -z "${PVMM_DEBIAN_MIRROR:-}" ] && command -v apt-get >/dev/null &&
	(cd "$work" && apt-get source -qq --download-only "lwip=${version}-2" >/dev/null 2>&1) &&
	[ -s "$work/$orig" ]; then
	got=apt-get
fi

# 2. The mirror's Sources index, for the suites this system uses and then
#    bookworm (whose lwip is this version).
if [ -z "$got" ]; then
	codename=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
	for mirror in $(mirrors); do
		for suite in $codename bookworm; do
			dir= sum=
			fetch "$mirror/dists/$suite/main/source/Sources.xz" "$work/Sources.xz" 2>/dev/null || continue
			# The stanza of Package: lwip that lists our tarball: its
			# directory and SHA-256.
			read -r dir sum < <(xz -dc "$work/Sources.xz" | awk -v f="$orig" '
				/^Package: / { pkg = $2; dir = ""; sum = "" }
				pkg == "lwip" && /^Directory: / { dir = $2 }
				pkg == "lwip" && /^Checksums-Sha256:/ { insum = 1; next }
				insum && /^ / { if ($3 == f) sum = $1; next }
				{ insum = 0 }
				/^$/ && pkg == "lwip" && dir != "" && sum != "" { print dir, sum; exit }
				END { if (pkg == "lwip" && dir != "" && sum != "") print dir, sum }' | head -1) || true
			[ -n "${sum:-}" ] || continue
			echo "lwip.sh: downloading $mirror/$dir/$orig" >&2
			fetch "$mirror/$dir/$orig" "$work/$orig" || continue
			if [ "$(sha256sum "$work/$orig" | cut -d' ' -f1)" != "$sum" ]; then
				die "$orig from $mirror does not match the SHA-256 in $suite's Sources ($sum); not using it"
			fi
			got=$mirror
			break 2
		done
	done
fi
[ -n "$got" ] || die "cannot get Debian's lwip $version source (no deb-src entry, no mirror reachable); put $orig in $work's place by hand: $dest"

mkdir -p "$work/src"
tar -xJf "$work/$orig" -C "$work/src" --strip-components=1
[ -f "$work/src/src/core/tcp.c" ] || die "$orig has no src/core/tcp.c: not the lwIP tree expected"
echo "$version from $got" >"$work/src/.pvmm-ok"
rm -rf "$dest"
mv "$work/src" "$dest"
echo "$dest"
