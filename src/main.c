/*
 * pvmm command line: `pvmm run [options] GUEST.elf [args...]`.
 * Parses options, loads the image, builds the VM, runs it, and exits with
 * the guest's status or the monitor's verdict (status.h).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/ctl.h"
#include "bench_compare.h"
#include "launch.h"
#include "layout.h"
#include "log.h"
#include "status.h"
#include "vm.h"

/* Long options without a short form. */
enum {
	OPT_CONSOLE = 0x100, OPT_RNG, OPT_DISK, OPT_DISK_MODEL, OPT_STATS_JSON, OPT_MEM_HUGEPAGES, OPT_CPUS, OPT_RING,
	OPT_API_SOCK, OPT_CONFIG_FILE,
};

/* The control plane's options (docs/api.md). */
static const char *api_sock, *config_file;

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: pvmm run [options] GUEST.elf [guest args...]\n"
		"       pvmm [run [options]] --api-sock PATH [GUEST.elf [guest args...]]\n"
		"       pvmm [run [options]] --config-file FILE [--api-sock PATH]\n"
		"       pvmm ctl --api-sock PATH info|pause|resume|stop|metrics\n"
		"       pvmm bench compare [options]   (see pvmm bench compare --help)\n"
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
		"      --api-sock PATH   serve the Firecracker-style control API on the Unix\n"
		"                        socket PATH; without GUEST.elf the VM starts on\n"
		"                        PUT /actions InstanceStart (docs/api.md)\n"
		"      --config-file FILE\n"
		"                        start the VM a Firecracker-style JSON file describes\n"
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

static int parse_options(int argc, char **argv, struct vm_options *opt)
{
	static const struct option longopts[] = {
		{ "console", required_argument, NULL, OPT_CONSOLE },
		{ "rng", no_argument, NULL, OPT_RNG },
		{ "disk", required_argument, NULL, OPT_DISK },
		{ "disk-model", required_argument, NULL, OPT_DISK_MODEL },
		{ "stats-json", required_argument, NULL, OPT_STATS_JSON },
		{ "cpus", required_argument, NULL, OPT_CPUS },
		{ "ring", required_argument, NULL, OPT_RING },
		{ "api-sock", required_argument, NULL, OPT_API_SOCK },
		{ "config-file", required_argument, NULL, OPT_CONFIG_FILE },
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

	vm_options_init(opt);
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
		case OPT_API_SOCK: api_sock = optarg; break;
		case OPT_CONFIG_FILE: config_file = optarg; break;
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
	if (vm_options_request_devices(opt))
		return -1;
	if (config_file && optind < argc) {
		log_error("--config-file names the guest image (boot-source); give no GUEST.elf as well");
		return -1;
	}
	if (optind >= argc) {
		if (api_sock || config_file)
			return 0; /* the image comes from the API or the config file */
		log_error("no guest image given; usage: pvmm run [options] GUEST.elf [args...]");
		return -1;
	}
	opt->image = argv[optind];
	opt->guest_argc = argc - optind;
	opt->guest_argv = argv + optind;
	return 0;
}

static int run_command(int argc, char **argv)
{
	struct vm_options opt;

	if (parse_options(argc, argv, &opt))
		return PVMM_STATUS_USAGE;
	if (api_sock || config_file)
		return api_main(&opt, api_sock, config_file);
	return vm_launch(&opt, NULL);
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "run") == 0)
		return run_command(argc - 1, argv + 1);
	/* Firecracker's form: `pvmm --api-sock PATH`, `pvmm --config-file FILE`. */
	if (argc >= 2 && (strncmp(argv[1], "--api-sock", 10) == 0 || strncmp(argv[1], "--config-file", 13) == 0))
		return run_command(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "ctl") == 0)
		return ctl_main(argc - 1, argv + 1);
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
