/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The 5-tuple of an Ethernet frame, for the mirror's rule matching and the
 * GUE encapsulation's flow hash. eBPF only (static inline, direct packet
 * access); not an ABI. Parses like flow.bpf.c: VLAN tags left in the frame,
 * IPv4 with options, IPv6 extension headers, fragments (only a first
 * fragment has ports).
 */
#ifndef L3AF_MIRROR_PARSE_H
#define L3AF_MIRROR_PARSE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#define MIRROR_MAX_VLAN_TAGS 2
#define MIRROR_MAX_IPV6_EXT_HEADERS 8
#define MIRROR_IP_OFFSET_MASK 0x1fff  /* IPv4 fragment offset, 8-byte units */
#define MIRROR_IP6_OFFSET_MASK 0xfff8 /* IPv6 fragment offset, bytes */

/* Headers outside the linear part of the skb are pulled this far and parsed
 * again: two VLAN tags, IPv6 with a few extension headers, the ports. */
#define MIRROR_PULL_LEN 256

#ifndef IPPROTO_SCTP
#define IPPROTO_SCTP 132
#endif
#ifndef IPPROTO_UDPLITE
#define IPPROTO_UDPLITE 136
#endif

/* 802.1Q / 802.1ad tag as it follows the MAC addresses (not in the UAPI). */
struct mirror_vlan_hdr {
	__be16 tci;
	__be16 encapsulated_proto;
};

/* IPv6 fragment header, RFC 8200 section 4.5 (not in the UAPI). */
struct mirror_ipv6_frag_hdr {
	__u8 nexthdr;
	__u8 reserved;
	__be16 frag_off;
	__be32 identification;
};

struct mirror_tuple {
	__u8 family;	/* 4 or 6 */
	__u8 protocol;	/* the upper-layer protocol, after IPv6 extension headers */
	__u8 has_ports; /* src_port and dst_port were read */
	__u8 pad;
	__be16 src_port;
	__be16 dst_port;
	__u8 src[16]; /* IPv4: the first 4 bytes */
	__u8 dst[16];
};

enum mirror_parse_result {
	MIRROR_PARSE_IP,
	MIRROR_PARSE_NOT_IP,
	MIRROR_PARSE_TRUNCATED,
};

/* The IP packet's headers, as far as the parser got. */
struct mirror_l3 {
	void *hdr;
	__u32 offset;	/* from the start of the frame */
	__u32 l4_avail; /* bytes after the IP headers that belong to the packet */
	__u8 no_l4;	/* a non-first fragment */
};

static __always_inline int mirror_carries_ports(__u8 protocol)
{
	return protocol == IPPROTO_TCP || protocol == IPPROTO_UDP || protocol == IPPROTO_SCTP ||
	       protocol == IPPROTO_UDPLITE;
}

static __always_inline enum mirror_parse_result mirror_parse_ipv4(struct __sk_buff *skb,
								  void *data_end,
								  struct mirror_l3 *l3,
								  struct mirror_tuple *t)
{
	struct iphdr *iph = l3->hdr;
	__u32 avail = skb->len - l3->offset;
	__u32 hdr_len, ip_len;

	if ((void *)(iph + 1) > data_end)
		return MIRROR_PARSE_TRUNCATED;
	hdr_len = iph->ihl * 4;
	if (hdr_len < sizeof(*iph) || l3->hdr + hdr_len > data_end)
		return MIRROR_PARSE_TRUNCATED;
	ip_len = bpf_ntohs(iph->tot_len);
	/* BIG TCP: a GSO packet over 64 KiB carries 0; the skb knows. */
	if (ip_len == 0 || ip_len > avail)
		ip_len = avail;
	if (ip_len < hdr_len)
		return MIRROR_PARSE_TRUNCATED;

	t->family = 4;
	t->protocol = iph->protocol;
	__builtin_memcpy(t->src, &iph->saddr, sizeof(iph->saddr));
	__builtin_memcpy(t->dst, &iph->daddr, sizeof(iph->daddr));
	l3->no_l4 = (iph->frag_off & bpf_htons(MIRROR_IP_OFFSET_MASK)) != 0;
	l3->l4_avail = ip_len - hdr_len;
	l3->hdr += hdr_len;
	return MIRROR_PARSE_IP;
}

static __always_inline enum mirror_parse_result mirror_parse_ipv6(struct __sk_buff *skb,
								  void *data_end,
								  struct mirror_l3 *l3,
								  struct mirror_tuple *t)
{
	struct ipv6hdr *ip6 = l3->hdr;
	__u32 avail = skb->len - l3->offset;
	__u32 offset = sizeof(*ip6);
	__u32 ip_len;
	__u8 nexthdr;

	if ((void *)(ip6 + 1) > data_end)
		return MIRROR_PARSE_TRUNCATED;
	ip_len = bpf_ntohs(ip6->payload_len) + sizeof(*ip6);
	/* Jumbograms and BIG TCP carry 0: the skb knows the length. */
	if (ip6->payload_len == 0 || ip_len > avail)
		ip_len = avail;

