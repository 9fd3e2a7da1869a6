/*
 * `pvmm run`'s options and every command's help (cli.h).
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench_compare.h"
#include "emulated.h"
#include "cmd_vhost_user.h"
#include "guest_mem.h"
#include "layout.h"
#include "log.h"
#include "term.h"
#include "vm.h"

/* The longest --timeout: about 31 years, and still exact in setitimer. */
#define TIMEOUT_MAX_S 1e9

static const char commands_help[] =
	"Usage: pvmm run [options] GUEST.elf [guest args...]\n"
	"       pvmm run [options] --kernel IMAGE [--initrd FILE] [--cmdline TEXT]\n"
	"       pvmm [run [options]] --api-sock PATH [GUEST.elf [guest args...]]\n"
	"       pvmm [run [options]] --config-file FILE [--api-sock PATH]\n"
	"       pvmm restore SNAPSHOT [--mem-file FILE] [--api-sock PATH] [--timeout SECS] [--seccomp off]\n"
	"       pvmm ctl --api-sock PATH info|pause|resume|stop|metrics|snapshot DIR_OR_PATH\n"
	"       pvmm vhost-user --socket PATH [--once] blk --disk IMAGE[,readonly] | rng | net --net SPEC\n"
	"       pvmm bench compare [options]\n"
	"       pvmm help [COMMAND]\n"
	"       pvmm --help | --version\n"
	"\n"
	"Commands:\n"
	"  run             run a guest in a new VM (pvmm help run)\n"
	"  restore         start a new VM from a snapshot (pvmm help restore, docs/snapshot.md)\n"
	"  ctl             drive a running pvmm through its API socket (docs/api.md)\n"
	"  vhost-user      serve a virtio device to a vhost-user front end such as QEMU\n"
	"                  (pvmm help vhost-user, docs/vhost-user.md)\n"
	"  bench compare   the paravirtual and the emulated path, same workload\n"
	"                  (pvmm help bench compare)\n"
	"  help [COMMAND]  this overview, or one command's help\n"
	"\n";

