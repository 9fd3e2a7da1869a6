#include "acpi.h"

#include <stdbool.h>
#include <string.h>

/* Little-endian stores into the table buffer. */
static void put8(uint8_t *p, size_t off, uint8_t v)
{
	p[off] = v;
}
static void put16(uint8_t *p, size_t off, uint16_t v)
{
	p[off] = (uint8_t)v;
	p[off + 1] = (uint8_t)(v >> 8);
}
static void put32(uint8_t *p, size_t off, uint32_t v)
{
	put16(p, off, (uint16_t)v);
	put16(p, off + 2, (uint16_t)(v >> 16));
}
static void put64(uint8_t *p, size_t off, uint64_t v)
{
	put32(p, off, (uint32_t)v);
	put32(p, off + 4, (uint32_t)(v >> 32));
}

uint8_t acpi_sum(const uint8_t *p, size_t len)
{
	uint8_t s = 0;
	for (size_t i = 0; i < len; i++)
		s = (uint8_t)(s + p[i]);
	return s;
}

/* The standard description header (36 bytes); the length and checksum
 * are filled in by finish() once the body is written. */
#define HDR_LEN 36
static void header(uint8_t *t, const char sig[4], uint8_t revision)
{
	memcpy(t, sig, 4);
	put8(t, 8, revision);
	memcpy(t + 10, ACPI_OEM_ID, 6);
	memcpy(t + 16, ACPI_OEM_TABLE_ID, 8);
	put32(t, 24, 1);      /* OEM revision */
	memcpy(t + 28, "PVMM", 4); /* creator ID */
	put32(t, 32, 1);      /* creator revision */
}
static void finish(uint8_t *t, size_t len)
{
	put32(t, 4, (uint32_t)len);
	t[9] = 0;
	t[9] = (uint8_t)-acpi_sum(t, len);
}

/* A Generic Address Structure for one byte-wide I/O port. */
#define GAS_LEN 12
#define GAS_SYSTEM_IO 1
#define GAS_ACCESS_BYTE 1
static void gas_io8(uint8_t *p, size_t off, uint16_t port)
{
	put8(p, off, GAS_SYSTEM_IO);
	put8(p, off + 1, 8); /* register bit width */
	put8(p, off + 2, 0); /* bit offset */
	put8(p, off + 3, GAS_ACCESS_BYTE);
	put64(p, off + 4, port);
}

/* ---- AML: just what the DSDT needs ---- */

/* A byte string being built; `full` once something did not fit, so one
 * check at the end covers every step. */
#define AML_MAX 256
struct aml {
	uint8_t b[AML_MAX];
	size_t n;
	bool full;
};

static void aml_put(struct aml *a, const void *p, size_t n)
{
	if (a->full || n > AML_MAX - a->n) {
		a->full = true;
		return;
	}
	memcpy(a->b + a->n, p, n);
	a->n += n;
}
static void aml_byte(struct aml *a, uint8_t v)
{
	aml_put(a, &v, 1);
}
static void aml_append(struct aml *a, const struct aml *inner)
{
	a->full |= inner->full;
	aml_put(a, inner->b, inner->n);
}

/* PkgLength for `len` bytes after it: the encoding counts itself. One
 * byte holds up to 63 in bits 0-5; longer ones put the count of extra
 * bytes in bits 6-7, the low nibble in bits 0-3 and the rest after. */
size_t acpi_aml_pkglen(uint8_t out[4], size_t len)
{
	if (len + 1 <= 0x3f) {
		out[0] = (uint8_t)(len + 1);
		return 1;
	}
	unsigned extra = len + 2 <= 0xfff ? 1 : len + 3 <= 0xfffff ? 2 : len + 4 <= 0xfffffff ? 3 : 0;
	if (!extra)
		return 0;
	size_t total = len + 1 + extra;
	out[0] = (uint8_t)(extra << 6 | (total & 0xf));
	for (unsigned i = 0; i < extra; i++)
		out[1 + i] = (uint8_t)(total >> (4 + 8 * i));
	return 1 + extra;
}

static void aml_pkglen(struct aml *a, size_t len)
{
	uint8_t b[4];
	size_t n = acpi_aml_pkglen(b, len);
	if (!n)
		a->full = true;
	aml_put(a, b, n);
}

/* A NameString of one segment, optionally rooted ("\\_SB_"); the segment
 * is padded with '_' to four characters, as ASL does. */
