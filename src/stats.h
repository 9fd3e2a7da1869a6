/* Counters behind --stats: exits by reason, para-API calls by number. */
#ifndef PVMM_STATS_H
#define PVMM_STATS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <pvmm/para.h>

#define STATS_EXIT_REASONS 64

/* KVM's own per-vCPU counters (KVM_GET_STATS_FD): they include exits the
 * kernel handles itself (ioeventfd kicks, halts), which never reach pvmm. */
struct kvm_counters {
	bool valid;
	uint64_t exits, halt_exits, irq_injections;
};

struct vm_stats {
	uint64_t start_ns;                      /* CLOCK_MONOTONIC at monitor start */
	uint64_t exits[STATS_EXIT_REASONS];     /* by KVM_EXIT_* */
	uint64_t calls[PVMM_PORT_COUNT];        /* para-API calls by number */
	uint64_t stray_io;                      /* port I/O outside the para-API */
	uint64_t console_bytes_out, console_bytes_in;
	struct kvm_counters kvm;                /* read once at the end */
};

uint64_t stats_now_ns(void);
const char *stats_exit_name(unsigned reason);
const char *stats_call_name(unsigned call);
void stats_print(const struct vm_stats *stats, FILE *out);

/* The same figures as JSON object members (no braces), for --stats-json. */
void stats_print_json(const struct vm_stats *stats, FILE *out);

#endif
