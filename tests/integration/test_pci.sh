# PCI config space and virtio-pci from a hostile guest (tests/guests/pci_hostile.c).

test_pci_hostile_config_and_bar_moves() {
	local img=$TEST_TMP/pci-hostile.img
	truncate -s 1M "$img"
	run_pvmm run --transport pci --ring 0 --rng --disk "$img" "$GUESTS/pci_hostile.elf"
	expect_status 0
	expect_out "pci 00:00.0 1b36:0008 class 060000"
	expect_out "caps=5" # rng: no device config, so no cfg_type 4; and MSI-X
	expect_out "vendor_after_write=1af4"
	expect_out "bar_size_mask=ffffc000"
	expect_out "ram: bar=00200000 old_place=ffffffff"
	expect_out "ioapic: bar=fec00000 old_place=ffffffff"
	expect_out "other_bar_ident=2"
	expect_out "ram_still_ram=1"
	expect_out "moved_ident=4 old_ident=ffffffff"
	expect_out "read_after_move=64,64"
	expect_out "msix: size=2 past_table=00000000 pba=00000000 bad_vector=ffff vctrl=0"
	expect_err "MSI-X vector 0: address 0:fec00000 data 0x5 is not a local APIC"
	expect_out "pci_hostile ok"
}

test_pci_transport_option_refuses_others() {
	run_pvmm run --transport isa "$GUESTS/vrng.elf"
	expect_status 2
	expect_err "--transport 'isa': use mmio (virtio-mmio) or pci (virtio-pci)"
}

# MSI-X: at ring 0 the runtime enables it (one vector for the config and
# every queue, the pin's vector), and every interrupt of the run comes
# that way, from the I/O thread's irqfd through KVM's MSI route: --stats
# counts them per device. Held 0: the vector is unmasked before the first.
test_pci_msix_interrupts_ring0() {
	local img
	img=$(blk_image msix 2048)
	run_pvmm run --transport pci --ring 0 --stats --disk "$img" "$GUESTS/blk_rw.elf" inflight irq
	expect_status 0
	expect_out "inflight mode=irq completed=32 missing=0 dup=0 stray=0 errors=0 extra=0 bad_data=0"
	expect_out "interrupts by msi-x"
	expect_out "inflight ok"
	grep -qE 'virtio-blk .* \(MSI-X [1-9][0-9]*, INTx 0, held masked 0\)' "$ERR" ||
		fail_because "no MSI-X-only interrupt count on stderr: $(grep virtio-blk "$ERR")"
	local k
	for ((k = 0; k < 32; k += 2)); do blk_expect_sectors "$img" $((100 + k)) 1 W; done
}

# Ring 3 cannot reach config space: the same guest keeps INTx.
test_pci_intx_at_ring3() {
	local img
	img=$(blk_image intx 2048)
	run_pvmm run --transport pci --ring 3 --stats --disk "$img" "$GUESTS/blk_rw.elf" inflight irq
	expect_status 0
	expect_out "interrupts by pin"
	expect_out "inflight ok"
	grep -qE 'virtio-blk .* \(MSI-X 0, INTx [1-9][0-9]*, held masked 0\)' "$ERR" ||
		fail_because "no INTx-only interrupt count on stderr: $(grep virtio-blk "$ERR")"
}
