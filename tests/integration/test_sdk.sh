# The SDK: pvmm-cc from anywhere, make install and the installed tree,
# pkg-config, user code built without -Werror, the headers and libm an
# ordinary C program expects, and the examples.

SDK_ROOT=$(pwd)

# The floating-point guests can only run where CPL3 is available
# (pvmm run --ring 3): KVM's emulator, which runs CPL0 code on hosts
# without VT-x, has no SSE. Without the option they are built and checked,
# not run.
sdk_has_ring() { "$PVMM" run --help 2>&1 | grep -q -- --ring; }

# sdk_cc DIR ARGS...: run pvmm-cc in DIR; compiler output in $TEST_TMP/cc.log.
sdk_cc() {
	local dir=$1
	shift
	(cd "$dir" && "$SDK_ROOT/guest/pvmm-cc" "$@") >"$TEST_TMP/cc.log" 2>&1
}

test_sdk_pvmm_cc_outside_tree() {
	mkdir -p "$TEST_TMP/user"
	cp guest/examples/hello.c "$TEST_TMP/user/"
	sdk_cc "$TEST_TMP/user" -o hello.elf hello.c || fail_because "pvmm-cc failed: $(head -c 400 "$TEST_TMP/cc.log")"
	run_pvmm run "$TEST_TMP/user/hello.elf" outside
	expect_status 0
	expect_out "Hello from pvmm!"
	expect_out "argv[1] = outside"
	# -lm is accepted (libm is in the runtime; the host's must not be linked).
	sdk_cc "$TEST_TMP/user" -o hello2.elf hello.c -lm || fail_because "pvmm-cc with -lm failed"
	[ -s "$TEST_TMP/user/hello2.elf" ] || fail_because "no hello2.elf"
}

test_sdk_user_code_warnings_are_not_errors() {
	mkdir -p "$TEST_TMP/user"
	cat >"$TEST_TMP/user/sloppy.c" <<'C'
#include <stdio.h>
static int twice(int x, int unused_param) { return 2 * x; }
int main(int argc, char **argv)
{
	int unused_var;
	printf("sloppy %d\n", twice(21, 0));
	return 0;
}
C
	sdk_cc "$TEST_TMP/user" -o sloppy.elf sloppy.c ||
		fail_because "warnings stopped the build: $(head -c 400 "$TEST_TMP/cc.log")"
	# -Wall stays on (the unused variable is reported), -Wextra's unused
	# parameter is not imposed.
	grep -q "unused variable" "$TEST_TMP/cc.log" || fail_because "no -Wall warning: $(cat "$TEST_TMP/cc.log")"
	! grep -q "unused parameter" "$TEST_TMP/cc.log" || fail_because "-Wunused-parameter imposed"
	run_pvmm run "$TEST_TMP/user/sloppy.elf"
	expect_status 0
	expect_out "sloppy 42"
	# Asking for -Werror still works.
	! sdk_cc "$TEST_TMP/user" -o strict.elf sloppy.c -Werror || fail_because "-Werror was not honoured"
}