static void aml_name(struct aml *a, const char *name)
{
	char seg[4] = { '_', '_', '_', '_' };
	if (*name == '\\')
		aml_byte(a, *name++);
	for (unsigned i = 0; i < 4 && name[i]; i++)
		seg[i] = name[i];
	aml_put(a, seg, 4);
}

/* An Integer in the shortest encoding. */
#define AML_ZERO 0x00
#define AML_ONE 0x01
#define AML_BYTE_PREFIX 0x0a
#define AML_WORD_PREFIX 0x0b
#define AML_DWORD_PREFIX 0x0c
#define AML_QWORD_PREFIX 0x0e
static void aml_integer(struct aml *a, uint64_t v)
{
	uint8_t b[9];
	size_t n;
	if (v <= 1) {
		aml_byte(a, v ? AML_ONE : AML_ZERO);
		return;
	}
	b[0] = v <= 0xff ? AML_BYTE_PREFIX : v <= 0xffff ? AML_WORD_PREFIX : v <= 0xffffffff ? AML_DWORD_PREFIX
											     : AML_QWORD_PREFIX;
	n = b[0] == AML_BYTE_PREFIX ? 1 : b[0] == AML_WORD_PREFIX ? 2 : b[0] == AML_DWORD_PREFIX ? 4 : 8;
	for (size_t i = 0; i < n; i++)
		b[1 + i] = (uint8_t)(v >> (8 * i));
	aml_put(a, b, 1 + n);
}

