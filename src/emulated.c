#include "emulated.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "devices/device.h"
#include "devices/ide.h"
#include "devices/ne2000.h"
#include "devices/uart16550.h"
#include "iothread.h"
#include "irq.h"
#include "log.h"
#include "pio.h"
#include "snapshot_format.h"

struct emulated {
	struct vm *vm;

	struct uart *uart;
	int uart_in_fd;         /* stdin, watched while the FIFO has room; -1 at EOF */
	bool uart_in_paused;    /* FIFO full: not watching until the guest reads */
	bool uart_in_direct;    /* stdin cannot be epolled (a file): read it on access */
	/* Input read from stdin that the UART did not take (its room shrank
	 * between asking and offering, say the guest dropped RTS): offered
	 * again, before anything newer, when the guest next makes room.
	 * in_lock covers it and the paused/watching hand-over between the
	 * I/O thread and the vCPU thread. */
	pthread_mutex_t in_lock;
	uint8_t in_pend[UART_FIFO_SIZE];
	unsigned in_pend_off, in_pend_len;
	int uart_ready_fd;      /* POLL readiness: written when input arrives */

	struct ide *ide;

	struct ne2000 *nic;
	int nic_fd;             /* its back end's fd, watched while it lives; -1: not */
	int nic_ready_fd;       /* POLL readiness: written when a frame lands in the ring */
	char nic_backend[32];   /* its back end's name, for --stats */
};

static struct emulated *emulated_of(struct vm *vm)
{
	if (!vm->emulated) {
		vm->emulated = calloc(1, sizeof(struct emulated));
		if (!vm->emulated) {
			log_error("out of memory");
			return NULL;
		}
		vm->emulated->vm = vm;
		vm->emulated->uart_in_fd = -1;
		vm->emulated->uart_ready_fd = -1;
		vm->emulated->nic_fd = -1;
		vm->emulated->nic_ready_fd = -1;
		pthread_mutex_init(&vm->emulated->in_lock, NULL);
	}
	return vm->emulated;
}

static void uart_irq(void *ctx, int level)
{
	struct emulated *e = ctx;
	irq_set_level(e->vm, UART_COM1_IRQ, level);
}

static void ide_irq(void *ctx, int level)
{
	struct emulated *e = ctx;
	irq_set_level(e->vm, IDE_IRQ, level);
}

static void nic_irq(void *ctx, int level)
{
	struct emulated *e = ctx;
	irq_set_level(e->vm, NE2000_IRQ, level);
}

static void nic_rx_ready(void *ctx)
{
	struct emulated *e = ctx;
	uint64_t one = 1;
	if (write(e->nic_ready_fd, &one, sizeof(one)) < 0) {
		/* a saturated eventfd is still readable: nothing lost */
	}
}

/* Add an entry to the boot info device list. */
static int list_device(struct vm *vm, uint32_t type, unsigned pin, uint16_t port, uint16_t ports, int ready_fd)
{
	if (vm->device_count >= PVMM_MAX_DEVICES) {
		log_error("too many devices: a VM has at most %d", PVMM_MAX_DEVICES);
		return -1;
	}
	vm->ready_fd[vm->device_count] = ready_fd;
	vm->devices[vm->device_count++] = (struct pvmm_device_info){
		.type = type, .irq = pin, .mmio_base = port, .mmio_size = ports,
	};
	return 0;
}

static void uart_port_io(void *opaque, uint16_t offset, bool is_write, uint8_t *data, unsigned size);

static void uart_signal_ready(struct emulated *e)
{
	uint64_t one = 1;
	if (write(e->uart_ready_fd, &one, sizeof(one)) < 0) {
		/* a saturated eventfd is still readable: nothing lost */
	}
}

/* Offer what the UART did not take before (in_lock held). True if all of
 * it has gone in now. */
static bool uart_offer_pending(struct emulated *e)
{
	if (!e->in_pend_len)
		return true;
	unsigned took = uart_receive(e->uart, e->in_pend + e->in_pend_off, e->in_pend_len);
	if (took > e->in_pend_len)
		took = e->in_pend_len;
	e->in_pend_off += took;
	e->in_pend_len -= took;
	if (took)
		uart_signal_ready(e);
	if (e->in_pend_len)
		return false;
	e->in_pend_off = 0;
	return true;
}

/* Give `n` bytes just read to the UART; keep what it refuses (in_lock
 * held). True if it took them all. */
