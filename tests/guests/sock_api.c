/* <pvmm/socket.h> edge cases, one line each ("name ok" or "name FAIL ..."),
 * then "sock_api done N failed". Run with --net user (DHCP). Argument
 * host=PORT: a host listener on 127.0.0.1:PORT (10.0.2.2 to the guest)
 * that accepts one connection, for the non-blocking connect. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pvmm/guest.h>
#include <pvmm/socket.h>

static int failed;

static void check(const char *name, long got, long want)
{
	if (got == want) {
		printf("%s ok\n", name);
	} else {
		printf("%s FAIL got %ld want %ld\n", name, got, want);
		failed++;
	}
}

int main(int argc, char **argv)
{
	struct netstack_config cfg;
	unsigned long hport = 0;
	for (int i = 1; i < argc; i++)
		if (!strncmp(argv[i], "host=", 5))
			hport = strtoul(argv[i] + 5, NULL, 10);
	check("before_init", sock_socket(SOCK_STREAM), -ENETDOWN);
	if (netstack_config_from_args(argc, argv, &cfg) || netstack_init(&cfg, pvmm_now_ns() + 10000000000ull)) {
		puts("sock_api: no network");
		return 1;
	}
	check("bad_type", sock_socket(7), -EPROTONOSUPPORT);
	check("bad_socket", sock_close(99), -EBADF);
	check("bad_socket_neg", sock_send(-1, "x", 1), -EBADF);

	int l = sock_socket(SOCK_STREAM | SOCK_NONBLOCK);
	struct sock_addr a = { 0, 5000 };
	check("bind", sock_bind(l, &a), 0);
	int l2 = sock_socket(SOCK_STREAM);
	check("bind_in_use", sock_bind(l2, &a), -EADDRINUSE);
	sock_close(l2);
	check("recv_unconnected", sock_recv(l, (char[4]){ 0 }, 4), -ENOTCONN);
	check("accept_not_listening", sock_accept(l, NULL), -EINVAL);
	check("listen", sock_listen(l, 4), 0);
	check("accept_nonblock_empty", sock_accept(l, NULL), -EAGAIN);
	check("sendto_on_tcp", sock_sendto(l, "x", 1, &a), -EOPNOTSUPP);

	/* A poll with nothing ready returns 0 at its deadline, not before. */
	struct sock_pollfd p = { l, SOCK_POLLIN, 0 };
	uint64_t t0 = pvmm_now_ns();
	check("poll_deadline", sock_poll(&p, 1, t0 + 200000000ull), 0);
	check("poll_waited", pvmm_now_ns() - t0 >= 200000000ull, 1);
	struct sock_pollfd bad = { 42, SOCK_POLLIN, 0 };
	check("poll_bad_socket", sock_poll(&bad, 1, 0), -EBADF);

	int u = sock_socket(SOCK_DGRAM | SOCK_NONBLOCK);
	check("udp_recv_nonblock_empty", sock_recv(u, (char[4]){ 0 }, 4), -EAGAIN);
	check("udp_send_unconnected", sock_send(u, "x", 1), -ENOTCONN);
	check("udp_too_big", sock_sendto(u, "x", 70000, &a), -EMSGSIZE);
	sock_close(u);

	/* The table holds SOCK_MAX sockets, then -EMFILE; closing frees. */
	int s[SOCK_MAX];
	int n = 0;
	while (n < SOCK_MAX && (s[n] = sock_socket(SOCK_DGRAM)) >= 0)
		n++;
	check("table_full", sock_socket(SOCK_DGRAM), -EMFILE);
	check("table_size", n, SOCK_MAX - 1); /* the listener holds one */
	while (n)
		sock_close(s[--n]);
	int again = sock_socket(SOCK_DGRAM);
	check("table_freed", again >= 0, 1);
	sock_close(again);

	if (hport) {
		int c = sock_socket(SOCK_STREAM | SOCK_NONBLOCK);
		struct sock_addr h = { 0x0a000202, (uint16_t)hport };
		check("connect_nonblock", sock_connect(c, &h), -EINPROGRESS);
		check("connect_again", sock_connect(c, &h), -EALREADY);
		struct sock_pollfd w = { c, SOCK_POLLOUT, 0 };
		check("connect_poll_out", sock_poll(&w, 1, pvmm_now_ns() + 5000000000ull), 1);
		check("connect_revents", w.revents & SOCK_POLLOUT, SOCK_POLLOUT);
		check("send_nonblock", sock_send(c, "hello", 5), 5);
		check("connect_connected", sock_connect(c, &h), -EISCONN);
		/* The host closes after reading: end of stream, then POLLHUP. */
		sock_set_nonblock(c, 0);
		check("recv_eof", sock_recv(c, (char[16]){ 0 }, 16), 0);
		struct sock_pollfd hup = { c, SOCK_POLLIN, 0 };
		sock_poll(&hup, 1, 0);
		check("pollhup", (hup.revents & SOCK_POLLHUP) != 0, 1);
		check("close", sock_close(c), 0);
	}
	sock_close(l);
	printf("sock_api done %d failed\n", failed);
	return failed ? 1 : 0;
}
