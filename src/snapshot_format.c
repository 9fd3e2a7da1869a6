/*
 * The snapshot state file's container: writer and checking reader
 * (snapshot_format.h, docs/snapshot.md).
 */
#include "snapshot_format.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* CRC32 (IEEE 802.3, reflected, polynomial 0xEDB88320), table-driven. */
static uint32_t crc_table[256];
static bool crc_ready;

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
		crc_table[i] = c;
	}
	__atomic_store_n(&crc_ready, true, __ATOMIC_RELEASE);
}

uint32_t snap_crc32(uint32_t crc, const void *data, size_t len)
{
	const uint8_t *p = data;

	if (!__atomic_load_n(&crc_ready, __ATOMIC_ACQUIRE))
		crc_init(); /* idempotent: two threads racing write the same table */
	crc = ~crc;
	while (len--)
		crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

/* ---- writer ---------------------------------------------------------------- */

void snap_writer_init(struct snap_writer *w)
{
	*w = (struct snap_writer){ .open_at = SIZE_MAX };
	snap_put(w, &(struct snap_header){ 0 }, sizeof(struct snap_header));
}

void snap_writer_free(struct snap_writer *w)
{
	free(w->buf);
	*w = (struct snap_writer){ .open_at = SIZE_MAX };
}

void snap_put(struct snap_writer *w, const void *data, size_t len)
{
	if (w->failed)
		return;
	if (w->len + len > w->cap) {
		size_t cap = w->cap ? w->cap : 65536;
		while (cap < w->len + len)
			cap *= 2;
		uint8_t *b = realloc(w->buf, cap);
		if (!b) {
			w->failed = true;
			return;
		}
		w->buf = b;
		w->cap = cap;
	}
	memcpy(w->buf + w->len, data, len);
	w->len += len;
}

void snap_put_u32(struct snap_writer *w, uint32_t v)
{
	snap_put(w, &v, sizeof(v));
}

void snap_put_u64(struct snap_writer *w, uint64_t v)
{
	snap_put(w, &v, sizeof(v));
}

void snap_put_str(struct snap_writer *w, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	snap_put_u32(w, (uint32_t)n);
	snap_put(w, s ? s : "", n);
}

void snap_begin(struct snap_writer *w, uint32_t type)
{
	struct snap_section_header sh = { .type = type };
	w->open_at = w->len;
	snap_put(w, &sh, sizeof(sh));
}

void snap_end(struct snap_writer *w)
{
	static const uint8_t pad[8];

	if (w->failed || w->open_at == SIZE_MAX)
		return;
	struct snap_section_header *sh = (struct snap_section_header *)(w->buf + w->open_at);
	size_t start = w->open_at + sizeof(*sh);
	sh->length = w->len - start;
	sh->crc = snap_crc32(0, w->buf + start, (size_t)sh->length);
	w->open_at = SIZE_MAX;
	w->sections++;
	snap_put(w, pad, (8 - w->len % 8) % 8);
}

int snap_finish(struct snap_writer *w, const struct snap_header *h)
{
	if (w->failed)
		return -1;
	struct snap_header hd = *h;
	memcpy(hd.magic, SNAP_MAGIC, 8);
	hd.version = SNAP_VERSION;
	hd.header_size = sizeof(hd);
	hd.section_count = w->sections;
	hd.file_size = w->len;
	hd.header_crc = 0;
	hd.header_crc = snap_crc32(0, &hd, sizeof(hd));
	memcpy(w->buf, &hd, sizeof(hd));
	return 0;
}

/* ---- reader ---------------------------------------------------------------- */

static int bad(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(char *err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, SNAP_ERR_MAX, fmt, ap);
	va_end(ap);
	return -1;
}

int snap_parse(struct snap_file *f, uint8_t *buf, size_t len, uint32_t abi_sizes, char err[SNAP_ERR_MAX])
{
	*f = (struct snap_file){ .buf = buf, .len = len };
	struct snap_header h;

	if (len < 8 || memcmp(buf, SNAP_MAGIC, 8) != 0)
		return bad(err, "it is not a pvmm snapshot (no %s magic)", SNAP_MAGIC);
	if (len < sizeof(h))
		return bad(err, "it is truncated (%zu bytes, shorter than the %zu-byte header)", len, sizeof(h));
	memcpy(&h, buf, sizeof(h));
	if (h.version != SNAP_VERSION)
		return bad(err, "it has format version %u; this pvmm reads version %u only", h.version, SNAP_VERSION);
	uint32_t crc = h.header_crc;
	h.header_crc = 0;
	if (h.header_size != sizeof(h) || snap_crc32(0, &h, sizeof(h)) != crc)
		return bad(err, "its header checksum is wrong (the file is corrupt)");
	h.header_crc = crc;
	if (h.file_size != len)
		return bad(err, "it is %s (%zu bytes, the header says %llu)", len < h.file_size ? "truncated" : "too long",
			   len, (unsigned long long)h.file_size);
	if (h.abi_sizes != abi_sizes)
		return bad(err, "it was written by a pvmm built against other KVM structures; restore it with that build");
	if (h.section_count == 0 || h.section_count > SNAP_MAX_SECTIONS)
		return bad(err, "it claims %u sections (1..%u allowed)", h.section_count, SNAP_MAX_SECTIONS);
	f->header = h;
	size_t off = sizeof(h);
	for (unsigned i = 0; i < h.section_count; i++) {
		struct snap_section_header sh;
		if (len - off < sizeof(sh))
			return bad(err, "section %u's header runs past the end of the file", i);
		memcpy(&sh, buf + off, sizeof(sh));
		off += sizeof(sh);
		if (sh.length > SNAP_MAX_SECTION || sh.length > len - off)
			return bad(err, "section %u (type %u) runs past the end of the file", i, sh.type);
		if (snap_crc32(0, buf + off, (size_t)sh.length) != sh.crc)
			return bad(err, "section %u (type %u) has a wrong checksum (the file is corrupt)", i, sh.type);
		f->sec[i] = (struct snap_section){ .type = sh.type, .data = buf + off, .length = sh.length };
		off += (size_t)sh.length;
		size_t padn = (8 - off % 8) % 8;
		if (padn > len - off)
			return bad(err, "section %u's padding runs past the end of the file", i);
		off += padn;
	}
	if (off != len)
		return bad(err, "it has %zu bytes after its last section", len - off);
	f->count = h.section_count;
	return 0;
}

void snap_file_free(struct snap_file *f)
{
	free(f->buf);
	*f = (struct snap_file){ 0 };
}

void snap_reader_init(struct snap_reader *r, const struct snap_section *s)
{
	*r = (struct snap_reader){ .p = s->data, .left = (size_t)s->length };
}

void snap_get(struct snap_reader *r, void *out, size_t len)
{
	if (r->bad || len > r->left) {
		r->bad = true;
		memset(out, 0, len);
		return;
	}
	memcpy(out, r->p, len);
	r->p += len;
	r->left -= len;
}

uint32_t snap_get_u32(struct snap_reader *r)
{
	uint32_t v;
	snap_get(r, &v, sizeof(v));
	return v;
}

uint64_t snap_get_u64(struct snap_reader *r)
{
	uint64_t v;
	snap_get(r, &v, sizeof(v));
	return v;
}

void snap_get_str(struct snap_reader *r, char *out, size_t max)
{
	uint32_t n = snap_get_u32(r);
	if (r->bad || n >= max || n > r->left) {
		r->bad = true;
		out[0] = '\0';
		return;
	}
	memcpy(out, r->p, n);
	out[n] = '\0';
	r->p += n;
	r->left -= n;
}
