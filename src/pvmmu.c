#include "pvmmu.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>

#include "elf_loader.h"
#include "layout.h"
#include "log.h"
#include "pagetable.h"
#include "snapshot_format.h"
#include "status.h"
#include "vcpu.h"

#define POOL_PAGES ((unsigned)(LAYOUT_MMU_POOL_SIZE / PAGE_SIZE))
/* Flags a split copies from a large page into its smaller ones:
 * P, RW, US, PWT, PCD. */
#define PTE_SPLIT_FLAGS 0x1full
/* The most page tables a live tree can have below PVMM_MMU_VA_END. */
#define MAX_PTS ((unsigned)(PVMM_MMU_VA_END / HUGE_PAGE_SIZE))
/* A batch's new tables: its page tables (at most MAX_PTS) and the levels
 * above (PML4, PDPT, 4 directories), with room to spare. */
#define UPPER_TABLES 8u
_Static_assert(2 * (MAX_PTS + UPPER_TABLES) <= POOL_PAGES,
	       "the pool must hold the largest live tree and the largest batch at once");

struct pvmmu {
	pthread_mutex_t lock;      /* one batch at a time; held out vCPUs wait on it */
	bool hold;                 /* atomic: a batch is under way, stay out of KVM_RUN */
	uint64_t root;             /* atomic: the live tree's PML4 (every vCPU's CR3) */
	uint64_t gen;              /* atomic: bumped with each new root */
	uint64_t user;             /* PTE_US at ring 3: every level of the guest's tables */
	uint32_t batch;            /* the batch under way, numbered from 1 */
	unsigned cursor;           /* where the search for a fresh page goes on */
	unsigned fresh;            /* pool pages not used as a table since the last recycle */
	unsigned nstaged;          /* pages the batch under way took so far */
	uint64_t recycles;
	bool slot_pending;         /* the pool's KVM slot is not given yet (pvmmu_init) */
	bool used[POOL_PAGES];     /* a table since the last recycle (KVM may shadow it) */
	uint32_t born[POOL_PAGES]; /* the batch that took it: that batch writes it in place */
	unsigned staged[POOL_PAGES];
};

static uint64_t *table(struct vm *vm, uint64_t gpa)
{
	return guest_mem_ptr_private(&vm->mem, gpa & PTE_ADDR_MASK, PAGE_SIZE);
}

static bool pool_index(uint64_t gpa, unsigned *index)
{
	gpa &= PTE_ADDR_MASK;
	if (gpa < LAYOUT_MMU_POOL || gpa - LAYOUT_MMU_POOL >= LAYOUT_MMU_POOL_SIZE)
		return false;
	*index = (unsigned)((gpa - LAYOUT_MMU_POOL) / PAGE_SIZE);
	return true;
}

int pvmmu_init(struct vm *vm, bool defer_slot)
{
	/* Its own zero pages (36 KiB, mostly per-pool-page bookkeeping):
	 * only the few a guest's batches reach are ever touched, where
	 * calloc would clear them all at start-up. */
	struct pvmmu *m = mmap(NULL, sizeof(*m), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED) {
		log_error("cannot allocate the PV MMU's state: %s", strerror(errno));
		return -1;
	}
	int err = guest_mem_add(&vm->mem, LAYOUT_MMU_POOL, LAYOUT_MMU_POOL_SIZE, GUEST_MEM_PRIVATE);
	if (err) {
		log_error("cannot add the PV MMU's table pool: %s", strerror(-err));
		munmap(m, sizeof(*m));
		return -1;
	}
	if (defer_slot)
		m->slot_pending = guest_mem_defer_slot(&vm->mem, LAYOUT_MMU_POOL) == 0;
	pthread_mutex_init(&m->lock, NULL);
	m->root = LAYOUT_PML4;
	m->user = vm->ring == 3 ? PTE_US : 0;
	m->fresh = POOL_PAGES;
	vm->mmu = m;
	return 0;
}

void pvmmu_free(struct vm *vm)
{
	if (!vm->mmu)
		return;
	pthread_mutex_destroy(&vm->mmu->lock);
	munmap(vm->mmu, sizeof(*vm->mmu));
	vm->mmu = NULL;
}

