/*
 * Emulated 16550A UART (COM1: ports 0x3f8-0x3ff, IRQ 4): the fully
 * virtualized console, for guests with stock serial drivers and for
 * measuring what a byte costs when every register access traps.
 * docs/devices.md lists the registers and behaviours implemented.
 */
#ifndef PVMM_UART16550_H
#define PVMM_UART16550_H

#include <stdbool.h>
#include <stdint.h>

#include "console_out.h"

#define UART_COM1_BASE 0x3f8
#define UART_COM1_IRQ 4
#define UART_PORTS 8
#define UART_FIFO_SIZE 16

/* Drives the UART's interrupt line (level: 1 asserted, 0 deasserted). */
typedef void (*uart_irq_fn)(void *ctx, int level);

struct uart_stats {
	uint64_t bytes_out, bytes_in, register_accesses;
};

struct uart;

/* A UART writing transmitted bytes to `out` (copied). Input arrives through
 * uart_receive(). Returns NULL on allocation failure. */
struct uart *uart_create(const struct console_sink *out, uart_irq_fn irq, void *irq_ctx);
void uart_destroy(struct uart *u);

/* One register access (the pio_fn shape); serialised internally. */
void uart_io(void *opaque, uint16_t offset, bool is_write, uint8_t *data, unsigned size);

/* Offer input bytes; returns how many were taken. Host input follows
 * hardware flow control: none while the guest holds RTS low or the UART
 * is in loopback, and no more than the receive FIFO has room for. */
unsigned uart_receive(struct uart *u, const uint8_t *bytes, unsigned len);

/* How many input bytes uart_receive() would take now (the I/O thread
 * reads no more than this from stdin). */
unsigned uart_rx_room(struct uart *u);

struct uart_stats uart_stats(struct uart *u);

/* Snapshot (docs/snapshot.md): every register, the receive FIFO and the
 * interrupt line's level out to `w`; back from `r` into a UART just
 * created (the irqchip's own state holds the line, so nothing is raised).
 * uart_load: 0, or -1 if the saved state is malformed. */
struct snap_reader;
struct snap_writer;
void uart_save(struct uart *u, struct snap_writer *w);
int uart_load(struct uart *u, struct snap_reader *r);

#endif
