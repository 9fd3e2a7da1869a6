# The sandbox (docs/security.md): per-thread seccomp filters, --uid/--gid,
# --chroot, --unshare.

# The sanitizer build leaves the main thread unfiltered (LeakSanitizer's
# exit check needs ptrace and clone there).
sandbox_asan() {
	[[ "$PVMM" == *asan* ]]
}

# sandbox_spin ARGS...: start spin.elf with ARGS in the background and wait
# for "spinning"; sets $spin_pid. sandbox_stop kills it.
sandbox_spin() {
	: >"$OUT"
	"$PVMM" run "$@" "$GUESTS/spin.elf" </dev/null >"$OUT" 2>"$ERR" &
	spin_pid=$!
	local i
	for ((i = 0; i < 300; i++)); do
		grep -q spinning "$OUT" && return 0
		sleep 0.1
	done
	fail_because "no 'spinning' on stdout after 30 s (stderr: $(head -c 300 "$ERR"))"
	return 1
}

sandbox_stop() {
	kill -TERM "$spin_pid" 2>/dev/null
	wait "$spin_pid" 2>/dev/null
}

# sandbox_trip ROLE ARGS...: that thread makes a forbidden call right after
# loading its filter: one line naming the role and the call, status 72.
sandbox_trip() {
	local role=$1
	shift
	PVMM_TEST_SECCOMP_TRIP=$role run_pvmm run "$@"
	expect_status 72
	expect_err "pvmm: seccomp: the $role thread made a forbidden system call socket (41) family 0x2"
	expect_err_lines 1
}

test_seccomp_trip_main() {
	if sandbox_asan; then
		echo "    (skipped under ASan: the main thread is unfiltered there)"
		return
	fi
	sandbox_trip main "$EXAMPLES/hello.elf"
}

test_seccomp_trip_vcpu() {
	sandbox_trip vcpu --cpus 2 "$EXAMPLES/hello.elf"
}

test_seccomp_trip_io() {
	sandbox_trip io --rng "$EXAMPLES/hello.elf"
}

test_seccomp_trip_metrics() {
	sandbox_trip metrics --metrics-path "$TEST_TMP/m.json" "$EXAMPLES/hello.elf"
}

test_seccomp_trip_api() {
	sandbox_trip api --api-sock "$TEST_TMP/trip.sock" "$EXAMPLES/hello.elf"
}

# --seccomp off: the trip hook never runs (no filter was loaded), and
# the guest runs as usual.
test_seccomp_off() {
	PVMM_TEST_SECCOMP_TRIP=vcpu run_pvmm run --seccomp off --cpus 2 "$EXAMPLES/hello.elf"
	expect_status 0
	expect_out "Hello from pvmm!"
	run_pvmm run --seccomp maybe "$EXAMPLES/hello.elf"
	expect_status 2
	expect_err "--seccomp 'maybe': use on (the default) or off"
}

