/*
 * Ring 3: the trap port (PVMM_PORT_TRAP), where the monitor's exception
 * stubs (trap_stubs.c) hand a guest's CPU exception to the monitor, which
 * reports it as a guest fault (status 65), as a ring-0 runtime's own
 * handler would. The I/O bitmap closes the port to CPL3.
 */
#ifndef PVMM_TRAP_PORT_H
#define PVMM_TRAP_PORT_H

#include "vm.h"

/* Put the trap port on the port bus; 0, or -1 if it is taken. */
int trap_port_attach(struct vm *vm);

#endif
