/*
 * The one way a VM is started: `pvmm run`'s command line, the API socket's
 * InstanceStart and --config-file all fill a `struct vm_options` and call
 * vm_launch(), which builds the VM, runs it to the end and tears it down.
 */
#ifndef PVMM_LAUNCH_H
#define PVMM_LAUNCH_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "cpuid.h"
#include "jail.h"
#include "machine.h"
#include "vm.h"

struct snapshot;

struct vm_options {
	uint64_t mem_size;
	uint32_t mem_flags;      /* GUEST_MEM_HUGEPAGES with --mem-hugepages */
	unsigned cpus;          /* --cpus, 1..VM_MAX_CPUS */
	unsigned ring;          /* --ring 0|3: the guest's CPL */
	double timeout_s;
	bool stats;
	const char *stats_json;  /* --stats-json FILE */
	bool read_counters;      /* read KVM's counters at the end (the API's metrics) */
	const char *log_file;    /* --log-file FILE */
	int log_level;           /* --log-level: enum log_level, or -1 if not given */
	const char *metrics_path; /* --metrics-path FILE */
	double metrics_interval_s; /* --metrics-interval SECS */
	const char *console_log; /* --console-log FILE */
	bool virtio_console;
	bool uart_console;      /* --console uart: the emulated 16550A owns the console */
	int console_mode;       /* --console-mode: enum term_mode (0: auto) */
	bool ide;               /* --disk-model ide: disks are emulated IDE, not virtio */
	bool rng;
	unsigned disk_count;
	const char *disks[MACHINE_MAX_DEVICES];  /* --disk values, in order */
	bool ne2000;            /* --net-model ne2000: NICs without model= are NE2000s */
	unsigned net_count;
	const char *nets[MACHINE_MAX_DEVICES];   /* --net values, in order */
	struct machine_devices devices;          /* what the flags above ask for */
	const char *image;
	/* --kernel IMAGE [--initrd FILE] [--cmdline TEXT]: boot a Linux
	 * kernel instead of `image` (docs/linux.md); cmdline NULL: the
	 * default, LAUNCH_DEFAULT_CMDLINE. */
	const char *kernel, *initrd, *cmdline;
	struct cpuid_mask cpuid_mask; /* --cpuid-mask, for --kernel */
	int guest_argc;
	char **guest_argv;       /* guest_argv[0] is the image path */
	/* `pvmm restore` and PUT /snapshot/load: build the VM from this
	 * checked snapshot (snapshot.h) instead of booting `image`. */
	struct snapshot *restore;
	bool seccomp_off;        /* --seccomp off: no system call filters (unsafe) */
	struct jail_options jail; /* --uid, --gid, --chroot, --unshare */
	/* The command's, not the VM's: vm_launch() ignores them. */
	const char *api_sock;    /* --api-sock PATH */
	const char *config_file; /* --config-file FILE */
};

/* The kernel command line without --cmdline: the console on the UART
 * from the first message on. ACPI stays on: the kernel finds pvmm's
 * tables (acpi.h), its CPUs among them; `--cmdline ... acpi=off` still
 * gives the legacy probing (one CPU then: no MP table). */
#define LAUNCH_DEFAULT_CMDLINE "console=ttyS0 earlyprintk=serial"
/* Added to the default on a host without VT-x/AMD-V: there KVM may hand
 * the guest the host's CPUID whatever KVM_SET_CPUID2 says (docs/linux.md),
 * and its emulator cannot run xsave. */
#define LAUNCH_NO_HW_VIRT_CMDLINE "noxsave"
/* --mem's default with --kernel: room for a distribution kernel (Debian's
 * needs 68 MiB to decompress and start) and its initrd. */
#define LAUNCH_KERNEL_MEM_DEFAULT (256ull << 20)

/* Called by vm_launch() on its (the main) thread. */
struct launch_hooks {
	/* Everything is built and the vCPU threads are about to start:
	 * vm_pause(), vm_resume() and vm_stop() may be used from now on. */
	void (*started)(struct vm *vm, void *opaque);
	/* The VM has stopped (vcpu_run returned); nothing may touch it from
	 * another thread once this returns. */
	void (*stopping)(struct vm *vm, void *opaque);
	/* The counters are final (every thread joined), before teardown. */
	void (*finished)(struct vm *vm, int status, void *opaque);
	void *opaque;
};

/* Defaults: 32 MiB, 1 CPU, ring 3. */
void vm_options_init(struct vm_options *opt);

/* Turn the device flags into device requests (each type's parser checks
 * its argument; one image given twice is refused). 0, or -1 after a
 * message. Call once, before vm_launch. */
int vm_options_request_devices(struct vm_options *opt);

/* Build, run and tear down the VM `opt` describes; returns the process
 * exit status (status.h). `hooks` may be NULL. A failure before the guest
 * runs is logged, and `started` is then never called. */
int vm_launch(const struct vm_options *opt, const struct launch_hooks *hooks);

/* Every --stats figure as one JSON object; if `one_line`, on one line
 * without its newline. With `status` (the process exit status, once the
 * VM has stopped) also the schema version, the status and its verdict. */
void launch_stats_json(struct vm *vm, FILE *f, bool one_line, const int *status);

#endif
