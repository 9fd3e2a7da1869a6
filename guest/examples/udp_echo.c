/* UDP echo on port 7 over the first virtio-net NIC, with a static address:
 *   ip tuntap add dev pvtap0 mode tap; ip addr add 10.0.2.2/24 dev pvtap0; ip link set pvtap0 up
 *   build/pvmm run --net tap=pvtap0 build/examples/udp_echo.elf ip=10.0.2.15/24 gw=10.0.2.2
 * then `ping 10.0.2.15` or send datagrams to 10.0.2.15:7. Every datagram
 * comes back to its sender; the datagram "quit" ends the program (exit 0)
 * after it prints what the IPv4 layer counted. */
#include <stdio.h>
#include <string.h>
#include <pvmm/guest.h>
#include <pvmm/net.h>

int main(int argc, char **argv)
{
	struct ip_config cfg;
	if (ip_config_from_args(argc, argv, &cfg)) {
		puts("usage: udp_echo.elf ip=A.B.C.D/LEN [gw=A.B.C.D] [nic=N]");
		return 2;
	}
	int err = ip_init(&cfg);
	if (err) {
		printf("udp_echo: no network: %s\n", virtio_strerror(err));
		return 1;
	}
	uint8_t mac[6];
	net_mac(cfg.nic, mac);
	printf("udp_echo ready mac=%02x:%02x:%02x:%02x:%02x:%02x mtu=%u link=%d\n", mac[0], mac[1], mac[2],
	       mac[3], mac[4], mac[5], net_mtu(cfg.nic), net_link_up(cfg.nic));
	static struct udp_datagram d;
	uint64_t echoed = 0;
	for (;;) {
		if (udp_recv(7, &d, UINT64_MAX))
			continue;
		if (d.len == 4 && !memcmp(d.data, "quit", 4))
			break;
		if (udp_send(d.src, 7, d.sport, d.data, d.len) == 0)
			echoed++;
	}
	struct ip_stats st;
	ip_get_stats(&st);
	printf("udp_echo done: echoed %llu, frames_in %llu, icmp_replies %llu, arp_replies %llu, "
	       "malformed %llu, other %llu, queue_full %llu\n",
	       (unsigned long long)echoed, (unsigned long long)st.frames_in,
	       (unsigned long long)st.icmp_echo_replies, (unsigned long long)st.arp_replies_sent,
	       (unsigned long long)st.dropped_malformed, (unsigned long long)st.dropped_other,
	       (unsigned long long)st.udp_queue_full);
	return 0;
}
