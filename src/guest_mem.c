#include "guest_mem.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <linux/memfd.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

#define SMALL_PAGE (4096ull)
#define HUGE_PAGE (2ull << 20)

/* Map [gpa, gpa + size) from the next `size` bytes of the memfd and file
 * the region in order. Returns 0 or -errno, mem unchanged on failure
 * (except that the file may have grown: see below). */
static int map_region(struct guest_mem *mem, uint64_t gpa, uint64_t size, uint32_t flags)
{
	uint64_t page = flags & GUEST_MEM_HUGEPAGES ? HUGE_PAGE : SMALL_PAGE;
	unsigned at = 0;

	if (!size || size % page || gpa % page || size > UINT64_MAX - gpa)
		return -EINVAL;
	if (mem->nregions == GUEST_MEM_MAX_REGIONS)
		return -ENOSPC;
	for (unsigned i = 0; i < mem->nregions; i++) {
		const struct guest_mem_region *r = &mem->region[i];
		if (gpa < r->gpa + r->size && r->gpa < gpa + size)
			return -EEXIST;
		if (r->gpa < gpa)
			at = i + 1;
	}
	if (size > (uint64_t)INT64_MAX - mem->fd_size)
		return -EFBIG;
	uint64_t offset = mem->fd_size;
	if (ftruncate(mem->fd, (off_t)(offset + size)))
		return -errno;
	/* The file cannot shrink back (it is sealed against that, so a peer
	 * holding the fd cannot pull pages from under us), so count the space
	 * as used even if the mapping fails: an unused stretch costs nothing. */
	mem->fd_size = offset + size;
	/* NORESERVE: a guest given 1 GiB that touches 2 MiB costs 2 MiB. Huge
	 * pages are reserved at mmap instead, so that a short pool fails here
	 * and not as a SIGBUS when the guest first touches a page. */
	int map_flags = MAP_SHARED | (flags & GUEST_MEM_HUGEPAGES ? 0 : MAP_NORESERVE);
	void *host = mmap(NULL, size, PROT_READ | PROT_WRITE, map_flags, mem->fd, (off_t)offset);
	if (host == MAP_FAILED)
		return -errno;

	memmove(&mem->region[at + 1], &mem->region[at], (mem->nregions - at) * sizeof(mem->region[0]));
	mem->region[at] = (struct guest_mem_region){
		.gpa = gpa, .size = size, .host = host, .flags = flags, .fd = mem->fd, .fd_offset = offset,
	};
	mem->nregions++;
	if (gpa == 0) {
		mem->host = host;
		mem->size = size;
	}
	return 0;
}

int guest_mem_init(struct guest_mem *mem, uint64_t size, uint32_t flags)
{
	*mem = (struct guest_mem){ .fd = -1 };
	if (flags & ~GUEST_MEM_HUGEPAGES)
		return -EINVAL;
	bool huge = flags & GUEST_MEM_HUGEPAGES;

	int fd = memfd_create("pvmm-guest-ram",
			      MFD_CLOEXEC | MFD_ALLOW_SEALING | (huge ? MFD_HUGETLB | MFD_HUGE_2MB : 0));
	if (fd < 0) {
		/* EINVAL (no hugetlbfs at all), ENODEV (no 2 MiB size), ENOENT (not
		 * mounted): all mean this kernel has none to give. */
		if (huge && (errno == EINVAL || errno == ENODEV || errno == ENOENT))
			return -EOPNOTSUPP;
		return -errno;
	}
	/* Whoever we share the fd with may write guest RAM, but must not shrink
	 * it (a SIGBUS in the monitor) nor seal it against growing or writes. */
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_SEAL)) {
		int err = errno;
		close(fd);
		return -err;
	}
	mem->fd = fd;
	int ret = map_region(mem, 0, size, GUEST_MEM_RAM | flags);
	if (ret) {
		close(fd);
		*mem = (struct guest_mem){ .fd = -1 };
	}
	return ret;
}

const char *guest_mem_strerror(int err, uint64_t size, uint32_t flags)
{
	/* Only start-up failures come here, once: a static buffer will do. */
	static char text[128];

	if (!(flags & GUEST_MEM_HUGEPAGES))
		return strerror(err);
	if (err == EOPNOTSUPP)
		return "this kernel has no 2 MiB huge pages (hugetlbfs)";
	if (err != ENOMEM)
		return strerror(err);
	unsigned long long pages = size / HUGE_PAGE;
	snprintf(text, sizeof(text), "needs %llu free 2 MiB huge pages; reserve them as root: echo %llu > %s",
		 pages, pages, "/proc/sys/vm/nr_hugepages");
	return text;
}

