# The command line: every mistake gets one line and status 2; help and
# version work; a missing or forbidden /dev/kvm is explained.

test_cli_help() {
	run_pvmm --help
	expect_status 0
	expect_out "Usage: pvmm run [options] GUEST.elf"
	expect_out "--timeout"
}

test_cli_version() {
	run_pvmm --version
	expect_status 0
	expect_out "para-API 1.6"
}

test_cli_no_command() {
	run_pvmm
	expect_status 2
	expect_err "no command given"
	expect_err_lines 1
}

test_cli_unknown_command() {
	run_pvmm launch x.elf
	expect_status 2
	expect_err "unknown command 'launch'"
	expect_err_lines 1
}

test_cli_no_image() {
	run_pvmm run --mem 64M
	expect_status 2
	expect_err "no guest image given"
	expect_err_lines 1
}

test_cli_unknown_option() {
	run_pvmm run --frobnicate "$EXAMPLES/hello.elf"
	expect_status 2
	expect_err "unknown option '--frobnicate'"
	expect_err_lines 1
}

test_cli_missing_option_value() {
	run_pvmm run --mem
	expect_status 2
	expect_err "needs a value"
	expect_err_lines 1
}

test_cli_bad_mem() {
	local bad
	for bad in 12X -4M "" 3M 4G 33M 3 99999999999999999999G; do
		run_pvmm run --mem "$bad" "$EXAMPLES/hello.elf"
		expect_status 2
		expect_err "--mem"
		expect_err_lines 1
	done
	run_pvmm run --mem 5M "$EXAMPLES/hello.elf"
	expect_err "not a whole number of 2 MiB; round it, e.g. to 6M"
}

test_cli_bad_timeout() {
	local bad
	for bad in abc 0 -1 1s nan; do
		run_pvmm run --timeout "$bad" "$EXAMPLES/hello.elf"
		expect_status 2
		expect_err "--timeout"
		expect_err_lines 1
	done
}

test_cli_guest_flags_pass_through() {
	# Options after the image belong to the guest, not the monitor.
	run_pvmm run "$EXAMPLES/hello.elf" --mem -q
	expect_status 0
	expect_out "argv[1] = --mem"
	expect_out "argv[2] = -q"
}

test_cli_guest_args_too_long() {
	run_pvmm run "$EXAMPLES/hello.elf" "$(head -c 7000 /dev/zero | tr '\0' x)"
	expect_status 2
	expect_err "guest arguments are too long"
	expect_err_lines 1
}

test_cli_no_kvm_device() {
	PVMM_KVM_DEVICE=/nonexistent/kvm run_pvmm run "$EXAMPLES/hello.elf"
	expect_status 1
	expect_err "/nonexistent/kvm does not exist"
	expect_err "modprobe"
	expect_err_lines 1
}

test_cli_kvm_permission_denied() {
	# Needs root to drop to an unprivileged user; CI runs as root.
	if [ "$(id -u)" -ne 0 ] || ! command -v setpriv >/dev/null; then
		echo "    (not root: checking the message with an unreadable device file instead)"
		: >"$TEST_TMP/kvm" && chmod 000 "$TEST_TMP/kvm"
		PVMM_KVM_DEVICE=$TEST_TMP/kvm run_pvmm run "$EXAMPLES/hello.elf"
	else
		local saved=$PVMM
		PVMM="setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all $PVMM"
		# The image must be readable by that user: copy it somewhere neutral.
		cp "$EXAMPLES/hello.elf" "$TEST_TMP/hello.elf" && chmod 755 "$TEST_TMP" && chmod 644 "$TEST_TMP/hello.elf"
		# shellcheck disable=SC2086
		timeout -s KILL 60 $PVMM run "$TEST_TMP/hello.elf" </dev/null >"$OUT" 2>"$ERR"
		status=$?
		PVMM=$saved
	fi
	expect_status 1
	expect_err "no permission to open"
	expect_err "run pvmm as root"
	expect_err_lines 1
}

