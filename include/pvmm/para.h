/*
 * pvmm para-API, version 1 — the one contract between the monitor and a guest.
 *
 * Both sides include this header: the monitor (hosted C) and the guest
 * runtime (freestanding C). It holds only fixed-width types, constants,
 * plain structs and the clock page's formula (pvmm_clock_scale, plain
 * integer code), so it compiles the same way on both. docs/para-api.md
 * explains every call; keep the two in step.
 *
 * Transport. A guest makes call N by writing the guest-physical address of
 * the call's argument block with a 32-bit `out` to port PVMM_PORT_BASE + N:
 *
 *     mov  $args_gpa, %eax
 *     mov  $(PVMM_PORT_BASE + N), %dx
 *     out  %eax, %dx
 *
 * The vCPU traps to the monitor, which validates and serves the call and
 * writes the result into the block's `ret` field before the guest resumes
 * (EXIT and ABORT do not return). Port I/O works the same with or without
 * hardware virtualization, unlike `vmcall`, which never reaches a user-space
 * monitor.
 *
 * Rules every call obeys:
 *  - The argument block starts with `int64_t ret`, is 8-byte aligned and lies
 *    wholly in guest RAM below 4 GiB. If it does not, there is nowhere to
 *    report an error, so the monitor stops the VM (status PVMM_STATUS_BADCALL).
 *  - `ret` >= 0 means success (its meaning is per call); `ret` < 0 is
 *    -PVMM_E*, and the call had no effect.
 *  - Every guest-physical buffer named in a block is checked to lie wholly in
 *    RAM (no wrap-around) before the monitor touches it (-PVMM_EFAULT).
 *  - Reserved and padding fields must be zero (-PVMM_EINVAL), so later minor
 *    versions can give them meaning.
 *  - Checks run in this order: reserved fields and value limits
 *    (-PVMM_EINVAL), then buffer ranges (-PVMM_EFAULT).
 */
#ifndef PVMM_PARA_H
#define PVMM_PARA_H

#include <stdint.h>

/* ABI version: a guest must refuse to run if MAJOR differs from the
 * monitor's (boot info `version`); MINOR only adds calls and fields. */
#define PVMM_PARA_VERSION_MAJOR 1
#define PVMM_PARA_VERSION_MINOR 6
#define PVMM_PARA_VERSION ((PVMM_PARA_VERSION_MAJOR << 16) | PVMM_PARA_VERSION_MINOR)
#define PVMM_VERSION_MAJOR_OF(v) ((uint32_t)(v) >> 16)

/* I/O ports PVMM_PORT_BASE .. PVMM_PORT_BASE + PVMM_PORT_COUNT - 1 are the
 * para-API. A call number in that range but not defined below gets
 * -PVMM_ENOSYS. (1.5: 32 ports, was 16.) A call is a 32-bit `out`, and the
 * CPU checks a ring-3 `out` against the I/O bitmap for each of the four
 * ports it covers, so call N at ring 3 needs ports N..N+3 open: with the
 * trap port last, calls up to PVMM_PORT_COUNT - 5 work in both rings. */
#define PVMM_PORT_BASE  0x0500u
#define PVMM_PORT_COUNT 32u

enum pvmm_call {
	PVMM_CALL_NOP = 0,           /* struct pvmm_nop_args: does nothing; for tests and benchmarks */
	PVMM_CALL_CONSOLE_WRITE = 1, /* struct pvmm_console_args: write bytes to the console */
	PVMM_CALL_CONSOLE_READ = 2,  /* struct pvmm_console_args: read bytes, never blocks */
	PVMM_CALL_EXIT = 3,          /* struct pvmm_exit_args: stop the VM with a status */
	PVMM_CALL_ABORT = 4,         /* struct pvmm_abort_args: stop the VM on a guest failure */
	PVMM_CALL_CLOCK = 5,         /* struct pvmm_clock_args: read a clock */
	PVMM_CALL_POLL = 6,          /* struct pvmm_poll_args: block until a device is ready or a deadline */
	PVMM_CALL_RANDOM = 7,        /* struct pvmm_random_args: fill a buffer with random bytes */
	PVMM_CALL_CPU_START = 8,     /* (1.2) struct pvmm_cpu_start_args: start a secondary vCPU */
	PVMM_CALL_WAKE = 9,          /* (1.3) struct pvmm_wake_args: wake a CPU waiting in POLL */
	PVMM_CALL_MMU = 10,          /* (1.4) struct pvmm_mmu_args: a batch of page-table changes */
	PVMM_CALL_UPCALL = 11,       /* (1.4) struct pvmm_upcall_args: ring 3: take device interrupts as upcalls */
	PVMM_CALL_STATS = 12,        /* (1.5) struct pvmm_stats_args: the monitor's counts for this VM so far */
	PVMM_CALL_COUNT = 13,
	/* A call counts in PVMM_CALL_COUNT once the monitor serves it. */
};