uint64_t pvmmu_root(const struct vm *vm)
{
	return vm->mmu ? __atomic_load_n(&vm->mmu->root, __ATOMIC_ACQUIRE) : LAYOUT_PML4;
}

void pvmmu_save(const struct vm *vm, struct snap_writer *w)
{
	const struct pvmmu *m = vm->mmu;
	snap_put_u32(w, POOL_PAGES);
	snap_put_u64(w, m->root);
	snap_put_u64(w, m->gen);
	snap_put_u64(w, m->user);
	snap_put_u32(w, m->batch);
	snap_put_u32(w, m->cursor);
	snap_put_u32(w, m->fresh);
	snap_put_u64(w, m->recycles);
	snap_put(w, m->used, sizeof(m->used));
	snap_put(w, m->born, sizeof(m->born));
}

int pvmmu_load(struct vm *vm, struct snap_reader *r, char *err, size_t err_len)
{
	struct pvmmu *m = vm->mmu;
	uint32_t pages = snap_get_u32(r);
	if (pages != POOL_PAGES) {
		snprintf(err, err_len, "its PV MMU pool has %u pages, this build's %u", pages, POOL_PAGES);
		return -1;
	}
	m->root = snap_get_u64(r);
	m->gen = snap_get_u64(r);
	m->user = snap_get_u64(r);
	m->batch = snap_get_u32(r);
	m->cursor = snap_get_u32(r);
	m->fresh = snap_get_u32(r);
	m->recycles = snap_get_u64(r);
	/* The file's bytes, not a bool's: anything but 0 or 1 would be an
	 * invalid bool (undefined behaviour) in m->used. */
	uint8_t used[POOL_PAGES];
	snap_get(r, used, sizeof(used));
	snap_get(r, m->born, sizeof(m->born));
	bool root_ok = m->root == LAYOUT_PML4 || pool_index(m->root, &(unsigned){ 0 });
	/* What the file says must be what the monitor itself would have:
	 * the user bit of this ring only, a cursor inside the pool, and
	 * `fresh` the count of unused pages (a wrong count would send
	 * take_page() round a full pool for ever). */
	unsigned fresh = 0;
	bool used_ok = true;
	for (unsigned i = 0; i < POOL_PAGES; i++) {
		used_ok &= used[i] <= 1;
		m->used[i] = used[i] == 1;
		fresh += !m->used[i];
	}
	if (r->bad || !used_ok || !root_ok || m->cursor >= POOL_PAGES || m->fresh != fresh ||
	    m->user != (vm->ring == 3 ? PTE_US : 0)) {
		snprintf(err, err_len, "its PV MMU state is malformed");
		return -1;
	}
	return 0;
}

uint64_t pvmmu_recycles(const struct vm *vm)
{
	return vm->mmu ? vm->mmu->recycles : 0;
}

/* ---- holding the other vCPUs out of KVM_RUN ------------------------------
 *
 * A vCPU sets mmu_in_guest, then looks at hold; a batch sets hold, then
 * waits until no other vCPU has mmu_in_guest (kicking them out of
 * KVM_RUN). Both sides use sequentially consistent accesses, so either
 * the vCPU sees hold and waits on the lock, or the batch sees the vCPU
 * and waits for it to leave KVM_RUN: no vCPU runs guest code while the
 * tables, the root or the pool's slot change. */

static void kick(struct vcpu *v)
{
	if (v->run)
		__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&v->thread_live, __ATOMIC_ACQUIRE))
		pthread_kill(v->thread, VCPU_KICK_SIGNAL);
}

/* With m->lock held. False if the VM stopped meanwhile. */
static bool hold_others(struct vm *vm, struct pvmmu *m)
{
	struct vcpu *self = vcpu_current();

	__atomic_store_n(&m->hold, true, __ATOMIC_SEQ_CST);
	for (unsigned i = 0; vm->vcpus && i < vm->cpu_count; i++) {
		struct vcpu *v = &vm->vcpus[i];
		if (v == self)
			continue;
		while (__atomic_load_n(&v->mmu_in_guest, __ATOMIC_SEQ_CST)) {
			if (vm_stopped(vm))
				return false;
			kick(v);
			struct timespec ts = { .tv_nsec = 20000 };
			nanosleep(&ts, NULL);
		}
	}
	return !vm_stopped(vm);
}

