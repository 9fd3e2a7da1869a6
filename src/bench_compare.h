/* `pvmm bench compare`: paravirtual vs emulated, same workload. */
#ifndef PVMM_BENCH_COMPARE_H
#define PVMM_BENCH_COMPARE_H

#include <stdio.h>

/* argv[0] is "compare". Returns the process exit status. */
int bench_compare_main(int argc, char **argv);

/* Its help text (pvmm help bench compare). */
void bench_compare_usage(FILE *out);

#endif