/* (1.3) The monitor's exception stubs report a ring-3 guest's CPU
 * exceptions on this port; it is not part of the guest's para-API (the
 * I/O permission bitmap closes it to CPL3). */
#define PVMM_PORT_TRAP (PVMM_PORT_BASE + PVMM_PORT_COUNT - 1)

/* Error codes; a failed call stores -PVMM_E* in `ret`. */
enum pvmm_error {
	PVMM_EFAULT = 1, /* a buffer lies (partly) outside guest RAM, or wraps around */
	PVMM_EINVAL = 2, /* a field holds a value the call does not accept */
	PVMM_ENOSYS = 3, /* no such call in this version */
	PVMM_EAGAIN = 4, /* nothing to read now; poll for the device, then retry */
	PVMM_EIO = 5,    /* the host failed to perform the I/O */
	PVMM_EBUSY = 6,  /* (1.2) CPU_START: that CPU was started already */
};

/* Limits the monitor enforces (-PVMM_EINVAL beyond them). */
#define PVMM_CONSOLE_MAX  (1u << 20) /* bytes per console call */
#define PVMM_RANDOM_MAX   (1u << 16) /* bytes per random call */
#define PVMM_ABORT_MSG_MAX 1024u     /* longer abort messages are truncated, not refused */

struct pvmm_nop_args {
	int64_t ret;      /* out: 0 */
};

struct pvmm_console_args {
	int64_t ret;      /* out: bytes written/read (read: 0 = end of input, or len 0) */
	uint64_t buf;     /* guest-physical address of the bytes */
	uint64_t len;     /* number of bytes, at most PVMM_CONSOLE_MAX */
};

/* Guests exit with 0..PVMM_EXIT_STATUS_MAX; the monitor's own verdicts
 * (abort, fault, timeout...) use the statuses above. */
#define PVMM_EXIT_STATUS_MAX 63

struct pvmm_exit_args {
	int64_t ret;      /* out: -PVMM_EINVAL for a status > PVMM_EXIT_STATUS_MAX; otherwise no return */
	uint64_t status;  /* the monitor process exits with this status */
};

/* CPU state at a guest exception, as the guest's handler saw it. */
struct pvmm_fault {
	uint64_t vector, error_code, cr2;
	uint64_t rip, cs, rflags, rsp, ss;
	uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp;
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
};

enum pvmm_abort_kind {
	PVMM_ABORT_PANIC = 0, /* software failure (assert, abort(), panic) */
	PVMM_ABORT_FAULT = 1, /* unhandled CPU exception; `fault` is filled in */
};

struct pvmm_abort_args {
	int64_t ret;      /* out: -PVMM_EINVAL for an unknown kind; otherwise does not return */
	uint64_t msg;     /* guest-physical address of a message (may be 0) */
	uint64_t msg_len; /* its length; truncated at PVMM_ABORT_MSG_MAX */
	uint32_t kind;    /* enum pvmm_abort_kind */
	uint32_t reserved;
	struct pvmm_fault fault;
};

enum pvmm_clock_id {
	PVMM_CLOCK_MONOTONIC = 0, /* ns since an arbitrary start; never goes back */
	PVMM_CLOCK_WALL = 1,      /* ns since 1970-01-01 UTC */
};

