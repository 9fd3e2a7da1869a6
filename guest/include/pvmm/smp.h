/*
 * pvmm guest runtime: several CPUs (pvmm run --cpus N).
 *
 * CPU 0 runs main(). pvmm_cpu_start() gives another CPU a stack of its own
 * and runs a function there; pvmm_cpu_join() waits until it has returned.
 * Waiting is never a busy loop for long: a waiting CPU blocks in the
 * monitor (POLL with PVMM_POLL_WAKE) until another CPU's WAKE, so an idle
 * CPU costs no host time. stdio, malloc and the page allocator take locks,
 * so every CPU may use them.
 *
 * Each started CPU's stack is PVMM_CPU_STACK_SIZE bytes aligned to its
 * size, with the CPU's own data at its top: pvmm_cpu_id() masks the stack
 * pointer to find it, no privileged instruction (a ring-3 guest can do it
 * too). Its lowest page is an unmapped guard page (<pvmm/mmu.h>), so an
 * overflow faults there; a canary just above it is checked by
 * pvmm_cpu_join(), which stops the VM if the CPU ran off its stack.
 */
#ifndef PVMM_SMP_H
#define PVMM_SMP_H

#include <stdbool.h>
#include <stdint.h>
#include <pvmm/guest.h>

#define PVMM_CPU_STACK_SIZE (64u * 1024u)

/* pvmm_cpu_id() outside any stack it knows (an exception handler's IST
 * stack on a VM with several CPUs, or a stack of the program's own). */
#define PVMM_CPU_NONE 0xffffffffu

/* ---- CPUs ---------------------------------------------------------------- */

/* Start CPU `cpu` (1 .. pvmm_cpu_count() - 1) running fn(arg) on a fresh
 * stack. It loads the IDT first, so its faults are reported like CPU 0's.
 * When fn returns the CPU is done (pvmm_cpu_join) and sleeps for good; a
 * CPU runs one function in the VM's life. Returns 0, or -PVMM_EINVAL (no
 * fn, cpu 0 or out of range), -PVMM_EBUSY (started already), -PVMM_EAGAIN
 * (no memory for its stack), or the monitor's CPU_START error. */
int pvmm_cpu_start(unsigned cpu, void (*fn)(void *), void *arg);

/* Wait until the function started on `cpu` has returned: 0, or
 * -PVMM_EINVAL (cpu never started by pvmm_cpu_start, or the caller
 * itself). The caller blocks in POLL, woken by the CPU as it finishes. */
int pvmm_cpu_join(unsigned cpu);

/* The calling CPU's index: 0 on main's stack, n on a stack pvmm_cpu_start
 * made for CPU n; PVMM_CPU_NONE elsewhere (always 0 with one CPU). A few
 * instructions, no para-API call. */
unsigned pvmm_cpu_id(void);

/* How many CPUs the VM has (also in <pvmm/guest.h>). */
unsigned pvmm_cpu_count(void);

/* Wake CPU `cpu` if it waits in POLL with PVMM_POLL_WAKE, or make its next
 * such POLL return at once: 0 or -PVMM_EINVAL (no such CPU). */
int pvmm_cpu_wake(unsigned cpu);

/* Block until a WAKE of this CPU (or deadline_ns): true if woken. Wakes
 * are hints: callers re-check what they wait for. */
bool pvmm_cpu_wait_wake(uint64_t deadline_ns);

/* One pointer of per-CPU data for the calling CPU (NULL until set). For
 * PVMM_CPU_NONE the get is NULL and the set does nothing. Arrays indexed
 * by pvmm_cpu_id() are the other way. */
void *pvmm_cpu_data(void);
void pvmm_cpu_set_data(void *data);

/* ---- Atomics: the __atomic builtins with the orders spelled out ---------- */

#define pvmm_atomic_load(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define pvmm_atomic_store(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
/* Read-modify-writes are lock-prefixed, sequentially consistent; each
 * returns the old value. */
#define pvmm_atomic_fetch_add(p, v) __atomic_fetch_add((p), (v), __ATOMIC_SEQ_CST)
#define pvmm_atomic_fetch_sub(p, v) __atomic_fetch_sub((p), (v), __ATOMIC_SEQ_CST)
#define pvmm_atomic_fetch_or(p, v) __atomic_fetch_or((p), (v), __ATOMIC_SEQ_CST)
#define pvmm_atomic_fetch_and(p, v) __atomic_fetch_and((p), (v), __ATOMIC_SEQ_CST)
#define pvmm_atomic_exchange(p, v) __atomic_exchange_n((p), (v), __ATOMIC_SEQ_CST)
/* True if *p held *expected and now holds desired; else *expected gets
 * what *p held. At most 8 bytes (cmpxchg16b is not available). */
#define pvmm_atomic_cas(p, expected, desired) \
	__atomic_compare_exchange_n((p), (expected), (desired), false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)

/* In a spin-wait loop: tell the CPU (and a hyperthread sibling). */
static inline void pvmm_cpu_relax(void)
{
	__asm__ volatile("pause" ::: "memory");
}

/* ---- Spinlocks ------------------------------------------------------------
 * Not recursive. pvmm_spin_lock spins (with pause): for sections a few
 * instructions long. pvmm_spin_lock_blocking spins briefly, then sleeps in
 * POLL until the holder's unlock wakes it: for anything longer, and
 * whenever the holder may wait itself (console output). One unlock serves
 * both. */
typedef struct {
	uint32_t locked;
	uint32_t reserved;
	uint64_t waiters; /* bit n: CPU n sleeps in pvmm_spin_lock_blocking */
} pvmm_spinlock_t;

#define PVMM_SPINLOCK_INIT { 0, 0, 0 }

static inline bool pvmm_spin_trylock(pvmm_spinlock_t *l)
{
	return !__atomic_load_n(&l->locked, __ATOMIC_RELAXED) &&
	       !__atomic_exchange_n(&l->locked, 1, __ATOMIC_SEQ_CST);
}

void pvmm_spin_lock(pvmm_spinlock_t *l);
void pvmm_spin_lock_blocking(pvmm_spinlock_t *l);
void pvmm_spin_unlock(pvmm_spinlock_t *l);

/* Internal to the runtime: take `l` within `ns` of guest time (polling,
 * no WAKE needed); false if it stayed taken. For paths that must not wait
 * for ever, like an exception handler flushing stdout. */
bool smp_lock_timed(pvmm_spinlock_t *l, uint64_t ns);

#endif /* PVMM_SMP_H */
