/*
 * pvmm command line: `pvmm run [options] GUEST.elf [args...]`.
 * Parses options, loads the image, builds the VM, runs it, and exits with
 * the guest's status or the monitor's verdict (status.h).
 */
#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#if __has_include(<sys/platform/x86.h>)
#include <sys/platform/x86.h> /* glibc 2.33+: the CPUID bits it read at start-up */
#endif

#include "bench_compare.h"
#include "cmd_vhost_user.h"
#include "bootinfo.h"
#include "cpu.h"
#include "devices/device.h"
#include "elf_loader.h"
#include "emulated.h"
#include "hypercall.h"
#include "iothread.h"
#include "irq.h"
#include "kvm.h"
#include "layout.h"
#include "log.h"
#include "pvmmu.h"
#include "machine.h"
#include "pvclock.h"
#include "status.h"
#include "trap_port.h"
#include "vcpu.h"
#include "virtio/mmio.h"

struct options {
	uint64_t mem_size;
	uint32_t mem_flags;      /* GUEST_MEM_HUGEPAGES with --mem-hugepages */
	unsigned cpus;          /* --cpus, 1..VM_MAX_CPUS */
	unsigned ring;          /* --ring 0|3: the guest's CPL */
	double timeout_s;
	bool stats;
	const char *stats_json;  /* --stats-json FILE */
	bool virtio_console;
	bool uart_console;      /* --console uart: the emulated 16550A owns the console */
	bool ide;               /* --disk-model ide: disks are emulated IDE, not virtio */
	bool rng;
	unsigned disk_count;
	const char *disks[MACHINE_MAX_DEVICES];  /* --disk values, in order */
	struct machine_devices devices;          /* what the flags above ask for */
	const char *image;
	int guest_argc;
	char **guest_argv;
};

/* Long options without a short form. */
enum { OPT_CONSOLE = 0x100, OPT_RNG, OPT_DISK, OPT_DISK_MODEL, OPT_STATS_JSON, OPT_MEM_HUGEPAGES, OPT_CPUS, OPT_RING };

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: pvmm run [options] GUEST.elf [guest args...]\n"
		"       pvmm bench compare [options]   (see pvmm bench compare --help)\n"
		"       pvmm vhost-user --socket PATH [--once] blk --disk IMAGE[,readonly] | rng\n"
		"       pvmm --help | --version\n"
		"\n"
		"Run GUEST.elf, a static x86-64 guest built with guest/pvmm-cc, in a new KVM\n"
		"virtual machine that it drives through the pvmm para-API.\n"
		"\n"
		"Options (before GUEST.elf; what follows it goes to the guest):\n"
		"  -m, --mem SIZE        guest RAM, 4M to 3G in whole 2 MiB (default 32M);\n"
		"                        suffix K, M or G\n"
		"      --mem-hugepages   back guest RAM with reserved 2 MiB huge pages\n"
		"      --cpus N          vCPUs, 1 to 64 (default 1); CPU 0 runs the guest's\n"
		"                        entry, the guest starts the others (CPU_START)\n"
		"      --ring 3|0        the CPU privilege level the guest runs at: 3\n"
		"                        (default: deprivileged, the monitor owns the page\n"
		"                        tables, GDT and IDT and reports faults), or 0\n"
		"  -t, --timeout SECS    stop the guest after SECS seconds (decimals allowed)\n"
		"  -s, --stats           on exit, print wall time, VM exits by reason,\n"
		"                        para-API calls by number and per-device counters\n"
		"                        to stderr\n"
		"      --stats-json FILE on exit, write the same figures to FILE as JSON\n"
		"      --console hypercall|virtio|uart\n"
		"                        the guest's console: the para-API console only\n"
		"                        (default), or also a virtio console, or an emulated\n"
		"                        16550A UART at 0x3f8; virtio and uart take stdin\n"
		"      --rng             add a virtio-rng device\n"
		"      --disk PATH[,readonly]\n"
		"                        add a disk backed by the raw image PATH\n"
		"                        (repeatable; at most 8 virtio devices in all)\n"
		"      --disk-model virtio|ide\n"
		"                        how disks appear: virtio-blk (default), or one\n"
		"                        emulated IDE disk on the primary channel\n"
		"  -q, --quiet           print only errors\n"
		"  -h, --help            show this help\n"
		"  -V, --version         show the pvmm and para-API versions\n"
		"\n"
		"Exit status: the guest's own exit status (0-63), or\n"
		"  1 host problem (/dev/kvm, memory)   2 bad command line or guest image\n"
		"  64 guest abort   65 guest CPU fault   66 triple fault   67 emulation failure\n"
		"  68 malformed para-API call   69 --timeout expired   70 stopped by a signal\n");
}

