// SPDX-License-Identifier: GPL-2.0
/*
 * A test program that compiles but that the verifier rejects: both functions
 * read the packet's first byte without checking it is there ("invalid access
 * to packet"). Tests declare it to see a load fail and be reported with the
 * verifier's log while everything else applies.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("tc")
int tc_reject(struct __sk_buff *skb)
{
	__u8 *data = (void *)(long)skb->data;

	return data[0]; /* no bounds check against skb->data_end */
}

SEC("xdp")
int xdp_reject(struct xdp_md *ctx)
{
	__u8 *data = (void *)(long)ctx->data;

	return data[0] ? XDP_PASS : XDP_DROP; /* no bounds check against data_end */
}

char LICENSE[] SEC("license") = "GPL";
