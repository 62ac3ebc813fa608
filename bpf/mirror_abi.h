/* SPDX-License-Identifier: (GPL-2.0 OR Apache-2.0) */
/*
 * The ABI between mirror.bpf.c and the daemon: the maps that classify a
 * packet against a mirror's rules, the per-rule and per-program counters,
 * and the load-time parameters. Plain C, explicit padding; the C++ side
 * (src/mirror/compile.h) static_asserts the sizes.
 *
 * Classification is by bitmaps (docs/mirror.md): for each dimension of the
 * 5-tuple, array lookups yield the set of rules that accept the packet's
 * value in that dimension, bit i of the set being rule i. The program ANDs
 * the sets' summaries as it finds them, cheapest first, and stops as soon as
 * that AND is empty; only then does it AND the words the summaries leave,
 * lowest first: the lowest set bit of the first word that is not empty is
 * the rule that matched. The maps are filled once, before the program is
 * attached: a new rule set is a new program instance.
 */
#ifndef L3AF_MIRROR_ABI_H
#define L3AF_MIRROR_ABI_H

#include <linux/types.h>

#define MIRROR_MAX_RULES 1024
#define MIRROR_BITMAP_WORDS (MIRROR_MAX_RULES / 64)

/*
 * A set of rules: rule i is bit (i % 64) of words[i / 64]. Bit w of summary
 * is set when words[w] is not zero, so that two sets with no word in
 * common are found disjoint with one AND instead of MIRROR_BITMAP_WORDS,
 * and the words of a bitmap past the rules are never read.
 */
struct mirror_bitmap {
	__u64 words[MIRROR_BITMAP_WORDS];
	__u64 summary;
};

/*
 * `mirror_proto` (array): the rules that accept an address family and IP
 * protocol, at index MIRROR_PROTO_INDEX(family slot, protocol). A rule with
 * addresses accepts only their family; a rule with ports but no protocol
 * accepts only protocols that carry ports (TCP, UDP, SCTP, UDP-Lite).
 */
#define MIRROR_FAMILY_SLOT_V4 0
#define MIRROR_FAMILY_SLOT_V6 1
#define MIRROR_PROTO_ENTRIES 512
#define MIRROR_PROTO_INDEX(slot, protocol) ((slot)*256 + (protocol))

/*
 * `mirror_sets` (array): the sets that the port and prefix lookups below
 * give by number ("class"). Set 0 is the empty set: a slot never written
 * means "no rule".
 */
#define MIRROR_MAX_SETS (2 * (2 * MIRROR_MAX_RULES + 2) + 4 * (MIRROR_MAX_RULES + 1) + 1)
#define MIRROR_EMPTY_SET 0

/*
 * `mirror_port_classes` (array, one entry): the class of each port, source
 * and destination. The compiler cuts 0-65535 into the intervals between the
 * rules' range boundaries, and intervals that the same rules accept share a
 * class. Slot MIRROR_PORT_NONE holds the class of a packet without ports
 * (another protocol, a non-first fragment, an L4 header cut short): the
 * rules without a range in that dimension.
 */
#define MIRROR_PORT_NONE 65536
#define MIRROR_PORT_SLOTS 65538 /* 65536 ports, MIRROR_PORT_NONE, padding */

struct mirror_port_classes {
	__u16 src[MIRROR_PORT_SLOTS];
	__u16 dst[MIRROR_PORT_SLOTS];
};

/*
 * `mirror_prefix_nodes` (array of __u32): the address dimensions, as tries
 * of 256-entry blocks, one address byte per level; block b holds entries
 * b * 256 to b * 256 + 255. Blocks 0 to 3 are the roots of the source and
 * destination IPv4 and IPv6 tries. An entry either leads to the block of the
 * next byte (MIRROR_NODE_CHILD | block) or ends the walk with the class of
 * the longest rule prefix that holds the address (rules whose prefix holds
 * it, and rules with no prefix in that dimension). An IPv4 lookup reads at
 * most 4 entries, an IPv6 lookup 16, whatever the rules. The compiler says
 * how many blocks the rules need; the map is sized to them before load.
 */
#define MIRROR_PREFIX_ROOT_SRC4 0
#define MIRROR_PREFIX_ROOT_DST4 1
#define MIRROR_PREFIX_ROOT_SRC6 2
#define MIRROR_PREFIX_ROOT_DST6 3
#define MIRROR_PREFIX_ROOTS 4
#define MIRROR_PREFIX_BLOCK 256
#define MIRROR_NODE_CHILD 0x80000000u

/*
 * Load-time parameter `mirror_prefix_starts`, one per root: where a walk
 * begins. The first `depth` bytes of every prefix of the trie (other than
 * /0) are whole bytes of the prefix and the same for all of them, so the
 * walk compares them at once and begins at byte `depth`, in the block the
 * walk from the root would have reached there. An address that differs in
 * them is in none of those prefixes: it gets class `outside`, the class of
 * the root's untouched entries. Rules within one network (IPv6 rules under
 * one /32 or /48) skip most of the levels this way.
 *
 * `shared` and `mask` hold address bytes in memory order, read as two
 * 64-bit words in host order, as the program reads the packet's address.
 */
struct mirror_prefix_start {
	__u64 shared[2]; /* the shared bytes, 0 past `depth` */
	__u64 mask[2];	 /* 0xff over the shared bytes, 0 past `depth` */
	__u32 depth;	 /* shared bytes: the walk begins at this address byte */
	__u32 block;	 /* the block of that byte (the root when depth is 0) */
	__u32 outside;	 /* the class of an address that differs in the shared bytes */
	__u32 pad;
};

/*
 * Load-time parameter `mirror_dimensions`: the dimensions some rule
 * constrains. The program skips the lookups of the others; the maps hold
 * correct contents for every dimension regardless.
 */
enum mirror_dimension {
	MIRROR_DIM_SRC_PORT = 1 << 0,
	MIRROR_DIM_DST_PORT = 1 << 1,
	MIRROR_DIM_SRC4 = 1 << 2,
	MIRROR_DIM_DST4 = 1 << 3,
	MIRROR_DIM_SRC6 = 1 << 4,
	MIRROR_DIM_DST6 = 1 << 5,
};

/* `mirror_rule_counters` (per-CPU array, MIRROR_MAX_RULES entries). A packet
 * counts once, under the lowest-numbered rule it matches. */
struct mirror_rule_counter {
	__u64 packets;
	__u64 bytes; /* frame bytes (skb->len, from the Ethernet header) */
};

/* `mirror_stats` (per-CPU array) index: which program counted. */
enum mirror_stats_slot {
	MIRROR_STATS_INGRESS = 0,
	MIRROR_STATS_EGRESS = 1,
	MIRROR_STATS_SLOTS = 2,
};

struct mirror_stats {
	__u64 seen;	    /* every packet the program ran on */
	__u64 matched;	    /* packets that matched a rule */
	__u64 clone_failed; /* matched, but bpf_clone_redirect() failed */
	__u64 not_ip;	    /* neither IPv4 nor IPv6: rules never match these */
	__u64 truncated;    /* IP headers cut short or malformed: not matched */
	__u64 own_tunnel;   /* GUE packets of l3afd's tunnels (GUE_MARK_SENT): not matched */
};

#endif /* L3AF_MIRROR_ABI_H */