/* "64M" → bytes. Returns false if it is not a size. */
static bool parse_size(const char *text, uint64_t *bytes)
{
	char *end;
	errno = 0;
	unsigned long long value = strtoull(text, &end, 10);
	if (errno || end == text || text[0] == '-')
		return false;
	unsigned shift = 0;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case '\0': break;
	default: return false;
	}
	if (*end == 'i' && end[1] == 'B')
		end += 2;
	else if (*end == 'B')
		end++;
	if (*end || value > (UINT64_MAX >> shift))
		return false;
	*bytes = value << shift;
	return true;
}

/* The devices the flags ask for, in the order the boot info lists them:
 * virtio console, rng, disks, then the UART. Each type's parser checks its
 * argument here, before anything touches KVM. */
static int request_devices(struct options *opt)
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
	return 0;
}

static int parse_options(int argc, char **argv, struct options *opt)
{
	static const struct option longopts[] = {
		{ "console", required_argument, NULL, OPT_CONSOLE },
		{ "rng", no_argument, NULL, OPT_RNG },
		{ "disk", required_argument, NULL, OPT_DISK },
		{ "disk-model", required_argument, NULL, OPT_DISK_MODEL },
		{ "stats-json", required_argument, NULL, OPT_STATS_JSON },
		{ "cpus", required_argument, NULL, OPT_CPUS },
		{ "ring", required_argument, NULL, OPT_RING },
		{ "mem", required_argument, NULL, 'm' },
		{ "mem-hugepages", no_argument, NULL, OPT_MEM_HUGEPAGES },
		{ "timeout", required_argument, NULL, 't' },
		{ "stats", no_argument, NULL, 's' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	char *end;
	int c;

	opt->mem_size = MEM_DEFAULT;
	opt->cpus = 1;
	opt->ring = 3; /* deprivileged unless --ring 0 */
	/* '+': stop at GUEST.elf so the guest's own flags pass through;
	 * ':': report a missing value as ':' rather than '?'. */
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:m:t:sqhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'm':
			if (!parse_size(optarg, &opt->mem_size)) {
				log_error("--mem '%s' is not a size; write e.g. 64M or 1G", optarg);
				return -1;
			}
			if (opt->mem_size < MEM_MIN || opt->mem_size > MEM_MAX) {
				log_error("--mem %s is out of range: use 4M to 3G", optarg);
				return -1;
			}
			if (opt->mem_size % HUGE_PAGE_SIZE) {
				log_error("--mem %s is not a whole number of 2 MiB; round it, e.g. to %lluM", optarg,
					  (unsigned long long)((opt->mem_size + HUGE_PAGE_SIZE - 1) >> 20 & ~1ull));
				return -1;
			}
			break;
		case 't':
			errno = 0;
			opt->timeout_s = strtod(optarg, &end);
			if (errno || end == optarg || *end || !(opt->timeout_s > 0) || opt->timeout_s > 1e9) {
				log_error("--timeout '%s' is not a positive number of seconds", optarg);
				return -1;
			}
			break;
		case OPT_CPUS: {
			errno = 0;
			unsigned long n = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end || optarg[0] == '-' || n < 1 || n > VM_MAX_CPUS) {
				log_error("--cpus '%s' is not a CPU count from 1 to %u", optarg, VM_MAX_CPUS);
				return -1;
			}
			opt->cpus = (unsigned)n;
			break;
		}
		case OPT_RING:
			if (strcmp(optarg, "0") && strcmp(optarg, "3")) {
				log_error("--ring '%s': use 0 (the guest is privileged) or 3 (deprivileged)", optarg);
				return -1;
			}
			opt->ring = (unsigned)(optarg[0] - '0');
			break;
		case 's': opt->stats = true; break;
		case OPT_CONSOLE:
			opt->virtio_console = strcmp(optarg, "virtio") == 0;
			opt->uart_console = strcmp(optarg, "uart") == 0;
			if (!opt->virtio_console && !opt->uart_console && strcmp(optarg, "hypercall") != 0) {
				log_error("--console '%s': use 'hypercall', 'virtio' or 'uart'", optarg);
				return -1;
			}
			break;
		case OPT_DISK_MODEL:
			opt->ide = strcmp(optarg, "ide") == 0;
			if (!opt->ide && strcmp(optarg, "virtio") != 0) {
				log_error("--disk-model '%s': use 'virtio' or 'ide'", optarg);
				return -1;
			}
			break;
		case OPT_RNG: opt->rng = true; break;
		case OPT_STATS_JSON: opt->stats_json = optarg; break;
		case OPT_MEM_HUGEPAGES: opt->mem_flags |= GUEST_MEM_HUGEPAGES; break;
		case OPT_DISK:
			if (opt->disk_count >= MACHINE_MAX_DEVICES) {
				log_error("too many --disk options: a VM has at most %u devices", MACHINE_MAX_DEVICES);
				return -1;
			}
			opt->disks[opt->disk_count++] = optarg;
			break;
		case 'q': log_quiet = 1; break;
		case 'h': usage(stdout); exit(0);
		case 'V':
			printf("pvmm %s, para-API %d.%d\n", PVMM_VERSION_STRING, PVMM_PARA_VERSION_MAJOR,
			       PVMM_PARA_VERSION_MINOR);
			exit(0);
		case ':':
			log_error("option '%s' needs a value; see pvmm --help", argv[optind - 1]);
			return -1;
		default:
			log_error("unknown option '%s'; see pvmm --help", argv[optind - 1]);
			return -1;
		}
	}
	if (request_devices(opt))
		return -1;
	if (optind >= argc) {
		log_error("no guest image given; usage: pvmm run [options] GUEST.elf [args...]");
		return -1;
	}
	opt->image = argv[optind];
	opt->guest_argc = argc - optind;
	opt->guest_argv = argv + optind;
	return 0;
}

