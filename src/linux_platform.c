#include "linux_platform.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "devices/acpi_sleep.h"
#include "devices/cmos_rtc.h"
#include "devices/i8042.h"
#include "irq.h"
#include "log.h"
#include "pio.h"

struct linux_platform {
	struct vm *vm;
	struct i8042 kbc;
	struct cmos_rtc rtc;
	struct acpi_sleep sleep;
};

/* The i8042's reset line: the guest rebooted; pvmm has no firmware to
 * restart it with, so the VM ends, and that is a clean end. */
static void guest_reset(void *ctx)
{
	struct linux_platform *p = ctx;
	if (vm_stop(p->vm, 0))
		log_info("guest reset (the kernel pulsed the i8042 reset line); VM stopped");
}

/* ACPI S5 through the sleep control register (poweroff): the guest is
 * done, a clean end. */
static void guest_poweroff(void *ctx)
{
	struct linux_platform *p = ctx;
	if (vm_stop(p->vm, 0))
		log_info("guest powered off (ACPI S5 through the sleep control register); VM stopped");
}

int linux_platform_attach(struct vm *vm, const struct cpuid_mask *mask, bool hw_virt)
{
	struct linux_platform *p = calloc(1, sizeof(*p));
	if (!p) {
		log_error("out of memory");
		return -1;
	}
	vm->linux_platform = p;
	p->vm = vm;
	p->kbc = (struct i8042){ .reset = guest_reset, .ctx = p };
	p->sleep = (struct acpi_sleep){ .poweroff = guest_poweroff, .ctx = p };
	if (pio_register(&vm->pio, I8042_DATA_PORT, 1, "i8042-data", i8042_data_io, &p->kbc) ||
	    pio_register(&vm->pio, I8042_CMD_PORT, 1, "i8042-command", i8042_cmd_io, &p->kbc) ||
	    pio_register(&vm->pio, CMOS_INDEX_PORT, CMOS_PORTS, "cmos-rtc", cmos_rtc_io, &p->rtc) ||
	    pio_register(&vm->pio, ACPI_SLEEP_PORT, ACPI_SLEEP_PORTS, "acpi-sleep", acpi_sleep_io, &p->sleep)) {
		log_error("internal error: cannot put the i8042, the RTC and the ACPI sleep registers on the port bus");
		return -1;
	}
	/* The speaker port 0x61 comes with it: Linux gates PIT channel 2
	 * through it to calibrate the TSC. */
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0) {
		log_error("cannot create the in-kernel PIT (KVM_CREATE_PIT2): %s", strerror(errno));
		return -1;
	}
	/* Every ISA interrupt where a PC has it, before the first MSI a PCI
	 * device's driver sets up replaces KVM's default table. */
	if (irq_set_isa_wiring(vm))
		return -1;
	return cpuid_setup(vm, mask, hw_virt);
}

void linux_platform_free(struct vm *vm)
{
	free(vm->linux_platform);
	vm->linux_platform = NULL;
}
