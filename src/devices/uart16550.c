/*
 * 16550A register model. Transmission is instantaneous (THR is always
 * empty again by the next access), so THRE/TEMT read as set and the THR
 * empty interrupt fires as soon as it is enabled. The receive FIFO holds
 * 16 bytes (1 with FIFOs off); its interrupt fires at any fill level (the
 * trigger level is stored but not modelled, nor is the character timeout).
 * The IRQ output follows the PC convention: gated by MCR.OUT2, and off in
 * loopback mode.
 */
#include "devices/uart16550.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "console_out.h"
#include "snapshot_format.h"

/* Register offsets. */
enum { REG_DATA = 0, REG_IER = 1, REG_IIR_FCR = 2, REG_LCR = 3, REG_MCR = 4, REG_LSR = 5, REG_MSR = 6, REG_SCR = 7 };

#define IER_RDA   0x01 /* received data available */
#define IER_THRE  0x02 /* transmitter holding register empty */
#define IER_RLS   0x04 /* receiver line status */
#define IER_MS    0x08 /* modem status */
#define IIR_NONE  0x01
#define IIR_MS    0x00
#define IIR_THRE  0x02
#define IIR_RDA   0x04
#define IIR_RLS   0x06
#define IIR_FIFO  0xc0
#define FCR_ENABLE 0x01
#define FCR_CLEAR_RX 0x02
#define LCR_DLAB  0x80
#define MCR_DTR   0x01
#define MCR_RTS   0x02
#define MCR_OUT1  0x04
#define MCR_OUT2  0x08
#define MCR_LOOP  0x10
#define LSR_DR    0x01
#define LSR_OE    0x02
#define LSR_THRE  0x20
#define LSR_TEMT  0x40
#define MSR_DCTS  0x01
#define MSR_DDSR  0x02
#define MSR_TERI  0x04
#define MSR_DDCD  0x08
#define MSR_CTS   0x10
#define MSR_DSR   0x20
#define MSR_RI    0x40
#define MSR_DCD   0x80

struct uart {
	pthread_mutex_t lock;
	struct console_sink out;
	uart_irq_fn irq;
	void *irq_ctx;
	int irq_level;

	uint8_t ier, lcr, mcr, scr, dll, dlm, fcr, msr;
	bool overrun;           /* LSR.OE, cleared by reading LSR */
	bool thre_pending;      /* THR-empty interrupt not yet acknowledged */
	uint8_t rx[UART_FIFO_SIZE];
	unsigned rx_head, rx_count;
	struct uart_stats stats;
};

static unsigned rx_capacity(const struct uart *u)
{
	return (u->fcr & FCR_ENABLE) ? UART_FIFO_SIZE : 1;
}

/* Room for host input. The host side honours hardware flow control: it
 * sends only while the guest holds RTS up, and never in loopback (the
 * line is disconnected then). So input waits until the driver has set the
 * UART up, instead of landing in a holding register that its FIFO enable
 * then empties. */
static unsigned host_rx_room(const struct uart *u)
{
	if (!(u->mcr & MCR_RTS) || (u->mcr & MCR_LOOP))
		return 0;
	return rx_capacity(u) - u->rx_count;
}

static void rx_push(struct uart *u, uint8_t byte)
{
	if (u->rx_count == rx_capacity(u)) {
		u->overrun = true; /* as on hardware: the new byte is lost */
		return;
	}
	u->rx[(u->rx_head + u->rx_count) % UART_FIFO_SIZE] = byte;
	u->rx_count++;
}

static uint8_t rx_pop(struct uart *u)
{
	if (!u->rx_count)
		return 0;
	uint8_t byte = u->rx[u->rx_head];
	u->rx_head = (u->rx_head + 1) % UART_FIFO_SIZE;
	u->rx_count--;
	return byte;
}

/* The highest-priority pending interrupt, as IIR encodes it. */
static uint8_t pending_iir(const struct uart *u)
{
	if ((u->ier & IER_RLS) && u->overrun)
		return IIR_RLS;
	if ((u->ier & IER_RDA) && u->rx_count)
		return IIR_RDA;
	if ((u->ier & IER_THRE) && u->thre_pending)
		return IIR_THRE;
	if ((u->ier & IER_MS) && (u->msr & 0x0f))
		return IIR_MS;
	return IIR_NONE;
}