static void release_others(struct pvmmu *m)
{
	__atomic_store_n(&m->hold, false, __ATOMIC_SEQ_CST);
}

int pvmmu_enter(struct vcpu *v)
{
	struct vm *vm = v->vm;
	struct pvmmu *m = vm->mmu;

	if (!m)
		return 0;
	__atomic_store_n(&v->mmu_in_guest, true, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&m->hold, __ATOMIC_SEQ_CST)) {
		__atomic_store_n(&v->mmu_in_guest, false, __ATOMIC_SEQ_CST);
		pthread_mutex_lock(&m->lock); /* the batch holds it until it is done */
		pthread_mutex_unlock(&m->lock);
		return 1;
	}
	uint64_t gen = __atomic_load_n(&m->gen, __ATOMIC_SEQ_CST);
	if (gen == v->mmu_gen)
		return 0;
	/* The live tree changed since this vCPU last loaded it. Setting CR3
	 * through KVM_SET_SREGS is what makes KVM drop the translations it
	 * cached for the old root (EPT/NPT: the hardware TLB tags; shadow
	 * paging: it builds shadow pages for the new root, whose changed
	 * tables are all pages it has never shadowed). */
	struct kvm_sregs s;
	if (ioctl(v->fd, KVM_GET_SREGS, &s) < 0)
		goto fail;
	s.cr3 = __atomic_load_n(&m->root, __ATOMIC_SEQ_CST);
	if (ioctl(v->fd, KVM_SET_SREGS, &s) < 0)
		goto fail;
	v->mmu_gen = gen;
	return 0;
fail:
	__atomic_store_n(&v->mmu_in_guest, false, __ATOMIC_SEQ_CST);
	log_error("CPU %u: cannot load the new page-table root: %s; stopping the VM", v->index, strerror(errno));
	vm_stop(vm, PVMM_STATUS_HOST);
	return -1;
}

/* ---- the pool -------------------------------------------------------- */

static void mark_live(struct vm *vm, struct pvmmu *m, uint64_t gpa, int level)
{
	unsigned index;
	if (pool_index(gpa, &index))
		m->used[index] = true;
	if (level == 0)
		return;
	const uint64_t *t = table(vm, gpa);
	if (!t)
		return;
	for (unsigned i = 0; i < 512; i++)
		if ((t[i] & PTE_P) && !(level < 3 && (t[i] & PTE_PS)))
			mark_live(vm, m, t[i] & PTE_ADDR_MASK, level - 1);
}

/* Every vCPU is out of KVM_RUN. Pages outside the live tree become fresh
 * again once KVM has forgotten them: deleting the pool's slot drops every
 * shadow page built from it, and the slot comes straight back. */
static int recycle(struct vm *vm, struct pvmmu *m)
{
	memset(m->used, 0, sizeof(m->used));
	mark_live(vm, m, m->root, 3);
	m->fresh = 0;
	for (unsigned i = 0; i < POOL_PAGES; i++)
		m->fresh += !m->used[i];
	m->cursor = 0;
	m->recycles++;
	vm->stats.mmu_recycles++;
	if (vm->vm_fd >= 0 && guest_mem_reregister(&vm->mem, vm->vm_fd, LAYOUT_MMU_POOL))
		return -1;
	return 0;
}

/* A fresh page for the batch under way; the caller made sure there are
 * enough (pvmmu_call). */
static uint64_t take_page(struct pvmmu *m)
{
	while (m->used[m->cursor])
		m->cursor = (m->cursor + 1) % POOL_PAGES;
	unsigned i = m->cursor;
	m->used[i] = true;
	m->born[i] = m->batch;
	m->fresh--;
	m->staged[m->nstaged++] = i;
	return LAYOUT_MMU_POOL + (uint64_t)i * PAGE_SIZE;
}

/* A failed batch gives its pages back: no vCPU ever had them in a walk,
 * so KVM has no shadow of them and they are fresh as they are. */
static void drop_staged(struct pvmmu *m)
{
	for (unsigned i = 0; i < m->nstaged; i++)
		m->used[m->staged[i]] = false;
	m->fresh += m->nstaged;
	m->nstaged = 0;
}

/* The table at `gpa` as this batch may write it: itself if the batch
 * made it, else a copy in a fresh page. */
