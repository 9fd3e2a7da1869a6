/*
 * virtio-rng: run with `--rng`. Two 32-byte reads must not be all zero
 * and must differ; a read larger than one request (100000 bytes) must
 * come back full. Prints "vrng ok" and exits 0, or "vrng FAIL: ..." and 1.
 */
#include <stdio.h>
#include <string.h>
#include <pvmm/guest.h>
#include <pvmm/rng.h>

static int all_zero(const unsigned char *p, size_t n)
{
	static const unsigned char zero[64];
	return n <= sizeof(zero) && !memcmp(p, zero, n);
}

int main(void)
{
	unsigned char a[32], b[32];
	printf("vrng present=%d\n", rng_present());
	int64_t ra = rng_read(a, sizeof(a));
	int64_t rb = rng_read(b, sizeof(b));
	printf("read1=%lld read2=%lld first=%02x%02x%02x%02x%02x%02x%02x%02x\n", (long long)ra, (long long)rb,
	       a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]);
	if (ra != (int64_t)sizeof(a) || rb != (int64_t)sizeof(b)) {
		printf("vrng FAIL: short read (%s)\n", virtio_strerror((int)(ra < 0 ? ra : rb)));
		return 1;
	}
	if (all_zero(a, sizeof(a)) || all_zero(b, sizeof(b))) {
		printf("vrng FAIL: all zero\n");
		return 1;
	}
	if (!memcmp(a, b, sizeof(a))) {
		printf("vrng FAIL: two reads are equal\n");
		return 1;
	}
	size_t big_len = 100000;
	unsigned char *big = page_alloc((big_len + PVMM_PAGE_SIZE - 1) / PVMM_PAGE_SIZE);
	memset(big + big_len - 64, 0, 64);
	int64_t rc = rng_read(big, big_len);
	printf("big=%lld\n", (long long)rc);
	if (rc != (int64_t)big_len || all_zero(big + big_len - 64, 64)) {
		printf("vrng FAIL: big read\n");
		return 1;
	}
	printf("vrng ok\n");
	return 0;
}
