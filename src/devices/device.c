#include "devices/device.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"

int device_parse_disk(const char *arg, char **path, bool *readonly)
{
	char *copy = strdup(arg);
	if (!copy) {
		log_error("out of memory");
		return -1;
	}
	*readonly = false;
	char *comma = strrchr(copy, ',');
	if (comma) {
		*comma = '\0';
		if (strcmp(comma + 1, "readonly") != 0) {
			log_error("--disk '%s': unknown disk option '%s'; the only one is 'readonly'", arg, comma + 1);
			free(copy);
			return -1;
		}
		*readonly = true;
	}
	if (!*copy) {
		log_error("--disk '%s' names no image file", arg);
		free(copy);
		return -1;
	}
	*path = copy;
	return 0;
}

int device_check_disk(const char *arg)
{
	char *path;
	bool readonly;
	if (device_parse_disk(arg, &path, &readonly))
		return -1;
	free(path);
	return 0;
}
