/* The run loop: KVM_RUN, dispatch the exit, repeat until the VM stops. */
#ifndef PVMM_VCPU_H
#define PVMM_VCPU_H

#include <stdbool.h>

#include "vm.h"

/* Arrange for SIGINT/SIGTERM and an optional timeout (seconds, 0 = none)
 * to stop the vCPU cleanly. Call before vcpu_run(). */
int vcpu_install_stops(struct vm *vm, double timeout_s);

/* Run until the guest exits or fails; returns the process exit status. */
int vcpu_run(struct vm *vm);

/* True once a timeout or signal asked the VM to stop; long host waits on
 * the guest's behalf (poll, console) give up when this is set. */
bool vcpu_stop_requested(void);

#endif
