/* SPDX-License-Identifier: (GPL-2.0 OR Apache-2.0) */
/*
 * The ABI between flow.bpf.c and the daemon: the flow table's key and value,
 * the daemon's per-flow export baseline, and the per-CPU counters of what the
 * program saw but could not put in the table. Plain C, explicit padding; the
 * C++ side static_asserts the sizes.
 */
#ifndef L3AF_FLOW_ABI_H
#define L3AF_FLOW_ABI_H

#include <linux/types.h>

enum flow_direction {
	FLOW_DIR_INGRESS = 0,
	FLOW_DIR_EGRESS = 1,
};

/* One flow: interface, direction, VLAN and the full 5-tuple. Addresses are
 * stored in network byte order; IPv4 addresses use the first 4 bytes of
 * src/dst and leave the rest zero. Never hashed down: two flows never merge. */
struct flow_key {
	__u32 ifindex;
	__u8 direction; /* enum flow_direction */
	__u8 family;	/* 4 or 6 */
	__u8 protocol;	/* IP protocol number, last header after v6 extension headers */
	__u8 pad0;
	__u16 vlan;	 /* outermost VLAN id (12 bits), 0 when untagged */
	__be16 src_port; /* 0 for non-first fragments and protocols without ports */
	__be16 dst_port; /* ICMP/ICMPv6: the bytes {type, code}, src_port 0 */
	__u16 pad1;
	__u8 src[16];
	__u8 dst[16];
};

#define FLOW_TCP_FIN 0x01
#define FLOW_TCP_SYN 0x02
#define FLOW_TCP_RST 0x04

struct flow_value {
	__u64 packets;	     /* a GSO packet counts as its segments */
	__u64 octets;	     /* IP-level bytes (RFC 7012 octetDeltaCount), per segment */
	__u64 first_seen_ns; /* bpf_ktime_get_boot_ns() (CLOCK_BOOTTIME) */
	__u64 last_seen_ns;
	__u8 tcp_flags; /* OR of the TCP flags seen (low 8 bits) */
	__u8 min_ttl;	/* IPv4 TTL / IPv6 hop limit */
	__u8 max_ttl;
	__u8 tos; /* IPv4 TOS / IPv6 traffic class of the first packet */
	__u32 pad0;
};

/* Written by the daemon only: what has already been exported for a flow that
 * reached its active timeout and stays in the table. Keyed like the flow. */
struct flow_baseline {
	__u64 packets;
	__u64 octets;
	__u64 exported_ns; /* last_seen_ns of the flow when it was last exported */
};

/* Indices of the per-CPU `flow_stats` array. Each slot counts packets and
 * octets: IP-level octets for OVERFLOW (what the flow would have counted, so
 * that exported + overflow == what crossed the hook), frame bytes for the
 * others (there may be no IP header to measure). */
enum flow_stat {
	FLOW_STAT_OVERFLOW = 0,	 /* IP packets that found no slot: table full */
	FLOW_STAT_NON_IP = 1,	 /* not IPv4/IPv6 (ARP, LLDP, ...) */
	FLOW_STAT_TRUNCATED = 2, /* L2/L3 headers cut short or malformed (an IP
				  * packet whose L4 header alone is cut short is
				  * counted as a flow with ports 0) */
	FLOW_STAT_MAX = 3,
};

struct flow_stat_value {
	__u64 packets;
	__u64 octets;
};

#endif /* L3AF_FLOW_ABI_H */
