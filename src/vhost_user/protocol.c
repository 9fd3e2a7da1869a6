/*
 * vhost-user message checks: see protocol.h. Nothing here trusts the front
 * end: every size, count, index and address is checked before a caller
 * sees the message, and each failure says in one line what was wrong.
 */
#include "vhost_user/protocol.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int refuse(char *why, size_t why_len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int refuse(char *why, size_t why_len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, why_len, fmt, ap);
	va_end(ap);
	return -1;
}

const char *vu_request_name(uint32_t request)
{
	switch (request) {
	case VU_GET_FEATURES: return "GET_FEATURES";
	case VU_SET_FEATURES: return "SET_FEATURES";
	case VU_SET_OWNER: return "SET_OWNER";
	case VU_RESET_OWNER: return "RESET_OWNER";
	case VU_SET_MEM_TABLE: return "SET_MEM_TABLE";
	case VU_SET_LOG_BASE: return "SET_LOG_BASE";
	case VU_SET_LOG_FD: return "SET_LOG_FD";
	case VU_SET_VRING_NUM: return "SET_VRING_NUM";
	case VU_SET_VRING_ADDR: return "SET_VRING_ADDR";
	case VU_SET_VRING_BASE: return "SET_VRING_BASE";
	case VU_GET_VRING_BASE: return "GET_VRING_BASE";
	case VU_SET_VRING_KICK: return "SET_VRING_KICK";
	case VU_SET_VRING_CALL: return "SET_VRING_CALL";
	case VU_SET_VRING_ERR: return "SET_VRING_ERR";
	case VU_GET_PROTOCOL_FEATURES: return "GET_PROTOCOL_FEATURES";
	case VU_SET_PROTOCOL_FEATURES: return "SET_PROTOCOL_FEATURES";
	case VU_GET_QUEUE_NUM: return "GET_QUEUE_NUM";
	case VU_SET_VRING_ENABLE: return "SET_VRING_ENABLE";
	case VU_GET_CONFIG: return "GET_CONFIG";
	case VU_SET_CONFIG: return "SET_CONFIG";
	case VU_RESET_DEVICE: return "RESET_DEVICE";
	default: return NULL;
	}
}

/* Payload size a request must have: exact, or (SET_MEM_TABLE, the config
 * pair) a range checked again once the payload is read. -1: a request we
 * do not serve. */
static int payload_bounds(uint32_t request, uint32_t *min, uint32_t *max)
{
	switch (request) {
	case VU_GET_FEATURES:
	case VU_SET_OWNER:
	case VU_RESET_OWNER:
	case VU_GET_PROTOCOL_FEATURES:
	case VU_GET_QUEUE_NUM:
	case VU_RESET_DEVICE:
		*min = *max = 0;
		return 0;
	case VU_SET_FEATURES:
	case VU_SET_PROTOCOL_FEATURES:
	case VU_SET_VRING_KICK:
	case VU_SET_VRING_CALL:
	case VU_SET_VRING_ERR:
	case VU_SET_VRING_NUM:
	case VU_SET_VRING_BASE:
	case VU_GET_VRING_BASE:
	case VU_SET_VRING_ENABLE:
		*min = *max = 8;
		return 0;
	case VU_SET_VRING_ADDR:
		*min = *max = 40;
		return 0;
	case VU_SET_MEM_TABLE:
		*min = 8 + 32;
		*max = 8 + 32 * VU_MAX_REGIONS;
		return 0;
	case VU_GET_CONFIG:
	case VU_SET_CONFIG:
		*min = VU_CONFIG_HDR;
		*max = VU_CONFIG_HDR + VU_CONFIG_MAX;
		return 0;
	default:
		return -1;
	}
}

int vu_check_header(const uint8_t *hdr, const struct vu_limits *lim, char *why, size_t why_len)
{
	uint32_t request, flags, size, min, max;

	(void)lim;
	memcpy(&request, hdr, 4);
	memcpy(&flags, hdr + 4, 4);
	memcpy(&size, hdr + 8, 4);
	const char *name = vu_request_name(request);
	if ((flags & VU_FLAG_VERSION_MASK) != VU_VERSION)
		return refuse(why, why_len, "request %u: protocol version %u, expected %u", request,
			      flags & VU_FLAG_VERSION_MASK, VU_VERSION);
	if (flags & ~VU_FLAGS_KNOWN)
		return refuse(why, why_len, "request %u: unknown header flags %#x", request, flags & ~VU_FLAGS_KNOWN);
	if (flags & VU_FLAG_REPLY)
		return refuse(why, why_len, "request %u has the reply flag set: only the back end replies", request);
	if (payload_bounds(request, &min, &max))
		return refuse(why, why_len, "request %u%s%s%s is not supported", request, name ? " (" : "",
			      name ? name : "", name ? ")" : "");
	if (size < min || size > max)
		return refuse(why, why_len, "%s with a %u-byte payload (expected %u%s%u)", name, size, min,
			      min == max ? "" : " to ", min == max ? min : max);
	return 0;
}

