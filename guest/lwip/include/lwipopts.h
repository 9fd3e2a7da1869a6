/* lwIP's configuration for pvmm guests (lwIP's opt.h lists every option).
 *
 * NO_SYS: no threads, no semaphores, no sockets/netconn layer of lwIP's:
 * the stack runs only inside the calls of <pvmm/socket.h>, which feed it
 * received frames and run its timers (guest/lwip/stack.c). Nothing runs
 * in interrupt context, so no locking. */
#ifndef PVMM_LWIPOPTS_H
#define PVMM_LWIPOPTS_H

#define NO_SYS 1
#define SYS_LIGHTWEIGHT_PROT 0
#define LWIP_SOCKET 0
#define LWIP_NETCONN 0
#define LWIP_TIMERS 1

/* Memory: the heap and every pool come from the runtime's malloc, so
 * there are no fixed pool sizes to run out of (the guest's RAM is the
 * limit; each pcb and segment is a small allocation). */
#define MEM_LIBC_MALLOC 1
#define MEMP_MEM_MALLOC 1
#define MEM_ALIGNMENT 8

/* IPv4 over Ethernet: ARP, ICMP (echo replies), UDP, TCP, DHCP. */
#define LWIP_IPV4 1
#define LWIP_IPV6 0
#define LWIP_ARP 1
#define LWIP_ETHERNET 1
#define LWIP_ICMP 1
#define LWIP_UDP 1
#define LWIP_TCP 1
#define LWIP_RAW 0
#define LWIP_DHCP 1
#define LWIP_DNS 0
#define LWIP_IGMP 0
#define LWIP_AUTOIP 0
#define IP_REASSEMBLY 1
#define IP_FRAG 1
/* Checking the offered address with ARP costs the lease a second or more;
 * pvmm's networks are the VM's own (slirp, a test's TAP). */
#define DHCP_DOES_ARP_CHECK 0
#define ARP_QUEUEING 1
#define ETHARP_SUPPORT_STATIC_ENTRIES 0

/* TCP: a 64 KB window each way (the most without window scaling). The
 * receive window must stay under the virtio-net driver's 256 posted
 * receive buffers with room for ACKs, or a burst overruns the ring while
 * the guest is busy sending (frames lost, retransmission timeouts; with
 * the driver's former 64 buffers and a 32-segment window, an echo fell
 * to under 1 MB/s at times). */
#define TCP_MSS 1460
#define TCP_WND (44 * TCP_MSS)
#define TCP_SND_BUF (44 * TCP_MSS) /* the most a 16-bit window holds */
#define TCP_SND_QUEUELEN (4 * TCP_SND_BUF / TCP_MSS)
#define MEMP_NUM_TCP_SEG TCP_SND_QUEUELEN
#define MEMP_NUM_TCP_PCB 32
#define MEMP_NUM_TCP_PCB_LISTEN 8
#define MEMP_NUM_UDP_PCB 8
#define MEMP_NUM_PBUF 64
#define PBUF_POOL_SIZE 128
#define TCP_LISTEN_BACKLOG 1
#define TCP_DEFAULT_LISTEN_BACKLOG 8
#define TCP_QUEUE_OOSEQ 1
#define LWIP_TCP_SACK_OUT 0
#define TCP_OVERSIZE TCP_MSS
#define LWIP_TCP_TIMESTAMPS 0

/* The netif: a status callback tells DHCP's progress; no hostname. */
#define LWIP_NETIF_STATUS_CALLBACK 1
#define LWIP_NETIF_LINK_CALLBACK 0
#define LWIP_NETIF_HOSTNAME 0
#define LWIP_SINGLE_NETIF 1

/* Checksums in software both ways: the device offers no offload. */
#define CHECKSUM_GEN_IP 1
#define CHECKSUM_GEN_UDP 1
#define CHECKSUM_GEN_TCP 1
#define CHECKSUM_CHECK_IP 1
#define CHECKSUM_CHECK_UDP 1
#define CHECKSUM_CHECK_TCP 1

#define LWIP_STATS 0
#define LWIP_PROVIDE_ERRNO 0

#endif /* PVMM_LWIPOPTS_H */
