#include "cpuid.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>

#include "log.h"

#define LEAF_FEATURES 1u
#define LEAF_EXT_FEATURES 7u
#define LEAF_XSAVE 0xdu
#define LEAF_TOPOLOGY 0xbu
#define LEAF_TOPOLOGY2 0x1fu
#define LEAF_KVM_FEATURES 0x40000001u
#define LEAF_EXT_INFO 0x80000001u
#define CPUID1_ECX_HYPERVISOR 31u
#define CPUID1_ECX_XSAVE 26u

struct named_feature {
	const char *name;
	struct cpuid_mask_bit bit;
};

static const struct named_feature features[] = {
	{ "cmpxchg16b", { LEAF_FEATURES, 0, true, CPUID_ECX, 13 } },
	{ "x2apic", { LEAF_FEATURES, 0, true, CPUID_ECX, 21 } },
	{ "xsave", { LEAF_FEATURES, 0, true, CPUID_ECX, CPUID1_ECX_XSAVE } },
	{ "osxsave", { LEAF_FEATURES, 0, true, CPUID_ECX, 27 } },
	{ "avx", { LEAF_FEATURES, 0, true, CPUID_ECX, 28 } },
	{ "rdrand", { LEAF_FEATURES, 0, true, CPUID_ECX, 30 } },
	{ "avx2", { LEAF_EXT_FEATURES, 0, false, CPUID_EBX, 5 } },
	{ "avx512f", { LEAF_EXT_FEATURES, 0, false, CPUID_EBX, 16 } },
	{ "rdseed", { LEAF_EXT_FEATURES, 0, false, CPUID_EBX, 18 } },
	{ "pdpe1gb", { LEAF_EXT_INFO, 0, true, CPUID_EDX, 26 } },
	{ "kvmclock", { LEAF_KVM_FEATURES, 0, true, CPUID_EAX, 3 } }, /* KVM_FEATURE_CLOCKSOURCE2 */
};

static int add(struct cpuid_mask *m, struct cpuid_mask_bit b, char *err, size_t err_size)
{
	if (m->count >= CPUID_MASK_MAX) {
		snprintf(err, err_size, "--cpuid-mask: at most %d bits", CPUID_MASK_MAX);
		return -1;
	}
	m->bits[m->count++] = b;
	return 0;
}

static bool parse_u32(const char *s, const char *end, uint32_t *v)
{
	char buf[24], *stop;
	size_t len = (size_t)(end - s);
	if (len == 0 || len >= sizeof(buf) || s[0] == '-' || s[0] == '+')
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	errno = 0;
	unsigned long long x = strtoull(buf, &stop, 0);
	if (errno || *stop || x > UINT32_MAX)
		return false;
	*v = (uint32_t)x;
	return true;
}

/* One LEAF[.SUBLEAF]:REG:BIT item, [s, end). */
static int parse_item(const char *s, const char *end, struct cpuid_mask *m, char *err, size_t err_size)
{
	int len = (int)(end - s);
	for (size_t i = 0; i < sizeof(features) / sizeof(features[0]); i++)
		if (strlen(features[i].name) == (size_t)len && strncasecmp(s, features[i].name, (size_t)len) == 0)
			return add(m, features[i].bit, err, err_size);
	const char *c1 = memchr(s, ':', (size_t)len);
	const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t)(end - c1 - 1)) : NULL;
	struct cpuid_mask_bit b = { .any_index = true };
	uint32_t bit;
	if (!c2)
		goto bad;
	const char *dot = memchr(s, '.', (size_t)(c1 - s));
	if (!parse_u32(s, dot ? dot : c1, &b.function) || (dot && !parse_u32(dot + 1, c1, &b.index)))
		goto bad;
	b.any_index = !dot;
	static const char *const regs[] = { "eax", "ebx", "ecx", "edx" };
	unsigned r = 0;
	while (r < 4 && !(c2 - c1 - 1 == 3 && strncasecmp(c1 + 1, regs[r], 3) == 0))
		r++;
	if (r == 4 || !parse_u32(c2 + 1, end, &bit) || bit > 31)
		goto bad;
	b.reg = (enum cpuid_reg)r;
	b.bit = bit;
	return add(m, b, err, err_size);
bad:
	snprintf(err, err_size,
		 "--cpuid-mask '%.*s': write LEAF[.SUBLEAF]:REG:BIT (e.g. 1:ecx:28 or 0x7.0:ebx:5) or a feature "
		 "name (avx, avx2, avx512f, xsave, osxsave, cmpxchg16b, x2apic, pdpe1gb, rdrand, rdseed, kvmclock)",
		 len, s);
	return -1;
}

