/*
 * One virtual machine: its KVM handles, its vCPUs, its RAM, its console,
 * its devices, its counters, and why it stopped. The run loop is in
 * vcpu.c; stopping, pausing and resuming in vmctl.c.
 */
#ifndef PVMM_VM_H
#define PVMM_VM_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include <linux/kvm.h>

#include <pvmm/para.h>

#include "guest_mem.h"
#include "mmio_bus.h"
#include "pio.h"
#include "stats.h"

struct emulated;
struct linux_platform;
struct iothread;
struct pvclock;
struct pvmmu;
struct vm_options;
struct virtio_dev;
struct pci_host;
struct vm;

#define VM_MAX_CPUS 64

/* A vCPU's life. CPU 0 starts RUNNING; the others WAIT until the guest's
 * PVMM_CALL_CPU_START moves them to STARTING, and their thread loads the
 * registers and runs. */
enum vcpu_state { VCPU_WAITING, VCPU_STARTING, VCPU_RUNNING };

/* One virtual CPU. `state` and `start_*` are under vm->ctl.lock; `stats`
 * is written only by the vCPU's own thread (read after it is joined). */
struct vcpu {
	struct vm *vm;
	unsigned index;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool thread_live;        /* created and not yet joined */
	enum vcpu_state state;
	uint64_t start_rip, start_rsp, start_rdi;
	uint64_t upcall_entry, upcall_info; /* ring 3's interrupt upcall (upcall.c); 0 = none */
	struct vcpu_stats stats;
	/* PV MMU (pvmmu.c): in KVM_RUN or about to be (atomic), and the
	 * root generation whose CR3 this vCPU has loaded. */
	bool mmu_in_guest;
	uint64_t mmu_gen;
	/* Parked by vm_checkpoint() inside a para call's handling (under
	 * vm->ctl.lock): that call is not complete, and a snapshot saves the
	 * vCPU at the call's `out` (the restored vCPU makes it again). */
	bool in_call;
	/* Restored from a snapshot already running: its thread skips the
	 * boot-time register load (cpu_boot_secondary). */
	bool restored_running;
};

/* A device's pause hooks (vm_add_hook): quiesce runs after every vCPU is
 * parked and the I/O thread paused, in registration order; resume in
 * reverse order. */
struct vm_hook {
	void (*quiesce)(void *opaque);
	void (*resume)(void *opaque);
	void *opaque;
};
#define VM_MAX_HOOKS 16

/* Stop and pause machinery (vmctl.c). */
struct vm_ctl {
	bool ready;              /* vm_ctl_init() done: lock, cond and wake_fd exist */
	pthread_mutex_t lock;
	pthread_cond_t cond;     /* vCPU parked/unparked/started, pause lifted */
	int wake_fd;             /* eventfd the supervisor (vcpu_run) sleeps on */
	bool pause_requested;    /* atomic: vCPUs park at their next chance */
	bool paused;             /* vm_pause() completed (under lock) */
	unsigned parked;         /* vCPU threads parked (waiting vCPUs included) */
	unsigned threads;        /* vCPU threads alive */
	uint64_t paused_at_ns;
	struct vm_hook hooks[VM_MAX_HOOKS];
	unsigned hook_count;
	/* (1.3) cpu_wake_fd[i]: CPU i's WAKE eventfd (non-blocking), made for
	 * the vm's cpu_count CPUs by vm_ctl_init (-1 beyond). WAKE writes it;
	 * CPU i's POLL with PVMM_POLL_WAKE waits on it and reads it to zero. */
	int cpu_wake_fd[VM_MAX_CPUS];
};

/* Interrupt controller state (irq.c). */
#define VM_IRQ_MSI_GSI_BASE 24  /* the first GSI past the IOAPIC's pins */
#define VM_IRQ_MSI_MAX 64
struct vm_irq {
	bool wanted;            /* the VM has interrupting devices: kvm_create() makes the irqchip */
	bool chip;              /* KVM_CREATE_IRQCHIP done */
	uint32_t pins;          /* bit p: IOAPIC pin p handed to a device */
	bool programmed;        /* irq_setup() done: irq_route() reprograms at once */
	uint8_t dest[24];       /* CPU (= APIC ID) each IOAPIC pin interrupts; 0 by default */
	/* MSI routes (GSIs VM_IRQ_MSI_GSI_BASE + i), handed out by
	 * irq_alloc_msi(); changed only under the PCI host's lock. */
	unsigned msi_count;
	bool routing_set;       /* KVM_SET_GSI_ROUTING done: KVM's defaults are gone */
	bool isa_wiring;        /* irq_set_isa_wiring(): every pin routed, PIT on pin 2 */
	struct vm_msi_route {
		bool valid;
		uint32_t addr_lo, addr_hi, data;
	} msi[VM_IRQ_MSI_MAX];
};

