// SPDX-License-Identifier: GPL-2.0
/*
 * GUE encapsulation of mirrored frames, on the TCX ingress of the far end of
 * a tunnel's veth pair: the mirror programs clone matching frames to the
 * tunnel's veth (l3t-<name>), and each clone arrives here. It is cut to the
 * mirror's snaplen, loses its Ethernet header and VLAN tags, gains outer
 * IPv4 + UDP + a 4-byte GUE header (variant 0, proto = the inner IP
 * protocol), and leaves by the tunnel's device, towards the next hop the
 * kernel's routing table and neighbour cache give for the remote. The wire
 * format is the one Linux's fou/GUE receiver decapsulates.
 *
 * One instance per tunnel: the tunnel's settings are load-time parameters.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "gue_abi.h"
#include "packet_parse.h"

/* Set before load. Addresses in network byte order, the rest host order. */
const volatile __be32 gue_local_addr = 0;
const volatile __be32 gue_remote_addr = 0;
const volatile __u16 gue_remote_port = 6080;
const volatile __u16 gue_source_port = 0; /* 0: "flow" */
const volatile __u8 gue_ttl = 64;
const volatile __u8 gue_checksum = 0; /* compute the outer UDP checksum */
const volatile __u32 gue_device_ifindex = 0;

/* The outer UDP checksum is summed over the packet in chunks of this size
 * (bpf_csum_diff()'s limit), copied out of the skb first, so that it works
 * on paged data too. */
#define GUE_CSUM_CHUNK 512
#define GUE_CSUM_MAX_CHUNKS (65536 / GUE_CSUM_CHUNK)

/* A hardware-accelerated tag plus the two a frame may carry. */
#define GUE_MAX_VLAN_POPS 3

struct gue_scratch {
	__u8 buf[GUE_CSUM_CHUNK + 4]; /* + room to zero-pad the last chunk */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct gue_stats);
} gue_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct gue_scratch);
} gue_scratch SEC(".maps");

/* The outer headers as they follow the Ethernet header. */
struct gue_outer {
	struct iphdr ip;
	struct udphdr udp;
	struct gue_hdr gue;
};

_Static_assert(sizeof(struct gue_outer) == GUE_ENCAP_LEN, "outer headers are 32 bytes");

static __always_inline __u32 gue_csum_add(__u32 sum, __u32 addend)
{
	sum += addend;
	return sum + (sum < addend);
}

static __always_inline __u16 gue_csum_fold(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)sum;
}

static __always_inline __sum16 gue_ip_checksum(const struct iphdr *ip)
{
	const __u16 *words = (const __u16 *)ip;
	__u32 sum = 0;

	for (int i = 0; i < (int)(sizeof(*ip) / 2); i++)
		sum += words[i];
	return (__sum16)~gue_csum_fold(sum);
}

/* source_port = "flow": the inner packet's 5-tuple hashed into 49152-65535. */
static __always_inline __u16 gue_flow_port(struct __sk_buff *skb)
{
	struct pkt_info t;
	__u32 hash = 0;
	__u32 words = 1;

	/* A frame whose headers do not parse still leaves, hashed as zeros. */
	pkt_parse(skb, &t, 0);
	if (t.family == 6)
		words = 4;
	for (__u32 i = 0; i < 4; i++) {
		__u32 word;

		if (i >= words)
			break;
		__builtin_memcpy(&word, t.src + 4 * i, sizeof(word));
		hash = gue_hash_mix(hash, bpf_ntohl(word));
	}
	for (__u32 i = 0; i < 4; i++) {
		__u32 word;

		if (i >= words)
			break;
		__builtin_memcpy(&word, t.dst + 4 * i, sizeof(word));
		hash = gue_hash_mix(hash, bpf_ntohl(word));
	}
	hash = gue_hash_mix(hash, (__u32)bpf_ntohs(t.src_port) << 16 | bpf_ntohs(t.dst_port));
	hash = gue_hash_mix(hash, t.protocol);
	return GUE_FLOW_PORT_BASE + (gue_hash_final(hash) & GUE_FLOW_PORT_MASK);
}

/* One bpf_loop() step of the UDP checksum: the chunk at `offset`. */
struct gue_csum_walk {
	struct __sk_buff *skb;
	struct gue_scratch *scratch;
	__u32 offset;
	__u32 end;
	__u32 sum;
	int error;
};