static const char run_help[] =
	"Usage: pvmm run [options] GUEST.elf [guest args...]\n"
	"       pvmm run [options] --kernel IMAGE [--initrd FILE] [--cmdline TEXT]\n"
	"\n"
	"Run GUEST.elf, a static x86-64 guest built with guest/pvmm-cc, in a new KVM\n"
	"virtual machine that it drives through the pvmm para-API.\n"
	"\n"
	"Options (before GUEST.elf; what follows it goes to the guest). A long option\n"
	"may be shortened to any prefix that names only it.\n"
	"  -m, --mem SIZE        guest RAM, 4M to 3G in whole 2 MiB (default 32M);\n"
	"                        suffix K, M or G; a bare number is MiB (--mem 64)\n"
	"      --mem-hugepages   back guest RAM with reserved 2 MiB huge pages\n"
	"      --cpus N          vCPUs, 1 to 64 (default 1); CPU 0 runs the guest's\n"
	"                        entry, the guest starts the others (CPU_START;\n"
	"                        a --kernel guest: ACPI's MADT and INIT/SIPI)\n"
	"      --transport mmio|pci  the virtio transport of the VM's devices:\n"
	"                        virtio-mmio (default) or modern virtio-pci\n"
	"      --ring 3|0        the CPU privilege level the guest runs at: 3\n"
	"                        (default: deprivileged, the monitor owns the page\n"
	"                        tables, GDT and IDT and reports faults), or 0\n"
	"  -t, --timeout SECS    stop the guest after SECS seconds (decimals allowed,\n"
	"                        at most 1e9)\n"
	"  -s, --stats           on exit, print wall time, VM exits by reason,\n"
	"                        para-API calls by number and per-device counters\n"
	"                        to stderr\n"
	"      --stats-json FILE on exit, write the same figures, the exit status and\n"
	"                        the verdict to FILE as JSON\n"
	"      --metrics-path FILE\n"
	"                        while the VM runs, append one JSON object per line\n"
	"                        to FILE every --metrics-interval, and one at exit\n"
	"      --metrics-interval SECS\n"
	"                        how often (default 1; decimals allowed)\n"
	"      --log-file FILE   pvmm's own messages go to FILE instead of stderr\n"
	"      --log-level error|warn|info|debug\n"
	"                        which of pvmm's own messages to print (default info)\n"
	"      --console hypercall|virtio|uart\n"
	"                        the guest's console: the para-API console only\n"
	"                        (default), or also a virtio console, or an emulated\n"
	"                        16550A UART at 0x3f8; virtio and uart take stdin\n"
	"      --console-log FILE\n"
	"                        also copy the guest's console output to FILE\n"
	"      --console-mode auto|raw|cooked\n"
	"                        a terminal on stdin: raw (no echo or line editing;\n"
	"                        Ctrl-C goes to the guest; Ctrl-A x quits, Ctrl-A z\n"
	"                        pauses and resumes, Ctrl-A h lists the keys), or\n"
	"                        left cooked; auto (default): raw when stdin is a\n"
	"                        terminal and pvmm runs in its foreground\n"
	"      --kernel IMAGE    boot a Linux kernel instead of GUEST.elf: a bzImage\n"
	"                        (x86 boot protocol 2.06+, 64-bit entry) or a vmlinux\n"
	"                        with a PVH note; at CPL0, with ACPI, console on the\n"
	"                        UART at 0x3f8, --disk/--net/--rng on virtio-pci,\n"
	"                        --mem default 256M (docs/linux.md)\n"
	"      --initrd FILE     the kernel's initial RAM disk\n"
	"      --cmdline TEXT    the kernel command line (default\n"
	"                        \"" LAUNCH_DEFAULT_CMDLINE "\", and \"" LAUNCH_NO_HW_VIRT_CMDLINE "\"\n"
	"                        on a host without VT-x/AMD-V)\n"
	"      --cpuid-mask LIST CPUID bits the kernel must not see, comma-separated:\n"
	"                        LEAF[.SUBLEAF]:REG:BIT (1:ecx:28) or a name (avx,\n"
	"                        avx2, avx512f, xsave, cmpxchg16b, x2apic, ...)\n"
	"      --rng             add a virtio-rng device\n"
	"      --disk PATH[,readonly]\n"
	"      --disk path=FILE[,readonly=on|off][,id=NAME]\n"
	"                        add a disk backed by the raw image FILE (repeatable;\n"
	"                        at most 8 virtio devices in all); in the key=value\n"
	"                        form write a comma in a value as two (,,); id is the\n"
	"                        serial number the guest reads (at most 20 characters)\n"
	"      --net tap=NAME[,mac=xx:xx:xx:xx:xx:xx][,mtu=N][,model=virtio|ne2000]\n"
	"                        add a virtio-net NIC on the TAP interface NAME\n"
	"                        (opened, or created; repeatable: one NIC each);\n"
	"                        model=ne2000: an emulated NE2000 instead (one)\n"
	"      --net-model virtio|ne2000\n"
	"                        the NIC of a --net without model=: virtio-net\n"
	"                        (default) or the emulated NE2000 at 0x300, IRQ 9\n"
	"      --disk-model virtio|ide\n"
	"                        how disks appear: virtio-blk (default), or one\n"
	"                        emulated IDE disk on the primary channel\n"
	"      --api-sock PATH   serve the Firecracker-style control API on the Unix\n"
	"                        socket PATH; without GUEST.elf the VM starts on\n"
	"                        PUT /actions InstanceStart (docs/api.md)\n"
	"      --config-file FILE\n"
	"                        start the VM a Firecracker-style JSON file describes\n"
	"      --seccomp on|off  per-thread system call filters (default on); off is\n"
	"                        for debugging only and unsafe: a guest that breaks\n"
	"                        the monitor then reaches every system call\n"
	"      --uid UID, --gid GID\n"
	"                        run as this user and group once /dev/kvm, images and\n"
	"                        sockets are open (needs root)\n"
	"      --chroot DIR      change the root to DIR once everything is open\n"
	"      --unshare         new mount and network namespaces (needs root)\n"
	"  -q, --quiet           print only errors (the same as --log-level error)\n"
	"  -h, --help            show this help\n"
	"  -V, --version         show the pvmm and para-API versions\n"
	"\n"
	"Exit status: the guest's own exit status (0-63), or\n"
	"  1 host problem (/dev/kvm, memory)   2 bad command line or guest image\n"
	"  64 guest abort (also: exit or return from main with a status above 63)\n"
	"  65 guest CPU fault   66 triple fault   67 emulation failure\n"
	"  68 malformed para-API call   69 --timeout expired\n"
	"  70 stopped by a signal (SIGINT, SIGTERM, SIGHUP) or Ctrl-A x\n"
	"  71 console output closed (nobody reads stdout: EPIPE)\n"
	"  72 a monitor thread made a system call its seccomp filter forbids\n";

