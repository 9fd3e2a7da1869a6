/*
 * Console input over the 16550A UART: run with `--console uart`. The
 * runtime has moved stdio to the UART before main, so printf and getchar
 * go through it. Echoes each input line as "uecho: LINE" until getchar()
 * returns EOF (a ^D byte: a serial line has no end of input), then prints
 * "uart_echo lines=N" and "uart_echo ok" and exits 0.
 *
 * `uart_echo.elf rts COUNT`: flow control under stress. The guest drops
 * and raises RTS around every few register reads while it drains RBR by
 * hand, until COUNT bytes came or 20 s passed; the input must be the
 * pattern 'a'..'z' repeated, every byte once and in order. Prints
 * "uart_echo rts got=N in_order=1|0 first_bad=I".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pvmm/guest.h>
#include <pvmm/io.h>
#include <pvmm/uart.h>

#define COM1 0x3f8
#define RBR 0
#define MCR 4
#define LSR 5

static int rts_stress(unsigned count)
{
	unsigned got = 0, first_bad = ~0u;
	uint64_t deadline = pvmm_now_ns() + 20 * PVMM_NS_PER_S;
	while (got < count && pvmm_now_ns() < deadline) {
		outb(COM1 + MCR, 0x0b); /* DTR | RTS | OUT2: send */
		for (int i = 0; i < 4 && (inb(COM1 + LSR) & 1); i++) {
			uint8_t c = inb(COM1 + RBR);
			if (c != (uint8_t)('a' + got % 26) && first_bad == ~0u)
				first_bad = got;
			got++;
		}
		outb(COM1 + MCR, 0x09); /* RTS low: hold it */
		for (int i = 0; i < 3; i++)
			(void)inb(COM1 + LSR);
	}
	outb(COM1 + MCR, 0x0b);
	printf("uart_echo rts got=%u in_order=%d first_bad=%d\n", got, first_bad == ~0u, (int)first_bad);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "rts"))
		return rts_stress((unsigned)strtoul(argv[2], NULL, 10));
	printf("uart_echo present=%d stdio=%d\n", uart_present(), uart_is_stdio());
	if (!uart_is_stdio()) {
		printf("uart_echo FAIL: stdio is not on the UART\n");
		return 1;
	}
	char line[1024];
	int lines = 0;
	for (;;) {
		size_t len = 0;
		int c;
		while ((c = getchar()) != EOF && c != '\n')
			if (len < sizeof(line) - 1)
				line[len++] = (char)c;
		line[len] = 0;
		if (c == EOF && len == 0)
			break;
		printf("uecho: %s\n", line);
		lines++;
		if (c == EOF)
			break;
	}
	struct uart_stats st;
	uart_get_stats(&st);
	printf("uart_echo lines=%d bytes_in=%llu overruns=%llu\n", lines, (unsigned long long)st.bytes_in,
	       (unsigned long long)st.overruns);
	printf("uart_echo ok\n");
	return 0;
}
