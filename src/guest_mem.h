/*
 * Guest memory: a small table of regions, each a window of guest-physical
 * space mapped from one shared memfd, so that another process (a vhost-user
 * back end, a snapshot writer) can map the very same pages from fd + offset.
 * Every access the monitor makes on a guest's behalf goes through
 * guest_mem_ptr(), which refuses ranges that leave a region, cross into a
 * hole or the next region, wrap around, or touch monitor-private memory:
 * the single place where guest-supplied addresses become host pointers.
 *
 * Monitor-private memory is RAM the monitor keeps its own structures in
 * (page tables, GDT, TSSes, the ring-3 IDT and stubs, the PV clock page,
 * the PV MMU's table pool): pages below GUEST_MEM_LOW_LIMIT marked with
 * guest_mem_set_private(), and whole regions added with GUEST_MEM_PRIVATE.
 * No guest-supplied buffer, argument block or DMA address may land there,
 * or a guest could have the monitor (or a device) rewrite them for it.
 * The monitor's own writers of those structures, and only they, use
 * guest_mem_ptr_private(), which checks the range but not the owner.
 */
#ifndef PVMM_GUEST_MEM_H
#define PVMM_GUEST_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GUEST_MEM_MAX_REGIONS 8

/* Region flags. */
#define GUEST_MEM_RAM        (1u << 0) /* ordinary RAM, as opposed to e.g. a ROM or window */
#define GUEST_MEM_READONLY   (1u << 1) /* the guest cannot write it (KVM_MEM_READONLY); the monitor can */
#define GUEST_MEM_HUGEPAGES  (1u << 2) /* backed by 2 MiB huge pages */
#define GUEST_MEM_PRIVATE    (1u << 3) /* the monitor's: guest_mem_ptr() refuses all of it */

/* Pages below this can be made private one by one (guest_mem_set_private). */
#define GUEST_MEM_LOW_LIMIT  0x100000ull
#define GUEST_MEM_LOW_PAGES  (GUEST_MEM_LOW_LIMIT / 4096)

struct guest_mem_region {
	uint64_t gpa;       /* guest-physical base */
	uint64_t size;      /* bytes */
	uint8_t *host;      /* host address of gpa */
	uint32_t flags;     /* GUEST_MEM_* */
	int fd;             /* the memfd holding it, to share (-1: imported, fd not kept) */
	uint64_t fd_offset; /* where gpa lies in fd */
	uint64_t map_offset;/* bytes the mapping starts before host (page alignment of an import) */
	bool slot_deferred; /* no KVM slot until guest_mem_reregister() (guest_mem_defer_slot) */
};

struct guest_mem {
	/* The region at guest-physical 0, the RAM the guest boots in, mirrored
	 * here because it is what nearly every access hits. */
	uint8_t *host;
	uint64_t size;
	int fd;           /* memfd backing every region (-1 for an imported table) */
	uint64_t fd_size; /* bytes of it handed out so far */
	unsigned nregions;
	struct guest_mem_region region[GUEST_MEM_MAX_REGIONS]; /* sorted by gpa; [0] at gpa 0 */
	/* Bit p: page p (below GUEST_MEM_LOW_LIMIT) is monitor-private. */
	uint64_t low_private[GUEST_MEM_LOW_PAGES / 64];
};

/* Create the memfd and map `size` bytes of zeroed RAM at guest-physical 0.
 * flags: 0, or GUEST_MEM_HUGEPAGES (then size must be whole 2 MiB pages,
 * and the pages must be reserved: no fallback to small ones). Memory the
 * guest never touches costs nothing, except that huge pages are taken from
 * the host's pool up front. Returns 0, or -errno with mem left empty:
 * with huge pages, -ENOMEM for too few free and -EOPNOTSUPP for a kernel
 * without them. Logs nothing; see guest_mem_strerror(). */
int guest_mem_init(struct guest_mem *mem, uint64_t size, uint32_t flags);

/* guest_mem_init(size, flags)'s -err in words for the user, on one line:
 * strerror(), or for huge pages what to do about it (how many to reserve
 * through /proc/sys/vm/nr_hugepages). Valid until the next call. */
const char *guest_mem_strerror(int err, uint64_t size, uint32_t flags);

/* Map another `size` bytes of zeroed memory at `gpa`, from the same memfd.
 * flags: GUEST_MEM_RAM, GUEST_MEM_READONLY, GUEST_MEM_PRIVATE; huge pages if the memfd
 * has them. gpa and size must be page-aligned and must not overlap another
 * region. Returns 0, or -errno with mem unchanged. */
