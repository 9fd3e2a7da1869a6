/*
 * Console input. CONSOLE_READ never blocks, so waiting means POLL on the
 * console's device bit first (the vCPU sleeps in the monitor), then read.
 */
#include <stdio.h>
#include <pvmm/guest.h>
#include <pvmm/uart.h>
#include <pvmm/virtio_console.h>
#include "runtime.h"

int pvmm_console_device(void)
{
	const struct pvmm_boot_info *bi = pvmm_boot_info();
	for (uint32_t i = 0; i < bi->device_count && i < PVMM_MAX_DEVICES; i++) {
		if (bi->devices[i].type == PVMM_DEV_CONSOLE)
			return (int)i;
	}
	return -1;
}

int64_t pvmm_console_read_wait(void *buf, size_t len)
{
	int dev = pvmm_console_device();
	if (dev < 0)
		return 0; /* no console: no input, ever */
	stdio_before_wait();
	for (;;) {
		int64_t ret = pvmm_poll(UINT64_MAX, 1ull << dev, NULL);
		if (ret < 0)
			return ret;
		ret = pvmm_console_read(buf, len);
		if (ret != -PVMM_EAGAIN)
			return ret;
	}
}

/* getc reads ahead into this buffer: one read call per chunk, not per byte. */
static unsigned char input[256];
static size_t input_pos, input_len;

int pvmm_console_getc(void)
{
	if (input_pos == input_len) {
		int64_t ret = pvmm_console_read_wait(input, sizeof(input));
		if (ret <= 0)
			return EOF;
		input_pos = 0;
		input_len = (size_t)ret;
	}
	return input[input_pos++];
}

int getchar(void)
{
	if (vcons_is_stdio())
		return vcons_getc();
	if (uart_is_stdio())
		return uart_getc();
	return pvmm_console_getc();
}
