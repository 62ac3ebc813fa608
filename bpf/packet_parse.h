/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The one packet parser of the eBPF programs (flow accounting, mirror rule
 * matching, the GUE encapsulation's flow hash): Ethernet, the outer VLAN id
 * and tags left in the frame, IPv4 with options, IPv6 extension headers,
 * fragments (only a first fragment has an L4 header), and the L4 header.
 * eBPF only (static inline, direct packet access); not an ABI.
 *
 * Where the programs want different things, a flags argument says which
 * (PKT_*). Callers pass a constant: every function is inlined, so clang
 * folds the flags and the verifier never sees the paths not asked for; a
 * program that wants only the 5-tuple pays for nothing else.
 */
#ifndef L3AF_PACKET_PARSE_H
#define L3AF_PACKET_PARSE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#define PKT_MAX_VLAN_TAGS 2
#define PKT_MAX_IPV6_EXT_HEADERS 8
#define PKT_VLAN_VID_MASK 0x0fff
#define PKT_IP_OFFSET_MASK 0x1fff  /* IPv4 fragment offset, in 8-byte units */
#define PKT_IP6_OFFSET_MASK 0xfff8 /* IPv6 fragment offset, in bytes */

/*
 * When headers are not in the linear part of the skb, they are pulled once,
 * this far, and parsed again. Enough for two VLAN tags, IPv6, a few extension
 * headers and TCP with options.
 */
#define PKT_PULL_LEN 256

#ifndef IPPROTO_SCTP
#define IPPROTO_SCTP 132
#endif
#ifndef IPPROTO_UDPLITE
#define IPPROTO_UDPLITE 136
#endif

/*
 * An IP length the skb cannot hold makes the packet PKT_TRUNCATED, and so
 * does a length of 0 outside GSO and jumbograms: the flow table counts IP
 * bytes and needs them right. Without it the skb's length stands in, which
 * is enough to match on the headers.
 */
#define PKT_STRICT_LEN (1u << 0)
/*
 * Whole L4 headers: TCP (ports, flags, data offset), UDP, and ICMP/ICMPv6,
 * whose {type, code} take dst_port; sets tcp_flags and l4_hdr_len. Without
 * it, only the ports: the first 4 bytes of TCP, UDP, SCTP and UDP-Lite.
 */
#define PKT_L4_HEADERS (1u << 1)
/* Besides the 5-tuple: the outer VLAN id, TTL, TOS and the IP lengths. */
#define PKT_DETAILS (1u << 2)

/* 802.1Q / 802.1ad tag as it follows the MAC addresses (not in the UAPI). */
struct pkt_vlan_hdr {
	__be16 tci;
	__be16 encapsulated_proto;
};

/* IPv6 fragment header, RFC 8200 section 4.5 (not in the UAPI). */
struct pkt_ipv6_frag_hdr {
	__u8 nexthdr;
	__u8 reserved;
	__be16 frag_off;
	__be32 identification;
};

/*
 * ICMP (RFC 792) and ICMPv6 (RFC 4443) share this 8-byte header. Declared
 * here because <linux/icmp.h> drags in glibc's <sys/socket.h>, which does not
 * build for the BPF target.
 */
struct pkt_icmp_hdr {
	__u8 type;
	__u8 code;
	__sum16 checksum;
	__be32 rest;
};

enum pkt_parse_result {
	PKT_IP,	       /* an IPv4 or IPv6 packet: family and addresses are set */
	PKT_NON_IP,    /* neither IPv4 nor IPv6 (ARP, LLDP, ...) */
	PKT_TRUNCATED, /* L2/L3 headers cut short or malformed */
};

/*
 * One packet as the parser saw it: zero where the parser did not get. The
 * fields past the 5-tuple are set, and zeroed, only when a flag asks for them.
 * Aligned so that zeroing it takes 8-byte stores.
 */
struct pkt_info {
	__u8 family;	/* 4 or 6 */
	__u8 protocol;	/* the upper-layer protocol, after IPv6 extension headers */
	__u8 has_ports; /* src_port and dst_port were read */
	__u8 l4_cut;	/* the L4 header was expected but not all there */
	__be16 src_port;
	__be16 dst_port; /* PKT_L4_HEADERS: ICMP's bytes {type, code} */
	__u8 src[16];	 /* IPv4: the first 4 bytes */
	__u8 dst[16];
	/* PKT_DETAILS */
	__u16 vlan;	  /* outermost VLAN id, 0 when untagged */
	__u8 ttl;	  /* IPv4 TTL / IPv6 hop limit */
	__u8 tos;	  /* IPv4 TOS / IPv6 traffic class */
	__u32 l3_offset;  /* the IP header, from the start of the frame */
	__u32 ip_len;	  /* IP header + payload */
	__u32 l3_hdr_len; /* IP header incl. IPv4 options / IPv6 extension headers */
	/* PKT_L4_HEADERS */
	__u32 l4_hdr_len; /* the L4 header a GSO packet's segments repeat */
	__u8 tcp_flags;	  /* CWR ECE URG ACK PSH RST SYN FIN */
	__u8 pad[3];
} __attribute__((aligned(8)));

static __always_inline int pkt_carries_ports(__u8 protocol)
{
	return protocol == IPPROTO_TCP || protocol == IPPROTO_UDP || protocol == IPPROTO_SCTP ||
	       protocol == IPPROTO_UDPLITE;
}

/*
 * The L4 header at l4. l4_len is what the IP header says follows it, so
 * Ethernet padding never passes for an L4 header.
 */
static __always_inline void pkt_parse_l4(void *l4, void *data_end, __u32 l4_len,
					 struct pkt_info *pkt, __u32 flags)
{
	struct tcphdr *tcp = l4;
	struct udphdr *udp = l4;
	struct pkt_icmp_hdr *icmp = l4;
	__be16 *ports = l4;

	if (!(flags & PKT_L4_HEADERS)) {
		if (!pkt_carries_ports(pkt->protocol))
			return;
		if ((void *)(ports + 2) > data_end || l4_len < 2 * sizeof(*ports))
			goto cut;
		pkt->src_port = ports[0];
		pkt->dst_port = ports[1];
		pkt->has_ports = 1;
		return;
	}

	switch (pkt->protocol) {
	case IPPROTO_TCP:
		if ((void *)(tcp + 1) > data_end || l4_len < sizeof(*tcp))
			goto cut;
		pkt->src_port = tcp->source;
		pkt->dst_port = tcp->dest;
		pkt->has_ports = 1;
		/* The flags byte: CWR ECE URG ACK PSH RST SYN FIN. */
		pkt->tcp_flags = ((__u8 *)tcp)[13];
		pkt->l4_hdr_len = tcp->doff * 4;
		return;
	case IPPROTO_UDP:
		if ((void *)(udp + 1) > data_end || l4_len < sizeof(*udp))
			goto cut;
		pkt->src_port = udp->source;
		pkt->dst_port = udp->dest;
		pkt->has_ports = 1;
		pkt->l4_hdr_len = sizeof(*udp);
		return;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		if ((void *)(icmp + 1) > data_end || l4_len < sizeof(*icmp))
			goto cut;
		pkt->dst_port = bpf_htons((__u16)icmp->type << 8 | icmp->code);
		pkt->l4_hdr_len = sizeof(*icmp);
		return;
	default:
		return;
	}
cut:
	pkt->l4_cut = 1;
}

/* The IP packet's headers, as far as the parser got. */
struct pkt_l3 {
	void *hdr;
	__u32 offset;  /* from the start of the frame */
	__u32 ip_len;  /* IP header + payload */
	__u32 hdr_len; /* IP header incl. IPv4 options / IPv6 extension headers */
	__u8 no_l4;    /* a non-first fragment: no L4 header to read */
};

static __always_inline enum pkt_parse_result pkt_parse_ipv4(struct __sk_buff *skb, void *data_end,
							    struct pkt_l3 *l3, struct pkt_info *pkt,
							    __u32 flags)
{
	struct iphdr *iph = l3->hdr;
	__u32 avail = skb->len - l3->offset;
	__u32 hdr_len, ip_len;

	if ((void *)(iph + 1) > data_end)
		return PKT_TRUNCATED;
	hdr_len = iph->ihl * 4;
	if (hdr_len < sizeof(*iph) || l3->hdr + hdr_len > data_end)
		return PKT_TRUNCATED;

	ip_len = bpf_ntohs(iph->tot_len);
	/* BIG TCP: a GSO packet over 64 KiB carries 0 and the skb knows. */
	if (ip_len == 0 && (!(flags & PKT_STRICT_LEN) || skb->gso_segs > 1))
		ip_len = avail;
	if (ip_len > avail) {
		if (flags & PKT_STRICT_LEN)
			return PKT_TRUNCATED;
		ip_len = avail;
	}
	if (ip_len < hdr_len)
		return PKT_TRUNCATED;

	pkt->family = 4;
	pkt->protocol = iph->protocol;
	__builtin_memcpy(pkt->src, &iph->saddr, sizeof(iph->saddr));
	__builtin_memcpy(pkt->dst, &iph->daddr, sizeof(iph->daddr));
	if (flags & PKT_DETAILS) {
		pkt->ttl = iph->ttl;
		pkt->tos = iph->tos;
	}
	l3->ip_len = ip_len;
	l3->hdr_len = hdr_len;
	l3->no_l4 = (iph->frag_off & bpf_htons(PKT_IP_OFFSET_MASK)) != 0;
	return PKT_IP;
}

static __always_inline enum pkt_parse_result pkt_parse_ipv6(struct __sk_buff *skb, void *data_end,
							    struct pkt_l3 *l3, struct pkt_info *pkt,
							    __u32 flags)
{
	struct ipv6hdr *ip6 = l3->hdr;
	__u32 avail = skb->len - l3->offset;
	__u32 offset = sizeof(*ip6);
	__u32 ip_len;
	__u8 nexthdr;

	if ((void *)(ip6 + 1) > data_end)
		return PKT_TRUNCATED;
	ip_len = bpf_ntohs(ip6->payload_len) + sizeof(*ip6);
	/* Jumbograms (RFC 2675) and BIG TCP carry 0: the skb knows the length. */
	if (ip6->payload_len == 0 &&
	    (!(flags & PKT_STRICT_LEN) || skb->gso_segs > 1 || ip6->nexthdr == IPPROTO_HOPOPTS))
		ip_len = avail;
	if (ip_len > avail) {
		if (flags & PKT_STRICT_LEN)
			return PKT_TRUNCATED;
		ip_len = avail;
	}

	pkt->family = 6;
	__builtin_memcpy(pkt->src, &ip6->saddr, sizeof(ip6->saddr));
	__builtin_memcpy(pkt->dst, &ip6->daddr, sizeof(ip6->daddr));
	if (flags & PKT_DETAILS) {
		pkt->ttl = ip6->hop_limit;
		pkt->tos = ip6->priority << 4 | ip6->flow_lbl[0] >> 4;
	}

	/*
	 * Walk the extension headers to the upper-layer protocol. The mobility
	 * header (135) carries no upper layer in practice, and ESP (50) hides
	 * it: both end the walk and become the protocol. A chain longer than
	 * the bound ends where the walk stopped.
	 */
	nexthdr = ip6->nexthdr;
	for (int i = 0; i < PKT_MAX_IPV6_EXT_HEADERS; i++) {
		struct ipv6_opt_hdr *ext = l3->hdr + offset;
		struct pkt_ipv6_frag_hdr *frag = l3->hdr + offset;

		switch (nexthdr) {
		case IPPROTO_HOPOPTS:
		case IPPROTO_ROUTING:
		case IPPROTO_DSTOPTS:
			if ((void *)(ext + 1) > data_end)
				return PKT_TRUNCATED;
			nexthdr = ext->nexthdr;
			offset += (ext->hdrlen + 1) * 8;
			break;
		case IPPROTO_AH:
			/*
			 * RFC 4302: the length is in 4-byte units, minus 2. Merged
			 * with the case above, the walk is no longer unrolled and
			 * takes the verifier many times longer.
			 */
			if ((void *)(ext + 1) > data_end)
				return PKT_TRUNCATED;
			nexthdr = ext->nexthdr;
			offset += (ext->hdrlen + 2) * 4;
			break;
		case IPPROTO_FRAGMENT:
			if ((void *)(frag + 1) > data_end)
				return PKT_TRUNCATED;
			nexthdr = frag->nexthdr;
			offset += sizeof(*frag);
			if (frag->frag_off & bpf_htons(PKT_IP6_OFFSET_MASK)) {
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
		return PKT_TRUNCATED;
	pkt->protocol = nexthdr;
	l3->ip_len = ip_len;
	l3->hdr_len = offset;
	return PKT_IP;
}

/* One pass over the headers in the linear part of the skb. */
static __always_inline enum pkt_parse_result pkt_parse_frame(struct __sk_buff *skb,
							     struct pkt_info *pkt, __u32 flags)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct pkt_l3 l3 = { .offset = sizeof(*eth) };
	enum pkt_parse_result ret;
	__be16 proto;
	int outer_vlan_seen = 0;

	if (flags & (PKT_DETAILS | PKT_L4_HEADERS))
		__builtin_memset(pkt, 0, sizeof(*pkt));
	else
		__builtin_memset(pkt, 0, __builtin_offsetof(struct pkt_info, vlan));
	if ((void *)(eth + 1) > data_end)
		return PKT_TRUNCATED;
	proto = eth->h_proto;
	l3.hdr = eth + 1;

	/*
	 * The outermost tag may already sit in the skb (always on ingress,
	 * and on egress through devices that insert tags in hardware); any tag
	 * left in the frame is then an inner one.
	 */
	if (flags & PKT_DETAILS) {
		outer_vlan_seen = skb->vlan_present;
		if (outer_vlan_seen)
			pkt->vlan = skb->vlan_tci & PKT_VLAN_VID_MASK;
	}
	for (int i = 0; i < PKT_MAX_VLAN_TAGS; i++) {
		struct pkt_vlan_hdr *vlan = l3.hdr;

		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		if ((void *)(vlan + 1) > data_end)
			return PKT_TRUNCATED;
		if ((flags & PKT_DETAILS) && !outer_vlan_seen) {
			pkt->vlan = bpf_ntohs(vlan->tci) & PKT_VLAN_VID_MASK;
			outer_vlan_seen = 1;
		}
		proto = vlan->encapsulated_proto;
		l3.hdr = vlan + 1;
		l3.offset += sizeof(*vlan);
	}

	if (proto == bpf_htons(ETH_P_IP))
		ret = pkt_parse_ipv4(skb, data_end, &l3, pkt, flags);
	else if (proto == bpf_htons(ETH_P_IPV6))
		ret = pkt_parse_ipv6(skb, data_end, &l3, pkt, flags);
	else
		return PKT_NON_IP;
	if (ret != PKT_IP)
		return ret;
	if (flags & PKT_DETAILS) {
		pkt->l3_offset = l3.offset;
		pkt->ip_len = l3.ip_len;
		pkt->l3_hdr_len = l3.hdr_len;
	}
	if (!l3.no_l4)
		pkt_parse_l4(l3.hdr + l3.hdr_len, data_end, l3.ip_len - l3.hdr_len, pkt, flags);
	return PKT_IP;
}

/*
 * Fills pkt from the packet; flags is a constant of PKT_*. Headers beyond the
 * linear part of the skb are out of reach of direct packet access (a packet
 * socket's frames over a page have only their Ethernet header there): they
 * are pulled in, which moves no byte of the packet, and parsed again.
 * Drivers mostly put whole headers in the linear part, so the usual path
 * pays nothing for this.
 */
static __always_inline enum pkt_parse_result pkt_parse(struct __sk_buff *skb, struct pkt_info *pkt,
						       __u32 flags)
{
	enum pkt_parse_result ret = pkt_parse_frame(skb, pkt, flags);

	if (ret == PKT_TRUNCATED || pkt->l4_cut) {
		__u32 len = skb->len < PKT_PULL_LEN ? skb->len : PKT_PULL_LEN;

		if ((void *)(long)skb->data + len > (void *)(long)skb->data_end &&
		    bpf_skb_pull_data(skb, len) == 0)
			ret = pkt_parse_frame(skb, pkt, flags);
	}
	/*
	 * The caller reads *pkt from memory. Left to itself, clang carries
	 * every field in a register from each exit of both passes to where
	 * the caller reads it, and the moves and spills that takes cost every
	 * packet more than the loads do.
	 */
	asm volatile("" : : "r"(pkt) : "memory");
	return ret;
}

#endif /* L3AF_PACKET_PARSE_H */
