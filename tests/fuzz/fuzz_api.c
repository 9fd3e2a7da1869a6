/*
 * Fuzz target: the API's endpoints (src/api/firecracker.c), JSON bodies
 * included, with the VM side stubbed (struct fc_ops): no KVM, no files
 * written.
 *
 * Input: requests until it ends, each: u8 method (mod 4: GET, PUT, PATCH,
 * DELETE), u8 path (mod the table below; the last entry takes its path
 * from the input), u16 body length (mod 2048), the body. Checked besides
 * memory safety: every answer has a status the API documents, a 204 has
 * no body, every other answer is one JSON object (with fault_message on
 * errors), and the state only moves as the endpoints say.
 */
#include "api/firecracker.h"
#include "fuzz_common.h"

static int stub_start(void *o, const struct vm_options *opt, char *err)
{
	(void)o;
	(void)err;
	FUZZ_CHECK(opt->image && opt->guest_argc >= 1 && opt->guest_argv[0]);
	return 0;
}

static int stub_ok(void *o, char *err)
{
	(void)o;
	(void)err;
	return 0;
}

static int stub_logger(void *o, const char *path, const char *level, char *err)
{
	(void)o;
	(void)path;
	(void)level;
	(void)err;
	return 0;
}

static int stub_metrics(void *o, const char *path, char *err)
{
	(void)o;
	(void)path;
	(void)err;
	return 0;
}

static int stub_snapshot_create(void *o, const char *state, const char *mem, char *err)
{
	(void)o;
	(void)err;
	FUZZ_CHECK(state && mem);
	return 0;
}

static int stub_snapshot_load(void *o, const char *state, const char *mem, bool resume, char *err)
{
	(void)o;
	(void)mem;
	(void)resume;
	(void)err;
	FUZZ_CHECK(state);
	return 0;
}

static const struct fc_ops stub_ops = {
	.start = stub_start,
	.pause = stub_ok,
	.resume = stub_ok,
	.stop = stub_ok,
	.flush_metrics = stub_ok,
	.set_logger = stub_logger,
	.set_metrics = stub_metrics,
	.snapshot_create = stub_snapshot_create,
	.snapshot_load = stub_snapshot_load,
};

static const char *const methods[] = { "GET", "PUT", "PATCH", "DELETE" };
static const char *const paths[] = {
	"/", "/version", "/machine-config", "/boot-source", "/drives/rootfs", "/drives/", "/entropy",
	"/actions", "/vm", "/vm/config", "/logger", "/metrics", "/snapshot/create", "/snapshot/load", "/nope", NULL,
};
#define NPATHS (sizeof(paths) / sizeof(paths[0]))

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = fuzz_in(data, size);
	struct fc_api api;
	struct vm_options base;

	vm_options_init(&base);
	fc_api_init(&api, &base, &stub_ops, NULL);
	while (fuzz_more(&in)) {
		static char body[2048], path[64];
		const char *m = methods[fuzz_u8(&in) % 4];
		unsigned p = fuzz_u8(&in) % NPATHS;
		const char *pth = paths[p];
		if (!pth) {
			size_t n = fuzz_u8(&in) % sizeof(path);
			fuzz_bytes(&in, path, n);
			pth = path;
			path[n] = '\0';
		}
		size_t len = fuzz_u16(&in) % sizeof(body);
		len = fuzz_bytes(&in, body, len);

		enum fc_state before = api.state;
		struct fc_response resp = { 0 };
		fc_handle(&api, m, strlen(m), pth, pth == path ? strlen(path) : strlen(pth), body, len, &resp);
		FUZZ_CHECK(resp.status == 200 || resp.status == 204 || resp.status == 400 || resp.status == 404 ||
			   resp.status == 405);
		if (resp.status == 204) {
			FUZZ_CHECK(!resp.body);
		} else {
			FUZZ_CHECK(resp.body && resp.len == strlen(resp.body));
			json_object *o = json_tokener_parse(resp.body);
			FUZZ_CHECK(o && json_object_is_type(o, json_type_object));
			if (resp.status >= 400)
				FUZZ_CHECK(json_object_object_get_ex(o, "fault_message", NULL));
			json_object_put(o);
		}
		if (before != FC_NOT_STARTED)
			FUZZ_CHECK(api.state != FC_NOT_STARTED);
		free(resp.body);
	}
	fc_api_free(&api);
	return 0;
}

struct seed {
	uint8_t bytes[4096];
	size_t len;
};

static void req(struct seed *s, unsigned method, unsigned path, const char *body)
{
	size_t n = strlen(body);
	s->bytes[s->len++] = (uint8_t)method;
	s->bytes[s->len++] = (uint8_t)path;
	s->bytes[s->len++] = (uint8_t)n;
	s->bytes[s->len++] = (uint8_t)(n >> 8);
	memcpy(s->bytes + s->len, body, n);
	s->len += n;
}

void fuzz_seeds(fuzz_emit_fn *emit)
{
	struct seed s = { .len = 0 };

	/* Firecracker's getting-started order; /dev/null stands in for files. */
	req(&s, 1, 10, "{\"log_path\": \"/dev/null\", \"level\": \"Debug\", \"show_level\": true}");
	req(&s, 1, 3, "{\"kernel_image_path\": \"/dev/null\", \"boot_args\": \"a b  c\"}");
	req(&s, 1, 4, "{\"drive_id\": \"rootfs\", \"path_on_host\": \"/dev/null\", \"is_root_device\": true, "
		      "\"is_read_only\": true}");
	req(&s, 1, 2, "{\"vcpu_count\": 2, \"mem_size_mib\": 64}");
	req(&s, 2, 2, "{\"smt\": false}");
	req(&s, 1, 6, "{}");
	req(&s, 1, 11, "{\"metrics_path\": \"/dev/null\"}");
	req(&s, 0, 9, "");
	req(&s, 1, 7, "{\"action_type\": \"InstanceStart\"}");
	req(&s, 2, 8, "{\"state\": \"Paused\"}");
	req(&s, 1, 7, "{\"action_type\": \"FlushMetrics\"}");
	req(&s, 2, 8, "{\"state\": \"Resumed\"}");
	req(&s, 0, 0, "");
	req(&s, 1, 7, "{\"action_type\": \"SendCtrlAltDel\"}");
	emit("getting-started", s.bytes, s.len);

	s.len = 0;
	req(&s, 1, 2, "{\"vcpu_count\": \"2\"}");
	req(&s, 1, 3, "{\"kernel_image_path\": 7}");
	req(&s, 1, 3, "{\"kernel_image_path\": \"/dev/null\", \"initrd_path\": \"/dev/null\"}");
	req(&s, 1, 7, "{\"action_type\": \"InstanceStart\"");
	req(&s, 1, 6, "{\"rate_limiter\": {}}");
	req(&s, 3, 1, "");
	req(&s, 0, 12, "");
	req(&s, 1, 4, "{\"drive_id\": \"other\", \"path_on_host\": \"/dev/null\", \"is_root_device\": false}");
	emit("errors", s.bytes, s.len);
}