static bool uart_offer_new(struct emulated *e, const uint8_t *buf, unsigned n)
{
	unsigned took = uart_receive(e->uart, buf, n);
	if (took > n)
		took = n;
	if (took)
		uart_signal_ready(e);
	if (took == n)
		return true;
	memcpy(e->in_pend, buf + took, n - took); /* pending was empty: it was offered first */
	e->in_pend_off = 0;
	e->in_pend_len = n - took;
	return false;
}

/* Stop watching stdin until the guest makes room (in_lock held). The
 * vCPU makes room, then (fence) reads paused; we set paused, then (fence)
 * look at the room again. So either the vCPU sees paused and re-watches
 * under in_lock, or we see its room and keep watching: a re-watch can
 * never be missed (it used to be: unwatch first, paused after). */
static void uart_pause_input(struct emulated *e)
{
	__atomic_store_n(&e->uart_in_paused, true, __ATOMIC_SEQ_CST);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (uart_offer_pending(e) && uart_rx_room(e->uart)) {
		__atomic_store_n(&e->uart_in_paused, false, __ATOMIC_SEQ_CST);
		return; /* room already: stay on the I/O thread's list */
	}
	iothread_unwatch(e->vm->iothread, e->uart_in_fd);
}

/* I/O thread: move stdin bytes into the UART's receive FIFO. */
static void uart_input(void *opaque, uint32_t events)
{
	struct emulated *e = opaque;
	uint8_t buf[UART_FIFO_SIZE];
	(void)events;

	pthread_mutex_lock(&e->in_lock);
	/* A late call after we paused (or input ended): nothing to do. */
	if (e->uart_in_paused || e->uart_in_fd < 0)
		goto out;
	if (!uart_offer_pending(e)) {
		uart_pause_input(e);
		goto out;
	}
	unsigned room = uart_rx_room(e->uart);
	if (room == 0) {
		/* Full: wait for the guest to read (uart_port_io resumes us). */
		uart_pause_input(e);
		goto out;
	}
	if (room > sizeof(buf))
		room = sizeof(buf);
	ssize_t n = read(e->uart_in_fd, buf, room);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		goto out;
	if (n <= 0) {
		iothread_unwatch(e->vm->iothread, e->uart_in_fd); /* end of input */
		__atomic_store_n(&e->uart_in_fd, -1, __ATOMIC_RELEASE);
		goto out;
	}
	if (!uart_offer_new(e, buf, (unsigned)n))
		uart_pause_input(e);
out:
	pthread_mutex_unlock(&e->in_lock);
}

static int add_uart(struct vm *vm, int stdin_fd, const struct console_sink *out)
{
	struct emulated *e = emulated_of(vm);
	if (!e)
		return -1;
	e->uart = uart_create(out, uart_irq, e);
	e->uart_ready_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!e->uart || e->uart_ready_fd < 0 || irq_claim_pin(vm, UART_COM1_IRQ) ||
	    pio_register(&vm->pio, UART_COM1_BASE, UART_PORTS, "uart", uart_port_io, e)) {
		log_error("cannot create the UART");
		return -1;
	}
	if (stdin_fd >= 0) {
		e->uart_in_fd = stdin_fd;
		int ret = iothread_watch(vm->iothread, stdin_fd, EPOLLIN, uart_input, e);
		/* A regular file (or /dev/null) is always readable and epoll
		 * refuses it: read it whenever the guest touches the UART. */
		if (ret == -EPERM)
			e->uart_in_direct = true;
		else if (ret) {
			log_error("cannot watch stdin for the UART: %s", strerror(-ret));
			return -1;
		}
	}
	return list_device(vm, PVMM_DEV_UART_16550, UART_COM1_IRQ, UART_COM1_BASE, UART_PORTS,
			   e->uart_ready_fd);
}

static int add_ide(struct vm *vm, const char *path, bool readonly, const char *serial)
{
	struct emulated *e = emulated_of(vm);
	if (!e)
		return -1;
	if (e->ide) {
		log_error("--disk-model ide takes one disk (the primary master); use virtio for more");
		return -1;
	}
	struct blk_backend *disk = blk_open(path, readonly, 1);
	if (!disk)
		return -1;
	if (serial)
		blk_set_serial(disk, serial);
	e->ide = ide_create(disk, ide_irq, e);
	if (!e->ide || irq_claim_pin(vm, IDE_IRQ) ||
	    pio_register(&vm->pio, IDE_CMD_BASE, IDE_CMD_PORTS, "ide", ide_cmd_io, e->ide) ||
	    pio_register(&vm->pio, IDE_CTL_PORT, 1, "ide-control", ide_ctl_io, e->ide)) {
		log_error("cannot create the IDE disk");
		return -1;
	}
	return list_device(vm, PVMM_DEV_IDE, IDE_IRQ, IDE_CMD_BASE, IDE_CMD_PORTS, -1);
}