static const char bench_help[] =
	"Usage: pvmm bench compare [options]\n"
	"\n"
	"Benchmarks built into pvmm. The one there is:\n"
	"  compare   one workload over the paravirtual and the emulated path\n"
	"            (console and disk), at ring 0 and ring 3; see pvmm help bench compare\n";

static const char restore_help[] =
	"Usage: pvmm restore SNAPSHOT [--mem-file FILE] [--api-sock PATH] [--timeout SECS] [--seccomp off]\n"
	"\n"
	"Start a new VM from a snapshot written by PUT /snapshot/create or\n"
	"`pvmm ctl snapshot` (docs/snapshot.md), with the configuration it was\n"
	"taken with (memory, CPUs, ring, devices; disks reopened by path), and\n"
	"run it on from where it was paused. Both files are checked whole first:\n"
	"a corrupt, truncated or foreign snapshot is refused with status 2.\n"
	"\n"
	"  --mem-file FILE  the memory file (default: SNAPSHOT.mem)\n"
	"  --api-sock PATH  serve the API on PATH meanwhile (pause, snapshot, ...)\n"
	"  --timeout SECS   stop the VM after SECS seconds, as pvmm run does\n"
	"  --seccomp off    run without the system-call filters (unsafe; for\n"
	"                   debugging). A restored guest is as untrusted as any:\n"
	"                   the filters are on by default, whatever the snapshot\n"
	"                   was taken with\n";

static const char ctl_help[] =
	"Usage: pvmm ctl --api-sock PATH info|pause|resume|stop|metrics|snapshot DIR_OR_PATH\n"
	"\n"
	"Send one request to a pvmm serving its control API on PATH (pvmm run\n"
	"--api-sock) and print the answer on one line (docs/api.md).\n"
	"Exit status: 0 done, 1 refused by the API (its message on stderr),\n"
	"2 bad command line, 3 nothing answering on PATH.\n";

static const char help_help[] =
	"Usage: pvmm help [COMMAND]\n"
	"\n"
	"Without COMMAND: the list of commands and pvmm run's options. With one (run,\n"
	"restore, ctl, vhost-user, bench, bench compare, help): that command's help.\n"
	"pvmm COMMAND --help is the same.\n";

int cli_help(const char *command, FILE *out)
{
	if (!command || !*command) {
		fputs(commands_help, out);
		fputs(run_help, out);
	} else if (strcmp(command, "run") == 0) {
		fputs(run_help, out);
	} else if (strcmp(command, "ctl") == 0) {
		fputs(ctl_help, out);
	} else if (strcmp(command, "bench") == 0) {
		fputs(bench_help, out);
	} else if (strcmp(command, "bench compare") == 0) {
		bench_compare_usage(out);
	} else if (strcmp(command, "restore") == 0) {
		fputs(restore_help, out);
	} else if (strcmp(command, "help") == 0) {
		fputs(help_help, out);
	} else if (strcmp(command, "vhost-user") == 0) {
		vhost_user_usage(out);
	} else {
		return -1;
	}
	return 0;
}

/* "--name=value" or "--name": the name's length. */
static size_t long_name_len(const char *arg)
{
	const char *eq = strchr(arg, '=');
	return eq ? (size_t)(eq - arg) : strlen(arg);
}

