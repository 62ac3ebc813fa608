// SPDX-License-Identifier: GPL-2.0
/*
 * Flow accounting on the TC hooks: every packet is counted into the `flows`
 * table under its (interface, direction, VLAN, 5-tuple) key, or, when it
 * cannot be, into one slot of the per-CPU `flow_stats` array, so that what
 * the daemon exports plus those counters is what crossed the hook. The
 * programs only read the packet and always let it go on (TC_ACT_UNSPEC, which
 * is also TCX_NEXT).
 */
#include <linux/bpf.h>
#include <linux/errno.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "flow_abi.h"
#include "packet_parse.h"

/* The daemon sizes both tables with bpf_map__set_max_entries() before load. */
#define FLOW_DEFAULT_MAX_ENTRIES 65536

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FLOW_DEFAULT_MAX_ENTRIES);
	__type(key, struct flow_key);
	__type(value, struct flow_value);
} flows SEC(".maps");

/* Written only by the daemon; declared here so the skeleton creates it. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FLOW_DEFAULT_MAX_ENTRIES);
	__type(key, struct flow_key);
	__type(value, struct flow_baseline);
} baseline SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FLOW_STAT_MAX);
	__type(key, __u32);
	__type(value, struct flow_stat_value);
} flow_stats SEC(".maps");

/*
 * The clock, read once per jiffy on each CPU. Reading CLOCK_BOOTTIME costs
 * about as much as the rest of the existing-flow path together (a helper
 * call into the clocksource), while jiffies is an inlined load. The stamps
 * stay in CLOCK_BOOTTIME and are at most one tick (1/HZ) early.
 */
struct flow_clock {
	__u64 jiffies;
	__u64 boot_ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct flow_clock);
} flow_clock SEC(".maps");

/*
 * tcp_flags shares an aligned 32-bit word with min_ttl, max_ttl and tos:
 * BPF atomics are 32 or 64 bits wide, so the flags are OR'ed into that word.
 */
_Static_assert(__builtin_offsetof(struct flow_value, tcp_flags) % 4 == 0,
	       "tcp_flags starts an aligned 32-bit word");
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define FLOW_TCP_FLAGS_SHIFT 0
#else
#define FLOW_TCP_FLAGS_SHIFT 24
#endif

/* One packet as the table sees it. */
struct flow_pkt {
	struct flow_key key;
	__u64 octets; /* IP-level, all GSO segments */
	__u32 segs;   /* packets: GSO segments, or 1 */
	struct pkt_info info;
};

static __always_inline __u64 flow_now(void)
{
	__u32 zero = 0;
	struct flow_clock *clock = bpf_map_lookup_elem(&flow_clock, &zero);
	__u64 jiffies = bpf_jiffies64();

	if (!clock)
		return bpf_ktime_get_boot_ns();
	/* Per-CPU, and TC programs do not nest on a CPU: no race. */
	if (clock->jiffies != jiffies) {
		clock->jiffies = jiffies;
		clock->boot_ns = bpf_ktime_get_boot_ns();
	}
	return clock->boot_ns;
}

static __always_inline void flow_stat_add(__u32 slot, __u32 packets, __u64 octets)
{
	struct flow_stat_value *stat = bpf_map_lookup_elem(&flow_stats, &slot);

	/* Per-CPU and TC programs do not nest on a CPU: plain adds suffice. */
	if (stat) {
		stat->packets += packets;
		stat->octets += octets;
	}
}

/*
 * The key and the counts of the parsed packet. The key is zeroed first,
 * padding included: userspace builds the same keys to look flows up.
 */
static __always_inline void flow_pkt_make(struct __sk_buff *skb, enum flow_direction direction,
					  struct flow_pkt *pkt)
{
	const struct pkt_info *info = &pkt->info;
	__u32 segs = skb->gso_segs;

	__builtin_memset(&pkt->key, 0, sizeof(pkt->key));
	pkt->key.ifindex = skb->ifindex;
	pkt->key.direction = direction;
	pkt->key.family = info->family;
	pkt->key.protocol = info->protocol;
	pkt->key.vlan = info->vlan;
	pkt->key.src_port = info->src_port;
	pkt->key.dst_port = info->dst_port;
	__builtin_memcpy(pkt->key.src, info->src, sizeof(pkt->key.src));
	__builtin_memcpy(pkt->key.dst, info->dst, sizeof(pkt->key.dst));

