/*
 * Unit tests for src/acpi.c (the ACPI tables of a --kernel guest) and
 * src/devices/acpi_sleep.c (the sleep registers): every table's
 * signature, length and checksum, the RSDP's two checksums and its XSDT,
 * the XSDT's entries, the FADT's flags, sleep registers and DSDT pointer,
 * one MADT local APIC per CPU with the IOAPIC and the IRQ 0 override, the
 * DSDT's COM1 and \_S5 bytes, AML PkgLength at each size's edges, the
 * refusals; the sleep device's S5 write,
 * the writes that must not power off, WAK_STS.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "acpi.h"
#include "devices/acpi_sleep.h"
#include "linux_boot.h"

#define BASE 0xe0000u
static uint8_t buf[0x20000];

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t rd64(const uint8_t *p)
{
	return rd32(p) | (uint64_t)rd32(p + 4) << 32;
}
static const uint8_t *at(uint64_t gpa)
{
	assert_true(gpa >= BASE && gpa - BASE < sizeof(buf));
	return buf + (gpa - BASE);
}

static void build(unsigned cpus, struct acpi_tables *t)
{
	struct acpi_config cfg;
	linux_acpi_config(&cfg, cpus);
	assert_int_equal(cfg.base, BASE);
	memset(buf, 0xa5, sizeof(buf));
	assert_int_equal(acpi_build(&cfg, buf, sizeof(buf), t), 0);
	assert_true(t->size <= ACPI_MAX_SIZE);
}

/* A table at gpa: its signature, a length inside what was built, a
 * right checksum, pvmm's OEM ID. Returns its length. */
static uint32_t check_table(const struct acpi_tables *t, uint64_t gpa, const char *sig, uint8_t revision)
{
	const uint8_t *p = at(gpa);
	uint32_t len = rd32(p + 4);
	assert_int_equal(gpa % 16, 0);
	assert_memory_equal(p, sig, 4);
	assert_true(len >= 36 && gpa - BASE + len <= t->size);
	assert_int_equal(p[8], revision);
	assert_int_equal(acpi_sum(p, len), 0);
	assert_memory_equal(p + 10, ACPI_OEM_ID, 6);
	return len;
}

static void test_rsdp_xsdt(void **state)
{
	(void)state;
	struct acpi_tables t;
	build(1, &t);
	assert_int_equal(t.rsdp, BASE);
	const uint8_t *r = at(t.rsdp);
	assert_memory_equal(r, "RSD PTR ", 8);
	assert_int_equal(acpi_sum(r, 20), 0); /* ACPI 1.0 checksum */
	assert_int_equal(acpi_sum(r, 36), 0); /* extended checksum */
	assert_int_equal(r[15], 2);           /* ACPI 2.0+ */
	assert_int_equal(rd32(r + 16), 0);    /* no RSDT */
	assert_int_equal(rd32(r + 20), 36);
	assert_int_equal(rd64(r + 24), t.xsdt);
	uint32_t len = check_table(&t, t.xsdt, "XSDT", 1);
	assert_int_equal(len, 36 + 2 * 8);
	assert_int_equal(rd64(at(t.xsdt) + 36), t.fadt);
	assert_int_equal(rd64(at(t.xsdt) + 44), t.madt);
	/* The tables do not overlap. */
	assert_true(t.xsdt >= t.rsdp + 36 && t.fadt >= t.xsdt + len && t.madt >= t.fadt + 276 &&
		    t.dsdt >= t.madt + rd32(at(t.madt) + 4));
}

static void check_gas_io8(const uint8_t *g, uint16_t port)
{
	assert_int_equal(g[0], 1); /* SystemIO */
	assert_int_equal(g[1], 8);
	assert_int_equal(g[2], 0);
	assert_int_equal(g[3], 1); /* byte access */
	assert_int_equal(rd64(g + 4), port);
}