void cli_bad_option(int ret, char **argv, const struct option *longopts, const char *command)
{
	/* getopt has moved past the option it complains about, except for an
	 * unknown short option inside a cluster (-sx): then optind still
	 * points at the cluster. optopt names a short option. */
	const char *arg = optind > 0 ? argv[optind - 1] : "";
	bool is_long = strncmp(arg, "--", 2) == 0 && arg[2];

	if (!is_long && optopt && ret == '?') {
		log_error("unknown option '-%c'; see pvmm help %s", optopt, command);
		return;
	}
	if (ret == ':') {
		if (is_long)
			log_error("option '--%.*s' needs a value; see pvmm help %s", (int)long_name_len(arg + 2),
				  arg + 2, command);
		else
			log_error("option '-%c' needs a value; see pvmm help %s", optopt, command);
		return;
	}
	if (!is_long) {
		log_error("unknown option '%s'; see pvmm help %s", arg, command);
		return;
	}
	const char *name = arg + 2;
	size_t len = long_name_len(name);
	bool has_value = name[len] == '=';
	const struct option *exact = NULL, *first = NULL;
	unsigned matches = 0;
	const char *names[64];

	for (const struct option *o = longopts; o->name; o++) {
		if (strncmp(o->name, name, len) != 0)
			continue;
		if (strlen(o->name) == len)
			exact = o;
		if (!first)
			first = o;
		if (matches < sizeof(names) / sizeof(names[0]))
			names[matches] = o->name;
		matches++;
	}
	/* "--a, --b or --c", in the order of the option table. */
	char candidates[512] = "";
	for (unsigned i = 0; i < matches && i < sizeof(names) / sizeof(names[0]); i++) {
		size_t used = strlen(candidates);
		snprintf(candidates + used, sizeof(candidates) - used, "%s--%s",
			 i == 0 ? "" : i + 1 == matches ? " or " : ", ", names[i]);
	}
	const struct option *found = exact ? exact : matches == 1 ? first : NULL;
	if (found && has_value && found->has_arg == no_argument)
		log_error("option '--%s' takes no value (got '%s'); see pvmm help %s", found->name, arg, command);
	else if (!found && matches > 1)
		log_error("ambiguous option '--%.*s': it could be %s; see pvmm help %s", (int)len, name, candidates,
			  command);
	else
		log_error("unknown option '--%.*s'; see pvmm help %s", (int)len, name, command);
}

bool cli_parse_size(const char *text, uint64_t *bytes)
{
	char *end;
	errno = 0;
	unsigned long long value = strtoull(text, &end, 10);
	if (errno || end == text || text[0] == '-' || text[0] == '+')
		return false;
	unsigned shift = 20; /* a bare number: MiB, as other monitors take it */
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 'B': shift = 0; break; /* "4194304B": bytes */
	case '\0': break;
	default: return false;
	}
	if (shift && *end == 'i' && end[1] == 'B')
		end += 2;
	else if (*end == 'B')
		end++;
	if (*end || value > (UINT64_MAX >> shift))
		return false;
	*bytes = value << shift;
	return true;
}

int cli_check_writable(const char *option, const char *path)
{
	struct stat st;
	bool existed = stat(path, &st) == 0;

	if (existed && S_ISDIR(st.st_mode)) {
		log_error("%s '%s' is a directory; give a file name", option, path);
		return -1;
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0) {
		log_error("%s: cannot write '%s': %s", option, path, strerror(errno));
		return -1;
	}
	close(fd);
	if (!existed)
		unlink(path);
	return 0;
}

/* Long options without a short form. */
enum {
	OPT_CONSOLE = 0x100, OPT_RNG, OPT_DISK, OPT_DISK_MODEL, OPT_STATS_JSON, OPT_MEM_HUGEPAGES, OPT_CPUS,
	OPT_RING, OPT_TRANSPORT, OPT_LOG_FILE, OPT_LOG_LEVEL, OPT_METRICS_PATH, OPT_METRICS_INTERVAL, OPT_CONSOLE_LOG,
	OPT_API_SOCK, OPT_CONFIG_FILE, OPT_NET, OPT_SECCOMP, OPT_UID, OPT_GID, OPT_CHROOT, OPT_UNSHARE,
	OPT_CONSOLE_MODE, OPT_NET_MODEL, OPT_KERNEL, OPT_INITRD, OPT_CMDLINE, OPT_CPUID_MASK,
};

