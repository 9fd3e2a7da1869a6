/*
 * pvmm's process exit statuses. A guest's own exit(status) uses 0..63 and
 * passes through unchanged; the monitor's verdicts sit above that range,
 * except the conventional 1 (host trouble) and 2 (usage or image error,
 * reported before any guest code runs). docs/usage.md lists them; the
 * verdict names are metrics_verdict()'s.
 */
#ifndef PVMM_STATUS_H
#define PVMM_STATUS_H

#include <pvmm/para.h>

enum pvmm_status {
	PVMM_STATUS_HOST = 1,         /* host problem: /dev/kvm, memory, a failed KVM ioctl */
	PVMM_STATUS_USAGE = 2,        /* bad command line or bad guest image */
	PVMM_STATUS_GUEST_MAX = PVMM_EXIT_STATUS_MAX, /* highest status a guest may exit with */
	PVMM_STATUS_ABORT = 64,       /* the guest called abort (panic, assert) */
	PVMM_STATUS_FAULT = 65,       /* unhandled CPU exception, or access to unbacked memory */
	PVMM_STATUS_TRIPLE_FAULT = 66,/* the CPU shut down (exception during exception delivery) */
	PVMM_STATUS_EMULATION = 67,   /* KVM could not run an instruction (emulation failure) */
	PVMM_STATUS_BADCALL = 68,     /* malformed para-API call or port access the monitor cannot answer */
	PVMM_STATUS_TIMEOUT = 69,     /* --timeout expired */
	PVMM_STATUS_SIGNAL = 70,      /* stopped by SIGINT, SIGTERM or SIGHUP */
	PVMM_STATUS_CONSOLE_CLOSED = 71, /* console output's reader went away (EPIPE) */
	PVMM_STATUS_SANDBOX = 72,     /* a thread made a system call its seccomp filter forbids */
};

#endif
