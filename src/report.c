#include "report.h"

#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "log.h"
#include "pagetable.h"

const char *report_vector_name(uint64_t vector)
{
	static const char *const names[] = {
		"#DE divide error", "#DB debug", "NMI", "#BP breakpoint", "#OF overflow",
		"#BR bound range", "#UD invalid opcode", "#NM device not available",
		"#DF double fault", "coprocessor overrun", "#TS invalid TSS",
		"#NP segment not present", "#SS stack fault", "#GP general protection",
		"#PF page fault", "reserved", "#MF x87 error", "#AC alignment check",
		"#MC machine check", "#XM SIMD error", "#VE virtualization",
		"#CP control protection",
	};
	return vector < sizeof(names) / sizeof(names[0]) ? names[vector] : "unknown vector";
}

const char *report_exception_message(uint64_t vector)
{
	return pvmm_exception_message(vector);
}

static void print_gprs(uint64_t rax, uint64_t rbx, uint64_t rcx, uint64_t rdx,
		       uint64_t rsi, uint64_t rdi, uint64_t rbp, uint64_t rsp,
		       const uint64_t r8_15[8])
{
	fprintf(log_stream(),
		"  rax %016llx rbx %016llx rcx %016llx rdx %016llx\n"
		"  rsi %016llx rdi %016llx rbp %016llx rsp %016llx\n"
		"  r8  %016llx r9  %016llx r10 %016llx r11 %016llx\n"
		"  r12 %016llx r13 %016llx r14 %016llx r15 %016llx\n",
		(unsigned long long)rax, (unsigned long long)rbx, (unsigned long long)rcx,
		(unsigned long long)rdx, (unsigned long long)rsi, (unsigned long long)rdi,
		(unsigned long long)rbp, (unsigned long long)rsp,
		(unsigned long long)r8_15[0], (unsigned long long)r8_15[1], (unsigned long long)r8_15[2],
		(unsigned long long)r8_15[3], (unsigned long long)r8_15[4], (unsigned long long)r8_15[5],
		(unsigned long long)r8_15[6], (unsigned long long)r8_15[7]);
}

void report_fault(const struct pvmm_fault *f)
{
	const uint64_t hi[8] = { f->r8, f->r9, f->r10, f->r11, f->r12, f->r13, f->r14, f->r15 };

	fprintf(log_stream(), "  vector %llu (%s), error code %#llx, rip %#llx, cr2 %#llx\n",
		(unsigned long long)f->vector, report_vector_name(f->vector),
		(unsigned long long)f->error_code, (unsigned long long)f->rip, (unsigned long long)f->cr2);
	fprintf(log_stream(), "  cs %#llx ss %#llx rflags %#llx\n", (unsigned long long)f->cs,
		(unsigned long long)f->ss, (unsigned long long)f->rflags);
	print_gprs(f->rax, f->rbx, f->rcx, f->rdx, f->rsi, f->rdi, f->rbp, f->rsp, hi);
}

size_t report_code_bytes(struct vm *vm, const struct kvm_sregs *s, uint64_t rip, uint8_t *out, size_t max)
{
	size_t count = 0;
	for (; count < max; count++) {
		uint64_t pa = rip + count;
		const uint8_t *byte;
		/* Paging off (a PVH kernel's first instructions): linear is physical. */
		if (((s->cr0 >> 31) & 1) && !pagetable_translate(&vm->mem, s->cr3, rip + count, &pa))
			break;
		if (!(byte = guest_mem_ptr_private(&vm->mem, pa, 1)))
			break;
		out[count] = *byte;
	}
	return count;
}

/* " 0f 0b ..." for `n` bytes. */
static void hex_bytes(const uint8_t *b, size_t n, char *line, size_t size)
{
	size_t used = 0;
	line[0] = '\0';
	for (size_t i = 0; i < n && used + 4 <= size; i++)
		used += (size_t)snprintf(line + used, size - used, " %02x", b[i]);
}

/* Print up to 16 bytes at guest-virtual `rip`, translated through the
 * guest's current page tables. */
