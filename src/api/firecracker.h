/*
 * The Firecracker-compatible endpoints (docs/api.md): each request's JSON
 * body checked field by field into a `struct fc_config`, the instance
 * state, and the answers. No sockets and no VM here: what an endpoint asks
 * of the VM goes through `struct fc_ops`, so the fuzz target can drive
 * every endpoint without KVM.
 */
#ifndef PVMM_API_FIRECRACKER_H
#define PVMM_API_FIRECRACKER_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "launch.h"

#define FC_ERR_MAX 512
#define FC_MAX_DRIVES 8   /* virtio devices a VM may have in all */

struct fc_drive {
	char *id;
	char *path;
	bool read_only, root;
	char *arg;             /* "PATH[,readonly]" for machine_request, built at start */
};

/* What PUT/PATCH requests (or a config file) have set so far. */
struct fc_config {
	bool have_boot;
	char *kernel;          /* kernel_image_path: a pvmm guest ELF */
	char *boot_args;       /* split on blanks into argv[1..] */
	unsigned vcpus, mem_mib;
	bool hugepages;        /* huge_pages "2M" */
	struct fc_drive drives[FC_MAX_DRIVES]; /* the root device first */
	unsigned drive_count;
	bool entropy;
	char *log_path, *log_level;
	char *metrics_path;
	/* Built by fc_build_options(), kept for the VM's life. */
	char **argv;
	const char *disk_args[MACHINE_MAX_DEVICES];
};

enum fc_state { FC_NOT_STARTED, FC_RUNNING, FC_PAUSED };

/* What an endpoint asks of the VM and the process. Each returns 0, or -1
 * with a message for the client in err[FC_ERR_MAX]. */
struct fc_ops {
	int (*start)(void *opaque, const struct vm_options *opt, char *err);
	int (*pause)(void *opaque, char *err);
	int (*resume)(void *opaque, char *err);
	int (*stop)(void *opaque, char *err);          /* SendCtrlAltDel */
	int (*flush_metrics)(void *opaque, char *err);
	int (*set_logger)(void *opaque, const char *path, const char *level, char *err);
	int (*set_metrics)(void *opaque, const char *path, char *err);
	/* PUT /snapshot/create on the paused VM; PUT /snapshot/load before
	 * InstanceStart: start the VM from the snapshot, paused unless
	 * `resume`. mem_path NULL: the default (snapshot.h). */
	int (*snapshot_create)(void *opaque, const char *state_path, const char *mem_path, char *err);
	int (*snapshot_load)(void *opaque, const char *state_path, const char *mem_path, bool resume, char *err);
};

struct fc_api {
	struct fc_config cfg;
	enum fc_state state;
	struct vm_options base;  /* the command line's options, under the API's */
	const struct fc_ops *ops;
	void *opaque;
};

struct fc_response {
	int status;              /* 200, 204, 400, 404, 405 */
	char *body;              /* malloc'd JSON, or NULL (204) */
	size_t len;
};

/* `base` is copied; the machine-config defaults come from it. */
void fc_api_init(struct fc_api *api, const struct vm_options *base, const struct fc_ops *ops, void *opaque);
void fc_api_free(struct fc_api *api);

/* Serve one request. resp->body is the caller's to free. */
void fc_handle(struct fc_api *api, const char *method, size_t method_len, const char *path, size_t path_len,
	       const char *body, size_t body_len, struct fc_response *resp);

/* The sections a body or a config file sets (the config file's keys):
 * each checks every field, then applies; 0, or -1 with err. `drive_id` is
 * the {id} of PUT /drives/{id}, NULL from a config file. */
int fc_set_boot_source(struct fc_api *api, json_object *obj, char *err);
int fc_set_drive(struct fc_api *api, const char *drive_id, json_object *obj, char *err);
int fc_set_machine_config(struct fc_api *api, json_object *obj, bool patch, char *err);
int fc_set_entropy(struct fc_api *api, json_object *obj, char *err);
int fc_set_logger(struct fc_api *api, json_object *obj, char *err);
int fc_set_metrics(struct fc_api *api, json_object *obj, char *err);

/* The vm_options the configuration describes (strings owned by api->cfg).
 * 0, or -1 with err (no boot source). */
int fc_build_options(struct fc_api *api, struct vm_options *opt, char *err);

/* Parse a whole JSON text (strict; nothing but blanks after it). NULL with
 * err if it is not JSON. */
json_object *fc_parse_json(const char *text, size_t len, char *err);

#endif