	t->family = 6;
	__builtin_memcpy(t->src, &ip6->saddr, sizeof(ip6->saddr));
	__builtin_memcpy(t->dst, &ip6->daddr, sizeof(ip6->daddr));

	/* To the upper-layer protocol; ESP, the mobility header, or a chain
	 * longer than the bound end the walk where they are. */
	nexthdr = ip6->nexthdr;
	for (int i = 0; i < MIRROR_MAX_IPV6_EXT_HEADERS; i++) {
		struct ipv6_opt_hdr *ext = l3->hdr + offset;
		struct mirror_ipv6_frag_hdr *frag = l3->hdr + offset;

		switch (nexthdr) {
		case IPPROTO_HOPOPTS:
		case IPPROTO_ROUTING:
		case IPPROTO_DSTOPTS:
			if ((void *)(ext + 1) > data_end)
				return MIRROR_PARSE_TRUNCATED;
			nexthdr = ext->nexthdr;
			offset += (ext->hdrlen + 1) * 8;
			break;
		case IPPROTO_AH:
			/* RFC 4302: the length is in 4-byte units, minus 2. */
			if ((void *)(ext + 1) > data_end)
				return MIRROR_PARSE_TRUNCATED;
			nexthdr = ext->nexthdr;
			offset += (ext->hdrlen + 2) * 4;
			break;
		case IPPROTO_FRAGMENT:
			if ((void *)(frag + 1) > data_end)
				return MIRROR_PARSE_TRUNCATED;
			nexthdr = frag->nexthdr;
			offset += sizeof(*frag);
			if (frag->frag_off & bpf_htons(MIRROR_IP6_OFFSET_MASK)) {
				l3->no_l4 = 1;
				goto done;
			}
			break;
		default:
			goto done;
		}
	}
done:
	if (offset > ip_len || l3->hdr + offset > data_end)
		return MIRROR_PARSE_TRUNCATED;
	t->protocol = nexthdr;
	l3->l4_avail = ip_len - offset;
	l3->hdr += offset;
	return MIRROR_PARSE_IP;
}

static __always_inline enum mirror_parse_result mirror_parse_frame(struct __sk_buff *skb,
								   struct mirror_tuple *t)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct mirror_l3 l3 = { .offset = sizeof(*eth) };
	enum mirror_parse_result ret;
	__be16 proto;

	__builtin_memset(t, 0, sizeof(*t));
	if ((void *)(eth + 1) > data_end)
		return MIRROR_PARSE_TRUNCATED;
	proto = eth->h_proto;
	l3.hdr = eth + 1;

	/* A tag the stack took out of the frame is in skb->vlan_tci: only the
	 * tags left in the frame are in the way. */
	for (int i = 0; i < MIRROR_MAX_VLAN_TAGS; i++) {
		struct mirror_vlan_hdr *vlan = l3.hdr;

		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		if ((void *)(vlan + 1) > data_end)
			return MIRROR_PARSE_TRUNCATED;
		proto = vlan->encapsulated_proto;
		l3.hdr = vlan + 1;
		l3.offset += sizeof(*vlan);
	}

	if (proto == bpf_htons(ETH_P_IP))
		ret = mirror_parse_ipv4(skb, data_end, &l3, t);
	else if (proto == bpf_htons(ETH_P_IPV6))
		ret = mirror_parse_ipv6(skb, data_end, &l3, t);
	else
		return MIRROR_PARSE_NOT_IP;
	if (ret != MIRROR_PARSE_IP)
		return ret;

	/* The ports are the first 4 bytes of each of these protocols' header.
	 * l4_avail keeps Ethernet padding from passing for them. */
	if (!l3.no_l4 && mirror_carries_ports(t->protocol)) {
		__be16 *ports = l3.hdr;

		if ((void *)(ports + 2) <= data_end && l3.l4_avail >= 2 * sizeof(*ports)) {
			t->src_port = ports[0];
			t->dst_port = ports[1];
			t->has_ports = 1;
		}
	}
	return MIRROR_PARSE_IP;
}

/*
 * The frame's 5-tuple. Headers beyond the linear part of the skb are out of
 * reach of direct packet access: they are pulled in (which moves no byte of
 * the packet) and parsed again. Drivers mostly put whole headers in the
 * linear part, so the usual path pays nothing for this.
 */
static __always_inline enum mirror_parse_result mirror_parse(struct __sk_buff *skb,
							     struct mirror_tuple *t)
{
	enum mirror_parse_result ret = mirror_parse_frame(skb, t);
	__u32 len;

	if (ret == MIRROR_PARSE_NOT_IP || (ret == MIRROR_PARSE_IP && t->has_ports) ||
	    (ret == MIRROR_PARSE_IP && !mirror_carries_ports(t->protocol)))
		return ret;
	len = skb->len < MIRROR_PULL_LEN ? skb->len : MIRROR_PULL_LEN;
	if ((void *)(long)skb->data + len > (void *)(long)skb->data_end &&
	    bpf_skb_pull_data(skb, len) == 0)
		ret = mirror_parse_frame(skb, t);
	return ret;
}

#endif /* L3AF_MIRROR_PARSE_H */
