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
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "flow_abi.h"

/* The daemon sizes both tables with bpf_map__set_max_entries() before load. */
#define FLOW_DEFAULT_MAX_ENTRIES 65536

#define FLOW_MAX_VLAN_TAGS 2
#define FLOW_MAX_IPV6_EXT_HEADERS 8
#define FLOW_VLAN_VID_MASK 0x0fff
#define FLOW_IP_OFFSET_MASK 0x1fff  /* IPv4 fragment offset, in 8-byte units */
#define FLOW_IP6_OFFSET_MASK 0xfff8 /* IPv6 fragment offset, in bytes */

/*
 * When headers are not in the linear part of the skb, they are pulled once,
 * this far, and parsed again. Enough for two VLAN tags, IPv6, a few extension
 * headers and TCP with options.
 */
#define FLOW_PULL_LEN 256

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

/* 802.1Q / 802.1ad tag as it follows the MAC addresses (not in the UAPI). */
struct flow_vlan_hdr {
	__be16 tci;
	__be16 encapsulated_proto;
};

/* IPv6 fragment header, RFC 8200 section 4.5 (not in the UAPI). */
struct flow_ipv6_frag_hdr {
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
struct flow_icmp_hdr {
	__u8 type;
	__u8 code;
	__sum16 checksum;
	__be32 rest;
};

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

enum flow_parse_result {
	FLOW_PARSE_IP,	      /* key filled: count it as a flow */
	FLOW_PARSE_NON_IP,    /* FLOW_STAT_NON_IP */
	FLOW_PARSE_TRUNCATED, /* FLOW_STAT_TRUNCATED */
};

/* One packet as the table sees it. */
struct flow_pkt {
	struct flow_key key;
	__u64 octets; /* IP-level, all GSO segments */
	__u32 segs;   /* packets: GSO segments, or 1 */
	__u8 tcp_flags;
	__u8 ttl;
	__u8 tos;
	__u8 l4_cut; /* the L4 header was expected but not all there */
};

/* Where a packet's L3 header starts and how long the IP packet says it is. */
struct flow_l3 {
	void *hdr;
	__u32 offset;  /* from the start of the frame */
	__u32 ip_len;  /* IP header + payload */
	__u32 hdr_len; /* IP header incl. IPv4 options / IPv6 extension headers */
	__u8 no_l4;    /* a non-first fragment: no L4 header to read */
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
 * Ports (or ICMP type/code), TCP flags and the L4 header length. l4_len is
 * what the IP header says follows it, so Ethernet padding never passes for
 * an L4 header. Returns the L4 header length replicated in every GSO segment.
 */
static __always_inline __u32 flow_parse_l4(void *l4, void *data_end, __u32 l4_len,
					   struct flow_pkt *pkt)
{
	switch (pkt->key.protocol) {
	case IPPROTO_TCP: {
		struct tcphdr *tcp = l4;

		if ((void *)(tcp + 1) > data_end || l4_len < sizeof(*tcp))
			goto cut;
		pkt->key.src_port = tcp->source;
		pkt->key.dst_port = tcp->dest;
		/* The flags byte: CWR ECE URG ACK PSH RST SYN FIN. */
		pkt->tcp_flags = ((__u8 *)tcp)[13];
		return tcp->doff * 4;
	}
	case IPPROTO_UDP: {
		struct udphdr *udp = l4;

		if ((void *)(udp + 1) > data_end || l4_len < sizeof(*udp))
			goto cut;
		pkt->key.src_port = udp->source;
		pkt->key.dst_port = udp->dest;
		return sizeof(*udp);
	}
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6: {
		/* The key holds the bytes {type, code}. */
		struct flow_icmp_hdr *icmp = l4;

		if ((void *)(icmp + 1) > data_end || l4_len < sizeof(*icmp))
			goto cut;
		pkt->key.dst_port = bpf_htons((__u16)icmp->type << 8 | icmp->code);
		return sizeof(*icmp);
	}
	default:
		return 0;
	}
cut:
	pkt->l4_cut = 1;
	return 0;
}

static __always_inline enum flow_parse_result
flow_parse_ipv4(struct __sk_buff *skb, void *data_end, struct flow_l3 *l3, struct flow_pkt *pkt)
{
	struct iphdr *iph = l3->hdr;
	__u32 avail = skb->len - l3->offset;

	if ((void *)(iph + 1) > data_end)
		return FLOW_PARSE_TRUNCATED;
	l3->hdr_len = iph->ihl * 4;
	if (l3->hdr_len < sizeof(*iph) || l3->hdr + l3->hdr_len > data_end)
		return FLOW_PARSE_TRUNCATED;

	l3->ip_len = bpf_ntohs(iph->tot_len);
	/* BIG TCP: a GSO packet over 64 KiB carries 0 and the skb knows. */
	if (l3->ip_len == 0 && skb->gso_segs > 1)
		l3->ip_len = avail;
	if (l3->ip_len < l3->hdr_len || l3->ip_len > avail)
		return FLOW_PARSE_TRUNCATED;

	pkt->key.family = 4;
	pkt->key.protocol = iph->protocol;
	__builtin_memcpy(pkt->key.src, &iph->saddr, sizeof(iph->saddr));
	__builtin_memcpy(pkt->key.dst, &iph->daddr, sizeof(iph->daddr));
	pkt->ttl = iph->ttl;
	pkt->tos = iph->tos;
	l3->no_l4 = (iph->frag_off & bpf_htons(FLOW_IP_OFFSET_MASK)) != 0;
	return FLOW_PARSE_IP;
}

static __always_inline enum flow_parse_result
flow_parse_ipv6(struct __sk_buff *skb, void *data_end, struct flow_l3 *l3, struct flow_pkt *pkt)
{
	struct ipv6hdr *ip6 = l3->hdr;
	__u32 avail = skb->len - l3->offset;
	__u32 offset = sizeof(*ip6);
	__u8 nexthdr;

	if ((void *)(ip6 + 1) > data_end)
		return FLOW_PARSE_TRUNCATED;
	l3->ip_len = bpf_ntohs(ip6->payload_len) + sizeof(*ip6);
	/* Jumbograms (RFC 2675) and BIG TCP carry 0: the skb knows the length. */
	if (ip6->payload_len == 0 && (skb->gso_segs > 1 || ip6->nexthdr == IPPROTO_HOPOPTS))
		l3->ip_len = avail;
	if (l3->ip_len > avail)
		return FLOW_PARSE_TRUNCATED;

	pkt->key.family = 6;
	__builtin_memcpy(pkt->key.src, &ip6->saddr, sizeof(ip6->saddr));
	__builtin_memcpy(pkt->key.dst, &ip6->daddr, sizeof(ip6->daddr));
	pkt->ttl = ip6->hop_limit;
	pkt->tos = ip6->priority << 4 | ip6->flow_lbl[0] >> 4;

	/*
	 * Walk the extension headers to the upper-layer protocol. The mobility
	 * header (135) carries no upper layer in practice, and ESP (50) hides
	 * it: both end the walk and become the key's protocol. A chain longer
	 * than the bound is counted under the header where the walk stopped.
	 */
	nexthdr = ip6->nexthdr;
	for (int i = 0; i < FLOW_MAX_IPV6_EXT_HEADERS; i++) {
		struct ipv6_opt_hdr *ext = l3->hdr + offset;
		struct flow_ipv6_frag_hdr *frag = l3->hdr + offset;

		switch (nexthdr) {
		case IPPROTO_HOPOPTS:
		case IPPROTO_ROUTING:
		case IPPROTO_DSTOPTS:
			if ((void *)(ext + 1) > data_end)
				return FLOW_PARSE_TRUNCATED;
			nexthdr = ext->nexthdr;
			offset += (ext->hdrlen + 1) * 8;
			break;
		case IPPROTO_AH:
			/* RFC 4302: the length is in 4-byte units, minus 2. */
			if ((void *)(ext + 1) > data_end)
				return FLOW_PARSE_TRUNCATED;
			nexthdr = ext->nexthdr;
			offset += (ext->hdrlen + 2) * 4;
			break;
		case IPPROTO_FRAGMENT:
			if ((void *)(frag + 1) > data_end)
				return FLOW_PARSE_TRUNCATED;
			nexthdr = frag->nexthdr;
			offset += sizeof(*frag);
			if (frag->frag_off & bpf_htons(FLOW_IP6_OFFSET_MASK)) {
				l3->no_l4 = 1;
				goto done;
			}
			break;
		default:
			goto done;
		}
	}
done:
	if (offset > l3->ip_len || l3->hdr + offset > data_end)
		return FLOW_PARSE_TRUNCATED;
	l3->hdr_len = offset;
	pkt->key.protocol = nexthdr;
	return FLOW_PARSE_IP;
}

/*
 * Fills pkt from the packet. The key is zeroed first, padding included:
 * userspace builds the same keys to look flows up.
 */
static __always_inline enum flow_parse_result flow_parse(struct __sk_buff *skb,
							 struct flow_pkt *pkt)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct flow_l3 l3 = { .offset = sizeof(*eth) };
	enum flow_parse_result ret;
	__u32 l4_hdr_len = 0;
	__u32 segs;
	__be16 proto;
	int outer_vlan_seen;

