/*
 * pvmm vhost-user: the command line of the vhost-user back end.
 *
 *   pvmm vhost-user --socket PATH [--once] blk --disk IMAGE[,readonly]
 *   pvmm vhost-user --socket PATH [--once] rng
 *   pvmm vhost-user --socket PATH [--once] net --net tap=NAME|user[,...]
 *   pvmm vhost-user --socket PATH [--once] console
 *
 * The device is made by its own device type (devices/device.h), exactly as
 * `pvmm run` makes it; src/vhost_user/backend.c is its transport.
 */
#include "cmd_vhost_user.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "devices/device.h"
#include "iothread.h"
#include "log.h"
#include "status.h"
#include "syscall_filter.h"
#include "vhost_user/backend.h"

struct request {
	const struct device_type *type;
	const char *arg;
};

void vhost_user_usage(FILE *out)
{
	fprintf(out,
		"Usage: pvmm vhost-user --socket PATH [--once] [--seccomp on|off] blk --disk IMAGE[,readonly]\n"
		"       pvmm vhost-user --socket PATH [--once] [--seccomp on|off] rng\n"
		"       pvmm vhost-user --socket PATH [--once] [--seccomp on|off] net --net tap=NAME|user[,...]\n"
		"       pvmm vhost-user --socket PATH [--once] [--seccomp on|off] console\n"
		"\n"
		"Serve a pvmm virtio device to a vhost-user front end (such as QEMU's\n"
		"vhost-user-blk-pci, or -netdev vhost-user with virtio-net-pci) on the\n"
		"unix socket PATH, one front end at a time.\n"
		"\n"
		"  --socket PATH   where to listen (a stale socket there is replaced)\n"
		"  --once          exit when the first front end disconnects (default: wait for the next)\n"
		"  --disk IMAGE    blk: the raw disk image; ',readonly' refuses writes\n"
		"  --net SPEC      net: the network back end, as pvmm run's --net (tap=NAME,\n"
		"                  or user with net=, hostfwd=; mac=, mtu= are the device's)\n"
		"  console         the guest's output goes to stdout, stdin is its input; at\n"
		"                  end of stdin the driver gets end of input, output goes on\n"
		"  --seccomp off   no system-call filter (unsafe; for debugging). Default on:\n"
		"                  once listening, both threads may make only the calls\n"
		"                  serving a front end needs (docs/security.md)\n"
		"\n"
		"It runs until SIGINT or SIGTERM. See docs/vhost-user.md.\n");
}

/* The console's output sink: a write blocked on a stdout nobody reads
 * gives up when the loop is told to stop (its SIGUSR1 interrupts it). */
static bool loop_stopping(void *io)
{
	return iothread_stopping(io);
}

static struct virtio_dev *create(const struct virtio_ctx *ctx, void *arg)
{
	const struct request *r = arg;
	bool console = r->type == &virtio_console_type;
	struct device_env env = {
		.virtio = *ctx,
		.in_fd = console ? STDIN_FILENO : -1,
		.out = { .fd = console ? STDOUT_FILENO : -1, .stopped = loop_stopping, .ctx = ctx->io },
		.resize_fd = -1,
	};
	return r->type->create_virtio(&env, r->arg);
}

int vhost_user_main(int argc, char **argv)
{
	const char *socket = NULL, *disk = NULL, *net = NULL, *kind = NULL, *seccomp = "on";
	bool once = false;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			vhost_user_usage(stdout);
			return 0;
		} else if (strcmp(a, "--once") == 0) {
			once = true;
		} else if ((strcmp(a, "--socket") == 0 || strcmp(a, "--disk") == 0 || strcmp(a, "--net") == 0) &&
			   i + 1 < argc) {
			*(a[2] == 's' ? &socket : a[2] == 'd' ? &disk : &net) = argv[++i];
		} else if (strcmp(a, "--seccomp") == 0 && i + 1 < argc) {
			seccomp = argv[++i];
		} else if (strncmp(a, "--seccomp=", 10) == 0) {
			seccomp = a + 10;
		} else if (strncmp(a, "--socket=", 9) == 0) {
			socket = a + 9;
		} else if (strncmp(a, "--disk=", 7) == 0) {
			disk = a + 7;
		} else if (strncmp(a, "--net=", 6) == 0) {
			net = a + 6;
		} else if (a[0] != '-' && !kind) {
			kind = a;
		} else {
			log_error("vhost-user: unexpected argument '%s' (see pvmm vhost-user --help)", a);
			return PVMM_STATUS_USAGE;
		}
	}
	if (strcmp(seccomp, "on") != 0 && strcmp(seccomp, "off") != 0) {
		log_error("vhost-user: --seccomp takes on or off, not '%s'", seccomp);
		return PVMM_STATUS_USAGE;
	}
	sysfilter_set_enabled(strcmp(seccomp, "on") == 0);
	if (!socket || !kind) {
		log_error("vhost-user: needs --socket PATH and a device (blk, rng, net or console); see pvmm vhost-user --help");
		return PVMM_STATUS_USAGE;
	}
	struct request r = { 0 };
	if (net && strcmp(kind, "net") != 0) {
		log_error("vhost-user: --net is for the net device, not %s", kind);
		return PVMM_STATUS_USAGE;
	}
	if (strcmp(kind, "blk") == 0) {
		if (!disk) {
			log_error("vhost-user: blk needs --disk IMAGE[,readonly]");
			return PVMM_STATUS_USAGE;
		}
		if (device_check_disk(disk))
			return PVMM_STATUS_USAGE;
		r = (struct request){ &virtio_blk_type, disk };
	} else if (strcmp(kind, "rng") == 0) {
		if (disk) {
			log_error("vhost-user: rng takes no --disk");
			return PVMM_STATUS_USAGE;
		}
		r = (struct request){ &virtio_rng_type, NULL };
	} else if (strcmp(kind, "net") == 0) {
		if (disk || !net) {
			log_error("vhost-user: net needs --net tap=NAME or --net user[,...], and takes no --disk");
			return PVMM_STATUS_USAGE;
		}
		if (virtio_net_type.parse(net))
			return PVMM_STATUS_USAGE;
		r = (struct request){ &virtio_net_type, net };
	} else if (strcmp(kind, "console") == 0) {
		if (disk) {
			log_error("vhost-user: console takes no --disk (its input is stdin, its output stdout)");
			return PVMM_STATUS_USAGE;
		}
		r = (struct request){ &virtio_console_type, NULL };
	} else {
		log_error("vhost-user: unknown device '%s' (blk, rng, net or console)", kind);
		return PVMM_STATUS_USAGE;
	}
	return vu_serve(socket, once, create, &r);
}
