/*
 * <errno.h> for pvmm guests: `errno` and the common codes, with Linux's
 * numbers so that messages and code ported from Linux read the same.
 *
 * One errno for the whole VM (the runtime is not thread-safe; see
 * <pvmm/guest.h>). What sets it: clock_gettime, clock_getres and
 * nanosleep (EINVAL). The libm functions do not (guests are built with
 * -fno-math-errno); they return NaN or infinity as IEEE 754 says.
 */
#ifndef PVMM_ERRNO_H
#define PVMM_ERRNO_H

extern int errno;

#define EPERM      1
#define ENOENT     2
#define ESRCH      3
#define EINTR      4
#define EIO        5
#define ENXIO      6
#define E2BIG      7
#define EBADF      9
#define EAGAIN     11
#define EWOULDBLOCK EAGAIN
#define ENOMEM     12
#define EACCES     13
#define EFAULT     14
#define EBUSY      16
#define EEXIST     17
#define ENODEV     19
#define ENOTDIR    20
#define EISDIR     21
#define EINVAL     22
#define ENFILE     23
#define EMFILE     24
#define EFBIG      27
#define ENOSPC     28
#define ESPIPE     29
#define EROFS      30
#define EPIPE      32
#define EDOM       33
#define ERANGE     34
#define ENAMETOOLONG 36
#define ENOSYS     38
#define ENOTEMPTY  39
#define EOVERFLOW  75
#define ENOTSUP    95
#define EOPNOTSUPP ENOTSUP
#define ETIMEDOUT  110
/* Sockets (<pvmm/socket.h>); Linux's numbers, like the rest. */
#define ENOTSOCK   88
#define EMSGSIZE   90
#define EPROTONOSUPPORT 93
#define EADDRINUSE 98
#define EADDRNOTAVAIL 99
#define ENETDOWN   100
#define ENETUNREACH 101
#define ECONNABORTED 103
#define ECONNRESET 104
#define ENOBUFS    105
#define EISCONN    106
#define ENOTCONN   107
#define ECONNREFUSED 111
#define EHOSTUNREACH 113
#define EALREADY   114
#define EINPROGRESS 115

#endif /* PVMM_ERRNO_H */
