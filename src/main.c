/*
 * pvmm command line: `pvmm run [options] GUEST.elf [args...]`.
 * Parses options, loads the image, builds the VM, runs it, and exits with
 * the guest's status or the monitor's verdict (status.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bootinfo.h"
#include "cpu.h"
#include "elf_loader.h"
#include "kvm.h"
#include "layout.h"
#include "log.h"
#include "status.h"
#include "vcpu.h"

struct options {
	uint64_t mem_size;
	double timeout_s;
	bool stats;
	const char *image;
	int guest_argc;
	char **guest_argv;
};

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: pvmm run [options] GUEST.elf [guest args...]\n"
		"       pvmm --help | --version\n"
		"\n"
		"Run GUEST.elf, a static x86-64 guest built with guest/pvmm-cc, in a new KVM\n"
		"virtual machine that it drives through the pvmm para-API.\n"
		"\n"
		"Options (before GUEST.elf; what follows it goes to the guest):\n"
		"  -m, --mem SIZE        guest RAM, 4M to 3G in whole 2 MiB (default 32M);\n"
		"                        suffix K, M or G\n"
		"  -t, --timeout SECS    stop the guest after SECS seconds (decimals allowed)\n"
		"  -s, --stats           on exit, print wall time, VM exits by reason and\n"
		"                        para-API calls by number to stderr\n"
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

static int parse_options(int argc, char **argv, struct options *opt)
{
	static const struct option longopts[] = {
		{ "mem", required_argument, NULL, 'm' },
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
		case 's': opt->stats = true; break;
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
	if (optind >= argc) {
		log_error("no guest image given; usage: pvmm run [options] GUEST.elf [args...]");
		return -1;
	}
	opt->image = argv[optind];
	opt->guest_argc = argc - optind;
	opt->guest_argv = argv + optind;
	return 0;
}

/* Read the whole image file; NULL with a message on failure. */
static uint8_t *read_image(const char *path, size_t *size)
{
	struct stat st;
	uint8_t *buf = NULL;
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
	buf = malloc((size_t)st.st_size);
	if (!buf) {
		log_error("out of memory reading '%s'", path);
		goto out;
	}
	size_t done = 0;
	while (done < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + done, (size_t)st.st_size - done);
		if (n <= 0) {
			log_error("cannot read guest image '%s': %s", path, n ? strerror(errno) : "file shrank");
			free(buf);
			buf = NULL;
			goto out;
		}
		done += (size_t)n;
	}
	*size = done;
out:
	close(fd);
	return buf;
}

/* Load the image and boot info into fresh RAM. Returns an exit status or 0. */
static int prepare_guest(struct vm *vm, const struct options *opt, uint64_t *entry)
{
	char err[ELF_ERR_MAX > BOOTINFO_ERR_MAX ? ELF_ERR_MAX : BOOTINFO_ERR_MAX];
	struct elf_image image;
	size_t size;
	int ret;

	uint8_t *file = read_image(opt->image, &size);
	if (!file)
		return PVMM_STATUS_USAGE;
	ret = guest_mem_init(&vm->mem, opt->mem_size);
	if (ret) {
		log_error("cannot allocate %llu MiB of guest RAM: %s",
			  (unsigned long long)(opt->mem_size >> 20), strerror(-ret));
		free(file);
		return PVMM_STATUS_HOST;
	}
	ret = elf_load(file, size, &vm->mem, &image, err);
	free(file);
	if (ret || bootinfo_write(&vm->mem, image.image_end, opt->guest_argc, opt->guest_argv, err)) {
		log_error("%s: %s", opt->image, err);
		return PVMM_STATUS_USAGE;
	}
	*entry = image.entry;
	return 0;
}

static int run_command(int argc, char **argv)
{
	struct options opt = { 0 };
	struct vm vm = { .kvm_fd = -1, .vm_fd = -1, .vcpu_fd = -1, .console_out_fd = 1, .console_in_fd = 0 };
	uint64_t entry = 0;
	int status;

	vm.stats.start_ns = stats_now_ns();
	if (parse_options(argc, argv, &opt))
		return PVMM_STATUS_USAGE;
	if (fcntl(0, F_GETFD) < 0)
		vm.console_in_fd = -1;
	vm.device_count = BOOTINFO_DEVICE_COUNT;

	status = prepare_guest(&vm, &opt, &entry);
	if (status)
		goto out;
	if (kvm_create(&vm) || cpu_boot(&vm, entry)) {
		status = PVMM_STATUS_HOST;
		goto out;
	}
	if (vcpu_install_stops(&vm, opt.timeout_s)) {
		log_error("cannot install signal handlers: %s", strerror(errno));
		status = PVMM_STATUS_HOST;
		goto out;
	}
	vm.mono_base_ns = stats_now_ns();
	status = vcpu_run(&vm);
	if (opt.stats)
		stats_print(&vm.stats, stderr);
out:
	kvm_destroy(&vm);
	guest_mem_free(&vm.mem);
	return status;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "run") == 0)
		return run_command(argc - 1, argv + 1);
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
