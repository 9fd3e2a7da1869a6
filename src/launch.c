/*
 * Starting a VM: the order of start-up shared by `pvmm run`, the API
 * socket's InstanceStart and --config-file (launch.h).
 */
#include "launch.h"

#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#if __has_include(<sys/platform/x86.h>)
#include <sys/platform/x86.h> /* glibc 2.33+: the CPUID bits it read at start-up */
#endif

#include "bootinfo.h"
#include "cli.h"
#include "cpu.h"
#include "devices/device.h"
#include "elf_loader.h"
#include "emulated.h"
#include "hypercall.h"
#include "iothread.h"
#include "irq.h"
#include "jail.h"
#include "kvm.h"
#include "linux_boot.h"
#include "linux_cpu.h"
#include "linux_platform.h"
#include "layout.h"
#include "log.h"
#include "metrics.h"
#include "net/backend.h"
#include "pvmmu.h"
#include "pvclock.h"
#include "snapshot.h"
#include "status.h"
#include "term.h"
#include "trap_port.h"
#include "vcpu.h"
#include "virtio/mmio.h"

void vm_options_init(struct vm_options *opt)
{
	*opt = (struct vm_options){ 0 };
	opt->mem_size = MEM_DEFAULT;
	opt->cpus = 1;
	opt->ring = 3; /* deprivileged unless --ring 0 */
	opt->log_level = -1;
	opt->metrics_interval_s = 1;
}

/* Two --disk options naming one image (same device and inode): a second
 * open would find the first one's lock and blame another process. Two
 * read-only views of one image are allowed: neither writes. */
static int check_disks_distinct(const struct vm_options *opt)
{
	struct stat st[MACHINE_MAX_DEVICES];
	bool have[MACHINE_MAX_DEVICES] = { false };
	struct disk_spec spec[MACHINE_MAX_DEVICES];
	int ret = 0;

	for (unsigned i = 0; i < opt->disk_count; i++) {
		if (device_parse_disk(opt->disks[i], &spec[i])) {
			for (unsigned j = 0; j < i; j++)
				device_free_disk(&spec[j]);
			return -1;
		}
		have[i] = stat(spec[i].path, &st[i]) == 0; /* a missing one is blk_open's to report */
	}
	for (unsigned i = 0; i < opt->disk_count && !ret; i++)
		for (unsigned j = 0; j < i && !ret; j++) {
			if (spec[i].id && spec[j].id && strcmp(spec[i].id, spec[j].id) == 0) {
				log_error("--disk '%s' and --disk '%s' have the same id '%s'; give each disk its own",
					  opt->disks[j], opt->disks[i], spec[i].id);
				ret = -1;
			} else if (have[i] && have[j] && st[i].st_dev == st[j].st_dev && st[i].st_ino == st[j].st_ino &&
				   (!spec[i].readonly || !spec[j].readonly)) {
				log_error("disk image '%s' is given twice (--disk '%s' and --disk '%s' are the same file); "
					  "give it once, or make both readonly", spec[i].path, opt->disks[j], opt->disks[i]);
				ret = -1;
			}
		}
	for (unsigned i = 0; i < opt->disk_count; i++)
		device_free_disk(&spec[i]);
	return ret;
}

/* The devices the flags ask for, in the order the boot info lists them:
 * virtio console, rng, disks, then the UART. Each type's parser checks its
 * argument here, before anything touches KVM. */
