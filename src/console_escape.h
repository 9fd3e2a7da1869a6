/*
 * The raw console's escape key (term.c): Ctrl-A, then one key, as QEMU's
 * -nographic console has it. A pure state machine over the bytes read
 * from stdin, so it can be tested and fuzzed on its own.
 *
 *   Ctrl-A x        quit (the VM stops)
 *   Ctrl-A z        pause, or resume a paused VM
 *   Ctrl-A h (or ?) print the keys
 *   Ctrl-A Ctrl-A   one Ctrl-A for the guest
 *   Ctrl-A other    that key for the guest (the Ctrl-A is dropped)
 *
 * A Ctrl-A at the end of one read waits for the next read's first byte.
 */
#ifndef PVMM_CONSOLE_ESCAPE_H
#define PVMM_CONSOLE_ESCAPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONSOLE_ESCAPE_KEY 0x01 /* Ctrl-A */

enum console_escape_cmd {
	CONSOLE_ESCAPE_QUIT = 1,
	CONSOLE_ESCAPE_PAUSE,
	CONSOLE_ESCAPE_HELP,
};

struct console_escape {
	bool armed; /* the last byte was an unpaired Ctrl-A */
};

typedef void console_escape_fn(void *ctx, enum console_escape_cmd cmd);

/* Filter `n` bytes of input in place: escape sequences are taken out
 * (each command reported to `fn`, in order, if it is not NULL), the rest
 * stay for the guest. Returns how many bytes stay (never more than `n`).
 * Each input byte is read exactly once, before anything is written over
 * it, so `buf` may be memory another party can change meanwhile. */
size_t console_escape_filter(struct console_escape *st, uint8_t *buf, size_t n, console_escape_fn *fn, void *ctx);

#endif
