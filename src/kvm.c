#include "kvm.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "irq.h"
#include "log.h"

/* The name of group `gid` from /etc/group (no NSS: the monitor is
 * linked statically); false if it has none there. */
static bool group_name(gid_t gid, char *name, size_t size)
{
	char line[1024];
	bool found = false;
	FILE *f = fopen("/etc/group", "re");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		char *first = strchr(line, ':');
		char *second = first ? strchr(first + 1, ':') : NULL;
		if (!second)
			continue;
		char *end;
		unsigned long g = strtoul(second + 1, &end, 10);
		if (end != second + 1 && *end == ':' && g == gid && first - line > 0 && (size_t)(first - line) < size) {
			memcpy(name, line, (size_t)(first - line));
			name[first - line] = '\0';
			found = true;
		}
	}
	fclose(f);
	return found;
}

/* No permission to open the device: say what would give it, from the
 * node's real owner, group and mode. A group that may read and write it
 * (and is not root's): join that group. Otherwise, no group helps until
 * the node is changed: run as root, or give it to a kvm group (a udev
 * rule keeps that across reboots). */
static void explain_permission(const char *path)
{
	struct stat st;
	char group[64];

	if (stat(path, &st) < 0) {
		log_error("no permission to open %s (%s); run pvmm as root", path, strerror(errno));
		return;
	}
	bool named = group_name(st.st_gid, group, sizeof(group));
	unsigned mode = st.st_mode & 0777;
	if (named && st.st_gid != 0 && (mode & 060) == 060) {
		log_error("no permission to open %s (mode %03o, group %s): add your user to group %s "
			  "(sudo usermod -aG %s $USER, then log in again) or run as root", path, mode, group, group,
			  group);
		return;
	}
	log_error("no permission to open %s (mode %03o, owner uid %u, group %s%s): no group may use it; run "
		  "pvmm as root, or let a kvm group in: sudo groupadd -f kvm && sudo chgrp kvm %s && "
		  "sudo chmod 660 %s && sudo usermod -aG kvm $USER, then log in again (to keep it after a reboot, a "
		  "udev rule: KERNEL==\"kvm\", GROUP=\"kvm\", MODE=\"0660\")", path, mode, (unsigned)st.st_uid,
		  named ? group : "", named ? "" : "(none)", path, path);
}

static int open_kvm(const char *path)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd >= 0)
		return fd;
	switch (errno) {
	case ENOENT:
		log_error("%s does not exist: this host has no KVM; load the module "
			  "(modprobe kvm_intel or kvm_amd) and enable virtualization in the firmware", path);
		break;
	case EACCES:
	case EPERM:
		explain_permission(path);
		break;
	default:
		log_error("cannot open %s: %s", path, strerror(errno));
	}
	return -1;
}

int kvm_create(struct vm *vm)
{
	const char *path = getenv("PVMM_KVM_DEVICE");
	if (!path || !*path)
		path = KVM_DEVICE_DEFAULT;

	vm->kvm_fd = open_kvm(path);
	if (vm->kvm_fd < 0)
		return -1;
	int api = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);
	if (api != KVM_API_VERSION) {
		log_error("%s speaks KVM API %d, pvmm needs %d: is it really a KVM device?", path, api,
			  KVM_API_VERSION);
		return -1;
	}
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0) {
		log_error("KVM_CREATE_VM failed: %s", strerror(errno));
		return -1;
	}
	if (guest_mem_register(&vm->mem, vm->vm_fd))
		return -1;
	/* The irqchip must exist before the vCPU, whose local APIC it makes.
	 * Without devices that interrupt, skip it: it costs start-up time. */
	if (vm->irq.wanted && irq_create_chip(vm))
		return -1;
	int run_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (run_size <= 0) {
		log_error("KVM_GET_VCPU_MMAP_SIZE failed: %s", strerror(errno));
		return -1;
	}
	vm->run_size = (size_t)run_size;
	if (vm->cpu_count == 0)
		vm->cpu_count = 1;
	vm->vcpus = calloc(vm->cpu_count, sizeof(*vm->vcpus));
	if (!vm->vcpus) {
		log_error("out of memory for %u vCPUs", vm->cpu_count);
		return -1;
	}
	for (unsigned i = 0; i < vm->cpu_count; i++) {
		vm->vcpus[i] = (struct vcpu){ .vm = vm, .index = i, .fd = -1,
					      .state = i == 0 ? VCPU_RUNNING : VCPU_WAITING };
		vm->stats.vcpu[i] = &vm->vcpus[i].stats;
	}
	vm->stats.vcpu_count = vm->cpu_count;
	for (unsigned i = 0; i < vm->cpu_count; i++) {
		struct vcpu *v = &vm->vcpus[i];
		/* vCPU id i is also its APIC ID, which irq_route() targets. */
		v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)i);
		if (v->fd < 0) {
			log_error("KVM_CREATE_VCPU for CPU %u failed: %s", i, strerror(errno));
			return -1;
		}
		v->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
		if (v->run == MAP_FAILED) {
			v->run = NULL;
			log_error("cannot map CPU %u's run area: %s", i, strerror(errno));
			return -1;
		}
	}
	vm->vcpu_fd = vm->vcpus[0].fd;
	/* No KVM_SET_CPUID2: para-API guests learn their machine from the boot
	 * info, and KVM_GET_SUPPORTED_CPUID alone costs ~0.9 ms per start
	 * (measured by make bench), a third of a raw VM's whole life. */
	return 0;
}