int vm_options_request_devices(struct vm_options *opt)
{
	struct machine_devices *m = &opt->devices;

	if (opt->virtio_console && machine_request(m, &virtio_console_type, NULL))
		return -1;
	if (opt->uart_console && machine_request(m, &uart16550_type, NULL))
		return -1;
	if (opt->rng && machine_request(m, &virtio_rng_type, NULL))
		return -1;
	for (unsigned i = 0; i < opt->disk_count; i++) {
		if (opt->ide && i > 0) {
			log_error("--disk-model ide takes one disk (the primary master); use virtio for more");
			return -1;
		}
		if (machine_request(m, opt->ide ? &ide_type : &virtio_blk_type, opt->disks[i]))
			return -1;
	}
	unsigned ne2000 = 0;
	for (unsigned i = 0; i < opt->net_count; i++) {
		struct net_spec spec;
		if (net_parse(opt->nets[i], &spec))
			return -1;
		bool emulated = spec.model == NET_MODEL_NE2000 || (spec.model == NET_MODEL_UNSET && opt->ne2000);
		/* Its ports and IRQ are fixed: there is room for one. */
		if (emulated && ne2000++) {
			log_error("--net '%s': a VM takes one NE2000 (fixed ports 0x300, IRQ 9); give the other NICs "
				  "model=virtio", opt->nets[i]);
			return -1;
		}
		if (machine_request(m, emulated ? &ne2000_type : &virtio_net_type, opt->nets[i]))
			return -1;
	}
	return check_disks_distinct(opt);
}

/* Map the image file read-only; NULL with a message on failure. Mapped,
 * not read: only the pages the loader touches (headers, loadable
 * segments) are ever faulted in, not debug info. */
static uint8_t *map_file(const char *what, const char *path, size_t *size)
{
	struct stat st;
	uint8_t *map = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		log_error("cannot open %s '%s': %s", what, path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		log_error("%s '%s' is not a regular file", what, path);
		goto out;
	}
	if (st.st_size == 0 || (uint64_t)st.st_size > MEM_MAX) {
		log_error("%s '%s' is %s", what, path, st.st_size ? "larger than any guest RAM" : "empty");
		goto out;
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED) {
		log_error("cannot map %s '%s': %s", what, path, strerror(errno));
		map = NULL;
		goto out;
	}
	*size = (size_t)st.st_size;
out:
	close(fd);
	return map;
}

static uint8_t *map_image(const char *path, size_t *size)
{
	return map_file("guest image", path, size);
}

/* VT-x or AMD-V on the CPU pvmm runs on: then KVM runs guest CPL0 code
 * in hardware, else (a nested VM without it, as on some CI hosts) it
 * interprets it. glibc read CPUID at start-up and keeps the bits: asking
 * again costs a trap to the hypervisor per cpuid when pvmm itself runs in
 * a VM (about 11 us each on such a host, three of them here). */
static bool host_has_hw_virt(void)
{
#ifdef CPU_FEATURE_PRESENT
	return CPU_FEATURE_PRESENT(VMX) || CPU_FEATURE_PRESENT(SVM);
#else
	unsigned a, b, c, d;
	__cpuid(1, a, b, c, d);
	if (c & (1u << 5)) /* VMX */
		return true;
	__cpuid(0x80000000, a, b, c, d);
	if (a < 0x80000001)
		return false;
	__cpuid(0x80000001, a, b, c, d);
	return c & (1u << 2); /* SVM */
#endif
}

/* Load the image and boot info into fresh RAM. Returns an exit status or 0. */
static int prepare_guest(struct vm *vm, const struct vm_options *opt, struct elf_image *image)
{
	char err[ELF_ERR_MAX > BOOTINFO_ERR_MAX ? ELF_ERR_MAX : BOOTINFO_ERR_MAX];
	size_t size;
	int ret;

	uint8_t *file = map_image(opt->image, &size);
	if (!file)
		return PVMM_STATUS_USAGE;
	ret = guest_mem_init(&vm->mem, opt->mem_size, opt->mem_flags);
	if (ret) {
		log_error("cannot allocate %llu MiB of guest RAM: %s",
			  (unsigned long long)(opt->mem_size >> 20), guest_mem_strerror(-ret, opt->mem_size, opt->mem_flags));
		munmap(file, size);
		return PVMM_STATUS_HOST;
	}
	/* The PV MMU's table pool is a region of its own: before kvm_create. */
	if (pvmmu_init(vm, true)) {
		munmap(file, size);
		return PVMM_STATUS_HOST;
	}
	/* A file that shrinks under us would SIGBUS: images are not edited
	 * while a VM starts from them (the same as exec). */
	ret = elf_load(file, size, &vm->mem, image, err);
	munmap(file, size);
	if (ret || bootinfo_write(&vm->mem, image->image_end, opt->guest_argc, opt->guest_argv, err) ||
	    bootinfo_set_cpu_count(&vm->mem, opt->cpus, err)) {
		log_error("%s: %s", opt->image, err);
		return PVMM_STATUS_USAGE;
	}
	/* --ring: the boot info says which CPL the guest starts at, and
	 * whether CPL0 code runs natively here (the guest picks its clock). */
	struct pvmm_boot_info *bi = guest_mem_ptr_private(&vm->mem, LAYOUT_BOOT_INFO, sizeof(*bi));
	bi->ring = opt->ring;
	/* cpu_boot() maps text and rodata read-only: the runtime need not. */
	bi->flags = (host_has_hw_virt() ? PVMM_BOOT_F_CPL0_NATIVE : 0) | PVMM_BOOT_F_IMAGE_RO;
	return 0;
}