static uint64_t own(struct vm *vm, struct pvmmu *m, uint64_t gpa)
{
	unsigned index;
	gpa &= PTE_ADDR_MASK;
	if (pool_index(gpa, &index) && m->used[index] && m->born[index] == m->batch)
		return gpa;
	uint64_t copy = take_page(m);
	memcpy(table(vm, copy), table(vm, gpa), PAGE_SIZE);
	return copy;
}

/* A large page entry (2 MiB at level 1, 1 GiB at level 2) as a fresh
 * table of the next smaller pages, mapping the same memory. */
static uint64_t split(struct vm *vm, struct pvmmu *m, uint64_t entry, int level)
{
	uint64_t step = level == 1 ? PAGE_SIZE : HUGE_PAGE_SIZE;
	uint64_t base = entry & PTE_ADDR_MASK & ~(step * 512 - 1);
	uint64_t flags = (entry & PTE_SPLIT_FLAGS) | (level == 2 ? PTE_PS : 0);
	uint64_t gpa = take_page(m);
	uint64_t *t = table(vm, gpa);
	for (unsigned i = 0; i < 512; i++)
		t[i] = (base + i * step) | flags;
	return gpa;
}

/* Read-only: the leaf entry that maps `va` in the tree at `root` (a
 * large page's entry for a page inside it), or 0 if none. */
static uint64_t peek(struct vm *vm, uint64_t root, uint64_t va)
{
	uint64_t gpa = root;
	for (int level = 3; level >= 0; level--) {
		const uint64_t *t = table(vm, gpa);
		uint64_t e = t ? t[(va >> (12 + 9 * level)) & 511] : 0;
		if (!(e & PTE_P) || level == 0 || (level < 3 && (e & PTE_PS)))
			return e & PTE_P ? e : 0;
		gpa = e & PTE_ADDR_MASK;
	}
	return 0;
}

/* The batch's own leaf entry for `va` (4 KiB), making the path to it the
 * batch's: copies of shared tables, splits of large pages, empty tables
 * where nothing was mapped. *root may become a new page. */
static uint64_t *own_leaf(struct vm *vm, struct pvmmu *m, uint64_t *root, uint64_t va)
{
	const uint64_t link = PTE_P | PTE_RW | m->user;

	*root = own(vm, m, *root);
	uint64_t *t = table(vm, *root);
	for (int level = 3; level >= 1; level--) {
		uint64_t *e = &t[(va >> (12 + 9 * level)) & 511];
		uint64_t next;
		if (!(*e & PTE_P)) {
			next = take_page(m);
			memset(table(vm, next), 0, PAGE_SIZE);
		} else if (level < 3 && (*e & PTE_PS)) {
			next = split(vm, m, *e, level);
		} else {
			next = own(vm, m, *e);
		}
		*e = next | link;
		t = table(vm, next);
	}
	return &t[(va >> 12) & 511];
}

/* The batch's own page-directory entry for the 2 MiB at `va`: like
 * own_leaf, one level short. */
static uint64_t *own_pde(struct vm *vm, struct pvmmu *m, uint64_t *root, uint64_t va)
{
	const uint64_t link = PTE_P | PTE_RW | m->user;

	*root = own(vm, m, *root);
	uint64_t *t = table(vm, *root);
	for (int level = 3; level >= 2; level--) {
		uint64_t *e = &t[(va >> (12 + 9 * level)) & 511];
		uint64_t next;
		if (!(*e & PTE_P)) {
			next = take_page(m);
			memset(table(vm, next), 0, PAGE_SIZE);
		} else if (level == 2 && (*e & PTE_PS)) {
			next = split(vm, m, *e, level);
		} else {
			next = own(vm, m, *e);
		}
		*e = next | link;
		t = table(vm, next);
	}
	return &t[(va >> 21) & 511];
}

/* ---- the call -------------------------------------------------------- */

/* Op `op`'s own checks (para.h order: values, then addresses). Adds the
 * page tables it can touch to *tables. */