/* Map the image file read-only; NULL with a message on failure. Mapped,
 * not read: only the pages the loader touches (headers, loadable
 * segments) are ever faulted in, not debug info. */
static uint8_t *map_image(const char *path, size_t *size)
{
	struct stat st;
	uint8_t *map = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		log_error("cannot open guest image '%s': %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		log_error("guest image '%s' is not a regular file", path);
		goto out;
	}
	if (st.st_size == 0 || (uint64_t)st.st_size > MEM_MAX) {
		log_error("guest image '%s' is %s", path, st.st_size ? "larger than any guest RAM" : "empty");
		goto out;
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED) {
		log_error("cannot map guest image '%s': %s", path, strerror(errno));
		map = NULL;
		goto out;
	}
	*size = (size_t)st.st_size;
out:
	close(fd);
	return map;
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
static int prepare_guest(struct vm *vm, const struct options *opt, uint64_t *entry)
{
	char err[ELF_ERR_MAX > BOOTINFO_ERR_MAX ? ELF_ERR_MAX : BOOTINFO_ERR_MAX];
	struct elf_image image;
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
	if (pvmmu_init(vm)) {
		munmap(file, size);
		return PVMM_STATUS_HOST;
	}
	/* A file that shrinks under us would SIGBUS: images are not edited
	 * while a VM starts from them (the same as exec). */
	ret = elf_load(file, size, &vm->mem, &image, err);
	munmap(file, size);
	if (ret || bootinfo_write(&vm->mem, image.image_end, opt->guest_argc, opt->guest_argv, err) ||
	    bootinfo_set_cpu_count(&vm->mem, opt->cpus, err)) {
		log_error("%s: %s", opt->image, err);
		return PVMM_STATUS_USAGE;
	}
	/* --ring: the boot info says which CPL the guest starts at, and
	 * whether CPL0 code runs natively here (the guest picks its clock). */
	struct pvmm_boot_info *bi = guest_mem_ptr_private(&vm->mem, LAYOUT_BOOT_INFO, sizeof(*bi));
	bi->ring = opt->ring;
	bi->flags = host_has_hw_virt() ? PVMM_BOOT_F_CPL0_NATIVE : 0;
	*entry = image.entry;
	return 0;
}

/* Create the devices the options ask for, then list them in the boot
 * info. `stdin_fd` is the input the virtio console or UART takes over.
 * Returns an exit status or 0. */
static int add_devices(struct vm *vm, const struct options *opt, int stdin_fd)
{
	char err[BOOTINFO_ERR_MAX];

	/* A disk that cannot be opened is a command-line mistake. */
	if (machine_create(vm, &opt->devices, stdin_fd, vm->console_out_fd))
		return PVMM_STATUS_USAGE;
	if (bootinfo_set_devices(&vm->mem, vm->devices, vm->device_count, err)) {
		log_error("%s", err);
		return PVMM_STATUS_HOST;
	}
	return 0;
}

/* --stats-json: every counter --stats prints, for scripts (pvmm bench compare). */
static int write_stats_json(struct vm *vm, const char *path)
{
	FILE *f = fopen(path, "w");
	if (!f) {
		log_error("--stats-json: cannot write '%s': %s", path, strerror(errno));
		return -1;
	}
	fprintf(f, "{\n");
	stats_print_json(&vm->stats, f);
	fprintf(f, ",\n\"devices\": [");
	for (unsigned i = 0; i < vm->virtio_count; i++) {
		if (i)
			fprintf(f, ", ");
		virtio_stats_print_json(vm->virtio[i], f);
	}
	emulated_stats_print_json(vm, f, vm->virtio_count == 0);
	fprintf(f, "]\n}\n");
	if (fclose(f)) {
		log_error("--stats-json: cannot write '%s': %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int run_command(int argc, char **argv)
{
	struct options opt = { 0 };
	struct pvclock clock;
	struct vm vm = { .kvm_fd = -1, .vm_fd = -1, .vcpu_fd = -1, .console_out_fd = 1, .console_in_fd = 0 };
	uint64_t entry = 0;
	int status;

	vm.stats.start_ns = stats_now_ns();
	for (unsigned i = 0; i < PVMM_MAX_DEVICES; i++)
		vm.ready_fd[i] = -1;
	if (parse_options(argc, argv, &opt))
		return PVMM_STATUS_USAGE;
	if (fcntl(0, F_GETFD) < 0)
		vm.console_in_fd = -1;
	int stdin_fd = vm.console_in_fd;
	/* stdin has one reader: with a virtio console the para console's
	 * input reads as ended. */
	if (opt.virtio_console || opt.uart_console)
		vm.console_in_fd = -1;
	vm.cpu_count = opt.cpus;
	vm.ring = opt.ring;
	if (vm_ctl_init(&vm)) {
		status = PVMM_STATUS_HOST;
		goto out;
	}
	vm.device_count = BOOTINFO_DEVICE_COUNT;
	vm.devices[0] = (struct pvmm_device_info){ .type = PVMM_DEV_CONSOLE, .irq = PVMM_NO_IRQ };
	/* Only a VM with devices pays for the irqchip and the I/O thread. */
	vm.irq.wanted = machine_needs_irqchip(&opt.devices);

	status = prepare_guest(&vm, &opt, &entry);
	if (status)
		goto out;
	if (hypercall_attach(&vm) || (vm.ring == 3 && trap_port_attach(&vm))) {
		log_error("internal error: cannot put the para-API on the port bus");
		status = PVMM_STATUS_HOST;
		goto out;
	}
	if (kvm_create(&vm)) {
		status = PVMM_STATUS_HOST;
		goto out;
	}
	status = add_devices(&vm, &opt, stdin_fd);
	if (status)
		goto out;
	if (cpu_boot(&vm, entry) || irq_setup(&vm)) {
		status = PVMM_STATUS_HOST;
		goto out;
	}
	if (vcpu_install_stops(&vm, opt.timeout_s)) {
		log_error("cannot install signal handlers: %s", strerror(errno));
		status = PVMM_STATUS_HOST;
		goto out;
	}
	if (vm.iothread && iothread_start(vm.iothread)) {
		status = PVMM_STATUS_HOST;
		goto out;
	}
	vm.mono_base_ns = stats_now_ns();
	if (pvclock_setup(&clock, &vm)) {
		status = PVMM_STATUS_HOST;
		goto out;
	}
	status = vcpu_run(&vm);
	/* Device work ends with the vCPUs; once the thread is joined the
	 * counters (and its CPU time) are final. */
	iothread_stop(vm.iothread, &vm.stats.iothread);
	if (opt.stats || opt.stats_json)
		kvm_read_counters(&vm);
	if (opt.stats_json && write_stats_json(&vm, opt.stats_json) && status == 0)
		status = PVMM_STATUS_HOST;
	if (opt.stats) {
		stats_print(&vm.stats, stderr);
		for (unsigned i = 0; i < vm.virtio_count; i++)
			if (vm.virtio[i])
				virtio_stats_print(vm.virtio[i], stderr);
		emulated_stats_print(&vm, stderr);
	}
out:
	machine_destroy(&vm);
	kvm_destroy(&vm);
	vm_ctl_destroy(&vm);
	pvmmu_free(&vm);
	guest_mem_free(&vm.mem);
	return status;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "run") == 0)
		return run_command(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "vhost-user") == 0)
		return vhost_user_main(argc - 1, argv + 1);
	if (argc >= 3 && strcmp(argv[1], "bench") == 0 && strcmp(argv[2], "compare") == 0)
		return bench_compare_main(argc - 2, argv + 2);
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		usage(stdout);
		return 0;
	}
	if (argc >= 2 && (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0)) {
		printf("pvmm %s, para-API %d.%d\n", PVMM_VERSION_STRING, PVMM_PARA_VERSION_MAJOR,
		       PVMM_PARA_VERSION_MINOR);
		return 0;
	}
	if (argc < 2)
		log_error("no command given; usage: pvmm run [options] GUEST.elf [args...] (see pvmm --help)");
	else
		log_error("unknown command '%s'; usage: pvmm run [options] GUEST.elf [args...] (see pvmm --help)",
			  argv[1]);
	return PVMM_STATUS_USAGE;
}
