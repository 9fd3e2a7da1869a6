/* A small HTTP/1.1 server over lwIP (<pvmm/socket.h>):
 *   GET /        a static page
 *   GET /stats   requests served, bytes sent, and the monitor's counts for
 *                this VM (PVMM_CALL_STATS): VM exits, virtio kicks, ...
 * HEAD for both; 404 for any other path, 405 for other methods, and for
 * a malformed request the status the parser gives (400, 413, 431, 505,
 * ...) with Connection: close. Keep-alive as HTTP/1.1 says (1.0: only if
 * asked for). Up to 8 connections at once, each closed after 10 s idle.
 * Requests are parsed by src/api/http.c, the monitor's own strict parser
 * (fuzzed by tests/fuzz/fuzz_http.c).
 *
 *   build/pvmm run --net user,hostfwd=tcp:127.0.0.1:8080-:80 build/examples/httpd.elf
 *   curl http://127.0.0.1:8080/stats
 *
 * Arguments: ip=A.B.C.D/LEN gw=A.B.C.D (default: DHCP), port=N (80),
 * requests=N (exit after N requests; default: serve forever). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pvmm/guest.h>
#include <pvmm/para_calls.h>
#include <pvmm/socket.h>
#include "http.h"

#define MAX_CLIENTS 8
#define BUF_CAP 16384
#define IDLE_NS (10ull * 1000000000u)

struct client {
	int s; /* -1: free */
	size_t len;
	uint64_t idle_at;
	char buf[BUF_CAP];
};

static struct client clients[MAX_CLIENTS];
static unsigned long long requests, bytes_sent, refused;

static const char index_page[] =
	"<!doctype html>\n<html><head><title>pvmm httpd</title></head><body>\n"
	"<h1>Hello from a pvmm guest</h1>\n"
	"<p>This page comes from lwIP's TCP in a paravirtualized VM, over virtio-net.\n"
	"See <a href=\"/stats\">/stats</a> for what serving it cost.</p>\n"
	"</body></html>\n";

static const char *reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 431: return "Request Header Fields Too Large";
	case 501: return "Not Implemented";
	case 505: return "HTTP Version Not Supported";
	default: return "Error";
	}
}

static void drop(struct client *c)
{
	sock_close(c->s);
	c->s = -1;
	c->len = 0;
}

/* One whole response. false if the connection failed meanwhile. */
static bool respond(struct client *c, int status, const char *type, const char *body, size_t len, bool keep,
		    bool head)
{
	char hdr[320];
	int n = snprintf(hdr, sizeof hdr,
			 "HTTP/1.1 %d %s\r\nServer: pvmm-httpd\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			 "%sConnection: %s\r\n\r\n",
			 status, reason(status), type, len, status == 405 ? "Allow: GET, HEAD\r\n" : "",
			 keep ? "keep-alive" : "close");
	if (sock_send(c->s, hdr, (size_t)n) != n)
		return false;
	bytes_sent += (unsigned long long)n;
	if (!head && len) {
		if (sock_send(c->s, body, len) != (long)len)
			return false;
		bytes_sent += len;
	}
	return true;
}

