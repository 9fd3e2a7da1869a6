/*
 * The control plane (docs/api.md): `--api-sock` and `--config-file`. Ties
 * the API socket (server.c), the endpoints (firecracker.c) and the config
 * file (config_file.c) to the one start path, vm_launch().
 */
#ifndef PVMM_API_API_H
#define PVMM_API_API_H

#include "launch.h"

/* Run a VM under the control plane and return the process exit status.
 * `base`: the command line's options (with an image, the VM starts at
 * once, as it does with `config_path`); `sock_path`: serve the API there
 * (NULL: none). Without either an image or a config file the VM starts on
 * the API's InstanceStart. */
int api_main(const struct vm_options *base, const char *sock_path, const char *config_path);

#endif