/* I/O thread: the NE2000's back end has frames. One that hung up or
 * fails stays readable for good: unwatch it, or the watch spins. */
static void nic_input(void *opaque, uint32_t events)
{
	struct emulated *e = opaque;
	bool dead = ne2000_rx_pump(e->nic);
	if ((dead || (events & (EPOLLHUP | EPOLLERR))) && e->nic_fd >= 0) {
		iothread_unwatch(e->vm->iothread, e->nic_fd);
		e->nic_fd = -1;
		log_warn("ne2000: the back end hung up or failed; no more frames will arrive");
	}
}

static int add_nic(struct vm *vm, const struct net_spec *spec)
{
	struct emulated *e = emulated_of(vm);
	if (!e)
		return -1;
	uint8_t mac[6];
	if (spec->has_mac)
		memcpy(mac, spec->mac, 6);
	else
		net_default_mac(spec, mac);
	struct net_backend *be = net_backend_open(spec);
	if (!be)
		return -1;
	snprintf(e->nic_backend, sizeof(e->nic_backend), "%s", be->name);
	e->nic = ne2000_create(mac, be, &(struct ne2000_host){ nic_irq, nic_rx_ready, e });
	if (!e->nic) {
		net_backend_close(be);
		log_error("out of memory adding the NE2000");
		return -1;
	}
	e->nic_ready_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (e->nic_ready_fd < 0 || irq_claim_pin(vm, NE2000_IRQ) ||
	    pio_register(&vm->pio, NE2000_BASE, NE2000_PORTS, "ne2000", ne2000_io, e->nic)) {
		log_error("cannot create the NE2000 (ports 0x%x-0x%x, IRQ %d)", NE2000_BASE,
			  NE2000_BASE + NE2000_PORTS - 1, NE2000_IRQ);
		return -1;
	}
	if (be->fd >= 0) {
		int ret = iothread_watch(vm->iothread, be->fd, EPOLLIN, nic_input, e);
		if (ret) {
			log_error("ne2000 %s: cannot watch the back end: %s", be->name, strerror(-ret));
			return -1;
		}
		e->nic_fd = be->fd;
	}
	return list_device(vm, PVMM_DEV_NE2000, NE2000_IRQ, NE2000_BASE, NE2000_PORTS, e->nic_ready_fd);
}

static int uart_attach(struct vm *vm, const struct device_env *env, const char *arg)
{
	(void)arg;
	return add_uart(vm, env->in_fd, &env->out);
}

const struct device_type uart16550_type = {
	.name = "uart16550",
	.kind = DEVICE_ISA,
	.max_count = 1,
	.interrupts = true,
	.attach_isa = uart_attach,
};

static int ide_attach(struct vm *vm, const struct device_env *env, const char *arg)
{
	struct disk_spec spec;
	(void)env;
	if (device_parse_disk(arg, &spec))
		return -1;
	int ret = add_ide(vm, spec.path, spec.readonly, spec.id);
	device_free_disk(&spec);
	return ret;
}

const struct device_type ide_type = {
	.name = "ide",
	.kind = DEVICE_ISA,
	.max_count = 1,
	.interrupts = true,
	.parse = device_check_disk,
	.attach_isa = ide_attach,
};

/* The NE2000 has a fixed 1514-byte frame limit: MTU 1500 at most. */
static int ne2000_parse(const char *arg, struct net_spec *spec)
{
	if (net_parse(arg, spec))
		return -1;
	if (spec->mtu > NE2000_FRAME_MAX - NET_ETH_HLEN) {
		log_error("--net '%s': model=ne2000 carries frames of at most %d bytes: mtu= up to %d",
			  arg, NE2000_FRAME_MAX, NE2000_FRAME_MAX - NET_ETH_HLEN);
		return -1;
	}
	return 0;
}

static int ne2000_check(const char *arg)
{
	struct net_spec spec;
	return ne2000_parse(arg, &spec);
}

static int ne2000_attach(struct vm *vm, const struct device_env *env, const char *arg)
{
	struct net_spec spec;
	(void)env;
	if (ne2000_parse(arg, &spec))
		return -1;
	return add_nic(vm, &spec);
}

