#!/usr/bin/env bash
# The Linux guest kit: a Debian kernel and a small initramfs, for tests that
# drive pvmm's devices with Linux's own virtio drivers (under QEMU).
#
#   scripts/linux-kit.sh                 build the kit if it is missing; print its folder
#   scripts/linux-kit.sh initrd CHECK OUT
#                                        OUT = the kit's initramfs plus CHECK as /check.sh
#
# Everything comes from Debian packages (apt-get download, dpkg-deb -x): the
# kernel of linux-image-cloud-amd64 (the versioned package its metapackage
# depends on) and busybox-static. The kit lives in
# ${PVMM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pvmm}/linux-kit and is built
# once; delete that folder to rebuild it. It holds:
#   vmlinuz     the kernel
#   vmlinux     the same kernel uncompressed (an ELF), taken out of vmlinuz,
#               if it carries the PVH entry note (pvmm run --kernel boots it
#               without the decompressor); added to a kit built before it
#   initrd.gz   busybox, the virtio modules (decompressed: busybox's insmod
#               takes plain .ko files), and /init
#   version     the kernel package it came from
#   modules     the module list it was built for
#
# /init mounts /proc, /sys and /dev, loads the modules in dependency order,
# prints "pvmm-kit: ready", runs /check.sh if there is one (the "initrd"
# form appends it as a second cpio archive, which the kernel unpacks over
# the first), prints "pvmm-kit: check exit N" and powers off. With
# console=ttyS0 everything goes to the first serial port.
set -euo pipefail

cache=${PVMM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pvmm}
kit=$cache/linux-kit

# The modules the kit loads, each after what its depends= field names;
# any that the kernel has built in (modules.builtin) is skipped.
modules=(virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk virtio-rng virtio_net)

die() {
	echo "linux-kit: $*" >&2
	exit 1
}

# cpio_gz DIR OUT: DIR's contents as a gzipped newc archive, owned by root.
cpio_gz() {
	(cd "$1" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0) | gzip -9 >"$2"
}

if [ "${1:-}" = initrd ]; then
	[ $# -eq 3 ] || die "usage: linux-kit.sh initrd CHECK.sh OUT.gz"
	"$0" >/dev/null
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	install -m 755 "$2" "$tmp/check.sh"
	cpio_gz "$tmp" "$tmp/check.cpio.gz"
	cat "$kit/initrd.gz" "$tmp/check.cpio.gz" >"$3"
	exit 0
fi
[ $# -eq 0 ] || die "usage: linux-kit.sh [initrd CHECK.sh OUT.gz]"

# pvh_vmlinux BZIMAGE OUT: the ELF inside the bzImage, to OUT, if it has
# Xen's PHYS32_ENTRY note (type 18), the PVH entry. The setup header says
# where the payload is (payload_offset at 0x248, payload_length at 0x24c,
# from the protected-mode part after (setup_sects + 1) * 512 bytes); its
# last 4 bytes are the decompressed size the kernel's build appends, not
# compressed data. Returns 1 (and says why) if there is none to be had.
pvh_vmlinux() {
	local bz=$1 out=$2 sects off len start magic tool
	sects=$(od -An -tu1 -j $((0x1f1)) -N1 "$bz" | tr -d ' ')
	off=$(od -An -tu4 -j $((0x248)) -N4 "$bz" | tr -d ' ')
	len=$(od -An -tu4 -j $((0x24c)) -N4 "$bz" | tr -d ' ')
	[ "${sects:-0}" -gt 0 ] && [ "${len:-0}" -gt 4 ] || { echo "linux-kit: $bz has no payload in its header" >&2; return 1; }
	start=$(((sects + 1) * 512 + off))
	magic=$(od -An -tx1 -j "$start" -N4 "$bz" | tr -d ' ')
	case $magic in
	02214c18) tool="lz4 -dc" ;;  # LZ4 legacy, Debian's choice
	1f8b*) tool="gzip -dc" ;;
	fd377a58) tool="xz -dc" ;;
	28b52ffd) tool="zstd -qdc" ;;
	*) echo "linux-kit: the kernel's payload (magic $magic) is in no format the kit knows" >&2; return 1 ;;
	esac
	command -v "${tool%% *}" >/dev/null || { echo "linux-kit: needs ${tool%% *} for vmlinux (scripts/deps.sh installs it)" >&2; return 1; }
	dd if="$bz" iflag=skip_bytes,count_bytes skip="$start" count=$((len - 4)) bs=1M status=none | $tool >"$out.tmp" || { rm -f "$out.tmp"; echo "linux-kit: cannot decompress the kernel's payload" >&2; return 1; }
	if ! readelf -n "$out.tmp" 2>/dev/null | grep -qE 'Xen.*(\(0x00000012\)|PHYS32_ENTRY)'; then
		rm -f "$out.tmp"
		echo "linux-kit: the kernel has no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY); no vmlinux" >&2
		return 1
	fi
	mv "$out.tmp" "$out"
}

