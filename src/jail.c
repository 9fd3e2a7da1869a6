/*
 * The jail (jail.h): unshare(2), chroot(2), setgroups/setgid/setuid.
 */
#include "jail.h"

#include <errno.h>
#include <grp.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

int jail_unshare(const struct jail_options *j)
{
	if (!j->unshare)
		return 0;
	if (unshare(CLONE_NEWNS | CLONE_NEWNET) < 0) {
		log_error("--unshare: the host refuses new mount and network namespaces: %s%s", strerror(errno),
			  errno == EPERM ? " (it needs CAP_SYS_ADMIN)" : "");
		return -1;
	}
	return 0;
}

int jail_enter(const struct jail_options *j)
{
	if (j->chroot_dir && (chroot(j->chroot_dir) < 0 || chdir("/") < 0)) {
		log_error("--chroot '%s': %s%s", j->chroot_dir, strerror(errno),
			  errno == EPERM ? " (it needs CAP_SYS_CHROOT)" : "");
		return -1;
	}
	/* Groups first: setuid gives up the right to change them. */
	if ((j->drop_gid || j->drop_uid) && setgroups(0, NULL) < 0) {
		log_error("--uid/--gid: cannot clear the supplementary groups: %s (changing user needs root or "
			  "CAP_SETUID/CAP_SETGID)", strerror(errno));
		return -1;
	}
	if (j->drop_gid && setgid(j->gid) < 0) {
		log_error("--gid %u: %s (not permitted to change group; run as root or without --gid)",
			  (unsigned)j->gid, strerror(errno));
		return -1;
	}
	if (j->drop_uid && setuid(j->uid) < 0) {
		log_error("--uid %u: %s (not permitted to change user; run as root or without --uid)",
			  (unsigned)j->uid, strerror(errno));
		return -1;
	}
	/* Checked, not assumed: a setuid that left a saved root behind. */
	if (j->drop_uid && j->uid != 0 && (setuid(0) == 0 || geteuid() != j->uid)) {
		log_error("--uid %u: the user did not change for good", (unsigned)j->uid);
		return -1;
	}
	return 0;
}
