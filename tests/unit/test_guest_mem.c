/*
 * Unit tests for guest memory (src/guest_mem.c): the region table, the range
 * check every guest address goes through, the memfd that makes the memory
 * shareable, huge pages and KVM slot registration.
 *
 * The fixture's guest-physical map (not in the order it was added):
 *   [0, 1M)           region 0, RAM from guest_mem_init
 *   [1M, 2M)          hole
 *   [2M, 3M)          region A
 *   [3M, 3M + 64K)    region B, adjacent to A: no hole between them
 *   ...               hole
 *   [TOP, TOP + 4K)   region C, just below the top of the address space
 *   [TOP + 4K, 2^64)  hole
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include <linux/kvm.h>
#include <linux/memfd.h>

#include "guest_mem.h"
#include "layout.h"

#define MiB (1ull << 20)
#define R0_SIZE MiB
#define A_GPA (2 * MiB)
#define A_SIZE MiB
#define B_GPA (3 * MiB)
#define B_SIZE (64ull << 10)
#define C_GPA (UINT64_MAX - 2 * 4096 + 1)
#define C_SIZE 4096ull

static int setup(void **state)
{
	struct guest_mem *mem = calloc(1, sizeof(*mem));
	assert_non_null(mem);
	assert_int_equal(guest_mem_init(mem, R0_SIZE, 0), 0);
	/* Out of order on purpose: the table must end up sorted. */
	assert_int_equal(guest_mem_add(mem, C_GPA, C_SIZE, GUEST_MEM_RAM), 0);
	assert_int_equal(guest_mem_add(mem, B_GPA, B_SIZE, GUEST_MEM_READONLY), 0);
	assert_int_equal(guest_mem_add(mem, A_GPA, A_SIZE, GUEST_MEM_RAM), 0);
	*state = mem;
	return 0;
}

static int teardown(void **state)
{
	guest_mem_free(*state);
	free(*state);
	return 0;
}

static const struct guest_mem_region *region_at(const struct guest_mem *mem, uint64_t gpa)
{
	for (unsigned i = 0; i < mem->nregions; i++)
		if (mem->region[i].gpa == gpa)
			return &mem->region[i];
	fail_msg("no region at %#llx", (unsigned long long)gpa);
	return NULL;
}

/* [gpa, gpa + len) must map to `want`, or be refused if want is NULL; the
 * two entry points must agree. */
static void expect(const struct guest_mem *mem, uint64_t gpa, uint64_t len, const void *want)
{
	void *got = guest_mem_ptr(mem, gpa, len);
	if (got != want)
		fail_msg("guest_mem_ptr(%#llx, %#llx) = %p, want %p", (unsigned long long)gpa,
			 (unsigned long long)len, got, want);
	if (guest_mem_range_ok(mem, gpa, len) != (want != NULL))
		fail_msg("guest_mem_range_ok(%#llx, %#llx) disagrees with guest_mem_ptr",
			 (unsigned long long)gpa, (unsigned long long)len);
}

static void test_table_sorted_and_region0_mirrored(void **state)
{
	struct guest_mem *mem = *state;
	assert_int_equal(mem->nregions, 4);
	for (unsigned i = 1; i < mem->nregions; i++)
		assert_true(mem->region[i - 1].gpa < mem->region[i].gpa);
	assert_int_equal(mem->region[0].gpa, 0);
	assert_ptr_equal(mem->host, mem->region[0].host);
	assert_int_equal(mem->size, R0_SIZE);
	assert_int_equal(region_at(mem, B_GPA)->flags, GUEST_MEM_READONLY);
	assert_int_equal(region_at(mem, 0)->flags, GUEST_MEM_RAM);
	/* Every region has its own stretch of the one memfd. */
	for (unsigned i = 0; i < mem->nregions; i++) {
		assert_int_equal(mem->region[i].fd, mem->fd);
		for (unsigned j = 0; j < i; j++) {
			const struct guest_mem_region *a = &mem->region[i], *b = &mem->region[j];
			assert_true(a->fd_offset + a->size <= b->fd_offset || b->fd_offset + b->size <= a->fd_offset);
		}
	}
}

