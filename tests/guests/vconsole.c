/*
 * virtio console round trip: run with `--console virtio`. The runtime has
 * moved stdio to the virtio console before main, so printf and getchar
 * go through it. `vconsole.elf [N]` reads N lines (default 1) and echoes
 * each as "vecho: LINE", then prints "vconsole ok" and exits 0. With N = 0
 * it reads until end of input and prints "vconsole eof after L lines"
 * before "vconsole ok". `vconsole.elf raw-exit` prints two lines and a
 * partial one, then leaves through pvmm_exit(0) itself, not exit():
 * output held back for batching must come out all the same.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pvmm/guest.h>
#include <pvmm/virtio_console.h>

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "raw-exit")) {
		printf("vconsole raw-exit line 1\n");
		printf("vconsole raw-exit line 2\n");
		printf("vconsole raw-exit partial");
		pvmm_exit(0);
	}
	int lines = argc > 1 ? atoi(argv[1]) : 1;
	printf("vconsole present=%d stdio=%d\n", vcons_present(), vcons_is_stdio());
	if (!vcons_is_stdio()) {
		printf("vconsole FAIL: stdio is not on the virtio console\n");
		return 1;
	}
	static const char direct[] = "direct vcons_write ok\n";
	if (vcons_write(direct, sizeof(direct) - 1) != (int64_t)sizeof(direct) - 1) {
		printf("vconsole FAIL: vcons_write\n");
		return 1;
	}
	/* A line longer than one transmit buffer (2 KiB) and the stdio buffer. */
	char big[5000];
	memset(big, 'x', sizeof(big) - 2);
	big[sizeof(big) - 2] = '\n';
	big[sizeof(big) - 1] = 0;
	fputs(big, stdout);
	fflush(stdout);

	char line[256];
	for (int n = 0; lines == 0 || n < lines; n++) {
		size_t len = 0;
		int c;
		while ((c = getchar()) != EOF && c != '\n')
			if (len < sizeof(line) - 1)
				line[len++] = (char)c;
		line[len] = 0;
		if (c == EOF && lines == 0 && len == 0) {
			printf("vconsole eof after %d lines\n", n);
			break;
		}
		if (c == EOF) {
			printf("vconsole FAIL: end of input after %d lines\n", n);
			return 1;
		}
		printf("vecho: %s\n", line);
	}
	printf("vconsole ok\n");
	return 0;
}
