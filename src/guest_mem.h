/*
 * Guest memory: a small table of regions, each a window of guest-physical
 * space mapped from one shared memfd, so that another process (a vhost-user
 * back end, a snapshot writer) can map the very same pages from fd + offset.
 * Every access the monitor makes on a guest's behalf goes through
 * guest_mem_ptr(), which refuses ranges that leave a region, cross into a
 * hole or the next region, or wrap around: the single place where
 * guest-supplied addresses become host pointers.
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

struct guest_mem_region {
	uint64_t gpa;       /* guest-physical base */
	uint64_t size;      /* bytes */
	uint8_t *host;      /* host address of gpa */
	uint32_t flags;     /* GUEST_MEM_* */
	int fd;             /* the memfd holding it, to share (-1: imported, fd not kept) */
	uint64_t fd_offset; /* where gpa lies in fd */
	uint64_t map_offset;/* bytes the mapping starts before host (page alignment of an import) */
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
 * flags: GUEST_MEM_RAM and/or GUEST_MEM_READONLY; huge pages if the memfd
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

/* The region holding all of [gpa, gpa + len), or NULL. len 0 is fine up to
 * and including a region's end. */
const struct guest_mem_region *guest_mem_find(const struct guest_mem *mem, uint64_t gpa, uint64_t len);

/* The memfd holding gpa, with gpa's offset in it in *fd_offset; -1 if gpa
 * is not in a region. */
int guest_mem_fd(const struct guest_mem *mem, uint64_t gpa, uint64_t *fd_offset);

/* True if [gpa, gpa + len) lies wholly inside one region. len 0 is fine
 * anywhere up to and including a region's end. The region at 0 is checked
 * inline; only addresses beyond it pay for the table walk. */
static inline bool guest_mem_range_ok(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	if (len <= mem->size && gpa <= mem->size - len && mem->host)
		return true;
	/* A table without a region at 0 (an import) always walks. */
	return (mem->nregions > 1 || !mem->host) && guest_mem_find(mem, gpa, len);
}

/* Host pointer for [gpa, gpa + len), or NULL if the range is not wholly in
 * one region. */
static inline void *guest_mem_ptr(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	if (len <= mem->size && gpa <= mem->size - len && mem->host)
		return mem->host + gpa;
	const struct guest_mem_region *r =
		mem->nregions > 1 || !mem->host ? guest_mem_find(mem, gpa, len) : (void *)0;
	return r ? r->host + (gpa - r->gpa) : (void *)0;
}

#endif