static void test_fadt(void **state)
{
	(void)state;
	struct acpi_tables t;
	build(1, &t);
	assert_int_equal(check_table(&t, t.fadt, "FACP", 6), 276);
	const uint8_t *f = at(t.fadt);
	uint32_t flags = rd32(f + 112);
	assert_true(flags & ACPI_FADT_HW_REDUCED);
	assert_true(flags & ACPI_FADT_RESET_REG_SUP);
	assert_int_equal(f[131], 3);         /* 6.3 */
	assert_int_equal(rd32(f + 36), 0);   /* no FACS: hardware-reduced */
	assert_int_equal(rd32(f + 40), 0);   /* the 32-bit DSDT: X_DSDT instead */
	assert_int_equal(rd64(f + 140), t.dsdt);
	assert_int_equal(rd32(f + 76), 0);   /* no PM timer */
	assert_int_equal(f[91], 0);
	assert_int_equal(rd32(f + 64), 0);   /* no PM1 control block */
	check_gas_io8(f + 244, ACPI_SLEEP_PORT);
	check_gas_io8(f + 256, ACPI_SLEEP_PORT + 1);
	check_gas_io8(f + 116, 0x64);        /* reset: the i8042 */
	assert_int_equal(f[128], 0xfe);
	assert_int_equal(rd32(f + 109) & 0xffff, ACPI_BOOT_LEGACY_DEVICES | ACPI_BOOT_8042 | ACPI_BOOT_NO_VGA);
	assert_memory_equal(f + 268, "PVMM", 4);
}

/* The MADT of `cpus`: header, one enabled local APIC per CPU with APIC
 * ID = index, the IOAPIC, ISA IRQ 0 -> GSI 2, the LINT1 NMI. */
static void check_madt(unsigned cpus)
{
	struct acpi_tables t;
	build(cpus, &t);
	uint32_t len = check_table(&t, t.madt, "APIC", 5);
	const uint8_t *m = at(t.madt);
	assert_int_equal(rd32(m + 36), 0xfee00000u);
	assert_int_equal(rd32(m + 40), 1); /* PCAT_COMPAT */
	unsigned lapics = 0, ioapics = 0, isos = 0, nmis = 0;
	for (uint32_t off = 44; off < len;) {
		const uint8_t *e = m + off;
		assert_true(e[1] >= 2 && off + e[1] <= len);
		switch (e[0]) {
		case 0:
			assert_int_equal(e[1], 8);
			assert_int_equal(e[2], lapics);
			assert_int_equal(e[3], lapics);
			assert_int_equal(rd32(e + 4), 1);
			lapics++;
			break;
		case 1:
			assert_int_equal(e[1], 12);
			assert_int_equal(e[2], LINUX_IOAPIC_ID);
			assert_int_equal(rd32(e + 4), LINUX_IOAPIC_ADDR);
			assert_int_equal(rd32(e + 8), 0);
			ioapics++;
			break;
		case 2:
			assert_int_equal(e[1], 10);
			assert_int_equal(e[2], 0); /* ISA */
			assert_int_equal(e[3], 0); /* IRQ 0 */
			assert_int_equal(rd32(e + 4), 2);
			assert_int_equal(e[8] | e[9] << 8, 0x5); /* edge, active high */
			isos++;
			break;
		case 4:
			assert_int_equal(e[1], 6);
			assert_int_equal(e[5], 1);
			nmis++;
			break;
		default:
			fail_msg("unexpected MADT entry type %u", e[0]);
		}
		off += e[1];
	}
	assert_int_equal(lapics, cpus);
	assert_int_equal(ioapics, 1);
	assert_int_equal(isos, 1);
	assert_int_equal(nmis, 1);
}

static void test_madt(void **state)
{
	(void)state;
	check_madt(1);
	check_madt(2);
	check_madt(ACPI_MAX_CPUS);
}

