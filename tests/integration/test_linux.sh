# pvmm run --kernel: a stock Linux kernel (the Debian kernel of
# scripts/linux-kit.sh), booted through PVH and through the bzImage boot
# protocol, reaches its early console on the UART with pvmm's command line
# and memory map, and with the default command line and --cpus 2 reads
# pvmm's ACPI tables and finds both CPUs in the MADT; the tables pass
# acpica-tools' iasl (disassembled without a complaint, recompiled to the
# same bytes); a tiny PVH kernel (tiny_pvh.S) checks the platform pieces
# (start info, int3 as #BP, the RTC, the i8042 reset, the RSDP and the
# ACPI sleep registers' poweroff) and that a stop ends every vCPU, those
# never started too; malformed kernels and initrds are refused with one
# line and status 2.
#
# On a host without VT-x/AMD-V KVM interprets the kernel's CPL0 code: the
# PVH kernel's first console lines take ~20 s there, the bzImage's
# decompressor minutes, so the bzImage test waits for the decompressor's
# own first line only; with VT-x both go to the kit's init (docs/linux.md).

# hw_virt: true when this host has VT-x or AMD-V.
hw_virt() {
	grep -qwE 'vmx|svm' /proc/cpuinfo
}

# kit: the kit's folder in $KIT (built if missing; needs the network the
# first time), or false with a note.
kit() {
	KIT=$(scripts/linux-kit.sh 2>"$TEST_TMP/kit.err") && [ -s "$KIT/vmlinuz" ] && return 0
	echo "    (skipped: no Linux kit: $(tail -1 "$TEST_TMP/kit.err"))"
	return 1
}

# boot_until SECS PATTERN ARGS...: start `pvmm ARGS` (stdout $OUT, stderr
# $ERR), wait until stdout has PATTERN (grep -E) or SECS pass, then stop
# it with SIGTERM. Sets $status and $waited (seconds until PATTERN, or
# "never"). Not run_pvmm: that adds --ring, which a kernel does not take.
boot_until() {
	local secs=$1 pattern=$2 pid start
	shift 2
	start=$(date +%s.%N)
	"$PVMM" "$@" </dev/null >"$OUT" 2>"$ERR" &
	pid=$!
	waited=never
	while kill -0 "$pid" 2>/dev/null; do
		if grep -qsE -- "$pattern" "$OUT"; then
			waited=$(echo "$(date +%s.%N) - $start" | bc)
			break
		fi
		if [ "$(echo "$(date +%s.%N) - $start > $secs" | bc)" = 1 ]; then
			break
		fi
		sleep 0.2
	done
	kill -TERM "$pid" 2>/dev/null
	wait "$pid"
	status=$?
	[ "$waited" = never ] && fail_because "no '$pattern' on the console within $secs s (got: $(tail -c 300 "$OUT"))"
	no_sanitizer_report
	return 0
}

# The exact command line and the e820 map pvmm built (--mem 128M: RAM
# from 1 MiB up to 0x7ffffff), as Linux prints them.
expect_early_console() {
	expect_out "Command line: $1"
	expect_out "BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable"
	expect_out "BIOS-e820: [mem 0x0000000000100000-0x0000000007ffffff] usable"
}

test_linux_pvh_early_console() {
	kit || return 0
	if [ ! -s "$KIT/vmlinux" ]; then
		echo "    (skipped: the kit's kernel has no PVH note, so no vmlinux)"
		return 0
	fi
	local cmdline="console=ttyS0 earlyprintk=serial acpi=off pvmm.test=pvh$$"
	boot_until 120 "BIOS-e820: .*0x0000000007ffffff\] usable" run --mem 128M --kernel "$KIT/vmlinux" \
		--initrd "$KIT/initrd.gz" --cmdline "$cmdline"
	expect_early_console "$cmdline"
	expect_no_out "ACPI: RSDP" # acpi=off: the legacy path, tables unread
	expect_status 70 # stopped cleanly by the SIGTERM
	echo "    (PVH: early console after $waited s)"
}

