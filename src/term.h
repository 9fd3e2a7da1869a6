/*
 * The terminal on stdin (--console-mode): with a guest at the console,
 * pvmm puts a terminal in raw mode (no echo, no line editing, Ctrl-C and
 * Ctrl-Z go to the guest) and takes the Ctrl-A escape (console_escape.h)
 * out of the input every console reads; the settings it found come back
 * on every way out (term_restore). Process-wide: there is one stdin.
 * Nothing here knows the VM: the commands go to the handler launch.c
 * sets.
 */
#ifndef PVMM_TERM_H
#define PVMM_TERM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "console_escape.h"

enum term_mode {
	TERM_MODE_AUTO,   /* raw when stdin is a terminal and pvmm is in its foreground */
	TERM_MODE_RAW,    /* raw; stdin must be a terminal */
	TERM_MODE_COOKED, /* leave the terminal as it is (no escape key) */
};

/* "auto", "raw", "cooked": the mode, or -1. */
int term_mode_from_name(const char *name);

/* Put `fd` (stdin) in raw mode per `mode`, with `fn` taking the escape
 * commands. 1: raw now, and `*console_fd` is what the consoles read
 * instead of `fd`: a pipe an input thread fills from the terminal, the
 * escape keys taken out, whether or not the guest reads (so the keys
 * work with any guest); it ends when the terminal's input does. 0: left
 * as it is (cooked, no terminal, in the background), `*console_fd`
 * untouched; -1: TERM_MODE_RAW and no terminal (said why). */
int term_enter(int fd, enum term_mode mode, console_escape_fn *fn, void *ctx, int *console_fd);

/* Is the terminal raw (and the escape key live)? */
bool term_raw(void);

/* Put back the settings term_enter found (idempotent, async-signal-safe:
 * signal handlers and the SIGSYS path call it). The escape key stays
 * live until term_leave(). */
void term_restore(void);

/* Raw again after term_restore (SIGCONT after Ctrl-Z); async-signal-safe.
 * Nothing if never raw, or left, or pvmm is not in the foreground. */
void term_reraw(void);

/* Restore and forget: the VM is over (the input thread joined, the
 * pipe closed). */
void term_leave(void);

/* Take the escape sequences out of `n` bytes just read from the
 * terminal, in place; returns how many bytes stay for the guest. A no-op
 * (returns `n`) unless raw. Any thread; serialized inside. */
size_t term_filter_input(uint8_t *buf, size_t n);

/* The help text Ctrl-A h prints (stderr). */
void term_print_help(void);

#endif
