/*
 * A hostile (and, for comparison, a polite) vhost-user front end for
 * tests/integration/test_vhost_user.sh: no QEMU, no guest, just messages.
 *
 *   vu_client SOCKET SCENARIO
 *
 * Polite scenarios check the back end's answers and exit 0 when they are
 * right: "hello" (features, protocol features, config: prints the
 * capacity), "io" (a memory table at 1 GiB guest-physical with a ring
 * in it: writes a sector, reads it back, compares; prints "io ok") and
 * "console" (a virtio console's two rings: sends a line on the transmitq,
 * prints "received: LINE" for the line the back end's input fills the
 * posted receive buffers with; "console-eof": the first one comes back
 * empty, end of input).
 * Hostile scenarios send one wrong thing and exit 0 when the back end
 * then closes the connection (within 5 s) instead of answering or
 * crashing. Exit 1 with a message on stderr otherwise.
 */
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_ring.h>

#define MEM_SIZE (1u << 20)
#define MEM_GPA 0x40000000ull
#define RING_NUM 8
#define OFF_DESC 0x0
#define OFF_AVAIL 0x1000
#define OFF_USED 0x2000
#define OFF_DATA 0x10000

static int sock = -1;
static uint8_t *mem;
static int mem_fd = -1, kick_fd = -1, call_fd = -1;

