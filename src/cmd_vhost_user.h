/*
 * pvmm vhost-user [options] DEVICE: serve one pvmm virtio device to a
 * vhost-user front end (docs/vhost-user.md).
 */
#ifndef PVMM_CMD_VHOST_USER_H
#define PVMM_CMD_VHOST_USER_H

#include <stdio.h>

/* argv[0] is "vhost-user". Returns the process exit status. */
int vhost_user_main(int argc, char **argv);

/* Its help text (pvmm help vhost-user, pvmm vhost-user --help). */
void vhost_user_usage(FILE *out);

#endif