static long gue_csum_chunk(__u32 index, void *data)
{
	struct gue_csum_walk *walk = data;
	struct gue_scratch *scratch = walk->scratch;
	__u32 len, padded;
	__s64 chunk;

	if (walk->offset >= walk->end)
		return 1;
	len = walk->end - walk->offset;
	if (len > GUE_CSUM_CHUNK)
		len = GUE_CSUM_CHUNK;
	if (len == 0 || bpf_skb_load_bytes(walk->skb, walk->offset, scratch->buf, len) != 0)
		goto error;
	/* Only the last chunk can be short: zero-pad it to whole words. */
	padded = (len + 3) & ~3u;
	if (padded != len)
		*(__u32 *)(scratch->buf + (len & ~3u)) &=
			bpf_htonl(0xffffffffu << (8 * (4 - (len & 3))));
	chunk = bpf_csum_diff(0, 0, (__be32 *)scratch->buf, padded, 0);
	if (chunk < 0)
		goto error;
	walk->sum = gue_csum_add(walk->sum, (__u32)chunk);
	walk->offset += len;
	return 0;
error:
	walk->error = 1;
	return 1;
}

/*
 * The UDP checksum (RFC 768) over the pseudo-header and the bytes from the
 * UDP header at `offset` to the end of the packet, as it goes in the header.
 * The bytes are copied out chunk by chunk, so paged data is summed too.
 */
static __always_inline int gue_udp_checksum(struct __sk_buff *skb, __u32 offset, __u16 udp_len,
					    __sum16 *out)
{
	__u32 zero = 0;
	struct gue_csum_walk walk = {
		.skb = skb,
		.scratch = bpf_map_lookup_elem(&gue_scratch, &zero),
		.offset = offset,
		.end = skb->len,
	};
	__u16 folded;

	if (!walk.scratch)
		return -1;
	/* The pseudo-header, summed as its words lie in memory like the rest. */
	walk.sum = gue_csum_add(walk.sum, gue_local_addr);
	walk.sum = gue_csum_add(walk.sum, gue_remote_addr);
	walk.sum = gue_csum_add(walk.sum, bpf_htons(IPPROTO_UDP));
	walk.sum = gue_csum_add(walk.sum, bpf_htons(udp_len));
	bpf_loop(GUE_CSUM_MAX_CHUNKS, gue_csum_chunk, &walk, 0);
	if (walk.error || walk.offset != walk.end)
		return -1;
	folded = ~gue_csum_fold(walk.sum);
	/* RFC 768: a computed 0 is sent as all ones; 0 means "no checksum". */
	*out = folded ? folded : 0xffff;
	return 0;
}

static __always_inline struct gue_stats *gue_stats_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&gue_stats, &zero);
}