struct vm {
	/* vcpu_fd is vCPU 0's, for code that only needs the boot CPU. */
	int kvm_fd, vm_fd, vcpu_fd;
	unsigned cpu_count;      /* --cpus, 1..VM_MAX_CPUS */
	unsigned ring;           /* --ring: the guest's CPL, 0 or 3 (cpu.c) */
	struct vcpu *vcpus;      /* cpu_count of them (kvm_create) */
	size_t run_size;
	struct guest_mem mem;

	/* Para console: guest output to out_fd, input from in_fd. */
	int console_out_fd, console_in_fd;
	/* --console-log: a copy of all console output, only if
	 * console_log_open; set before the VM runs. console_log_fd turns -1
	 * (atomic) once a write to it fails. */
	int console_log_fd;
	bool console_log_open;
	/* An eventfd the SIGWINCH handler writes: the console's terminal
	 * changed size. Made by machine.c when the VM has devices. */
	int console_resize_fd;
	bool console_resize_open;
	bool console_in_eof;

	/* Host CLOCK_MONOTONIC at guest time 0; vm_resume() moves it forward
	 * by the pause, so guest time stands still while paused. Atomic. */
	uint64_t mono_base_ns;

	/* The boot info device list; index i is bit i of PVMM_CALL_POLL.
	 * Entry 0 is always the para console. ready_fd[i] is an eventfd the
	 * device writes whenever it interrupts (-1: none; only the virtio
	 * entries, PVMM_DEV_VIRTIO_MMIO or _PCI, and the UART have one);
	 * POLL waits on and consumes it. */
	uint32_t device_count;
	struct pvmm_device_info devices[PVMM_MAX_DEVICES];
	int ready_fd[PVMM_MAX_DEVICES];

	/* Virtio devices in creation order (virtio-mmio slot n = virtio[n]). */
	struct virtio_dev *virtio[PVMM_MAX_DEVICES];
	unsigned virtio_count;
	struct iothread *iothread;  /* created with the first device; NULL without */
	struct emulated *emulated;  /* UART and IDE (emulated.c); NULL without */
	/* --kernel: a stock Linux kernel at CPL0 (linux_platform.c); NULL,
	 * false for pvmm's own guests. */
	struct linux_platform *linux_platform;
	bool kernel_guest;
	struct vm_irq irq;

	/* Where the run loop sends KVM_EXIT_IO and KVM_EXIT_MMIO. Filled
	 * before the vCPU runs, then only read. */
	struct pio_bus pio;
	struct mmio_bus mmio;

	struct vm_stats stats;

	struct vm_ctl ctl;

	/* What vm_launch() built the VM from (a snapshot records it), and
	 * the PV clock (its time at the pause); NULL outside vm_launch. */
	const struct vm_options *options;
	struct pvclock *pvclock;

	/* The PV MMU's state (pvmmu.c); NULL without one (unit tests). */
	struct pvmmu *mmu;

	/* The PCI host bridge (pci.c), made with the first virtio-pci device;
	 * NULL without one. */
	struct pci_host *pci;

	/* Set once when the VM must stop (atomic; vm_stop); `status` is the
	 * process exit status. */
	bool stopped;
	int status;
};

/* Create the lock, condition and wake-up eventfd, and the WAKE eventfds
 * of vm->cpu_count CPUs (set it first); 0 or -1 (logged). */
int vm_ctl_init(struct vm *vm);
void vm_ctl_destroy(struct vm *vm);

/* Stop the VM with `status`: the first stop wins (returns true for it,
 * false for every later one). Kicks every vCPU out of KVM_RUN and wakes
 * the supervisor. Async-signal-safe, callable from any thread. */
bool vm_stop(struct vm *vm, int status);

static inline bool vm_stopped(const struct vm *vm)
{
	return __atomic_load_n(&vm->stopped, __ATOMIC_ACQUIRE);
}

/* Make every vCPU thread leave KVM_RUN (or a blocking host call) soon:
 * immediate_exit plus a signal. Async-signal-safe. */
void vm_kick_all(struct vm *vm);

/* Pause: every vCPU out of KVM_RUN and parked, then the I/O thread paused,
 * then the device hooks' quiesce. Returns 0 when paused (or already), -1
 * if the VM stopped first. Not from a vCPU thread. */
int vm_pause(struct vm *vm);
/* Undo vm_pause() in reverse order; the guest clock skips the pause. */
void vm_resume(struct vm *vm);

/* Register a device's pause hooks (before the VM runs). 0 or -1 if full. */
int vm_add_hook(struct vm *vm, void (*quiesce)(void *), void (*resume)(void *), void *opaque);

/* For long host waits on the guest's behalf (POLL, console writes): parks
 * the calling vCPU thread while a pause is under way. Returns true once
 * the VM is stopped, when the wait should give up. */
bool vm_checkpoint(struct vm *vm);

/* True on a vCPU thread when vm_checkpoint() would park it: for a wait
 * that has already done part of its work and should end early instead
 * (the vCPU then parks between exits, with the call complete). */
bool vm_pause_pending(struct vm *vm);

/* The vCPU whose thread is calling, or NULL (I/O thread, main, tests). */
struct vcpu *vcpu_current(void);
void vcpu_set_current(struct vcpu *v);

#endif
