// SPDX-License-Identifier: GPL-2.0
/*
 * Traffic mirroring on the TC hooks: a packet that matches one of the
 * mirror's rules is cloned to the tunnel's veth, whose far end encapsulates
 * it in GUE (gue_encap.bpf.c). The original is never changed, delayed or
 * dropped: the programs always return TC_ACT_UNSPEC (TCX_NEXT).
 *
 * Rules are matched by bitmap classification (mirror_abi.h): array lookups
 * per dimension the rules use, cheapest first, each narrowing the words of
 * the bitmaps that may still hold a rule; most packets that match nothing
 * leave after the first one or two, whatever the number of rules. The GUE
 * packets of l3afd's own tunnels are never mirrored.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "gue_abi.h"
#include "mirror_abi.h"
#include "packet_parse.h"

/* Set before load. A new rule set is a new program instance. */
const volatile __u32 mirror_tunnel_ifindex = 0;	     /* the tunnel's veth (l3t-<name>) */
const volatile __u32 mirror_snaplen = 0;	     /* 0: whole frame */
const volatile __u32 mirror_dimensions = 0xffffffff; /* enum mirror_dimension */
/* Until set: every walk from its root, no byte shared. */
const volatile struct mirror_prefix_start mirror_prefix_starts[MIRROR_PREFIX_ROOTS] = {
	[MIRROR_PREFIX_ROOT_SRC4] = { .block = MIRROR_PREFIX_ROOT_SRC4 },
	[MIRROR_PREFIX_ROOT_DST4] = { .block = MIRROR_PREFIX_ROOT_DST4 },
	[MIRROR_PREFIX_ROOT_SRC6] = { .block = MIRROR_PREFIX_ROOT_SRC6 },
	[MIRROR_PREFIX_ROOT_DST6] = { .block = MIRROR_PREFIX_ROOT_DST6 },
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MIRROR_PROTO_ENTRIES);
	__type(key, __u32);
	__type(value, struct mirror_bitmap);
} mirror_proto SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MIRROR_MAX_SETS);
	__type(key, __u32);
	__type(value, struct mirror_bitmap);
} mirror_sets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mirror_port_classes);
} mirror_port_classes SEC(".maps");

/* Sized before load to the blocks the rules need (mirror_abi.h). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MIRROR_PREFIX_ROOTS *MIRROR_PREFIX_BLOCK);
	__type(key, __u32);
	__type(value, __u32);
} mirror_prefix_nodes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MIRROR_MAX_RULES);
	__type(key, __u32);
	__type(value, struct mirror_rule_counter);
} mirror_rule_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MIRROR_STATS_SLOTS);
	__type(key, __u32);
	__type(value, struct mirror_stats);
} mirror_stats SEC(".maps");

/* De Bruijn sequence 0x03f79d71b4ca8b09: the top 6 bits of (bit * it) are
 * distinct for each single bit, and this table maps them back. eBPF has no
 * count-trailing-zeros instruction. */
static const __u8 mirror_debruijn[64] = {
	0,  1,	56, 2,	57, 49, 28, 3,	61, 58, 42, 50, 38, 29, 17, 4,	62, 47, 59, 36, 45, 43,
	51, 22, 53, 39, 33, 30, 24, 18, 12, 5,	63, 55, 48, 27, 60, 41, 37, 16, 46, 35, 44, 21,
	52, 32, 23, 11, 54, 26, 40, 15, 34, 20, 31, 10, 25, 14, 19, 9,	13, 8,	7,  6,
};

static __always_inline __u32 mirror_lowest_bit(__u64 word)
{
	return mirror_debruijn[((word & -word) * 0x03f79d71b4ca8b09ull) >> 58];
}

/*
 * The sets the packet's values select, one per dimension. A dimension no
 * rule uses holds the protocol's set, which the AND takes in again at no
 * loss. Only summaries are ANDed while the sets are found.
 */
struct mirror_selection {
	const struct mirror_bitmap *proto;
	const struct mirror_bitmap *dst_port;
	const struct mirror_bitmap *src_port;
	const struct mirror_bitmap *dst;
	const struct mirror_bitmap *src;
	__u64 summary; /* may keep bits of words whose AND is zero */
};

/* Returns whether some word may still hold a rule. */
static __always_inline int mirror_select(struct mirror_selection *s,
					 const struct mirror_bitmap **slot,
					 const struct mirror_bitmap *set)
{
	if (!set)
		return 0; /* no entry: no rule accepts the value */
	*slot = set;
	s->summary &= set->summary;
	return s->summary != 0;
}