const struct device_type ne2000_type = {
	.name = "ne2000",
	.kind = DEVICE_ISA,
	.max_count = 1,
	.interrupts = true,
	.parse = ne2000_check,
	.attach_isa = ne2000_attach,
};

/* stdin that epoll refuses (a regular file, /dev/null) is always
 * readable: top the FIFO up from it before each UART access, so the
 * access sees the input, and mark the UART ready for POLL. Bytes the
 * UART refuses wait in in_pend like those of the watched path. */
static void uart_input_direct(struct emulated *e)
{
	uint8_t buf[UART_FIFO_SIZE];

	pthread_mutex_lock(&e->in_lock);
	unsigned room = uart_offer_pending(e) ? uart_rx_room(e->uart) : 0;
	if (room > sizeof(buf))
		room = sizeof(buf);
	if (room) {
		ssize_t n = read(e->uart_in_fd, buf, room);
		if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
			e->uart_in_fd = -1; /* end of input */
		else if (n > 0)
			uart_offer_new(e, buf, (unsigned)n);
	}
	pthread_mutex_unlock(&e->in_lock);
}

/* The UART's ports: the register model, plus its input plumbing around
 * each access. */
static void uart_port_io(void *opaque, uint16_t offset, bool is_write, uint8_t *data, unsigned size)
{
	struct emulated *e = opaque;

	if (e->uart_in_direct && e->uart_in_fd >= 0)
		uart_input_direct(e);
	uart_io(e->uart, offset, is_write, data, size);
	if (e->uart_in_direct) {
		/* The access may have made room (a read, RTS raised): what is
		 * pending goes in now, not one access late. */
		pthread_mutex_lock(&e->in_lock);
		uart_offer_pending(e);
		pthread_mutex_unlock(&e->in_lock);
		return;
	}
	/* The guest made room (read a byte, raised RTS): take input again,
	 * the pending bytes first. Under in_lock, so a pause on the I/O
	 * thread cannot slip in between this check and the re-watch. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST); /* pairs with uart_pause_input() */
	if (!__atomic_load_n(&e->uart_in_paused, __ATOMIC_SEQ_CST))
		return; /* the common case: no lock on every access */
	pthread_mutex_lock(&e->in_lock);
	int in_fd = e->uart_in_fd;
	if (e->uart_in_paused && in_fd >= 0 && uart_offer_pending(e) && uart_rx_room(e->uart)) {
		__atomic_store_n(&e->uart_in_paused, false, __ATOMIC_RELEASE);
		iothread_watch(e->vm->iothread, in_fd, EPOLLIN, uart_input, e);
	}
	pthread_mutex_unlock(&e->in_lock);
}

/* The NE2000's counters, each as ", name N" or, for JSON, ", "name": N". */
static void nic_stats_fields(struct emulated *e, FILE *out, bool json)
{
	struct ne2000_stats s = ne2000_stats(e->nic);
	const struct { const char *name; uint64_t v; } f[] = {
		{ "register_accesses", s.register_accesses }, { "tx_frames", s.tx_frames }, { "tx_bytes", s.tx_bytes },
		{ "tx_loopback", s.tx_loopback }, { "rx_frames", s.rx_frames }, { "rx_bytes", s.rx_bytes },
		{ "drop_tx_short", s.drop_tx_short }, { "drop_tx_long", s.drop_tx_long },
		{ "drop_tx_bounds", s.drop_tx_bounds }, { "drop_tx_host", s.drop_tx_host },
		{ "drop_rx_host", s.drop_rx_host }, { "drop_rx_stopped", s.drop_rx_stopped },
		{ "drop_rx_filter", s.drop_rx_filter }, { "drop_rx_overflow", s.drop_rx_overflow },
		{ "drop_rx_bad_ring", s.drop_rx_bad_ring },
	};
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		fprintf(out, json ? ", \"%s\": %llu" : ", %s %llu", f[i].name, (unsigned long long)f[i].v);
}

void emulated_stats_print(struct vm *vm, FILE *out)
{
	struct emulated *e = vm->emulated;
	if (!e)
		return;
	if (e->uart) {
		struct uart_stats s = uart_stats(e->uart);
		fprintf(out, "  uart16550        %llu register accesses, %llu bytes out, %llu in\n",
			(unsigned long long)s.register_accesses, (unsigned long long)s.bytes_out,
			(unsigned long long)s.bytes_in);
	}
	if (e->ide) {
		struct ide_stats s = ide_stats(e->ide);
		fprintf(out, "  ide              %llu register accesses, %llu commands, %llu sectors read, "
			"%llu written, %llu errors\n",
			(unsigned long long)s.register_accesses, (unsigned long long)s.commands,
			(unsigned long long)s.sectors_read, (unsigned long long)s.sectors_written,
			(unsigned long long)s.errors);
	}
	if (e->nic) {
		fprintf(out, "  ne2000           %s", e->nic_backend);
		nic_stats_fields(e, out, false);
		fprintf(out, "\n");
	}
}