static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "vu_client: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static void send_raw(uint32_t req, uint32_t flags, const void *payload, uint32_t size, uint32_t claimed,
		     const int *fds, unsigned nfds)
{
	uint8_t buf[12 + 512];
	memcpy(buf, &req, 4);
	memcpy(buf + 4, &flags, 4);
	memcpy(buf + 8, &claimed, 4);
	if (size)
		memcpy(buf + 12, payload, size);
	struct iovec iov = { buf, 12 + size };
	union {
		char b[CMSG_SPACE(16 * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (nfds) {
		mh.msg_control = ctl.b;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	}
	if (sendmsg(sock, &mh, MSG_NOSIGNAL) < 0)
		die("send request %u: %s", req, strerror(errno));
}

static void send_msg(uint32_t req, const void *payload, uint32_t size, const int *fds, unsigned nfds)
{
	send_raw(req, 1, payload, size, size, fds, nfds);
}

/* Wait up to 5 s for readable; read a reply of `size` payload bytes. */
static void recv_reply(uint32_t req, void *payload, uint32_t size)
{
	struct pollfd p = { .fd = sock, .events = POLLIN };
	uint8_t buf[12 + 512];
	size_t got = 0;
	while (got < 12 + size) {
		if (poll(&p, 1, 5000) != 1)
			die("no reply to request %u", req);
		ssize_t n = recv(sock, buf + got, 12 + size - got, 0);
		if (n <= 0)
			die("connection closed instead of a reply to request %u", req);
		got += (size_t)n;
	}
	uint32_t r, flags, sz;
	memcpy(&r, buf, 4);
	memcpy(&flags, buf + 4, 4);
	memcpy(&sz, buf + 8, 4);
	if (r != req || flags != (1u | 4u) || sz != size)
		die("bad reply header to %u: request %u flags %#x size %u", req, r, flags, sz);
	memcpy(payload, buf + 12, size);
}

static uint64_t get_u64(uint32_t req)
{
	uint64_t v;
	send_msg(req, NULL, 0, NULL, 0);
	recv_reply(req, &v, 8);
	return v;
}

static void set_u64(uint32_t req, uint64_t v, const int *fds, unsigned nfds)
{
	send_msg(req, &v, 8, fds, nfds);
}

static void set_state(uint32_t req, uint32_t index, uint32_t num)
{
	uint32_t s[2] = { index, num };
	send_msg(req, s, 8, NULL, 0);
}

/* The back end must close: EOF within 5 s, no reply bytes first. */
static void expect_close(const char *what)
{
	struct pollfd p = { .fd = sock, .events = POLLIN };
	char c;
	if (poll(&p, 1, 5000) != 1)
		die("%s: the back end did not close the connection", what);
	ssize_t n = recv(sock, &c, 1, 0);
	/* ECONNRESET: it closed with our unread bytes still queued. */
	if (n > 0 || (n < 0 && errno != ECONNRESET))
		die("%s: the back end answered instead of closing", what);
	printf("closed: %s\n", what);
	exit(0);
}

struct region {
	uint64_t gpa, size, uva, off;
};

static void make_mem(void)
{
	mem_fd = memfd_create("vu-client", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (mem_fd < 0 || ftruncate(mem_fd, MEM_SIZE) || fcntl(mem_fd, F_ADD_SEALS, F_SEAL_SHRINK))
		die("memfd: %s", strerror(errno));
	mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, mem_fd, 0);
	if (mem == MAP_FAILED)
		die("mmap: %s", strerror(errno));
}

static void send_table(const struct region *r, unsigned n, const int *fds, bool need_reply)
{
	uint8_t p[8 + 32 * 16] = { 0 };
	uint32_t nr = n;
	memcpy(p, &nr, 4);
	memcpy(p + 8, r, 32 * n);
	send_raw(5, need_reply ? 1 | 8 : 1, p, 8 + 32 * n, 8 + 32 * n, fds, n);
	if (need_reply) {
		uint64_t ack;
		recv_reply(5, &ack, 8);
		if (ack)
			die("SET_MEM_TABLE acknowledged with %llu", (unsigned long long)ack);
	}
}

static uint64_t uva(uint64_t off)
{
	return (uint64_t)(uintptr_t)mem + off;
}

/* Ring q's parts: ring 0 at OFF_DESC/_AVAIL/_USED, each next one 0x3000 on. */
#define RING_OFF(q, part) ((q) * 0x3000u + (part))

static int kick_fds[2] = { -1, -1 }, call_fds[2] = { -1, -1 };

/* Handshake with `features` and `nq` ready rings in a table at MEM_GPA;
 * ring 0's fds are also kick_fd and call_fd. */
static void setup_rings(unsigned nq, uint64_t features)
{
	make_mem();
	send_msg(3, NULL, 0, NULL, 0); /* SET_OWNER */
	uint64_t f = get_u64(1);
	if (!(f & (1ull << 30)) || !(f & (1ull << 32)))
		die("features %#llx lack PROTOCOL_FEATURES or VERSION_1", (unsigned long long)f);
	set_u64(2, (1ull << 32) | (1ull << 30) | features, NULL, 0);
	uint64_t pf = get_u64(15);
	if (!(pf & (1ull << 3)))
		die("protocol features %#llx lack REPLY_ACK", (unsigned long long)pf);
	set_u64(16, pf & ((1ull << 3) | (1ull << 9)), NULL, 0);
	struct region r = { MEM_GPA, MEM_SIZE, uva(0), 0 };
	send_table(&r, 1, &mem_fd, true);
	for (unsigned q = 0; q < nq; q++) {
		set_state(8, q, RING_NUM);
		set_state(10, q, 0);
		uint32_t ix[2] = { q, 0 };
		uint64_t a[4] = { uva(RING_OFF(q, OFF_DESC)), uva(RING_OFF(q, OFF_USED)), uva(RING_OFF(q, OFF_AVAIL)), 0 };
		uint8_t p[40];
		memcpy(p, ix, 8);
		memcpy(p + 8, a, 32);
		send_msg(9, p, 40, NULL, 0);
		call_fds[q] = eventfd(0, EFD_CLOEXEC);
		kick_fds[q] = eventfd(0, EFD_CLOEXEC);
		set_u64(13, q, &call_fds[q], 1);
		set_u64(12, q, &kick_fds[q], 1);
		set_state(18, q, 1);
	}
	kick_fd = kick_fds[0];
	call_fd = call_fds[0];
}

/* Handshake and one ready ring (a disk's) in a table at MEM_GPA. */
static void setup(void)
{
	setup_rings(1, 1ull << VIRTIO_BLK_F_FLUSH);
}

static uint16_t avail_idx;

/* Queue one request: header, data (512 bytes at data_gpa), status. */
static void queue_req(uint32_t type, uint64_t sector, uint64_t data_gpa, bool data_in)
{
	struct vring_desc *d = (void *)(mem + OFF_DESC);
	struct vring_avail *av = (void *)(mem + OFF_AVAIL);
	struct virtio_blk_outhdr *h = (void *)(mem + OFF_DATA);
	h->type = type;
	h->ioprio = 0;
	h->sector = sector;
	mem[OFF_DATA + 0x100] = 0xee;
	d[0] = (struct vring_desc){ MEM_GPA + OFF_DATA, 16, VRING_DESC_F_NEXT, 1 };
	d[1] = (struct vring_desc){ data_gpa, 512, VRING_DESC_F_NEXT | (data_in ? VRING_DESC_F_WRITE : 0), 2 };
	d[2] = (struct vring_desc){ MEM_GPA + OFF_DATA + 0x100, 1, VRING_DESC_F_WRITE, 0 };
	if (!data_gpa) /* no data (a flush): header, then status */
		d[0].next = 2;
	av->ring[avail_idx % RING_NUM] = 0;
	__atomic_store_n(&av->idx, ++avail_idx, __ATOMIC_RELEASE);
	uint64_t one = 1;
	if (write(kick_fd, &one, 8) != 8)
		die("kick: %s", strerror(errno));
}

static void wait_used(void)
{
	struct vring_used *u = (void *)(mem + OFF_USED);
	for (int i = 0; i < 500; i++) {
		if (__atomic_load_n(&u->idx, __ATOMIC_ACQUIRE) == avail_idx)
			break;
		struct pollfd p = { .fd = call_fd, .events = POLLIN };
		uint64_t n;
		if (poll(&p, 1, 10) == 1 && read(call_fd, &n, 8) != 8)
			die("call fd: %s", strerror(errno));
	}
	if (u->idx != avail_idx)
		die("request %u was not answered", avail_idx);
	if (mem[OFF_DATA + 0x100] != VIRTIO_BLK_S_OK)
		die("request %u answered with status %u", avail_idx, mem[OFF_DATA + 0x100]);
}

static void connect_to(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	for (int i = 0; i < 100; i++) {
		sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (connect(sock, (struct sockaddr *)&a, sizeof(a)) == 0)
			return;
		close(sock);
		usleep(50000);
	}
	die("cannot connect to %s: %s", path, strerror(errno));
}

/* Post one buffer of `len` bytes at data offset `off` on console ring q
 * (device-writable for the receiveq), and kick. */
static void console_post(unsigned q, uint16_t *idx, uint32_t off, uint32_t len, bool writable)
{
	struct vring_desc *d = (void *)(mem + RING_OFF(q, OFF_DESC));
	struct vring_avail *av = (void *)(mem + RING_OFF(q, OFF_AVAIL));
	uint16_t slot = *idx % RING_NUM;
	d[slot] = (struct vring_desc){ MEM_GPA + off, len, writable ? VRING_DESC_F_WRITE : 0, 0 };
	av->ring[slot] = slot;
	__atomic_store_n(&av->idx, ++*idx, __ATOMIC_RELEASE);
	uint64_t one = 1;
	if (write(kick_fds[q], &one, 8) != 8)
		die("kick ring %u: %s", q, strerror(errno));
}

/* Wait up to `ms` for ring q's used index to pass `seen`; false if not. */
static bool console_wait(unsigned q, uint16_t seen, int ms)
{
	struct vring_used *u = (void *)(mem + RING_OFF(q, OFF_USED));
	for (int t = 0; t < ms; t += 10) {
		if (__atomic_load_n(&u->idx, __ATOMIC_ACQUIRE) != seen)
			return true;
		struct pollfd p = { .fd = call_fds[q], .events = POLLIN };
		uint64_t n;
		if (poll(&p, 1, 10) == 1 && read(call_fds[q], &n, 8) != 8)
			die("call fd %u: %s", q, strerror(errno));
	}
	return __atomic_load_n(&u->idx, __ATOMIC_ACQUIRE) != seen;
}

/* The console scenarios: receiveq 0, transmitq 1 (port 0, no MULTIPORT).
 * Sends a line, then prints the line the back end's input put into the
 * receive buffers posted here ("received: LINE"); 10 s for it all. With
 * `want_eof` the back end's input has ended: the first receive buffer
 * must come back empty ("end of input"). */
static int console(bool want_eof)
{
	static const char line[] = "hello from the front end\n";
	enum { RX_OFF = OFF_DATA + 0x1000, RX_LEN = 64, RX_BUFS = RING_NUM / 2 };
	uint16_t rx_avail = 0, rx_seen = 0, tx_avail = 0;
	char got[RX_BUFS * RX_LEN + 1];
	size_t got_len = 0;

	setup_rings(2, 0);
	for (unsigned i = 0; i < RX_BUFS; i++)
		console_post(0, &rx_avail, RX_OFF + i * RX_LEN, RX_LEN, true);
	memcpy(mem + OFF_DATA, line, sizeof(line) - 1);
	console_post(1, &tx_avail, OFF_DATA, sizeof(line) - 1, false);
	if (!console_wait(1, 0, 5000))
		die("the transmit buffer was not used");
	struct vring_used *u = (void *)(mem + RING_OFF(0, OFF_USED));
	while (!memchr(got, '\n', got_len)) {
		if (rx_seen == rx_avail)
			die("the receive buffers are used up without a line: '%.*s'", (int)got_len, got);
		if (!console_wait(0, rx_seen, 5000))
			die("no input from the back end (got '%.*s')", (int)got_len, got);
		while (rx_seen != __atomic_load_n(&u->idx, __ATOMIC_ACQUIRE)) {
			struct vring_used_elem e = u->ring[rx_seen % RING_NUM];
			rx_seen++;
			if (e.id >= RING_NUM || e.len > RX_LEN)
				die("used receive buffer %u with length %u", e.id, e.len);
			if (e.len == 0 && want_eof && got_len == 0) {
				printf("end of input\n");
				return 0;
			}
			if (e.len == 0)
				die("end of input before a line (got '%.*s')", (int)got_len, got);
			memcpy(got + got_len, mem + RX_OFF + e.id * RX_LEN, e.len);
			got_len += e.len;
		}
	}
	if (want_eof)
		die("input '%.*s' where its end was expected", (int)got_len, got);
	printf("received: %.*s", (int)got_len, got);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 3)
		die("usage: vu_client SOCKET SCENARIO");
	connect_to(argv[1]);
	const char *s = argv[2];

	if (!strcmp(s, "hello")) {
		uint64_t f = get_u64(1);
		uint64_t pf = get_u64(15);
		set_u64(16, pf & ((1ull << 3) | (1ull << 9)), NULL, 0);
		uint8_t cfg[12 + 60] = { 0 };
		uint32_t hdr[3] = { 0, 60, 0 };
		memcpy(cfg, hdr, 12);
		send_msg(24, cfg, sizeof(cfg), NULL, 0);
		recv_reply(24, cfg, sizeof(cfg));
		uint64_t cap;
		memcpy(&cap, cfg + 12, 8);
		printf("features %#llx protocol %#llx capacity %llu\n", (unsigned long long)f, (unsigned long long)pf,
		       (unsigned long long)cap);
		return 0;
	}
	if (!strcmp(s, "io")) {
		setup();
		for (int i = 0; i < 512; i++)
			mem[OFF_DATA + 0x1000 + i] = (uint8_t)(i * 7 + 3);
		queue_req(VIRTIO_BLK_T_OUT, 1, MEM_GPA + OFF_DATA + 0x1000, false);
		wait_used();
		queue_req(VIRTIO_BLK_T_FLUSH, 0, 0, false);
		wait_used();
		queue_req(VIRTIO_BLK_T_IN, 1, MEM_GPA + OFF_DATA + 0x2000, true);
		wait_used();
		if (memcmp(mem + OFF_DATA + 0x1000, mem + OFF_DATA + 0x2000, 512))
			die("sector 1 read back differs from what was written");
		/* GET_VRING_BASE stops the ring and says where it is. */
		uint32_t st[2] = { 0, 0 };
		send_msg(11, st, 8, NULL, 0);
		recv_reply(11, st, 8);
		if (st[0] != 0 || st[1] != avail_idx)
			die("GET_VRING_BASE: ring %u at %u, expected 0 at %u", st[0], st[1], avail_idx);
		/* Start it again where it stopped, with a new kick fd, then
		 * replace the memory table under the running ring: both must
		 * continue at the right indices. */
		set_state(10, 0, avail_idx);
		close(kick_fd);
		kick_fd = eventfd(0, EFD_CLOEXEC);
		set_u64(12, 0, &kick_fd, 1);
		queue_req(VIRTIO_BLK_T_IN, 1, MEM_GPA + OFF_DATA + 0x3000, true);
		wait_used();
		struct region r = { MEM_GPA, MEM_SIZE, uva(0), 0 };
		send_table(&r, 1, &mem_fd, true);
		queue_req(VIRTIO_BLK_T_IN, 1, MEM_GPA + OFF_DATA + 0x4000, true);
		wait_used();
		if (memcmp(mem + OFF_DATA + 0x1000, mem + OFF_DATA + 0x3000, 512) ||
		    memcmp(mem + OFF_DATA + 0x1000, mem + OFF_DATA + 0x4000, 512))
			die("reads after a ring restart or a new memory table differ");
		printf("io ok\n");
		return 0;
	}
	if (!strcmp(s, "console") || !strcmp(s, "console-eof"))
		return console(!strcmp(s, "console-eof"));
	if (!strcmp(s, "desc-outside")) {
		setup();
		queue_req(VIRTIO_BLK_T_IN, 0, MEM_GPA + MEM_SIZE + 0x1000, true);
		expect_close(s);
	}
	if (!strcmp(s, "ring-outside")) {
		make_mem();
		struct region r = { MEM_GPA, MEM_SIZE, uva(0), 0 };
		send_table(&r, 1, &mem_fd, false);
		set_state(8, 0, RING_NUM);
		uint8_t p[40] = { 0 };
		uint64_t a[4] = { uva(MEM_SIZE - 8), uva(OFF_USED), uva(OFF_AVAIL), 0 };
		memcpy(p + 8, a, 32);
		send_msg(9, p, 40, NULL, 0);
		expect_close(s);
	}
	if (!strcmp(s, "bad-version")) {
		send_raw(1, 2, NULL, 0, 0, NULL, 0);
		expect_close(s);
	}
	if (!strcmp(s, "oversized")) {
		uint8_t junk[64] = { 0 };
		send_raw(24, 1, junk, sizeof(junk), 1u << 20, NULL, 0);
		expect_close(s);
	}
	if (!strcmp(s, "truncated")) {
		uint8_t junk[4] = { 0 };
		send_raw(2, 1, junk, sizeof(junk), 8, NULL, 0);
		shutdown(sock, SHUT_WR);
		expect_close(s);
	}
	if (!strcmp(s, "unknown-request")) {
		send_raw(99, 1, NULL, 0, 0, NULL, 0);
		expect_close(s);
	}
	if (!strcmp(s, "stray-fd")) {
		int fd = eventfd(0, 0);
		set_u64(2, 1ull << 32, &fd, 1);
		expect_close(s);
	}
	if (!strcmp(s, "too-many-regions")) {
		make_mem();
		struct region r[9];
		int fds[9];
		for (int i = 0; i < 9; i++) {
			r[i] = (struct region){ (uint64_t)i << 30, 4096, uva(0) + 4096ull * i, 4096ull * i };
			fds[i] = mem_fd;
		}
		send_table(r, 9, fds, false);
		expect_close(s);
	}
	if (!strcmp(s, "overlapping-regions")) {
		make_mem();
		struct region r[2] = { { 0, 0x80000, uva(0), 0 }, { 0x40000, 0x80000, uva(0x80000), 0x80000 } };
		int fds[2] = { mem_fd, mem_fd };
		send_table(r, 2, fds, false);
		expect_close(s);
	}
	if (!strcmp(s, "region-past-file")) {
		make_mem();
		struct region r = { 0, 64u << 20, uva(0), 0 };
		send_table(&r, 1, &mem_fd, false);
		expect_close(s);
	}
	if (!strcmp(s, "ring-size")) {
		set_state(8, 0, 3);
		expect_close(s);
	}
	if (!strcmp(s, "ring-too-big")) {
		set_state(8, 0, 65536);
		expect_close(s);
	}
	if (!strcmp(s, "ring-index")) {
		set_state(8, 5, 8);
		expect_close(s);
	}
	if (!strcmp(s, "enable-before-features")) {
		set_state(18, 0, 1);
		expect_close(s);
	}
	if (!strcmp(s, "unoffered-features")) {
		set_u64(2, (1ull << 32) | (1ull << 63), NULL, 0);
		expect_close(s);
	}
	die("unknown scenario '%s'", s);
}
