/*
 * Several CPUs (<pvmm/smp.h>): starting and joining them, which CPU am I,
 * WAKE, and the spinlocks.
 *
 * A CPU started here gets a stack block of PVMM_CPU_STACK_SIZE bytes,
 * aligned to that size, from the page allocator. Its struct cpu_local sits
 * at the block's top and the stack grows down from under it. The block's
 * lowest page is unmapped (PVMM_CALL_MMU) as a guard, so an overflow
 * faults at once; a canary fills the lowest words above it (and, with a
 * monitor without the call, the block's lowest words) for pvmm_cpu_join(). pvmm_cpu_id() masks rsp down to the
 * block and checks that the struct there points at itself. CPU 0 is known
 * by its boot stack (boot info stack_top/stack_size) and has a static
 * struct. The secondary starts at smp_entry.S with rdi = its struct.
 *
 * Waiting (join, blocking lock) follows one pattern, which cannot lose a
 * wake-up: the waiter sets its bit in a mask, re-checks the condition,
 * then POLLs with PVMM_POLL_WAKE; the other side makes the condition true,
 * then reads the mask and WAKEs the CPUs in it. Both steps are sequentially
 * consistent read-modify-writes, so either the waiter sees the condition
 * or the waker sees the bit, and a WAKE that comes before the POLL is kept
 * by the monitor until it.
 */
#include <stdint.h>
#include <pvmm/mmu.h>
#include <pvmm/smp.h>
#include "runtime.h"

#define LOCAL_SIZE 128u          /* room for struct cpu_local at the top */
#define CANARY_WORDS 8u
#define CANARY 0x43414e4152594b53ull
#define SPIN_TRIES 64            /* pause rounds before a blocking lock sleeps */
#define STACK_PAGES (PVMM_CPU_STACK_SIZE / PVMM_PAGE_SIZE)

struct cpu_local {
	struct cpu_local *self;  /* its own address: marks a real one */
	unsigned id;
	uint32_t done;           /* fn returned (atomic) */
	uint64_t joiners;        /* bit n: CPU n waits in pvmm_cpu_join (atomic) */
	void (*fn)(void *);
	void *arg;
	void *data;              /* pvmm_cpu_set_data */
	uint64_t *block;         /* the stack block (guard page at its start) */
	uint64_t *canary;
};
_Static_assert(sizeof(struct cpu_local) <= LOCAL_SIZE, "cpu_local fits its slot");
_Static_assert(PVMM_MAX_CPUS <= 64, "a uint64_t mask holds every CPU");

void pvmm_secondary_entry(void);
__attribute__((noreturn)) void pvmm_secondary_main(struct cpu_local *l, void *unused, uint64_t cpu);

static struct cpu_local cpu0_local = { .self = &cpu0_local, .id = 0 };
static struct cpu_local *locals[PVMM_MAX_CPUS]; /* set by pvmm_cpu_start */
static uint8_t claimed[PVMM_MAX_CPUS];          /* pvmm_cpu_start took the CPU */

unsigned pvmm_cpu_count(void)
{
	const struct pvmm_boot_info *bi = pvmm_boot_info();
	/* A 1.1 monitor leaves the field 0. */
	return bi && bi->cpu_count ? bi->cpu_count : 1;
}

static struct cpu_local *self_local(void)
{
	uintptr_t sp;
	__asm__("mov %%rsp, %0" : "=r"(sp));
	const struct pvmm_boot_info *bi = pvmm_boot_info();
	if (!bi)
		return &cpu0_local; /* before pvmm_start saved it: CPU 0 */
	if (sp - (bi->stack_top - bi->stack_size) < bi->stack_size)
		return &cpu0_local;
	uintptr_t base = sp & ~(uintptr_t)(PVMM_CPU_STACK_SIZE - 1);
	if (base >= bi->usable_start && base + PVMM_CPU_STACK_SIZE <= bi->usable_end) {
		struct cpu_local *l = (struct cpu_local *)(base + PVMM_CPU_STACK_SIZE - LOCAL_SIZE);
		if (l->self == l)
			return l;
	}
	/* An exception stack, or a stack of the program's own. */
	return pvmm_cpu_count() == 1 ? &cpu0_local : NULL;
}

unsigned pvmm_cpu_id(void)
{
	struct cpu_local *l = self_local();
	return l ? l->id : PVMM_CPU_NONE;
}

void *pvmm_cpu_data(void)
{
	struct cpu_local *l = self_local();
	return l ? l->data : NULL;
}