static const struct option run_longopts[] = {
	{ "console", required_argument, NULL, OPT_CONSOLE },
	{ "console-log", required_argument, NULL, OPT_CONSOLE_LOG },
	{ "console-mode", required_argument, NULL, OPT_CONSOLE_MODE },
	{ "rng", no_argument, NULL, OPT_RNG },
	{ "disk", required_argument, NULL, OPT_DISK },
	{ "disk-model", required_argument, NULL, OPT_DISK_MODEL },
	{ "net", required_argument, NULL, OPT_NET },
	{ "net-model", required_argument, NULL, OPT_NET_MODEL },
	{ "cpus", required_argument, NULL, OPT_CPUS },
	{ "ring", required_argument, NULL, OPT_RING },
	{ "transport", required_argument, NULL, OPT_TRANSPORT },
	{ "mem", required_argument, NULL, 'm' },
	{ "mem-hugepages", no_argument, NULL, OPT_MEM_HUGEPAGES },
	{ "timeout", required_argument, NULL, 't' },
	{ "stats", no_argument, NULL, 's' },
	{ "stats-json", required_argument, NULL, OPT_STATS_JSON },
	{ "log-file", required_argument, NULL, OPT_LOG_FILE },
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
	{ "metrics-path", required_argument, NULL, OPT_METRICS_PATH },
	{ "metrics-interval", required_argument, NULL, OPT_METRICS_INTERVAL },
	{ "api-sock", required_argument, NULL, OPT_API_SOCK },
	{ "config-file", required_argument, NULL, OPT_CONFIG_FILE },
	{ "seccomp", required_argument, NULL, OPT_SECCOMP },
	{ "uid", required_argument, NULL, OPT_UID },
	{ "gid", required_argument, NULL, OPT_GID },
	{ "chroot", required_argument, NULL, OPT_CHROOT },
	{ "unshare", no_argument, NULL, OPT_UNSHARE },
	{ "kernel", required_argument, NULL, OPT_KERNEL },
	{ "initrd", required_argument, NULL, OPT_INITRD },
	{ "cmdline", required_argument, NULL, OPT_CMDLINE },
	{ "cpuid-mask", required_argument, NULL, OPT_CPUID_MASK },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ 0 },
};

static int parse_mem(const char *arg, struct vm_options *opt)
{
	if (!cli_parse_size(arg, &opt->mem_size)) {
		log_error("--mem '%s' is not a size; write e.g. 64 (MiB), 64M or 1G", arg);
		return -1;
	}
	if (opt->mem_size < MEM_MIN || opt->mem_size > MEM_MAX) {
		log_error("--mem %s is out of range: use 4M to 3G", arg);
		return -1;
	}
	if (opt->mem_size % HUGE_PAGE_SIZE) {
		log_error("--mem %s is not a whole number of 2 MiB; round it, e.g. to %lluM", arg,
			  (unsigned long long)((opt->mem_size + HUGE_PAGE_SIZE - 1) >> 20 & ~1ull));
		return -1;
	}
	return 0;
}

/* A positive number of seconds up to `max`, for `option`. */
static int parse_seconds(const char *option, const char *arg, double max, double *out)
{
	char *end;
	errno = 0;
	double s = strtod(arg, &end);
	if (end == arg || *end || s != s) {
		log_error("%s '%s' is not a number of seconds; write e.g. 10 or 0.5", option, arg);
		return -1;
	}
	if (!(s > 0)) {
		log_error("%s '%s' is not a positive number of seconds", option, arg);
		return -1;
	}
	if (errno || s > max) {
		log_error("%s '%s' is too long: the most is %.0f seconds%s", option, arg, max,
			  max >= 1e9 ? " (about 31 years)" : max == 86400 ? " (a day)" : "");
		return -1;
	}
	*out = s;
	return 0;
}

static void print_version(void)
{
	printf("pvmm %s, para-API %d.%d\n", PVMM_VERSION_STRING, PVMM_PARA_VERSION_MAJOR, PVMM_PARA_VERSION_MINOR);
}

