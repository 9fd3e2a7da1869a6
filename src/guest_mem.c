#include "guest_mem.h"

#include <errno.h>
#include <stddef.h>
#include <sys/mman.h>

int guest_mem_init(struct guest_mem *mem, uint64_t size)
{
	/* NORESERVE: a guest given 1 GiB that touches 2 MiB costs 2 MiB. */
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	mem->host = p;
	mem->size = size;
	return 0;
}

void guest_mem_free(struct guest_mem *mem)
{
	if (mem->host)
		munmap(mem->host, mem->size);
	mem->host = NULL;
	mem->size = 0;
}
