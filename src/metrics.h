/*
 * --metrics-path: while the VM runs, one JSON object per line every
 * --metrics-interval, written by a thread of its own (it takes none of
 * the supervisor's signals), and a last one at exit with the status and
 * the verdict. Every line carries "schema" (METRICS_SCHEMA), a sequence
 * number and time stamps, so a reader can tell samples apart and see
 * counters grow. docs/usage.md lists the keys.
 */
#ifndef PVMM_METRICS_H
#define PVMM_METRICS_H

#include <stdio.h>

#include "vm.h"

#define METRICS_SCHEMA 1
/* --stats-json's own schema version (2: adds status, verdict). */
#define STATS_JSON_SCHEMA 2

struct metrics;

/* Open (truncate) `path` and start sampling `vm` every `interval_s`.
 * NULL after one line saying why. */
struct metrics *metrics_start(struct vm *vm, const char *path, double interval_s);
/* Stop the thread, write the final line with `status`, close the file.
 * Returns -1 if the file could not be written. NULL is a no-op. */
int metrics_finish(struct metrics *m, int status);

/* What an exit status means, in one word: "exit" (the guest's own),
 * "abort", "fault", "triple_fault", "emulation", "bad_call", "timeout",
 * "signal", "console_closed", "host", "usage". */
const char *metrics_verdict(int status);

/* The counters of the moment as JSON object members (no braces): exits by
 * reason (summed over vCPUs as they run), para-API calls, console bytes,
 * per-device counters, RSS and process CPU. */
void metrics_print_counters(struct vm *vm, FILE *out);

#endif
