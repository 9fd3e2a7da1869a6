/*
 * pvmm's commands: `pvmm run` (and the control plane's forms of it),
 * `pvmm ctl`, `pvmm bench`, `pvmm help`. Option parsing and help texts are
 * cli.c's; starting a VM is launch.c's; the API is src/api/.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/ctl.h"
#include "bench_compare.h"
#include "cmd_vhost_user.h"
#include "cli.h"
#include "launch.h"
#include "jail.h"
#include "log.h"
#include "snapshot.h"
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

/* `pvmm restore SNAPSHOT [--mem-file FILE] [--api-sock PATH]
 * [--timeout SECS] [--seccomp off]`: the snapshot is checked whole, then the VM is built
 * from its configuration and runs on. */
static int restore_command(int argc, char **argv)
{
	const char *state = NULL, *mem = NULL, *sock = NULL, *seccomp = "on";
	double timeout = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			cli_help("restore", stdout);
			return 0;
		} else if ((strcmp(a, "--mem-file") == 0 || strcmp(a, "--api-sock") == 0 || strcmp(a, "--timeout") == 0) &&
			   i + 1 < argc) {
			const char *v = argv[++i];
			if (a[2] == 'm')
				mem = v;
			else if (a[2] == 'a')
				sock = v;
			else {
				char *end;
				timeout = strtod(v, &end);
				if (*end || !(timeout > 0)) {
					log_error("restore: --timeout '%s' is not a positive number of seconds", v);
					return PVMM_STATUS_USAGE;
				}
			}
		} else if (strcmp(a, "--seccomp") == 0 && i + 1 < argc) {
			seccomp = argv[++i];
		} else if (strncmp(a, "--seccomp=", 10) == 0) {
			seccomp = a + 10;
		} else if (a[0] == '-') {
			log_error("restore: unknown option '%s' (see pvmm help restore)", a);
			return PVMM_STATUS_USAGE;
		} else if (!state) {
			state = a;
		} else {
			log_error("restore: one snapshot only ('%s' is a second)", a);
			return PVMM_STATUS_USAGE;
		}
	}
	if (strcmp(seccomp, "on") != 0 && strcmp(seccomp, "off") != 0) {
		log_error("restore: --seccomp '%s': use on (the default) or off", seccomp);
		return PVMM_STATUS_USAGE;
	}
	/* Before any thread exists, as for pvmm run: the restored guest is
	 * as hostile as a new one, whatever the snapshot was taken with. */
	sysfilter_set_enabled(strcmp(seccomp, "on") == 0);
	if (!state) {
		log_error("restore: no snapshot given; usage: pvmm restore SNAPSHOT [--mem-file FILE] [--api-sock PATH]");
		return PVMM_STATUS_USAGE;
	}
	char err[SNAPSHOT_ERR_MAX];
	struct snapshot *s = snapshot_open(state, mem, err);
	if (!s) {
		log_error("%s", err);
		return PVMM_STATUS_USAGE;
	}
	struct vm_options opt;
	vm_options_init(&opt);
	opt.timeout_s = timeout;
	int status = PVMM_STATUS_USAGE;
	if (snapshot_options(s, &opt) == 0)
		status = sock ? api_main(&opt, sock, NULL) : vm_launch(&opt, NULL);
	snapshot_close(s);
	return status;
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
		log_error("help: no command '%s'; the commands are " CLI_COMMANDS, name);
		return PVMM_STATUS_USAGE;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "run") == 0)
		return run_command(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "restore") == 0)
		return restore_command(argc - 1, argv + 1);
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
		log_error("unknown command '%s'; the commands are " CLI_COMMANDS " (see pvmm --help)",
			  argv[1]);
	return PVMM_STATUS_USAGE;
}
