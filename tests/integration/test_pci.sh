# PCI config space and virtio-pci from a hostile guest (tests/guests/pci_hostile.c).

test_pci_hostile_config_and_bar_moves() {
	local img=$TEST_TMP/pci-hostile.img
	truncate -s 1M "$img"
	run_pvmm run --transport pci --ring 0 --rng --disk "$img" "$GUESTS/pci_hostile.elf"
	expect_status 0
	expect_out "pci 00:00.0 1b36:0008 class 060000"
	expect_out "caps=4" # rng: no device config, so no cfg_type 4
	expect_out "vendor_after_write=1af4"
	expect_out "bar_size_mask=ffffc000"
	expect_out "ram: bar=00200000 old_place=ffffffff"
	expect_out "ioapic: bar=fec00000 old_place=ffffffff"
	expect_out "other_bar_ident=2"
	expect_out "ram_still_ram=1"
	expect_out "moved_ident=4 old_ident=ffffffff"
	expect_out "read_after_move=64,64"
	expect_out "pci_hostile ok"
}

test_pci_transport_option_refuses_others() {
	run_pvmm run --transport isa "$GUESTS/vrng.elf"
	expect_status 2
	expect_err "--transport 'isa': use mmio (virtio-mmio) or pci (virtio-pci)"
}