struct pvmm_clock_args {
	int64_t ret;      /* out: 0 */
	uint32_t clock;   /* enum pvmm_clock_id */
	uint32_t reserved;
	uint64_t ns;      /* out: the clock's value */
};

/* Block the vCPU in the monitor until a device in `interest` is ready, or
 * the monotonic clock reaches `deadline_ns`, whichever comes first. This is
 * the guest's only way to wait: no busy loops. Bit i stands for device i of
 * the boot info device list. `ret` is the number of ready devices (0: the
 * deadline passed). A deadline in the past returns at once, reporting what
 * is ready now.
 * (1.3) Bit 63 of `interest`, PVMM_POLL_WAKE, also waits for a WAKE of the
 * calling CPU: a WAKE since that CPU's last POLL with PVMM_POLL_WAKE (or
 * one arriving while it blocks) ends the POLL, sets bit 63 of `ready` and
 * counts in `ret`; reporting consumes it (several WAKEs, one report). A
 * POLL without the bit neither sees nor consumes a pending WAKE. */
#define PVMM_POLL_WAKE (1ull << 63)
struct pvmm_poll_args {
	int64_t ret;
	uint64_t deadline_ns; /* PVMM_CLOCK_MONOTONIC time */
	uint64_t interest;    /* in: devices to wait for */
	uint64_t ready;       /* out: devices ready, a subset of interest */
};

struct pvmm_random_args {
	int64_t ret;      /* out: bytes written (== len) */
	uint64_t buf;     /* guest-physical address */
	uint64_t len;     /* at most PVMM_RANDOM_MAX */
};

/* (1.2) Start secondary vCPU `cpu` (1 .. boot info cpu_count - 1) at `entry`
 * in long mode with the boot CPU's segments, paging and control registers,
 * its own TSS (selector PVMM_SEL_TSS_CPU(cpu)) and IST1 exception stack,
 * interrupts off, rsp = `stack`, rdi = `arg`; it has no IDT until it loads
 * one. Each CPU starts at most once. Errors: -PVMM_EINVAL for a reserved
 * field, a cpu out of range or 0, a stack not 16-byte aligned; -PVMM_EFAULT
 * for an entry outside RAM or a stack whose top 16 bytes are; -PVMM_EBUSY
 * if that CPU was started already. `ret` 0: the CPU is starting. */
struct pvmm_cpu_start_args {
	int64_t ret;
	uint32_t cpu;     /* CPU index */
	uint32_t reserved;
	uint64_t entry;   /* its first rip */
	uint64_t stack;   /* its rsp, 16-byte aligned */
	uint64_t arg;     /* its rdi */
};

/* (1.3) Wake CPU `cpu` (0 .. boot info cpu_count - 1, the caller itself
 * included): if it is blocked in a POLL with PVMM_POLL_WAKE that POLL
 * returns; otherwise its next such POLL returns at once. Errors:
 * -PVMM_EINVAL for a reserved field or a cpu out of range. `ret` 0. */
struct pvmm_wake_args {
	int64_t ret;
	uint32_t cpu;
	uint32_t reserved;
};

/* (1.4) MMU: apply `count` (1..PVMM_MMU_OPS_MAX) struct pvmm_mmu_op at
 * guest-physical `ops`, in order, to the monitor's page tables, all or
 * nothing, on every CPU before the call returns. An op covers `pages`
 * (1..PVMM_MMU_PAGES_MAX) 4 KiB pages from `va` (page-aligned, wholly in
 * PVMM_MMU_VA_MIN .. PVMM_MMU_VA_END): MAP points them at `pa` onwards
 * (page-aligned guest RAM, none of it the monitor's), UNMAP clears them,
 * PROTECT changes a mapped page's access. `flags`: PVMM_MMU_WRITE or 0
 * (read-only); 0 for UNMAP, as are `pa` but for MAP and `reserved`.
 * `ret`: count; or -PVMM_EINVAL (a field, or PROTECT of an unmapped page)
 * or -PVMM_EFAULT (ops or pa outside RAM or the monitor's), with nothing
 * changed and `failed` the index of the op refused (count if none). */