static __always_inline const struct mirror_bitmap *mirror_class_set(__u32 class)
{
	return bpf_map_lookup_elem(&mirror_sets, &class);
}

static __always_inline int mirror_select_ports(struct mirror_selection *s, const struct pkt_info *t)
{
	__u32 zero = 0;
	struct mirror_port_classes *classes = bpf_map_lookup_elem(&mirror_port_classes, &zero);
	__u32 slot;

	if (!classes)
		return 0;
	if (mirror_dimensions & MIRROR_DIM_DST_PORT) {
		slot = t->has_ports ? bpf_ntohs(t->dst_port) : MIRROR_PORT_NONE;
		if (slot >= MIRROR_PORT_SLOTS ||
		    !mirror_select(s, &s->dst_port, mirror_class_set(classes->dst[slot])))
			return 0;
	}
	if (mirror_dimensions & MIRROR_DIM_SRC_PORT) {
		slot = t->has_ports ? bpf_ntohs(t->src_port) : MIRROR_PORT_NONE;
		if (slot >= MIRROR_PORT_SLOTS ||
		    !mirror_select(s, &s->src_port, mirror_class_set(classes->src[slot])))
			return 0;
	}
	return 1;
}

/*
 * The rules that accept an address of `bytes` bytes in the trie at `root`:
 * the bytes every prefix shares compared at once, then one array lookup per
 * further address byte until an entry gives a class (mirror_abi.h). The
 * loop is unrolled: with the starts known at load, each level's test of the
 * depth is a constant one, and the verifier drops the levels skipped.
 */
static __always_inline const struct mirror_bitmap *mirror_prefix_set(__u32 root, const __u8 *addr,
								     int bytes)
{
	const volatile struct mirror_prefix_start *start = &mirror_prefix_starts[root];
	__u32 depth = start->depth;
	__u32 entry = MIRROR_NODE_CHILD | start->block;
	__u64 words[2];

	__builtin_memcpy(words, addr, sizeof(words));
	if (((words[0] ^ start->shared[0]) & start->mask[0]) ||
	    (bytes > 8 && ((words[1] ^ start->shared[1]) & start->mask[1])))
		return mirror_class_set(start->outside);
#pragma clang loop unroll(full)
	for (int i = 0; i < 16; i++) {
		__u32 index;
		__u32 *next;

		if (i >= bytes || !(entry & MIRROR_NODE_CHILD))
			break;
		if (i < depth)
			continue;
		index = (entry & ~MIRROR_NODE_CHILD) * MIRROR_PREFIX_BLOCK + addr[i];
		next = bpf_map_lookup_elem(&mirror_prefix_nodes, &index);
		if (!next)
			return 0;
		entry = *next;
	}
	if (entry & MIRROR_NODE_CHILD)
		return 0; /* a table the compiler did not make */
	return mirror_class_set(entry);
}

static __always_inline int mirror_select_addresses(struct mirror_selection *s,
						   const struct pkt_info *t)
{
	if (t->family == 4) {
		if ((mirror_dimensions & MIRROR_DIM_DST4) &&
		    !mirror_select(s, &s->dst,
				   mirror_prefix_set(MIRROR_PREFIX_ROOT_DST4, t->dst, 4)))
			return 0;
		if ((mirror_dimensions & MIRROR_DIM_SRC4) &&
		    !mirror_select(s, &s->src,
				   mirror_prefix_set(MIRROR_PREFIX_ROOT_SRC4, t->src, 4)))
			return 0;
	} else {
		if ((mirror_dimensions & MIRROR_DIM_DST6) &&
		    !mirror_select(s, &s->dst,
				   mirror_prefix_set(MIRROR_PREFIX_ROOT_DST6, t->dst, 16)))
			return 0;
		if ((mirror_dimensions & MIRROR_DIM_SRC6) &&
		    !mirror_select(s, &s->src,
				   mirror_prefix_set(MIRROR_PREFIX_ROOT_SRC6, t->src, 16)))
			return 0;
	}
	return 1;
}

/* The lowest-numbered rule in every set: the words the summary leaves,
 * lowest first, until one is not empty. */
