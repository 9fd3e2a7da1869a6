/* Internal interfaces between the runtime's files; not for guest programs. */
#ifndef PVMM_RUNTIME_H
#define PVMM_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pvmm/para.h>

/* The stack isr.S builds before calling C: the GPRs it pushed (r15 pushed
 * last, so lowest), the vector and error code the stub pushed, then what
 * the CPU pushed. */
struct isr_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error_code;
	uint64_t rip, cs, rflags, rsp, ss;
};

/* idt.c: point the CPU at the (constant) IDT. */
void idt_load(void);

/* fault.c: called by isr.S on the IST stack; never returns. */
__attribute__((noreturn)) void isr_handle_exception(struct isr_frame *frame);

/* para.c: remember the boot info for pvmm_boot_info(). */
void para_set_boot_info(const struct pvmm_boot_info *bi);
/* para.c: the VM has one CPU (boot info cpu_count 0 or 1; true before
 * para_set_boot_info): nothing runs beside this code but its own
 * exception handlers, so the runtime's locks are skipped. */
extern bool runtime_one_cpu;

/* page.c: hand [start, end) to the page allocator. */
void page_init(uint64_t start, uint64_t end);
/* Make the image's text and read-only data read-only (mmu.c). */
void mmu_protect_image(void);

/* stdio.c: write out whatever stdout holds; stdio_drain also waits until
 * the console has taken it (the virtio console is asynchronous). */
void stdio_flush(void);
void stdio_drain(void);

/* stdio.c: send stdout's bytes to `write` (NULL: the para console);
 * `drain` (may be NULL) waits until they have left. */
typedef int64_t (*stdio_sink_fn)(const void *buf, size_t len);
void stdio_set_sink(stdio_sink_fn write, int (*drain)(void));

/* stdio.c: about to block (sleep, wait for a device or input): put what
 * an asynchronous console holds back for batching (vcons_push) on its
 * way, so output never waits behind a wait. Never blocks; does nothing
 * unless something is held (stdio_push_wanted). */
extern volatile bool stdio_push_wanted;
void stdio_set_push(void (*push)(void));
void stdio_before_wait_slow(void);
static inline void stdio_before_wait(void)
{
	if (stdio_push_wanted)
		stdio_before_wait_slow();
}

/* time.c: is pvmm_now_ns cheap here (the clock page, read natively), or
 * an exit (CPL0 code interpreted)? */
bool runtime_clock_cheap(void);

/* virtio_console.c: if the monitor lists a virtio console, open it and
 * route stdio to it (called once, before main). */
void vcons_stdio_autostart(void);

/* uart.c: if the monitor lists a 16550A UART, program it and route stdio
 * to it (called once, before main, when the virtio console did not). */
void uart_stdio_autostart(void);

/* ide.c: the ATA PIO driver behind <pvmm/blk.h> for an emulated IDE disk
 * (boot info PVMM_DEV_IDE). Synchronous: each call returns when the
 * device has finished. Errors are -BLK_E* (values of <pvmm/virtio.h>). */
struct ide_disk {
	uint16_t cmd, ctl;      /* command block base port, Device Control port */
	unsigned pin;           /* IOAPIC pin (PVMM_NO_IRQ: none) */
	uint64_t capacity;      /* sectors */
	bool lba48;             /* IDENTIFY word 83 bit 10 */
	bool flush, flush_ext;  /* FLUSH CACHE (EXT), word 83 bits 12, 13 */
	bool readonly;          /* learnt: the device refused a write with ABRT */
	unsigned multiple;      /* sectors per DRQ block of READ/WRITE MULTIPLE (0: off) */
	char serial[20];        /* IDENTIFY words 10-19, space padded */
	/* Interrupt-driven PIO (blk_set_mode(BLK_MODE_IRQ)). */
	bool irq_mode;
	volatile bool irq_expected, irq_seen;
	volatile uint8_t irq_status;
	uint64_t commands, interrupts, lost_interrupts, resets;
};
int ide_open(struct ide_disk *d, const struct pvmm_device_info *info);
int ide_rw(struct ide_disk *d, bool write, uint64_t lba, void *buf, uint32_t count);
int ide_flush(struct ide_disk *d);
int ide_set_irq_mode(struct ide_disk *d, bool on);
uint32_t ide_max_sectors(const struct ide_disk *d);

/* virtio_net.c and ne2000.c: the NIC drivers behind <pvmm/net.h>, which
 * net.c dispatches to. virtio's `nic` is the ordinal among virtio-net
 * devices; there is at most one NE2000. wait_prepare: true if a frame
 * waits, else the device's POLL bit added to *mask (armed to signal). */