/* --kernel's rules, after the options are read: a kernel is its own
 * kind of guest (CPL0, the UART console; its virtio devices on PCI,
 * where Linux's virtio_pci finds them). */
static int check_kernel_options(struct vm_options *opt, bool mem_given, bool ring_given, bool console_given,
				bool cpuid_given, bool transport_given)
{
	if (!opt->kernel) {
		const char *alone = opt->initrd ? "--initrd" : opt->cmdline ? "--cmdline" : cpuid_given ? "--cpuid-mask" : NULL;
		if (alone) {
			log_error("%s is for Linux kernels: give it with --kernel IMAGE", alone);
			return -1;
		}
		return 0;
	}
	const char *bad = ring_given && opt->ring == 3 ? "--ring 3 (a kernel runs at CPL0)"
			  : console_given && !opt->uart_console ? "--console other than uart (its console is the UART)"
			  : transport_given && !opt->devices.pci ? "--transport mmio (a kernel finds its devices on PCI)"
			  : opt->api_sock ? "--api-sock" : opt->config_file ? "--config-file" : NULL;
	if (bad) {
		log_error("--kernel does not go with %s; leave it out (see docs/linux.md)", bad);
		return -1;
	}
	opt->uart_console = true;
	opt->devices.pci = true;
	if (!mem_given)
		opt->mem_size = LAUNCH_KERNEL_MEM_DEFAULT;
	return 0;
}

