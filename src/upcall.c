#include "upcall.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "log.h"
#include "pagetable.h"
#include "stats.h"
#include "status.h"
#include "vmctl.h"

#define RFLAGS_IF (1ull << 9)
#define RED_ZONE 128u

/* What the monitor pushes under the red zone (para.h). */
struct upcall_frame {
	uint64_t pin, cpu, rflags, rip;
};

static int set_interrupt_flag(struct vcpu *self, bool on)
{
	struct kvm_regs r;
	if (ioctl(self->fd, KVM_GET_REGS, &r) < 0)
		return -1;
	r.rflags = on ? r.rflags | RFLAGS_IF : r.rflags & ~RFLAGS_IF;
	return ioctl(self->fd, KVM_SET_REGS, &r);
}

int64_t upcall_check(struct vm *vm, uint64_t cr3, uint64_t entry, uint64_t info)
{
	if (vm->ring != 3 || (entry && (info & 15)))
		return -PVMM_EINVAL;
	/* The guest's own flag: memory it can write at CPL3, never a page
	 * of the monitor's. */
	if (entry && (!guest_mem_ptr(&vm->mem, info, sizeof(struct pvmm_upcall_info)) ||
		      !pagetable_user_writable(&vm->mem, cr3, info, sizeof(struct pvmm_upcall_info))))
		return -PVMM_EFAULT;
	return 0;
}

int64_t upcall_register(struct vm *vm, struct vcpu *self, const struct pvmm_upcall_args *a)
{
	struct kvm_sregs s = { 0 };

	if (!self)
		return -PVMM_EINVAL;
	/* The page tables are read only when the info block is checked. */
	if (a->entry && vm->ring == 3 && !(a->info & 15) && ioctl(self->fd, KVM_GET_SREGS, &s) < 0)
		return -PVMM_EIO;
	int64_t ret = upcall_check(vm, s.cr3, a->entry, a->info);
	if (ret)
		return ret;
	/* Recorded before IF goes up: an interrupt already held by the local
	 * APIC arrives as soon as the call returns. */
	__atomic_store_n(&self->upcall_info, a->entry ? a->info : 0, __ATOMIC_RELEASE);
	__atomic_store_n(&self->upcall_entry, a->entry, __ATOMIC_RELEASE);
	if (set_interrupt_flag(self, a->entry != 0) < 0) {
		log_error("upcall: cannot set CPU %u's interrupt flag: %s; stopping the VM", self->index, strerror(errno));
		vm_stop(vm, PVMM_STATUS_HOST);
	}
	return 0;
}

bool upcall_deliver(struct vm *vm, struct vcpu *self, uint64_t cr3, unsigned pin, uint64_t frame[TRAP_FRAME_SLOTS])
{
	uint64_t entry = __atomic_load_n(&self->upcall_entry, __ATOMIC_ACQUIRE);
	uint64_t info_gpa = __atomic_load_n(&self->upcall_info, __ATOMIC_ACQUIRE);
	struct pvmm_upcall_info *info = entry ? guest_mem_ptr(&vm->mem, info_gpa, sizeof(*info)) : NULL;

	/* Upcalls off (the flag drops with them, so only an interrupt that
	 * raced the call gets here), or an interrupt taken at CPL0, which
	 * only the stubs run: nothing to enter, and it stays ended. */
	if (!info || (frame[TRAP_FRAME_CS] & 3) != 3) {
		STATS_ADD(vm->stats.upcalls_dropped, 1);
		return false;
	}
	if (__atomic_load_n(&info->masked, __ATOMIC_ACQUIRE)) {
		__atomic_fetch_or(&info->pending, 1ull << pin, __ATOMIC_SEQ_CST);
		STATS_ADD(vm->stats.upcalls_held, 1);
		return false;
	}

	const struct upcall_frame uf = {
		.pin = pin, .cpu = self->index, .rflags = frame[TRAP_FRAME_RFLAGS], .rip = frame[TRAP_FRAME_RIP],
	};
	uint64_t sp = frame[TRAP_FRAME_RSP] - RED_ZONE - sizeof(uf);
	/* As the guest's own push would: user-writable at every level, or
	 * the guest has no stack to take the interrupt on. */
	if (sp > frame[TRAP_FRAME_RSP] || !pagetable_write_user(&vm->mem, cr3, sp, &uf, sizeof(uf))) {
		if (!vm_stopped(vm)) {
			char where[24] = "";
			if (vm->cpu_count > 1)
				snprintf(where, sizeof(where), " on CPU %u", self->index);
			log_error("guest fault%s: cannot deliver an interrupt (pin %u): the stack under rsp %#llx "
				  "is not writable user memory", where, pin, (unsigned long long)frame[TRAP_FRAME_RSP]);
			vm_stop(vm, PVMM_STATUS_FAULT);
		}
		return false;
	}
	__atomic_store_n(&info->masked, 1, __ATOMIC_RELEASE);
	frame[TRAP_FRAME_RIP] = entry;
	frame[TRAP_FRAME_RSP] = sp;
	frame[TRAP_FRAME_RFLAGS] |= RFLAGS_IF;
	STATS_ADD(vm->stats.upcalls, 1);
	return true;
}