static void test_inside(void **state)
{
	struct guest_mem *mem = *state;
	const struct guest_mem_region *a = region_at(mem, A_GPA), *b = region_at(mem, B_GPA),
				      *c = region_at(mem, C_GPA);
	expect(mem, 0x1000, 16, mem->host + 0x1000);
	expect(mem, 0, R0_SIZE, mem->host);
	expect(mem, A_GPA + 0x10, 0x100, a->host + 0x10);
	expect(mem, A_GPA, A_SIZE, a->host);
	expect(mem, B_GPA + 8, 8, b->host + 8);
	expect(mem, C_GPA + 100, 200, c->host + 100);
}

static void test_edges(void **state)
{
	struct guest_mem *mem = *state;
	const struct guest_mem_region *a = region_at(mem, A_GPA), *b = region_at(mem, B_GPA);
	/* Last byte in, one past out. */
	expect(mem, R0_SIZE - 1, 1, mem->host + R0_SIZE - 1);
	expect(mem, R0_SIZE - 1, 2, NULL);
	expect(mem, R0_SIZE, 1, NULL);
	expect(mem, A_GPA + A_SIZE - 4, 4, a->host + A_SIZE - 4);
	expect(mem, B_GPA + B_SIZE - 1, 1, b->host + B_SIZE - 1);
	expect(mem, B_GPA + B_SIZE - 1, 2, NULL);
	expect(mem, B_GPA + B_SIZE, 1, NULL);
	/* First byte in, one before out. */
	expect(mem, A_GPA - 1, 1, NULL);
	expect(mem, A_GPA, 1, a->host);
	/* A whole region plus one byte. */
	expect(mem, A_GPA, A_SIZE + 1, NULL);
}

static void test_crossing_hole(void **state)
{
	struct guest_mem *mem = *state;
	expect(mem, R0_SIZE - 8, 16, NULL);
	expect(mem, A_GPA - 1, 2, NULL);
	expect(mem, 0, A_GPA + 1, NULL);         /* region 0, the hole, into A */
	expect(mem, 0, B_GPA + B_SIZE, NULL);    /* everything from 0 to B's end */
	expect(mem, R0_SIZE + 0x1000, 16, NULL); /* wholly in the hole */
	expect(mem, B_GPA + B_SIZE, 4096, NULL);
}

/* A and B are both mapped and GPA-contiguous, but their host mappings are
 * not: a range over the seam must not be one pointer. */
static void test_crossing_adjacent_regions(void **state)
{
	struct guest_mem *mem = *state;
	const struct guest_mem_region *a = region_at(mem, A_GPA), *b = region_at(mem, B_GPA);
	expect(mem, B_GPA - 4, 4, a->host + A_SIZE - 4);
	expect(mem, B_GPA, 4, b->host);
	expect(mem, B_GPA - 4, 8, NULL);
	expect(mem, B_GPA - 1, 2, NULL);
	expect(mem, A_GPA, A_SIZE + B_SIZE, NULL);
}

static void test_wrap_around(void **state)
{
	struct guest_mem *mem = *state;
	const struct guest_mem_region *c = region_at(mem, C_GPA);
	expect(mem, UINT64_MAX, 1, NULL);
	expect(mem, UINT64_MAX, 2, NULL); /* wraps to 0, which is RAM */
	expect(mem, UINT64_MAX - 7, 16, NULL);
	expect(mem, C_GPA + C_SIZE - 1, 1, c->host + C_SIZE - 1);
	expect(mem, C_GPA + C_SIZE - 1, 2, NULL);
	expect(mem, C_GPA, UINT64_MAX, NULL);
	expect(mem, 0x10, UINT64_MAX, NULL);
	expect(mem, 0, UINT64_MAX, NULL);
	expect(mem, A_GPA, UINT64_MAX - A_GPA + 0x101, NULL); /* ends at 0x100, inside region 0 */
}

static void test_len_zero(void **state)
{
	struct guest_mem *mem = *state;
	const struct guest_mem_region *a = region_at(mem, A_GPA), *c = region_at(mem, C_GPA);
	expect(mem, 0, 0, mem->host);
	expect(mem, R0_SIZE, 0, mem->host + R0_SIZE); /* a region's end is fine */
	expect(mem, A_GPA, 0, a->host);
	expect(mem, A_GPA + 0x123, 0, a->host + 0x123);
	expect(mem, C_GPA + C_SIZE, 0, c->host + C_SIZE);
	expect(mem, R0_SIZE + 1, 0, NULL); /* inside a hole is not */
	expect(mem, A_GPA - 1, 0, NULL);
	expect(mem, 4 * MiB, 0, NULL);
	expect(mem, UINT64_MAX, 0, NULL);
}

