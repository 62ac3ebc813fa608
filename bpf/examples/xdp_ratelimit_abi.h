/* SPDX-License-Identifier: (GPL-2.0 OR Apache-2.0) */
/*
 * The maps of xdp_ratelimit.bpf.c, as its users see them: `config` (set from
 * TOML), `buckets` (the program's own state) and `stats` (counters). Plain C,
 * explicit padding, shared with the tests.
 */
#ifndef L3AF_XDP_RATELIMIT_ABI_H
#define L3AF_XDP_RATELIMIT_ABI_H

#include <linux/types.h>

/*
 * `config`, an array with one entry at key 0:
 *   [program.maps.config]
 *   entries = [{ key = 0, value = { rate_pps = 1000, burst = 100 } }]
 * rate_pps 0 turns the limit off (the map's initial state). burst is how many
 * packets a source may send back to back; 0 counts as 1.
 */
struct ratelimit_config {
	__u64 rate_pps;
	__u64 burst;
};

/* `buckets`: one per source address. IPv4 sources use the first 4 bytes of
 * addr and leave the rest zero. */
struct ratelimit_key {
	__u32 family; /* 4 or 6 */
	__u8 addr[16];
};

/*
 * The bucket as the virtual-scheduling form of a token bucket (GCRA): one
 * timestamp instead of a token count and a refill time, so a CPU updates it
 * with a single compare-and-swap. A packet conforms while
 * tat_ns <= now + (burst - 1) * interval, and then moves tat_ns one interval
 * (1e9 / rate_pps ns) past max(now, tat_ns).
 */
struct ratelimit_bucket {
	__u64 tat_ns; /* theoretical arrival time, bpf_ktime_get_ns() clock */
};

/* `stats`, a per-CPU array with one entry at key 0. */
struct ratelimit_stats {
	__u64 passed; /* every packet the program passed, IP or not */
	__u64 dropped;
};

#endif