static int check_index(const char *name, uint32_t index, const struct vu_limits *lim, char *why, size_t why_len)
{
	if (index >= lim->num_queues)
		return refuse(why, why_len, "%s for ring %u: the device has %u ring%s", name, index, lim->num_queues,
			      lim->num_queues == 1 ? "" : "s");
	return 0;
}

static int expect_fds(const char *name, unsigned nfds, unsigned want, char *why, size_t why_len)
{
	if (nfds != want)
		return refuse(why, why_len, "%s came with %u file descriptor%s, expected %u", name, nfds,
			      nfds == 1 ? "" : "s", want);
	return 0;
}

int vu_parse(const uint8_t *buf, size_t len, unsigned nfds, const struct vu_limits *lim, struct vu_msg *msg,
	     char *why, size_t why_len)
{
	memset(msg, 0, sizeof(*msg));
	if (len < VU_HDR_SIZE)
		return refuse(why, why_len, "a message of %zu bytes, shorter than its header", len);
	if (vu_check_header(buf, lim, why, why_len))
		return -1;
	memcpy(&msg->request, buf, 4);
	memcpy(&msg->flags, buf + 4, 4);
	memcpy(&msg->size, buf + 8, 4);
	msg->nfds = nfds;
	const char *name = vu_request_name(msg->request);
	const uint8_t *p = buf + VU_HDR_SIZE;
	if (len - VU_HDR_SIZE != msg->size)
		return refuse(why, why_len, "%s: header says %u payload bytes, %zu came", name, msg->size,
			      len - VU_HDR_SIZE);
	if (nfds > VU_MAX_FDS)
		return refuse(why, why_len, "%s came with %u file descriptors (at most %u)", name, nfds, VU_MAX_FDS);

	switch (msg->request) {
	case VU_GET_FEATURES:
	case VU_SET_OWNER:
	case VU_RESET_OWNER:
	case VU_GET_PROTOCOL_FEATURES:
	case VU_GET_QUEUE_NUM:
	case VU_RESET_DEVICE:
		return expect_fds(name, nfds, 0, why, why_len);
	case VU_SET_FEATURES:
	case VU_SET_PROTOCOL_FEATURES:
		memcpy(&msg->u.u64, p, 8);
		return expect_fds(name, nfds, 0, why, why_len);
	case VU_SET_VRING_KICK:
	case VU_SET_VRING_CALL:
	case VU_SET_VRING_ERR: {
		uint64_t v;
		memcpy(&v, p, 8);
		msg->u.u64 = v;
		if (v & ~(VU_VRING_INDEX_MASK | VU_VRING_NOFD))
			return refuse(why, why_len, "%s with unknown bits %#llx", name,
				      (unsigned long long)(v & ~(VU_VRING_INDEX_MASK | VU_VRING_NOFD)));
		if (check_index(name, (uint32_t)(v & VU_VRING_INDEX_MASK), lim, why, why_len))
			return -1;
		return expect_fds(name, nfds, v & VU_VRING_NOFD ? 0 : 1, why, why_len);
	}
	case VU_SET_VRING_NUM:
	case VU_SET_VRING_BASE:
	case VU_GET_VRING_BASE:
	case VU_SET_VRING_ENABLE: {
		memcpy(&msg->u.state.index, p, 4);
		memcpy(&msg->u.state.num, p + 4, 4);
		uint32_t num = msg->u.state.num;
		if (check_index(name, msg->u.state.index, lim, why, why_len))
			return -1;
		if (msg->request == VU_SET_VRING_NUM &&
		    (num == 0 || num > VU_RING_MAX || (num & (num - 1)) || num > lim->queue_max))
			return refuse(why, why_len, "SET_VRING_NUM %u for ring %u: a ring size is a power of two from 1 to %u",
				      num, msg->u.state.index, lim->queue_max < VU_RING_MAX ? lim->queue_max : VU_RING_MAX);
		if (msg->request == VU_SET_VRING_BASE && num > 0xffff)
			return refuse(why, why_len, "SET_VRING_BASE %u for ring %u: ring indices are 16-bit", num,
				      msg->u.state.index);
		if (msg->request == VU_SET_VRING_ENABLE && num > 1)
			return refuse(why, why_len, "SET_VRING_ENABLE %u for ring %u: neither 0 nor 1", num,
				      msg->u.state.index);
		return expect_fds(name, nfds, 0, why, why_len);
	}
	case VU_SET_VRING_ADDR:
		memcpy(&msg->u.addr.index, p, 4);
		memcpy(&msg->u.addr.flags, p + 4, 4);
		memcpy(&msg->u.addr.desc, p + 8, 8);
		memcpy(&msg->u.addr.used, p + 16, 8);
		memcpy(&msg->u.addr.avail, p + 24, 8);
		memcpy(&msg->u.addr.log, p + 32, 8);
		if (check_index(name, msg->u.addr.index, lim, why, why_len))
			return -1;
		if (msg->u.addr.flags & VU_VRING_F_LOG)
			return refuse(why, why_len, "SET_VRING_ADDR asks for used-ring logging, which was not offered");
		if (msg->u.addr.flags)
			return refuse(why, why_len, "SET_VRING_ADDR with unknown flags %#x", msg->u.addr.flags);
		return expect_fds(name, nfds, 0, why, why_len);
	case VU_SET_MEM_TABLE: {
		uint32_t n;
		memcpy(&n, p, 4);
		if (n == 0 || n > VU_MAX_REGIONS)
			return refuse(why, why_len, "SET_MEM_TABLE with %u regions (1 to %u)", n, VU_MAX_REGIONS);
		if (msg->size != 8 + 32 * n)
			return refuse(why, why_len, "SET_MEM_TABLE: %u regions take %u payload bytes, not %u", n, 8 + 32 * n,
				      msg->size);
		msg->u.mem.nregions = n;
		for (uint32_t i = 0; i < n; i++) {
			const uint8_t *r = p + 8 + 32 * i;
			memcpy(&msg->u.mem.region[i].gpa, r, 8);
			memcpy(&msg->u.mem.region[i].size, r + 8, 8);
			memcpy(&msg->u.mem.region[i].uva, r + 16, 8);
			memcpy(&msg->u.mem.region[i].mmap_offset, r + 24, 8);
		}
		if (expect_fds(name, nfds, n, why, why_len))
			return -1;
		return vu_mem_check(msg->u.mem.region, n, why, why_len);
	}
	case VU_GET_CONFIG:
	case VU_SET_CONFIG:
		memcpy(&msg->u.config.offset, p, 4);
		memcpy(&msg->u.config.size, p + 4, 4);
		memcpy(&msg->u.config.flags, p + 8, 4);
		if (msg->u.config.size > VU_CONFIG_MAX || msg->u.config.offset > VU_CONFIG_MAX - msg->u.config.size)
			return refuse(why, why_len, "%s of %u bytes at offset %u: config space ends at %u", name,
				      msg->u.config.size, msg->u.config.offset, VU_CONFIG_MAX);
		if (msg->size != VU_CONFIG_HDR + msg->u.config.size)
			return refuse(why, why_len, "%s of %u bytes in a %u-byte payload", name, msg->u.config.size,
				      msg->size);
		memcpy(msg->u.config.data, p + VU_CONFIG_HDR, msg->u.config.size);
		return expect_fds(name, nfds, 0, why, why_len);
	}
	return refuse(why, why_len, "request %u is not supported", msg->request); /* vu_check_header caught it */
}

