/*
 * The Firecracker-compatible endpoints (firecracker.h, docs/api.md).
 * Bodies follow Firecracker's schema; fields pvmm does not implement are
 * refused by name rather than ignored, so a client never believes it got
 * something it did not.
 */
#include "firecracker.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "layout.h"
#include "vm.h"

#define APP_NAME "pvmm"
#define INSTANCE_ID "anonymous-instance"

static int fail(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(char *err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, FC_ERR_MAX, fmt, ap);
	va_end(ap);
	return -1;
}

/* ---- checking a body against its fields ---------------------------------- */

enum field_kind { F_STRING, F_INT, F_BOOL, F_UNSUPPORTED };

struct field {
	const char *name;
	enum field_kind kind;
	bool required;
};

static const char *kind_name(enum field_kind k)
{
	return k == F_STRING ? "a string" : k == F_INT ? "an integer" : "a boolean";
}

/* `obj` is an object whose every key is one of `fields`, of its kind (null
 * counts as absent), with every required one present. */
static int check_fields(json_object *obj, const char *what, const struct field *fields, char *err)
{
	if (!obj || !json_object_is_type(obj, json_type_object))
		return fail(err, "%s: the body must be a JSON object", what);
	json_object_object_foreach(obj, key, val) {
		const struct field *f = fields;
		while (f->name && strcmp(f->name, key))
			f++;
		if (!f->name)
			return fail(err, "%s: unknown field '%s'", what, key);
		if (!val)
			continue;
		if (f->kind == F_UNSUPPORTED)
			return fail(err, "%s: '%s' is not supported by pvmm", what, key);
		bool ok = f->kind == F_STRING ? json_object_is_type(val, json_type_string)
			: f->kind == F_INT   ? json_object_is_type(val, json_type_int)
					     : json_object_is_type(val, json_type_boolean);
		if (!ok)
			return fail(err, "%s: '%s' must be %s", what, key, kind_name(f->kind));
		if (f->kind == F_STRING &&
		    strlen(json_object_get_string(val)) != (size_t)json_object_get_string_len(val))
			return fail(err, "%s: '%s' holds a NUL character", what, key);
	}
	for (const struct field *f = fields; f->name; f++) {
		json_object *present;
		if (f->required && (!json_object_object_get_ex(obj, f->name, &present) || !present))
			return fail(err, "%s: missing required field '%s'", what, f->name);
	}
	return 0;
}

/* The field's value, or NULL if absent or null. */
static json_object *field(json_object *obj, const char *name)
{
	json_object *val = NULL;
	json_object_object_get_ex(obj, name, &val);
	return val;
}

static const char *field_str(json_object *obj, const char *name)
{
	json_object *v = field(obj, name);
	return v ? json_object_get_string(v) : NULL;
}

static void set_str(char **slot, const char *value)
{
	free(*slot);
	*slot = value ? strdup(value) : NULL;
}