# The default command line (ACPI on) and two CPUs: Linux finds the RSDP
# through the start info, lists pvmm's tables and takes its CPUs, IOAPIC
# and IRQ 0 override from the MADT. All of it is early in setup_arch(),
# seconds after the first console line (docs/linux.md has the times).
test_linux_pvh_acpi_cpus() {
	kit || return 0
	if [ ! -s "$KIT/vmlinux" ]; then
		echo "    (skipped: the kit's kernel has no PVH note, so no vmlinux)"
		return 0
	fi
	boot_until 90 "smpboot: Allowing [0-9]+ CPUs" run --mem 128M --cpus 2 --kernel "$KIT/vmlinux"
	expect_no_out "acpi=off"
	expect_out "ACPI: RSDP 0x00000000000E0000 000024 (v02 PVMM  )"
	local t
	for t in XSDT FACP DSDT APIC; do
		grep -qE "ACPI: $t 0x00000000000E0[0-9A-F]{3} [0-9A-F]{6} \(v0[0-9] PVMM   PVMMVM" "$OUT" ||
			fail_because "no 'ACPI: $t' line at 0xe0000.. (got: $(grep 'ACPI:' "$OUT" | head -c 600))"
	done
	expect_out "BIOS-e820: [mem 0x0000000000100000-0x0000000007ffffff] usable"
	expect_out "IOAPIC[0]: apic_id 0, version 17, address 0xfec00000, GSI 0-23"
	expect_out "ACPI: INT_SRC_OVR (bus 0 bus_irq 0 global_irq 2 high edge)"
	expect_out "ACPI: Using ACPI (MADT) for SMP configuration information"
	expect_out "smpboot: Allowing 2 CPUs, 0 hotplug CPUs"
	expect_status 70
	echo "    (PVH, ACPI, --cpus 2: the MADT's CPUs after $waited s)"
}

test_linux_bzimage_boots() {
	kit || return 0
	if hw_virt; then
		local cmdline="console=ttyS0 earlyprintk=serial acpi=off pvmm.test=bz$$"
		boot_until 60 "BIOS-e820: .*0x0000000007ffffff\] usable" run --mem 128M --kernel "$KIT/vmlinuz" \
			--cmdline "$cmdline"
		expect_early_console "$cmdline"
	else
		# The decompressor reads the command line from the zero page and
		# prints on the UART before it starts its minutes of work here.
		boot_until 60 "KASLR disabled: 'nokaslr' on cmdline" run --mem 128M --kernel "$KIT/vmlinuz" \
			--cmdline "console=ttyS0 earlyprintk=serial nokaslr"
	fi
	expect_status 70
	echo "    (bzImage: first console line after $waited s)"
}

# The kit's init ends with `poweroff -f`: through ACPI S5, status 0.
test_linux_kit_init() {
	if ! hw_virt; then
		echo "    (skipped: no VT-x/AMD-V here, so KVM interprets the kernel and init is minutes away)"
		return 0
	fi
	kit || return 0
	local start=$SECONDS
	run_kernel --kernel "$KIT/vmlinuz" --initrd "$KIT/initrd.gz" --cpus 2
	expect_out "pvmm-kit: ready"
	expect_status 0
	expect_err "guest powered off"
	echo "    (bzImage, 2 CPUs, to init and poweroff: $((SECONDS - start)) s)"
}

# tiny_pvh [-DEMULATION_FAILURE|-DPOWEROFF|-DSPIN]: assemble tests/integration/tiny_pvh.S.
tiny_pvh() {
	cc "$@" -c tests/integration/tiny_pvh.S -o "$TEST_TMP/tiny_pvh.o" &&
		ld -static -nostdlib -z noexecstack -e pvh_start -Ttext-segment=0x100000 \
			-o "$TEST_TMP/tiny_pvh.elf" "$TEST_TMP/tiny_pvh.o" || fail_because "cannot build tiny_pvh.S"
}

test_linux_tiny_pvh_platform() {
	tiny_pvh
	run_kernel --kernel "$TEST_TMP/tiny_pvh.elf" --stats
	expect_out "tiny-pvh: start info ok"
	expect_out "tiny-pvh: #BP handler ran"
	expect_out "tiny-pvh: back from int3"
	expect_out "tiny-pvh: rtc ok"
	expect_status 0
	expect_err "guest reset"
	hw_virt || expect_err "int3 as #BP      1"
}

