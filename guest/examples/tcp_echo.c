/* TCP echo over lwIP (<pvmm/socket.h>) on the first virtio-net NIC.
 *
 * Server (the default): echoes every connection on port 7, one after the
 * other, until `conns=N` connections have ended (default: forever), and
 * UDP datagrams to port 7 between connections:
 *   build/pvmm run --net user,hostfwd=tcp:127.0.0.1:7777-:7 build/examples/tcp_echo.elf
 *   python3 -c '...connect to 127.0.0.1:7777...'
 * Client (`send=A.B.C.D:PORT bytes=N`): connects to a host listener and
 * sends N bytes of a fixed pattern (byte i is ((i ^ i>>8 ^ i>>16) * 37) &
 * 255), then closes; with user networking the host is 10.0.2.2.
 * Either way the address comes from ip=A.B.C.D/LEN gw=A.B.C.D, or from
 * DHCP without ip=. `port=N` changes the server's port. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pvmm/guest.h>
#include <pvmm/socket.h>

static uint8_t buf[32768];

static const char *arg(int argc, char **argv, const char *key)
{
	size_t n = strlen(key);
	for (int i = 1; i < argc; i++)
		if (!strncmp(argv[i], key, n))
			return argv[i] + n;
	return NULL;
}

static void print_mbps(const char *what, uint64_t bytes, uint64_t ns)
{
	uint64_t kbps = ns ? bytes * 1000000ull / ns : 0; /* bytes per ms = KB/s */
	printf("%s %llu bytes in %llu ms: %llu.%02llu MB/s\n", what, (unsigned long long)bytes,
	       (unsigned long long)(ns / 1000000u), (unsigned long long)(kbps / 1000u),
	       (unsigned long long)(kbps % 1000u / 10u));
}

static int client(const char *dst, unsigned long long bytes)
{
	struct sock_addr to = { 0, 0 };
	const char *e;
	char *pe;
	to.addr = netstack_aton(dst, &e);
	unsigned long port = to.addr && *e == ':' ? strtoul(e + 1, &pe, 10) : 0;
	if (!port || port > 65535 || *pe) {
		printf("tcp_echo: send=%s: expected send=A.B.C.D:PORT\n", dst);
		return 2;
	}
	to.port = (uint16_t)port;
	int s = sock_socket(SOCK_STREAM);
	if (s < 0) {
		printf("tcp_echo: socket: %d\n", s);
		return 1;
	}
	uint64_t t0 = pvmm_now_ns();
	int err = sock_connect(s, &to);
	if (err) {
		printf("tcp_echo: connect to %s: error %d\n", dst, err);
		return 1;
	}
	unsigned long long sent = 0;
	while (sent < bytes) {
		size_t n = bytes - sent < sizeof buf ? (size_t)(bytes - sent) : sizeof buf;
		for (size_t i = 0; i < n; i++) {
			unsigned long long k = sent + i;
			buf[i] = (uint8_t)(((k ^ (k >> 8) ^ (k >> 16)) * 37) & 255);
		}
		long w = sock_send(s, buf, n);
		if (w < 0) {
			printf("tcp_echo: send failed after %llu bytes: error %ld\n", sent, w);
			return 1;
		}
		sent += (unsigned long long)w;
	}
	sock_close(s); /* waits until the host has acknowledged it all */
	print_mbps("tcp_echo sent", sent, pvmm_now_ns() - t0);
	return 0;
}

int main(int argc, char **argv)
{
	struct netstack_config cfg;
	if (netstack_config_from_args(argc, argv, &cfg))
		return 2;
	int err = netstack_init(&cfg, pvmm_now_ns() + 10ull * 1000000000u);
	if (err) {
		printf("tcp_echo: no network: %s\n", err == -ENODEV ? "no virtio-net NIC (run with --net user or --net tap=NAME)"
						       : err == -ETIMEDOUT ? "no DHCP lease (or give ip=A.B.C.D/LEN)" : "error");
		return 1;
	}
	uint32_t addr, mask, gw;
	char as[16], gs[16];
	netstack_addr(&addr, &mask, &gw);
	printf("tcp_echo: address %s gateway %s (%s)\n", netstack_ntoa(addr, as), netstack_ntoa(gw, gs),
	       cfg.addr ? "static" : "dhcp");

	const char *dst = arg(argc, argv, "send=");
	if (dst) {
		const char *b = arg(argc, argv, "bytes=");
		return client(dst, b ? strtoull(b, NULL, 0) : 1048576);
	}

	const char *p = arg(argc, argv, "port=");
	const char *c = arg(argc, argv, "conns=");
	unsigned long port = p ? strtoul(p, NULL, 10) : 7, conns = c ? strtoul(c, NULL, 10) : 0;
	int l = sock_socket(SOCK_STREAM);
	struct sock_addr any = { 0, (uint16_t)port };
	if (l < 0 || (err = sock_bind(l, &any)) || (err = sock_listen(l, 4))) {
		printf("tcp_echo: cannot listen on port %lu: error %d\n", port, l < 0 ? l : err);
		return 1;
	}
	/* UDP echo on the same port, served between TCP connections. */
	int u = sock_socket(SOCK_DGRAM);
	if (u < 0 || (err = sock_bind(u, &any))) {
		printf("tcp_echo: cannot bind UDP port %lu: error %d\n", port, u < 0 ? u : err);
		return 1;
	}
	printf("tcp_echo ready port %lu\n", port);
	unsigned long served = 0, datagrams = 0;
	unsigned long long total = 0;
	while (!conns || served < conns) {
		struct sock_pollfd fds[2] = { { l, SOCK_POLLIN, 0 }, { u, SOCK_POLLIN, 0 } };
		if (sock_poll(fds, 2, NETSTACK_FOREVER) <= 0)
			continue;
		if (fds[1].revents & SOCK_POLLIN) {
			struct sock_addr from;
			long r = sock_recvfrom(u, buf, sizeof buf, &from);
			if (r >= 0 && sock_sendto(u, buf, (size_t)r, &from) == r)
				datagrams++;
		}
		if (!(fds[0].revents & SOCK_POLLIN))
			continue;
		struct sock_addr peer;
		int s = sock_accept(l, &peer);
		if (s < 0)
			continue;
		uint64_t t0 = pvmm_now_ns();
		unsigned long long n = 0;
		long r;
		while ((r = sock_recv(s, buf, sizeof buf)) > 0) {
			long w = sock_send(s, buf, (size_t)r);
			if (w != r)
				break;
			n += (unsigned long long)r;
		}
		sock_close(s);
		served++;
		total += n;
		char ps[16];
		printf("tcp_echo: connection %lu from %s:%u: ", served, netstack_ntoa(peer.addr, ps), peer.port);
		print_mbps("echoed", n, pvmm_now_ns() - t0);
	}
	struct netstack_stats st;
	netstack_get_stats(&st);
	printf("tcp_echo done: %lu connections, %llu bytes, %lu datagrams, frames in %llu out %llu\n", served,
	       total, datagrams, (unsigned long long)st.frames_in, (unsigned long long)st.frames_out);
	sock_close(u);
	sock_close(l);
	return 0;
}
