/*
 * Guest RAM: one anonymous mapping, guest-physical 0 .. size. Every access
 * the monitor makes on a guest's behalf goes through guest_mem_ptr(), which
 * refuses ranges that leave RAM or wrap around: the single place where
 * guest-supplied addresses become host pointers.
 */
#ifndef PVMM_GUEST_MEM_H
#define PVMM_GUEST_MEM_H

#include <stdbool.h>
#include <stdint.h>

struct guest_mem {
	uint8_t *host;  /* host address of guest-physical 0 */
	uint64_t size;  /* bytes */
};

/* Map `size` bytes of zeroed RAM. Returns 0, or -errno. */
int guest_mem_init(struct guest_mem *mem, uint64_t size);
void guest_mem_free(struct guest_mem *mem);

/* True if [gpa, gpa + len) lies wholly inside RAM. len 0 is fine anywhere
 * up to and including the end of RAM. */
static inline bool guest_mem_range_ok(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	return len <= mem->size && gpa <= mem->size - len;
}

/* Host pointer for [gpa, gpa + len), or NULL if the range is not RAM. */
static inline void *guest_mem_ptr(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	return guest_mem_range_ok(mem, gpa, len) ? mem->host + gpa : (void *)0;
}

#endif
