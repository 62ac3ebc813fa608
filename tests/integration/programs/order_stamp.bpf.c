// SPDX-License-Identifier: GPL-2.0
/*
 * A test program: shows the order in which the programs on a hook ran. A test
 * declares this object several times with different ids (`stamp` map) and
 * priorities, sends stamp packets (order_stamp_abi.h) and reads the ids back
 * from the received payload. tc_stamp is for the TC hooks, xdp_stamp for XDP.
 *
 * The UDP checksum is left as it is: tests send with checksum 0 (none), so
 * the receiver accepts the rewritten payload.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "order_stamp_abi.h"

#define ORDER_STAMP_IP_OFFSET_MASK 0x1fff
#define ORDER_STAMP_MAX_IP_HDR 60
/* Ethernet, the largest IPv4 header, UDP, magic and slots: TC pulls this
 * much into the linear part when the packet is not there yet. */
#define ORDER_STAMP_PULL_LEN                                                        \
	(sizeof(struct ethhdr) + ORDER_STAMP_MAX_IP_HDR + sizeof(struct udphdr) + \
	 ORDER_STAMP_MAGIC_LEN + ORDER_STAMP_SLOTS)

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} stamp SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} stamped SEC(".maps");

struct order_stamp_payload {
	__u8 magic[ORDER_STAMP_MAGIC_LEN];
	__u8 slots[ORDER_STAMP_SLOTS];
};

/* The payload of a stamp packet, or NULL. */
static __always_inline struct order_stamp_payload *order_stamp_find(void *data, void *data_end)
{
	struct ethhdr *eth = data;
	struct order_stamp_payload *payload;
	struct udphdr *udp;
	struct iphdr *ip;
	__u32 ihl_bytes;

	if ((void *)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return NULL;
	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end || ip->protocol != IPPROTO_UDP)
		return NULL;
	/* Only a first fragment has the UDP header. */
	if (ip->frag_off & bpf_htons(ORDER_STAMP_IP_OFFSET_MASK))
		return NULL;
	ihl_bytes = ip->ihl * 4;
	if (ihl_bytes < sizeof(*ip))
		return NULL;
	udp = (void *)ip + ihl_bytes;
	if ((void *)(udp + 1) > data_end || udp->dest != bpf_htons(ORDER_STAMP_PORT))
		return NULL;
	payload = (void *)(udp + 1);
	if ((void *)(payload + 1) > data_end)
		return NULL;
	if (__builtin_memcmp(payload->magic, ORDER_STAMP_MAGIC, ORDER_STAMP_MAGIC_LEN) != 0)
		return NULL;
	return payload;
}

static __always_inline void order_stamp_write(void *data, void *data_end)
{
	struct order_stamp_payload *payload = order_stamp_find(data, data_end);
	__u32 zero = 0;
	__u64 *count;
	__u32 *id;

	if (!payload)
		return;
	id = bpf_map_lookup_elem(&stamp, &zero);
	if (!id || (__u8)*id == 0)
		return;

#pragma unroll
	for (int i = 0; i < ORDER_STAMP_SLOTS; i++) {
		if (payload->slots[i] != 0)
			continue;
		payload->slots[i] = (__u8)*id;
		count = bpf_map_lookup_elem(&stamped, &zero);
		if (count)
			__sync_fetch_and_add(count, 1);
		return;
	}
}

SEC("tc")
int tc_stamp(struct __sk_buff *skb)
{
	__u32 want = skb->len < ORDER_STAMP_PULL_LEN ? skb->len : ORDER_STAMP_PULL_LEN;

	/* Headers beyond the linear part: pull them in (and make them writable). */
	if ((void *)(long)skb->data + want > (void *)(long)skb->data_end)
		bpf_skb_pull_data(skb, want);
	order_stamp_write((void *)(long)skb->data, (void *)(long)skb->data_end);
	return TC_ACT_UNSPEC; /* TCX_NEXT */
}

SEC("xdp")
int xdp_stamp(struct xdp_md *ctx)
{
	order_stamp_write((void *)(long)ctx->data, (void *)(long)ctx->data_end);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