# The ACPI sleep registers: writes that are not S5 leave the VM running
# (and WAK_STS says it woke), the S5 write ends it with status 0, with a
# second CPU that never got a SIPI.
test_linux_tiny_pvh_poweroff() {
	tiny_pvh -DPOWEROFF
	run_kernel --kernel "$TEST_TMP/tiny_pvh.elf" --cpus 2
	expect_out "tiny-pvh: rtc ok"
	expect_out "tiny-pvh: sleep registers ok"
	expect_no_out "tiny-pvh: still running after S5"
	expect_status 0
	expect_err "guest powered off (ACPI S5 through the sleep control register)"
	expect_err_lines 1
}

# Every way a VM stops ends all its vCPU threads, those still waiting for
# INIT/SIPI in KVM_RUN too: --timeout, SIGTERM, the i8042 reset.
test_linux_tiny_pvh_stop_cpus() {
	local start pid
	tiny_pvh -DSPIN
	start=$(date +%s.%N)
	run_kernel --kernel "$TEST_TMP/tiny_pvh.elf" --cpus 4 --timeout 2
	expect_out "tiny-pvh: spinning"
	expect_status 69
	expect_err "CPU 3: not started by the kernel (waiting for INIT/SIPI)"
	[ "$(echo "$(date +%s.%N) - $start < 10" | bc)" = 1 ] || fail_because "--timeout 2 took more than 10 s to stop 4 vCPUs"
	"$PVMM" run --kernel "$TEST_TMP/tiny_pvh.elf" --cpus 4 </dev/null >"$OUT" 2>"$ERR" &
	pid=$!
	for _ in $(seq 50); do grep -qs "spinning" "$OUT" && break; sleep 0.1; done
	start=$(date +%s.%N)
	kill -TERM "$pid"
	timeout -s KILL 10 tail --pid="$pid" -f /dev/null || { kill -KILL "$pid"; fail_because "SIGTERM did not stop 4 vCPUs within 10 s"; }
	wait "$pid"
	status=$?
	expect_status 70
	no_sanitizer_report
	tiny_pvh
	run_kernel --kernel "$TEST_TMP/tiny_pvh.elf" --cpus 64
	expect_out "tiny-pvh: rtc ok"
	expect_status 0
	expect_err "guest reset"
}

# The tables, as src/acpi.c builds them (tests/host/acpi_dump), through
# acpica-tools: iasl -d disassembles each without an error or warning,
# and compiling the result gives the same bytes back (but for the
# compiler's ID and the checksum, which it recomputes). iasl 20200925
# takes no RSDP file; test_acpi.c checks the RSDP.
test_linux_acpi_iasl() {
	if ! command -v iasl >/dev/null; then
		echo "    (skipped: no iasl; scripts/deps.sh installs acpica-tools)"
		return 0
	fi
	local cpus t dir diffs
	for cpus in 1 2 64; do
		dir=$TEST_TMP/acpi$cpus
		mkdir -p "$dir"
		build/tests/host/acpi_dump "$cpus" "$dir" || { fail_because "acpi_dump $cpus failed"; continue; }
		for t in xsdt facp apic dsdt; do
			(cd "$dir" && iasl -d "$t.dat") >"$dir/$t.log" 2>&1 || fail_because "iasl -d $t ($cpus CPUs) failed: $(tail -3 "$dir/$t.log")"
			grep -iE "error|warning" "$dir/$t.log" && fail_because "iasl -d $t ($cpus CPUs) complained"
			[ -s "$dir/$t.dsl" ] || { fail_because "iasl -d wrote no $t.dsl"; continue; }
			# -oa: no optimisation, so \_SB stays \_SB as pvmm wrote it.
			(cd "$dir" && iasl -oa -p "rt_$t" "$t.dsl") >"$dir/rt_$t.log" 2>&1 ||
				fail_because "iasl cannot recompile $t.dsl: $(grep -iE 'error|warning' "$dir/rt_$t.log" | head -3)"
			grep -q "0 Errors, 0 Warnings, 0 Remarks" "$dir/rt_$t.log" || fail_because "iasl $t.dsl: $(tail -2 "$dir/rt_$t.log")"
			# cmp -l: 1-based offsets; 10 is the checksum, 29-36 the creator.
			diffs=$(cmp -l "$dir/$t.dat" "$dir/rt_$t.aml" 2>&1 | awk '$1 != 10 && ($1 < 29 || $1 > 36)')
			[ -z "$diffs" ] || fail_because "$t ($cpus CPUs) recompiled differs: $(echo "$diffs" | head -3)"
		done
		grep -c "Subtable Type : 00 \[Processor Local APIC\]" "$dir/apic.dsl" | grep -qx "$cpus" ||
			fail_because "the MADT for $cpus CPUs does not list $cpus local APICs"
		grep -q "Hardware Reduced (V5) : 1" "$dir/facp.dsl" || fail_because "the FADT is not hardware-reduced"
		grep -q 'EisaId ("PNP0501")' "$dir/dsdt.dsl" || fail_because "the DSDT has no COM1"
	done
}