enum pvmm_mmu_kind { PVMM_MMU_MAP = 1, PVMM_MMU_UNMAP = 2, PVMM_MMU_PROTECT = 3 };
#define PVMM_MMU_WRITE     (1u << 0)
#define PVMM_MMU_OPS_MAX   512u
#define PVMM_MMU_PAGES_MAX 512u
#define PVMM_MMU_VA_MIN    0x100000ull   /* below: the monitor's */
#define PVMM_MMU_VA_END    0xc0000000ull /* at and above: device windows */
struct pvmm_mmu_op {
	uint64_t va, pa;
	uint32_t kind, flags, pages, reserved;
};
struct pvmm_mmu_args {
	int64_t ret;
	uint64_t ops;
	uint32_t count, reserved;
	uint64_t failed;  /* out */
};

/* (1.4) Ring 3 only: deliver device interrupts to the calling CPU as
 * upcalls. A guest at CPL3 can neither mask interrupts (cli/sti) nor end
 * them (the local APIC is the monitor's), so the monitor's IDT takes each
 * one, ends it, and then, unless the CPU's `info->masked` is set, enters
 * `entry` at CPL3 on the interrupted stack:
 *
 *     rsp -> pin, cpu, rflags, rip     (4 x 8 bytes, written by the monitor)
 *     then 128 bytes left untouched (a red zone), then the interrupted rsp
 *
 * with every register as it was and `info->masked` set to 1. The entry
 * saves what it uses, runs the handler, and returns with `popfq` after
 * dropping pin and cpu, then `ret $128`: that restores rflags, rip and rsp
 * at once without a call. While `masked` is set an interrupt only sets
 * bit `pin` of `info->pending` (an atomic OR); the guest clears `masked`
 * to take interrupts again and handles what `pending` holds itself (no
 * call needed). `masked` is the guest's virtual interrupt flag.
 * The interrupted stack must be writable user memory: if the 160 bytes
 * under it are not, the monitor stops the VM with a fault report.
 * `entry` 0 turns upcalls off for the CPU (interrupts are then held by
 * the local APIC until they are turned on again). Errors: -PVMM_EINVAL
 * for a reserved field, a ring-0 guest (it has its own IDT), or `info`
 * not 16-byte aligned; -PVMM_EFAULT for `info` outside RAM. `ret` 0. */
struct pvmm_upcall_info {
	volatile uint8_t masked;   /* guest writes; the monitor sets it on entry */
	uint8_t reserved[7];
	volatile uint64_t pending; /* pins that interrupted while masked; atomic OR */
};

struct pvmm_upcall_args {
	int64_t ret;
	uint64_t entry;   /* CPL3 entry point, 0 = off */
	uint64_t info;    /* guest-physical address of this CPU's struct pvmm_upcall_info */
};

/* (1.5) STATS: the monitor copies min(len, sizeof(struct pvmm_vm_stats))
 * bytes of its counts for this VM into buf; ret = bytes written. Fields
 * are only ever added at the end, so an older guest's shorter struct gets
 * the fields it knows. */
struct pvmm_vm_stats {
	uint64_t exits;        /* VM exits that reached the monitor, all vCPUs */
	uint64_t exits_io;     /* of which port I/O (para-API calls, emulated ports) */
	uint64_t exits_mmio;   /* MMIO (virtio-mmio registers, emulated devices) */
	uint64_t exits_hlt;    /* hlt */
	uint64_t calls;        /* para-API calls, this one included */
	uint64_t polls;        /* of which POLL */
	uint64_t kicks;        /* virtio queue notifications, all devices */
	uint64_t interrupts;   /* virtio interrupts raised, all devices */
	uint64_t upcalls;      /* ring-3 upcalls entered */
	uint64_t uptime_ns;    /* since the monitor started */
};

struct pvmm_stats_args {
	int64_t ret;      /* out: bytes written */
	uint64_t buf;     /* guest-physical address of a struct pvmm_vm_stats */
	uint64_t len;     /* its size: 8 (one field) or more */
};