static int64_t check_op(struct vm *vm, const struct pvmm_mmu_op *op, unsigned *tables)
{
	if (op->reserved || op->pages == 0 || op->pages > PVMM_MMU_PAGES_MAX || (op->va & (PAGE_SIZE - 1)) ||
	    op->va < PVMM_MMU_VA_MIN || op->va >= PVMM_MMU_VA_END ||
	    op->pages > (PVMM_MMU_VA_END - op->va) / PAGE_SIZE)
		return -PVMM_EINVAL;
	uint64_t bytes = (uint64_t)op->pages * PAGE_SIZE;
	switch (op->kind) {
	case PVMM_MMU_MAP:
		if ((op->flags & ~PVMM_MMU_WRITE) || (op->pa & (PAGE_SIZE - 1)))
			return -PVMM_EINVAL;
		/* Guest RAM, and none of it the monitor's. */
		const struct guest_mem_region *r = guest_mem_find(&vm->mem, op->pa, bytes);
		if (!guest_mem_ptr(&vm->mem, op->pa, bytes) || !r || !(r->flags & GUEST_MEM_RAM))
			return -PVMM_EFAULT;
		break;
	case PVMM_MMU_PROTECT:
		if ((op->flags & ~PVMM_MMU_WRITE) || op->pa)
			return -PVMM_EINVAL;
		break;
	case PVMM_MMU_UNMAP:
		if (op->flags || op->pa)
			return -PVMM_EINVAL;
		break;
	default:
		return -PVMM_EINVAL;
	}
	*tables += (unsigned)(((op->va + bytes - 1) >> 21) - (op->va >> 21) + 1);
	return 0;
}

/* Apply op `op` to the tree at *root; -PVMM_EINVAL for a PROTECT of a
 * page nothing maps. */
static int64_t apply_op(struct vm *vm, struct pvmmu *m, uint64_t *root, const struct pvmm_mmu_op *op)
{
	uint64_t write = op->flags & PVMM_MMU_WRITE ? PTE_RW : 0;
	const uint32_t per_large = (uint32_t)(HUGE_PAGE_SIZE / PAGE_SIZE);
	for (uint32_t i = 0; i < op->pages; i++) {
		uint64_t va = op->va + (uint64_t)i * PAGE_SIZE;
		/* A whole aligned 2 MiB to map or unmap: one directory entry
		 * (a large page, or none), not a table of 512. This is what
		 * lets the runtime unmap all the RAM its heap has not grown
		 * into at the cost of a few entries. */
		uint64_t pa = op->pa + (uint64_t)i * PAGE_SIZE;
		if (op->kind != PVMM_MMU_PROTECT && !(va & (HUGE_PAGE_SIZE - 1)) && op->pages - i >= per_large &&
		    (op->kind == PVMM_MMU_UNMAP || !(pa & (HUGE_PAGE_SIZE - 1)))) {
			uint64_t *pde = own_pde(vm, m, root, va);
			*pde = op->kind == PVMM_MMU_UNMAP ? 0 : pa | PTE_P | write | m->user | PTE_PS;
			i += per_large - 1;
			continue;
		}
		uint64_t old = peek(vm, *root, va);
		if (op->kind == PVMM_MMU_UNMAP && !old)
			continue; /* nothing to clear: no copy either */
		if (op->kind == PVMM_MMU_PROTECT && !old)
			return -PVMM_EINVAL;
		uint64_t *leaf = own_leaf(vm, m, root, va);
		switch (op->kind) {
		case PVMM_MMU_MAP:
			*leaf = (op->pa + (uint64_t)i * PAGE_SIZE) | PTE_P | write | m->user;
			break;
		case PVMM_MMU_UNMAP:
			*leaf = 0;
			break;
		default:
			*leaf = (*leaf & ~PTE_RW) | write;
			break;
		}
	}
	return 0;
}

/* Check every op, then apply all of them or none: the batch's result,
 * with *failed the index of the op that failed (count if none). */