test_cli_bad_cpus() {
	local bad
	for bad in 0 65 -1 abc 4x ""; do
		run_pvmm run --cpus "$bad" "$EXAMPLES/hello.elf"
		expect_status 2
		expect_err "--cpus"
		expect_err_lines 1
	done
	run_pvmm run --cpus 64 "$EXAMPLES/hello.elf"
	expect_status 0
}

# ---- issue 13: help for every command, precise option messages ----------

test_cli_help_command() {
	run_pvmm help
	expect_status 0
	expect_out "Usage: pvmm run [options] GUEST.elf"
	expect_out "help [COMMAND]"
	run_pvmm help run
	expect_status 0
	expect_out "--timeout SECS"
	run_pvmm help bench
	expect_status 0
	expect_out "Usage: pvmm bench compare [options]"
	run_pvmm help bench compare
	expect_status 0
	expect_out "Usage: pvmm bench compare [--ring LIST]"
	run_pvmm help help
	expect_status 0
	expect_out "Usage: pvmm help [COMMAND]"
	run_pvmm help ctl
	expect_status 0
	expect_out "Usage: pvmm ctl --api-sock PATH info|pause|resume|stop|metrics"
	run_pvmm help frobnicate
	expect_status 2
	expect_err "pvmm: help: no command 'frobnicate'; the commands are run, restore, ctl, vhost-user, bench compare and help"
	expect_err_lines 1
}

test_cli_every_command_help_exits_0() {
	local cmd
	for cmd in "run" "restore" "bench" "bench compare" "help"; do
		# shellcheck disable=SC2086
		run_pvmm $cmd --help
		expect_status 0
		expect_out "Usage: pvmm"
		[ -s "$ERR" ] && fail_because "pvmm $cmd --help wrote to stderr: $(head -c 200 "$ERR")"
	done
}

test_cli_bench_without_benchmark() {
	run_pvmm bench
	expect_status 2
	expect_err "pvmm: bench: no benchmark given; the one there is: compare (see pvmm help bench)"
	expect_err_lines 1
	run_pvmm bench frob
	expect_status 2
	expect_err "pvmm: bench: unknown benchmark 'frob'"
	expect_err_lines 1
}

test_cli_option_is_not_a_command() {
	run_pvmm --bogus
	expect_status 2
	expect_err "pvmm: unknown option '--bogus'; try pvmm --help"
	expect_err_lines 1
}

test_cli_ambiguous_option() {
	run_pvmm run --st "$EXAMPLES/hello.elf"
	expect_status 2
	expect_err "pvmm: ambiguous option '--st': it could be --stats or --stats-json; see pvmm help run"
	expect_err_lines 1
	# A prefix that names one option is that option.
	run_pvmm run --stat "$EXAMPLES/hello.elf"
	expect_status 2
	expect_err "ambiguous option '--stat'"
	run_pvmm run --qui "$EXAMPLES/hello.elf"
	expect_status 0
}

test_cli_option_takes_no_value() {
	run_pvmm run --quiet=1 "$EXAMPLES/hello.elf"
	expect_status 2
	expect_err "pvmm: option '--quiet' takes no value (got '--quiet=1'); see pvmm help run"
	expect_err_lines 1
	run_pvmm run --rng=yes "$EXAMPLES/hello.elf"
	expect_status 2
	expect_err "option '--rng' takes no value (got '--rng=yes')"
	run_pvmm run -x "$EXAMPLES/hello.elf"
	expect_status 2
	expect_err "pvmm: unknown option '-x'; see pvmm help run"
	run_pvmm bench compare --bogus
	expect_status 2
	expect_err "pvmm: unknown option '--bogus'; see pvmm help bench compare"
}

test_cli_mem_bare_number_is_mib() {
	run_pvmm run --stats-json "$TEST_TMP/mem.json" --mem 64 "$EXAMPLES/hello.elf"
	expect_status 0
	run_pvmm run --mem 5 "$EXAMPLES/hello.elf"
	expect_status 2
	expect_err "--mem 5 is not a whole number of 2 MiB; round it, e.g. to 6M"
	run_pvmm run --mem 4194304B "$EXAMPLES/hello.elf"
	expect_status 0
	run_pvmm run --mem 4096 "$EXAMPLES/hello.elf"
	expect_status 2
	expect_err "--mem 4096 is out of range: use 4M to 3G"
}