/* ---- Boot ---------------------------------------------------------------
 *
 * The monitor starts the vCPU in 64-bit long mode at the ELF entry point,
 * interrupts off, with:
 *   rdi = guest-physical (= virtual) address of struct pvmm_boot_info
 *   rsp = boot_info->stack_top (16-byte aligned), a guard page below the stack
 * All RAM is identity-mapped (virtual == physical) with 2 MiB pages, except
 * page 0 (unmapped, so NULL dereferences fault) and the guard pages. The
 * monitor's GDT holds a flat 64-bit code segment (PVMM_SEL_CODE), a data
 * segment (PVMM_SEL_DATA) and a TSS whose IST1 is an exception stack of its
 * own, so a handler using IST1 runs even after a stack overflow. The guest
 * builds its own IDT. RAM the image does not fill is zero (.bss included).
 * Loadable segments must lie at or above PVMM_IMAGE_MIN and below the end of
 * RAM, with p_vaddr == p_paddr.
 */
#define PVMM_IMAGE_MIN 0x100000u
#define PVMM_SEL_CODE 0x08
#define PVMM_SEL_DATA 0x10
#define PVMM_SEL_TSS  0x18
/* (1.2) CPU n's TSS; each takes two GDT slots. CPU 0's is PVMM_SEL_TSS. */
#define PVMM_SEL_TSS_CPU(n) (PVMM_SEL_TSS + 16u * (n))
#define PVMM_MAX_CPUS 64
#define PVMM_IST_EXCEPTION 1
/* (1.3) Ring 3 (`pvmm run --ring 3`, boot info `ring` 3): the guest starts
 * with CS = PVMM_SEL_USER_CODE and SS = DS = ES = FS = GS =
 * PVMM_SEL_USER_DATA (DPL 3, RPL 3 included), RFLAGS.IF = 0 and IOPL 0.
 * The monitor then owns the IDT (it reports every CPU exception itself,
 * the same way a ring-0 runtime's ABORT(FAULT) is reported), the GDT, the
 * TSSes and the page tables, which are mapped supervisor-only; `in`/`out`
 * reach only the para-API ports (not PVMM_PORT_TRAP) and the emulated
 * devices' ports, through the TSS I/O permission bitmap; device interrupts
 * arrive only as upcalls (PVMM_CALL_UPCALL, 1.4), otherwise the guest
 * waits with PVMM_CALL_POLL. See docs/para-api.md. */
#define PVMM_SEL_USER_DATA (PVMM_SEL_TSS_CPU(PVMM_MAX_CPUS) | 3)
#define PVMM_SEL_USER_CODE ((PVMM_SEL_TSS_CPU(PVMM_MAX_CPUS) + 8) | 3)

#define PVMM_BOOT_MAGIC 0x4d4d5650u /* "PVMM" */
/* (1.3) boot info flags: guest code at CPL0 runs natively (the host has
 * VT-x or AMD-V). Without it CPL0 code may be interpreted, and a few
 * dozen instructions can cost more than one exit. */
#define PVMM_BOOT_F_CPL0_NATIVE 1u
/* (1.6) the monitor mapped the image's read-only segments (those without
 * PF_W: text, rodata) read-only before the guest started; a guest that
 * would protect them itself with PVMM_CALL_MMU need not. */
#define PVMM_BOOT_F_IMAGE_RO 2u
#define PVMM_MAX_DEVICES 16

enum pvmm_device_type {
	PVMM_DEV_CONSOLE = 1,     /* the para-API console; ready = input available (or end of input) */
	PVMM_DEV_VIRTIO_MMIO = 2, /* (1.1) a virtio-mmio version 2 device; ready = it raised an interrupt */
	PVMM_DEV_UART_16550 = 3,  /* (1.1) emulated 16550A UART; window in port space; ready = input arrived */
	PVMM_DEV_IDE = 4,         /* (1.1) emulated IDE disk (primary channel, device 0); ports; never ready */
	PVMM_DEV_VIRTIO_PCI = 5,  /* (1.4) a modern virtio-pci device; ready = it raised an interrupt */
	PVMM_DEV_NE2000 = 6,      /* (1.4) emulated NE2000 NIC; ports; ready = a frame landed in its ring */
};

