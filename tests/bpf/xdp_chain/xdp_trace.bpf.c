// SPDX-License-Identifier: GPL-2.0
// Shows which XDP programs ran on a packet, and in which order: three
// functions that differ only in their tag, each shifting it into the trace
// slot of every ICMP echo request it sees (xdp_trace.h). All pass every
// packet, so the dispatcher goes on to the next program.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "xdp_trace.h"

/* <linux/icmp.h> pulls in the C library's headers. */
#define TRACE_ICMP_ECHO 8

struct trace_echo {
	__u8 type;
	__u8 code;
	__be16 checksum;
	__be16 id;
	__be16 sequence;
};

/* Pinned by name so that xdp-loader --pin-path shares it with the test's. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XDP_TRACE_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xdp_trace SEC(".maps");

static __always_inline int trace_packet(struct xdp_md *ctx, __u64 tag)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip;
	struct trace_echo *echo;
	__u32 slot;
	__u64 *trace;

	if ((void *)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end || ip->ihl != 5 || ip->protocol != IPPROTO_ICMP)
		return XDP_PASS;
	echo = (void *)(ip + 1);
	if ((void *)(echo + 1) > data_end || echo->type != TRACE_ICMP_ECHO)
		return XDP_PASS;

	slot = bpf_ntohs(echo->sequence) % XDP_TRACE_SLOTS;
	trace = bpf_map_lookup_elem(&xdp_trace, &slot);
	if (trace)
		*trace = *trace << 4 | tag;
	return XDP_PASS;
}

SEC("xdp")
int xdp_trace_a(struct xdp_md *ctx)
{
	return trace_packet(ctx, XDP_TRACE_TAG_A);
}

SEC("xdp")
int xdp_trace_b(struct xdp_md *ctx)
{
	return trace_packet(ctx, XDP_TRACE_TAG_B);
}

SEC("xdp")
int xdp_trace_c(struct xdp_md *ctx)
{
	return trace_packet(ctx, XDP_TRACE_TAG_C);
}

char LICENSE[] SEC("license") = "GPL";