test_cli_timeout_too_long_says_limit() {
	run_pvmm run --timeout 1e10 "$EXAMPLES/hello.elf"
	expect_status 2
	expect_err "pvmm: --timeout '1e10' is too long: the most is 1000000000 seconds (about 31 years)"
	expect_err_lines 1
	run_pvmm run --timeout 1e9 "$EXAMPLES/hello.elf"
	expect_status 0
	run_pvmm run --timeout abc "$EXAMPLES/hello.elf"
	expect_err "--timeout 'abc' is not a number of seconds"
}

# signal_stops_spin SIG NAME: SIG to a spinning guest stops it with status
# 70 and names the signal and where the guest was.
signal_stops_spin() {
	local pid i
	# Empty first: a "spinning" left by an earlier test must not count.
	: >"$OUT"
	: >"$ERR"
	"$PVMM" run --timeout 30 "$GUESTS/spin.elf" >"$OUT" 2>"$ERR" &
	pid=$!
	for ((i = 0; i < 100; i++)); do
		grep -q spinning "$OUT" && break
		sleep 0.1
	done
	kill -"$1" "$pid"
	wait "$pid"
	status=$?
	expect_status 70
	expect_err "pvmm: stopped by signal SIG$1 ($2); the guest was at:"
	expect_err "rip 0x"
}

test_cli_sighup_stops_like_sigterm() {
	signal_stops_spin HUP Hangup
}

test_cli_sigterm_names_signal() {
	signal_stops_spin TERM Terminated
}

test_cli_kvm_permission_hint_follows_the_node() {
	# The hint comes from the device node's owner, group and mode. Needs
	# root to drop privileges (CI runs as root).
	if [ "$(id -u)" -ne 0 ] || ! command -v setpriv >/dev/null; then
		echo "    (not root: skipped)"
		return
	fi
	local grp
	grp=$(getent group 100 | cut -d: -f1)
	cp "$EXAMPLES/hello.elf" "$TEST_TMP/hello.elf" && chmod 755 "$TEST_TMP" && chmod 644 "$TEST_TMP/hello.elf"
	: >"$TEST_TMP/kvm-root" && chmod 600 "$TEST_TMP/kvm-root"
	PVMM_KVM_DEVICE=$TEST_TMP/kvm-root timeout -s KILL 60 setpriv --reuid=65534 --regid=65534 --clear-groups \
		--inh-caps=-all "$PVMM" run "$TEST_TMP/hello.elf" </dev/null >"$OUT" 2>"$ERR"
	status=$?
	expect_status 1
	expect_err "no permission to open $TEST_TMP/kvm-root (mode 600, owner uid 0, group root): no group may use it; run pvmm as root"
	expect_err "sudo chgrp kvm $TEST_TMP/kvm-root && sudo chmod 660 $TEST_TMP/kvm-root"
	expect_err 'KERNEL=="kvm", GROUP="kvm", MODE="0660"'
	expect_err_lines 1
	if [ -n "$grp" ]; then
		: >"$TEST_TMP/kvm-grp" && chgrp 100 "$TEST_TMP/kvm-grp" && chmod 660 "$TEST_TMP/kvm-grp"
		PVMM_KVM_DEVICE=$TEST_TMP/kvm-grp timeout -s KILL 60 setpriv --reuid=65534 --regid=65534 --clear-groups \
			--inh-caps=-all "$PVMM" run "$TEST_TMP/hello.elf" </dev/null >"$OUT" 2>"$ERR"
		status=$?
		expect_status 1
		expect_err "no permission to open $TEST_TMP/kvm-grp (mode 660, group $grp): add your user to group $grp (sudo usermod -aG $grp \$USER, then log in again) or run as root"
		expect_err_lines 1
	fi
}