static void test_add_rejects_bad_regions(void **state)
{
	struct guest_mem *mem = *state;
	struct guest_mem_region before[GUEST_MEM_MAX_REGIONS];
	unsigned n = mem->nregions;
	memcpy(before, mem->region, sizeof(before));

	assert_int_equal(guest_mem_add(mem, A_GPA + A_SIZE / 2, A_SIZE, GUEST_MEM_RAM), -EEXIST);
	assert_int_equal(guest_mem_add(mem, A_GPA - 4096, 8192, GUEST_MEM_RAM), -EEXIST);
	assert_int_equal(guest_mem_add(mem, 0, 4096, GUEST_MEM_RAM), -EEXIST);
	assert_int_equal(guest_mem_add(mem, 8 * MiB + 1, 4096, GUEST_MEM_RAM), -EINVAL);
	assert_int_equal(guest_mem_add(mem, 8 * MiB, 100, GUEST_MEM_RAM), -EINVAL);
	assert_int_equal(guest_mem_add(mem, 8 * MiB, 0, GUEST_MEM_RAM), -EINVAL);
	assert_int_equal(guest_mem_add(mem, UINT64_MAX - 4095, 8192, GUEST_MEM_RAM), -EINVAL);
	assert_int_equal(guest_mem_add(mem, 8 * MiB, 4096, GUEST_MEM_HUGEPAGES), -EINVAL);
	assert_int_equal(guest_mem_add(mem, 8 * MiB, 4096, 1u << 31), -EINVAL);
	assert_int_equal(mem->nregions, n);
	assert_memory_equal(mem->region, before, sizeof(before));

	/* Fill the table; one more is refused. */
	uint64_t gpa = 16 * MiB;
	while (mem->nregions < GUEST_MEM_MAX_REGIONS) {
		assert_int_equal(guest_mem_add(mem, gpa, 4096, GUEST_MEM_RAM), 0);
		gpa += 2 * 4096;
	}
	assert_int_equal(guest_mem_add(mem, gpa, 4096, GUEST_MEM_RAM), -ENOSPC);
	expect(mem, 16 * MiB + 4096, 1, NULL); /* the holes between them stay holes */
}

/* What the guest sees through guest_mem_ptr is the memfd's content, so a
 * second process mapping fd + offset shares it both ways. */
static void test_memfd_is_shared(void **state)
{
	struct guest_mem *mem = *state;
	const uint64_t gpa = A_GPA + 0x3000;
	uint64_t off = 0;
	int fd = guest_mem_fd(mem, gpa + 0x10, &off);
	assert_true(fd >= 0);
	assert_int_equal(off, region_at(mem, A_GPA)->fd_offset + 0x3010);

	uint8_t *other = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)(off - 0x10));
	assert_true(other != MAP_FAILED);
	uint8_t *mine = guest_mem_ptr(mem, gpa, 4096);
	assert_non_null(mine);
	assert_ptr_not_equal(mine, other);

	memcpy(mine + 0x10, "written by the monitor", 23);
	assert_memory_equal(other + 0x10, "written by the monitor", 23);
	memcpy(other + 0x100, "written by a peer", 18);
	assert_memory_equal(mine + 0x100, "written by a peer", 18);
	/* The same offset in another region is other memory. */
	assert_memory_not_equal(mem->host + 0x3010, "written by the monitor", 23);
	munmap(other, 4096);

	/* A peer cannot shrink the file out from under the monitor. */
	assert_int_not_equal(ftruncate(fd, 0), 0);
	assert_int_equal(guest_mem_fd(mem, R0_SIZE + 0x10, &off), -1);
	assert_int_equal(guest_mem_fd(mem, R0_SIZE, &off), -1); /* a region's end is not in it */
}

static void test_fresh_memory_is_zero(void **state)
{
	struct guest_mem *mem = *state;
	static const uint8_t zero[4096];
	for (unsigned i = 0; i < mem->nregions; i++) {
		const struct guest_mem_region *r = &mem->region[i];
		assert_memory_equal(r->host, zero, sizeof(zero));
		assert_memory_equal(r->host + r->size - sizeof(zero), zero, sizeof(zero));
	}
}

