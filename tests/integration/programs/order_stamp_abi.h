/* SPDX-License-Identifier: (GPL-2.0 OR Apache-2.0) */
/*
 * order_stamp.bpf.c, a test program: the packets it stamps and its maps.
 *
 * A stamp packet is IPv4/UDP to port ORDER_STAMP_PORT whose payload starts
 * with the magic "L3AF" and ORDER_STAMP_SLOTS one-byte slots, sent zeroed.
 * Every instance of the program on a hook writes its id into the first slot
 * still zero, so the received payload lists the ids in the order the
 * instances ran.
 */
#ifndef L3AF_ORDER_STAMP_ABI_H
#define L3AF_ORDER_STAMP_ABI_H

#include <linux/types.h>

#define ORDER_STAMP_PORT 7777
#define ORDER_STAMP_MAGIC "L3AF"
#define ORDER_STAMP_MAGIC_LEN 4
#define ORDER_STAMP_SLOTS 8

/*
 * `stamp`: an array with one __u32 at key 0, the instance's id, 1-255: its
 * low byte is what goes into the slot, and a low byte of 0 (the initial
 * value) stamps nothing.
 *   [program.maps.stamp]
 *   entries = [{ key = 0, value = 3 }]
 *
 * `stamped`: an array with one __u64 at key 0, the number of packets this
 * instance stamped.
 */

#endif
