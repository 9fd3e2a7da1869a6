#include "devices/device.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"

void device_free_disk(struct disk_spec *spec)
{
	free(spec->path);
	free(spec->id);
	*spec = (struct disk_spec){ 0 };
}

/* The legacy form: PATH or PATH,readonly. */
static int parse_plain(const char *arg, struct disk_spec *spec)
{
	char *copy = strdup(arg);
	if (!copy) {
		log_error("out of memory");
		return -1;
	}
	char *comma = strrchr(copy, ',');
	if (comma) {
		*comma = '\0';
		if (strcmp(comma + 1, "readonly") != 0) {
			log_error("--disk '%s': unknown disk option '%s'; the only one is 'readonly' "
				  "(or write --disk path=FILE,readonly=on|off,id=NAME)", arg, comma + 1);
			free(copy);
			return -1;
		}
		spec->readonly = true;
	}
	spec->path = copy;
	return 0;
}

/* One value of the key=value form, from `*p` up to a single comma (",,"
 * stands for a comma in the value); `*p` moves past it. */
static char *take_value(const char **p)
{
	const char *s = *p;
	char *out = malloc(strlen(s) + 1), *o = out;
	if (!out)
		return NULL;
	for (; *s; s++) {
		if (*s == ',') {
			if (s[1] != ',')
				break;
			s++;
		}
		*o++ = *s;
	}
	*o = '\0';
	*p = *s == ',' ? s + 1 : s;
	return out;
}

static int parse_keys(const char *arg, struct disk_spec *spec)
{
	const char *p = arg;
	bool seen_ro = false;

	while (*p) {
		const char *eq = strchr(p, '=');
		size_t klen = eq ? (size_t)(eq - p) : strlen(p);
		char key[16];
		if (!eq || klen == 0 || klen >= sizeof(key) || memchr(p, ',', klen)) {
			log_error("--disk '%s': expected key=value at '%s' (keys: path, readonly, id)", arg, p);
			return -1;
		}
		memcpy(key, p, klen);
		key[klen] = '\0';
		p = eq + 1;
		char *value = take_value(&p);
		if (!value) {
			log_error("out of memory");
			return -1;
		}
		char **slot = NULL;
		if (strcmp(key, "path") == 0) {
			slot = &spec->path;
		} else if (strcmp(key, "id") == 0) {
			slot = &spec->id;
		} else if (strcmp(key, "readonly") == 0) {
			bool on = strcmp(value, "on") == 0, off = strcmp(value, "off") == 0;
			if ((!on && !off) || seen_ro) {
				log_error("--disk '%s': %s", arg, seen_ro ? "readonly given twice" : "readonly takes on or off");
				free(value);
				return -1;
			}
			seen_ro = true;
			spec->readonly = on;
			free(value);
			continue;
		} else {
			log_error("--disk '%s': unknown key '%s'; the keys are path, readonly and id", arg, key);
			free(value);
			return -1;
		}
		if (*slot) {
			log_error("--disk '%s': %s given twice", arg, key);
			free(value);
			return -1;
		}
		*slot = value;
	}
	if (!spec->path) {
		log_error("--disk '%s' names no image file: add path=FILE", arg);
		return -1;
	}
	if (spec->id) {
		size_t n = strlen(spec->id);
		bool printable = n > 0;
		for (size_t i = 0; i < n; i++)
			printable &= spec->id[i] > 0x20 && spec->id[i] < 0x7f;
		if (!printable || n > DISK_ID_MAX) {
			log_error("--disk '%s': id '%s' must be 1 to %u printable characters without spaces", arg,
				  spec->id, DISK_ID_MAX);
			return -1;
		}
	}
	return 0;
}

int device_parse_disk(const char *arg, struct disk_spec *spec)
{
	*spec = (struct disk_spec){ 0 };
	bool keyed = strncmp(arg, "path=", 5) == 0 || strncmp(arg, "readonly=", 9) == 0 || strncmp(arg, "id=", 3) == 0;
	if (keyed ? parse_keys(arg, spec) : parse_plain(arg, spec)) {
		device_free_disk(spec);
		return -1;
	}
	if (!*spec->path) {
		log_error("--disk '%s' names no image file", arg);
		device_free_disk(spec);
		return -1;
	}
	return 0;
}

int device_check_disk(const char *arg)
{
	struct disk_spec spec;
	if (device_parse_disk(arg, &spec))
		return -1;
	device_free_disk(&spec);
	return 0;
}