/* --kernel: the kernel (bzImage or PVH vmlinux), its initrd and command
 * line into fresh RAM (linux_boot.c); no PV MMU pool and no boot info,
 * which a kernel does not read. Returns an exit status or 0. */
static int prepare_linux(struct vm *vm, const struct vm_options *opt, struct linux_boot *boot)
{
	char err[LINUX_ERR_MAX];
	size_t size = 0, initrd_size = 0;
	uint8_t *initrd = NULL;
	int ret;

	uint8_t *kernel = map_file("kernel image", opt->kernel, &size);
	if (!kernel)
		return PVMM_STATUS_USAGE;
	if (opt->initrd && !(initrd = map_file("initrd", opt->initrd, &initrd_size))) {
		munmap(kernel, size);
		return PVMM_STATUS_USAGE;
	}
	ret = guest_mem_init(&vm->mem, opt->mem_size, opt->mem_flags);
	if (ret) {
		log_error("cannot allocate %llu MiB of guest RAM: %s", (unsigned long long)(opt->mem_size >> 20),
			  guest_mem_strerror(-ret, opt->mem_size, opt->mem_flags));
		ret = PVMM_STATUS_HOST;
	} else if (linux_load(kernel, size, initrd, initrd_size,
			      opt->cmdline ? opt->cmdline
			      : host_has_hw_virt() ? LAUNCH_DEFAULT_CMDLINE : LAUNCH_DEFAULT_CMDLINE " " LAUNCH_NO_HW_VIRT_CMDLINE,
			      &vm->mem, boot, err)) {
		log_error("%s: %s", opt->kernel, err);
		ret = PVMM_STATUS_USAGE;
	} else if (linux_load_acpi(&vm->mem, boot, opt->cpus, err)) {
		log_error("%s", err);
		ret = PVMM_STATUS_USAGE;
	} else {
		log_debug("kernel %s: %s entry at %#llx, boot parameters at %#llx, initrd %llu bytes at %#llx",
			  opt->kernel, boot->kind == LINUX_ENTRY_64 ? "bzImage 64-bit" : "PVH 32-bit",
			  (unsigned long long)boot->entry, (unsigned long long)boot->params,
			  (unsigned long long)boot->initrd_size, (unsigned long long)boot->initrd);
	}
	munmap(kernel, size);
	if (initrd)
		munmap(initrd, initrd_size);
	return ret;
}

/* A restore: the same RAM and PV MMU pool a boot makes, filled from the
 * snapshot's memory file instead of an image. */
static int restore_guest(struct vm *vm, const struct vm_options *opt)
{
	int ret = guest_mem_init(&vm->mem, opt->mem_size, opt->mem_flags);
	if (ret) {
		log_error("cannot allocate %llu MiB of guest RAM: %s", (unsigned long long)(opt->mem_size >> 20),
			  guest_mem_strerror(-ret, opt->mem_size, opt->mem_flags));
		return PVMM_STATUS_HOST;
	}
	if (pvmmu_init(vm, false))
		return PVMM_STATUS_HOST;
	return snapshot_restore_memory(vm, opt->restore) ? PVMM_STATUS_USAGE : 0;
}

/* Create the devices the options ask for, then list them in the boot
 * info. `stdin_fd` is the input the virtio console or UART takes over.
 * Returns an exit status or 0. */