static void update_irq(struct uart *u)
{
	bool gated = (u->mcr & MCR_OUT2) && !(u->mcr & MCR_LOOP);
	int level = gated && pending_iir(u) != IIR_NONE;
	if (level != u->irq_level) {
		u->irq_level = level;
		if (u->irq)
			u->irq(u->irq_ctx, level);
	}
}

/* In loopback the modem inputs mirror the modem outputs. */
static void set_modem_inputs(struct uart *u)
{
	uint8_t old = u->msr, now;
	if (u->mcr & MCR_LOOP) {
		now = (u->mcr & MCR_RTS ? MSR_CTS : 0) | (u->mcr & MCR_DTR ? MSR_DSR : 0) |
		      (u->mcr & MCR_OUT1 ? MSR_RI : 0) | (u->mcr & MCR_OUT2 ? MSR_DCD : 0);
	} else {
		now = MSR_CTS | MSR_DSR | MSR_DCD; /* a connected, ready line */
	}
	uint8_t delta = u->msr & 0x0f;
	uint8_t changed = (uint8_t)(old ^ now);
	if (changed & MSR_CTS)
		delta |= MSR_DCTS;
	if (changed & MSR_DSR)
		delta |= MSR_DDSR;
	if (changed & MSR_DCD)
		delta |= MSR_DDCD;
	if ((old & MSR_RI) && !(now & MSR_RI))
		delta |= MSR_TERI; /* trailing edge only */
	u->msr = (uint8_t)(now | delta);
}

static void transmit(struct uart *u, uint8_t byte)
{
	if (u->mcr & MCR_LOOP) {
		rx_push(u, byte);
	} else {
		/* Unbuffered: a byte the guest sent is out even if pvmm dies
		 * next. The sink gives up when the VM stops, so a stalled
		 * terminal never holds the UART lock past a stop. */
		u->stats.bytes_out += console_sink_write(&u->out, &byte, 1);
	}
	u->thre_pending = true;
}

static uint8_t read_reg(struct uart *u, unsigned reg)
{
	uint8_t value;

	switch (reg) {
	case REG_DATA:
		if (u->lcr & LCR_DLAB)
			return u->dll;
		return rx_pop(u);
	case REG_IER:
		return (u->lcr & LCR_DLAB) ? u->dlm : u->ier;
	case REG_IIR_FCR:
		value = pending_iir(u);
		if (value == IIR_THRE)
			u->thre_pending = false; /* reading IIR acknowledges THRE */
		return (uint8_t)(value | ((u->fcr & FCR_ENABLE) ? IIR_FIFO : 0));
	case REG_LCR:
		return u->lcr;
	case REG_MCR:
		return u->mcr;
	case REG_LSR:
		value = (uint8_t)(LSR_THRE | LSR_TEMT | (u->rx_count ? LSR_DR : 0) | (u->overrun ? LSR_OE : 0));
		u->overrun = false;
		return value;
	case REG_MSR:
		value = u->msr;
		u->msr &= 0xf0; /* reading clears the delta bits */
		return value;
	default:
		return u->scr;
	}
}

static void write_reg(struct uart *u, unsigned reg, uint8_t value)
{
	switch (reg) {
	case REG_DATA:
		if (u->lcr & LCR_DLAB)
			u->dll = value;
		else
			transmit(u, value);
		break;
	case REG_IER:
		if (u->lcr & LCR_DLAB) {
			u->dlm = value;
			break;
		}
		/* Enabling the THRE interrupt while THR is empty raises it. */
		if ((value & IER_THRE) && !(u->ier & IER_THRE))
			u->thre_pending = true;
		u->ier = value & 0x0f;
		break;
	case REG_IIR_FCR:
		if ((value ^ u->fcr) & FCR_ENABLE)
			u->rx_count = 0; /* switching FIFO mode empties the FIFOs */
		else if ((value & FCR_ENABLE) && (value & FCR_CLEAR_RX))
			u->rx_count = 0; /* other FCR bits act only with bit 0 set */
		u->fcr = value & 0xc9; /* enable, DMA mode, trigger level; clear bits self-reset */
		break;
	case REG_LCR:
		u->lcr = value;
		break;
	case REG_MCR:
		u->mcr = value & 0x1f;
		set_modem_inputs(u);
		break;
	case REG_SCR:
		u->scr = value;
		break;
	default:
		break; /* LSR and MSR are read-only (writes are factory test) */
	}
}

