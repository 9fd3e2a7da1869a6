/* Random bytes of any length: the RANDOM call takes at most
 * PVMM_RANDOM_MAX bytes, so go in chunks. */
#include <pvmm/guest.h>

int pvmm_getrandom(void *buf, size_t len)
{
	unsigned char *p = buf;
	while (len) {
		size_t chunk = len < PVMM_RANDOM_MAX ? len : PVMM_RANDOM_MAX;
		int64_t ret = pvmm_random(p, chunk);
		if (ret < 0)
			return (int)ret;
		p += chunk;
		len -= chunk;
	}
	return 0;
}