test_linux_emulation_failure() {
	if hw_virt; then
		echo "    (skipped: with VT-x/AMD-V the CPU runs SSE at CPL0 itself)"
		return 0
	fi
	tiny_pvh -DEMULATION_FAILURE
	run_kernel --kernel "$TEST_TMP/tiny_pvh.elf"
	expect_out "tiny-pvh: rtc ok"
	expect_no_out "tiny-pvh: sse ran"
	expect_status 67
	# One line says what and where: xorps %xmm0,%xmm0 is 0f 57 c0.
	grep -q "^pvmm: KVM could not emulate the guest instruction at rip 0x[0-9a-f]* (bytes 0f 57 c0" "$ERR" ||
		fail_because "no one-line report naming the bytes (got: $(head -c 300 "$ERR"))"
}

# run_kernel ARGS...: `pvmm run ARGS` with a 60 s limit (no --ring added).
run_kernel() {
	timeout -s KILL 60 "$PVMM" run "$@" </dev/null >"$OUT" 2>"$ERR"
	status=$?
	[ "$status" -eq 137 ] && fail_because "monitor hung (killed after 60 s): $*"
	no_sanitizer_report
	return 0
}

# As run_pvmm does: a sanitizer report (make asan's monitor) fails the test.
no_sanitizer_report() {
	if grep -qE 'ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:' "$ERR"; then
		fail_because "sanitizer report:"
		head -20 "$ERR" | sed 's/^/      /'
	fi
}

expect_refused() {
	expect_status 2
	expect_err "$1"
	expect_err_lines 1
}

test_linux_bad_images() {
	kit || return 0
	head -c 1000 "$KIT/vmlinuz" >"$TEST_TMP/short"
	run_kernel --kernel "$TEST_TMP/short"
	expect_refused "the bzImage is truncated"
	cp "$KIT/vmlinuz" "$TEST_TMP/nomagic"
	printf 'XXXX' | dd of="$TEST_TMP/nomagic" bs=1 seek=$((0x202)) conv=notrunc status=none
	run_kernel --kernel "$TEST_TMP/nomagic"
	expect_refused "not a Linux kernel"
	head -c 20000 "$KIT/vmlinuz" >"$TEST_TMP/cut"
	run_kernel --kernel "$TEST_TMP/cut"
	expect_refused "the bzImage is truncated: its setup code"
	run_kernel --kernel "$KIT/vmlinuz" --mem 32M
	expect_refused "give it more with --mem"
	truncate -s 200M "$TEST_TMP/big.initrd"
	run_kernel --kernel "$KIT/vmlinuz" --initrd "$TEST_TMP/big.initrd"
	expect_refused "the initrd (200 MiB) does not fit"
	run_kernel --kernel "$KIT/vmlinuz" --initrd "$TEST_TMP/none"
	expect_refused "cannot open initrd"
	run_kernel --kernel "$KIT/vmlinuz" --cmdline "$(head -c 3000 /dev/zero | tr '\0' x)"
	expect_refused "the kernel command line is 3000 bytes"
	tiny_pvh
	cp "$TEST_TMP/tiny_pvh.elf" "$TEST_TMP/nonote.elf"
	objcopy --remove-section .note.Xen "$TEST_TMP/nonote.elf" 2>/dev/null
	run_kernel --kernel "$TEST_TMP/nonote.elf"
	expect_refused "no PVH entry note"
}

