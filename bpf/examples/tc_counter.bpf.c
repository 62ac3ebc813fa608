// SPDX-License-Identifier: GPL-2.0
/*
 * An example of a program l3afd runs with [[program]]: counts packets and
 * bytes per IP protocol on any TC hook and lets every packet go on, so the
 * programs after it on the hook still run.
 *
 *   [[program]]
 *   name = "protocols"
 *   object = "/usr/lib/l3af/programs/tc_counter.bpf.o"
 *   function = "tc_counter"
 *   hook = "tc-ingress"
 *   interfaces = ["eth0"]
 *
 * The protocol of IPv4 is its header's; IPv6's is the header after the
 * extension headers (hop-by-hop, routing, fragment, destination options,
 * AH), so a fragmented UDP datagram counts as UDP.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "tc_counter_abi.h"

#define TC_COUNTER_MAX_VLAN_TAGS 2
#define TC_COUNTER_MAX_EXT_HEADERS 8

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TC_COUNTER_SLOTS);
	__type(key, __u32);
	__type(value, struct tc_counter_value);
} counts SEC(".maps");

/* The two bytes every IPv6 extension header starts with; AH counts its
 * length in 4-byte units minus 2, the others in 8-byte units minus 1. */
struct tc_counter_ext_hdr {
	__u8 nexthdr;
	__u8 hdrlen;
};

/*
 * The slot of the packet: its IP protocol, or TC_COUNTER_NOT_IP. Reads with
 * bpf_skb_load_bytes(), which copes with headers outside the linear part of
 * the skb.
 */
static __always_inline __u32 tc_counter_slot(struct __sk_buff *skb)
{
	__u32 offset = offsetof(struct ethhdr, h_proto);
	__be16 proto;
	__u8 nexthdr;

	if (bpf_skb_load_bytes(skb, offset, &proto, sizeof(proto)))
		return TC_COUNTER_NOT_IP;
	offset = sizeof(struct ethhdr);

	/* Tags still in the frame (not taken off by the NIC or the stack). */
#pragma unroll
	for (int i = 0; i < TC_COUNTER_MAX_VLAN_TAGS; i++) {
		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		if (bpf_skb_load_bytes(skb, offset + 2, &proto, sizeof(proto)))
			return TC_COUNTER_NOT_IP;
		offset += 4;
	}

	if (proto == bpf_htons(ETH_P_IP)) {
		if (bpf_skb_load_bytes(skb, offset + offsetof(struct iphdr, protocol), &nexthdr,
				       sizeof(nexthdr)))
			return TC_COUNTER_NOT_IP;
		return nexthdr;
	}
	if (proto != bpf_htons(ETH_P_IPV6))
		return TC_COUNTER_NOT_IP;

	if (bpf_skb_load_bytes(skb, offset + offsetof(struct ipv6hdr, nexthdr), &nexthdr,
			       sizeof(nexthdr)))
		return TC_COUNTER_NOT_IP;
	offset += sizeof(struct ipv6hdr);

	for (int i = 0; i < TC_COUNTER_MAX_EXT_HEADERS; i++) {
		struct tc_counter_ext_hdr ext;

		if (nexthdr != IPPROTO_HOPOPTS && nexthdr != IPPROTO_ROUTING &&
		    nexthdr != IPPROTO_FRAGMENT && nexthdr != IPPROTO_DSTOPTS &&
		    nexthdr != IPPROTO_AH)
			break;
		/* A header cut short: what it announced is all we know. */
		if (bpf_skb_load_bytes(skb, offset, &ext, sizeof(ext)))
			break;
		if (nexthdr == IPPROTO_FRAGMENT)
			offset += 8;
		else if (nexthdr == IPPROTO_AH)
			offset += ((__u32)ext.hdrlen + 2) * 4;
		else
			offset += ((__u32)ext.hdrlen + 1) * 8;
		nexthdr = ext.nexthdr;
	}
	return nexthdr;
}

SEC("tc")
int tc_counter(struct __sk_buff *skb)
{
	__u32 slot = tc_counter_slot(skb);
	struct tc_counter_value *value = bpf_map_lookup_elem(&counts, &slot);

	if (value) {
		value->packets++;
		value->bytes += skb->len;
	}
	return TC_ACT_UNSPEC; /* TCX_NEXT: the chain goes on */
}

char LICENSE[] SEC("license") = "GPL";
