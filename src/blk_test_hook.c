/*
 * TEST ONLY: the backend's trace and volatile cache; see blk_test_hook.h.
 * Nothing here runs unless a test asks for it.
 */
#include "blk_test_hook.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SECTOR 512u

/* ---- trace ---------------------------------------------------------------- */

struct blk_trace *blk_trace_log;
static unsigned trace_cap, trace_count;

void blk_trace_start(struct blk_trace *log, unsigned cap)
{
	__atomic_store_n(&blk_trace_log, NULL, __ATOMIC_RELEASE);
	trace_cap = cap;
	__atomic_store_n(&trace_count, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&blk_trace_log, log, __ATOMIC_RELEASE);
}

unsigned blk_trace_stop(void)
{
	__atomic_store_n(&blk_trace_log, NULL, __ATOMIC_RELEASE);
	return __atomic_load_n(&trace_count, __ATOMIC_RELAXED);
}

/* Engines may issue from two threads (the synchronous fallback): a slot
 * each, by atomic increment. */
void blk_trace_record(enum blk_trace_op op, uint64_t offset, uint64_t len)
{
	struct blk_trace *log = __atomic_load_n(&blk_trace_log, __ATOMIC_ACQUIRE);
	unsigned i = __atomic_fetch_add(&trace_count, 1, __ATOMIC_RELAXED);
	if (log && i < trace_cap)
		log[i] = (struct blk_trace){ op, offset, len };
}

/* ---- volatile cache ------------------------------------------------------- */

struct blk_vcache {
	pthread_mutex_t mu;     /* both engine threads may run operations */
	uint64_t sectors;
	uint8_t **sec;          /* [sector]: unflushed contents, or NULL */
	uint64_t dirty;         /* non-NULL entries */
};

bool blk_vcache_wanted(void)
{
	const char *env = getenv("PVMM_BLK_TEST_CRASH_LOSES_UNFLUSHED");
	return env && *env && strcmp(env, "0") != 0;
}

struct blk_vcache *blk_vcache_new(uint64_t size)
{
	struct blk_vcache *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->sectors = size / SECTOR;
	c->sec = calloc(c->sectors, sizeof(*c->sec));
	if (!c->sec) {
		free(c);
		return NULL;
	}
	pthread_mutex_init(&c->mu, NULL);
	return c;
}

static void drop(struct blk_vcache *c, uint64_t s)
{
	if (c->sec[s]) {
		free(c->sec[s]);
		c->sec[s] = NULL;
		c->dirty--;
	}
}

void blk_vcache_free(struct blk_vcache *c)
{
	if (!c)
		return;
	for (uint64_t s = 0; c->dirty && s < c->sectors; s++)
		drop(c, s);
	free(c->sec);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

/* Copy `len` bytes between buf and the iovecs, starting `skip` bytes in. */
static void iov_copy(const struct iovec *iov, unsigned n, uint64_t skip, uint8_t *buf, uint64_t len,
		     bool to_iov)
{
	for (unsigned i = 0; i < n && len; i++) {
		if (skip >= iov[i].iov_len) {
			skip -= iov[i].iov_len;
			continue;
		}
		uint64_t take = iov[i].iov_len - skip < len ? iov[i].iov_len - skip : len;
		uint8_t *p = (uint8_t *)iov[i].iov_base + skip;
		if (to_iov)
			memcpy(p, buf, take);
		else
			memcpy(buf, p, take);
		buf += take;
		len -= take;
		skip = 0;
	}
}

static bool aligned(const struct blk_vcache *c, uint64_t off, uint64_t len)
{
	return off % SECTOR == 0 && len % SECTOR == 0 && off / SECTOR <= c->sectors &&
	       len / SECTOR <= c->sectors - off / SECTOR;
}

static void forget_locked(struct blk_vcache *c, uint64_t off, uint64_t len)
{
	uint64_t end = (off + len + SECTOR - 1) / SECTOR;
	for (uint64_t s = off / SECTOR; c->dirty && s < end && s < c->sectors; s++)
		drop(c, s);
}

void blk_vcache_forget(struct blk_vcache *c, uint64_t off, uint64_t len)
{
	pthread_mutex_lock(&c->mu);
	forget_locked(c, off, len);
	pthread_mutex_unlock(&c->mu);
}

ssize_t blk_vcache_read(struct blk_vcache *c, int fd, const struct iovec *iov, unsigned n, uint64_t off)
{
	if (off % SECTOR) {
		errno = EINVAL; /* a cached sector would be half patched in */
		return -1;
	}
	pthread_mutex_lock(&c->mu);
	ssize_t res = preadv(fd, iov, (int)n, (off_t)off);
	int err = errno;
	/* The file is the stable media; what is cached is newer. */
	for (uint64_t done = 0; res > 0 && c->dirty && done + SECTOR <= (uint64_t)res; done += SECTOR) {
		uint64_t s = (off + done) / SECTOR;
		if (s < c->sectors && c->sec[s])
			iov_copy(iov, n, done, c->sec[s], SECTOR, true);
	}
	pthread_mutex_unlock(&c->mu);
	errno = err;
	return res;
}

ssize_t blk_vcache_write(struct blk_vcache *c, int fd, const struct iovec *iov, unsigned n, uint64_t off,
			 uint64_t len, int rwf_flags)
{
	ssize_t res = (ssize_t)len;

	if (!aligned(c, off, len)) {
		errno = EINVAL;
		return -1;
	}
	pthread_mutex_lock(&c->mu);
	if (rwf_flags & RWF_DSYNC) {
		/* Write-through: on the media now, so the cache's copy is stale. */
		res = pwritev2(fd, iov, (int)n, (off_t)off, rwf_flags);
		if (res > 0)
			forget_locked(c, off, (uint64_t)res);
	} else {
		for (uint64_t done = 0; done < len; done += SECTOR) {
			uint64_t s = (off + done) / SECTOR;
			if (!c->sec[s]) {
				c->sec[s] = malloc(SECTOR);
				if (!c->sec[s]) {
					pthread_mutex_unlock(&c->mu);
					errno = ENOMEM;
					return -1;
				}
				c->dirty++;
			}
			iov_copy(iov, n, done, c->sec[s], SECTOR, false);
		}
	}
	int err = errno;
	pthread_mutex_unlock(&c->mu);
	errno = err;
	return res;
}

/* Write everything cached to the file, then make it stable. A sector
 * leaves the cache only once written, so a failed flush loses nothing. */
int blk_vcache_flush(struct blk_vcache *c, int fd)
{
	int ret = 0;
	pthread_mutex_lock(&c->mu);
	for (uint64_t s = 0; c->dirty && s < c->sectors; s++) {
		if (!c->sec[s])
			continue;
		ssize_t w = pwrite(fd, c->sec[s], SECTOR, (off_t)(s * SECTOR));
		if (w != (ssize_t)SECTOR) {
			if (w >= 0)
				errno = EIO; /* short write: the sector stays cached */
			ret = -1;
			break;
		}
		drop(c, s);
	}
	if (ret == 0)
		ret = fdatasync(fd);
	int err = errno;
	pthread_mutex_unlock(&c->mu);
	errno = err;
	return ret;
}