int guest_mem_add(struct guest_mem *mem, uint64_t gpa, uint64_t size, uint32_t flags);

/* A region another process shares with us: `size` bytes of guest-physical
 * space at `gpa`, found at `fd_offset` in `fd`. */
struct guest_mem_share {
	uint64_t gpa, size;
	int fd;
	uint64_t fd_offset;
};

/* Build `mem` from another process's memory (a vhost-user front end's
 * table): each region mapped MAP_SHARED from its fd, which the caller keeps
 * (the mapping holds its own reference, so the fd may be closed after).
 * Any guest-physical layout: no region need be at 0; regions must not
 * overlap, and each must lie inside its file as it is now. Nothing is
 * given to KVM. 0, or -1 with `mem` empty and one line in `why`. */
int guest_mem_import(struct guest_mem *mem, const struct guest_mem_share *share, unsigned n, char *why,
		     size_t why_len);

/* Unmap every region and close the memfd; fine on a zeroed struct. */
void guest_mem_free(struct guest_mem *mem);

/* Give each region to the VM as its own KVM memory slot (slot i = region i).
 * Logs and returns -errno on failure. */
int guest_mem_register(const struct guest_mem *mem, int vm_fd);

/* Leave the region at `gpa` out of guest_mem_register(): the guest cannot
 * reach it until guest_mem_reregister() gives it its slot. For memory the
 * VM may never need (the PV MMU's pool), as each slot costs start-up
 * ~20-50 us. Returns 0, or -ENOENT. */
int guest_mem_defer_slot(struct guest_mem *mem, uint64_t gpa);

/* Delete the KVM slot of the region at `gpa` and give it back at once:
 * KVM then drops every shadow page it built from that memory (and, on
 * current kernels, all others too). A deferred slot is only added. Logs
 * and returns -errno on failure. */
int guest_mem_reregister(struct guest_mem *mem, int vm_fd, uint64_t gpa);

/* The region holding all of [gpa, gpa + len), or NULL. len 0 is fine up to
 * and including a region's end. */
const struct guest_mem_region *guest_mem_find(const struct guest_mem *mem, uint64_t gpa, uint64_t len);

/* The memfd holding gpa, with gpa's offset in it in *fd_offset; -1 if gpa
 * is not in a region. */
int guest_mem_fd(const struct guest_mem *mem, uint64_t gpa, uint64_t *fd_offset);

/* Mark the pages of [gpa, gpa + len), which must lie below
 * GUEST_MEM_LOW_LIMIT, monitor-private (priv) or the guest's again.
 * Returns 0, or -EINVAL for a range reaching past the limit. */
int guest_mem_set_private(struct guest_mem *mem, uint64_t gpa, uint64_t len, bool priv);

/* True if any byte of [gpa, gpa + len) is monitor-private (a marked low
 * page or a GUEST_MEM_PRIVATE region). len 0 touches nothing: false. */
bool guest_mem_is_private(const struct guest_mem *mem, uint64_t gpa, uint64_t len);

/* guest_mem_ptr()'s out-of-line half: low pages and other regions. */
void *guest_mem_ptr_checked(const struct guest_mem *mem, uint64_t gpa, uint64_t len);

/* Host pointer for [gpa, gpa + len) if the range is wholly in one region
 * and none of it is monitor-private; else NULL. For every address a guest
 * supplies. len 0 is fine anywhere up to and including a region's end.
 * The common case, RAM at and above GUEST_MEM_LOW_LIMIT in the region at
 * 0, is checked inline. */
static inline void *guest_mem_ptr(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	if (gpa >= GUEST_MEM_LOW_LIMIT && len <= mem->size && gpa <= mem->size - len)
		return mem->host + gpa;
	return guest_mem_ptr_checked(mem, gpa, len);
}

/* True if guest_mem_ptr(gpa, len) would give a pointer. */
static inline bool guest_mem_range_ok(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	return guest_mem_ptr(mem, gpa, len) != (void *)0;
}

/* Host pointer for [gpa, gpa + len) wholly in one region, private memory
 * included, or NULL. Only for the monitor's own structures at addresses
 * the monitor chose (layout.h, the PV MMU pool, the tables it walks):
 * never for an address a guest supplied. */
static inline void *guest_mem_ptr_private(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	if (len <= mem->size && gpa <= mem->size - len && mem->host)
		return mem->host + gpa;
	const struct guest_mem_region *r =
		mem->nregions > 1 || !mem->host ? guest_mem_find(mem, gpa, len) : (void *)0;
	return r ? r->host + (gpa - r->gpa) : (void *)0;
}

#endif
