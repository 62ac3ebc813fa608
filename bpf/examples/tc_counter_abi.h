/* SPDX-License-Identifier: (GPL-2.0 OR Apache-2.0) */
/*
 * The map of tc_counter.bpf.c: `counts`, a per-CPU array indexed by IP
 * protocol number (0-255), with one more slot for frames that are not IP.
 * Plain C, shared with the tests.
 */
#ifndef L3AF_TC_COUNTER_ABI_H
#define L3AF_TC_COUNTER_ABI_H

#include <linux/types.h>

/* The slot of frames that carry neither IPv4 nor IPv6. */
#define TC_COUNTER_NOT_IP 256
#define TC_COUNTER_SLOTS 257

struct tc_counter_value {
	__u64 packets; /* sk_buffs: a GRO/GSO packet counts once */
	__u64 bytes;   /* skb->len: the frame from its Ethernet header on */
};

#endif
