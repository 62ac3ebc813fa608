// SPDX-License-Identifier: GPL-2.0
/*
 * An example of a program l3afd runs with [[program]]: a per-source packet
 * rate limiter on the XDP hook. Every IPv4 and IPv6 source address gets a
 * token bucket (rate_pps, burst from the `config` map); a packet over its
 * source's rate is dropped, everything else, non-IP frames included, passes.
 *
 *   [[program]]
 *   name = "ratelimit"
 *   object = "/usr/lib/l3af/programs/xdp_ratelimit.bpf.o"
 *   function = "xdp_ratelimit"
 *   hook = "xdp"
 *   interfaces = ["eth0"]
 *     [program.maps.config]
 *     entries = [{ key = 0, value = { rate_pps = 1000, burst = 100 } }]
 *
 * It runs alone on an interface or as one of the programs of libxdp's
 * dispatcher: it is a global function with BTF (built with -g) and carries
 * libxdp's run config, so the next program runs after XDP_PASS only.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <xdp/xdp_helpers.h>

#include "xdp_ratelimit_abi.h"

#define RATELIMIT_NSEC_PER_SEC 1000000000ull
/* Keeps (burst - 1) * interval within 64 bits. */
#define RATELIMIT_MAX_BURST (1ull << 32)
/* Other CPUs updating the same bucket; past this, the packet is not let in. */
#define RATELIMIT_CAS_TRIES 4
#define RATELIMIT_MAX_VLAN_TAGS 2

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ratelimit_config);
} config SEC(".maps");

/* LRU: a flood of new sources evicts idle buckets instead of failing. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct ratelimit_key);
	__type(value, struct ratelimit_bucket);
} buckets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ratelimit_stats);
} stats SEC(".maps");

/* libxdp's dispatcher: default position, go on to the next program on PASS. */
struct {
	__uint(priority, XDP_DEFAULT_RUN_PRIO);
	__uint(XDP_PASS, 1);
} XDP_RUN_CONFIG(xdp_ratelimit);

struct ratelimit_vlan_hdr {
	__be16 tci;
	__be16 encapsulated_proto;
};

/* Fills key with the packet's source address; false when it is not IP. */
static __always_inline int ratelimit_source(void *data, void *data_end, struct ratelimit_key *key)
{
	struct ethhdr *eth = data;
	void *cursor = eth + 1;
	__be16 proto;

	if (cursor > data_end)
		return 0;
	proto = eth->h_proto;

#pragma unroll
	for (int i = 0; i < RATELIMIT_MAX_VLAN_TAGS; i++) {
		struct ratelimit_vlan_hdr *vlan = cursor;

		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		if ((void *)(vlan + 1) > data_end)
			return 0;
		proto = vlan->encapsulated_proto;
		cursor = vlan + 1;
	}

	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = cursor;

		if ((void *)(ip + 1) > data_end)
			return 0;
		key->family = 4;
		__builtin_memcpy(key->addr, &ip->saddr, sizeof(ip->saddr));
		return 1;
	}
	if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = cursor;

		if ((void *)(ip6 + 1) > data_end)
			return 0;
		key->family = 6;
		__builtin_memcpy(key->addr, &ip6->saddr, sizeof(ip6->saddr));
		return 1;
	}
	return 0;
}

/* One packet against the bucket: true when it conforms (and is counted). */
static __always_inline int ratelimit_conforms(struct ratelimit_bucket *bucket, __u64 now,
					      __u64 interval, __u64 tolerance)
{
#pragma unroll
	for (int i = 0; i < RATELIMIT_CAS_TRIES; i++) {
		__u64 tat = *(volatile __u64 *)&bucket->tat_ns;
		__u64 start = tat > now ? tat : now;

		if (tat > now + tolerance)
			return 0;
		if (__sync_val_compare_and_swap(&bucket->tat_ns, tat, start + interval) == tat)
			return 1;
	}
	return 0;
}

static __always_inline int ratelimit_allows(void *data, void *data_end)
{
	struct ratelimit_key key = {};
	struct ratelimit_bucket *bucket;
	struct ratelimit_config *cfg;
	__u32 zero = 0;
	__u64 burst, interval, now;

	cfg = bpf_map_lookup_elem(&config, &zero);
	if (!cfg || cfg->rate_pps == 0)
		return 1;
	if (!ratelimit_source(data, data_end, &key))
		return 1;

	burst = cfg->burst;
	if (burst == 0)
		burst = 1;
	if (burst > RATELIMIT_MAX_BURST)
		burst = RATELIMIT_MAX_BURST;
	/* Above 1e9 pps the interval is 0: no source can exceed it. */
	interval = RATELIMIT_NSEC_PER_SEC / cfg->rate_pps;
	now = bpf_ktime_get_ns();

	bucket = bpf_map_lookup_elem(&buckets, &key);
	if (!bucket) {
		struct ratelimit_bucket fresh = {.tat_ns = now};

		/* Another CPU may have added it meanwhile: keep theirs. */
		bpf_map_update_elem(&buckets, &key, &fresh, BPF_NOEXIST);
		bucket = bpf_map_lookup_elem(&buckets, &key);
		if (!bucket)
			return 1; /* no state to limit with: fail open */
	}
	return ratelimit_conforms(bucket, now, interval, (burst - 1) * interval);
}

SEC("xdp")
int xdp_ratelimit(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	int allowed = ratelimit_allows(data, data_end);
	struct ratelimit_stats *counters;
	__u32 zero = 0;

	counters = bpf_map_lookup_elem(&stats, &zero);
	if (counters) {
		if (allowed)
			counters->passed++;
		else
			counters->dropped++;
	}
	return allowed ? XDP_PASS : XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