	__builtin_memset(pkt, 0, sizeof(*pkt));

	if ((void *)(eth + 1) > data_end)
		return FLOW_PARSE_TRUNCATED;
	proto = eth->h_proto;
	l3.hdr = eth + 1;

	/*
	 * The outermost tag may already sit in the skb (always on ingress,
	 * and on egress through devices that insert tags in hardware); any tag
	 * left in the frame is then an inner one.
	 */
	outer_vlan_seen = skb->vlan_present;
	if (outer_vlan_seen)
		pkt->key.vlan = skb->vlan_tci & FLOW_VLAN_VID_MASK;
	for (int i = 0; i < FLOW_MAX_VLAN_TAGS; i++) {
		struct flow_vlan_hdr *vlan = l3.hdr;

		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		if ((void *)(vlan + 1) > data_end)
			return FLOW_PARSE_TRUNCATED;
		if (!outer_vlan_seen) {
			pkt->key.vlan = bpf_ntohs(vlan->tci) & FLOW_VLAN_VID_MASK;
			outer_vlan_seen = 1;
		}
		proto = vlan->encapsulated_proto;
		l3.hdr = vlan + 1;
		l3.offset += sizeof(*vlan);
	}

	if (proto == bpf_htons(ETH_P_IP))
		ret = flow_parse_ipv4(skb, data_end, &l3, pkt);
	else if (proto == bpf_htons(ETH_P_IPV6))
		ret = flow_parse_ipv6(skb, data_end, &l3, pkt);
	else
		return FLOW_PARSE_NON_IP;
	if (ret != FLOW_PARSE_IP)
		return ret;

