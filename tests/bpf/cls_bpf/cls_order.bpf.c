// SPDX-License-Identifier: GPL-2.0
// Shows the order a hook runs its filters in: each instance appends its
// digit to the mark of every ICMP echo request it sees, keeps the mark it
// leaves and counts the requests. Other packets pass untouched.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

/* ICMP_ECHO; <linux/icmp.h> pulls in the C library's headers. */
#define ORDER_ICMP_ECHO 8

const volatile __u32 order_digit = 1;

__u64 order_packets;
__u32 order_mark;

static __always_inline int order_is_echo_request(struct __sk_buff *skb)
{
	struct iphdr ip;
	__u8 type;

	if (skb->protocol != bpf_htons(ETH_P_IP))
		return 0;
	if (bpf_skb_load_bytes(skb, ETH_HLEN, &ip, sizeof(ip)))
		return 0;
	if (ip.protocol != IPPROTO_ICMP)
		return 0;
	if (bpf_skb_load_bytes(skb, ETH_HLEN + ip.ihl * 4, &type, sizeof(type)))
		return 0;
	return type == ORDER_ICMP_ECHO;
}

SEC("tc")
int order_tc(struct __sk_buff *skb)
{
	if (!order_is_echo_request(skb))
		return TC_ACT_UNSPEC;
	skb->mark = skb->mark * 16 + order_digit;
	order_mark = skb->mark;
	__sync_fetch_and_add(&order_packets, 1);
	/* Not a verdict: the next filter runs. */
	return TC_ACT_UNSPEC;
}

char LICENSE[] SEC("license") = "GPL";