test_linux_cli_errors() {
	run_kernel --kernel /nonexistent
	expect_refused "cannot open kernel image '/nonexistent'"
	run_kernel --kernel x.bz build/tests/guests/hello.elf
	expect_refused "give one of them"
	run_kernel --ring 3 --kernel x.bz
	expect_refused "--kernel does not go with --ring 3"
	run_kernel --kernel x.bz --cpus 65
	expect_refused "--cpus '65' is not a CPU count from 1 to 64"
	run_kernel --kernel x.bz --console virtio
	expect_refused "--kernel does not go with --console other than uart"
	run_kernel --kernel x.bz --rng --transport mmio
	expect_refused "--kernel does not go with --transport mmio"
	run_kernel --initrd x.gz build/tests/guests/hello.elf
	expect_refused "--initrd is for Linux kernels"
	run_kernel --cmdline quiet build/tests/guests/hello.elf
	expect_refused "--cmdline is for Linux kernels"
	run_kernel --kernel x.bz --cpuid-mask 1:ecx
	expect_refused "--cpuid-mask '1:ecx': write LEAF"
}

# tiny_kernel NAME: assemble tests/integration/NAME.S into $TEST_TMP/NAME.elf.
tiny_kernel() {
	cc -c "tests/integration/$1.S" -o "$TEST_TMP/$1.o" &&
		ld -static -nostdlib -z noexecstack -e pvh_start -Ttext-segment=0x100000 \
			-o "$TEST_TMP/$1.elf" "$TEST_TMP/$1.o" || fail_because "cannot build $1.S"
}

# A kernel's virtio devices are on PCI, where Linux's probe reads them
# (tiny_pci.S lists bus 0 through the configuration ports): the host
# bridge, then each device with its modern virtio ID.
test_linux_virtio_devices_on_pci() {
	tiny_kernel tiny_pci
	truncate -s 8M "$TEST_TMP/disk.img"
	run_kernel --kernel "$TEST_TMP/tiny_pci.elf" --disk "$TEST_TMP/disk.img" --rng --net null
	expect_status 0
	expect_out "tiny-pci: 00:00.0 1b36:0008 class 060000"
	expect_out "1af4:1042 class 018000"  # virtio-blk
	expect_out "1af4:1044 class ff0000"  # virtio-rng
	expect_out "1af4:1041 class 020000"  # virtio-net
	expect_out "tiny-pci: done"
	# Without devices, the bus holds the host bridge alone (or no bus).
	run_kernel --kernel "$TEST_TMP/tiny_pci.elf"
	expect_status 0
	if grep -q "1af4:" "$OUT"; then
		fail_because "a virtio device on PCI that nobody asked for"
	fi
}

# With VT-x: the kernel boots to the kit's init, which mounts pvmm's
# virtio disk (on PCI, driven by Linux's virtio_pci and virtio_blk),
# checks a file on it, writes one, and powers off: status 0, and the
# written file is on the image afterwards.
test_linux_boot_mounts_virtio_disk() {
	if ! hw_virt; then
		echo "    (skipped: no VT-x/AMD-V here, so KVM interprets the kernel and its PCI probe is many minutes away)"
		return 0
	fi
	kit || return 0
	mkdir -p "$TEST_TMP/fs"
	echo "pvmm-disk-$$" >"$TEST_TMP/fs/check.txt"
	mke2fs -q -t ext4 -d "$TEST_TMP/fs" "$TEST_TMP/disk.img" 16M || fail_because "mke2fs failed"
	cat >"$TEST_TMP/check.sh" <<CHECK
mkdir -p /mnt
mount /dev/vda /mnt || exit 10
grep -qx "pvmm-disk-$$" /mnt/check.txt || exit 11
echo "pvmm-kit: disk ok"
echo written >/mnt/written.txt || exit 12
umount /mnt || exit 13
CHECK
	scripts/linux-kit.sh initrd "$TEST_TMP/check.sh" "$TEST_TMP/initrd.gz" || fail_because "cannot build the initrd"
	run_kernel --kernel "$KIT/vmlinuz" --initrd "$TEST_TMP/initrd.gz" --disk "$TEST_TMP/disk.img" --timeout 50
	expect_status 0
	expect_out "pvmm-kit: disk ok"
	expect_out "pvmm-kit: check exit 0"
	[ "$(debugfs -R 'cat /written.txt' "$TEST_TMP/disk.img" 2>/dev/null)" = written ] ||
		fail_because "the file the guest wrote is not on the disk image"
}