int guest_mem_add(struct guest_mem *mem, uint64_t gpa, uint64_t size, uint32_t flags)
{
	if (!mem->nregions || flags & ~(GUEST_MEM_RAM | GUEST_MEM_READONLY | GUEST_MEM_PRIVATE))
		return -EINVAL;
	return map_region(mem, gpa, size, flags | (mem->region[0].flags & GUEST_MEM_HUGEPAGES));
}

int guest_mem_import(struct guest_mem *mem, const struct guest_mem_share *share, unsigned n, char *why,
		     size_t why_len)
{
	*mem = (struct guest_mem){ .fd = -1 };
	if (n == 0 || n > GUEST_MEM_MAX_REGIONS) {
		snprintf(why, why_len, "a memory table of %u regions (1 to %u)", n, GUEST_MEM_MAX_REGIONS);
		return -1;
	}
	for (unsigned i = 0; i < n; i++) {
		const struct guest_mem_share *s = &share[i];
		struct stat st;
		unsigned at = 0;

		if (!s->size || s->size > UINT64_MAX - s->gpa || s->fd_offset > (uint64_t)INT64_MAX - s->size) {
			snprintf(why, why_len, "memory region %u: empty or wrapping around", i);
			goto fail;
		}
		for (unsigned j = 0; j < mem->nregions; j++) {
			const struct guest_mem_region *r = &mem->region[j];
			if (s->gpa < r->gpa + r->size && r->gpa < s->gpa + s->size) {
				snprintf(why, why_len, "memory region %u overlaps another in guest-physical space", i);
				goto fail;
			}
			if (r->gpa < s->gpa)
				at = j + 1;
		}
		/* Past the end of the file a page would fault with SIGBUS. */
		if (fstat(s->fd, &st) || s->fd_offset + s->size > (uint64_t)st.st_size) {
			snprintf(why, why_len, "memory region %u (%#llx bytes at offset %#llx) is not inside its file", i,
				 (unsigned long long)s->size, (unsigned long long)s->fd_offset);
			goto fail;
		}
		uint64_t page = st.st_blksize >= 4096 && !(st.st_blksize & (st.st_blksize - 1)) ? (uint64_t)st.st_blksize
											   : SMALL_PAGE;
		uint64_t delta = s->fd_offset % page;
		void *base = mmap(NULL, s->size + delta, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, s->fd,
				  (off_t)(s->fd_offset - delta));
		if (base == MAP_FAILED) {
			snprintf(why, why_len, "memory region %u cannot be mapped: %s", i, strerror(errno));
			goto fail;
		}
		memmove(&mem->region[at + 1], &mem->region[at], (mem->nregions - at) * sizeof(mem->region[0]));
		mem->region[at] = (struct guest_mem_region){
			.gpa = s->gpa, .size = s->size, .host = (uint8_t *)base + delta, .flags = GUEST_MEM_RAM,
			.fd = -1, .fd_offset = s->fd_offset, .map_offset = delta,
		};
		mem->nregions++;
		if (s->gpa == 0) {
			mem->host = mem->region[at].host;
			mem->size = s->size;
		}
	}
	return 0;
fail:
	guest_mem_free(mem);
	return -1;
}

void guest_mem_free(struct guest_mem *mem)
{
	for (unsigned i = 0; i < mem->nregions; i++)
		munmap(mem->region[i].host - mem->region[i].map_offset, mem->region[i].size + mem->region[i].map_offset);
	/* A zeroed struct has fd 0 but no regions: not ours to close. */
	if (mem->nregions && mem->fd >= 0)
		close(mem->fd);
	*mem = (struct guest_mem){ .fd = -1 };
}

static struct kvm_userspace_memory_region slot_of(const struct guest_mem *mem, unsigned i)
{
	const struct guest_mem_region *r = &mem->region[i];
	return (struct kvm_userspace_memory_region){
		.slot = i,
		.flags = r->flags & GUEST_MEM_READONLY ? KVM_MEM_READONLY : 0,
		.guest_phys_addr = r->gpa,
		.memory_size = r->size,
		.userspace_addr = (uint64_t)(uintptr_t)r->host,
	};
}

