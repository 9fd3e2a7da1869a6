/*
 * --config-file (config_file.h): reads the document, then hands each
 * top-level section to the same function its endpoint uses, so a file and
 * a sequence of API calls are checked alike.
 */
#include "config_file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define CONFIG_FILE_MAX (1u << 20)

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		log_error("--config-file '%s': %s", path, strerror(errno));
		return NULL;
	}
	char *buf = malloc(CONFIG_FILE_MAX + 1);
	size_t n = buf ? fread(buf, 1, CONFIG_FILE_MAX + 1, f) : 0;
	bool bad = ferror(f);
	fclose(f);
	if (!buf || bad || n > CONFIG_FILE_MAX) {
		log_error("--config-file '%s': %s", path, !buf ? "out of memory" : bad ? "read error" : "larger than 1 MiB");
		free(buf);
		return NULL;
	}
	*len = n;
	return buf;
}

int config_file_load(struct fc_api *api, const char *path)
{
	char err[FC_ERR_MAX];
	size_t len;
	int ret = -1;
	char *text = read_file(path, &len);
	if (!text)
		return -1;
	json_object *doc = fc_parse_json(text, len, err);
	free(text);
	if (!doc) {
		log_error("--config-file '%s': %s", path, err);
		return -1;
	}
	if (!json_object_is_type(doc, json_type_object)) {
		log_error("--config-file '%s': the document must be a JSON object", path);
		goto out;
	}
	json_object_object_foreach(doc, key, val) {
		int r;
		if (!val)
			continue; /* null: the section is absent */
		if (strcmp(key, "boot-source") == 0) {
			r = fc_set_boot_source(api, val, err);
		} else if (strcmp(key, "machine-config") == 0) {
			r = fc_set_machine_config(api, val, false, err);
		} else if (strcmp(key, "entropy") == 0) {
			r = fc_set_entropy(api, val, err);
		} else if (strcmp(key, "logger") == 0) {
			r = fc_set_logger(api, val, err);
		} else if (strcmp(key, "metrics") == 0) {
			r = fc_set_metrics(api, val, err);
		} else if (strcmp(key, "drives") == 0) {
			r = 0;
			if (!json_object_is_type(val, json_type_array)) {
				snprintf(err, sizeof(err), "drives: must be an array of drive objects");
				r = -1;
			}
			for (size_t i = 0; r == 0 && i < json_object_array_length(val); i++)
				r = fc_set_drive(api, NULL, json_object_array_get_idx(val, i), err);
		} else {
			log_error("--config-file '%s': unknown top-level key '%s' (pvmm takes boot-source, drives, "
				  "machine-config, entropy, logger, metrics)", path, key);
			goto out;
		}
		if (r) {
			log_error("--config-file '%s': %s", path, err);
			goto out;
		}
	}
	if (!api->cfg.have_boot) {
		log_error("--config-file '%s': no \"boot-source\" with a kernel_image_path (a pvmm guest ELF)", path);
		goto out;
	}
	ret = 0;
out:
	json_object_put(doc);
	return ret;
}