/* A host file the VM will open: it must open now (as Firecracker checks). */
static int check_file(const char *what, const char *field_name, const char *path, bool write, char *err)
{
	if (!*path)
		return fail(err, "%s: '%s' is empty", what, field_name);
	int fd = open(path, (write ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NONBLOCK); /* a FIFO must not block the API */
	if (fd < 0)
		return fail(err, "%s: cannot open %s '%s': %s", what, field_name, path, strerror(errno));
	close(fd);
	return 0;
}

json_object *fc_parse_json(const char *text, size_t len, char *err)
{
	if (len == 0) {
		fail(err, "the request needs a JSON body");
		return NULL;
	}
	if (len > INT32_MAX) {
		fail(err, "body too large");
		return NULL;
	}
	json_tokener *tok = json_tokener_new();
	if (!tok) {
		fail(err, "out of memory");
		return NULL;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	json_object *obj = json_tokener_parse_ex(tok, text, (int)len);
	enum json_tokener_error e = json_tokener_get_error(tok);
	size_t used = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (e != json_tokener_success) {
		json_object_put(obj);
		fail(err, "the body is not valid JSON: %s",
		     e == json_tokener_continue ? "it ends too early" : json_tokener_error_desc(e));
		return NULL;
	}
	for (size_t i = used; i < len; i++)
		if (!strchr(" \t\r\n", text[i])) {
			json_object_put(obj);
			fail(err, "the body is not valid JSON: text after the value at byte %zu", i);
			return NULL;
		}
	return obj;
}

/* ---- the sections -------------------------------------------------------- */

static bool started(const struct fc_api *api, const char *what, char *err)
{
	if (api->state == FC_NOT_STARTED)
		return false;
	fail(err, "%s cannot be changed after InstanceStart: the VM is already running", what);
	return true;
}

int fc_set_boot_source(struct fc_api *api, json_object *obj, char *err)
{
	static const struct field fields[] = {
		{ "kernel_image_path", F_STRING, true },
		{ "boot_args", F_STRING, false },
		{ "initrd_path", F_STRING, false },
		{ 0 },
	};
	if (started(api, "boot-source", err) || check_fields(obj, "boot-source", fields, err))
		return -1;
	if (field(obj, "initrd_path"))
		return fail(err, "boot-source: 'initrd_path' is not supported: pvmm boots a pvmm guest ELF, not a "
				 "Linux kernel, and has no initrd");
	const char *kernel = field_str(obj, "kernel_image_path");
	if (check_file("boot-source", "kernel_image_path", kernel, false, err))
		return -1;
	set_str(&api->cfg.kernel, kernel);
	set_str(&api->cfg.boot_args, field_str(obj, "boot_args"));
	api->cfg.have_boot = true;
	return 0;
}

static bool valid_drive_id(const char *id)
{
	if (!*id || strlen(id) > 64)
		return false;
	for (const char *p = id; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_'))
			return false;
	return true;
}

int fc_set_drive(struct fc_api *api, const char *drive_id, json_object *obj, char *err)
{
	static const struct field fields[] = {
		{ "drive_id", F_STRING, true },
		{ "path_on_host", F_STRING, true },
		{ "is_root_device", F_BOOL, true },
		{ "is_read_only", F_BOOL, false },
		{ "partuuid", F_UNSUPPORTED, false },
		{ "cache_type", F_UNSUPPORTED, false },
		{ "io_engine", F_UNSUPPORTED, false },
		{ "rate_limiter", F_UNSUPPORTED, false },
		{ "socket", F_UNSUPPORTED, false },
		{ 0 },
	};
	struct fc_config *c = &api->cfg;

	if (started(api, "drives", err) || check_fields(obj, "drives", fields, err))
		return -1;
	const char *id = field_str(obj, "drive_id");
	if (drive_id && strcmp(id, drive_id))
		return fail(err, "drives: drive_id '%s' in the body differs from '%s' in the path", id, drive_id);
	if (!valid_drive_id(id))
		return fail(err, "drives: drive_id '%s' must be 1 to 64 letters, digits or '_'", id);
	const char *path = field_str(obj, "path_on_host");
	bool ro = field(obj, "is_read_only") && json_object_get_boolean(field(obj, "is_read_only"));
	bool root = json_object_get_boolean(field(obj, "is_root_device"));
	if (strchr(path, ','))
		return fail(err, "drives: path_on_host '%s' holds a ',', which pvmm's disk option cannot carry", path);
	if (check_file("drives", "path_on_host", path, !ro, err))
		return -1;
	unsigned slot = 0;
	while (slot < c->drive_count && strcmp(c->drives[slot].id, id))
		slot++;
	for (unsigned i = 0; i < c->drive_count; i++)
		if (i != slot && root && c->drives[i].root)
			return fail(err, "drives: '%s' is the root device already; a VM has one", c->drives[i].id);
	if (slot == c->drive_count) {
		if (c->drive_count >= FC_MAX_DRIVES)
			return fail(err, "drives: at most %u drives", FC_MAX_DRIVES);
		c->drive_count++;
		c->drives[slot] = (struct fc_drive){ .id = strdup(id) };
	}
	set_str(&c->drives[slot].path, path);
	c->drives[slot].read_only = ro;
	c->drives[slot].root = root;
	/* The root device comes first, as in Firecracker. */
	if (root && slot) {
		struct fc_drive d = c->drives[slot];
		memmove(&c->drives[1], &c->drives[0], slot * sizeof(d));
		c->drives[0] = d;
	}
	return 0;
}

int fc_set_machine_config(struct fc_api *api, json_object *obj, bool patch, char *err)
{
	static const struct field put_fields[] = {
		{ "vcpu_count", F_INT, true },
		{ "mem_size_mib", F_INT, true },
		{ "smt", F_BOOL, false },
		{ "track_dirty_pages", F_BOOL, false },
		{ "huge_pages", F_STRING, false },
		{ "cpu_template", F_UNSUPPORTED, false },
		{ 0 },
	};
	static const struct field patch_fields[] = {
		{ "vcpu_count", F_INT, false },
		{ "mem_size_mib", F_INT, false },
		{ "smt", F_BOOL, false },
		{ "track_dirty_pages", F_BOOL, false },
		{ "huge_pages", F_STRING, false },
		{ "cpu_template", F_UNSUPPORTED, false },
		{ 0 },
	};
	if (started(api, "machine-config", err) ||
	    check_fields(obj, "machine-config", patch ? patch_fields : put_fields, err))
		return -1;
	unsigned vcpus = api->cfg.vcpus, mem = api->cfg.mem_mib;
	bool huge = api->cfg.hugepages;
	if (field(obj, "vcpu_count")) {
		int64_t n = json_object_get_int64(field(obj, "vcpu_count"));
		if (n < 1 || n > VM_MAX_CPUS)
			return fail(err, "machine-config: vcpu_count %lld is out of range: use 1 to %u", (long long)n,
				    VM_MAX_CPUS);
		vcpus = (unsigned)n;
	}
	if (field(obj, "mem_size_mib")) {
		int64_t n = json_object_get_int64(field(obj, "mem_size_mib"));
		if (n < (int64_t)(MEM_MIN >> 20) || n > (int64_t)(MEM_MAX >> 20) || n % 2)
			return fail(err, "machine-config: mem_size_mib %lld: use an even number from %llu to %llu", (long long)n,
				    (unsigned long long)(MEM_MIN >> 20), (unsigned long long)(MEM_MAX >> 20));
		mem = (unsigned)n;
	}
	if (field(obj, "smt") && json_object_get_boolean(field(obj, "smt")))
		return fail(err, "machine-config: smt true is not supported: pvmm's vCPUs have no SMT siblings");
	if (field(obj, "track_dirty_pages") && json_object_get_boolean(field(obj, "track_dirty_pages")))
		return fail(err, "machine-config: track_dirty_pages true is not supported (pvmm has no snapshots)");
	const char *hp = field_str(obj, "huge_pages");
	if (hp) {
		if (strcmp(hp, "None") && strcmp(hp, "2M"))
			return fail(err, "machine-config: huge_pages '%s': use \"None\" or \"2M\"", hp);
		huge = strcmp(hp, "2M") == 0;
	}
	api->cfg.vcpus = vcpus;
	api->cfg.mem_mib = mem;
	api->cfg.hugepages = huge;
	return 0;
}

int fc_set_entropy(struct fc_api *api, json_object *obj, char *err)
{
	static const struct field fields[] = {
		{ "rate_limiter", F_UNSUPPORTED, false },
		{ 0 },
	};
	if (started(api, "entropy", err) || check_fields(obj, "entropy", fields, err))
		return -1;
	api->cfg.entropy = true;
	return 0;
}

int fc_set_logger(struct fc_api *api, json_object *obj, char *err)
{
	static const struct field fields[] = {
		{ "log_path", F_STRING, false },
		{ "level", F_STRING, false },
		{ "show_level", F_BOOL, false },
		{ "show_log_origin", F_BOOL, false },
		{ "module", F_UNSUPPORTED, false },
		{ 0 },
	};
	static const char *const levels[] = { "Off", "Error", "Warning", "Info", "Debug", "Trace", NULL };

	if (started(api, "logger", err) || check_fields(obj, "logger", fields, err))
		return -1;
	const char *level = field_str(obj, "level");
	if (level) {
		unsigned i = 0;
		while (levels[i] && strcasecmp(levels[i], level))
			i++;
		if (!levels[i])
			return fail(err, "logger: level '%s': use Off, Error, Warning, Info, Debug or Trace", level);
		level = levels[i];
	}
	const char *path = field_str(obj, "log_path");
	if (api->ops && api->ops->set_logger && api->ops->set_logger(api->opaque, path, level, err))
		return -1;
	set_str(&api->cfg.log_path, path);
	set_str(&api->cfg.log_level, level);
	return 0;
}

int fc_set_metrics(struct fc_api *api, json_object *obj, char *err)
{
	static const struct field fields[] = {
		{ "metrics_path", F_STRING, true },
		{ 0 },
	};
	if (started(api, "metrics", err) || check_fields(obj, "metrics", fields, err))
		return -1;
	const char *path = field_str(obj, "metrics_path");
	if (!*path)
		return fail(err, "metrics: 'metrics_path' is empty");
	if (api->ops && api->ops->set_metrics && api->ops->set_metrics(api->opaque, path, err))
		return -1;
	set_str(&api->cfg.metrics_path, path);
	return 0;
}

/* ---- starting ------------------------------------------------------------- */

static void free_argv(struct fc_config *c)
{
	for (char **a = c->argv; a && *a; a++)
		free(*a);
	free(c->argv);
	c->argv = NULL;
	for (unsigned i = 0; i < c->drive_count; i++) {
		free(c->drives[i].arg);
		c->drives[i].arg = NULL;
	}
}

int fc_build_options(struct fc_api *api, struct vm_options *opt, char *err)
{
	struct fc_config *c = &api->cfg;

	if (!c->have_boot && !api->base.image)
		return fail(err, "InstanceStart needs a boot source first: PUT /boot-source with kernel_image_path (a "
				 "pvmm guest ELF)");
	*opt = api->base;
	opt->mem_size = (uint64_t)c->mem_mib << 20;
	opt->cpus = c->vcpus;
	if (c->hugepages)
		opt->mem_flags |= GUEST_MEM_HUGEPAGES;
	opt->rng = opt->rng || c->entropy;
	if (opt->disk_count + c->drive_count > MACHINE_MAX_DEVICES)
		return fail(err, "too many drives");
	free_argv(c);
	for (unsigned i = 0; i < c->drive_count; i++) {
		struct fc_drive *d = &c->drives[i];
		if (asprintf(&d->arg, "%s%s", d->path, d->read_only ? ",readonly" : "") < 0) {
			d->arg = NULL;
			return fail(err, "out of memory");
		}
		opt->disks[opt->disk_count++] = d->arg;
	}
	opt->read_counters = opt->read_counters || c->metrics_path;
	if (!c->have_boot) /* `pvmm run --api-sock PATH GUEST.elf args`: the command line's */
		goto devices;
	/* argv[0] is the image, then boot_args split on blanks. */
	size_t n = 1;
	const char *args = c->boot_args ? c->boot_args : "";
	for (const char *p = args; *p;) {
		p += strspn(p, " \t\n");
		if (*p)
			n++;
		p += strcspn(p, " \t\n");
	}
	c->argv = calloc(n + 1, sizeof(char *));
	if (!c->argv)
		return fail(err, "out of memory");
	c->argv[0] = strdup(c->kernel);
	size_t i = 1;
	for (const char *p = args; *p;) {
		p += strspn(p, " \t\n");
		size_t len = strcspn(p, " \t\n");
		if (len)
			c->argv[i++] = strndup(p, len);
		p += len;
	}
	for (size_t k = 0; k < n; k++)
		if (!c->argv[k])
			return fail(err, "out of memory");
	opt->image = c->argv[0];
	opt->guest_argc = (int)n;
	opt->guest_argv = c->argv;
devices:
	opt->devices = (struct machine_devices){ 0 };
	if (vm_options_request_devices(opt))
		return fail(err, "the devices cannot be set up (the monitor's log says why)");
	return 0;
}

/* ---- answers --------------------------------------------------------------- */

static void respond_json(struct fc_response *resp, int status, json_object *obj)
{
	const char *text = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	resp->status = status;
	resp->body = strdup(text ? text : "{}");
	resp->len = resp->body ? strlen(resp->body) : 0;
	json_object_put(obj);
}

static void respond_fault(struct fc_response *resp, int status, const char *msg)
{
	json_object *obj = json_object_new_object();
	json_object_object_add(obj, "fault_message", json_object_new_string(msg));
	respond_json(resp, status, obj);
}

static void respond_ok(struct fc_response *resp)
{
	resp->status = 204;
	resp->body = NULL;
	resp->len = 0;
}

static const char *state_name(enum fc_state s)
{
	return s == FC_RUNNING ? "Running" : s == FC_PAUSED ? "Paused" : "Not started";
}

static json_object *str_or_null(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

static json_object *machine_config_json(const struct fc_config *c)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "vcpu_count", json_object_new_int((int)c->vcpus));
	json_object_object_add(o, "mem_size_mib", json_object_new_int((int)c->mem_mib));
	json_object_object_add(o, "smt", json_object_new_boolean(0));
	json_object_object_add(o, "track_dirty_pages", json_object_new_boolean(0));
	json_object_object_add(o, "huge_pages", json_object_new_string(c->hugepages ? "2M" : "None"));
	return o;
}

static json_object *vm_config_json(const struct fc_config *c, const struct vm_options *base)
{
	json_object *o = json_object_new_object();
	json_object *boot = NULL;
	if (c->have_boot || base->image) {
		boot = json_object_new_object();
		json_object_object_add(boot, "kernel_image_path",
				       json_object_new_string(c->have_boot ? c->kernel : base->image));
		json_object_object_add(boot, "boot_args", c->have_boot ? str_or_null(c->boot_args) : NULL);
		json_object_object_add(boot, "initrd_path", NULL);
	}
	json_object_object_add(o, "boot-source", boot);
	json_object *drives = json_object_new_array();
	for (unsigned i = 0; i < c->drive_count; i++) {
		json_object *d = json_object_new_object();
		json_object_object_add(d, "drive_id", json_object_new_string(c->drives[i].id));
		json_object_object_add(d, "path_on_host", json_object_new_string(c->drives[i].path));
		json_object_object_add(d, "is_root_device", json_object_new_boolean(c->drives[i].root));
		json_object_object_add(d, "is_read_only", json_object_new_boolean(c->drives[i].read_only));
		json_object_array_add(drives, d);
	}
	json_object_object_add(o, "drives", drives);
	json_object_object_add(o, "machine-config", machine_config_json(c));
	json_object_object_add(o, "entropy", c->entropy ? json_object_new_object() : NULL);
	json_object *logger = NULL;
	if (c->log_path || c->log_level) {
		logger = json_object_new_object();
		json_object_object_add(logger, "log_path", str_or_null(c->log_path));
		json_object_object_add(logger, "level", str_or_null(c->log_level));
	}
	json_object_object_add(o, "logger", logger);
	json_object *metrics = NULL;
	if (c->metrics_path) {
		metrics = json_object_new_object();
		json_object_object_add(metrics, "metrics_path", json_object_new_string(c->metrics_path));
	}
	json_object_object_add(o, "metrics", metrics);
	return o;
}

static void do_action(struct fc_api *api, json_object *obj, struct fc_response *resp, char *err)
{
	static const struct field fields[] = {
		{ "action_type", F_STRING, true },
		{ 0 },
	};
	if (check_fields(obj, "actions", fields, err))
		goto bad;
	const char *type = field_str(obj, "action_type");
	if (strcmp(type, "InstanceStart") == 0) {
		struct vm_options opt;
		if (api->state != FC_NOT_STARTED) {
			fail(err, "InstanceStart: the VM is already running");
			goto bad;
		}
		if (fc_build_options(api, &opt, err) || !api->ops || !api->ops->start ||
		    api->ops->start(api->opaque, &opt, err))
			goto bad;
		api->state = FC_RUNNING;
	} else if (strcmp(type, "SendCtrlAltDel") == 0) {
		if (api->state == FC_NOT_STARTED) {
			fail(err, "SendCtrlAltDel: the VM is not running");
			goto bad;
		}
		if (!api->ops || !api->ops->stop || api->ops->stop(api->opaque, err))
			goto bad;
	} else if (strcmp(type, "FlushMetrics") == 0) {
		if (!api->cfg.metrics_path) {
			fail(err, "FlushMetrics: no metrics file; PUT /metrics with metrics_path first");
			goto bad;
		}
		if (!api->ops || !api->ops->flush_metrics || api->ops->flush_metrics(api->opaque, err))
			goto bad;
	} else {
		fail(err, "actions: unknown action_type '%s': use InstanceStart, SendCtrlAltDel or FlushMetrics", type);
		goto bad;
	}
	respond_ok(resp);
	return;
bad:
	respond_fault(resp, 400, err);
}

static void patch_vm(struct fc_api *api, json_object *obj, struct fc_response *resp, char *err)
{
	static const struct field fields[] = {
		{ "state", F_STRING, true },
		{ 0 },
	};
	if (check_fields(obj, "vm", fields, err))
		goto bad;
	const char *state = field_str(obj, "state");
	bool pause = strcmp(state, "Paused") == 0;
	if (!pause && strcmp(state, "Resumed") != 0) {
		fail(err, "vm: state '%s': use \"Paused\" or \"Resumed\"", state);
		goto bad;
	}
	if (api->state == FC_NOT_STARTED) {
		fail(err, "vm: the VM is not running (InstanceStart first)");
		goto bad;
	}
	if (pause ? api->ops->pause(api->opaque, err) : api->ops->resume(api->opaque, err))
		goto bad;
	api->state = pause ? FC_PAUSED : FC_RUNNING;
	respond_ok(resp);
	return;
bad:
	respond_fault(resp, 400, err);
}

/* PUT /snapshot/create: Firecracker's body; only full snapshots. */
static void snapshot_create(struct fc_api *api, json_object *obj, struct fc_response *resp, char *err)
{
	static const struct field fields[] = {
		{ "snapshot_path", F_STRING, true },
		{ "mem_file_path", F_STRING, true },
		{ "snapshot_type", F_STRING, false },
		{ "version", F_STRING, false },
		{ 0 },
	};
	if (check_fields(obj, "snapshot/create", fields, err))
		goto bad;
	const char *type = field_str(obj, "snapshot_type");
	if (type && strcmp(type, "Full") != 0) {
		fail(err, "snapshot/create: snapshot_type '%s': only \"Full\" snapshots are supported", type);
		goto bad;
	}
	if (api->state != FC_PAUSED) {
		fail(err, "snapshot/create: the VM must be paused first (PATCH /vm {\"state\": \"Paused\"}); it is %s",
		     state_name(api->state));
		goto bad;
	}
	if (!api->ops || !api->ops->snapshot_create) {
		fail(err, "snapshot/create: not available here");
		goto bad;
	}
	if (api->ops->snapshot_create(api->opaque, field_str(obj, "snapshot_path"), field_str(obj, "mem_file_path"), err))
		goto bad;
	respond_ok(resp);
	return;
bad:
	respond_fault(resp, 400, err);
}

/* PUT /snapshot/load: before InstanceStart, a VM from a snapshot. */
static void snapshot_load(struct fc_api *api, json_object *obj, struct fc_response *resp, char *err)
{
	static const struct field fields[] = {
		{ "snapshot_path", F_STRING, true },
		{ "mem_file_path", F_STRING, false },
		{ "resume_vm", F_BOOL, false },
		{ "enable_diff_snapshots", F_BOOL, false },
		{ 0 },
	};
	if (check_fields(obj, "snapshot/load", fields, err))
		goto bad;
	if (api->state != FC_NOT_STARTED) {
		fail(err, "snapshot/load: the VM is already running; load a snapshot into a fresh pvmm");
		goto bad;
	}
	json_object *diff = field(obj, "enable_diff_snapshots");
	if (diff && json_object_get_boolean(diff)) {
		fail(err, "snapshot/load: enable_diff_snapshots is not supported");
		goto bad;
	}
	json_object *resume = field(obj, "resume_vm");
	bool run = resume && json_object_get_boolean(resume);
	if (!api->ops || !api->ops->snapshot_load) {
		fail(err, "snapshot/load: not available here");
		goto bad;
	}
	if (api->ops->snapshot_load(api->opaque, field_str(obj, "snapshot_path"), field_str(obj, "mem_file_path"), run,
				    err))
		goto bad;
	api->state = run ? FC_RUNNING : FC_PAUSED;
	respond_ok(resp);
	return;
bad:
	respond_fault(resp, 400, err);
}

/* The endpoints: path, the methods it takes (a bit each). */
enum { M_GET = 1, M_PUT = 2, M_PATCH = 4 };

struct route {
	const char *path;
	bool prefix;            /* "/drives/" + id */
	unsigned methods;
};

static const struct route routes[] = {
	{ "/", false, M_GET },
	{ "/version", false, M_GET },
	{ "/machine-config", false, M_GET | M_PUT | M_PATCH },
	{ "/boot-source", false, M_PUT },
	{ "/drives/", true, M_PUT },
	{ "/entropy", false, M_PUT },
	{ "/actions", false, M_PUT },
	{ "/vm", false, M_PATCH },
	{ "/vm/config", false, M_GET },
	{ "/logger", false, M_PUT },
	{ "/metrics", false, M_PUT },
	{ "/snapshot/create", false, M_PUT },
	{ "/snapshot/load", false, M_PUT },
	{ NULL, false, 0 },
};

static unsigned method_bit(const char *m, size_t len)
{
	if (len == 3 && !memcmp(m, "GET", 3))
		return M_GET;
	if (len == 3 && !memcmp(m, "PUT", 3))
		return M_PUT;
	if (len == 5 && !memcmp(m, "PATCH", 5))
		return M_PATCH;
	return 0;
}

static bool path_is(const char *p, size_t len, const char *want)
{
	return strlen(want) == len && memcmp(p, want, len) == 0;
}

void fc_handle(struct fc_api *api, const char *method, size_t method_len, const char *path, size_t path_len,
	       const char *body, size_t body_len, struct fc_response *resp)
{
	char err[FC_ERR_MAX];
	char shown[80];
	const struct route *r = routes;

	/* A trailing '/' names the same resource (but "/" stays "/"). */
	if (path_len > 1 && path[path_len - 1] == '/')
		path_len--;
	snprintf(shown, sizeof(shown), "%.*s", (int)(path_len < 64 ? path_len : 64), path);
	for (; r->path; r++) {
		size_t n = strlen(r->path);
		if (r->prefix ? (path_len > n && memcmp(path, r->path, n) == 0 && !memchr(path + n, '/', path_len - n))
			      : path_is(path, path_len, r->path))
			break;
	}
	if (!r->path) {
		snprintf(err, sizeof(err), "no such resource: %s", shown);
		respond_fault(resp, 404, err);
		return;
	}
	unsigned m = method_bit(method, method_len);
	if (!(m & r->methods)) {
		snprintf(err, sizeof(err), "method %.*s is not allowed on %s (allowed: %s%s%s)",
			 (int)(method_len < 16 ? method_len : 16), method, shown, r->methods & M_GET ? "GET " : "",
			 r->methods & M_PUT ? "PUT " : "", r->methods & M_PATCH ? "PATCH" : "");
		respond_fault(resp, 405, err);
		return;
	}

	if (m == M_GET) {
		json_object *o;
		if (path_is(path, path_len, "/")) {
			o = json_object_new_object();
			json_object_object_add(o, "id", json_object_new_string(INSTANCE_ID));
			json_object_object_add(o, "state", json_object_new_string(state_name(api->state)));
			json_object_object_add(o, "vmm_version", json_object_new_string(PVMM_VERSION_STRING));
			json_object_object_add(o, "app_name", json_object_new_string(APP_NAME));
		} else if (path_is(path, path_len, "/version")) {
			o = json_object_new_object();
			json_object_object_add(o, "firecracker_version", json_object_new_string(PVMM_VERSION_STRING));
		} else if (path_is(path, path_len, "/machine-config")) {
			o = machine_config_json(&api->cfg);
		} else {
			o = vm_config_json(&api->cfg, &api->base);
		}
		respond_json(resp, 200, o);
		return;
	}

	json_object *obj = fc_parse_json(body, body_len, err);
	if (!obj) {
		respond_fault(resp, 400, err);
		return;
	}
	int ret = 0;
	if (path_is(path, path_len, "/actions")) {
		do_action(api, obj, resp, err);
		json_object_put(obj);
		return;
	} else if (path_is(path, path_len, "/vm")) {
		patch_vm(api, obj, resp, err);
		json_object_put(obj);
		return;
	} else if (path_is(path, path_len, "/snapshot/create")) {
		snapshot_create(api, obj, resp, err);
		json_object_put(obj);
		return;
	} else if (path_is(path, path_len, "/snapshot/load")) {
		snapshot_load(api, obj, resp, err);
		json_object_put(obj);
		return;
	} else if (path_is(path, path_len, "/machine-config")) {
		ret = fc_set_machine_config(api, obj, m == M_PATCH, err);
	} else if (path_is(path, path_len, "/boot-source")) {
		ret = fc_set_boot_source(api, obj, err);
	} else if (path_is(path, path_len, "/entropy")) {
		ret = fc_set_entropy(api, obj, err);
	} else if (path_is(path, path_len, "/logger")) {
		ret = fc_set_logger(api, obj, err);
	} else if (path_is(path, path_len, "/metrics")) {
		ret = fc_set_metrics(api, obj, err);
	} else {
		char id[80];
		size_t n = path_len - strlen("/drives/");
		snprintf(id, sizeof(id), "%.*s", (int)(n < 70 ? n : 70), path + strlen("/drives/"));
		ret = n >= 70 ? fail(err, "drives: the drive id in the path is too long") : fc_set_drive(api, id, obj, err);
	}
	json_object_put(obj);
	if (ret)
		respond_fault(resp, 400, err);
	else
		respond_ok(resp);
}

void fc_api_init(struct fc_api *api, const struct vm_options *base, const struct fc_ops *ops, void *opaque)
{
	*api = (struct fc_api){ .base = *base, .ops = ops, .opaque = opaque };
	api->cfg.vcpus = base->cpus;
	api->cfg.mem_mib = (unsigned)(base->mem_size >> 20);
	api->cfg.hugepages = base->mem_flags & GUEST_MEM_HUGEPAGES;
}

void fc_api_free(struct fc_api *api)
{
	struct fc_config *c = &api->cfg;
	free_argv(c);
	free(c->kernel);
	free(c->boot_args);
	for (unsigned i = 0; i < c->drive_count; i++) {
		free(c->drives[i].id);
		free(c->drives[i].path);
	}
	free(c->log_path);
	free(c->log_level);
	free(c->metrics_path);
	*c = (struct fc_config){ 0 };
}
