/* The vCPU threads and their run loop: KVM_RUN, dispatch the exit, repeat
 * until the VM stops; and the main thread that supervises them. */
#ifndef PVMM_VCPU_H
#define PVMM_VCPU_H

#include <signal.h>
#include <stdbool.h>

#include "vm.h"

/* Kicks a vCPU thread out of KVM_RUN or a blocking call (vm_kick_all). */
#define VCPU_KICK_SIGNAL SIGUSR2

/* Arrange for SIGINT/SIGTERM and an optional timeout (seconds, 0 = none)
 * to stop every vCPU, and for SIGTSTP (Ctrl-Z) to pause the VM. Call
 * before vcpu_run(), after vm_ctl_init(). */
int vcpu_install_stops(struct vm *vm, double timeout_s);

/* On the main thread: start one thread per vCPU (CPU 0 at its boot
 * registers, the others when the guest starts them), supervise them until
 * the VM stops, join them all. A VM with one vCPU runs it on the main
 * thread instead. Returns the process exit status. */
int vcpu_run(struct vm *vm);

/* On the main thread running the VM's only vCPU (outside KVM_RUN): take a
 * pending Ctrl-Z pause here. Does nothing on any other thread. */
void vcpu_take_pause(struct vm *vm);

/* True on that thread while such a pause is pending (vcpu_take_pause
 * would take it). */
bool vcpu_pause_wanted(void);

/* Ctrl-A z on a raw console (any thread): ask the main thread to pause
 * the VM, or, while that pause lasts, to resume it. */
void vcpu_console_pause(struct vm *vm);

#endif