static void print_code_bytes(struct vm *vm, const struct kvm_sregs *s, uint64_t rip)
{
	uint8_t bytes[16];
	char line[16 * 3 + 1];
	size_t count = report_code_bytes(vm, s, rip, bytes, sizeof(bytes));

	hex_bytes(bytes, count, line, sizeof(line));
	if (count)
		fprintf(log_stream(), "  code at rip:%s\n", line);
	else
		fprintf(log_stream(), "  code at rip: (not mapped to guest RAM)\n");
}

void report_insn_summary(struct vcpu *v, char *buf, size_t size)
{
	struct kvm_regs r;
	struct kvm_sregs s;
	uint8_t bytes[15];
	char line[15 * 3 + 1];

	if (ioctl(v->fd, KVM_GET_REGS, &r) < 0 || ioctl(v->fd, KVM_GET_SREGS, &s) < 0) {
		snprintf(buf, size, "at an unknown rip (registers unavailable)");
		return;
	}
	size_t n = report_code_bytes(v->vm, &s, r.rip, bytes, sizeof(bytes));
	hex_bytes(bytes, n, line, sizeof(line));
	if (n)
		snprintf(buf, size, "at rip %#llx (bytes%s)", (unsigned long long)r.rip, line);
	else
		snprintf(buf, size, "at rip %#llx (not mapped to guest RAM)", (unsigned long long)r.rip);
}

void report_cpu_state(struct vcpu *v)
{
	struct vm *vm = v->vm;
	struct kvm_regs r;
	struct kvm_sregs s;

	if (ioctl(v->fd, KVM_GET_REGS, &r) < 0 || ioctl(v->fd, KVM_GET_SREGS, &s) < 0) {
		fprintf(log_stream(), "  (registers unavailable)\n");
		return;
	}
	const uint64_t hi[8] = { r.r8, r.r9, r.r10, r.r11, r.r12, r.r13, r.r14, r.r15 };
	fprintf(log_stream(), "  rip %#llx rflags %#llx cs %#x\n", (unsigned long long)r.rip,
		(unsigned long long)r.rflags, s.cs.selector);
	fprintf(log_stream(), "  cr0 %#llx cr2 %#llx cr3 %#llx cr4 %#llx efer %#llx\n",
		(unsigned long long)s.cr0, (unsigned long long)s.cr2, (unsigned long long)s.cr3,
		(unsigned long long)s.cr4, (unsigned long long)s.efer);
	print_gprs(r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.rbp, r.rsp, hi);
	print_code_bytes(vm, &s, r.rip);
}

void report_internal_error(struct vcpu *v)
{
	const struct kvm_run *run = v->run;
	uint32_t ndata = run->internal.ndata;
	char tag[16] = "";

	if (v->vm->cpu_count > 1)
		snprintf(tag, sizeof(tag), "CPU %u: ", v->index);
	if (run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION) {
		char where[128];
		report_insn_summary(v, where, sizeof(where));
		log_error("%sKVM could not emulate the guest instruction %s (emulation failure); "
			  "guest kernel code must avoid SSE/AVX, cmpxchg16b, xsave and int3 on hosts without VT-x", tag,
			  where);
	} else {
		log_error("%sKVM internal error, suberror %u", tag, run->internal.suberror);
	}
	if (ndata > sizeof(run->internal.data) / sizeof(run->internal.data[0]))
		ndata = sizeof(run->internal.data) / sizeof(run->internal.data[0]);
	/* The emulation-failure overlay is ABI: flags, then a length byte and
	 * up to 15 instruction bytes (ndata counts the 8-byte words used). */
	if (run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION && ndata >= 3 &&
	    (run->emulation_failure.flags & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES)) {
		size_t len = run->emulation_failure.insn_size;
		if (len > sizeof(run->emulation_failure.insn_bytes))
			len = sizeof(run->emulation_failure.insn_bytes);
		fprintf(log_stream(), "  instruction bytes:");
		for (size_t i = 0; i < len; i++)
			fprintf(log_stream(), " %02x", run->emulation_failure.insn_bytes[i]);
		fprintf(log_stream(), "\n");
	} else if (ndata) {
		fprintf(log_stream(), "  data:");
		for (uint32_t i = 0; i < ndata; i++)
			fprintf(log_stream(), " %#llx", (unsigned long long)run->internal.data[i]);
		fprintf(log_stream(), "\n");
	}
	report_cpu_state(v);
}