	if (!l3.no_l4)
		l4_hdr_len =
			flow_parse_l4(l3.hdr + l3.hdr_len, data_end, l3.ip_len - l3.hdr_len, pkt);

	/*
	 * RFC 7012 octetDeltaCount: IP bytes. A GSO packet leaves as segments
	 * that each repeat the L3 and L4 headers, so count what they will be
	 * on the wire.
	 */
	segs = skb->gso_segs;
	if (segs > 1) {
		pkt->segs = segs;
		pkt->octets = (__u64)(skb->len - l3.offset) +
			      (__u64)(segs - 1) * (l3.hdr_len + l4_hdr_len);
	} else {
		pkt->segs = 1;
		pkt->octets = l3.ip_len;
	}
	return FLOW_PARSE_IP;
}

static __always_inline void flow_value_add(struct flow_value *value, const struct flow_pkt *pkt,
					   __u64 now)
{
	__sync_fetch_and_add(&value->packets, pkt->segs);
	__sync_fetch_and_add(&value->octets, pkt->octets);
	/* Racy between CPUs, but any of the racing stamps is a fine last_seen. */
	value->last_seen_ns = now;
	/* Skip the atomic when the flags are already there, as they mostly are. */
	if (pkt->tcp_flags & ~value->tcp_flags)
		__sync_fetch_and_or((__u32 *)&value->tcp_flags,
				    (__u32)pkt->tcp_flags << FLOW_TCP_FLAGS_SHIFT);
	if (pkt->ttl < value->min_ttl)
		value->min_ttl = pkt->ttl;
	if (pkt->ttl > value->max_ttl)
		value->max_ttl = pkt->ttl;
}

static __always_inline void flow_create(const struct flow_pkt *pkt, __u64 now)
{
	struct flow_value *value;
	struct flow_value fresh = {
		.packets = pkt->segs,
		.octets = pkt->octets,
		.first_seen_ns = now,
		.last_seen_ns = now,
		.tcp_flags = pkt->tcp_flags,
		.min_ttl = pkt->ttl,
		.max_ttl = pkt->ttl,
		.tos = pkt->tos,
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
	enum flow_parse_result ret;

	ret = flow_parse(skb, &pkt);
	/*
	 * Headers may sit beyond the linear part of the skb, out of reach of
	 * direct packet access (a packet socket's frames over a page have
	 * only their Ethernet header there): pull them in and parse again.
	 * Drivers mostly put whole headers in the linear part, so the usual
	 * path pays nothing for this.
	 */
	if (ret == FLOW_PARSE_TRUNCATED || pkt.l4_cut) {
		__u32 len = skb->len < FLOW_PULL_LEN ? skb->len : FLOW_PULL_LEN;
		void *data = (void *)(long)skb->data;
		void *data_end = (void *)(long)skb->data_end;

		if (data + len > data_end && bpf_skb_pull_data(skb, len) == 0)
			ret = flow_parse(skb, &pkt);
	}

	switch (ret) {
	case FLOW_PARSE_IP:
		pkt.key.ifindex = skb->ifindex;
		pkt.key.direction = direction;
		flow_count(&pkt);
		break;
	case FLOW_PARSE_NON_IP:
		flow_stat_add(FLOW_STAT_NON_IP, 1, skb->len);
		break;
	case FLOW_PARSE_TRUNCATED:
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