static const uint8_t *find(const uint8_t *p, size_t len, const void *needle, size_t n)
{
	for (size_t i = 0; i + n <= len; i++)
		if (memcmp(p + i, needle, n) == 0)
			return p + i;
	return NULL;
}

static void test_dsdt(void **state)
{
	(void)state;
	struct acpi_tables t;
	build(2, &t);
	uint32_t len = check_table(&t, t.dsdt, "DSDT", 2);
	const uint8_t *d = at(t.dsdt);
	/* Scope (\_SB) { Device (COM1) { Name (_HID, EisaId ("PNP0501")) ... */
	static const uint8_t scope[] = { 0x10, 0x33, '\\', '_', 'S', 'B', '_', 0x5b, 0x82, 0x2b, 'C', 'O', 'M', '1' };
	static const uint8_t hid[] = { 0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x05, 0x01 };
	/* Name (_CRS, Buffer (13) { IO (Decode16, 0x3f8, 0x3f8, 1, 8), IRQNoFlags () {4}, end }) */
	static const uint8_t crs[] = { 0x08, '_', 'C', 'R', 'S', 0x11, 0x10, 0x0a, 0x0d, 0x47, 0x01, 0xf8, 0x03,
				       0xf8, 0x03, 0x01, 0x08, 0x22, 0x10, 0x00, 0x79, 0x00 };
	/* Name (\_S5, Package (4) { 5, 5, 0, 0 }) */
	static const uint8_t s5[] = { 0x08, '\\', '_', 'S', '5', '_', 0x12, 0x08, 0x04, 0x0a, ACPI_SLEEP_S5_TYPE,
				      0x0a, ACPI_SLEEP_S5_TYPE, 0x00, 0x00 };
	assert_memory_equal(d + 36, scope, sizeof(scope));
	assert_non_null(find(d, len, hid, sizeof(hid)));
	assert_non_null(find(d, len, crs, sizeof(crs)));
	assert_memory_equal(d + len - sizeof(s5), s5, sizeof(s5));
	/* The scope's PkgLength (0x33) covers everything up to \_S5. */
	assert_int_equal(36 + 1 + 0x33, len - sizeof(s5));
}

static void test_refusals(void **state)
{
	(void)state;
	struct acpi_config cfg;
	struct acpi_tables t;
	linux_acpi_config(&cfg, 0);
	assert_int_equal(acpi_build(&cfg, buf, sizeof(buf), &t), -1);
	linux_acpi_config(&cfg, ACPI_MAX_CPUS + 1);
	assert_int_equal(acpi_build(&cfg, buf, sizeof(buf), &t), -1);
	linux_acpi_config(&cfg, 1);
	cfg.base += 8; /* the RSDP must be 16-byte aligned */
	assert_int_equal(acpi_build(&cfg, buf, sizeof(buf), &t), -1);
	linux_acpi_config(&cfg, 1);
	assert_int_equal(acpi_build(&cfg, buf, 200, &t), -1); /* too small */
	assert_int_equal(acpi_build(&cfg, buf, sizeof(buf), &t), 0);
	/* Exactly the size it reports is enough. */
	assert_int_equal(acpi_build(&cfg, buf, t.size, &t), 0);
	assert_int_equal(acpi_build(&cfg, buf, t.size - 1, &t), -1);
}

/* PkgLength in each of its four sizes, at their edges: the value is the
 * package's whole length, the encoding's own bytes included. */
static void check_pkglen(size_t len, size_t n, const uint8_t *want)
{
	uint8_t b[4] = { 0 };
	assert_int_equal(acpi_aml_pkglen(b, len), n);
	assert_memory_equal(b, want, n);
	size_t total = n == 1 ? b[0] : b[0] & 0xf;
	for (size_t i = 1; i < n; i++)
		total |= (size_t)b[i] << (4 + 8 * (i - 1));
	assert_int_equal(total, len + n);
	assert_int_equal(b[0] >> 6, n - 1);
}