/* (1.4) A PVMM_DEV_VIRTIO_PCI entry (`pvmm run --transport pci`): the
 * device is a PCI function on bus 0 (configuration mechanism #1, ports
 * 0xcf8/0xcfc) with vendor 0x1af4, device 0x1040 + its virtio device ID.
 * `mmio_base` and `mmio_size` are its memory BAR 0 as the monitor placed
 * it at boot (memory space enabled), `irq` its INTx IOAPIC pin (also in
 * config space's Interrupt Line). The BAR's layout, which the vendor
 * capabilities in config space also describe, is fixed, so that a guest
 * can drive the device from the boot info alone, without config space
 * (ring 3 cannot reach ports 0xcf8/0xcfc): the regions below at these
 * offsets, queue q's notify address at NOTIFY + q * NOTIFY_MULT, and at
 * IDENT a read-only 32-bit word holding the virtio device ID. A guest that
 * moves the BAR through config space must use the new base. The MSI-X
 * capability's table and pending bit array are in BAR 0 too, at MSIX_TABLE
 * and MSIX_PBA: one vector per queue plus one for the configuration;
 * enabling MSI-X takes a config space write (Message Control), which only
 * ring 0 can make. */
#define PVMM_VIRTIO_PCI_COMMON      0x0000u /* struct virtio_pci_common_cfg */
#define PVMM_VIRTIO_PCI_ISR         0x1000u /* 8-bit ISR status, read-to-clear */
#define PVMM_VIRTIO_PCI_MSIX_TABLE  0x1800u /* MSI-X table: one 16-byte entry per vector */
#define PVMM_VIRTIO_PCI_MSIX_PBA    0x1c00u /* MSI-X pending bits, 64-bit words */
#define PVMM_VIRTIO_PCI_DEVICE      0x2000u /* device-specific configuration */
#define PVMM_VIRTIO_PCI_NOTIFY      0x3000u /* queue notify addresses */
#define PVMM_VIRTIO_PCI_NOTIFY_MULT 4u      /* notify_off_multiplier; queue_notify_off(q) = q */
#define PVMM_VIRTIO_PCI_IDENT       0x3f00u /* u32: virtio device ID (pvmm's own) */
#define PVMM_VIRTIO_PCI_BAR_SIZE    0x4000u

/* (1.1) Interrupts. The monitor creates the in-kernel irqchip only when
 * the VM has interrupting devices, and programs it before boot: the 8259
 * PICs fully masked, the local APIC enabled (spurious vector 0xff), and
 * IOAPIC pin n routed, edge-triggered and unmasked, to vector
 * PVMM_IRQ_VECTOR_BASE + n on the boot vCPU. A device's `irq` in the boot
 * info is its IOAPIC pin. The guest takes interrupts by loading IDT gates
 * for those vectors and setting RFLAGS.IF, and ends each with a write of 0
 * to the local APIC's EOI register. A guest that prefers polling leaves
 * IF clear and waits for devices with PVMM_CALL_POLL instead. */
#define PVMM_IRQ_VECTOR_BASE 32
#define PVMM_LAPIC_BASE 0xfee00000u
#define PVMM_LAPIC_EOI  0xb0u

struct pvmm_device_info {
	uint32_t type;      /* enum pvmm_device_type */
	uint32_t irq;       /* interrupt line, or PVMM_NO_IRQ */
	uint64_t mmio_base; /* guest-physical window, 0 if none; for the emulated */
	uint64_t mmio_size; /* devices (UART, IDE) the first I/O port and port count */
};
#define PVMM_NO_IRQ 0xffffffffu