void kvm_destroy(struct vm *vm)
{
	for (unsigned i = 0; vm->vcpus && i < vm->cpu_count; i++) {
		if (vm->vcpus[i].run)
			munmap(vm->vcpus[i].run, vm->run_size);
		if (vm->vcpus[i].fd >= 0)
			close(vm->vcpus[i].fd);
	}
	free(vm->vcpus);
	vm->vcpus = NULL;
	vm->stats.vcpu_count = 0;
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	vm->vcpu_fd = vm->vm_fd = vm->kvm_fd = -1;
}

/* A KVM statistic pvmm reads, and where its value goes. */
struct kvm_stat_name {
	const char *name;
	size_t offset; /* of a uint64_t in the counters struct */
};

#define VCPU_STAT(field) { #field, offsetof(struct kvm_counters, field) }
static const struct kvm_stat_name vcpu_stat_names[] = {
	VCPU_STAT(exits),     VCPU_STAT(halt_exits), VCPU_STAT(irq_injections), VCPU_STAT(pf_taken),
	VCPU_STAT(pf_emulate), VCPU_STAT(pf_guest),  VCPU_STAT(tlb_flush),      VCPU_STAT(invlpg),
	VCPU_STAT(insn_emulation),
};
#define VM_STAT(field) { #field, offsetof(struct kvm_vm_counters, field) }
static const struct kvm_stat_name vm_stat_names[] = {
	VM_STAT(mmu_pte_write),
	VM_STAT(mmu_shadow_zapped),
	VM_STAT(mmu_flooded),
	VM_STAT(remote_tlb_flush),
};

/* Read the named single-value statistics of a KVM object (VM or vCPU
 * fd) into `counters`; true if any was found. A kernel without binary
 * statistics (before 5.14), or without one of the names, leaves those 0. */
static bool read_kvm_stats(int object_fd, const struct kvm_stat_name *names, size_t count, void *counters)
{
	struct kvm_stats_header header;
	bool found = false;
	int fd = ioctl(object_fd, KVM_GET_STATS_FD, NULL);

	if (fd < 0)
		return false;
	if (pread(fd, &header, sizeof(header), 0) != sizeof(header) || header.num_desc > 4096 ||
	    header.name_size == 0 || header.name_size > 256) {
		close(fd);
		return false;
	}
	size_t desc_size = sizeof(struct kvm_stats_desc) + header.name_size;
	uint8_t *descs = malloc(desc_size * header.num_desc);
	if (descs && pread(fd, descs, desc_size * header.num_desc, header.desc_offset) ==
			     (ssize_t)(desc_size * header.num_desc)) {
		for (uint32_t i = 0; i < header.num_desc; i++) {
			const struct kvm_stats_desc *d = (const void *)(descs + i * desc_size);
			uint64_t value;
			if (d->size != 1)
				continue;
			for (size_t n = 0; n < count; n++) {
				if (strncmp(d->name, names[n].name, header.name_size) != 0)
					continue;
				if (pread(fd, &value, sizeof(value), header.data_offset + d->offset) == sizeof(value)) {
					memcpy((uint8_t *)counters + names[n].offset, &value, sizeof(value));
					found = true;
				}
				break;
			}
		}
	}
	free(descs);
	close(fd);
	return found;
}

void kvm_read_counters(struct vm *vm)
{
	for (unsigned i = 0; vm->vcpus && i < vm->cpu_count; i++) {
		struct kvm_counters *k = &vm->vcpus[i].stats.kvm;
		if (read_kvm_stats(vm->vcpus[i].fd, vcpu_stat_names,
				   sizeof(vcpu_stat_names) / sizeof(vcpu_stat_names[0]), k))
			k->valid = true;
	}
	if (vm->vm_fd >= 0 &&
	    read_kvm_stats(vm->vm_fd, vm_stat_names, sizeof(vm_stat_names) / sizeof(vm_stat_names[0]), &vm->stats.kvm_vm))
		vm->stats.kvm_vm.valid = true;
	stats_sum_vcpus(&vm->stats);
}
