/*
 * The raw console's escape key: see console_escape.h.
 */
#include "console_escape.h"

static int command_of(uint8_t key)
{
	switch (key) {
	case 'x': case 'X': return CONSOLE_ESCAPE_QUIT;
	case 'z': case 'Z': return CONSOLE_ESCAPE_PAUSE;
	case 'h': case 'H': case '?': return CONSOLE_ESCAPE_HELP;
	default: return 0;
	}
}

size_t console_escape_filter(struct console_escape *st, uint8_t *buf, size_t n, console_escape_fn *fn, void *ctx)
{
	volatile uint8_t *b = buf; /* one read per byte, even if it changes under us */
	size_t out = 0;

	for (size_t i = 0; i < n; i++) {
		uint8_t c = b[i];
		if (!st->armed) {
			if (c == CONSOLE_ESCAPE_KEY)
				st->armed = true;
			else
				b[out++] = c;
			continue;
		}
		st->armed = false;
		int cmd = command_of(c);
		if (cmd) {
			if (fn)
				fn(ctx, (enum console_escape_cmd)cmd);
		} else {
			b[out++] = c; /* Ctrl-A Ctrl-A, or any other key: that key */
		}
	}
	return out;
}
