# Guest images the loader must refuse: each gets exit status 2 and one line
# on stderr naming the problem.

# link_tiny OUT ADDR: link tests/integration/tiny.S with its first segment at ADDR.
link_tiny() {
	cc -c tests/integration/tiny.S -o "$TEST_TMP/tiny.o" &&
		ld -static -nostdlib -z noexecstack -Ttext-segment="$2" -o "$1" "$TEST_TMP/tiny.o"
}

# patch FILE OFFSET VALUE BYTES: write VALUE little-endian in BYTES bytes.
patch() {
	local file=$1 off=$2 value=$3 bytes=$4 hex="" i
	for ((i = 0; i < bytes; i++)); do
		hex+=$(printf '\\x%02x' $(((value >> (8 * i)) & 0xff)))
	done
	printf "$hex" | dd of="$file" bs=1 seek="$off" conv=notrunc status=none
}

u64_at() { od -An -t u8 -j "$2" -N 8 "$1" | tr -d ' '; }
u16_at() { od -An -t u2 -j "$2" -N 2 "$1" | tr -d ' '; }

# Offset of program header N in FILE.
phdr() { echo $(($(u64_at "$1" 32) + 56 * $2)); }

expect_rejected() {
	expect_status 2
	expect_err "$1"
	expect_err_lines 1
}

tiny() {
	link_tiny "$TEST_TMP/tiny.elf" 0x100000 || fail_because "cannot link tiny.S"
	cp "$TEST_TMP/tiny.elf" "$TEST_TMP/bad.elf"
}

test_image_tiny_runs() {
	tiny
	run_pvmm run "$TEST_TMP/tiny.elf"
	expect_status 0
	expect_out "tiny guest"
}

test_image_missing_file() {
	run_pvmm run "$TEST_TMP/no-such.elf"
	expect_rejected "cannot open guest image"
}

test_image_directory() {
	run_pvmm run "$TEST_TMP"
	expect_rejected "not a regular file"
}

test_image_empty() {
	: >"$TEST_TMP/empty.elf"
	run_pvmm run "$TEST_TMP/empty.elf"
	expect_rejected "is empty"
}

test_image_not_elf() {
	echo "just some text" >"$TEST_TMP/text.elf"
	run_pvmm run "$TEST_TMP/text.elf"
	expect_rejected "not an ELF file"
}

test_image_truncated_header() {
	tiny
	head -c 40 "$TEST_TMP/tiny.elf" >"$TEST_TMP/bad.elf"
	run_pvmm run "$TEST_TMP/bad.elf"
	expect_rejected "truncated ELF header"
}

test_image_truncated_segment() {
	tiny
	head -c 4200 "$TEST_TMP/tiny.elf" >"$TEST_TMP/bad.elf"
	run_pvmm run "$TEST_TMP/bad.elf"
	expect_rejected "runs past the end of the file"
}

test_image_32bit_class() {
	tiny
	patch "$TEST_TMP/bad.elf" 4 1 1
	run_pvmm run "$TEST_TMP/bad.elf"
	expect_rejected "not a 64-bit ELF"
}

test_image_wrong_machine() {
	tiny
	patch "$TEST_TMP/bad.elf" 18 183 2 # EM_AARCH64
	run_pvmm run "$TEST_TMP/bad.elf"
	expect_rejected "not x86-64"
}

test_image_pie() {
	tiny
	patch "$TEST_TMP/bad.elf" 16 3 2 # ET_DYN
	run_pvmm run "$TEST_TMP/bad.elf"
	expect_rejected "-no-pie"
}

test_image_absurd_phnum() {
	tiny
	patch "$TEST_TMP/bad.elf" 56 65535 2
	run_pvmm run "$TEST_TMP/bad.elf"
	expect_rejected "program headers (at most"
}

test_image_entry_outside_segments() {
	tiny
	patch "$TEST_TMP/bad.elf" 24 $((0x7000000)) 8
	run_pvmm run "$TEST_TMP/bad.elf"
	expect_rejected "entry point 0x7000000 is not inside an executable loaded segment"
}

test_image_below_monitor_line() {
	link_tiny "$TEST_TMP/low.elf" 0xff000 || fail_because "cannot link"
	run_pvmm run "$TEST_TMP/low.elf"
	expect_rejected "overlaps the monitor's area"
}

test_image_outside_ram() {
	link_tiny "$TEST_TMP/high.elf" 0x4000000 || fail_because "cannot link"
	run_pvmm run --mem 32M "$TEST_TMP/high.elf"
	expect_rejected "lies outside guest RAM (32 MiB); raise --mem"
	# ...and the advice works.
	run_pvmm run --mem 128M "$TEST_TMP/high.elf"
	expect_status 0
	expect_out "tiny guest"
}

test_image_virtual_differs_from_physical() {
	tiny
	local ph
	ph=$(phdr "$TEST_TMP/bad.elf" 0)
	patch "$TEST_TMP/bad.elf" $((ph + 24)) $((0x200000)) 8
	run_pvmm run "$TEST_TMP/bad.elf"
	expect_rejected "differs from physical"
}

test_image_overlapping_segments() {
	tiny
	local n i ph first=""
	n=$(u16_at "$TEST_TMP/bad.elf" 56)
	# Move the second PT_LOAD onto the first.
	for ((i = 0; i < n; i++)); do
		ph=$(phdr "$TEST_TMP/bad.elf" "$i")
		[ "$(od -An -t u4 -j "$ph" -N 4 "$TEST_TMP/bad.elf" | tr -d ' ')" = 1 ] || continue
		if [ -z "$first" ]; then
			first=$ph
		else
			patch "$TEST_TMP/bad.elf" $((ph + 16)) "$(u64_at "$TEST_TMP/bad.elf" $((first + 16)))" 8
			patch "$TEST_TMP/bad.elf" $((ph + 24)) "$(u64_at "$TEST_TMP/bad.elf" $((first + 24)))" 8
			break
		fi
	done
	run_pvmm run "$TEST_TMP/bad.elf"
	expect_rejected "overlap"
}

# Linux programs, built here with the host's gcc: one clear line, status 2,
# whatever the linking (not "-no-pie", not an emulation failure).
linux_hello() {
	printf '#include <stdio.h>\nint main(void) { puts("hello"); return 0; }\n' >"$TEST_TMP/linux.c"
	cc "$@" -o "$TEST_TMP/linux" "$TEST_TMP/linux.c" || fail_because "cannot build a Linux program ($*)"
}

test_image_linux_dynamic() {
	linux_hello
	run_pvmm run "$TEST_TMP/linux"
	expect_rejected "built for Linux, not a pvmm guest: build it with pvmm-cc"
	linux_hello -no-pie
	run_pvmm run "$TEST_TMP/linux"
	expect_rejected "built for Linux, not a pvmm guest: build it with pvmm-cc"
}

test_image_linux_static() {
	linux_hello -static
	run_pvmm run "$TEST_TMP/linux"
	expect_rejected "built for Linux, not a pvmm guest: build it with pvmm-cc"
}

test_image_linux_static_pie() {
	linux_hello -static-pie
	run_pvmm run "$TEST_TMP/linux"
	expect_rejected "built for Linux, not a pvmm guest: build it with pvmm-cc"
}
