/*
 * Shared by the fuzz targets in tests/fuzz/: a reader that turns the
 * fuzzer's input into values, and the hooks every target provides.
 *
 * The reader never fails: past the end of the input every value reads as
 * zero, so a harness needs no length checks and any prefix of an input is
 * itself a valid (shorter) input. fuzz_more() tells a loop when to stop.
 */
#ifndef PVMM_FUZZ_COMMON_H
#define PVMM_FUZZ_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fuzz_in {
	const uint8_t *p;
	size_t left;
};

static inline struct fuzz_in fuzz_in(const uint8_t *data, size_t size)
{
	return (struct fuzz_in){ data, size };
}

static inline bool fuzz_more(const struct fuzz_in *in)
{
	return in->left > 0;
}

/* Copy up to `len` bytes out; the rest of `out` is zeroed. Returns the
 * bytes that came from the input. */
static inline size_t fuzz_bytes(struct fuzz_in *in, void *out, size_t len)
{
	size_t n = len < in->left ? len : in->left;
	memcpy(out, in->p, n);
	memset((uint8_t *)out + n, 0, len - n);
	in->p += n;
	in->left -= n;
	return n;
}

static inline uint8_t fuzz_u8(struct fuzz_in *in)
{
	uint8_t v;
	fuzz_bytes(in, &v, sizeof(v));
	return v;
}

/* Little-endian, like the guest-side structures they usually fill. */
static inline uint16_t fuzz_u16(struct fuzz_in *in)
{
	uint8_t b[2];
	fuzz_bytes(in, b, sizeof(b));
	return (uint16_t)(b[0] | b[1] << 8);
}

static inline uint32_t fuzz_u32(struct fuzz_in *in)
{
	uint8_t b[4];
	fuzz_bytes(in, b, sizeof(b));
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static inline uint64_t fuzz_u64(struct fuzz_in *in)
{
	uint64_t lo = fuzz_u32(in);
	return lo | (uint64_t)fuzz_u32(in) << 32;
}

/* A harness's own consistency checks: a failure must stop the fuzzer with
 * a report, in the libFuzzer build as in the replay build. */
#define FUZZ_CHECK(cond)                                                                     \
	do {                                                                                 \
		if (!(cond)) {                                                               \
			fprintf(stderr, "%s:%d: fuzz check failed: %s\n", __FILE__, __LINE__, #cond); \
			abort();                                                             \
		}                                                                            \
	} while (0)

/* Every target defines these two. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Seed mode (replay binary, --seed DIR): the target hands each of its
 * hand-made valid inputs to `emit`, which writes it to DIR/name. */
typedef void fuzz_emit_fn(const char *name, const void *data, size_t len);
void fuzz_seeds(fuzz_emit_fn *emit);

#endif
