/* errno (<errno.h>): one for the VM; the runtime is not thread-safe. */
#include <errno.h>

int errno;
