/*
 * pvmm's commands: `pvmm run` (and the control plane's forms of it),
 * `pvmm ctl`, `pvmm bench`, `pvmm help`. Option parsing and help texts are
 * cli.c's; starting a VM is launch.c's; the API is src/api/.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "api/ctl.h"
#include "bench_compare.h"
#include "cmd_vhost_user.h"
#include "cli.h"
#include "launch.h"
#include "jail.h"
#include "log.h"
#include "syscall_filter.h"
#include "status.h"

static int run_command(int argc, char **argv)
{
	struct vm_options opt;

	if (cli_parse_run(argc, argv, &opt))
		return PVMM_STATUS_USAGE;
	/* Before any thread exists: the API thread loads its filter as it
	 * starts, and a new mount namespace is refused to a threaded process. */
	sysfilter_set_enabled(!opt.seccomp_off);
	if (jail_unshare(&opt.jail))
		return PVMM_STATUS_HOST;
	if (opt.api_sock || opt.config_file)
		return api_main(&opt, opt.api_sock, opt.config_file);
	return vm_launch(&opt, NULL);
}

static void print_version(void)
{
	printf("pvmm %s, para-API %d.%d\n", PVMM_VERSION_STRING, PVMM_PARA_VERSION_MAJOR, PVMM_PARA_VERSION_MINOR);
}

static bool is_help(const char *arg)
{
	return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}

/* `pvmm bench [compare ...]`. */
static int bench_command(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "compare") == 0)
		return bench_compare_main(argc - 1, argv + 1);
	if (argc >= 2 && is_help(argv[1])) {
		cli_help("bench", stdout);
		return 0;
	}
	if (argc < 2)
		log_error("bench: no benchmark given; the one there is: compare (see pvmm help bench)");
	else
		log_error("bench: unknown benchmark '%s'; the one there is: compare (see pvmm help bench)", argv[1]);
	return PVMM_STATUS_USAGE;
}

/* `pvmm help [COMMAND [SUBCOMMAND]]`. */
static int help_command(int argc, char **argv)
{
	char name[64] = "";
	if (argc == 2 && is_help(argv[1]))
		snprintf(name, sizeof(name), "help");
	else if (argc >= 2)
		snprintf(name, sizeof(name), "%s%s%s", argv[1], argc >= 3 ? " " : "", argc >= 3 ? argv[2] : "");
	if (argc > 3 || cli_help(name, stdout)) {
		log_error("help: no command '%s'; the commands are run, ctl, vhost-user, bench compare and help", name);
		return PVMM_STATUS_USAGE;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "run") == 0)
		return run_command(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "bench") == 0)
		return bench_command(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "help") == 0)
		return help_command(argc - 1, argv + 1);
	/* Firecracker's form: `pvmm --api-sock PATH`, `pvmm --config-file FILE`. */
	if (argc >= 2 && (strncmp(argv[1], "--api-sock", 10) == 0 || strncmp(argv[1], "--config-file", 13) == 0))
		return run_command(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "ctl") == 0)
		return ctl_main(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "vhost-user") == 0)
		return vhost_user_main(argc - 1, argv + 1);
	if (argc >= 2 && is_help(argv[1])) {
		cli_help(NULL, stdout);
		return 0;
	}
	if (argc >= 2 && (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0)) {
		print_version();
		return 0;
	}
	if (argc < 2)
		log_error("no command given; usage: pvmm run [options] GUEST.elf [args...] (see pvmm --help)");
	else if (argv[1][0] == '-')
		log_error("unknown option '%s'; try pvmm --help", argv[1]);
	else
		log_error("unknown command '%s'; the commands are run, ctl, vhost-user, bench compare and help (see pvmm --help)",
			  argv[1]);
	return PVMM_STATUS_USAGE;
}
