/*
 * The ACPI tables a --kernel guest finds (ACPI 6.3): RSDP, XSDT, FADT
 * (hardware-reduced: no PM timer, no PM1/GPE blocks, no SCI; sleep
 * through the sleep control/status registers), MADT (the local APICs,
 * the IOAPIC, ISA IRQ 0 on GSI 2) and a DSDT with COM1 and \_S5. A pure
 * builder: it fills a byte buffer that will sit at a guest-physical
 * address, and knows nothing of KVM or the VM. PCI is configuration
 * mechanism #1 (ports 0xcf8/0xcfc), so there is no MCFG.
 *
 * Layout inside the buffer, each table 16-byte aligned: the RSDP first
 * (at `base`, which must be 16-byte aligned so a kernel that scans
 * 0xe0000..0xfffff finds it), then XSDT, FADT, MADT, DSDT.
 */
#ifndef PVMM_ACPI_H
#define PVMM_ACPI_H

#include <stddef.h>
#include <stdint.h>

#define ACPI_MAX_CPUS 64 /* one xAPIC entry each, APIC ID = CPU index */
#define ACPI_MAX_SIZE 0x1000 /* what acpi_build() needs at most (64 CPUs) */

struct acpi_config {
	uint64_t base;            /* guest-physical address of buf[0], 16-byte aligned */
	unsigned cpus;            /* 1..ACPI_MAX_CPUS */
	uint32_t ioapic_addr;     /* the IOAPIC's MMIO base */
	uint8_t ioapic_id;
	uint32_t ioapic_gsi_base; /* its first pin's GSI */
	uint16_t sleep_port;      /* sleep control register; status at +1 */
	uint8_t s5_type;          /* SLP_TYP for S5 (soft off), 0..7 */
	uint16_t reset_port;      /* FADT reset register (I/O) */
	uint8_t reset_value;
	uint16_t uart_port;       /* COM1's 8 ports */
	uint8_t uart_irq;         /* its ISA IRQ, 0..15 */
};

/* Where each table went: guest-physical addresses. */
struct acpi_tables {
	uint64_t rsdp, xsdt, fadt, madt, dsdt;
	size_t size; /* bytes of the buffer used, from buf[0] */
};

/* Standard header fields pvmm writes (and the tests read). */
#define ACPI_OEM_ID "PVMM  "
#define ACPI_OEM_TABLE_ID "PVMMVM  "

/* FADT flags and IA-PC boot architecture flags pvmm sets. */
#define ACPI_FADT_WBINVD (1u << 0)
#define ACPI_FADT_RESET_REG_SUP (1u << 10)
#define ACPI_FADT_HW_REDUCED (1u << 20)
#define ACPI_BOOT_LEGACY_DEVICES (1u << 0)
#define ACPI_BOOT_8042 (1u << 1)
#define ACPI_BOOT_NO_VGA (1u << 2)

/* Fill buf (cap bytes, zeroed here) with the tables for cfg. 0, or -1
 * when cfg is out of range (cpus, alignment, IRQ) or buf too small. */
int acpi_build(const struct acpi_config *cfg, uint8_t *buf, size_t cap, struct acpi_tables *out);

/* AML's PkgLength for a package of `len` bytes after it (the length
 * counts its own 1 to 4 bytes): the bytes written to out, 0 when len is
 * beyond what AML can say (2^28 - 1 in all). */
size_t acpi_aml_pkglen(uint8_t out[4], size_t len);

/* The byte sum of a table's `len` bytes: 0 when its checksum is right. */
uint8_t acpi_sum(const uint8_t *p, size_t len);

#endif