struct net_nic_stats;
unsigned vnet_count(void);
int vnet_open(unsigned nic);
int vnet_mac(unsigned nic, uint8_t mac[6]);
unsigned vnet_mtu(unsigned nic);
bool vnet_link_up(unsigned nic);
int vnet_send(unsigned nic, const void *frame, size_t len);
int vnet_recv(unsigned nic, void *buf, size_t cap);
bool vnet_wait_prepare(uint64_t *mask);
bool vnet_rx_ready(void);
void vnet_stats(unsigned nic, struct net_nic_stats *st);
int ne2k_find(void);      /* boot info index of the NE2000, or -1 */
int ne2k_open(void);
int ne2k_mac(uint8_t mac[6]);
unsigned ne2k_mtu(void);
int ne2k_send(const void *frame, size_t len);
int ne2k_recv(void *buf, size_t cap);
bool ne2k_wait_prepare(uint64_t *mask);
bool ne2k_rx_ready(void);
void ne2k_stats(struct net_nic_stats *st);

/* para.c: pvmm_exit once stdout is drained (exit() drains it first). */
__attribute__((noreturn)) void runtime_exit_drained(uint64_t status);

/* exit.c: flush stdout and abort with a fixed message. */
__attribute__((noreturn)) void runtime_abort(const char *msg);

/* format.c: the printf engine, writing into a struct fmt_out. */
struct fmt_out {
	char *buf;       /* where bytes go */
	size_t pos;      /* bytes now in buf */
	size_t cap;      /* room in buf */
	size_t total;    /* bytes produced: printf's return value */
	/* Called when buf is full: may empty it (stdout) or not (snprintf,
	 * which then drops the rest while still counting it). */
	void (*full)(struct fmt_out *out);
};

/* virtio_pci.c: the virtio-pci side of virtio_mmio.c's API (para.h's
 * fixed BAR layout). */
struct virtio_dev;
struct pvmm_device_info;
uint32_t vpci_device_id(const struct pvmm_device_info *d);
int vpci_attach(struct virtio_dev *dev, const struct pvmm_device_info *d, uint32_t device_id);
uint32_t vpci_status(const struct virtio_dev *dev);
void vpci_set_status(const struct virtio_dev *dev, uint32_t status);
uint64_t vpci_device_features(const struct virtio_dev *dev);
void vpci_driver_features(const struct virtio_dev *dev, uint64_t features);
uint32_t vpci_queue_max(const struct virtio_dev *dev, unsigned q);
/* Program and enable queue q (selected by vpci_queue_max): its notify
 * address, or NULL if the device did not enable it. */
volatile uint32_t *vpci_queue_enable(const struct virtio_dev *dev, unsigned q, unsigned size, uint64_t desc,
				     uint64_t driver, uint64_t device);
volatile uint8_t *vpci_config(const struct virtio_dev *dev);
uint32_t vpci_generation(const struct virtio_dev *dev);
/* At ring 0: enable MSI-X with one vector for everything if the function
 * has it (dev->msix), and map the config to it again after a reset. */
void vpci_msix_setup(struct virtio_dev *dev, const struct pvmm_device_info *d);
void vpci_after_reset(struct virtio_dev *dev);

void fmt_spill(struct fmt_out *out, const char *s, int fill, size_t n);

/* Inline, as every output call ends in one of these: where guest code is
 * interpreted, a call and its register saves cost more than the copy. */
static inline void fmt_write(struct fmt_out *out, const char *s, size_t n)
{
	out->total += n;
	if (n <= out->cap - out->pos) {
		__builtin_memcpy(out->buf + out->pos, s, n);
		out->pos += n;
	} else {
		fmt_spill(out, s, 0, n);
	}
}

static inline void fmt_put(struct fmt_out *out, char c)
{
	out->total++; /* counted even where it does not fit (snprintf) */
	if (out->pos < out->cap)
		out->buf[out->pos++] = c;
	else
		fmt_spill(out, &c, 0, 1);
}
void fmt_vformat(struct fmt_out *out, const char *fmt, __builtin_va_list ap);
void fmt_fill(struct fmt_out *out, char c, size_t n);

/* format.c's conversion flags, as fmt_float gets them. */
enum { FMT_LEFT = 1, FMT_ZERO = 2, FMT_PLUS = 4, FMT_SPACE = 8, FMT_ALT = 16 };

/* format_float.c (compiled with SSE): %f %F %e %E %g %G, the double taken
 * from ap with va_arg. precision -1: none. */
void fmt_float(struct fmt_out *out, char conv, int flags, int width, int precision,
	       __builtin_va_list ap);

#endif /* PVMM_RUNTIME_H */