	/*
	 * RFC 7012 octetDeltaCount: IP bytes. A GSO packet leaves as segments
	 * that each repeat the L3 and L4 headers, so count what they will be
	 * on the wire.
	 */
	if (segs > 1) {
		pkt->segs = segs;
		pkt->octets = (__u64)(skb->len - info->l3_offset) +
			      (__u64)(segs - 1) * (info->l3_hdr_len + info->l4_hdr_len);
	} else {
		pkt->segs = 1;
		pkt->octets = info->ip_len;
	}
}

static __always_inline void flow_value_add(struct flow_value *value, const struct flow_pkt *pkt,
					   __u64 now)
{
	__sync_fetch_and_add(&value->packets, pkt->segs);
	__sync_fetch_and_add(&value->octets, pkt->octets);
	/* Racy between CPUs, but any of the racing stamps is a fine last_seen. */
	value->last_seen_ns = now;
	/* Skip the atomic when the flags are already there, as they mostly are. */
	if (pkt->info.tcp_flags & ~value->tcp_flags)
		__sync_fetch_and_or((__u32 *)&value->tcp_flags,
				    (__u32)pkt->info.tcp_flags << FLOW_TCP_FLAGS_SHIFT);
	if (pkt->info.ttl < value->min_ttl)
		value->min_ttl = pkt->info.ttl;
	if (pkt->info.ttl > value->max_ttl)
		value->max_ttl = pkt->info.ttl;
}

static __always_inline void flow_create(const struct flow_pkt *pkt, __u64 now)
{
	struct flow_value *value;
	struct flow_value fresh = {
		.packets = pkt->segs,
		.octets = pkt->octets,
		.first_seen_ns = now,
		.last_seen_ns = now,
		.tcp_flags = pkt->info.tcp_flags,
		.min_ttl = pkt->info.ttl,
		.max_ttl = pkt->info.ttl,
		.tos = pkt->info.tos,
	};
	long err;

	err = bpf_map_update_elem(&flows, &pkt->key, &fresh, BPF_NOEXIST);
	if (err == 0)
		return;
	if (err == -EEXIST) {
		/* Another CPU created the flow between our lookup and insert. */
		value = bpf_map_lookup_elem(&flows, &pkt->key);
		if (value) {
			flow_value_add(value, pkt, now);
			return;
		}
	}
	/* Table full (or the flow vanished meanwhile): counted, not lost. */
	flow_stat_add(FLOW_STAT_OVERFLOW, pkt->segs, pkt->octets);
}

static __always_inline void flow_count(const struct flow_pkt *pkt)
{
	struct flow_value *value = bpf_map_lookup_elem(&flows, &pkt->key);
	__u64 now = flow_now();

	if (value)
		flow_value_add(value, pkt, now);
	else
		flow_create(pkt, now);
}

static __always_inline int flow_account(struct __sk_buff *skb, enum flow_direction direction)
{
	struct flow_pkt pkt;

	switch (pkt_parse(skb, &pkt.info, PKT_STRICT_LEN | PKT_L4_HEADERS | PKT_DETAILS)) {
	case PKT_IP:
		flow_pkt_make(skb, direction, &pkt);
		flow_count(&pkt);
		break;
	case PKT_NON_IP:
		flow_stat_add(FLOW_STAT_NON_IP, 1, skb->len);
		break;
	case PKT_TRUNCATED:
		flow_stat_add(FLOW_STAT_TRUNCATED, 1, skb->len);
		break;
	}
	return TC_ACT_UNSPEC;
}

SEC("tc")
int flow_ingress(struct __sk_buff *skb)
{
	return flow_account(skb, FLOW_DIR_INGRESS);
}

SEC("tc")
int flow_egress(struct __sk_buff *skb)
{
	return flow_account(skb, FLOW_DIR_EGRESS);
}

char LICENSE[] SEC("license") = "GPL";
