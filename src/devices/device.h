/*
 * One kind of device a VM can have. Each device file declares its type;
 * start-up (src/machine.c) turns the command line into a list of requested
 * devices, checks each argument with the type's parser before KVM is
 * touched, learns from the types whether the VM needs an irqchip and an
 * I/O thread, then creates each device and puts it on its transport.
 *
 * A virtio device type gets only a struct device_env: guest memory, the
 * I/O loop and the console. It never sees the VM or a transport.
 */
#ifndef PVMM_DEVICES_DEVICE_H
#define PVMM_DEVICES_DEVICE_H

#include <stdbool.h>

#include "console_out.h"
#include "virtio/virtio.h"

struct vm;

struct device_env {
	struct virtio_ctx virtio;   /* guest memory and the I/O loop */
	int in_fd;                  /* console input (-1: none) */
	struct console_sink out;    /* console output: an fd that gives up when the VM stops */
	int resize_fd;              /* readable when the console's terminal changed size (-1: never) */
};

enum device_kind {
	DEVICE_VIRTIO,  /* create_virtio(); start-up attaches it to a virtio transport */
	DEVICE_ISA,     /* an emulated device on the port bus and ISA pins: attach_isa() */
};

struct device_type {
	const char *name;       /* "virtio-blk", as messages and --stats name it */
	enum device_kind kind;
	unsigned max_count;     /* most of this type per VM; 0: only the transport limits it */
	bool interrupts;        /* the VM needs the in-kernel irqchip for it */

	/* Check the argument the command line gave (NULL for a plain flag):
	 * 0, or -1 after one line saying what is wrong. Optional. */
	int (*parse)(const char *arg);
	struct virtio_dev *(*create_virtio)(const struct device_env *env, const char *arg);
	int (*attach_isa)(struct vm *vm, const struct device_env *env, const char *arg);
};

extern const struct device_type virtio_blk_type, virtio_console_type, virtio_rng_type, virtio_net_type;
extern const struct device_type uart16550_type, ide_type, ne2000_type;

/* One --disk value, for any disk model. Two forms:
 *   PATH[,readonly]                           (the path may not hold a comma)
 *   path=FILE[,readonly=on|off][,id=NAME]     (keys in any order; a comma
 *                                              inside a value is written ",,")
 * The key=value form is taken when the value starts with "path=",
 * "readonly=" or "id=". `id` is the serial number the guest reads. */
#define DISK_ID_MAX 20
struct disk_spec {
	char *path;             /* malloc'd */
	bool readonly;
	char *id;               /* malloc'd, or NULL */
};

/* Parse `arg` into `spec` (device_free_disk() frees it); -1 after a
 * message. */
int device_parse_disk(const char *arg, struct disk_spec *spec);
void device_free_disk(struct disk_spec *spec);
/* The same as a device type's parse(): checks only. */
int device_check_disk(const char *arg);

#endif
