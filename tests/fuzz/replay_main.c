/*
 * The replay driver: a fuzz target linked with this instead of libFuzzer
 * runs every file named on the command line through
 * LLVMFuzzerTestOneInput() once, so the regression corpora run under gcc's
 * ASan/UBSan in make check without clang's fuzzer runtime. A directory
 * argument replays each regular file in it.
 *
 *   fuzz_X FILE|DIR...     replay; exit 0 if none crashed
 *   fuzz_X --seed DIR      write the target's hand-made seed inputs to DIR
 *
 * Each input is a malloc'd buffer of exactly its size, as libFuzzer hands
 * them over, so ASan sees a read one byte past the end.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_common.h"

static const char *seed_dir;

static void emit_seed(const char *name, const void *data, size_t len)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", seed_dir, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
		fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
		exit(1);
	}
	printf("wrote %s (%zu bytes)\n", path, len);
}

static int replay_file(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	size_t size = (size_t)st.st_size;
	uint8_t *buf = malloc(size ? size : 1);
	size_t got = 0;
	while (buf && got < size) {
		ssize_t n = read(fd, buf + got, size - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (!buf || got != size) {
		fprintf(stderr, "%s: short read\n", path);
		free(buf);
		return -1;
	}
	/* Names the input a sanitizer report that follows is about. */
	fprintf(stderr, "replay: %s\n", path);
	LLVMFuzzerTestOneInput(buf, size);
	free(buf);
	return 0;
}

/* Returns the number of inputs replayed, or -1 on an unreadable one. */
static int replay(const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return replay_file(path) ? -1 : 1;

	/* Sorted, so a crash shows up at the same input every time. */
	struct dirent **names;
	int n = scandir(path, &names, NULL, alphasort), count = 0;
	if (n < 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	for (int i = 0; i < n; i++) {
		char file[4096];
		snprintf(file, sizeof(file), "%s/%s", path, names[i]->d_name);
		if (names[i]->d_name[0] != '.' && stat(file, &st) == 0 && S_ISREG(st.st_mode)) {
			if (replay_file(file))
				count = -1;
			else if (count >= 0)
				count++;
		}
		free(names[i]);
	}
	free(names);
	return count;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--seed") == 0) {
		seed_dir = argv[2];
		fuzz_seeds(emit_seed);
		return 0;
	}
	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE|DIR...   or   %s --seed DIR\n", argv[0], argv[0]);
		return 2;
	}
	int total = 0, bad = 0;
	for (int i = 1; i < argc; i++) {
		int n = replay(argv[i]);
		if (n < 0)
			bad = 1;
		else
			total += n;
	}
	printf("replayed %d inputs%s\n", total, bad ? ", some unreadable" : "");
	return bad;
}
