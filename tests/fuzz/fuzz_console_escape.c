/*
 * Fuzz target: the raw console's escape key (src/console_escape.c), which
 * parses every byte typed at a raw terminal before the guest sees it.
 *
 * Input: the first byte picks where the input is split into reads (its
 * value + 1 is the longest read); the rest is the bytes typed.
 *
 * Checked besides memory safety: no read ever grows; the bytes kept and
 * the commands taken are the same however the input is split (all at once
 * against the chosen splits) and the same as a byte-at-a-time reference;
 * a kept byte is one of the input's.
 */
#include <string.h>

#include "console_escape.h"
#include "fuzz_common.h"

#define MAX_IN 4096u

struct log {
	int cmds[MAX_IN];
	size_t count;
};

static void record(void *ctx, enum console_escape_cmd cmd)
{
	struct log *l = ctx;
	FUZZ_CHECK(cmd == CONSOLE_ESCAPE_QUIT || cmd == CONSOLE_ESCAPE_PAUSE || cmd == CONSOLE_ESCAPE_HELP);
	FUZZ_CHECK(l->count < MAX_IN);
	l->cmds[l->count++] = (int)cmd;
}

static uint8_t whole[MAX_IN], split[MAX_IN], one[MAX_IN];
static struct log whole_log, split_log, one_log;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t chunk = (size_t)data[0] + 1;
	data++;
	size--;
	if (size > MAX_IN)
		size = MAX_IN;

	struct console_escape st = { 0 };
	whole_log.count = split_log.count = one_log.count = 0;
	memcpy(whole, data, size);
	size_t n_whole = console_escape_filter(&st, whole, size, record, &whole_log);
	FUZZ_CHECK(n_whole <= size);
	bool armed = st.armed;

	st = (struct console_escape){ 0 };
	size_t n_split = 0;
	for (size_t off = 0; off < size; off += chunk) {
		size_t len = size - off < chunk ? size - off : chunk;
		uint8_t buf[256];
		memcpy(buf, data + off, len);
		size_t kept = console_escape_filter(&st, buf, len, record, &split_log);
		FUZZ_CHECK(kept <= len);
		memcpy(split + n_split, buf, kept);
		n_split += kept;
	}
	FUZZ_CHECK(st.armed == armed);
	FUZZ_CHECK(n_split == n_whole && memcmp(split, whole, n_whole) == 0);
	FUZZ_CHECK(split_log.count == whole_log.count &&
		   memcmp(split_log.cmds, whole_log.cmds, whole_log.count * sizeof(int)) == 0);

	/* The reference: one byte at a time, by the documented rules. */
	size_t n_one = 0;
	bool esc = false;
	for (size_t i = 0; i < size; i++) {
		uint8_t c = data[i];
		if (!esc) {
			if (c == CONSOLE_ESCAPE_KEY)
				esc = true;
			else
				one[n_one++] = c;
			continue;
		}
		esc = false;
		if (c == 'x' || c == 'X')
			record(&one_log, CONSOLE_ESCAPE_QUIT);
		else if (c == 'z' || c == 'Z')
			record(&one_log, CONSOLE_ESCAPE_PAUSE);
		else if (c == 'h' || c == 'H' || c == '?')
			record(&one_log, CONSOLE_ESCAPE_HELP);
		else
			one[n_one++] = c;
	}
	FUZZ_CHECK(esc == armed);
	FUZZ_CHECK(n_one == n_whole && memcmp(one, whole, n_whole) == 0);
	FUZZ_CHECK(one_log.count == whole_log.count &&
		   memcmp(one_log.cmds, whole_log.cmds, whole_log.count * sizeof(int)) == 0);
	return 0;
}

void fuzz_seeds(fuzz_emit_fn *emit)
{
	/* Every command, a literal Ctrl-A, another key, a Ctrl-A left
	 * pending at the end; reads of 3 bytes. */
	static const char commands[] = "\002abc\001x\001\001\001z\001h\001?q\001";
	/* Ctrl-A runs split into one-byte reads. */
	static const char byte_reads[] = "\000\001\001\001\001x\001Z\r\n";
	emit("commands", commands, sizeof(commands) - 1);
	emit("byte-reads", byte_reads, sizeof(byte_reads) - 1);
}