int cpuid_parse_mask(const char *text, struct cpuid_mask *m, char *err, size_t err_size)
{
	const char *s = text;
	for (;;) {
		const char *end = strchr(s, ',');
		if (!end)
			end = s + strlen(s);
		if (parse_item(s, end, m, err, err_size))
			return -1;
		if (!*end)
			return 0;
		s = end + 1;
	}
}

void cpuid_no_hw_virt_masks(struct cpuid_mask *m)
{
	static const char *const names[] = { "xsave", "osxsave", "avx", "cmpxchg16b", "avx2", "avx512f" };
	char err[8];
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		cpuid_parse_mask(names[i], m, err, sizeof(err)); /* cannot fail but for a full mask: then it stays full */
}

static uint32_t *reg_of(struct kvm_cpuid_entry2 *e, enum cpuid_reg r)
{
	switch (r) {
	case CPUID_EAX: return &e->eax;
	case CPUID_EBX: return &e->ebx;
	case CPUID_ECX: return &e->ecx;
	default: return &e->edx;
	}
}

static bool masked(const struct cpuid_mask *m, uint32_t function, enum cpuid_reg reg, unsigned bit)
{
	for (unsigned i = 0; i < m->count; i++)
		if (m->bits[i].function == function && m->bits[i].reg == reg && m->bits[i].bit == bit)
			return true;
	return false;
}

void cpuid_apply(struct kvm_cpuid_entry2 *entries, unsigned n, const struct cpuid_mask *m)
{
	for (unsigned i = 0; i < n; i++) {
		struct kvm_cpuid_entry2 *e = &entries[i];
		for (unsigned k = 0; k < m->count; k++) {
			const struct cpuid_mask_bit *b = &m->bits[k];
			if (b->function == e->function && (b->any_index || b->index == e->index))
				*reg_of(e, b->reg) &= ~(1u << b->bit);
		}
		if (e->function == LEAF_FEATURES)
			e->ecx |= 1u << CPUID1_ECX_HYPERVISOR;
	}
	/* No XSAVE: then no XSAVE state either, so nothing sizes an area
	 * from leaf 0xd. */
	if (masked(m, LEAF_FEATURES, CPUID_ECX, CPUID1_ECX_XSAVE))
		for (unsigned i = 0; i < n; i++)
			if (entries[i].function == LEAF_XSAVE)
				entries[i].eax = entries[i].ebx = entries[i].ecx = entries[i].edx = 0;
}

void cpuid_set_cpu(struct kvm_cpuid_entry2 *entries, unsigned n, unsigned cpu)
{
	for (unsigned i = 0; i < n; i++) {
		struct kvm_cpuid_entry2 *e = &entries[i];
		if (e->function == LEAF_FEATURES)
			e->ebx = (e->ebx & 0x00ffffffu) | (cpu & 0xffu) << 24;
		else if (e->function == LEAF_TOPOLOGY || e->function == LEAF_TOPOLOGY2)
			e->edx = cpu;
	}
}

int cpuid_setup(struct vm *vm, const struct cpuid_mask *user, bool hw_virt)
{
	struct kvm_cpuid2 *c = NULL;
	unsigned nent = 64;
	int ret = -1;

	for (;;) {
		free(c);
		c = calloc(1, sizeof(*c) + nent * sizeof(c->entries[0]));
		if (!c) {
			log_error("out of memory for the CPUID table");
			return -1;
		}
		c->nent = nent;
		if (ioctl(vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0)
			break;
		if (errno != E2BIG || nent >= 4096) {
			log_error("cannot read KVM's supported CPUID (KVM_GET_SUPPORTED_CPUID): %s", strerror(errno));
			goto out;
		}
		nent *= 2;
	}
	struct cpuid_mask m = *user;
	if (!hw_virt)
		cpuid_no_hw_virt_masks(&m);
	cpuid_apply(c->entries, c->nent, &m);
	for (unsigned i = 0; i < c->nent; i++)
		if (c->entries[i].function == LEAF_FEATURES)
			log_debug("CPUID leaf 1: ecx %#x edx %#x (%u bits masked%s)", c->entries[i].ecx, c->entries[i].edx,
				  m.count, hw_virt ? "" : ", the no-VT-x ones included");
	for (unsigned i = 0; i < vm->cpu_count; i++) {
		cpuid_set_cpu(c->entries, c->nent, i);
		if (ioctl(vm->vcpus[i].fd, KVM_SET_CPUID2, c) < 0) {
			log_error("cannot set CPU %u's CPUID (KVM_SET_CPUID2): %s", i, strerror(errno));
			goto out;
		}
	}
	ret = 0;
out:
	free(c);
	return ret;
}