unsigned emulated_stats_print_json(struct vm *vm, FILE *out, bool first)
{
	struct emulated *e = vm->emulated;
	unsigned n = 0;
	if (!e)
		return 0;
	if (e->uart) {
		struct uart_stats s = uart_stats(e->uart);
		fprintf(out, "%s{\"name\": \"uart16550\", \"register_accesses\": %llu, \"bytes_out\": %llu, "
			"\"bytes_in\": %llu}", first ? "" : ", ", (unsigned long long)s.register_accesses,
			(unsigned long long)s.bytes_out, (unsigned long long)s.bytes_in);
		first = false;
		n++;
	}
	if (e->ide) {
		struct ide_stats s = ide_stats(e->ide);
		fprintf(out, "%s{\"name\": \"ide\", \"register_accesses\": %llu, \"commands\": %llu, "
			"\"sectors_read\": %llu, \"sectors_written\": %llu, \"errors\": %llu}",
			first ? "" : ", ", (unsigned long long)s.register_accesses, (unsigned long long)s.commands,
			(unsigned long long)s.sectors_read, (unsigned long long)s.sectors_written,
			(unsigned long long)s.errors);
		first = false;
		n++;
	}
	if (e->nic) {
		fprintf(out, "%s{\"name\": \"ne2000\", \"backend\": \"%s\"", first ? "" : ", ", e->nic_backend);
		nic_stats_fields(e, out, true);
		fprintf(out, "}");
		n++;
	}
	return n;
}

void emulated_destroy(struct vm *vm)
{
	struct emulated *e = vm->emulated;
	if (!e)
		return;
	uart_destroy(e->uart);
	ide_destroy(e->ide);
	ne2000_destroy(e->nic); /* the I/O thread has stopped: its watch is moot */
	if (e->uart_ready_fd >= 0)
		close(e->uart_ready_fd);
	if (e->nic_ready_fd >= 0)
		close(e->nic_ready_fd);
	pthread_mutex_destroy(&e->in_lock);
	free(e);
	vm->emulated = NULL;
}

bool emulated_can_save(const struct vm *vm)
{
	return !vm->emulated || !vm->emulated->nic;
}

void emulated_save(struct vm *vm, struct snap_writer *w)
{
	struct emulated *e = vm->emulated;
	snap_put_u32(w, e->uart != NULL);
	if (e->uart) {
		uart_save(e->uart, w);
		pthread_mutex_lock(&e->in_lock);
		snap_put_u32(w, e->in_pend_len);
		snap_put(w, e->in_pend + e->in_pend_off, e->in_pend_len);
		pthread_mutex_unlock(&e->in_lock);
	}
	snap_put_u32(w, e->ide != NULL);
	if (e->ide)
		ide_save(e->ide, w);
}

int emulated_load(struct vm *vm, struct snap_reader *r)
{
	struct emulated *e = vm->emulated;
	if (snap_get_u32(r) != (e->uart != NULL)) {
		log_error("snapshot: the saved VM %s a UART, this one %s", e->uart ? "had no" : "had", e->uart ? "has" : "has none");
		return -1;
	}
	if (e->uart) {
		if (uart_load(e->uart, r)) {
			log_error("snapshot: the UART's saved state is malformed");
			return -1;
		}
		uint32_t n = snap_get_u32(r);
		if (r->bad || n > sizeof(e->in_pend)) {
			log_error("snapshot: the UART's saved input is malformed");
			return -1;
		}
		pthread_mutex_lock(&e->in_lock);
		snap_get(r, e->in_pend, n);
		e->in_pend_off = 0;
		e->in_pend_len = n;
		pthread_mutex_unlock(&e->in_lock);
	}
	if (snap_get_u32(r) != (e->ide != NULL)) {
		log_error("snapshot: the saved VM and this one differ in having an IDE disk");
		return -1;
	}
	if (e->ide && ide_load(e->ide, r)) {
		log_error("snapshot: the IDE disk's saved state is malformed, or its image changed size");
		return -1;
	}
	if (r->bad || r->left) {
		log_error("snapshot: the emulated devices' saved state has the wrong length");
		return -1;
	}
	return 0;
}
