/*
 * Fuzz target: what the monitor completes for a --kernel guest when KVM
 * cannot (src/linux_emulate.c: int3, iret/iretq), and the legacy port
 * devices it probes (src/devices/i8042.c, src/devices/cmos_rtc.c,
 * src/devices/acpi_sleep.c). All of
 * it is guest-controlled: the instruction bytes, the registers and
 * segment state, the stack the iret frame is popped from, the port
 * accesses.
 *
 * Input: u8 flags (bit 0: long mode, bit 1: 32-bit code, bit 2: CPL 3,
 * bit 3: paging on, bit 4: SMAP), u16 cs, u16 ss, u64 rip, u64 rsp, u64 rflags, 8
 * instruction bytes, then 64 bytes of stack at rsp (reads outside fail);
 * then port operations until the input ends: u8 op (bit 0: write, bits
 * 1-2: port 0x60, 0x64, 0x70, 0x71; with bit 3 set instead bit 1: the
 * sleep control 0x600 or status 0x601 register), u8 value.
 *
 * Checked besides memory safety: only int3 and iret are completed; int3
 * moves rip by one and nothing else; iret reads only inside the stack
 * window, leaves RFLAGS bit 1 set and VM clear, and completes only a
 * same-CS CPL0 frame; the RTC's index stays below 128 and the time
 * registers read BCD; the sleep registers power off only on a control
 * write of SLP_EN with SLP_TYP 5, and only WAK_STS is ever set.
 */
#include <string.h>

#include "devices/acpi_sleep.h"
#include "devices/cmos_rtc.h"
#include "devices/i8042.h"
#include "fuzz_common.h"
#include "linux_emulate.h"

static void count_poweroff(void *ctx)
{
	(*(unsigned *)ctx)++;
}

#define STACK 64

struct stack {
	uint64_t base;
	uint8_t bytes[STACK];
	bool read_outside;
};

static bool read_stack(void *ctx, uint64_t va, void *out, size_t len)
{
	struct stack *s = ctx;
	if (va < s->base || va - s->base > STACK || len > STACK - (va - s->base)) {
		s->read_outside = true;
		return false;
	}
	memcpy(out, s->bytes + (va - s->base), len);
	return true;
}

static time_t fixed_time(void *ctx)
{
	(void)ctx;
	return 1796225585;
}

static bool is_bcd(uint8_t v)
{
	return (v & 0xf) < 10 && (v >> 4) < 10;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = fuzz_in(data, size);
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	struct stack st = { 0 };
	uint8_t insn[8];

	memset(&sregs, 0, sizeof(sregs));
	memset(&regs, 0, sizeof(regs));
	uint8_t flags = fuzz_u8(&in);
	sregs.cr0 = 1 | (flags & 8 ? 1ull << 31 : 0);
	sregs.cr4 = flags & 16 ? 1ull << 21 : 0; /* SMAP */
	sregs.cs.l = flags & 1;
	sregs.cs.db = (flags >> 1) & 1;
	sregs.cs.dpl = flags & 4 ? 3 : 0;
	sregs.cs.selector = fuzz_u16(&in);
	sregs.ss.selector = fuzz_u16(&in);
	regs.rip = fuzz_u64(&in);
	regs.rsp = fuzz_u64(&in);
	regs.rflags = fuzz_u64(&in);
	fuzz_bytes(&in, insn, sizeof(insn));
	st.base = sregs.cs.l ? regs.rsp : (uint32_t)regs.rsp;
	fuzz_bytes(&in, st.bytes, sizeof(st.bytes));

	struct kvm_regs before = regs;
	enum linux_emulated what = linux_emulate(insn, sizeof(insn), &regs, &sregs, read_stack, &st);
	FUZZ_CHECK(!st.read_outside || what == LINUX_EMU_NONE);
	switch (what) {
	case LINUX_EMU_NONE:
		FUZZ_CHECK(memcmp(&regs, &before, sizeof(regs)) == 0);
		break;
	case LINUX_EMU_INT3:
		FUZZ_CHECK(insn[0] == 0xcc);
		before.rip += 1;
		FUZZ_CHECK(memcmp(&regs, &before, sizeof(regs)) == 0);
		break;
	case LINUX_EMU_SMAP:
		FUZZ_CHECK(insn[0] == 0x0f && insn[1] == 0x01 && sregs.cs.dpl == 0);
		FUZZ_CHECK(regs.rip == before.rip + 3);
		FUZZ_CHECK((regs.rflags ^ before.rflags) == 0 || (regs.rflags ^ before.rflags) == (1ull << 18));
		break;
	case LINUX_EMU_FWAIT:
		FUZZ_CHECK(insn[0] == 0x9b && regs.rip == before.rip + 1);
		break;
	case LINUX_EMU_POPCNT:
		FUZZ_CHECK(regs.rip - before.rip >= 4 && regs.rip - before.rip <= sizeof(insn)); /* may wrap */
		FUZZ_CHECK((regs.rflags & ~0x40ull) == (before.rflags & ~0x8d5ull));
		break;
	case LINUX_EMU_IRET:
		FUZZ_CHECK(insn[0] == 0xcf || insn[1] == 0xcf);
		FUZZ_CHECK(sregs.cs.dpl == 0);
		FUZZ_CHECK(regs.rflags & 2);
		FUZZ_CHECK(!(regs.rflags & (1ull << 17)));
		FUZZ_CHECK(regs.rax == before.rax && regs.rbx == before.rbx);
		break;
	}

	struct i8042 kbc = { 0 };
	struct cmos_rtc rtc = { .now = fixed_time };
	unsigned poweroffs = 0;
	struct acpi_sleep sleep = { .poweroff = count_poweroff, .ctx = &poweroffs };
	while (fuzz_more(&in)) {
		uint8_t op = fuzz_u8(&in), v = fuzz_u8(&in);
		bool write = op & 1;
		if (op & 8) {
			uint8_t written = v;
			unsigned had = poweroffs;
			acpi_sleep_io(&sleep, (op >> 1) & 1, write, &v, 1);
			if (poweroffs != had)
				FUZZ_CHECK(write && !(op & 2) && (written & 0x3c) == 0x34);
			FUZZ_CHECK((sleep.status & ~ACPI_WAK_STS) == 0);
			continue;
		}
		switch ((op >> 1) & 3) {
		case 0: i8042_data_io(&kbc, 0, write, &v, 1); break;
		case 1: i8042_cmd_io(&kbc, 0, write, &v, 1); break;
		case 2: cmos_rtc_io(&rtc, 0, write, &v, 1); break;
		default:
			cmos_rtc_io(&rtc, 1, write, &v, 1);
			if (!write && (rtc.index <= 9 && rtc.index != 1 && rtc.index != 3 && rtc.index != 5))
				FUZZ_CHECK(is_bcd(v));
			break;
		}
		FUZZ_CHECK(rtc.index < CMOS_SIZE);
	}
	return 0;
}