static size_t stats_page(char *out, size_t cap)
{
	struct pvmm_vm_stats vs;
	memset(&vs, 0, sizeof vs);
	int64_t r = pvmm_vm_stats(&vs);
	struct netstack_stats ns;
	netstack_get_stats(&ns);
	int n = snprintf(out, cap,
			 "requests %llu\nbytes_sent %llu\nrefused %llu\n"
			 "frames_in %llu\nframes_out %llu\n"
			 "vm_exits %llu\nvm_exits_io %llu\nvm_exits_mmio %llu\nvm_exits_hlt %llu\n"
			 "para_calls %llu\npolls %llu\nkicks %llu\ninterrupts %llu\nuptime_ms %llu\n%s",
			 requests, bytes_sent, refused, (unsigned long long)ns.frames_in,
			 (unsigned long long)ns.frames_out, (unsigned long long)vs.exits,
			 (unsigned long long)vs.exits_io, (unsigned long long)vs.exits_mmio,
			 (unsigned long long)vs.exits_hlt, (unsigned long long)vs.calls,
			 (unsigned long long)vs.polls, (unsigned long long)vs.kicks,
			 (unsigned long long)vs.interrupts, (unsigned long long)(vs.uptime_ns / 1000000u),
			 r < 0 ? "(the monitor has no STATS call: para-API before 1.5)\n" : "");
	return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

/* Serve every complete request in the buffer. false: close the connection. */
static bool serve(struct client *c)
{
	while (c->len) {
		struct http_request req;
		long n = http_parse(c->buf, c->len, &req);
		if (n == 0) {
			if (c->len < BUF_CAP)
				return true; /* wait for the rest */
			n = req.head_len ? -413 : -431;
		}
		if (n < 0) {
			refused++;
			char msg[128];
			int m = snprintf(msg, sizeof msg, "%d %s: %s\n", (int)-n, reason((int)-n),
					 req.error ? req.error : "request too large");
			respond(c, (int)-n, "text/plain", msg, (size_t)m, false, false);
			return false;
		}
		requests++;
		bool head = req.method_len == 4 && !memcmp(req.method, "HEAD", 4);
		bool get = req.method_len == 3 && !memcmp(req.method, "GET", 3);
		bool ok;
		if (!get && !head) {
			static const char msg[] = "405: only GET and HEAD\n";
			ok = respond(c, 405, "text/plain", msg, sizeof msg - 1, req.keep_alive, false);
		} else if (req.path_len == 1 && req.path[0] == '/') {
			ok = respond(c, 200, "text/html", index_page, sizeof index_page - 1, req.keep_alive, head);
		} else if (req.path_len == 6 && !memcmp(req.path, "/stats", 6)) {
			static char page[1024];
			size_t len = stats_page(page, sizeof page);
			ok = respond(c, 200, "text/plain", page, len, req.keep_alive, head);
		} else {
			static const char msg[] = "404: no such page\n";
			ok = respond(c, 404, "text/plain", msg, sizeof msg - 1, req.keep_alive, head);
		}
		if (!ok || !req.keep_alive)
			return false;
		memmove(c->buf, c->buf + n, c->len - (size_t)n);
		c->len -= (size_t)n;
	}
	return true;
}

int main(int argc, char **argv)
{
	struct netstack_config cfg;
	if (netstack_config_from_args(argc, argv, &cfg))
		return 2;
	unsigned long port = 80, max_requests = 0;
	for (int i = 1; i < argc; i++) {
		if (!strncmp(argv[i], "port=", 5))
			port = strtoul(argv[i] + 5, NULL, 10);
		else if (!strncmp(argv[i], "requests=", 9))
			max_requests = strtoul(argv[i] + 9, NULL, 10);
	}
	int err = netstack_init(&cfg, pvmm_now_ns() + 10ull * 1000000000u);
	if (err) {
		printf("httpd: no network: %s\n", err == -ENODEV ? "no virtio-net NIC (run with --net user or --net tap=NAME)"
						    : err == -ETIMEDOUT ? "no DHCP lease (or give ip=A.B.C.D/LEN)" : "error");
		return 1;
	}
	int l = sock_socket(SOCK_STREAM);
	struct sock_addr any = { 0, (uint16_t)port };
	if (l < 0 || (err = sock_bind(l, &any)) || (err = sock_listen(l, 8))) {
		printf("httpd: cannot listen on port %lu: error %d\n", port, l < 0 ? l : err);
		return 1;
	}
	uint32_t addr;
	char as[16];
	netstack_addr(&addr, NULL, NULL);
	printf("httpd ready on %s:%lu (%s)\n", netstack_ntoa(addr, as), port, cfg.addr ? "static" : "dhcp");
	for (int i = 0; i < MAX_CLIENTS; i++)
		clients[i].s = -1;

	while (!max_requests || requests < max_requests) {
		struct sock_pollfd fds[MAX_CLIENTS + 1];
		struct client *who[MAX_CLIENTS + 1];
		unsigned n = 0, free_slots = 0;
		uint64_t deadline = NETSTACK_FOREVER;
		for (int i = 0; i < MAX_CLIENTS; i++) {
			struct client *c = &clients[i];
			if (c->s < 0) {
				free_slots++;
				continue;
			}
			if (c->idle_at < deadline)
				deadline = c->idle_at;
			who[n] = c;
			fds[n++] = (struct sock_pollfd){ c->s, SOCK_POLLIN, 0 };
		}
		/* A full table leaves new connections in the listener's backlog. */
		if (free_slots) {
			who[n] = NULL;
			fds[n++] = (struct sock_pollfd){ l, SOCK_POLLIN, 0 };
		}
		sock_poll(fds, n, deadline);
		uint64_t now = pvmm_now_ns();
		for (unsigned i = 0; i < n; i++) {
			struct client *c = who[i];
			if (!c) {
				if (!fds[i].revents)
					continue;
				int s = sock_accept(l, NULL);
				for (int j = 0; s >= 0 && j < MAX_CLIENTS; j++) {
					if (clients[j].s < 0) {
						clients[j].s = s;
						clients[j].len = 0;
						clients[j].idle_at = now + IDLE_NS;
						s = -1;
					}
				}
				if (s >= 0)
					sock_close(s);
				continue;
			}
			if (!fds[i].revents) {
				if (now >= c->idle_at)
					drop(c);
				continue;
			}
			long r = c->len < BUF_CAP ? sock_recv(c->s, c->buf + c->len, BUF_CAP - c->len) : 0;
			if (r <= 0) {
				drop(c);
				continue;
			}
			c->len += (size_t)r;
			c->idle_at = now + IDLE_NS;
			if (!serve(c))
				drop(c);
		}
	}
	printf("httpd done: %llu requests, %llu bytes sent, %llu refused\n", requests, bytes_sent, refused);
	for (int i = 0; i < MAX_CLIENTS; i++)
		if (clients[i].s >= 0)
			drop(&clients[i]);
	sock_close(l);
	return 0;
}