SEC("tc")
int gue_encap(struct __sk_buff *skb)
{
	struct gue_stats *stats = gue_stats_get();
	__u64 adjust_flags = BPF_F_ADJ_ROOM_ENCAP_L3_IPV4 | BPF_F_ADJ_ROOM_ENCAP_L4_UDP |
			     BPF_F_ADJ_ROOM_ENCAP_L2(sizeof(struct gue_hdr));
	__u32 mark = skb->mark;
	__u32 l2_len = ETH_HLEN;
	__u32 snaplen, inner_len, mtu_len = 0;
	__u16 source_port;
	__u8 inner_proto;
	int truncated = 0;
	struct gue_outer *outer;
	struct ethhdr *eth;
	void *data, *data_end;

	/* Per-CPU, and TC programs do not nest on a CPU: plain adds suffice. */
	if (!stats)
		return TC_ACT_SHOT;
	if ((mark & GUE_MARK_TAG_MASK) != GUE_MARK_TAG) {
		stats->foreign++;
		return TC_ACT_SHOT;
	}
	snaplen = mark & GUE_MARK_SNAPLEN_MASK;
	skb->mark = 0;

	/* The inner packet is the IP packet: every VLAN tag goes, the one the
	 * stack keeps beside the frame as well as those in it. Each pop takes
	 * one tag away. */
	for (int i = 0; i < GUE_MAX_VLAN_POPS; i++) {
		if (!skb->vlan_present && skb->protocol != bpf_htons(ETH_P_8021Q) &&
		    skb->protocol != bpf_htons(ETH_P_8021AD))
			break;
		if (bpf_skb_vlan_pop(skb) != 0)
			goto failed;
		l2_len += 4;
	}
	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		inner_proto = IPPROTO_IPIP;
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		inner_proto = IPPROTO_IPV6;
	} else {
		stats->not_ip++;
		return TC_ACT_SHOT;
	}

	source_port = gue_source_port;
	if (source_port == 0)
		source_port = gue_flow_port(skb);

	/* snaplen counts the frame as mirrored, Ethernet header and tags
	 * included, like a capture's snapshot length. */
	if (snaplen) {
		__u32 keep = snaplen > l2_len ? snaplen - l2_len : 0;

		if (skb->len > ETH_HLEN + keep) {
			if (bpf_skb_change_tail(skb, ETH_HLEN + keep, 0) != 0)
				goto failed;
			truncated = 1;
		}
	}

	/*
	 * Room for the outer headers between the Ethernet header and the IP
	 * packet. The encapsulation flags make skb->protocol IPv4 and record
	 * the inner headers (the GUE header standing as the inner "L2"), so
	 * that a GSO packet is segmented correctly on its way out.
	 */
	inner_len = skb->len - ETH_HLEN;
	if (bpf_skb_adjust_room(skb, GUE_ENCAP_LEN, BPF_ADJ_ROOM_MAC, adjust_flags) != 0)
		goto failed;

	data = (void *)(long)skb->data;
	data_end = (void *)(long)skb->data_end;
	eth = data;
	outer = (void *)(eth + 1);
	if ((void *)(outer + 1) > data_end)
		goto failed;
	eth->h_proto = bpf_htons(ETH_P_IP);

	/* No DF: a path with a smaller MTU fragments the mirror rather than
	 * drop it, and the receiver reassembles before decapsulating. */
	outer->ip.version = 4;
	outer->ip.ihl = sizeof(outer->ip) / 4;
	outer->ip.tos = 0;
	outer->ip.tot_len = bpf_htons(inner_len + GUE_ENCAP_LEN);
	outer->ip.id = (__be16)bpf_get_prandom_u32();
	outer->ip.frag_off = 0;
	outer->ip.ttl = gue_ttl;
	outer->ip.protocol = IPPROTO_UDP;
	outer->ip.check = 0;
	outer->ip.saddr = gue_local_addr;
	outer->ip.daddr = gue_remote_addr;
	outer->ip.check = gue_ip_checksum(&outer->ip);

	outer->udp.source = bpf_htons(source_port);
	outer->udp.dest = bpf_htons(gue_remote_port);
	outer->udp.len = bpf_htons(inner_len + sizeof(outer->udp) + sizeof(outer->gue));
	outer->udp.check = 0;

	outer->gue.version_control_hlen = 0;
	outer->gue.proto_ctype = inner_proto;
	outer->gue.flags = 0;

	if (gue_checksum) {
		__u32 udp_offset = ETH_HLEN + sizeof(struct iphdr);
		__u16 udp_len = inner_len + sizeof(struct udphdr) + sizeof(struct gue_hdr);
		__sum16 check;

		/* Segments of a GSO packet would each need their own sum, which
		 * the kernel only fills in for tunnels it set up itself. */
		if (skb->gso_size) {
			stats->unchecksummed++;
		} else {
			if (gue_udp_checksum(skb, udp_offset, udp_len, &check) != 0)
				goto failed;
			if (bpf_skb_store_bytes(
				    skb, udp_offset + __builtin_offsetof(struct udphdr, check),
				    &check, sizeof(check), 0) != 0)
				goto failed;
		}
	}

	if (bpf_check_mtu(skb, gue_device_ifindex, &mtu_len, 0, 0) != BPF_MTU_CHK_RET_SUCCESS) {
		stats->too_big++;
		return TC_ACT_SHOT;
	}

	stats->sent++;
	stats->sent_bytes += skb->len - ETH_HLEN;
	stats->truncated += truncated;
	/* Mirrors on the way out know it for l3afd's own (gue_abi.h). */
	skb->mark = GUE_MARK_SENT;
	/* The kernel finds the next hop for the remote through the device and
	 * fills in the Ethernet header from its neighbour cache. */
	return bpf_redirect_neigh(gue_device_ifindex, 0, 0, 0);

failed:
	stats->failed++;
	return TC_ACT_SHOT;
}

char LICENSE[] SEC("license") = "GPL";
