/* --config-file: the whole VM as one JSON document in Firecracker's format. */
#ifndef PVMM_API_CONFIG_FILE_H
#define PVMM_API_CONFIG_FILE_H

#include "firecracker.h"

/* Apply every section of the file to `api`, as the matching PUTs would.
 * 0, or -1 after one line naming the file and what is wrong. */
int config_file_load(struct fc_api *api, const char *path);

#endif