/* "HugePages_Free:  N" from /proc/meminfo; -1 if absent. */
static long huge_pages_free(void)
{
	char line[128];
	long n = -1;
	FILE *f = fopen("/proc/meminfo", "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "HugePages_Free: %ld", &n) == 1)
			break;
	fclose(f);
	return n;
}

/* Surplus pages the kernel may create on demand; -1 if unknown. */
static long huge_pages_overcommit(void)
{
	long n = -1;
	FILE *f = fopen("/proc/sys/vm/nr_overcommit_hugepages", "re");
	if (!f)
		return -1;
	if (fscanf(f, "%ld", &n) != 1)
		n = -1;
	fclose(f);
	return n;
}

/* With no huge pages to be had, init fails at once, quietly (main.c prints
 * the one line), leaves nothing mapped, and the words for it tell the user
 * how many pages to reserve and where. */
static void test_hugepages_fail_cleanly_without_reserve(void **state)
{
	(void)state;
	if (huge_pages_free() != 0 || huge_pages_overcommit() > 0) {
		print_message("host has huge pages to give (or reports none): skipping\n");
		skip();
	}
	char path[] = "/tmp/test_guest_mem.XXXXXX";
	int log_fd = mkstemp(path);
	assert_true(log_fd >= 0);
	unlink(path);
	fflush(stderr);
	int saved = dup(2);
	assert_true(saved >= 0);
	assert_int_equal(dup2(log_fd, 2), 2);

	struct guest_mem mem;
	int ret = guest_mem_init(&mem, 4 * MiB, GUEST_MEM_HUGEPAGES);

	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	char text[64] = { 0 };
	ssize_t got = pread(log_fd, text, sizeof(text) - 1, 0);
	close(log_fd);
	assert_int_equal(got, 0); /* silent: the caller says it once */

	assert_int_equal(mem.nregions, 0);
	assert_null(mem.host);
	assert_int_equal(mem.size, 0);
	assert_null(guest_mem_ptr(&mem, 0, 1));
	guest_mem_free(&mem);

	const char *why = guest_mem_strerror(-ret, 4 * MiB, GUEST_MEM_HUGEPAGES);
	assert_null(strchr(why, '\n'));
	int probe = memfd_create("probe", MFD_CLOEXEC | MFD_HUGETLB | MFD_HUGE_2MB);
	if (probe >= 0) {
		/* The kernel has hugetlbfs: the pool is what is short. */
		close(probe);
		assert_int_equal(ret, -ENOMEM);
		assert_string_equal(why, "needs 2 free 2 MiB huge pages; reserve them as root: "
					 "echo 2 > /proc/sys/vm/nr_hugepages");
	} else {
		assert_int_equal(ret, -EOPNOTSUPP);
		assert_non_null(strstr(why, "huge pages"));
	}
	/* Without huge pages the words are plain strerror. */
	assert_string_equal(guest_mem_strerror(ENOMEM, 4 * MiB, 0), strerror(ENOMEM));
}

static void test_init_rejects_bad_arguments(void **state)
{
	(void)state;
	struct guest_mem mem;
	assert_int_equal(guest_mem_init(&mem, 0, 0), -EINVAL);
	assert_int_equal(mem.nregions, 0);
	assert_int_equal(guest_mem_init(&mem, 4096 + 1, 0), -EINVAL);
	assert_int_equal(guest_mem_init(&mem, MiB, GUEST_MEM_READONLY), -EINVAL);
	assert_int_equal(guest_mem_init(&mem, MiB + 4096, GUEST_MEM_HUGEPAGES), -EINVAL);
	assert_int_equal(mem.nregions, 0);
	assert_null(mem.host);
	/* No regions yet: nothing to add to. */
	struct guest_mem empty = { 0 };
	assert_int_equal(guest_mem_add(&empty, A_GPA, A_SIZE, GUEST_MEM_RAM), -EINVAL);
}

/* main.c frees a zeroed struct when start-up fails early: fd 0 in it is
 * not a memfd and must stay open. */
static void test_free_zeroed_keeps_fd0(void **state)
{
	(void)state;
	if (fcntl(0, F_GETFD) < 0)
		assert_int_equal(open("/dev/null", O_RDONLY), 0);
	struct guest_mem mem = { 0 };
	guest_mem_free(&mem);
	assert_true(fcntl(0, F_GETFD) >= 0);
	assert_int_equal(mem.fd, -1);
	guest_mem_free(&mem); /* twice is fine too */
}

/* Each region becomes its own slot: KVM then refuses a new slot over a
 * region's GPAs but takes one in the hole. */
static void test_register_one_slot_per_region(void **state)
{
	(void)state;
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		print_message("no /dev/kvm: skipping\n");
		skip();
	}
	int vm = ioctl(kvm, KVM_CREATE_VM, 0);
	assert_true(vm >= 0);
	struct guest_mem mem;
	assert_int_equal(guest_mem_init(&mem, R0_SIZE, 0), 0);
	uint32_t ro = ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_READONLY_MEM) > 0 ? GUEST_MEM_READONLY : 0;
	assert_int_equal(guest_mem_add(&mem, A_GPA, A_SIZE, GUEST_MEM_RAM | ro), 0);
	assert_int_equal(guest_mem_register(&mem, vm), 0);

	uint8_t *spare = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(spare != MAP_FAILED);
	struct kvm_userspace_memory_region slot = {
		.slot = 5, .memory_size = 4096, .userspace_addr = (uint64_t)(uintptr_t)spare,
	};
	slot.guest_phys_addr = A_GPA + 0x1000;
	assert_int_equal(ioctl(vm, KVM_SET_USER_MEMORY_REGION, &slot), -1);
	assert_int_equal(errno, EEXIST);
	slot.guest_phys_addr = 0x2000;
	assert_int_equal(ioctl(vm, KVM_SET_USER_MEMORY_REGION, &slot), -1);
	assert_int_equal(errno, EEXIST);
	slot.guest_phys_addr = R0_SIZE + 0x1000;
	assert_int_equal(ioctl(vm, KVM_SET_USER_MEMORY_REGION, &slot), 0);

	close(vm);
	close(kvm);
	munmap(spare, 4096);
	guest_mem_free(&mem);
}

