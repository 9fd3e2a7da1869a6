/*
 * The command line: `pvmm run`'s options, every command's help text, and
 * the messages for options that are unknown, ambiguous, given a value
 * they do not take or missing one they need. Nothing here touches KVM:
 * every mistake is one line and status 2 before anything runs.
 */
#ifndef PVMM_CLI_H
#define PVMM_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "launch.h"


/* Every command, for the messages that list them. */
#define CLI_COMMANDS "run, restore, ctl, vhost-user, bench compare and help"

/* Parse `pvmm run`'s arguments (argv[0] is "run", or the program for the
 * Firecracker-style `pvmm --api-sock PATH`) into `opt`, devices requested.
 * The guest image may be left out with --api-sock or --config-file. 0, or
 * -1 after one line saying what is wrong; --help and --version print and
 * exit(0). */
int cli_parse_run(int argc, char **argv, struct vm_options *opt);

/* `pvmm help [COMMAND...]`, `pvmm COMMAND --help`: print COMMAND's help
 * ("run", "bench", "bench compare", "help"; NULL or "" for the overview)
 * to `out`. -1 (nothing printed) if there is no such command. */
int cli_help(const char *command, FILE *out);

/* After getopt_long returned '?' or ':' (with opterr = 0 and ':' leading
 * the short options): one line saying what was wrong with the option just
 * seen: unknown, ambiguous (naming the candidates), given a value it does
 * not take, or missing its value. `command` ("run", "bench compare")
 * names the help to see. */
void cli_bad_option(int ret, char **argv, const struct option *longopts, const char *command);

/* "64M" → bytes; a bare number is MiB; K, M, G suffixes (with optional
 * "iB" or "B"), and a B suffix alone means bytes. False if not a size. */
bool cli_parse_size(const char *text, uint64_t *bytes);

/* Whether `path` can be created or written (a file left there by the check
 * is removed again if it did not exist before). 0, or -1 after one line
 * naming `option`. */
int cli_check_writable(const char *option, const char *path);

#endif