int guest_mem_register(const struct guest_mem *mem, int vm_fd)
{
	for (unsigned i = 0; i < mem->nregions; i++) {
		const struct guest_mem_region *r = &mem->region[i];
		struct kvm_userspace_memory_region slot = slot_of(mem, i);
		if (r->slot_deferred)
			continue;
		if (ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &slot) < 0) {
			int err = errno;
			/* Region 0 in the words used before there were regions. */
			if (r->gpa == 0)
				log_error("cannot give the VM %llu MiB of RAM: %s", (unsigned long long)(r->size >> 20),
					  strerror(err));
			else
				log_error("cannot give the VM %llu KiB at guest-physical %#llx: %s",
					  (unsigned long long)(r->size >> 10), (unsigned long long)r->gpa, strerror(err));
			return -err;
		}
	}
	return 0;
}

int guest_mem_defer_slot(struct guest_mem *mem, uint64_t gpa)
{
	for (unsigned i = 0; i < mem->nregions; i++) {
		if (mem->region[i].gpa == gpa) {
			mem->region[i].slot_deferred = true;
			return 0;
		}
	}
	return -ENOENT;
}

int guest_mem_reregister(struct guest_mem *mem, int vm_fd, uint64_t gpa)
{
	for (unsigned i = 0; i < mem->nregions; i++) {
		if (mem->region[i].gpa != gpa)
			continue;
		struct kvm_userspace_memory_region slot = slot_of(mem, i);
		struct kvm_userspace_memory_region gone = slot;
		gone.memory_size = 0;
		if ((!mem->region[i].slot_deferred && ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &gone) < 0) ||
		    ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &slot) < 0) {
			int err = errno;
			log_error("cannot re-add the KVM slot at guest-physical %#llx: %s", (unsigned long long)gpa,
				  strerror(err));
			return -err;
		}
		mem->region[i].slot_deferred = false;
		return 0;
	}
	return -ENOENT;
}

const struct guest_mem_region *guest_mem_find(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	for (unsigned i = 0; i < mem->nregions; i++) {
		const struct guest_mem_region *r = &mem->region[i];
		if (gpa < r->gpa)
			break; /* sorted: no later region can hold it */
		if (len <= r->size && gpa - r->gpa <= r->size - len)
			return r;
	}
	return NULL;
}

int guest_mem_fd(const struct guest_mem *mem, uint64_t gpa, uint64_t *fd_offset)
{
	const struct guest_mem_region *r = guest_mem_find(mem, gpa, 1);
	if (!r)
		return -1;
	*fd_offset = r->fd_offset + (gpa - r->gpa);
	return r->fd;
}

int guest_mem_set_private(struct guest_mem *mem, uint64_t gpa, uint64_t len, bool priv)
{
	if (gpa > GUEST_MEM_LOW_LIMIT || len > GUEST_MEM_LOW_LIMIT - gpa)
		return -EINVAL;
	for (uint64_t page = gpa / SMALL_PAGE; len && page * SMALL_PAGE < gpa + len; page++) {
		uint64_t bit = 1ull << (page % 64);
		if (priv)
			mem->low_private[page / 64] |= bit;
		else
			mem->low_private[page / 64] &= ~bit;
	}
	return 0;
}

bool guest_mem_is_private(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	if (len == 0)
		return false;
	uint64_t last = len - 1 > UINT64_MAX - gpa ? UINT64_MAX : gpa + len - 1;
	/* Marked low pages the range covers. */
	if (gpa < GUEST_MEM_LOW_LIMIT) {
		uint64_t end = last < GUEST_MEM_LOW_LIMIT ? last : GUEST_MEM_LOW_LIMIT - 1;
		for (uint64_t page = gpa / SMALL_PAGE; page <= end / SMALL_PAGE; page++)
			if (mem->low_private[page / 64] & (1ull << (page % 64)))
				return true;
	}
	/* Private regions it overlaps. */
	for (unsigned i = 0; i < mem->nregions; i++) {
		const struct guest_mem_region *r = &mem->region[i];
		if ((r->flags & GUEST_MEM_PRIVATE) && gpa <= r->gpa + (r->size - 1) && r->gpa <= last)
			return true;
	}
	return false;
}

void *guest_mem_ptr_checked(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	void *p = guest_mem_ptr_private(mem, gpa, len);
	return p && !guest_mem_is_private(mem, gpa, len) ? p : NULL;
}