test_sdk_posix_headers() {
	mkdir -p "$TEST_TMP/user"
	cat >"$TEST_TMP/user/posix.c" <<'C'
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>
#include <ctype.h>
#include <assert.h>
int main(void)
{
	struct timespec a, b, w;
	printf("limits %d %ld %llu %d\n", INT_MAX, LONG_MIN, ULLONG_MAX, CHAR_BIT);
	printf("inttypes %" PRId64 " %" PRIx32 " %" PRIuPTR "\n", INT64_MIN, UINT32_MAX, (uintptr_t)SIZE_MAX);
	assert(clock_gettime(CLOCK_MONOTONIC, &a) == 0);
	usleep(20000);
	struct timespec req = { 0, 10000000 };
	assert(nanosleep(&req, NULL) == 0);
	assert(clock_gettime(CLOCK_MONOTONIC, &b) == 0);
	long ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
	printf("slept %s\n", ms >= 30 && ms < 5000 ? "30 ms" : "WRONG");
	assert(clock_gettime(CLOCK_REALTIME, &w) == 0);
	time_t t = time(NULL);
	printf("realtime %s\n", w.tv_sec > 1600000000 && t - w.tv_sec >= 0 && t - w.tv_sec < 3 ? "ok" : "WRONG");
	errno = 0;
	int r = clock_gettime(99, &w);
	printf("bad clock %d %s\n", r, errno == EINVAL ? "EINVAL" : "WRONG");
	req.tv_nsec = 1000000000;
	printf("bad nanosleep %d %s\n", nanosleep(&req, NULL), errno == EINVAL ? "EINVAL" : "WRONG");
	printf("ctype %d\n", isdigit('7') && !isalpha('7'));
	return 0;
}
C
	# --ring0: this one runs at CPL0 here, so no SSE.
	sdk_cc "$TEST_TMP/user" --ring0 -o posix.elf posix.c ||
		fail_because "headers do not build: $(head -c 600 "$TEST_TMP/cc.log")"
	run_pvmm run "$TEST_TMP/user/posix.elf"
	expect_status 0
	expect_out "limits 2147483647 -9223372036854775808 18446744073709551615 8"
	expect_out "inttypes -9223372036854775808 ffffffff 18446744073709551615"
	expect_out "slept 30 ms"
	expect_out "realtime ok"
	expect_out "bad clock -1 EINVAL"
	expect_out "bad nanosleep -1 EINVAL"
	expect_out "ctype 1"
}

test_sdk_make_install() {
	local prefix=$TEST_TMP/prefix moved=$TEST_TMP/moved
	make --no-print-directory -s install PREFIX="$prefix" >"$TEST_TMP/install.log" 2>&1 ||
		fail_because "make install failed: $(tail -c 400 "$TEST_TMP/install.log")"
	local f
	for f in bin/pvmm bin/pvmm-slirp bin/pvmm-cc lib/pkgconfig/pvmm.pc lib/pvmm/guest/libpvmm.a \
		lib/pvmm/guest/crt0.o lib/pvmm/guest/guest.ld lib/pvmm/guest/include/stdio.h \
		lib/pvmm/guest/include/math.h lib/pvmm/guest/include/pvmm/guest.h lib/pvmm/include/pvmm/para.h; do
		[ -f "$prefix/$f" ] || fail_because "not installed: $f"
	done
	# The installed tree, moved as a whole: pvmm-cc finds it next to itself.
	mv "$prefix" "$moved"
	mkdir -p "$TEST_TMP/user"
	cp guest/examples/hello.c "$TEST_TMP/user/"
	(cd "$TEST_TMP/user" && "$moved/bin/pvmm-cc" -o inst.elf hello.c) >"$TEST_TMP/cc.log" 2>&1 ||
		fail_because "installed pvmm-cc failed: $(head -c 400 "$TEST_TMP/cc.log")"
	PVMM=$moved/bin/pvmm run_pvmm run "$TEST_TMP/user/inst.elf" installed
	expect_status 0
	expect_out "argv[1] = installed"
	mv "$moved" "$prefix"

	# pkg-config, for builds without pvmm-cc.
	command -v pkg-config >/dev/null || { fail_because "pkg-config missing (scripts/deps.sh)"; return; }
	local cflags libs
	cflags=$(PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --cflags pvmm) ||
		fail_because "pkg-config --cflags pvmm failed"
	libs=$(PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --libs pvmm)
	case "$cflags" in
	*"-I$prefix/lib/pvmm/guest/include"*) ;;
	*) fail_because "pkg-config --cflags: $cflags" ;;
	esac
	# shellcheck disable=SC2086
	cc $cflags -isystem "$(cc -print-file-name=include)" -mgeneral-regs-only -O2 \
		-o "$TEST_TMP/user/pc.elf" "$TEST_TMP/user/hello.c" $libs >"$TEST_TMP/cc.log" 2>&1 ||
		fail_because "build with pkg-config flags failed: $(head -c 400 "$TEST_TMP/cc.log")"
	run_pvmm run "$TEST_TMP/user/pc.elf" pkgconfig
	expect_status 0
	expect_out "argv[1] = pkgconfig"
}