static void test_aml_pkglen(void **state)
{
	(void)state;
	check_pkglen(0, 1, (const uint8_t[]){ 0x01 });
	check_pkglen(62, 1, (const uint8_t[]){ 0x3f });
	check_pkglen(63, 2, (const uint8_t[]){ 0x41, 0x04 });        /* 65 */
	check_pkglen(0xffd, 2, (const uint8_t[]){ 0x4f, 0xff });     /* 0xfff */
	check_pkglen(0xffe, 3, (const uint8_t[]){ 0x81, 0x00, 0x01 }); /* 0x1001 */
	check_pkglen(0xffffc, 3, (const uint8_t[]){ 0x8f, 0xff, 0xff });
	check_pkglen(0xffffd, 4, (const uint8_t[]){ 0xc1, 0x00, 0x00, 0x01 });
	check_pkglen(0xffffffb, 4, (const uint8_t[]){ 0xcf, 0xff, 0xff, 0xff });
	uint8_t b[4];
	assert_int_equal(acpi_aml_pkglen(b, 0xffffffc), 0); /* too long for AML */
}

static int poweroffs;
static void on_poweroff(void *ctx)
{
	(void)ctx;
	poweroffs++;
}

static uint8_t io(struct acpi_sleep *s, uint16_t off, bool write, uint8_t v)
{
	acpi_sleep_io(s, off, write, &v, 1);
	return v;
}

static void test_sleep_registers(void **state)
{
	(void)state;
	struct acpi_sleep s = { .poweroff = on_poweroff };
	poweroffs = 0;
	assert_int_equal(io(&s, 1, false, 0xff), 0); /* WAK_STS clear at reset */
	io(&s, 0, true, ACPI_SLEEP_S5_TYPE << ACPI_SLP_TYP_SHIFT); /* no SLP_EN */
	assert_int_equal(poweroffs, 0);
	io(&s, 0, true, 3 << ACPI_SLP_TYP_SHIFT | ACPI_SLP_EN); /* S3: not a state here */
	assert_int_equal(poweroffs, 0);
	assert_int_equal(io(&s, 1, false, 0), ACPI_WAK_STS); /* woke at once */
	io(&s, 1, true, 0x7f); /* writing 0 to WAK_STS keeps it */
	assert_int_equal(io(&s, 1, false, 0), ACPI_WAK_STS);
	io(&s, 1, true, ACPI_WAK_STS); /* write 1 to clear */
	assert_int_equal(io(&s, 1, false, 0), 0);
	io(&s, 1, true, ACPI_SLEEP_S5_TYPE << ACPI_SLP_TYP_SHIFT | ACPI_SLP_EN); /* the status port */
	assert_int_equal(poweroffs, 0);
	assert_int_equal(io(&s, 0, false, 0xff), 0);
	io(&s, 0, true, ACPI_SLEEP_S5_TYPE << ACPI_SLP_TYP_SHIFT | ACPI_SLP_EN);
	assert_int_equal(poweroffs, 1);
	/* A wide access: a byte each, nothing past the two ports. */
	uint8_t w[4] = { ACPI_SLEEP_S5_TYPE << ACPI_SLP_TYP_SHIFT | ACPI_SLP_EN, 0, 0, 0 };
	acpi_sleep_io(&s, 0, true, w, 4);
	assert_int_equal(poweroffs, 2);
	memset(w, 0, sizeof(w));
	acpi_sleep_io(&s, 1, false, w, 3);
	assert_int_equal(w[0], 0);
	assert_int_equal(w[1], 0xff);
	assert_int_equal(w[2], 0xff);
	assert_int_equal(w[3], 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rsdp_xsdt), cmocka_unit_test(test_fadt),	   cmocka_unit_test(test_madt),
		cmocka_unit_test(test_dsdt),	  cmocka_unit_test(test_refusals), cmocka_unit_test(test_sleep_registers),
		cmocka_unit_test(test_aml_pkglen),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
