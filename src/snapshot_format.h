/*
 * The snapshot state file's container (docs/snapshot.md): a fixed header
 * (magic, format version, the host's check fields), then sections, each a
 * type, a length and a CRC32 of its payload. The writer builds the file in
 * memory; the reader checks every header, length and checksum before the
 * caller sees one byte of a payload. No KVM and no VM here (unit-testable).
 */
#ifndef PVMM_SNAPSHOT_FORMAT_H
#define PVMM_SNAPSHOT_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SNAP_MAGIC "PVMMSNAP"
#define SNAP_VERSION 1u
#define SNAP_MEM_MAGIC "PVMMMEM1"
#define SNAP_MEM_TRAILER 4096u  /* bytes after the memory image in the memory file */
#define SNAP_MAX_SECTIONS 256u
#define SNAP_MAX_SECTION (16u << 20) /* no section is this large */
#define SNAP_ERR_MAX 256

enum snap_section_type {
	SNAP_SEC_CONFIG = 1,   /* text: the VM configuration, key=value lines */
	SNAP_SEC_MEMORY = 2,   /* struct snap_memory + region table */
	SNAP_SEC_VM = 3,       /* struct snap_vm_state */
	SNAP_SEC_PVMMU = 4,    /* the PV MMU's bookkeeping (pvmmu.c) */
	SNAP_SEC_VCPU = 5,     /* one per vCPU: struct snap_vcpu_state */
	SNAP_SEC_DEVICE = 6,   /* one per device: name, virtio core state, the device's own */
	SNAP_SEC_EMULATED = 7, /* the UART and IDE disk (emulated.c), if the VM has either */
};

struct snap_header {
	char magic[8];
	uint32_t version;
	uint32_t header_size;   /* sizeof(struct snap_header) */
	uint32_t section_count;
	uint32_t kvm_api;       /* KVM_GET_API_VERSION of the host that wrote it */
	uint64_t file_size;     /* the whole state file */
	uint64_t tsc_khz;       /* the vCPUs' TSC rate */
	uint8_t id[16];         /* also in the memory file's trailer: the pair belongs together */
	uint32_t abi_sizes;     /* a digest of the KVM structure sizes this build saves raw */
	uint32_t header_crc;    /* CRC32 of the header with this field 0 */
};

struct snap_section_header {
	uint32_t type;
	uint32_t crc;           /* CRC32 of the payload */
	uint64_t length;        /* payload bytes; the next section starts 8-aligned after it */
};

/* The memory file's trailer, at its end. */
struct snap_mem_trailer {
	char magic[8];
	uint8_t id[16];
	uint64_t image_size;    /* bytes of guest memory before the trailer */
	uint64_t data_pages;    /* non-zero pages written */
	uint32_t data_crc;      /* CRC32 over (page index, page) of each of them */
	uint32_t trailer_crc;   /* CRC32 of the trailer with this field 0 */
};

uint32_t snap_crc32(uint32_t crc, const void *data, size_t len);

/* A growing buffer for the state file. */
struct snap_writer {
	uint8_t *buf;
	size_t len, cap;
	unsigned sections;
	bool failed;            /* out of memory */
	size_t open_at;         /* offset of the open section's header, or SIZE_MAX */
};

void snap_writer_init(struct snap_writer *w);
void snap_writer_free(struct snap_writer *w);
void snap_begin(struct snap_writer *w, uint32_t type);
void snap_put(struct snap_writer *w, const void *data, size_t len);
void snap_put_u32(struct snap_writer *w, uint32_t v);
void snap_put_u64(struct snap_writer *w, uint64_t v);
void snap_put_str(struct snap_writer *w, const char *s); /* u32 length + bytes */
void snap_end(struct snap_writer *w);
/* Fill in the header (its count, size and CRC) once all sections are in.
 * 0, or -1 if memory ran out on the way. */
int snap_finish(struct snap_writer *w, const struct snap_header *h);

/* A checked state file in memory. */
struct snap_section {
	uint32_t type;
	const uint8_t *data;
	uint64_t length;
};
struct snap_file {
	uint8_t *buf;           /* malloc'd: the whole file */
	size_t len;
	struct snap_header header;
	unsigned count;
	struct snap_section sec[SNAP_MAX_SECTIONS];
};

/* Check `buf` (len bytes, taken over: freed by snap_file_free) as a state
 * file: magic, version, sizes, every section's bounds and CRC. 0, or -1
 * with one line in err. */
int snap_parse(struct snap_file *f, uint8_t *buf, size_t len, uint32_t abi_sizes, char err[SNAP_ERR_MAX]);
void snap_file_free(struct snap_file *f);

/* Reading a payload: every get checks the length left; once one fails,
 * `bad` stays set and later gets return zeros. */
struct snap_reader {
	const uint8_t *p;
	size_t left;
	bool bad;
};
void snap_reader_init(struct snap_reader *r, const struct snap_section *s);
void snap_get(struct snap_reader *r, void *out, size_t len);
uint32_t snap_get_u32(struct snap_reader *r);
uint64_t snap_get_u64(struct snap_reader *r);
/* A string into out[max] (NUL-terminated); too long is bad. */
void snap_get_str(struct snap_reader *r, char *out, size_t max);

#endif