# Every thread of a running VM is filtered (Seccomp: 2 in its status),
# and none with --seccomp off.
test_seccomp_every_thread_filtered() {
	local t n=0 bad=0
	sandbox_spin --cpus 2 --rng --metrics-path "$TEST_TMP/m.json" || { sandbox_stop; return; }
	sleep 0.2
	for t in /proc/"$spin_pid"/task/*; do
		n=$((n + 1))
		if [ "$t" = /proc/$spin_pid/task/$spin_pid ] && sandbox_asan; then
			continue
		fi
		grep -q '^Seccomp:[[:space:]]*2' "$t/status" || bad=$((bad + 1))
	done
	sandbox_stop
	# main, two vCPUs, I/O, metrics
	[ "$n" -ge 5 ] || fail_because "$n threads, expected at least 5"
	[ "$bad" -eq 0 ] || fail_because "$bad of $n threads have no seccomp filter"
	sandbox_spin --seccomp off || { sandbox_stop; return; }
	grep -q '^Seccomp:[[:space:]]*0' /proc/"$spin_pid"/status || fail_because "--seccomp off still filters"
	sandbox_stop
}

# --uid/--gid: the guest runs as before, the process no longer as root.
test_jail_uid_gid() {
	run_pvmm run --uid 65534 --gid 65534 "$EXAMPLES/hello.elf"
	expect_status 0
	expect_out "Hello from pvmm!"
	# glibc has every thread change user: the filtered I/O, metrics and
	# API threads exist by then.
	run_pvmm run --uid 65534 --gid 65534 --rng --metrics-path "$TEST_TMP/uid.json" \
		--api-sock "$TEST_TMP/uid.sock" "$EXAMPLES/hello.elf"
	expect_status 0
	expect_out "Hello from pvmm!"
	sandbox_spin --uid 65534 --gid 65534 || { sandbox_stop; return; }
	local uid gid groups
	uid=$(awk '/^Uid:/ { print $2, $3, $4, $5 }' /proc/"$spin_pid"/status)
	gid=$(awk '/^Gid:/ { print $2, $3, $4, $5 }' /proc/"$spin_pid"/status)
	groups=$(awk '/^Groups:/ { print $2 }' /proc/"$spin_pid"/status)
	sandbox_stop
	[ "$uid" = "65534 65534 65534 65534" ] || fail_because "Uid: $uid, expected 65534 for all four"
	[ "$gid" = "65534 65534 65534 65534" ] || fail_because "Gid: $gid, expected 65534 for all four"
	[ -z "$groups" ] || fail_because "supplementary groups left: $groups"
}

# Without the capabilities to change user: one clear line, status 1.
test_jail_uid_refused() {
	command -v setpriv >/dev/null || { echo "    (skipped: no setpriv)"; return; }
	timeout -s KILL 60 setpriv --bounding-set -setuid,-setgid --inh-caps -setuid,-setgid \
		"$PVMM" run --uid 65534 --gid 65534 "$EXAMPLES/hello.elf" </dev/null >"$OUT" 2>"$ERR"
	status=$?
	expect_status 1
	expect_err "pvmm: --uid/--gid: cannot clear the supplementary groups: Operation not permitted"
	expect_err_lines 1
	run_pvmm run --uid nobody "$EXAMPLES/hello.elf"
	expect_status 2
	expect_err "--uid 'nobody' is not a numeric user ID"
	run_pvmm run --uid 65534 "$EXAMPLES/hello.elf"
	expect_status 2
	expect_err "pvmm: --uid without --gid: give both"
	expect_err_lines 1
}

# --chroot into an empty directory: everything was open before it.
test_jail_chroot_empty_dir() {
	local dir=$TEST_TMP/empty-root
	mkdir -p "$dir"
	# LeakSanitizer's exit check reads /proc, which the new root lacks.
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 run_pvmm run --chroot "$dir" --uid 65534 --gid 65534 --stats-json "$TEST_TMP/s.json" "$EXAMPLES/hello.elf"
	expect_status 0
	expect_out "Hello from pvmm!"
	grep -q '"verdict": "exit"' "$TEST_TMP/s.json" || fail_because "--stats-json not written: $(head -c 200 "$TEST_TMP/s.json")"
	run_pvmm run --chroot "$TEST_TMP/no-such-dir" "$EXAMPLES/hello.elf"
	expect_status 1
	expect_err "pvmm: --chroot '$TEST_TMP/no-such-dir': No such file or directory"
}

test_jail_unshare() {
	run_pvmm run --unshare --rng "$EXAMPLES/hello.elf"
	expect_status 0
	expect_out "Hello from pvmm!"
	sandbox_spin --unshare || { sandbox_stop; return; }
	local mine theirs
	mine=$(readlink /proc/self/ns/net)
	theirs=$(readlink /proc/"$spin_pid"/ns/net)
	sandbox_stop
	[ "$mine" != "$theirs" ] || fail_because "--unshare left the network namespace as it was ($theirs)"
	run_pvmm run --unshare --net tap=pvmmx0 "$EXAMPLES/hello.elf"
	expect_status 2
	expect_err "pvmm: --unshare with --net: the tap device would be made in the new, empty network namespace"
	expect_err_lines 1
}

# Where the host refuses (no CAP_SYS_ADMIN, no CAP_SYS_CHROOT): one line,
# status 1.
test_jail_refused_without_capabilities() {
	command -v setpriv >/dev/null || { echo "    (skipped: no setpriv)"; return; }
	timeout -s KILL 60 setpriv --bounding-set -sys_admin --inh-caps -sys_admin \
		"$PVMM" run --unshare "$EXAMPLES/hello.elf" </dev/null >"$OUT" 2>"$ERR"
	status=$?
	expect_status 1
	expect_err "pvmm: --unshare: the host refuses new mount and network namespaces: Operation not permitted (it needs CAP_SYS_ADMIN)"
	expect_err_lines 1
	mkdir -p "$TEST_TMP/root2"
	timeout -s KILL 60 setpriv --bounding-set -sys_chroot --inh-caps -sys_chroot \
		"$PVMM" run --chroot "$TEST_TMP/root2" "$EXAMPLES/hello.elf" </dev/null >"$OUT" 2>"$ERR"
	status=$?
	expect_status 1
	expect_err "pvmm: --chroot '$TEST_TMP/root2': Operation not permitted (it needs CAP_SYS_CHROOT)"
	expect_err_lines 1
}

# pvmm restore filters its threads as pvmm run does: a restored guest is
# as untrusted as a new one. The I/O thread of a restored VM trips the
# hook (status 72); with --seccomp off the hook does nothing and the
# guest runs on to its end.
test_seccomp_restore() {
	local sock=$TEST_TMP/rs.sock snap=$TEST_TMP/rs i pid
	rm -f "$sock"
	"$PVMM" run --timeout 60 --rng --api-sock "$sock" "$GUESTS/snap_counter.elf" 40 </dev/null >"$OUT" 2>"$ERR" &
	pid=$!
	for ((i = 0; i < 300; i++)); do
		[ -S "$sock" ] && grep -q "^count 2 " "$OUT" && break
		sleep 0.1
	done
	"$PVMM" ctl --api-sock "$sock" pause >/dev/null || fail_because "pause failed: $(tail -2 "$ERR")"
	"$PVMM" ctl --api-sock "$sock" snapshot "$snap" >/dev/null || fail_because "snapshot failed: $(tail -2 "$ERR")"
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	[ -s "$snap" ] || return 0
	PVMM_TEST_SECCOMP_TRIP=io run_pvmm restore "$snap" --timeout 60
	expect_status 72
	expect_err "pvmm: seccomp: the io thread made a forbidden system call socket (41) family 0x2"
	PVMM_TEST_SECCOMP_TRIP=io run_pvmm restore "$snap" --timeout 60 --seccomp off
	expect_status 0
	expect_out "done 40 "
	run_pvmm restore "$snap" --seccomp maybe
	expect_status 2
	expect_err "restore: --seccomp 'maybe': use on (the default) or off"
}
