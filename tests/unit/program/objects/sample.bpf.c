// An object for resolve_test: programs of several types and maps whose keys
// and values show each way a TOML value is encoded through BTF. Never
// loaded; only opened.

#include <linux/bpf.h>
#include <linux/in6.h>
#include <linux/pkt_cls.h>

#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

// Global data: the object's internal maps (.rodata, .bss), not declarable.
const volatile __u32 sample_threshold = 0;
__u64 sample_hits = 0;

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 8);
    __type(key, __u32);
    __type(value, __u64);
} counters SEC(".maps");

struct endpoint {
    __be32 addr;
    __u16 port;
    __u8 proto;
    __u8 pad;
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 2);
    __type(key, struct endpoint);
    __type(value, __u32);
} endpoints SEC(".maps");

enum mode {
    MODE_OFF,
    MODE_COUNT,
    MODE_DROP = 7,
};

struct limits {
    __u16 rate;
    __u16 burst[3];
    enum mode mode;
    char name[16];
    __be16 port;
    __s8 bias;
    __u8 grid[2][3];
};

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 4);
    __type(key, __u32);
    __type(value, struct limits);
} limits SEC(".maps");

struct stats {
    __u64 packets;
    __u64 bytes;
};

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct stats);
} percpu_stats SEC(".maps");

struct flags {
    __u32 enabled : 1;
    __u32 level : 3;
    __s32 delta : 4;
    enum mode mode : 8;
    __u32 rest : 16;
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 16);
    __type(key, __u32);
    __type(value, struct flags);
} flag_sets SEC(".maps");

struct route_key {
    __u32 prefixlen;
    struct in6_addr addr;
};

struct next_hop {
    __u8 via4[4];
    __u8 via6[16];
    __u32 ifindex;
};

struct {
    __uint(type, BPF_MAP_TYPE_LPM_TRIE);
    __uint(max_entries, 16);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __type(key, struct route_key);
    __type(value, struct next_hop);
} routes SEC(".maps");

struct cookie {
    __u64 id;
    void* owner;
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 16);
    __type(key, __u32);
    __type(value, struct cookie);
} cookies SEC(".maps");

// Sizes without BTF types: entries cannot be encoded.
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 16);
    __uint(key_size, 4);
    __uint(value_size, 8);
} untyped SEC(".maps");

// Not a map of data the configuration could fill.
struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 4096);
} events SEC(".maps");

SEC("tc")
int tc_count(struct __sk_buff* skb) {
    __u32 key = 0;
    __u64* count = bpf_map_lookup_elem(&counters, &key);
    if (count && skb->len > sample_threshold)
        __sync_fetch_and_add(count, 1);
    sample_hits++;
    return TC_ACT_OK;
}

SEC("tcx/egress")
int tcx_egress_only(struct __sk_buff* skb) {
    return TC_ACT_OK;
}

SEC("xdp")
int xdp_pass(struct xdp_md* ctx) {
    return XDP_PASS;
}

SEC("xdp/devmap")
int xdp_devmap_only(struct xdp_md* ctx) {
    return XDP_PASS;
}

SEC("socket")
int socket_filter(struct __sk_buff* skb) {
    return 0;
}
