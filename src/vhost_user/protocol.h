/*
 * The vhost-user protocol, back-end side: message layout, and the checks
 * every message from the front end passes before the back end acts on it.
 *
 * Everything here is pure (no fds, no I/O, no global state), so the
 * fuzz target tests/fuzz/fuzz_vhost_user.c drives it directly. A message
 * is a 12-byte header (request, flags, payload size; host byte order, as
 * the protocol says) and a payload; file descriptors travel beside it as
 * SCM_RIGHTS. vu_parse() decodes and checks one; vu_mem_check() checks a
 * memory table; vu_uva_to_gpa() translates a front-end address.
 */
#ifndef PVMM_VHOST_USER_PROTOCOL_H
#define PVMM_VHOST_USER_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum vu_request {
	VU_GET_FEATURES = 1,
	VU_SET_FEATURES = 2,
	VU_SET_OWNER = 3,
	VU_RESET_OWNER = 4,
	VU_SET_MEM_TABLE = 5,
	VU_SET_LOG_BASE = 6,
	VU_SET_LOG_FD = 7,
	VU_SET_VRING_NUM = 8,
	VU_SET_VRING_ADDR = 9,
	VU_SET_VRING_BASE = 10,
	VU_GET_VRING_BASE = 11,
	VU_SET_VRING_KICK = 12,
	VU_SET_VRING_CALL = 13,
	VU_SET_VRING_ERR = 14,
	VU_GET_PROTOCOL_FEATURES = 15,
	VU_SET_PROTOCOL_FEATURES = 16,
	VU_GET_QUEUE_NUM = 17,
	VU_SET_VRING_ENABLE = 18,
	VU_GET_CONFIG = 24,
	VU_SET_CONFIG = 25,
	VU_RESET_DEVICE = 34,
};

/* Header flags. */
#define VU_VERSION 1u
#define VU_FLAG_VERSION_MASK 3u
#define VU_FLAG_REPLY (1u << 2)
#define VU_FLAG_NEED_REPLY (1u << 3)
#define VU_FLAGS_KNOWN (VU_FLAG_VERSION_MASK | VU_FLAG_REPLY | VU_FLAG_NEED_REPLY)

/* Feature bit 30 of GET/SET_FEATURES: the protocol-features handshake. */
#define VU_F_PROTOCOL_FEATURES 30
/* Feature bit 26 (VHOST_F_LOG_ALL): dirty logging for migration; not offered. */
#define VU_F_LOG_ALL 26

/* Protocol feature bits (GET/SET_PROTOCOL_FEATURES). */
#define VU_PROTOCOL_F_MQ 0
#define VU_PROTOCOL_F_REPLY_ACK 3
#define VU_PROTOCOL_F_CONFIG 9
#define VU_PROTOCOL_F_RESET_DEVICE 13

#define VU_HDR_SIZE 12u
#define VU_MAX_FDS 8u          /* fds one message may carry */
#define VU_MAX_REGIONS 8u      /* memory table entries (the protocol's baseline) */
#define VU_RING_MAX 32768u     /* largest ring the protocol allows */
#define VU_CONFIG_MAX 256u     /* largest config space access */
#define VU_CONFIG_HDR 12u      /* offset, size, flags */
#define VU_PAYLOAD_MAX (VU_CONFIG_HDR + VU_CONFIG_MAX) /* the largest request we take */

/* SET_VRING_KICK/CALL/ERR's u64: ring index in bits 0-7, bit 8 = no fd. */
#define VU_VRING_INDEX_MASK 0xffull
#define VU_VRING_NOFD (1ull << 8)

/* SET_VRING_ADDR flags: bit 0 asks for used-ring logging (migration). */
#define VU_VRING_F_LOG 1u

struct vu_region {
	uint64_t gpa;          /* guest-physical address */
	uint64_t size;
	uint64_t uva;          /* where the front end has it mapped */
	uint64_t mmap_offset;  /* where it starts in the fd */
};

struct vu_msg {
	uint32_t request, flags, size;
	unsigned nfds;         /* fds that came with it */
	union {
		uint64_t u64;
		struct { uint32_t index, num; } state;
		struct { uint32_t index, flags; uint64_t desc, used, avail, log; } addr;
		struct { uint32_t nregions; struct vu_region region[VU_MAX_REGIONS]; } mem;
		struct { uint32_t offset, size, flags; uint8_t data[VU_CONFIG_MAX]; } config;
	} u;
};

/* What the back end serves, for the checks that depend on it. */
struct vu_limits {
	unsigned num_queues;   /* ring indices must be below this */
	unsigned queue_max;    /* largest ring size the device takes (<= VU_RING_MAX) */
};

/* The request's name for messages ("SET_MEM_TABLE"), or NULL. */
const char *vu_request_name(uint32_t request);

/* Check a received header (the 12 bytes at hdr): version, flags, payload
 * size for that request. 0, or -1 with a reason in why. */
int vu_check_header(const uint8_t *hdr, const struct vu_limits *lim, char *why, size_t why_len);

/* Decode and check one message: the header and `size` payload bytes at
 * buf (len bytes in all), which came with nfds fds. Every field is
 * checked: request known, payload size exact for the request, fd count,
 * ring index, ring size, flags, config offset and size, memory table
 * (vu_mem_check). 0 with *msg filled, or -1 with a one-line reason. */
int vu_parse(const uint8_t *buf, size_t len, unsigned nfds, const struct vu_limits *lim, struct vu_msg *msg,
	     char *why, size_t why_len);

/* A memory table: 1..VU_MAX_REGIONS regions, none empty, none wrapping
 * around in guest-physical, front-end or fd offset space, no two sharing
 * a guest-physical or a front-end byte. 0, or -1 with a reason. */
int vu_mem_check(const struct vu_region *r, unsigned n, char *why, size_t why_len);

/* The guest-physical address of front-end address [uva, uva + len), if
 * the whole range lies in one region: true and *gpa, else false. */
bool vu_uva_to_gpa(const struct vu_region *r, unsigned n, uint64_t uva, uint64_t len, uint64_t *gpa);

/* Bytes a split ring of `num` entries takes: descriptor table, available
 * ring, used ring (event-index fields counted). */
uint64_t vu_desc_bytes(uint32_t num);
uint64_t vu_avail_bytes(uint32_t num);
uint64_t vu_used_bytes(uint32_t num);

#endif
