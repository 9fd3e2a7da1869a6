/*
 * acpi_dump CPUS DIR: write the ACPI tables src/acpi.c builds for a
 * --kernel guest with CPUS vCPUs (linux_boot.c's configuration) to
 * DIR/rsdp.dat, xsdt.dat, facp.dat, apic.dat, dsdt.dat, one table each,
 * for test_linux.sh to disassemble with acpica-tools' iasl -d.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acpi.h"
#include "linux_boot.h"

static int write_table(const char *dir, const char *name, const uint8_t *p, size_t len)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s.dat", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(p, 1, len, f) != len || fclose(f)) {
		fprintf(stderr, "acpi_dump: cannot write %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

static uint32_t len32(const uint8_t *p)
{
	return (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;
}

int main(int argc, char **argv)
{
	static uint8_t buf[ACPI_MAX_SIZE];
	struct acpi_config cfg;
	struct acpi_tables t;
	char *end;

	if (argc != 3) {
		fprintf(stderr, "usage: acpi_dump CPUS DIR\n");
		return 2;
	}
	unsigned long cpus = strtoul(argv[1], &end, 10);
	if (*end || cpus < 1 || cpus > ACPI_MAX_CPUS) {
		fprintf(stderr, "acpi_dump: CPUS is 1 to %u\n", ACPI_MAX_CPUS);
		return 2;
	}
	linux_acpi_config(&cfg, (unsigned)cpus);
	if (acpi_build(&cfg, buf, sizeof(buf), &t)) {
		fprintf(stderr, "acpi_dump: acpi_build failed\n");
		return 1;
	}
	const struct { const char *name; uint64_t at; } tables[] = {
		{ "xsdt", t.xsdt }, { "facp", t.fadt }, { "apic", t.madt }, { "dsdt", t.dsdt },
	};
	if (write_table(argv[2], "rsdp", buf, 36))
		return 1;
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		const uint8_t *p = buf + (tables[i].at - t.rsdp);
		if (write_table(argv[2], tables[i].name, p, len32(p)))
			return 1;
	}
	return 0;
}