void uart_io(void *opaque, uint16_t offset, bool is_write, uint8_t *data, unsigned size)
{
	struct uart *u = opaque;

	pthread_mutex_lock(&u->lock);
	u->stats.register_accesses++;
	/* An 8-bit device: a wider access acts on its first byte. */
	if (is_write) {
		write_reg(u, offset & 7, data[0]);
	} else {
		data[0] = read_reg(u, offset & 7);
		for (unsigned i = 1; i < size; i++)
			data[i] = 0xff;
	}
	update_irq(u);
	pthread_mutex_unlock(&u->lock);
}

unsigned uart_receive(struct uart *u, const uint8_t *bytes, unsigned len)
{
	unsigned taken = 0;

	pthread_mutex_lock(&u->lock);
	unsigned room = host_rx_room(u);
	while (taken < len && taken < room)
		rx_push(u, bytes[taken++]);
	u->stats.bytes_in += taken;
	update_irq(u);
	pthread_mutex_unlock(&u->lock);
	return taken;
}

unsigned uart_rx_room(struct uart *u)
{
	pthread_mutex_lock(&u->lock);
	unsigned room = host_rx_room(u);
	pthread_mutex_unlock(&u->lock);
	return room;
}

struct uart_stats uart_stats(struct uart *u)
{
	pthread_mutex_lock(&u->lock);
	struct uart_stats s = u->stats;
	pthread_mutex_unlock(&u->lock);
	return s;
}

struct uart *uart_create(const struct console_sink *out, uart_irq_fn irq, void *irq_ctx)
{
	struct uart *u = calloc(1, sizeof(*u));
	if (!u)
		return NULL;
	pthread_mutex_init(&u->lock, NULL);
	u->out = *out;
	u->irq = irq;
	u->irq_ctx = irq_ctx;
	u->lcr = 0x03; /* 8N1, as firmware leaves it */
	set_modem_inputs(u);
	u->msr &= 0xf0; /* no deltas at power-on */
	return u;
}

void uart_destroy(struct uart *u)
{
	if (!u)
		return;
	pthread_mutex_destroy(&u->lock);
	free(u);
}

void uart_save(struct uart *u, struct snap_writer *w)
{
	pthread_mutex_lock(&u->lock);
	const uint8_t regs[8] = { u->ier, u->lcr, u->mcr, u->scr, u->dll, u->dlm, u->fcr, u->msr };
	snap_put(w, regs, sizeof(regs));
	snap_put_u32(w, (uint32_t)u->overrun | (uint32_t)u->thre_pending << 1 | (uint32_t)(u->irq_level != 0) << 2);
	snap_put_u32(w, u->rx_head);
	snap_put_u32(w, u->rx_count);
	snap_put(w, u->rx, sizeof(u->rx));
	pthread_mutex_unlock(&u->lock);
}

int uart_load(struct uart *u, struct snap_reader *r)
{
	uint8_t regs[8];
	snap_get(r, regs, sizeof(regs));
	uint32_t flags = snap_get_u32(r), head = snap_get_u32(r), count = snap_get_u32(r);
	uint8_t rx[UART_FIFO_SIZE];
	snap_get(r, rx, sizeof(rx));
	if (r->bad || head >= UART_FIFO_SIZE || count > UART_FIFO_SIZE)
		return -1;
	pthread_mutex_lock(&u->lock);
	u->ier = regs[0], u->lcr = regs[1], u->mcr = regs[2], u->scr = regs[3];
	u->dll = regs[4], u->dlm = regs[5], u->fcr = regs[6], u->msr = regs[7];
	u->overrun = flags & 1;
	u->thre_pending = flags & 2;
	u->irq_level = (flags & 4) ? 1 : 0;
	u->rx_head = head;
	u->rx_count = count;
	memcpy(u->rx, rx, sizeof(rx));
	pthread_mutex_unlock(&u->lock);
	return 0;
}
