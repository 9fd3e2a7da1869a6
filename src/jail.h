/*
 * The jail around a running VM (docs/security.md): new namespaces
 * (--unshare), a root of its own (--chroot DIR) and an unprivileged user
 * (--uid, --gid), entered once every file pvmm needs is open.
 */
#ifndef PVMM_JAIL_H
#define PVMM_JAIL_H

#include <stdbool.h>
#include <sys/types.h>

struct jail_options {
	bool drop_uid, drop_gid;
	uid_t uid;             /* --uid */
	gid_t gid;             /* --gid */
	const char *chroot_dir; /* --chroot DIR */
	bool unshare;          /* --unshare: new mount and network namespaces */
};

/* --unshare: while the process has one thread (the kernel refuses a new
 * mount namespace to a thread sharing its filesystem context). 0, or -1
 * after a one-line message. */
int jail_unshare(const struct jail_options *j);

/* --chroot, then --gid/--uid: after everything is open, before the guest
 * runs. 0, or -1 after a one-line message. */
int jail_enter(const struct jail_options *j);

#endif
