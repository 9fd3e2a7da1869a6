/* lwIP's platform header for pvmm guests: x86-64, little endian, the
 * runtime's freestanding libc (guest/include). */
#ifndef PVMM_LWIP_ARCH_CC_H
#define PVMM_LWIP_ARCH_CC_H

#include <stdio.h>
#include <stdlib.h>

/* The runtime has no sockets of lwIP's kind, hence no struct timeval. */
#define LWIP_TIMEVAL_PRIVATE 0
/* errno values come from the runtime's <errno.h> (lwIP only needs them in
 * its sockets layer, which pvmm does not build). */
#define LWIP_ERRNO_STDINCLUDE 1

#define LWIP_RAND() ((u32_t)pvmm_lwip_rand())
unsigned int pvmm_lwip_rand(void);

/* An assertion in lwIP is a bug in the stack or in its use: stop the VM
 * with the message rather than run on with broken state. */
#define LWIP_PLATFORM_DIAG(x) do { printf x; } while (0)
#define LWIP_PLATFORM_ASSERT(x) do { \
		printf("lwIP assertion \"%s\" failed at %s:%d\n", x, __FILE__, __LINE__); \
		abort(); \
	} while (0)

#endif /* PVMM_LWIP_ARCH_CC_H */