void pvmm_cpu_set_data(void *data)
{
	struct cpu_local *l = self_local();
	if (l)
		l->data = data;
}

/* ---- WAKE ------------------------------------------------------------------ */

/* WAKE is 1.3; an older monitor gets polled sleeps instead. */
static bool wake_supported(void)
{
	const struct pvmm_boot_info *bi = pvmm_boot_info();
	return bi && (bi->version & 0xffff) >= 3;
}

int pvmm_cpu_wake(unsigned cpu)
{
	_Alignas(8) struct pvmm_wake_args args = { .cpu = cpu };
	return (int)pvmm_hypercall(PVMM_CALL_WAKE, &args);
}

bool pvmm_cpu_wait_wake(uint64_t deadline_ns)
{
	uint64_t ready = 0;
	stdio_before_wait();
	if (!wake_supported()) {
		uint64_t soon = pvmm_now_ns() + PVMM_NS_PER_MS;
		pvmm_poll(soon < deadline_ns ? soon : deadline_ns, 0, NULL);
		return false;
	}
	return pvmm_poll(deadline_ns, PVMM_POLL_WAKE, &ready) > 0 && (ready & PVMM_POLL_WAKE);
}

/* Wake every CPU in `mask` but the caller. */
static void wake_mask(uint64_t mask, unsigned self)
{
	if (self < 64)
		mask &= ~(1ull << self);
	while (mask) {
		unsigned cpu = (unsigned)__builtin_ctzll(mask);
		mask &= mask - 1;
		pvmm_cpu_wake(cpu);
	}
}

/* ---- Starting and joining -------------------------------------------------- */

/* A stack block aligned to its size: take one block less a page more than
 * twice its size, and give back the pages on either side. */
static uint64_t *stack_alloc(void)
{
	size_t pages = 2 * STACK_PAGES - 1;
	uintptr_t run = (uintptr_t)page_alloc(pages);
	if (!run)
		return NULL;
	uintptr_t base = (run + PVMM_CPU_STACK_SIZE - 1) & ~(uintptr_t)(PVMM_CPU_STACK_SIZE - 1);
	uintptr_t end = run + pages * PVMM_PAGE_SIZE;
	page_free((void *)run, (base - run) / PVMM_PAGE_SIZE);
	page_free((void *)(base + PVMM_CPU_STACK_SIZE), (end - base - PVMM_CPU_STACK_SIZE) / PVMM_PAGE_SIZE);
	return (uint64_t *)base;
}

