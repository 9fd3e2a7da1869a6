/*
 * The null back end (--net null): a wire to nowhere. Every frame sent is
 * taken and dropped, nothing ever arrives (no fd to watch). It needs no
 * privileges and costs the host nothing, so what a workload over it
 * measures is the NIC model's own cost: `pvmm bench compare` sends its
 * frames here.
 */
#include <stdlib.h>
#include <string.h>
#include <errno.h>

#include "log.h"
#include "net/backend.h"

static ssize_t null_send(struct net_backend *b, const struct iovec *iov, int iovcnt)
{
	(void)b;
	ssize_t n = 0;
	for (int i = 0; i < iovcnt; i++)
		n += (ssize_t)iov[i].iov_len;
	return n;
}

static ssize_t null_recv(struct net_backend *b, void *buf, size_t cap)
{
	(void)b;
	(void)buf;
	(void)cap;
	return -EAGAIN;
}

static void null_close(struct net_backend *b)
{
	free(b);
}

static const struct net_backend_ops null_ops = { "null", null_send, null_recv, null_close };

struct net_backend *net_null_open(const struct net_spec *spec)
{
	(void)spec;
	struct net_backend *b = calloc(1, sizeof(*b));
	if (!b) {
		log_error("out of memory opening the null network back end");
		return NULL;
	}
	b->ops = &null_ops;
	b->fd = -1;
	strcpy(b->name, "null");
	return b;
}
