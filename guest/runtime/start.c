/*
 * From _start to main: check the boot info, load the IDT, build argv, run
 * main, exit with its status.
 *
 * Kept to a few dozen instructions (every one is interpreted without
 * VT-x): the IDT is constant, .bss is already zero (the monitor zero-fills
 * RAM) and the page allocator only records its bounds.
 */
#include <stdlib.h>
#include <string.h>
#include <pvmm/guest.h>
#include <pvmm/virtio_console.h>
#include "runtime.h"

int main(int argc, char **argv);

__attribute__((noreturn)) void pvmm_start(struct pvmm_boot_info *bi);

/* Bit t: the monitor lists a device of type t (types below 32). */
static uint32_t device_types(const struct pvmm_boot_info *bi)
{
	uint32_t types = 0;
	for (uint32_t i = 0; i < bi->device_count && i < PVMM_MAX_DEVICES; i++)
		if (bi->devices[i].type < 32)
			types |= 1u << bi->devices[i].type;
	return types;
}

void pvmm_start(struct pvmm_boot_info *bi)
{
	/* First, so that even a bad boot info pointer is reported as a fault
	 * rather than a triple fault. */
	idt_load();

	if (bi->magic != PVMM_BOOT_MAGIC)
		runtime_abort("pvmm runtime: bad boot info magic (not started by a pvmm monitor?)");
	if (PVMM_VERSION_MAJOR_OF(bi->version) != PVMM_PARA_VERSION_MAJOR)
		panic("pvmm runtime: the monitor speaks para-API %u.%u, this guest was built for %u.%u",
		      PVMM_VERSION_MAJOR_OF(bi->version), bi->version & 0xffff,
		      PVMM_PARA_VERSION_MAJOR, PVMM_PARA_VERSION_MINOR);
	para_set_boot_info(bi);
	page_init(bi->usable_start, bi->usable_end);
	/* A monitor that already mapped text and rodata read-only (1.6)
	 * saves the start-up an MMU call. */
	if (!(bi->flags & PVMM_BOOT_F_IMAGE_RO))
		mmu_protect_image();
	/* --console virtio / uart: stdio moves to the virtio console or the
	 * UART (no device access unless the monitor lists such devices).
	 * One pass over the list spares guests without them both searches. */
	uint32_t types = device_types(bi);
	if (types & (1u << PVMM_DEV_VIRTIO_MMIO | 1u << PVMM_DEV_VIRTIO_PCI))
		vcons_stdio_autostart();
	if (!vcons_is_stdio() && (types & 1u << PVMM_DEV_UART_16550))
		uart_stdio_autostart();

	/* argv[i] points into the monitor's argument area: argc NUL-terminated
	 * strings back to back in args_len bytes. Each needs at least one
	 * byte, which bounds argc (and the VLA) before anything is read. */
	uint32_t argc = bi->argc;
	if (argc > bi->args_len)
		runtime_abort("pvmm runtime: boot info argc exceeds args_len");
	char *argv[argc + 1];
	char *arg = (char *)(uintptr_t)bi->args;
	size_t left = bi->args_len;
	for (uint32_t i = 0; i < argc; i++) {
		size_t len = strnlen(arg, left);
		if (len == left)
			runtime_abort("pvmm runtime: boot info argument strings overrun args_len");
		argv[i] = arg;
		arg += len + 1;
		left -= len + 1;
	}
	argv[argc] = NULL;

	int status = main((int)argc, argv);
	/* pvmm's own verdicts use 64 and up: say what happened, as status 64. */
	if (status > PVMM_EXIT_STATUS_MAX)
		panic("main returned %d, which is above %d (the highest status a guest can exit with): reported as 64",
		      status, PVMM_EXIT_STATUS_MAX);
	if (status < 0)
		panic("main returned %d, which is below 0: reported as 64", status);
	exit(status);
}