test_sdk_disk_example() {
	local img
	img=$(blk_image sdkdisk 2048)
	run_pvmm run --disk "$img" "$EXAMPLES/disk.elf" 8
	expect_status 0
	expect_out "identical"
	# The pattern is on the host's file: random bytes at sector 8, zeros before.
	[ "$(dd if="$img" bs=512 skip=8 count=8 status=none | tr -d '\0' | wc -c)" -gt 3000 ] ||
		fail_because "no pattern at sector 8 of the image"
	[ "$(dd if="$img" bs=512 count=8 status=none | tr -d '\0' | wc -c)" -eq 0 ] ||
		fail_because "sectors 0-7 were written"
	run_pvmm run "$EXAMPLES/disk.elf"
	expect_status 1
	expect_out "no disk"
}

test_sdk_float_example() {
	mkdir -p "$TEST_TMP/user"
	cp guest/examples/float.c "$TEST_TMP/user/"
	# By default user code may use SSE: doubles build and link with libm.
	sdk_cc "$TEST_TMP/user" -o float.elf float.c -lm ||
		fail_because "float.c does not build: $(head -c 400 "$TEST_TMP/cc.log")"
	objdump -d "$TEST_TMP/user/float.elf" | grep -q 'xmm' || fail_because "float.elf has no SSE code"
	nm "$TEST_TMP/user/float.elf" | grep -qw pow || fail_because "pow not linked from libpvmm.a"
	# --ring0 keeps general registers only, so doubles are refused.
	! sdk_cc "$TEST_TMP/user" --ring0 -o float0.elf float.c || fail_because "--ring0 built floating point"
	grep -qi 'sse' "$TEST_TMP/cc.log" || fail_because "--ring0 error does not mention SSE: $(head -c 300 "$TEST_TMP/cc.log")"
	[ -f "$EXAMPLES/float.elf" ] || fail_because "make did not build $EXAMPLES/float.elf"
	if sdk_has_ring; then
		local elf
		for elf in "$EXAMPLES/float.elf" "$TEST_TMP/user/float.elf"; do
			run_pvmm run --ring 3 "$elf"
			expect_status 0
			expect_out "sqrt(2)      = 1.414213562373095  ok"
			expect_out "exp(1)       = 2.718281828459045  ok"
			expect_out "formatted: 3.142 1.234500e+03 0.0001 1e+20 2.67"
			expect_no_out "WRONG"
		done
	fi
}

# The runtime itself must stay runnable at CPL0 without SSE: only the
# floating-point files may hold SSE code, and printf.c's only SSE
# instructions are va_start's XMM spills (skipped when %al is 0).
test_sdk_runtime_sse_confined() {
	local obj name n
	for obj in build/guest/obj/*.o build/guest/crt0.o; do
		name=$(basename "$obj" .o)
		case "$name" in math | format_float | printf) continue ;; esac
		n=$(objdump -d "$obj" | grep -c '%xmm')
		[ "$n" -eq 0 ] || fail_because "$obj has $n SSE instructions"
	done
	local spills funcs
	spills=$(objdump -d build/guest/obj/printf.o | grep '%xmm' | grep -cE 'movaps +%xmm[0-7],(-?0x[0-9a-f]+)?\(%r[sb]p\)')
	n=$(objdump -d build/guest/obj/printf.o | grep -c '%xmm')
	funcs=$(nm build/guest/obj/printf.o | grep -c ' T ')
	[ "$n" -eq "$spills" ] || fail_because "printf.o has SSE beyond va_start's spills"
	[ "$spills" -eq $((8 * funcs)) ] || fail_because "printf.o: $spills spills for $funcs functions"
	# And a guest that prints integers with it runs at CPL0.
	run_pvmm run "$EXAMPLES/hello.elf"
	expect_status 0
}
