/* SPDX-License-Identifier: GPL-2.0 */
/* What xdp_trace.bpf.c shares with its test: the per-packet trace. */
#ifndef L3AF_TESTS_XDP_TRACE_H
#define L3AF_TESTS_XDP_TRACE_H

/* xdp_trace: array map, key __u32, value __u64. The slot of an ICMP echo
 * request is its sequence number modulo the slot count; each program that
 * sees the packet shifts its tag in (value = value << 4 | tag), so the hex
 * digits of a slot read as the programs that ran, first to last. */
#define XDP_TRACE_SLOTS 64

#define XDP_TRACE_TAG_A 0xa
#define XDP_TRACE_TAG_B 0xb
#define XDP_TRACE_TAG_C 0xc

#endif
