/*
 * pvmm guest runtime: what a guest program gets beyond the C library
 * subset (<stdio.h>, <stdlib.h>, <string.h>, <assert.h>, <ctype.h>).
 */
#ifndef PVMM_GUEST_H
#define PVMM_GUEST_H

#include <stddef.h>
#include <stdint.h>
#include <pvmm/para.h>
#include <pvmm/para_calls.h>

#define PVMM_PAGE_SIZE 4096u

/* ---- Time (all waiting is a POLL call: the vCPU sleeps in the monitor) */

#define PVMM_NS_PER_US 1000ull
#define PVMM_NS_PER_MS 1000000ull
#define PVMM_NS_PER_S  1000000000ull

uint64_t pvmm_now_ns(void);  /* monotonic clock, ns (the PV clock page if any, else a CLOCK call) */
/* The PV clock page's monotonic time, read without an exit: 1 with *ns
 * set, or 0 when the monitor offers no usable page. */
int pvmm_clock_page_ns(uint64_t *ns);
uint64_t pvmm_wall_ns(void); /* ns since 1970-01-01 UTC */

/* Sleep until the monotonic clock reaches deadline_ns / for ns. */
void pvmm_sleep_until(uint64_t deadline_ns);
void sleep_ns(uint64_t ns);
int usleep(unsigned int usec);
unsigned int sleep(unsigned int seconds);

/* ---- Random bytes of any length, in PVMM_RANDOM_MAX chunks. Returns 0, or
 * -PVMM_E* if the monitor failed. */
int pvmm_getrandom(void *buf, size_t len);

/* ---- Console input ---------------------------------------------------- */

/* Index of the console in the boot info device list (its POLL bit), or -1
 * if the monitor lists none. */
int pvmm_console_device(void);

/* Wait for input, then read up to len bytes: bytes read (> 0), 0 at end of
 * input, or -PVMM_E*. */
int64_t pvmm_console_read_wait(void *buf, size_t len);

/* Next input byte (0..255), waiting for it; -1 at end of input. */
int pvmm_console_getc(void);

/* ---- Pages: 4 KiB pages from the boot info's usable RAM ----------------
 * page_alloc returns n contiguous, page-aligned pages, or NULL when RAM is
 * exhausted. The contents are NOT guaranteed to be zero (reused pages keep
 * old data); use memset or calloc when it matters. */
void *page_alloc(size_t n);
void page_free(void *p, size_t n);
/* Pages not yet handed out (bump area plus freed runs). */
size_t page_free_count(void);

/* ---- CPUs ------------------------------------------------------------
 * CPU 0 runs main(); the others wait until started: see <pvmm/smp.h>
 * (pvmm_cpu_start, pvmm_cpu_join, pvmm_cpu_id, locks). stdio, malloc and
 * the page allocator are safe on every CPU. */

/* How many CPUs the monitor gave the VM (pvmm run --cpus), at least 1. */
unsigned pvmm_cpu_count(void);

/* ---- Failure ---------------------------------------------------------- */

/* Format a message, flush stdout, and stop the VM (ABORT, kind PANIC). */
__attribute__((noreturn, format(printf, 1, 2))) void panic(const char *fmt, ...);

#endif /* PVMM_GUEST_H */
