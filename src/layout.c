#include "layout.h"

int layout_mark_private(struct guest_mem *mem, unsigned ring)
{
	/* The whole low area is the monitor's, but for what the guest owns:
	 * the boot info and argument strings, the main stack, and at ring 0
	 * the IST1 stacks, where the guest's own exception handlers run (and
	 * build their ABORT blocks). At ring 3 those stacks are the
	 * monitor's stubs'. */
	if (guest_mem_set_private(mem, 0, LAYOUT_LOW_END, true) ||
	    guest_mem_set_private(mem, LAYOUT_BOOT_INFO, LAYOUT_ARGS_END - LAYOUT_BOOT_INFO, false) ||
	    guest_mem_set_private(mem, LAYOUT_STACK_GUARD + PAGE_SIZE, LAYOUT_STACK_SIZE, false))
		return -1;
	if (ring == 3)
		return 0;
	if (guest_mem_set_private(mem, LAYOUT_IST_GUARD + PAGE_SIZE, LAYOUT_IST_TOP - LAYOUT_IST_GUARD - PAGE_SIZE,
				  false) ||
	    guest_mem_set_private(mem, LAYOUT_AP_IST, (LAYOUT_MAX_CPUS - 1) * LAYOUT_AP_IST_SIZE, false))
		return -1;
	return 0;
}