int cli_parse_run(int argc, char **argv, struct vm_options *opt)
{
	char *end;
	int c;
	bool mem_given = false, ring_given = false, console_given = false, cpuid_given = false;
	bool transport_given = false;

	vm_options_init(opt);
	/* '+': stop at GUEST.elf so the guest's own flags pass through;
	 * ':': report a missing value as ':' rather than '?'. */
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+:m:t:sqhV", run_longopts, NULL)) != -1) {
		switch (c) {
		case 'm':
			if (parse_mem(optarg, opt))
				return -1;
			mem_given = true;
			break;
		case OPT_KERNEL: opt->kernel = optarg; break;
		case OPT_INITRD: opt->initrd = optarg; break;
		case OPT_CMDLINE: opt->cmdline = optarg; break;
		case OPT_CPUID_MASK: {
			char err[256];
			if (cpuid_parse_mask(optarg, &opt->cpuid_mask, err, sizeof(err))) {
				log_error("%s", err);
				return -1;
			}
			cpuid_given = true;
			break;
		}
		case 't':
			if (parse_seconds("--timeout", optarg, TIMEOUT_MAX_S, &opt->timeout_s))
				return -1;
			break;
		case OPT_METRICS_INTERVAL:
			if (parse_seconds("--metrics-interval", optarg, 86400, &opt->metrics_interval_s))
				return -1;
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
			ring_given = true;
			break;
		case OPT_TRANSPORT:
			if (strcmp(optarg, "mmio") && strcmp(optarg, "pci")) {
				log_error("--transport '%s': use mmio (virtio-mmio) or pci (virtio-pci)", optarg);
				return -1;
			}
			opt->devices.pci = strcmp(optarg, "pci") == 0;
			transport_given = true;
			break;
		case 's': opt->stats = true; break;
		case OPT_CONSOLE:
			console_given = true;
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
		case OPT_NET_MODEL:
			opt->ne2000 = strcmp(optarg, "ne2000") == 0;
			if (!opt->ne2000 && strcmp(optarg, "virtio") != 0) {
				log_error("--net-model '%s': use 'virtio' or 'ne2000'", optarg);
				return -1;
			}
			break;
		case OPT_RNG: opt->rng = true; break;
		case OPT_STATS_JSON: opt->stats_json = optarg; break;
		case OPT_METRICS_PATH: opt->metrics_path = optarg; break;
		case OPT_LOG_FILE: opt->log_file = optarg; break;
		case OPT_CONSOLE_LOG: opt->console_log = optarg; break;
		case OPT_CONSOLE_MODE:
			opt->console_mode = term_mode_from_name(optarg);
			if (opt->console_mode < 0) {
				log_error("--console-mode '%s': use 'auto', 'raw' or 'cooked'", optarg);
				return -1;
			}
			break;
		case OPT_API_SOCK: opt->api_sock = optarg; break;
		case OPT_CONFIG_FILE: opt->config_file = optarg; break;
		case OPT_LOG_LEVEL:
			opt->log_level = log_level_from_name(optarg);
			if (opt->log_level < 0) {
				log_error("--log-level '%s': use error, warn, info or debug", optarg);
				return -1;
			}
			break;
		case OPT_MEM_HUGEPAGES: opt->mem_flags |= GUEST_MEM_HUGEPAGES; break;
		case OPT_DISK:
			if (opt->disk_count >= MACHINE_MAX_DEVICES) {
				log_error("too many --disk options: a VM has at most %u devices", MACHINE_MAX_DEVICES);
				return -1;
			}
			opt->disks[opt->disk_count++] = optarg;
			break;
		case OPT_NET:
			if (opt->net_count >= MACHINE_MAX_DEVICES) {
				log_error("too many --net options: a VM has at most %u devices", MACHINE_MAX_DEVICES);
				return -1;
			}
			opt->nets[opt->net_count++] = optarg;
			break;
		case OPT_SECCOMP:
			if (strcmp(optarg, "on") && strcmp(optarg, "off")) {
				log_error("--seccomp '%s': use on (the default) or off", optarg);
				return -1;
			}
			opt->seccomp_off = strcmp(optarg, "off") == 0;
			break;
		case OPT_UID:
		case OPT_GID: {
			errno = 0;
			unsigned long id = strtoul(optarg, &end, 10);
			if (end == optarg || *end || errno || id >= 0xffffffffUL || optarg[0] == '-') {
				log_error("%s '%s' is not a numeric %s ID", c == OPT_UID ? "--uid" : "--gid", optarg,
					  c == OPT_UID ? "user" : "group");
				return -1;
			}
			if (c == OPT_UID) {
				opt->jail.uid = (uid_t)id;
				opt->jail.drop_uid = true;
			} else {
				opt->jail.gid = (gid_t)id;
				opt->jail.drop_gid = true;
			}
			break;
		}
		case OPT_CHROOT: opt->jail.chroot_dir = optarg; break;
		case OPT_UNSHARE: opt->jail.unshare = true; break;
		case 'q': opt->log_level = LOG_ERROR; break;
		case 'h': cli_help("run", stdout); exit(0);
		case 'V': print_version(); exit(0);
		default:
			cli_bad_option(c, argv, run_longopts, "run");
			return -1;
		}
	}
	/* The tap is opened after --unshare: in the new, empty namespace. */
	if (opt->jail.unshare && opt->net_count) {
		log_error("--unshare with --net: the tap device would be made in the new, empty network namespace, "
			  "out of the host's reach; leave one out");
		return -1;
	}
	/* A user without its group would keep group root (0). */
	if (opt->jail.drop_uid != opt->jail.drop_gid) {
		log_error("%s without %s: give both (a changed user keeps the old group otherwise)",
			  opt->jail.drop_uid ? "--uid" : "--gid", opt->jail.drop_uid ? "--gid" : "--uid");
		return -1;
	}
	if (check_kernel_options(opt, mem_given, ring_given, console_given, cpuid_given, transport_given))
		return -1;
	if (opt->kernel && optind < argc) {
		log_error("--kernel '%s' and the guest image '%s': give one of them", opt->kernel, argv[optind]);
		return -1;
	}
	if (vm_options_request_devices(opt))
		return -1;
	if (opt->kernel)
		return 0; /* no GUEST.elf, no guest arguments */
	if (opt->config_file && optind < argc) {
		log_error("--config-file names the guest image (boot-source); give no GUEST.elf as well");
		return -1;
	}
	if (optind >= argc) {
		if (opt->api_sock || opt->config_file)
			return 0; /* the image comes from the API or the config file */
		log_error("no guest image given; usage: pvmm run [options] GUEST.elf [args...]");
		return -1;
	}
	opt->image = argv[optind];
	opt->guest_argc = argc - optind;
	opt->guest_argv = argv + optind;
	return 0;
}
