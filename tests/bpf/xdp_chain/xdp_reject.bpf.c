// SPDX-License-Identifier: GPL-2.0
// A program the verifier refuses: it reads the packet without checking
// that the byte is there. Its map shows whether a failed load left a pin.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} xdp_reject_count SEC(".maps");

SEC("xdp")
int xdp_reject(struct xdp_md *ctx)
{
	unsigned char *data = (void *)(long)ctx->data;
	__u32 key = 0;
	__u64 *count = bpf_map_lookup_elem(&xdp_reject_count, &key);

	if (count)
		*count += 1;
	/* No bounds check against data_end: out of the verifier's reach. */
	return data[0] == 0xff ? XDP_DROP : XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