static int add_devices(struct vm *vm, const struct vm_options *opt, int stdin_fd)
{
	char err[BOOTINFO_ERR_MAX];

	/* A disk that cannot be opened is a command-line mistake. */
	if (machine_create(vm, &opt->devices, stdin_fd, vm->console_out_fd))
		return PVMM_STATUS_USAGE;
	if (!vm->kernel_guest && bootinfo_set_devices(&vm->mem, vm->devices, vm->device_count, err)) {
		log_error("%s", err);
		return PVMM_STATUS_HOST;
	}
	return 0;
}

void launch_stats_json(struct vm *vm, FILE *f, bool one_line, const int *status)
{
	char *text = NULL;
	size_t len = 0;
	FILE *mem = one_line ? open_memstream(&text, &len) : NULL;
	FILE *out = mem ? mem : f;
	/* A copy, summed again: mid-run (the API's FlushMetrics) the VM-wide
	 * totals are as far as each vCPU has counted. */
	struct vm_stats snap = vm->stats;

	stats_sum_vcpus(&snap);
	fprintf(out, "{\n");
	stats_print_json(&snap, out);
	fprintf(out, ",\n\"devices\": [");
	for (unsigned i = 0; i < vm->virtio_count; i++) {
		if (i)
			fprintf(out, ", ");
		virtio_stats_print_json(vm->virtio[i], out);
	}
	emulated_stats_print_json(vm, out, vm->virtio_count == 0);
	/* Last, so that the first "exits" stays the VM-wide total. */
	if (status)
		fprintf(out, "],\n\"schema_version\": %d, \"status\": %d, \"verdict\": \"%s\"\n}\n", STATS_JSON_SCHEMA,
			*status, metrics_verdict(*status));
	else
		fprintf(out, "]\n}\n");
	if (mem) {
		fclose(mem);
		/* No newline at all: the caller ends the line. */
		while (len && text[len - 1] == '\n')
			len--;
		for (size_t i = 0; i < len; i++)
			if (text[i] == '\n')
				text[i] = ' ';
		fwrite(text, 1, len, f);
		free(text);
	}
}


/* The raw console's escape commands (term.h), from whichever thread read
 * the input. */
static void console_command(void *ctx, enum console_escape_cmd cmd)
{
	struct vm *vm = ctx;

	switch (cmd) {
	case CONSOLE_ESCAPE_QUIT:
		if (vm_stop(vm, PVMM_STATUS_SIGNAL))
			log_info("quit from the console (Ctrl-A x)");
		break;
	case CONSOLE_ESCAPE_PAUSE:
		vcpu_console_pause(vm);
		break;
	case CONSOLE_ESCAPE_HELP:
		term_print_help();
		break;
	}
}