/* A DWordConst, even when shorter would do: EisaId() compiles to one. */
static void aml_dword(struct aml *a, uint32_t v)
{
	uint8_t b[5] = { AML_DWORD_PREFIX, (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
	aml_put(a, b, 5);
}

/* An opcode with a PkgLength around `body` (Scope, Device, Buffer, Package). */
static void aml_wrap(struct aml *a, const uint8_t *op, size_t oplen, const struct aml *body)
{
	aml_put(a, op, oplen);
	aml_pkglen(a, body->n);
	aml_append(a, body);
}

#define AML_NAME_OP 0x08
#define AML_SCOPE_OP 0x10
#define AML_BUFFER_OP 0x11
#define AML_PACKAGE_OP 0x12
static const uint8_t AML_DEVICE_OP[2] = { 0x5b, 0x82 }; /* ExtOpPrefix, DeviceOp */

/* Name(NAME, value) */
static void aml_name_op(struct aml *a, const char *name, const struct aml *value)
{
	aml_byte(a, AML_NAME_OP);
	aml_name(a, name);
	aml_append(a, value);
}

/* Buffer() { bytes }: its size as an Integer, then the bytes. */
static void aml_buffer(struct aml *a, const uint8_t *bytes, size_t n)
{
	struct aml body = { 0 };
	const uint8_t op = AML_BUFFER_OP;
	aml_integer(&body, n);
	aml_put(&body, bytes, n);
	aml_wrap(a, &op, 1, &body);
}

/* Package() { elements }: `count` elements already encoded in `elems`. */
static void aml_package(struct aml *a, uint8_t count, const struct aml *elems)
{
	struct aml body = { 0 };
	const uint8_t op = AML_PACKAGE_OP;
	aml_byte(&body, count);
	aml_append(&body, elems);
	aml_wrap(a, &op, 1, &body);
}

/* EisaId("PNP0501"): three letters in 5 bits each, four hex digits, the
 * whole stored big-endian in the DWord. */
static uint32_t eisa_id(const char id[7])
{
	static const char hex[] = "0123456789ABCDEF";
	uint32_t v = (uint32_t)(id[0] - 0x40) << 26 | (uint32_t)(id[1] - 0x40) << 21 | (uint32_t)(id[2] - 0x40) << 16;
	for (unsigned i = 0; i < 4; i++)
		v |= (uint32_t)(strchr(hex, id[3 + i]) - hex) << (12 - 4 * i);
	return (v >> 24) | (v >> 8 & 0xff00) | (v << 8 & 0xff0000) | (v << 24); /* bytes in order */
}

/* Resource descriptors (small items). */
#define RES_IRQ_NO_FLAGS 0x22 /* IRQ descriptor, length 2 */
#define RES_IO 0x47           /* I/O port descriptor, length 7 */
#define RES_IO_DECODE16 0x01
#define RES_END 0x79          /* end tag, length 1 */

/* The DSDT's definition block: \_SB.COM1 and \_S5. */
static bool dsdt_aml(const struct acpi_config *cfg, struct aml *out)
{
	const uint8_t crs[] = {
		RES_IO, RES_IO_DECODE16, (uint8_t)cfg->uart_port, (uint8_t)(cfg->uart_port >> 8),
		(uint8_t)cfg->uart_port, (uint8_t)(cfg->uart_port >> 8), 1 /* alignment */, 8 /* ports */,
		RES_IRQ_NO_FLAGS, (uint8_t)(1u << cfg->uart_irq), (uint8_t)((1u << cfg->uart_irq) >> 8),
		RES_END, 0 /* checksum 0: "the descriptors sum to zero" is not claimed */,
	};
	struct aml v = { 0 }, dev = { 0 }, scope = { 0 };

	aml_dword(&v, eisa_id("PNP0501"));
	aml_name_op(&dev, "_HID", &v);
	v = (struct aml){ 0 };
	aml_integer(&v, 0);
	aml_name_op(&dev, "_UID", &v);
	v = (struct aml){ 0 };
	aml_buffer(&v, crs, sizeof(crs));
	aml_name_op(&dev, "_CRS", &v);

	struct aml named = { 0 };
	aml_name(&named, "COM1");
	aml_append(&named, &dev);
	aml_wrap(&scope, AML_DEVICE_OP, sizeof(AML_DEVICE_OP), &named);
	named = (struct aml){ 0 };
	aml_name(&named, "\\_SB_");
	aml_append(&named, &scope);
	const uint8_t scope_op = AML_SCOPE_OP;
	aml_wrap(out, &scope_op, 1, &named);

	/* \_S5: SLP_TYPa, SLP_TYPb (one register here), two reserved. */
	struct aml elems = { 0 };
	aml_integer(&elems, cfg->s5_type);
	aml_integer(&elems, cfg->s5_type);
	aml_integer(&elems, 0);
	aml_integer(&elems, 0);
	v = (struct aml){ 0 };
	aml_package(&v, 4, &elems);
	aml_name_op(out, "\\_S5_", &v);
	return !out->full;
}

/* ---- the tables ---- */

#define RSDP_LEN 36
#define RSDP_V1_LEN 20
#define XSDT_ENTRIES 2 /* FADT, MADT */
#define FADT_LEN 276
#define FADT_REVISION 6
#define FADT_MINOR 3
#define MADT_REVISION 5
#define MADT_LAPIC_ADDR 0xfee00000u
#define MADT_PCAT_COMPAT 1u
#define MADT_LAPIC 0
#define MADT_IOAPIC 1
#define MADT_ISO 2
#define MADT_LAPIC_NMI 4
#define MADT_LAPIC_ENABLED 1u
#define MPS_HIGH_EDGE 0x5 /* polarity 01 active high, trigger 01 edge */
#define DSDT_REVISION 2 /* 64-bit integers */

static size_t align16(size_t v)
{
	return (v + 15) & ~(size_t)15;
}

static size_t build_fadt(const struct acpi_config *cfg, uint8_t *t, uint64_t dsdt)
{
	header(t, "FACP", FADT_REVISION);
	/* SCI_INT: no SCI in hardware-reduced mode; 9 is where a PC has it,
	 * and 0 would read as an override of the timer's IRQ 0. */
	put16(t, 46, 9);
	put16(t, 109, ACPI_BOOT_LEGACY_DEVICES | ACPI_BOOT_8042 | ACPI_BOOT_NO_VGA);
	put32(t, 112, ACPI_FADT_WBINVD | ACPI_FADT_RESET_REG_SUP | ACPI_FADT_HW_REDUCED);
	gas_io8(t, 116, cfg->reset_port);
	put8(t, 128, cfg->reset_value);
	put8(t, 131, FADT_MINOR);
	put64(t, 140, dsdt); /* X_DSDT; the 32-bit DSDT stays 0, as the spec asks then */
	gas_io8(t, 244, cfg->sleep_port);     /* SLEEP_CONTROL_REG */
	gas_io8(t, 256, cfg->sleep_port + 1); /* SLEEP_STATUS_REG */
	memcpy(t + 268, "PVMM\0\0\0\0", 8);   /* hypervisor vendor identity */
	finish(t, FADT_LEN);
	return FADT_LEN;
}

static size_t build_madt(const struct acpi_config *cfg, uint8_t *t)
{
	size_t n = HDR_LEN;
	header(t, "APIC", MADT_REVISION);
	put32(t, n, MADT_LAPIC_ADDR);
	put32(t, n + 4, MADT_PCAT_COMPAT); /* the 8259s exist (KVM's irqchip) */
	n += 8;
	for (unsigned i = 0; i < cfg->cpus; i++, n += 8) {
		put8(t, n, MADT_LAPIC);
		put8(t, n + 1, 8);
		put8(t, n + 2, (uint8_t)i); /* ACPI processor UID */
		put8(t, n + 3, (uint8_t)i); /* APIC ID: the vCPU index (cpuid.c, kvm.c) */
		put32(t, n + 4, MADT_LAPIC_ENABLED);
	}
	put8(t, n, MADT_IOAPIC);
	put8(t, n + 1, 12);
	put8(t, n + 2, cfg->ioapic_id);
	put32(t, n + 4, cfg->ioapic_addr);
	put32(t, n + 8, cfg->ioapic_gsi_base);
	n += 12;
	/* KVM's PIT drives IOAPIC pin 2 (and the PIC's IRQ 0), as a PC's
	 * chipset does: ISA IRQ 0 is GSI 2. */
	put8(t, n, MADT_ISO);
	put8(t, n + 1, 10);
	put8(t, n + 2, 0); /* bus: ISA */
	put8(t, n + 3, 0); /* source IRQ */
	put32(t, n + 4, cfg->ioapic_gsi_base + 2);
	put16(t, n + 8, MPS_HIGH_EDGE);
	n += 10;
	/* LINT1 of every processor is NMI, as on a PC. */
	put8(t, n, MADT_LAPIC_NMI);
	put8(t, n + 1, 6);
	put8(t, n + 2, 0xff); /* all processors */
	put16(t, n + 3, MPS_HIGH_EDGE);
	put8(t, n + 5, 1); /* LINT1 */
	n += 6;
	finish(t, n);
	return n;
}

int acpi_build(const struct acpi_config *cfg, uint8_t *buf, size_t cap, struct acpi_tables *out)
{
	struct aml aml = { 0 };

	if (cfg->cpus < 1 || cfg->cpus > ACPI_MAX_CPUS || (cfg->base & 15) || cfg->uart_irq > 15 || cfg->s5_type > 7 ||
	    cfg->sleep_port == 0xffff || !dsdt_aml(cfg, &aml))
		return -1;
	size_t xsdt = align16(RSDP_LEN), fadt = align16(xsdt + HDR_LEN + 8 * XSDT_ENTRIES);
	size_t madt = align16(fadt + FADT_LEN);
	size_t madt_max = HDR_LEN + 8 + 8 * (size_t)cfg->cpus + 12 + 10 + 6;
	size_t dsdt = align16(madt + madt_max), end = dsdt + HDR_LEN + aml.n;
	if (end > cap || end > ACPI_MAX_SIZE)
		return -1;
	memset(buf, 0, cap);
	*out = (struct acpi_tables){
		.rsdp = cfg->base, .xsdt = cfg->base + xsdt, .fadt = cfg->base + fadt, .madt = cfg->base + madt,
		.dsdt = cfg->base + dsdt, .size = end,
	};

	header(buf + dsdt, "DSDT", DSDT_REVISION);
	memcpy(buf + dsdt + HDR_LEN, aml.b, aml.n);
	finish(buf + dsdt, HDR_LEN + aml.n);
	build_fadt(cfg, buf + fadt, out->dsdt);
	build_madt(cfg, buf + madt);

	uint8_t *x = buf + xsdt;
	header(x, "XSDT", 1);
	put64(x, HDR_LEN, out->fadt);
	put64(x, HDR_LEN + 8, out->madt);
	finish(x, HDR_LEN + 8 * XSDT_ENTRIES);

	/* RSDP: ACPI 2.0+, no RSDT (XSDT only); the first checksum covers
	 * the ACPI 1.0 part, the extended one all 36 bytes. */
	memcpy(buf, "RSD PTR ", 8);
	memcpy(buf + 9, ACPI_OEM_ID, 6);
	put8(buf, 15, 2);
	put32(buf, 20, RSDP_LEN);
	put64(buf, 24, out->xsdt);
	buf[8] = (uint8_t)-acpi_sum(buf, RSDP_V1_LEN);
	buf[32] = (uint8_t)-acpi_sum(buf, RSDP_LEN);
	return 0;
}
