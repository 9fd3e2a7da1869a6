/* Echoes console input line by line, each line prefixed "echo: ", until
 * end of input; exits 0. A last line without a newline gets one. */
#include <stdio.h>
#include <pvmm/guest.h>

int main(void)
{
	char buf[512];
	int at_line_start = 1;
	for (;;) {
		int64_t n = pvmm_console_read_wait(buf, sizeof(buf));
		if (n < 0) {
			printf("echo: read failed: %lld\n", (long long)n);
			return 1;
		}
		if (n == 0)
			break;
		/* Copy line by line so each output line carries the prefix. */
		int64_t start = 0;
		for (int64_t i = 0; i < n; i++) {
			if (buf[i] != '\n')
				continue;
			if (at_line_start)
				fputs("echo: ", stdout);
			fwrite(buf + start, 1, (size_t)(i + 1 - start), stdout);
			start = i + 1;
			at_line_start = 1;
		}
		if (start < n) {
			if (at_line_start)
				fputs("echo: ", stdout);
			fwrite(buf + start, 1, (size_t)(n - start), stdout);
			at_line_start = 0;
		}
	}
	if (!at_line_start)
		putchar('\n');
	return 0;
}