int pvmm_cpu_start(unsigned cpu, void (*fn)(void *), void *arg)
{
	if (!fn || cpu == 0 || cpu >= pvmm_cpu_count() || cpu >= PVMM_MAX_CPUS)
		return -PVMM_EINVAL;
	uint8_t free_slot = 0;
	if (!__atomic_compare_exchange_n(&claimed[cpu], &free_slot, 1, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
		return -PVMM_EBUSY;

	uint64_t *block = stack_alloc();
	if (!block) {
		__atomic_store_n(&claimed[cpu], 0, __ATOMIC_RELEASE);
		return -PVMM_EAGAIN;
	}
	/* The guard page; without the call the canary alone stays. */
	uint64_t *canary = block;
	bool guarded = pvmm_mmu_unmap((uint64_t)(uintptr_t)block, 1) == 0;
	if (guarded)
		canary = block + PVMM_PAGE_SIZE / sizeof(uint64_t);
	for (unsigned i = 0; i < CANARY_WORDS; i++)
		canary[i] = CANARY;
	uintptr_t top = (uintptr_t)block + PVMM_CPU_STACK_SIZE - LOCAL_SIZE;
	struct cpu_local *l = (struct cpu_local *)top;
	*l = (struct cpu_local){ .self = l, .id = cpu, .fn = fn, .arg = arg, .block = block,
				    .canary = canary };
	/* smp_entry.S reads {fn, cpu} at rsp; it finds fn in the struct. */
	uint64_t *frame = (uint64_t *)(top - 16);
	frame[0] = 0;
	frame[1] = cpu;
	__atomic_store_n(&locals[cpu], l, __ATOMIC_RELEASE);

	int64_t ret = pvmm_cpu_start_raw(cpu, (uint64_t)(uintptr_t)pvmm_secondary_entry, top - 16,
					 (uint64_t)(uintptr_t)l);
	if (ret < 0) {
		__atomic_store_n(&locals[cpu], NULL, __ATOMIC_RELEASE);
		l->self = NULL;
		if (guarded && pvmm_mmu_map((uint64_t)(uintptr_t)block, (uint64_t)(uintptr_t)block, 1, PVMM_MMU_RW))
			panic("CPU %u: cannot map its stack's guard page back", cpu);
		page_free(block, STACK_PAGES);
		/* Started by someone else (the raw call) stays taken. */
		if (ret != -PVMM_EBUSY)
			__atomic_store_n(&claimed[cpu], 0, __ATOMIC_RELEASE);
	}
	return (int)ret;
}

void pvmm_secondary_main(struct cpu_local *l, void *unused, uint64_t cpu)
{
	(void)unused;
	(void)cpu;
	idt_load();
	l->fn(l->arg);
	/* Done: tell the joiners, then sleep in the monitor until the VM stops. */
	__atomic_store_n(&l->done, 1, __ATOMIC_SEQ_CST);
	wake_mask(__atomic_load_n(&l->joiners, __ATOMIC_SEQ_CST), l->id);
	for (;;)
		pvmm_poll(UINT64_MAX, 0, NULL);
}

int pvmm_cpu_join(unsigned cpu)
{
	unsigned self = pvmm_cpu_id();
	struct cpu_local *l = cpu < PVMM_MAX_CPUS ? __atomic_load_n(&locals[cpu], __ATOMIC_ACQUIRE) : NULL;
	if (!l || cpu == self)
		return -PVMM_EINVAL;
	uint64_t bit = self < 64 ? 1ull << self : 0;
	while (!__atomic_load_n(&l->done, __ATOMIC_SEQ_CST)) {
		if (!bit) { /* no CPU of ours to wake: poll */
			pvmm_sleep_until(pvmm_now_ns() + PVMM_NS_PER_MS);
			continue;
		}
		__atomic_fetch_or(&l->joiners, bit, __ATOMIC_SEQ_CST);
		if (__atomic_load_n(&l->done, __ATOMIC_SEQ_CST))
			break;
		pvmm_cpu_wait_wake(UINT64_MAX);
	}
	if (bit)
		__atomic_fetch_and(&l->joiners, ~bit, __ATOMIC_SEQ_CST);
	for (unsigned i = 0; i < CANARY_WORDS; i++)
		if (l->canary[i] != CANARY)
			panic("CPU %u ran off the bottom of its %u KiB stack", cpu, PVMM_CPU_STACK_SIZE / 1024);
	return 0;
}

/* ---- Spinlocks ------------------------------------------------------------- */

void pvmm_spin_lock(pvmm_spinlock_t *l)
{
	while (!pvmm_spin_trylock(l))
		pvmm_cpu_relax();
}

void pvmm_spin_lock_blocking(pvmm_spinlock_t *l)
{
	for (unsigned i = 0; i < SPIN_TRIES; i++) {
		if (pvmm_spin_trylock(l))
			return;
		pvmm_cpu_relax();
	}
	unsigned self = pvmm_cpu_id();
	if (self >= 64) { /* no CPU to wake: spin */
		pvmm_spin_lock(l);
		return;
	}
	uint64_t bit = 1ull << self;
	for (;;) {
		__atomic_fetch_or(&l->waiters, bit, __ATOMIC_SEQ_CST);
		if (pvmm_spin_trylock(l))
			break;
		pvmm_cpu_wait_wake(UINT64_MAX);
	}
	__atomic_fetch_and(&l->waiters, ~bit, __ATOMIC_SEQ_CST);
}

void pvmm_spin_unlock(pvmm_spinlock_t *l)
{
	__atomic_store_n(&l->locked, 0, __ATOMIC_SEQ_CST);
	uint64_t waiters = __atomic_load_n(&l->waiters, __ATOMIC_SEQ_CST);
	/* One sleeper is enough: it takes the lock, and its unlock wakes the
	 * next. */
	if (waiters)
		pvmm_cpu_wake((unsigned)__builtin_ctzll(waiters));
}

bool smp_lock_timed(pvmm_spinlock_t *l, uint64_t ns)
{
	uint64_t deadline = pvmm_now_ns() + ns;
	while (!pvmm_spin_trylock(l)) {
		uint64_t now = pvmm_now_ns();
		if (now >= deadline)
			return false;
		pvmm_poll(now + PVMM_NS_PER_MS, 0, NULL);
	}
	return true;
}
