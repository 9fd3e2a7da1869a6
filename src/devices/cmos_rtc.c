#include "cmos_rtc.h"

#include <string.h>

#define REG_SECONDS 0x0
#define REG_MINUTES 0x2
#define REG_HOURS 0x4
#define REG_WEEKDAY 0x6
#define REG_DAY 0x7
#define REG_MONTH 0x8
#define REG_YEAR 0x9
#define REG_A 0xa
#define REG_B 0xb
#define REG_C 0xc
#define REG_D 0xd
#define REG_CENTURY 0x32

static uint8_t bcd(int v)
{
	return (uint8_t)((v / 10) << 4 | (v % 10));
}

static uint8_t read_reg(struct cmos_rtc *c, uint8_t reg)
{
	time_t t = c->now ? c->now(c->ctx) : time(NULL);
	struct tm tm = { 0 };

	if (reg <= REG_YEAR || reg == REG_CENTURY) {
		if (!gmtime_r(&t, &tm))
			memset(&tm, 0, sizeof(tm));
	}
	switch (reg) {
	case REG_SECONDS: return bcd(tm.tm_sec > 59 ? 59 : tm.tm_sec);
	case REG_MINUTES: return bcd(tm.tm_min);
	case REG_HOURS: return bcd(tm.tm_hour);
	case REG_WEEKDAY: return bcd(tm.tm_wday + 1);
	case REG_DAY: return bcd(tm.tm_mday);
	case REG_MONTH: return bcd(tm.tm_mon + 1);
	case REG_YEAR: return bcd(tm.tm_year % 100);
	case REG_CENTURY: return bcd((tm.tm_year / 100 + 19) % 100);
	case REG_A: return 0x26; /* 32.768 kHz time base, 1024 Hz rate, no update in progress */
	case REG_B: return 0x02; /* 24-hour, BCD, no interrupts */
	case REG_C: return 0;
	case REG_D: return 0x80; /* valid RAM and time */
	case 1: case 3: case 5: return 0; /* alarms: unused */
	default: return c->ram[reg];
	}
}

void cmos_rtc_io(void *opaque, uint16_t offset, bool is_write, uint8_t *data, unsigned size)
{
	struct cmos_rtc *c = opaque;

	if (offset == 0) {
		if (is_write)
			c->index = data[0] & 0x7f;
		else
			memset(data, 0xff, size); /* the index port is write-only */
		return;
	}
	if (is_write) {
		if (c->index > REG_D && c->index != REG_CENTURY)
			c->ram[c->index] = data[0];
		return;
	}
	memset(data, 0, size);
	data[0] = read_reg(c, c->index);
}