static int64_t apply_batch(struct vm *vm, struct pvmmu *m, const struct pvmm_mmu_op *ops, uint32_t count,
			   uint64_t *failed)
{
	unsigned tables = UPPER_TABLES;
	int64_t ret = 0;

	*failed = count;
	for (uint32_t i = 0; i < count; i++) {
		ret = check_op(vm, &ops[i], &tables);
		if (ret) {
			*failed = i;
			return ret;
		}
	}
	if (tables > MAX_PTS + UPPER_TABLES)
		tables = MAX_PTS + UPPER_TABLES;

	pthread_mutex_lock(&m->lock);
	if (!hold_others(vm, m)) {
		ret = -PVMM_EIO; /* the VM is stopping: nobody will look */
		goto out;
	}
	/* The first batch brings the pool's slot: until then no table is
	 * in the pool (the boot tables are below 1 MiB). */
	if (m->slot_pending && vm->vm_fd >= 0) {
		if (guest_mem_reregister(&vm->mem, vm->vm_fd, LAYOUT_MMU_POOL)) {
			vm_stop(vm, PVMM_STATUS_HOST);
			ret = -PVMM_EIO;
			goto out;
		}
		m->slot_pending = false;
	}
	if (m->fresh < tables && recycle(vm, m)) {
		vm_stop(vm, PVMM_STATUS_HOST);
		ret = -PVMM_EIO;
		goto out;
	}
	m->batch++;
	m->nstaged = 0;
	uint64_t root = m->root;
	for (uint32_t i = 0; i < count; i++) {
		ret = apply_op(vm, m, &root, &ops[i]);
		if (ret) {
			drop_staged(m);
			*failed = i;
			goto out;
		}
	}
	if (root != m->root) {
		__atomic_store_n(&m->root, root, __ATOMIC_SEQ_CST);
		__atomic_fetch_add(&m->gen, 1, __ATOMIC_SEQ_CST);
	}
	ret = count;
out:
	release_others(m);
	pthread_mutex_unlock(&m->lock);
	return ret;
}

int64_t pvmmu_call(struct vm *vm, struct pvmm_mmu_args *a)
{
	static _Thread_local struct pvmm_mmu_op ops[PVMM_MMU_OPS_MAX];

	a->failed = a->count;
	if (!vm->mmu)
		return -PVMM_ENOSYS;
	if (a->reserved || a->count == 0 || a->count > PVMM_MMU_OPS_MAX)
		return -PVMM_EINVAL;
	const void *src = guest_mem_ptr(&vm->mem, a->ops, (uint64_t)a->count * sizeof(ops[0]));
	if (!src)
		return -PVMM_EFAULT;
	/* Copied in once: the guest cannot change an op between check and use. */
	memcpy(ops, src, a->count * sizeof(ops[0]));
	return apply_batch(vm, vm->mmu, ops, a->count, &a->failed);
}

static bool root_is_boot(const struct vm *vm)
{
	return vm->mmu->root == LAYOUT_PML4;
}

int pvmmu_protect_image(struct vm *vm, const struct elf_image *image)
{
	struct pvmm_mmu_op ops[ELF_RO_MAX * 2];
	uint32_t n = 0;
	uint64_t failed;

	if (!vm->mmu)
		return 0;
	for (unsigned i = 0; i < image->ro_count; i++) {
		uint64_t va = image->ro[i].start < PVMM_MMU_VA_MIN ? PVMM_MMU_VA_MIN : image->ro[i].start;
		/* The part in the boot tables' 4 KiB pages (the image starts at
		 * 1 MiB) is edited in place: no pool page, and so no pool slot,
		 * for a guest that never calls the PV MMU. */
		while (va < image->ro[i].end && root_is_boot(vm) && pagetable_protect_boot(&vm->mem, va))
			va += PAGE_SIZE;
		while (va < image->ro[i].end && n < sizeof(ops) / sizeof(ops[0])) {
			uint64_t pages = (image->ro[i].end - va) / PAGE_SIZE;
			if (pages > PVMM_MMU_PAGES_MAX)
				pages = PVMM_MMU_PAGES_MAX;
			ops[n++] = (struct pvmm_mmu_op){ .va = va, .kind = PVMM_MMU_PROTECT, .pages = (uint32_t)pages };
			va += pages * PAGE_SIZE;
		}
	}
	if (n && apply_batch(vm, vm->mmu, ops, n, &failed) != (int64_t)n) {
		log_error("internal error: cannot map the image's read-only pages read-only (op %llu)", (unsigned long long)failed);
		return -1;
	}
	return 0;
}

uint64_t pvmmu_gen(const struct vm *vm)
{
	return vm->mmu ? __atomic_load_n(&vm->mmu->gen, __ATOMIC_SEQ_CST) : 0;
}