/* --stats-json: every counter --stats prints, for scripts (pvmm bench compare). */
static int write_stats_json(struct vm *vm, FILE *f, const char *path, int status)
{
	launch_stats_json(vm, f, false, &status);
	if (fclose(f)) { /* closed either way */
		log_error("--stats-json: cannot write '%s': %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

int vm_launch(const struct vm_options *opt, const struct launch_hooks *hooks)
{
	struct pvclock clock;
	struct vm vm = { .kvm_fd = -1, .vm_fd = -1, .vcpu_fd = -1, .console_out_fd = 1, .console_in_fd = 0 };
	uint64_t entry = 0;
	struct elf_image image = { 0 };
	struct linux_boot lboot = { 0 };
	struct metrics *metrics = NULL;
	FILE *stats_f = NULL;
	int status;

	vm.stats.start_ns = stats_now_ns();
	/* Only the figures that report peak and current RSS read it, and
	 * opening it costs a cold start ~20 us. */
	if (opt->stats || opt->stats_json || opt->metrics_path || opt->api_sock || opt->read_counters)
		stats_open_proc_status();
	for (unsigned i = 0; i < PVMM_MAX_DEVICES; i++)
		vm.ready_fd[i] = -1;
	vm.console_log_fd = -1;
	if (opt->log_level >= 0)
		log_level = opt->log_level;
	/* Every file pvmm will write is checked before anything runs: a
	 * mistake there is a command-line mistake, not a lost result. */
	/* --stats-json is opened now, written at the end: by then the
	 * sandbox (seccomp, --chroot, --uid) opens nothing. */
	if (opt->stats_json) {
		if (cli_check_writable("--stats-json", opt->stats_json))
			return PVMM_STATUS_USAGE;
		if (!(stats_f = fopen(opt->stats_json, "we"))) {
			log_error("--stats-json: cannot write '%s': %s", opt->stats_json, strerror(errno));
			return PVMM_STATUS_USAGE;
		}
	}
	if ((opt->metrics_path && cli_check_writable("--metrics-path", opt->metrics_path)) ||
	    (opt->log_file && log_open_file(opt->log_file))) {
		if (stats_f)
			fclose(stats_f);
		return PVMM_STATUS_USAGE;
	}
	if (opt->console_log) {
		vm.console_log_fd = open(opt->console_log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (vm.console_log_fd < 0) {
			log_error("--console-log: cannot write '%s': %s", opt->console_log, strerror(errno));
			log_close_file();
			if (stats_f)
				fclose(stats_f);
			return PVMM_STATUS_USAGE;
		}
		vm.console_log_open = true;
	}
	log_debug("guest %s: %llu MiB, %u CPU%s, ring %u, %u device%s", opt->kernel ? opt->kernel : opt->image,
		  (unsigned long long)(opt->mem_size >> 20), opt->cpus, opt->cpus == 1 ? "" : "s", opt->kernel ? 0 : opt->ring,
		  opt->devices.count, opt->devices.count == 1 ? "" : "s");
	if (fcntl(0, F_GETFD) < 0)
		vm.console_in_fd = -1;
	int stdin_fd = vm.console_in_fd;
	/* stdin has one reader: with a virtio console the para console's
	 * input reads as ended. */
	if (opt->virtio_console || opt->uart_console)
		vm.console_in_fd = -1;
	vm.cpu_count = opt->cpus;
	vm.ring = opt->ring;
	/* A kernel runs at CPL0: it is not para-API aware (cli.c refuses
	 * --ring 3 with --kernel). */
	vm.kernel_guest = opt->kernel != NULL;
	if (vm.kernel_guest)
		vm.ring = 0;
	if (vm_ctl_init(&vm)) {
		status = PVMM_STATUS_HOST;
		goto out;
	}
	if (opt->console_mode == TERM_MODE_RAW && (stdin_fd < 0 || !isatty(stdin_fd))) {
		log_error("--console-mode raw: stdin is not a terminal");
		status = PVMM_STATUS_USAGE;
		goto out;
	}
	/* A terminal on stdin for the guest: raw, with the escape key,
	 * until the VM stops (and on every other way out: term.h). The
	 * consoles then read the terminal through term.c's pipe. */
	if (stdin_fd >= 0 && term_enter(stdin_fd, (enum term_mode)opt->console_mode, console_command, &vm, &stdin_fd) > 0 &&
	    vm.console_in_fd >= 0)
		vm.console_in_fd = stdin_fd;
	vm.device_count = BOOTINFO_DEVICE_COUNT;
	vm.devices[0] = (struct pvmm_device_info){ .type = PVMM_DEV_CONSOLE, .irq = PVMM_NO_IRQ };
	/* Only a VM with devices pays for the irqchip and the I/O thread. */
	vm.irq.wanted = machine_needs_irqchip(&opt->devices) || vm.kernel_guest;

	vm.options = opt;
	vm.pvclock = &clock;
	clock = (struct pvclock){ 0 };
	status = opt->restore ? restore_guest(&vm, opt)
		 : vm.kernel_guest ? prepare_linux(&vm, opt, &lboot) : prepare_guest(&vm, opt, &image);
	if (status)
		goto out;
	entry = image.entry;
	/* A kernel does not speak the para-API: its ports stay unclaimed. */
	if (!vm.kernel_guest && (hypercall_attach(&vm) || (vm.ring == 3 && trap_port_attach(&vm)))) {
		log_error("internal error: cannot put the para-API on the port bus");
		status = PVMM_STATUS_HOST;
		goto out;
	}
	if (kvm_create(&vm)) {
		status = PVMM_STATUS_HOST;
		goto out;
	}
	status = add_devices(&vm, opt, stdin_fd);
	if (status)
		goto out;
	if (opt->restore) {
		/* The irqchip as a boot programs it, then as the snapshot had it. */
		if (irq_setup(&vm)) {
			status = PVMM_STATUS_HOST;
			goto out;
		}
		if (snapshot_restore_state(&vm, opt->restore)) {
			status = PVMM_STATUS_USAGE;
			goto out;
		}
	} else if (vm.kernel_guest) {
		if (linux_platform_attach(&vm, &opt->cpuid_mask, host_has_hw_virt()) || linux_cpu_boot(&vm, &lboot)) {
			status = PVMM_STATUS_HOST;
			goto out;
		}
		entry = lboot.entry;
	} else if (cpu_boot(&vm, &image) || irq_setup(&vm)) {
		status = PVMM_STATUS_HOST;
		goto out;
	}
	if (vcpu_install_stops(&vm, opt->timeout_s)) {
		log_error("cannot install signal handlers: %s", strerror(errno));
		status = PVMM_STATUS_HOST;
		goto out;
	}
	if (vm.iothread && iothread_start(vm.iothread)) {
		status = PVMM_STATUS_HOST;
		goto out;
	}
	/* A restored guest's time goes on from the snapshot's. */
	vm.mono_base_ns = stats_now_ns() - (opt->restore ? snapshot_guest_ns(opt->restore) : 0);
	/* The PV clock page is para-API (a kernel has kvmclock). */
	if (!vm.kernel_guest && pvclock_setup(&clock, &vm)) {
		status = PVMM_STATUS_HOST;
		goto out;
	}
	if (opt->metrics_path && !(metrics = metrics_start(&vm, opt->metrics_path, opt->metrics_interval_s))) {
		status = PVMM_STATUS_HOST;
		goto out;
	}
	/* Everything is open: the jail (--chroot, --gid/--uid) now; each
	 * thread's seccomp filter as it starts its work (vcpu_run last). */
	if (jail_enter(&opt->jail)) {
		status = PVMM_STATUS_HOST;
		goto out;
	}
	if (hooks && hooks->started)
		hooks->started(&vm, hooks->opaque);
	log_debug("starting the guest at %#llx", (unsigned long long)entry);
	status = vcpu_run(&vm);
	term_leave();
	log_debug("the guest stopped with status %d (%s)", status, metrics_verdict(status));
	if (hooks && hooks->stopping)
		hooks->stopping(&vm, hooks->opaque);
	/* Device work ends with the vCPUs; once the thread is joined the
	 * counters (and its CPU time) are final. */
	iothread_stop(vm.iothread, &vm.stats.iothread);
	if (opt->stats || stats_f || opt->read_counters)
		kvm_read_counters(&vm);
	if (metrics_finish(metrics, status) && status == 0)
		status = PVMM_STATUS_HOST;
	metrics = NULL;
	if (stats_f) {
		int bad = write_stats_json(&vm, stats_f, opt->stats_json, status);
		stats_f = NULL;
		if (bad && status == 0)
			status = PVMM_STATUS_HOST;
	}
	if (opt->stats) {
		stats_print(&vm.stats, stderr);
		for (unsigned i = 0; i < vm.virtio_count; i++)
			if (vm.virtio[i])
				virtio_stats_print(vm.virtio[i], stderr);
		emulated_stats_print(&vm, stderr);
	}
	if (hooks && hooks->finished)
		hooks->finished(&vm, status, hooks->opaque);
out:
	term_leave();
	if (stats_f)
		fclose(stats_f);
	metrics_finish(metrics, status);
	machine_destroy(&vm);
	kvm_destroy(&vm);
	linux_platform_free(&vm);
	vm_ctl_destroy(&vm);
	pvmmu_free(&vm);
	guest_mem_free(&vm.mem);
	if (vm.console_log_open)
		close(vm.console_log_fd);
	log_close_file();
	return status;
}