static __always_inline __u32 mirror_first_rule(const struct mirror_selection *s)
{
	__u64 summary = s->summary;

	for (int i = 0; i < MIRROR_BITMAP_WORDS; i++) {
		__u32 w;
		__u64 word;

		if (!summary)
			break;
		w = mirror_lowest_bit(summary);
		/* Left to itself, clang folds this check into a test of the
		 * table index, which tells the verifier nothing about w. */
		barrier_var(w);
		if (w >= MIRROR_BITMAP_WORDS)
			break;
		word = s->proto->words[w] & s->dst_port->words[w] & s->src_port->words[w] &
		       s->dst->words[w] & s->src->words[w];
		if (word)
			return w * 64 + mirror_lowest_bit(word);
		summary &= summary - 1;
	}
	return MIRROR_MAX_RULES;
}

/* The rule the packet matches, or MIRROR_MAX_RULES. Every lookup is an
 * array lookup, which the verifier inlines; the cheapest come first, and
 * most packets that match nothing leave at a summary. */
static __always_inline __u32 mirror_classify(const struct pkt_info *t)
{
	struct mirror_selection s;
	__u32 index = MIRROR_PROTO_INDEX(
		t->family == 6 ? MIRROR_FAMILY_SLOT_V6 : MIRROR_FAMILY_SLOT_V4, t->protocol);
	const struct mirror_bitmap *proto = bpf_map_lookup_elem(&mirror_proto, &index);

	if (!proto || !proto->summary)
		return MIRROR_MAX_RULES;
	s.proto = s.dst_port = s.src_port = s.dst = s.src = proto;
	s.summary = proto->summary;
	if ((mirror_dimensions & (MIRROR_DIM_SRC_PORT | MIRROR_DIM_DST_PORT)) &&
	    !mirror_select_ports(&s, t))
		return MIRROR_MAX_RULES;
	if ((mirror_dimensions &
	     (MIRROR_DIM_SRC4 | MIRROR_DIM_DST4 | MIRROR_DIM_SRC6 | MIRROR_DIM_DST6)) &&
	    !mirror_select_addresses(&s, t))
		return MIRROR_MAX_RULES;
	return mirror_first_rule(&s);
}

static __always_inline int mirror_packet(struct __sk_buff *skb, __u32 stats_slot)
{
	struct mirror_stats *stats = bpf_map_lookup_elem(&mirror_stats, &stats_slot);
	struct mirror_rule_counter *counter;
	struct pkt_info t;
	__u32 rule, mark;

	/* Per-CPU, and TC programs do not nest on a CPU: plain adds suffice. */
	if (!stats)
		return TC_ACT_UNSPEC;
	stats->seen++;
	/* A packet one of l3afd's tunnels sends: mirroring it would only
	 * hand it back to a tunnel (gue_abi.h). */
	if (skb->mark == GUE_MARK_SENT) {
		stats->own_tunnel++;
		return TC_ACT_UNSPEC;
	}

	switch (pkt_parse(skb, &t, 0)) {
	case PKT_IP:
		break;
	case PKT_NON_IP:
		stats->not_ip++;
		return TC_ACT_UNSPEC;
	default:
		stats->truncated++;
		return TC_ACT_UNSPEC;
	}

	rule = mirror_classify(&t);
	if (rule >= MIRROR_MAX_RULES)
		return TC_ACT_UNSPEC;
	stats->matched++;
	counter = bpf_map_lookup_elem(&mirror_rule_counters, &rule);
	if (counter) {
		counter->packets++;
		counter->bytes += skb->len;
	}

	/* The clone carries the mark (gue_abi.h); the original gets its own
	 * mark back. The helper also unclones the original's head, which is
	 * why packet pointers are not used past this point. */
	mark = skb->mark;
	skb->mark = GUE_MARK(mirror_snaplen > GUE_MARK_SNAPLEN_MASK ? 0 : mirror_snaplen);
	if (bpf_clone_redirect(skb, mirror_tunnel_ifindex, 0) != 0)
		stats->clone_failed++;
	skb->mark = mark;
	return TC_ACT_UNSPEC;
}

SEC("tc")
int mirror_ingress(struct __sk_buff *skb)
{
	return mirror_packet(skb, MIRROR_STATS_INGRESS);
}

SEC("tc")
int mirror_egress(struct __sk_buff *skb)
{
	return mirror_packet(skb, MIRROR_STATS_EGRESS);
}

char LICENSE[] SEC("license") = "GPL";