/* A deferred region gets no slot from guest_mem_register (KVM still takes
 * a slot over its GPAs), and guest_mem_reregister gives it one, after
 * which KVM refuses the overlap. */
static void test_deferred_slot(void **state)
{
	(void)state;
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		print_message("no /dev/kvm: skipping\n");
		skip();
	}
	int vm = ioctl(kvm, KVM_CREATE_VM, 0);
	assert_true(vm >= 0);
	struct guest_mem mem;
	assert_int_equal(guest_mem_init(&mem, R0_SIZE, 0), 0);
	assert_int_equal(guest_mem_add(&mem, A_GPA, A_SIZE, GUEST_MEM_RAM | GUEST_MEM_PRIVATE), 0);
	assert_int_equal(guest_mem_defer_slot(&mem, A_GPA + 0x1000), -ENOENT);
	assert_int_equal(guest_mem_defer_slot(&mem, A_GPA), 0);
	assert_int_equal(guest_mem_register(&mem, vm), 0);

	uint8_t *spare = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(spare != MAP_FAILED);
	struct kvm_userspace_memory_region probe = {
		.slot = 5, .guest_phys_addr = A_GPA, .memory_size = 4096, .userspace_addr = (uint64_t)(uintptr_t)spare,
	};
	assert_int_equal(ioctl(vm, KVM_SET_USER_MEMORY_REGION, &probe), 0); /* nothing there yet */
	probe.memory_size = 0;
	assert_int_equal(ioctl(vm, KVM_SET_USER_MEMORY_REGION, &probe), 0);

	/* The first reregister adds the slot; later ones delete and add it. */
	assert_int_equal(guest_mem_reregister(&mem, vm, A_GPA), 0);
	assert_false(mem.region[1].slot_deferred);
	probe.memory_size = 4096;
	assert_int_equal(ioctl(vm, KVM_SET_USER_MEMORY_REGION, &probe), -1);
	assert_int_equal(errno, EEXIST);
	assert_int_equal(guest_mem_reregister(&mem, vm, A_GPA), 0);
	assert_int_equal(ioctl(vm, KVM_SET_USER_MEMORY_REGION, &probe), -1);
	assert_int_equal(errno, EEXIST);

	close(vm);
	close(kvm);
	munmap(spare, 4096);
	guest_mem_free(&mem);
}

/* Private low pages: guest_mem_ptr refuses any range touching one (a
 * zero-length range touches none); guest_mem_ptr_private still maps it. */
