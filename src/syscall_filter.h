/*
 * Per-thread seccomp filters (docs/security.md). Every thread of a running
 * VM loads the filter of its role itself, once set-up is over and before
 * it does the work a guest can drive: the allow lists of all roles are the
 * one table in seccomp.c. A forbidden call raises SIGSYS, whose handler
 * writes one line naming the role and the call and exits with
 * PVMM_STATUS_SANDBOX.
 */
#ifndef PVMM_SYSCALL_FILTER_H
#define PVMM_SYSCALL_FILTER_H

#include <stdbool.h>

enum sysfilter_role {
	SECCOMP_ROLE_MAIN,    /* the supervisor; with one vCPU it also runs CPU 0 */
	SECCOMP_ROLE_VCPU,    /* a vCPU thread of a VM with several */
	SECCOMP_ROLE_IO,      /* the I/O thread (iothread.c) */
	SECCOMP_ROLE_METRICS, /* the --metrics-path thread */
	SECCOMP_ROLE_API,     /* the API socket's thread */
	SECCOMP_ROLE_VHOST_USER, /* both threads of `pvmm vhost-user` once it listens */
	SECCOMP_ROLE_CONSOLE_INPUT, /* a raw console's input thread (term.c) */
	SECCOMP_ROLE_COUNT,
};

/* --seccomp on|off for this process (default on). */
void sysfilter_set_enabled(bool on);
bool sysfilter_enabled(void);

/* Load the filter of `role` into the calling thread (and the SIGSYS
 * handler, once per process). `main_runs_vcpu`: the main thread also
 * runs CPU 0 (ignored for other roles). 0, or -1 after a message. A no-op
 * with --seccomp off. */
int sysfilter_enter(enum sysfilter_role role, bool main_runs_vcpu);

/* The SIGSYS handler alone (installed by sysfilter_enter too). */
int sysfilter_install_handler(void);

const char *sysfilter_role_name(enum sysfilter_role role);

#endif
