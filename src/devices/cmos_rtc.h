/*
 * A CMOS RTC (MC146818, ports 0x70 index and 0x71 data) with the host's
 * time: registers 0..9 read the time of the moment in BCD, 24-hour mode
 * (register B = 0x02), the update-in-progress bit never set (register A =
 * 0x26), the battery good (register D = 0x80), the century at 0x32. Other
 * registers are plain CMOS memory. Writes to the time registers are
 * dropped: the clock is the host's. No alarm, periodic or update
 * interrupts (register C reads 0).
 */
#ifndef PVMM_CMOS_RTC_H
#define PVMM_CMOS_RTC_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#define CMOS_INDEX_PORT 0x70
#define CMOS_PORTS 2
#define CMOS_SIZE 128

struct cmos_rtc {
	time_t (*now)(void *ctx); /* NULL: time(NULL) */
	void *ctx;
	uint8_t index;            /* bit 7 (NMI disable) dropped */
	uint8_t ram[CMOS_SIZE];
};

/* One access: offset 0 the index, 1 the data. */
void cmos_rtc_io(void *opaque, uint16_t offset, bool is_write, uint8_t *data, unsigned size);

#endif