struct pvmm_boot_info {
	uint32_t magic;         /* PVMM_BOOT_MAGIC */
	uint32_t version;       /* the monitor's PVMM_PARA_VERSION */
	uint64_t mem_size;      /* RAM is guest-physical 0 .. mem_size */
	uint64_t usable_start;  /* free RAM for the guest's allocator: page-aligned, */
	uint64_t usable_end;    /* after the image and the monitor's areas */
	uint64_t stack_top;     /* initial rsp */
	uint64_t stack_size;    /* bytes below stack_top, guard page under them */
	uint64_t args;          /* argc NUL-terminated strings back to back; */
	uint32_t args_len;      /* args[0] is the image name */
	uint32_t argc;
	uint32_t device_count;
	uint32_t cpu_count;     /* (1.2) vCPUs: CPU 0 runs, the others wait for
	                         * PVMM_CALL_CPU_START; 0 (a 1.1 monitor) means 1 */
	struct pvmm_device_info devices[PVMM_MAX_DEVICES];
	/* (1.3) Fields below are 0 from a 1.2 monitor. */
	uint32_t ring;          /* CPL the guest runs at: 0, or 3 (deprivileged) */
	uint32_t flags;         /* PVMM_BOOT_F_* */
	uint64_t clock_page;    /* guest-physical address of the PV clock page, 0 if none */
};

/* ---- (1.3) The PV clock page --------------------------------------------
 *
 * Monotonic time without an exit. When boot_info->clock_page is not 0 it
 * is the guest-physical address of a 4 KiB page, mapped readable at the
 * guest's ring, that the monitor keeps as below. If `flags` has
 * PVMM_CLOCK_TSC_STABLE, the guest's monotonic time (PVMM_CLOCK_MONOTONIC,
 * the same epoch as the CLOCK call) is, for a TSC value `tsc` read on any
 * vCPU:
 *
 *     ns = ns_base + pvmm_clock_scale(tsc - tsc_base, mult, shift)
 *
 * The monitor rewrites the fields (at boot and when the VM resumes from a
 * pause, so that the clock stands still while paused) under `version`:
 * odd while it writes. A reader loads version (retry while odd), the
 * fields, then the TSC, then version again, and retries if it changed.
 * Without PVMM_CLOCK_TSC_STABLE (or with mult 0) the page is not to be
 * used: make the CLOCK call. The guest must never write the page.
 */
#define PVMM_CLOCK_TSC_STABLE (1u << 0) /* the formula holds on every vCPU */

struct pvmm_clock_page {
	uint32_t version;   /* odd while the monitor updates the page */
	uint32_t flags;     /* PVMM_CLOCK_* */
	uint32_t mult;      /* ns per tick = mult / 2^shift */
	uint32_t shift;     /* 0..32 */
	uint64_t tsc_base;  /* a guest TSC value ... */
	uint64_t ns_base;   /* ... and the monotonic time (ns) it stands for */
	uint64_t tsc_khz;   /* the TSC frequency mult/shift came from (information) */
	uint64_t reserved[3];
};

/* (delta * mult) >> shift with the 96-bit product split in two 64-bit
 * halves, so no delta overflows it (only a result past 2^64 ns, 584
 * years, would wrap). shift must be at most 32. Plain integer code: both
 * the monitor and freestanding guests (no SSE, no libgcc) use it. */
static inline uint64_t pvmm_clock_scale(uint64_t delta, uint32_t mult, uint32_t shift)
{
	uint64_t lo = (delta & 0xffffffffu) * mult; /* < 2^64 */
	uint64_t hi = (delta >> 32) * mult;         /* < 2^64 */
	return (hi << (32 - shift)) + (lo >> shift);
}

/* How often pvmm_clock_page_read() retries before it gives up. The
 * monitor only holds `version` odd for a few stores, so running out means
 * the page is broken (say, the guest wrote it): use the CLOCK call. */
#define PVMM_CLOCK_READ_TRIES 1000

/* Read the page's monotonic time into *ns, taking the TSC with read_tsc
 * inside the version window. Returns 1, or 0 if the page is not to be
 * used (not stable, mult 0, shift > 32, or never a steady version). The
 * reader half of the protocol above, shared by the guest runtime and the
 * monitor's tests. */
