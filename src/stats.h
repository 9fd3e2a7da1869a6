/* Counters behind --stats: exits by reason, para-API calls by number. */
#ifndef PVMM_STATS_H
#define PVMM_STATS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <pvmm/para.h>

#define STATS_EXIT_REASONS 64

/* KVM's own per-vCPU counters (KVM_GET_STATS_FD). On VT-x/SVM hosts
 * `exits` includes exits the kernel handles itself (ioeventfd kicks, host
 * interrupts); on hosts whose KVM interprets guest kernel code (no VT-x)
 * an ioeventfd kick is emulated without any exit, and `exits` counts the
 * exits to pvmm plus the emulator's time slices (~2 per ms of guest run
 * time): there it measures time, not I/O (see bench/README.md). */
struct kvm_counters {
	bool valid;
	uint64_t exits, halt_exits, irq_injections;
	/* What KVM's MMU did for the guest's page tables: page faults it
	 * took, those it emulated (a write to a page table it shadows, on a
	 * host without EPT/NPT) and those it handed to the guest; its TLB
	 * flushes and invlpg exits; instructions its emulator ran. */
	uint64_t pf_taken, pf_emulate, pf_guest, tlb_flush, invlpg, insn_emulation;
};

/* KVM's own per-VM counters (KVM_GET_STATS_FD on the VM): its shadow
 * MMU's work, zero where EPT/NPT leave page tables to the hardware. */
struct kvm_vm_counters {
	bool valid;
	uint64_t mmu_pte_write;     /* emulated guest writes checked against shadowed page tables */
	uint64_t mmu_shadow_zapped; /* shadow pages dropped */
	uint64_t mmu_flooded;       /* shadow pages dropped for too many writes */
	uint64_t remote_tlb_flush;  /* TLB flushes of every vCPU */
};

/* CPU time of one thread. total_ns is exact (CLOCK_THREAD_CPUTIME_ID: the
 * scheduler's run time); the user/system split is getrusage(RUSAGE_THREAD),
 * which kernels with tick-based accounting (CONFIG_TICK_CPU_ACCOUNTING, the
 * usual case) sample once per timer tick and scale to the exact total, so
 * on short runs it is only a statistical estimate. Every time a thread
 * blocks and is woken costs CPU on both sides (tens of microseconds on a
 * nested VM), so `sleeps` often explains the total. */
struct thread_cpu {
	bool valid;
	uint64_t total_ns, user_ns, sys_ns;
	uint64_t sleeps;        /* voluntary context switches: times it blocked (exact) */
};

#define STATS_MAX_CPUS 64

/* One vCPU's own counters, written only by its thread. */
struct vcpu_stats {
	bool ran;                               /* its thread entered the run loop */
	bool main_thread;                       /* run by the main thread (a VM with one vCPU) */
	uint64_t exits[STATS_EXIT_REASONS];     /* by KVM_EXIT_* */
	struct thread_cpu begin, end;           /* its thread at run loop start and end */
	struct kvm_counters kvm;                /* read once at the end */
};

/* Counters several threads update are atomic (__atomic builtins). */
struct vm_stats {
	uint64_t start_ns;                      /* CLOCK_MONOTONIC at monitor start */
	uint64_t exits[STATS_EXIT_REASONS];     /* by KVM_EXIT_*, all vCPUs: stats_sum_vcpus() */
	uint64_t calls[PVMM_PORT_COUNT];        /* para-API calls by number (atomic) */
	uint64_t stray_io;                      /* port I/O outside the para-API (atomic) */
	uint64_t int3_injected;                 /* --kernel: int3s raised as #BP by the monitor (atomic) */
	uint64_t iret_emulated;                 /* --kernel: irets the monitor completed (atomic) */
	uint64_t other_emulated;                /* --kernel: clac/stac/popcnt/fwait the monitor completed (atomic) */
	uint64_t console_bytes_out, console_bytes_in; /* atomic */
	uint64_t console_bytes_dropped;         /* output a stop left undelivered (atomic) */
	uint64_t upcalls, upcalls_held;         /* ring 3 interrupts entered / held while masked (atomic) */
	uint64_t upcalls_dropped;               /* with no upcall registered (atomic) */
	uint64_t mmu_recycles;                  /* PV MMU pool recycles (under its lock) */
	struct kvm_counters kvm;                /* all vCPUs' sums: stats_sum_vcpus() */
	struct kvm_vm_counters kvm_vm;          /* the VM's, read with the vCPUs' (kvm_read_counters) */
	/* Monitor CPU, per thread. A vCPU thread's system time is mostly
	 * KVM running (here: interpreting) guest code, so it is not monitor
	 * work; its user time is. Monitor CPU = I/O thread (all of it) +
	 * vCPU threads' user time during the run loop + other threads. */
	const struct vcpu_stats *vcpu[STATS_MAX_CPUS]; /* each vCPU's, set by kvm_create */
	unsigned vcpu_count;
	struct thread_cpu iothread;             /* the I/O thread, read by itself as it ended */
};

/* Add a counter several threads update. */
#define STATS_ADD(field, n) __atomic_fetch_add(&(field), (n), __ATOMIC_RELAXED)

uint64_t stats_now_ns(void);

/* A "Key:" line of /proc/self/status in KiB (e.g. "VmRSS:"), or -1. The
 * file stays open: stats_open_proc_status() before the sandbox. */
void stats_open_proc_status(void);
long stats_proc_status_kib(const char *key);
/* The calling thread's CPU time so far. */
void stats_thread_cpu(struct thread_cpu *cpu);
/* On a vCPU's thread, just before and just after its run loop. */
void stats_vcpu_begin(struct vcpu_stats *stats);
void stats_vcpu_end(struct vcpu_stats *stats);
/* Once every vCPU thread is joined: the VM-wide exit and KVM totals. */
void stats_sum_vcpus(struct vm_stats *stats);
const char *stats_exit_name(unsigned reason);
const char *stats_call_name(unsigned call);
void stats_print(const struct vm_stats *stats, FILE *out);

/* The same figures as JSON object members (no braces), for --stats-json. */
void stats_print_json(const struct vm_stats *stats, FILE *out);

#endif