# A kit built for another module list is built again.
if [ -s "$kit/vmlinuz" ] && [ -s "$kit/initrd.gz" ] && [ "$(cat "$kit/modules" 2>/dev/null)" = "${modules[*]}" ]; then
	[ -s "$kit/vmlinux" ] || [ -e "$kit/vmlinux.none" ] || pvh_vmlinux "$kit/vmlinuz" "$kit/vmlinux" || touch "$kit/vmlinux.none"
	echo "$kit"
	exit 0
fi

for tool in apt-get apt-cache dpkg-deb cpio gzip xz; do
	command -v "$tool" >/dev/null || die "needs $tool (scripts/deps.sh installs it)"
done

# The versioned kernel package behind the metapackage, e.g. linux-image-6.1.0-31-cloud-amd64.
kernel_pkg() {
	apt-cache depends linux-image-cloud-amd64 2>/dev/null |
		awk '$1 ~ /Depends:$/ && $2 ~ /^linux-image-[0-9]/ { print $2; exit }'
}
pkg=$(kernel_pkg)
if [ -z "$pkg" ] && [ "$(id -u)" -eq 0 ]; then
	apt-get -o DPkg::Lock::Timeout=300 update -qq >&2 || true
	pkg=$(kernel_pkg)
fi
[ -n "$pkg" ] || die "apt-cache knows no linux-image-cloud-amd64 (run apt-get update)"

work=$kit.tmp
rm -rf "$work"
mkdir -p "$work/deb" "$work/kernel" "$work/busybox" "$work/root"
echo "linux-kit: downloading $pkg and busybox-static" >&2
(cd "$work/deb" && apt-get download -q "$pkg" busybox-static >&2 2>/dev/null) ||
	(cd "$work/deb" && apt-get download "$pkg" busybox-static >&2) ||
	die "apt-get download $pkg busybox-static failed"
dpkg-deb -x "$work"/deb/linux-image-*.deb "$work/kernel"
dpkg-deb -x "$work"/deb/busybox-static_*.deb "$work/busybox"

shopt -s nullglob
found=("$work"/kernel/boot/vmlinuz-*)
[ ${#found[@]} -gt 0 ] || die "$pkg holds no /boot/vmlinuz-*"
vmlinuz=${found[0]}
found=("$work"/kernel/lib/modules/* "$work"/kernel/usr/lib/modules/*)
[ ${#found[@]} -gt 0 ] || die "$pkg holds no modules folder"
moddir=${found[0]}
shopt -u nullglob

root=$work/root
mkdir -p "$root"/{bin,dev,proc,sys,tmp,lib/modules}
install -m 755 "$work/busybox/bin/busybox" "$root/bin/busybox"
ln -s busybox "$root/bin/sh"
# extract M: the module's plain .ko in $root/lib/modules (0), or 1 if the
# kernel has it built in or lacks it.
extract() {
	local m=$1 pat f out
	pat=$(sed 's/[-_]/[-_]/g' <<<"$m") # file names spell - and _ either way
	grep -qE "/$pat\.ko$" "$moddir/modules.builtin" 2>/dev/null && return 1
	f=$(find "$moddir/kernel" -regextype posix-extended -regex ".*/$pat\.ko(\.xz|\.zst|\.gz)?" | head -1)
	if [ -z "$f" ]; then
		echo "linux-kit: $pkg has no module $m (neither built in nor a file); skipped" >&2
		return 1
	fi
	out=$root/lib/modules/$m.ko
	case $f in
	*.xz) xz -dc "$f" >"$out" ;;
	*.gz) gzip -dc "$f" >"$out" ;;
	*.zst) command -v zstd >/dev/null || die "$f needs zstd"; zstd -qdc "$f" >"$out" ;;
	*) cp "$f" "$out" ;;
	esac
}
# add M: M's dependencies (the module's own depends= field), then M, to the
# load order, each once.
declare -A seen=()
order=()
add() {
	local m=$1 d
	[ -z "${seen[$m]:-}" ] || return 0
	seen[$m]=1
	extract "$m" || return 0
	for d in $(tr '\0' '\n' <"$root/lib/modules/$m.ko" | sed -n 's/^depends=//p' | tr ',' ' '); do
		add "$d"
	done
	order+=("$m")
}
for m in "${modules[@]}"; do
	add "$m"
done
printf '%s\n' "${order[@]}" >"$root/lib/modules/order"

cat >"$root/init" <<'EOF'
#!/bin/sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in $(cat /lib/modules/order); do
	insmod /lib/modules/$m.ko || echo "pvmm-kit: insmod $m failed"
done
echo "pvmm-kit: ready"
if [ -f /check.sh ]; then
	sh /check.sh
	echo "pvmm-kit: check exit $?"
fi
sync
poweroff -f
EOF
chmod 755 "$root/init"

cpio_gz "$root" "$work/initrd.gz"
rm -rf "$kit"
mkdir -p "$kit"
cp "$vmlinuz" "$kit/vmlinuz"
pvh_vmlinux "$kit/vmlinuz" "$kit/vmlinux" || touch "$kit/vmlinux.none"
mv "$work/initrd.gz" "$kit/initrd.gz"
echo "$pkg" >"$kit/version"
echo "${modules[*]}" >"$kit/modules"
rm -rf "$work"
echo "linux-kit: built $kit from $pkg" >&2
echo "$kit"