/* Seeds: a 64-bit iretq frame, a 32-bit iret, an int3, a frame that
 * changes CS (refused), a clac with SMAP on, and RTC reads of every time register. */
static size_t frame(uint8_t *b, uint8_t flags, uint16_t cs, uint16_t ss, const uint8_t insn[8],
		    const uint64_t *stack, unsigned n, unsigned width)
{
	size_t len = 0;
	uint64_t rip = 0xffffffff81000000ull, rsp = 0xffff888000010000ull, rflags = 0x46;
	b[len++] = flags;
	memcpy(b + len, &cs, 2), len += 2;
	memcpy(b + len, &ss, 2), len += 2;
	memcpy(b + len, &rip, 8), len += 8;
	memcpy(b + len, &rsp, 8), len += 8;
	memcpy(b + len, &rflags, 8), len += 8;
	memcpy(b + len, insn, 8), len += 8;
	uint8_t st[STACK] = { 0 };
	for (unsigned i = 0; i < n; i++)
		memcpy(st + i * width, &stack[i], width);
	memcpy(b + len, st, STACK), len += STACK;
	return len;
}

void fuzz_seeds(fuzz_emit_fn *emit)
{
	uint8_t b[256];
	const uint64_t f64[] = { 0xffffffff81001234ull, 0x10, 0x246, 0xffff888000020000ull, 0x18 };
	const uint64_t f32[] = { 0x101234, 0x10, 0x202 };
	size_t n = frame(b, 0x9, 0x10, 0x18, (const uint8_t[8]){ 0x48, 0xcf, 0x90 }, f64, 5, 8);
	emit("iretq", b, n);
	n = frame(b, 0x2, 0x10, 0x18, (const uint8_t[8]){ 0xcf, 0x90, 0x90 }, f32, 3, 4);
	emit("iret32", b, n);
	n = frame(b, 0x9, 0x10, 0x18, (const uint8_t[8]){ 0xcc, 0x90, 0x90 }, f64, 0, 8);
	emit("int3", b, n);
	const uint64_t other_cs[] = { 0x401000, 0x33, 0x246, 0x7ff000, 0x2b };
	n = frame(b, 0x9, 0x10, 0x18, (const uint8_t[8]){ 0x48, 0xcf, 0x90 }, other_cs, 5, 8);
	emit("iretq-to-user", b, n);
	n = frame(b, 0x19, 0x10, 0x18, (const uint8_t[8]){ 0x0f, 0x01, 0xca }, f64, 0, 8);
	emit("clac", b, n);
	n = frame(b, 0x9, 0x10, 0x18, (const uint8_t[8]){ 0xf3, 0x48, 0x0f, 0xb8, 0xc7 }, f64, 0, 8);
	emit("popcnt", b, n);
	n = frame(b, 0x9, 0x10, 0x18, (const uint8_t[8]){ 0x90, 0x90, 0x90 }, f64, 0, 8);
	for (uint8_t reg = 0; reg <= 0x0d; reg++) {
		b[n++] = 0x5, b[n++] = reg; /* index write */
		b[n++] = 0x6, b[n++] = 0;   /* data read */
	}
	b[n++] = 0x3, b[n++] = 0xfe; /* i8042 reset */
	emit("ports", b, n);
	n = frame(b, 0x9, 0x10, 0x18, (const uint8_t[8]){ 0x90, 0x90, 0x90 }, f64, 0, 8);
	b[n++] = 0x9, b[n++] = 0x2c; /* SLP_EN, SLP_TYP 3 */
	b[n++] = 0xa, b[n++] = 0;    /* status read: WAK_STS */
	b[n++] = 0xb, b[n++] = 0x80; /* write 1 to clear */
	b[n++] = 0x9, b[n++] = 0x34; /* S5 */
	emit("acpi-sleep", b, n);
}