static inline int pvmm_clock_page_read(const struct pvmm_clock_page *page, uint64_t (*read_tsc)(void),
				       uint64_t *ns)
{
	for (int tries = 0; tries < PVMM_CLOCK_READ_TRIES; tries++) {
		uint32_t v = __atomic_load_n(&page->version, __ATOMIC_ACQUIRE);
		if (v & 1)
			continue;
		uint32_t flags = __atomic_load_n(&page->flags, __ATOMIC_RELAXED);
		uint32_t mult = __atomic_load_n(&page->mult, __ATOMIC_RELAXED);
		uint32_t shift = __atomic_load_n(&page->shift, __ATOMIC_RELAXED);
		uint64_t tsc_base = __atomic_load_n(&page->tsc_base, __ATOMIC_RELAXED);
		uint64_t ns_base = __atomic_load_n(&page->ns_base, __ATOMIC_RELAXED);
		uint64_t tsc = read_tsc();
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&page->version, __ATOMIC_RELAXED) != v)
			continue;
		if (!(flags & PVMM_CLOCK_TSC_STABLE) || mult == 0 || shift > 32)
			return 0;
		/* A TSC behind the base (it cannot be, on a stable TSC) counts
		 * as the base: never a time before ns_base. */
		*ns = ns_base + pvmm_clock_scale(tsc > tsc_base ? tsc - tsc_base : 0, mult, shift);
		return 1;
	}
	return 0;
}

/* (1.3) What an unhandled CPU exception is called in a fault report. The
 * runtime reports its own (ring 0) and the monitor's stubs report a
 * ring-3 guest's, in the same words, from this one table. */
static inline const char *pvmm_exception_message(uint64_t vector)
{
	static const char *const messages[32] = {
		[0] = "unhandled exception #DE (divide error)",
		[1] = "unhandled exception #DB (debug)",
		[2] = "unhandled exception NMI (non-maskable interrupt)",
		[3] = "unhandled exception #BP (breakpoint)",
		[4] = "unhandled exception #OF (overflow)",
		[5] = "unhandled exception #BR (bound range exceeded)",
		[6] = "unhandled exception #UD (invalid opcode)",
		[7] = "unhandled exception #NM (device not available)",
		[8] = "unhandled exception #DF (double fault)",
		[9] = "unhandled exception #9 (coprocessor segment overrun)",
		[10] = "unhandled exception #TS (invalid TSS)",
		[11] = "unhandled exception #NP (segment not present)",
		[12] = "unhandled exception #SS (stack-segment fault)",
		[13] = "unhandled exception #GP (general protection)",
		[14] = "unhandled exception #PF (page fault)",
		[15] = "unhandled exception #15 (reserved)",
		[16] = "unhandled exception #MF (x87 floating-point error)",
		[17] = "unhandled exception #AC (alignment check)",
		[18] = "unhandled exception #MC (machine check)",
		[19] = "unhandled exception #XM (SIMD floating-point)",
		[20] = "unhandled exception #VE (virtualization exception)",
		[21] = "unhandled exception #CP (control protection)",
		[28] = "unhandled exception #HV (hypervisor injection)",
		[29] = "unhandled exception #VC (VMM communication)",
		[30] = "unhandled exception #SX (security exception)",
	};
	const char *msg = vector < 32 ? messages[vector] : (const char *)0;
	return msg ? msg : "unhandled exception (reserved vector)";
}

/* How far below the main stack a fault still counts as its overflow. */
#define PVMM_STACK_OVERFLOW_REACH (1ull << 30)

/* Whether a #PF at `cr2`, taken with the stack pointer at `rsp`, is the
 * main stack (lowest byte `bottom`) overflowing, for the runtime's and
 * the monitor's fault reports alike: the access hit the guard page under
 * the stack (deep recursion), or a frame larger than the 4 KiB guard page (a big
 * local array) moved rsp below the stack and the access lies between a
 * page under rsp (a push, a call) and the bottom. Wrapping arithmetic: a
 * frame larger than all memory under the stack takes rsp round to the top
 * of the address space. */
static inline int pvmm_is_stack_overflow(uint64_t cr2, uint64_t rsp, uint64_t bottom)
{
	if (cr2 < bottom && cr2 >= bottom - 4096)
		return 1;
	uint64_t lo = rsp - 4096;
	uint64_t span = bottom - lo; /* huge (wrapped) when rsp is inside the stack */
	return span > 4096 && span <= PVMM_STACK_OVERFLOW_REACH + 4096 && cr2 - lo < span;
}

#endif /* PVMM_PARA_H */
