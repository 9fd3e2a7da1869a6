# pvmm run --ring 3 (the default): a deprivileged guest cannot touch the monitor's
# tables or closed ports, and its faults read like ring 0's. These run at
# ring 3 whatever PVMM_RING says (the rest of the suite follows it).

PROBE=build/tests/guests/ring_probe.elf

# expect_cr2 VALUE: the fault report's cr2 (the last field of its line).
expect_cr2() {
	grep -qE "cr2 $1\$" "$ERR" || fail_because "fault report's cr2 is not $1: $(grep -o 'cr2 [0-9a-fx]*' "$ERR")"
}

test_ring_bad_value_is_usage_error() {
	local r
	for r in 5 1 -1 3x ""; do
		run_pvmm run --ring "$r" "$EXAMPLES/hello.elf"
		expect_status 2
		expect_err "--ring '$r'"
	done
}

test_ring_default_is_3() {
	PVMM_RING= run_pvmm run "$PROBE" ring
	expect_status 0
	expect_out "boot ring 3 cpl 3"
}

test_ring_boot_info_and_cpl() {
	PVMM_RING= run_pvmm run --ring 3 "$PROBE" ring
	expect_status 0
	expect_out "boot ring 3 cpl 3"
	PVMM_RING= run_pvmm run --ring 0 "$PROBE" ring
	expect_status 0
	expect_out "boot ring 0 cpl 0"
}

# ring3_fault CASE VECTOR-TEXT [CR2]: at ring 3 CASE is a clean fault report.
ring3_fault() {
	PVMM_RING= run_pvmm run --ring 3 "$PROBE" "$1"
	expect_status 65
	expect_out "probing $1"
	expect_no_out "survived"
	expect_err "guest fault: unhandled exception"
	expect_err "$2"
	expect_err "cs 0x423 ss 0x41b" # it came from CPL3
	[ -n "${3:-}" ] && expect_cr2 "$3"
	expect_err "r12 "                # the whole register dump
	return 0
}

test_ring3_write_page_tables_faults() { ring3_fault write_pml4 "vector 14 (#PF page fault), error code 0x7" 0x2000; }
test_ring3_write_gdt_faults() { ring3_fault write_gdt "vector 14 (#PF page fault), error code 0x7" 0x1000; }
test_ring3_write_idt_faults() { ring3_fault write_idt "vector 14 (#PF page fault), error code 0x7" 0xd6000; }
test_ring3_out_trap_port_is_gp() { ring3_fault out_trap "vector 13 (#GP general protection)"; }
test_ring3_out_closed_port_is_gp() { ring3_fault out_closed "vector 13 (#GP general protection)"; }
test_ring3_cli_is_gp() { ring3_fault cli "vector 13 (#GP general protection)"; }

test_ring0_trap_port_is_an_undefined_call() {
	# At ring 0 the port is still call 15: -ENOSYS, as in para-API 1.2.
	PVMM_RING= run_pvmm run --ring 0 "$PROBE" out_trap
	expect_status 3
	expect_out "trap port call returned -3"
}

test_ring3_interrupts_available_as_upcalls() {
	local r
	for r in 0 3; do
		PVMM_RING= run_pvmm run --ring $r "$PROBE" irq
		expect_status 0
		expect_out "irq enabled"
	done
}

test_ring3_upcall_call_checks_its_arguments() {
	PVMM_RING= run_pvmm run --ring 3 "$PROBE" upcall_args
	expect_status 0
	expect_out "upcall unaligned ret -2"
	expect_out "upcall outside ret -1"
	expect_out "upcall monitor ret -1"
	# Ring 0 has its own IDT: the call is refused whatever it holds.
	PVMM_RING= run_pvmm run --ring 0 "$PROBE" upcall_args
	expect_status 0
	expect_out "upcall unaligned ret -2"
	expect_out "upcall outside ret -2"
}

test_ring3_upcall_onto_a_monitor_page_stops_the_vm() {
	# The guest points rsp at the monitor's IDT and makes the UART
	# interrupt: the monitor must not push the upcall frame there.
	PVMM_RING= run_pvmm run --ring 3 --console uart "$PROBE" irq_bad_stack
	expect_status 65
	expect_out "probing irq_bad_stack"
	expect_err "cannot deliver an interrupt (pin 4): the stack under rsp 0xd6800 is not writable user memory"
}

test_ring3_null_and_stack_overflow_report_like_ring0() {
	local r
	for r in 0 3; do
		PVMM_RING= run_pvmm run --ring $r "$GUESTS/null_deref.elf"
		expect_status 65
		expect_err "guest fault: unhandled exception #PF (page fault)"
		expect_err "vector 14 (#PF page fault), error code "
		expect_cr2 0
		PVMM_RING= run_pvmm run --ring $r "$GUESTS/stack_overflow.elf"
		expect_status 65
		expect_err "guest fault: unhandled exception #PF (page fault): stack overflow"
		expect_err "cr2 0x10"
		# A local array bigger than all memory under the stack: rsp
		# wraps past the guard page and the first store faults there.
		PVMM_RING= run_pvmm run --ring $r "$GUESTS/stack_overflow.elf" array 1024
		expect_status 65
		expect_out "array of 1024 KiB"
		expect_err "guest fault: unhandled exception #PF (page fault): stack overflow"
	done
	# One that lands rsp in the monitor's pages under the stack: at ring
	# 3 those are supervisor-only, so the store faults (at ring 0 they are
	# writable: docs/usage.md).
	PVMM_RING= run_pvmm run --ring 3 "$GUESTS/stack_overflow.elf" array 300
	expect_status 65
	expect_err "guest fault: unhandled exception #PF (page fault): stack overflow"
}

test_ring3_compute_guest_runs() {
	local want
	PVMM_RING= run_pvmm run --ring 0 "$PROBE" compute
	expect_status 0
	want=$(grep 'compute ok' "$OUT")
	PVMM_RING= run_pvmm run --ring 3 "$PROBE" compute
	expect_status 0
	expect_out "compute ok"
	[ -n "$want" ] && expect_out "$want"
	return 0
}

test_ring3_secondary_cpus_run_at_ring3() {
	PVMM_RING= run_pvmm run --ring 3 --cpus 4 "$GUESTS/smp.elf"
	expect_status 0
	expect_out "all 4 CPUs checked in"
	# A secondary's fault goes through its own TSS, IST stack and stub.
	PVMM_RING= run_pvmm run --ring 3 --cpus 4 "$GUESTS/smp.elf" fault
	expect_status 65
	expect_err "guest fault on CPU 2: unhandled exception #UD (invalid opcode)"
}

test_ring3_uart_and_para_ports_open() {
	PVMM_RING= run_pvmm run --ring 3 --console uart "$EXAMPLES/hello.elf" x
	expect_status 0
	expect_out "argv[1] = x"
}

test_ring3_upcall_keeps_the_interrupted_sse_registers() {
	# 200 interrupts whose handler zeroes xmm0..15 while the interrupted
	# code holds a pattern in them (upcall.S must save and restore them).
	PVMM_RING= run_pvmm run --ring 3 --console uart "$PROBE" irq_keeps_sse
	expect_status 0
	expect_out "sse kept 200"
}