static bool overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

int vu_mem_check(const struct vu_region *r, unsigned n, char *why, size_t why_len)
{
	if (n == 0 || n > VU_MAX_REGIONS)
		return refuse(why, why_len, "a memory table of %u regions (1 to %u)", n, VU_MAX_REGIONS);
	for (unsigned i = 0; i < n; i++) {
		if (r[i].size == 0)
			return refuse(why, why_len, "memory region %u is empty", i);
		/* Page-aligned, or ring addresses aligned in guest terms would
		 * not be in ours (and atomics on them would straddle). */
		if ((r[i].gpa | r[i].uva | r[i].mmap_offset | r[i].size) & 4095)
			return refuse(why, why_len, "memory region %u is not page-aligned", i);
		if (r[i].gpa > UINT64_MAX - r[i].size || r[i].uva > UINT64_MAX - r[i].size ||
		    r[i].mmap_offset > (uint64_t)INT64_MAX - r[i].size)
			return refuse(why, why_len, "memory region %u (%#llx bytes) wraps around", i,
				      (unsigned long long)r[i].size);
		for (unsigned j = 0; j < i; j++) {
			if (overlap(r[i].gpa, r[i].size, r[j].gpa, r[j].size))
				return refuse(why, why_len, "memory regions %u and %u overlap in guest-physical space", j, i);
			if (overlap(r[i].uva, r[i].size, r[j].uva, r[j].size))
				return refuse(why, why_len, "memory regions %u and %u overlap in the front end's space", j, i);
		}
	}
	return 0;
}

bool vu_uva_to_gpa(const struct vu_region *r, unsigned n, uint64_t uva, uint64_t len, uint64_t *gpa)
{
	for (unsigned i = 0; i < n && i < VU_MAX_REGIONS; i++) {
		if (uva >= r[i].uva && len <= r[i].size && uva - r[i].uva <= r[i].size - len) {
			*gpa = r[i].gpa + (uva - r[i].uva);
			return true;
		}
	}
	return false;
}

uint64_t vu_desc_bytes(uint32_t num)
{
	return 16ull * num;
}

uint64_t vu_avail_bytes(uint32_t num)
{
	return 6ull + 2ull * num;
}

uint64_t vu_used_bytes(uint32_t num)
{
	return 6ull + 8ull * num;
}
