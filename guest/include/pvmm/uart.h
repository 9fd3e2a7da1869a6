/*
 * 16550A UART driver (COM1): the console a VM gets with
 * `pvmm run --console uart` (para-API 1.1 lists it as PVMM_DEV_UART_16550,
 * its window a range of I/O ports).
 *
 * It drives the chip the way a stock 8250/16550 driver does, register by
 * register, every access an exit to the monitor: set-up programs the line
 * (8N1, divisor), turns the FIFOs on and checks they work (IIR bits 7-6),
 * raises DTR, RTS and OUT2; output waits for LSR.THRE, then writes up to
 * a FIFO's worth (16 bytes) to THR, one `outb` each; input reads RBR while
 * LSR.DR is set. Interrupts stay off (IER 0): to wait for input the
 * driver sleeps in the monitor with the para-API POLL on the UART's
 * device bit, which the monitor marks ready when input arrives.
 *
 * When the monitor lists a UART, the runtime opens it before main() and
 * sends stdout/stderr (printf & co.) to it and reads getchar() from it;
 * the para-API console stays the boot console (messages before that
 * point) and the monitor's fault reports. Bytes go out as they are (raw
 * mode: no "\n" to "\r\n" translation). A serial line has no end of
 * input, so getchar() follows the terminal convention: a ^D (04h) byte
 * reads as EOF.
 *
 * Functions return bytes / 0 on success and -PVMM_E* on failure.
 */
#ifndef PVMM_UART_H
#define PVMM_UART_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UART_EOF_CHAR 0x04 /* ^D: getchar() returns EOF for it */

/* Does the monitor list a UART? (No device access.) */
bool uart_present(void);

/* Its index in the boot info device list (its POLL bit), or -1. */
int uart_device(void);

/* Program the chip (idempotent): 0, or -PVMM_ENOSYS when there is none. */
int uart_open(void);

/* Send len bytes; returns len, or -PVMM_ENOSYS. Synchronous: the bytes
 * are in the chip when it returns. */
int64_t uart_write(const void *buf, size_t len);

/* Wait until the transmitter is empty (LSR.TEMT). */
void uart_drain(void);

/* Read up to len bytes that have arrived: bytes (> 0), or -PVMM_EAGAIN
 * if none. Never blocks. */
int64_t uart_read(void *buf, size_t len);

/* Wait for input until deadline_ns (UINT64_MAX: none), then read it:
 * bytes (> 0), or -PVMM_EAGAIN when the deadline passed. */
int64_t uart_read_wait(void *buf, size_t len, uint64_t deadline_ns);

/* Next input byte (0..255), waiting for it; -1 (EOF) for a ^D. */
int uart_getc(void);

/* Does stdio (printf, getchar) go to the UART? Switch it (on: opens the
 * UART; off: back to the para console). 0 or -PVMM_ENOSYS. */
bool uart_is_stdio(void);
int uart_set_stdio(bool on);

/* What the driver did (register accesses are exits). */
struct uart_stats {
	uint64_t bytes_out, bytes_in;
	uint64_t lsr_reads;   /* LSR polls */
	uint64_t waits;       /* POLL calls */
	uint64_t overruns;    /* LSR.OE seen */
};
void uart_get_stats(struct uart_stats *st);

#endif /* PVMM_UART_H */
