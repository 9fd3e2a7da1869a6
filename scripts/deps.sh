#!/usr/bin/env bash
# Install the Debian packages pvmm needs to build, test and benchmark.
# Run as root, it installs what is missing with apt-get; otherwise it
# prints the command to run and fails.
set -euo pipefail

# package → why
packages=(
	gcc            # monitor and guest compiler
	make
	libc6-dev
	binutils       # objdump/readelf for image checks in the tests
	clang          # the code must stay clean under clang too (make check builds with it)
	libclang-rt-dev # make fuzz: clang's libFuzzer and sanitizer runtimes (only recommended by clang)
	libcmocka-dev  # unit tests
	pkg-config     # tests/integration/test_sdk.sh: the installed pvmm.pc
	liburing-dev   # virtio-blk: many requests in flight without a thread each
	libjson-c-dev  # the API socket and --config-file: JSON bodies (packaged, small, stable API)
	libslirp-dev   # --net user: NAT, DHCP, DNS and host forwards without privileges (user-mode networking)
	libglib2.0-dev # slirp.pc requires glib-2.0.pc: pkg-config gives no flags for slirp without it
	libseccomp-dev # build time: compiles src/syscall_filter.c's tables into the seccomp programs
	curl           # test_api.sh: the API socket (curl --unix-socket); scripts/lwip.sh downloads lwIP; make demo and test_tcp.sh fetch the httpd guest's pages
	iputils-ping   # tests/integration/test_net.sh pings the guest over TAP
	iproute2       # test_net.sh: ip tuntap / ip addr / ip link for its TAP devices
	python3        # test_net.sh: the UDP client and the raw-frame (AF_PACKET) sender
	util-linux     # setpriv: the test of the /dev/kvm permission message
	gnuplot-nox    # make bench: bench/compare_chart.sh draws docs/img/compare.png and .svg
	fonts-dejavu-core # the font those charts' labels are drawn in (gnuplot's pngcairo uses fontconfig)
	qemu-system-x86 # tests/integration/test_vhost_user.sh: Linux's virtio drivers against pvmm vhost-user; qemu-storage-daemon
	qemu-utils     # the same tests: qemu-img for images
	busybox-static # scripts/linux-kit.sh fetches it too (apt-get download); installed, it is also a fallback
	cpio           # scripts/linux-kit.sh: the initramfs
	xz-utils       # scripts/linux-kit.sh: Debian's kernel modules are .ko.xz; scripts/lwip.sh: Sources.xz and the .orig.tar.xz
	lz4            # scripts/linux-kit.sh: the vmlinux inside Debian's bzImage is LZ4-compressed
	e2fsprogs      # test_linux.sh (VT-x hosts): mke2fs -d builds the disk a booted kernel mounts, debugfs reads it back
	acpica-tools   # test_linux.sh: iasl disassembles (and recompiles) the ACPI tables a --kernel guest gets
)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "pvmm: missing Debian packages: ${missing[*]}" >&2
	echo "pvmm: install them with: sudo apt-get install -y ${missing[*]}" >&2
	exit 1
fi
echo "pvmm: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt="apt-get -o DPkg::Lock::Timeout=300"
$apt update -qq
$apt install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