static void test_private_low_pages(void **state)
{
	struct guest_mem *mem = *state;
	assert_int_equal(guest_mem_set_private(mem, 0x2000, 0x1000, true), 0);
	expect(mem, 0x2000, 1, NULL);
	expect(mem, 0x2fff, 1, NULL);
	expect(mem, 0x1ff0, 0x20, NULL);
	expect(mem, 0x1000, 0x3000, NULL);
	expect(mem, 0x1fff, 1, mem->host + 0x1fff);
	expect(mem, 0x3000, 16, mem->host + 0x3000);
	expect(mem, 0x2000, 0, mem->host + 0x2000);
	assert_ptr_equal(guest_mem_ptr_private(mem, 0x2000, 8), mem->host + 0x2000);
	assert_true(guest_mem_is_private(mem, 0x2800, 1));
	assert_false(guest_mem_is_private(mem, 0x2800, 0));
	assert_int_equal(guest_mem_set_private(mem, 0x2000, 0x1000, false), 0);
	expect(mem, 0x2000, 0x1000, mem->host + 0x2000);
	/* Only pages below GUEST_MEM_LOW_LIMIT can be marked one by one. */
	assert_int_equal(guest_mem_set_private(mem, GUEST_MEM_LOW_LIMIT - 0x1000, 0x2000, true), -EINVAL);
	assert_int_equal(guest_mem_set_private(mem, UINT64_MAX - 10, 20, true), -EINVAL);
	expect(mem, GUEST_MEM_LOW_LIMIT - 0x1000, 0x1000, mem->host + GUEST_MEM_LOW_LIMIT - 0x1000);
}

/* A GUEST_MEM_PRIVATE region is the monitor's through and through. */
static void test_private_region(void **state)
{
	struct guest_mem *mem = *state;
	const uint64_t gpa = 8 * MiB;
	assert_int_equal(guest_mem_add(mem, gpa, 64 << 10, GUEST_MEM_PRIVATE), 0);
	const struct guest_mem_region *r = region_at(mem, gpa);
	expect(mem, gpa, 8, NULL);
	expect(mem, gpa + 0x8000, 0x100, NULL);
	expect(mem, gpa, 0, r->host);
	assert_ptr_equal(guest_mem_ptr_private(mem, gpa + 0x10, 8), r->host + 0x10);
	assert_null(guest_mem_ptr_private(mem, gpa + (64 << 10) - 4, 8));
	assert_true(guest_mem_is_private(mem, gpa - 8, 16));
	/* The other regions are untouched. */
	expect(mem, A_GPA, A_SIZE, region_at(mem, A_GPA)->host);
}

/* layout.h's rule: everything below 1 MiB but the boot info and argument
 * strings and the main stack, and (ring 0 only) the IST1 stacks. */
