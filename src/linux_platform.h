/*
 * The PC platform a stock Linux kernel (--kernel) probes, beyond the UART
 * the device list adds: the KVM PIT (channel 2's gate and the speaker
 * port 0x61 too), CPUID (cpuid.h), a CMOS RTC on 0x70/0x71, and an i8042
 * whose reset command ends the VM with status 0 ("guest reset"), and the
 * ACPI sleep registers at 0x600 (devices/acpi_sleep.h), whose S5 write
 * ends it with status 0 too ("guest powered off"); the ACPI tables that
 * describe them are linux_boot.c's. Ports
 * nobody claims read 0xff and swallow writes, counted as stray I/O (the
 * run loop's policy for every guest; for a kernel guest quietly, since
 * Linux probes many). The irqchip is left in KVM's reset state: the
 * kernel programs its PICs, IOAPIC and local APIC itself.
 */
#ifndef PVMM_LINUX_PLATFORM_H
#define PVMM_LINUX_PLATFORM_H

#include <stdbool.h>

#include "cpuid.h"
#include "vm.h"

/* After kvm_create() (irqchip and vCPUs exist), before the first
 * KVM_RUN. 0, or -1 after a message. */
int linux_platform_attach(struct vm *vm, const struct cpuid_mask *mask, bool hw_virt);
void linux_platform_free(struct vm *vm);

#endif
