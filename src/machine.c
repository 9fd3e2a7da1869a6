#include "machine.h"

#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "emulated.h"
#include "iothread.h"
#include "log.h"
#include "pci.h"
#include "virtio/mmio.h"
#include "virtio/pci.h"

int machine_request(struct machine_devices *m, const struct device_type *type, const char *arg)
{
	unsigned same = 0, virtio = 0;

	for (unsigned i = 0; i < m->count; i++) {
		same += m->req[i].type == type;
		virtio += m->req[i].type->kind == DEVICE_VIRTIO;
	}
	if (type->max_count && same >= type->max_count) {
		log_error("a VM takes at most %u %s device%s", type->max_count, type->name,
			  type->max_count == 1 ? "" : "s");
		return -1;
	}
	if (type->kind == DEVICE_VIRTIO && virtio >= VIRTIO_MMIO_MAX_DEVICES) {
		log_error("too many devices: a VM has at most %u virtio devices", VIRTIO_MMIO_MAX_DEVICES);
		return -1;
	}
	if (m->count >= MACHINE_MAX_DEVICES) {
		log_error("too many devices: a VM has at most %u", MACHINE_MAX_DEVICES);
		return -1;
	}
	if (type->parse && type->parse(arg))
		return -1;
	m->req[m->count++] = (struct device_request){ type, arg };
	return 0;
}

bool machine_needs_irqchip(const struct machine_devices *m)
{
	for (unsigned i = 0; i < m->count; i++)
		if (m->req[i].type->interrupts)
			return true;
	return false;
}

bool machine_needs_iothread(const struct machine_devices *m)
{
	return m->count > 0;
}

int machine_create(struct vm *vm, const struct machine_devices *m, int in_fd, int out_fd)
{
	if (machine_needs_iothread(m) && !vm->iothread && !(vm->iothread = iothread_create()))
		return -1;
	if (machine_needs_iothread(m) && !vm->console_resize_open) {
		vm->console_resize_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (vm->console_resize_fd < 0) {
			log_error("cannot create an eventfd: %s", strerror(errno));
			return -1;
		}
		vm->console_resize_open = true;
	}
	struct device_env env = {
		.virtio = { .mem = &vm->mem, .io = vm->iothread },
		.in_fd = in_fd,
		.out = console_sink_for_vm(vm, out_fd),
		.resize_fd = vm->console_resize_open ? vm->console_resize_fd : -1,
	};
	for (unsigned i = 0; i < m->count; i++) {
		const struct device_type *type = m->req[i].type;
		if (type->kind == DEVICE_ISA) {
			if (type->attach_isa(vm, &env, m->req[i].arg))
				return -1;
			continue;
		}
		struct virtio_dev *dev = type->create_virtio(&env, m->req[i].arg);
		if (!dev)
			return -1;
		if (m->pci ? virtio_pci_attach(vm, dev) : virtio_mmio_attach(vm, dev)) {
			virtio_destroy(dev);
			return -1;
		}
		if (vm_add_hook(vm, virtio_quiesce, NULL, dev)) {
			log_error("internal error: no room for %s's pause hook", type->name);
			return -1;
		}
	}
	return 0;
}

void machine_destroy(struct vm *vm)
{
	/* Stopped first, freed last: devices unwatch their fds as they go. */
	iothread_stop(vm->iothread, NULL);
	for (unsigned i = 0; i < vm->virtio_count; i++)
		virtio_destroy(vm->virtio[i]);
	vm->virtio_count = 0;
	pci_host_free(vm->pci);
	vm->pci = NULL;
	emulated_destroy(vm);
	iothread_destroy(vm->iothread);
	vm->iothread = NULL;
	if (vm->console_resize_open)
		close(vm->console_resize_fd);
	vm->console_resize_open = false;
}
