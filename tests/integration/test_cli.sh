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
	expect_out "para-API 1.4"
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
	for bad in 12X -4M "" 3M 4G 33M 99999999999999999999G; do
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
	expect_err "usermod -aG kvm"
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