static void test_layout_private(void **state)
{
	(void)state;
	for (unsigned ring = 0; ring <= 3; ring += 3) {
		struct guest_mem mem;
		assert_int_equal(guest_mem_init(&mem, 4 * MiB, 0), 0);
		assert_int_equal(layout_mark_private(&mem, ring), 0);
		const uint64_t refused[] = { 0, LAYOUT_GDT, LAYOUT_TSS, LAYOUT_PML4, LAYOUT_PDPT, LAYOUT_PD,
					     LAYOUT_PT0, LAYOUT_ARGS_END, LAYOUT_STACK_GUARD, LAYOUT_AP_TSS,
					     LAYOUT_IDT, LAYOUT_TRAP_STUBS, LAYOUT_CLOCK_PAGE, LAYOUT_LOW_END - 8 };
		for (unsigned i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
			if (guest_mem_ptr(&mem, refused[i], 8))
				fail_msg("ring %u: %#llx is the guest's", ring, (unsigned long long)refused[i]);
		const uint64_t allowed[] = { LAYOUT_BOOT_INFO, LAYOUT_ARGS, LAYOUT_ARGS_END - 8,
					     LAYOUT_STACK_GUARD + PAGE_SIZE, LAYOUT_STACK_TOP - 8, LAYOUT_LOW_END };
		for (unsigned i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
			if (!guest_mem_ptr(&mem, allowed[i], 8))
				fail_msg("ring %u: %#llx is the monitor's", ring, (unsigned long long)allowed[i]);
		/* IST1 stacks: the guest's exception handlers run there at ring 0. */
		const uint64_t ist[] = { LAYOUT_IST_TOP - 8, LAYOUT_AP_IST, LAYOUT_AP_IST + 63 * LAYOUT_AP_IST_SIZE - 8 };
		for (unsigned i = 0; i < sizeof(ist) / sizeof(ist[0]); i++)
			if ((guest_mem_ptr(&mem, ist[i], 8) != NULL) != (ring == 0))
				fail_msg("ring %u: IST stack at %#llx has the wrong owner", ring, (unsigned long long)ist[i]);
		guest_mem_free(&mem);
	}
}

/* A vhost-user front end's table: regions from its own fds, anywhere in
 * guest-physical space, none at 0; every lookup walks the table, and the
 * pages are the front end's (writes through one mapping show in the
 * other). */
static void test_import_any_layout(void **state)
{
	(void)state;
	int fd = memfd_create("import", MFD_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 0x30000), 0);
	uint8_t *theirs = mmap(NULL, 0x30000, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(theirs != MAP_FAILED);
	struct guest_mem_share share[2] = {
		{ .gpa = 0x40000000, .size = 0x10000, .fd = fd, .fd_offset = 0x20000 },
		{ .gpa = 0x200000, .size = 0x10000, .fd = fd, .fd_offset = 0x1800 }, /* unaligned offset */
	};
	struct guest_mem m;
	char why[128];
	assert_int_equal(guest_mem_import(&m, share, 2, why, sizeof(why)), 0);
	assert_int_equal(m.nregions, 2);
	assert_int_equal(m.region[0].gpa, 0x200000); /* sorted */
	assert_null(guest_mem_ptr(&m, 0, 1));
	assert_null(guest_mem_ptr(&m, 0, 0));
	assert_null(guest_mem_ptr(&m, 0x1ffff0, 0x20)); /* into a region from the hole */
	assert_null(guest_mem_ptr(&m, 0x20fff0, 0x20)); /* out of one */
	uint8_t *p = guest_mem_ptr(&m, 0x40000010, 4);
	assert_non_null(p);
	memcpy(p, "abcd", 4);
	assert_memory_equal(theirs + 0x20010, "abcd", 4);
	theirs[0x1800 + 5] = 0x5a;
	p = guest_mem_ptr(&m, 0x200005, 1);
	assert_non_null(p);
	assert_int_equal(*p, 0x5a);
	guest_mem_free(&m);

	/* Past the end of the file, overlapping, empty: refused, nothing mapped. */
	struct guest_mem_share past = { .gpa = 0, .size = 0x40000, .fd = fd, .fd_offset = 0 };
	assert_int_equal(guest_mem_import(&m, &past, 1, why, sizeof(why)), -1);
	assert_int_equal(m.nregions, 0);
	struct guest_mem_share overlap[2] = {
		{ .gpa = 0x10000, .size = 0x10000, .fd = fd, .fd_offset = 0 },
		{ .gpa = 0x18000, .size = 0x10000, .fd = fd, .fd_offset = 0x10000 },
	};
	assert_int_equal(guest_mem_import(&m, overlap, 2, why, sizeof(why)), -1);
	assert_int_equal(m.nregions, 0);
	struct guest_mem_share empty = { .gpa = 0, .size = 0, .fd = fd, .fd_offset = 0 };
	assert_int_equal(guest_mem_import(&m, &empty, 1, why, sizeof(why)), -1);
	munmap(theirs, 0x30000);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_table_sorted_and_region0_mirrored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inside, setup, teardown),
		cmocka_unit_test(test_import_any_layout),
		cmocka_unit_test_setup_teardown(test_edges, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crossing_hole, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crossing_adjacent_regions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrap_around, setup, teardown),
		cmocka_unit_test_setup_teardown(test_len_zero, setup, teardown),
		cmocka_unit_test_setup_teardown(test_add_rejects_bad_regions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_memfd_is_shared, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fresh_memory_is_zero, setup, teardown),
		cmocka_unit_test(test_hugepages_fail_cleanly_without_reserve),
		cmocka_unit_test(test_init_rejects_bad_arguments),
		cmocka_unit_test(test_free_zeroed_keeps_fd0),
		cmocka_unit_test(test_register_one_slot_per_region),
		cmocka_unit_test(test_deferred_slot),
		cmocka_unit_test_setup_teardown(test_private_low_pages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_private_region, setup, teardown),
		cmocka_unit_test(test_layout_private),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
