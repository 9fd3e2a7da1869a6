/*
 * PCI config space and virtio-pci from a hostile guest: run at ring 0
 * (ports 0xcf8/0xcfc) with `--transport pci --rng --disk IMG`. Walks bus 0,
 * writes read-only fields, sizes BAR 0, moves the rng's BAR onto RAM, onto
 * the disk's BAR and outside the window (each refused: nothing decodes),
 * writes notifies for queues that do not exist, then moves the BAR to a
 * fresh place in the window, points its boot info entry there and reads
 * random bytes through it (the notify ioeventfd must have moved with it).
 * MSI-X on the disk: a message that is no APIC interrupt, unmasked; a
 * vector past the table; writes past the table, at odd widths and to the
 * PBA; then MSI-X off again. The monitor warns and keeps running.
 * Prints "pci_hostile ok" and exits 0, or "pci_hostile FAIL: ..." and 1.
 */
#include <stdio.h>
#include <string.h>
#include <pvmm/guest.h>
#include <pvmm/io.h>
#include <pvmm/rng.h>
#include <pvmm/virtio.h>

static uint32_t cfg_read(unsigned dev, unsigned off)
{
	outl(0xcf8, 0x80000000u | dev << 11 | (off & 0xfc));
	return inl(0xcfc);
}

static void cfg_write(unsigned dev, unsigned off, uint32_t v)
{
	outl(0xcf8, 0x80000000u | dev << 11 | (off & 0xfc));
	outl(0xcfc, v);
}

static uint32_t mmio32(uint64_t addr)
{
	return *(volatile uint32_t *)(uintptr_t)addr;
}

static int fail(const char *why)
{
	printf("pci_hostile FAIL: %s\n", why);
	return 1;
}

int main(void)
{
	unsigned rng = 0, blk = 0, found = 0;
	for (unsigned d = 0; d < 32; d++) {
		uint32_t id = cfg_read(d, 0);
		if (id == 0xffffffffu)
			continue;
		found++;
		printf("pci 00:%02x.0 %04x:%04x class %06x\n", d, id & 0xffff, id >> 16, cfg_read(d, 8) >> 8);
		if (id == ((0x1040u + VIRTIO_ID_RNG) << 16 | 0x1af4))
			rng = d;
		if (id == ((0x1040u + VIRTIO_ID_BLOCK) << 16 | 0x1af4))
			blk = d;
	}
	if (!rng || !blk || found != 3)
		return fail("expected the host bridge, an rng and a disk");

	/* Capability walk: common, notify, ISR, PCI cfg (rng has no device config). */
	unsigned caps = 0;
	for (unsigned c = cfg_read(rng, 0x34) & 0xff; c && caps < 64; c = (cfg_read(rng, c) >> 8) & 0xff)
		caps++;
	printf("caps=%u\n", caps);

	/* Read-only fields. */
	cfg_write(rng, 0, 0);
	cfg_write(rng, 0x2c, 0);
	printf("vendor_after_write=%04x\n", cfg_read(rng, 0) & 0xffff);

	/* Sizing. */
	uint32_t base = cfg_read(rng, 0x10), other = cfg_read(blk, 0x10);
	cfg_write(rng, 0x10, 0xffffffffu);
	printf("bar_size_mask=%08x\n", cfg_read(rng, 0x10));

	/* Refused places: RAM, the other BAR, the IOAPIC. Nothing decodes. */
	static const char *const names[] = { "ram", "other_bar", "ioapic" };
	uint32_t places[] = { 0x200000, other, 0xfec00000u };
	for (unsigned i = 0; i < 3; i++) {
		cfg_write(rng, 0x10, places[i]);
		uint32_t old = mmio32(base + PVMM_VIRTIO_PCI_IDENT);
		printf("%s: bar=%08x old_place=%08x\n", names[i], cfg_read(rng, 0x10), old);
	}
	printf("other_bar_ident=%u\n", mmio32(other + PVMM_VIRTIO_PCI_IDENT));
	uint32_t ram = mmio32(0x200000);
	*(volatile uint32_t *)0x200000 = ram ^ 1;
	printf("ram_still_ram=%d\n", mmio32(0x200000) == (ram ^ 1));

	/* Notifies for queues that do not exist, and at odd addresses. */
	cfg_write(rng, 0x10, base);
	*(volatile uint32_t *)(uintptr_t)(base + PVMM_VIRTIO_PCI_NOTIFY + 4 * 3) = 3;
	*(volatile uint16_t *)(uintptr_t)(base + PVMM_VIRTIO_PCI_NOTIFY + 2) = 0;
	*(volatile uint32_t *)(uintptr_t)(base + PVMM_VIRTIO_PCI_NOTIFY + 0x800) = 0;

	/* Move for real and use the device at its new place. */
	uint32_t moved = 0xe0800000u;
	cfg_write(rng, 0x10, moved);
	printf("moved_ident=%u old_ident=%08x\n", mmio32(moved + PVMM_VIRTIO_PCI_IDENT),
	       mmio32(base + PVMM_VIRTIO_PCI_IDENT));
	struct pvmm_boot_info *bi = (struct pvmm_boot_info *)pvmm_boot_info();
	for (unsigned i = 0; i < bi->device_count; i++)
		if (bi->devices[i].type == PVMM_DEV_VIRTIO_PCI && bi->devices[i].mmio_base == base)
			bi->devices[i].mmio_base = moved;
	unsigned char buf[64];
	memset(buf, 0, sizeof(buf));
	int64_t n = rng_read(buf, sizeof(buf));
	int64_t n2 = rng_read(buf, sizeof(buf));
	printf("read_after_move=%lld,%lld\n", (long long)n, (long long)n2);
	if (n != (int64_t)sizeof(buf) || n2 != (int64_t)sizeof(buf))
		return fail("rng after the move");

	/* MSI-X on the disk (2 vectors: its queue and the config). */
	unsigned cap = 0;
	for (unsigned c = cfg_read(blk, 0x34) & 0xff; c && !cap; c = (cfg_read(blk, c) >> 8) & 0xff)
		if ((cfg_read(blk, c) & 0xff) == 0x11)
			cap = c;
	if (!cap)
		return fail("the disk has no MSI-X capability");
	volatile uint32_t *table = (volatile uint32_t *)(uintptr_t)(other + PVMM_VIRTIO_PCI_MSIX_TABLE);
	volatile uint16_t *msix_config = (volatile uint16_t *)(uintptr_t)(other + PVMM_VIRTIO_PCI_COMMON + 0x10);
	cfg_write(blk, cap, (cfg_read(blk, cap) & 0xffff) | 0xc000u << 16); /* enabled, function masked */
	table[0] = 0xfec00000u; /* the IOAPIC, not an APIC */
	table[1] = 0;
	table[2] = 5;           /* vector 5, below 16 */
	table[3] = 0;           /* unmasked */
	table[2 * 4 + 0] = 0xfee00000u; /* past the last vector */
	*(volatile uint16_t *)&table[4 + 1] = 0xffff;
	*(volatile uint32_t *)(uintptr_t)(other + PVMM_VIRTIO_PCI_MSIX_PBA) = 0xffffffffu;
	*msix_config = 7;
	printf("msix: size=%u past_table=%08x pba=%08x bad_vector=%04x vctrl=%u\n", (cfg_read(blk, cap) >> 16 & 0x7ff) + 1,
	       table[2 * 4], mmio32(other + PVMM_VIRTIO_PCI_MSIX_PBA), *msix_config, table[3]);
	cfg_write(blk, cap, cfg_read(blk, cap) & 0xffff); /* off again */

	printf("pci_hostile ok\n");
	return 0;
}
