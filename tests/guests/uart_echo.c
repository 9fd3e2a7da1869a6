/*
 * Console input over the 16550A UART: run with `--console uart`. The
 * runtime has moved stdio to the UART before main, so printf and getchar
 * go through it. Echoes each input line as "uecho: LINE" until getchar()
 * returns EOF (a ^D byte: a serial line has no end of input), then prints
 * "uart_echo lines=N" and "uart_echo ok" and exits 0.
 */
#include <stdio.h>
#include <pvmm/uart.h>

int main(void)
{
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
