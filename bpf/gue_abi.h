/* SPDX-License-Identifier: (GPL-2.0 OR Apache-2.0) */
/*
 * The ABI of gue_encap.bpf.c: what its senders (mirror.bpf.c) put in the
 * clones they hand it, the GUE header it writes, the inner flow hash behind
 * source_port = "flow", and its counters. Plain C; the C++ side static_asserts
 * the sizes, and tests predict source ports with gue_hash_mix() and
 * gue_hash_final().
 */
#ifndef L3AF_GUE_ABI_H
#define L3AF_GUE_ABI_H

#include <linux/types.h>

/*
 * A mirror program marks each clone before bpf_clone_redirect() to the
 * tunnel's veth: skb->mark survives the veth crossing when both ends are in
 * one network namespace, where skb->cb does not. The high half is a tag, so
 * that anything else reaching the tunnel's veth is dropped instead of sent
 * to the analysis host; the low half is the mirror's snaplen (0: whole
 * frame). The encap program replaces it with GUE_MARK_SENT.
 */
#define GUE_MARK_TAG 0x6c330000u /* "l3" */
#define GUE_MARK_TAG_MASK 0xffff0000u
#define GUE_MARK_SNAPLEN_MASK 0x0000ffffu
#define GUE_MARK(snaplen) (GUE_MARK_TAG | ((snaplen)&GUE_MARK_SNAPLEN_MASK))

/*
 * The mark the encap program gives the GUE packets it sends. A mirror that
 * watches a device they leave by (the tunnel's own device: "mirror
 * everything on eth0, tunnel out eth0") would otherwise clone each of them
 * back to the tunnel, which cannot wrap an encapsulated packet again: a
 * clone and a failure per packet sent, and the mirror's counts full of the
 * tunnel's own traffic. Mirror programs pass packets with this mark over
 * and count them (mirror_stats.own_tunnel). The mark stays on the packet
 * from bpf_redirect_neigh() to the device, through the device's own TC
 * hooks. No one else's mark is lost: the packet is the encap program's own
 * (its clone carried GUE_MARK(), the original keeps its mark). Its tag is
 * not GUE_MARK_TAG, so that a sent packet routed back to a tunnel's veth is
 * dropped there. The kernel's route lookup for the remote sees it as the
 * flow's mark: policy routing rules on fwmark that match it apply.
 */
#define GUE_MARK_SENT 0x4c334755u /* "L3GU" */

/*
 * GUE variant 0 (draft-ietf-intarea-gue; Linux fou's struct guehdr):
 * version 0, no control bit, no optional fields, then the inner IP protocol
 * (4: IPv4, 41: IPv6), then 16 bits of flags, all 0.
 */
struct gue_hdr {
	__u8 version_control_hlen; /* ver:2 = 0, C:1 = 0, hlen:5 = 0 */
	__u8 proto_ctype;
	__be16 flags;
};

#define GUE_ENCAP_LEN (20 + 8 + 4) /* outer IPv4, UDP, GUE */

/* source_port = "flow": 49152 + 14 bits of the inner flow hash (RFC 6335's
 * dynamic range), so ECMP spreads flows and keeps each one on one path. */
#define GUE_FLOW_PORT_BASE 49152
#define GUE_FLOW_PORT_MASK 0x3fff

/*
 * The inner flow hash over the words of the 5-tuple, in memory order:
 * addresses as 1 (IPv4) or 4 (IPv6) 32-bit words each, then
 * (src port bytes, dst port bytes) as one word, then the protocol.
 * Ports are 0 when the inner packet has none. Murmur3's mixing steps: cheap
 * in eBPF and spreading every input bit.
 */
static inline __u32 gue_hash_mix(__u32 hash, __u32 word)
{
	word *= 0xcc9e2d51u;
	word = (word << 15) | (word >> 17);
	word *= 0x1b873593u;
	hash ^= word;
	hash = (hash << 13) | (hash >> 19);
	return hash * 5 + 0xe6546b64u;
}

static inline __u32 gue_hash_final(__u32 hash)
{
	hash ^= hash >> 16;
	hash *= 0x85ebca6bu;
	hash ^= hash >> 13;
	hash *= 0xc2b2ae35u;
	hash ^= hash >> 16;
	return hash;
}

/* `gue_stats` (per-CPU array, one entry). */
struct gue_stats {
	__u64 sent;	     /* encapsulated and handed to bpf_redirect_neigh() */
	__u64 sent_bytes;    /* outer IP bytes of those */
	__u64 truncated;     /* of those, cut to the mirror's snaplen */
	__u64 unchecksummed; /* GSO packets sent with a zero UDP checksum
			      * although checksum = true: the kernel segments
			      * them and would not fix a checksum up */
	__u64 too_big;	     /* dropped: larger than the device's MTU */
	__u64 not_ip;	     /* dropped: the frame carried neither IPv4 nor IPv6 */
	__u64 foreign;	     /* dropped: not a clone from a mirror (no mark) */
	__u64 failed;	     /* dropped: a helper failed (out of memory, ...) */
};

#endif /* L3AF_GUE_ABI_H */
