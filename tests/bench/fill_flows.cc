// Fills a pinned flow table with N synthetic, live flows (for the daemon RSS
// benchmark): fill_flows <pinned flows map> <count>

#include "flow_abi.h"

#include <bpf/bpf.h>

#include <arpa/inet.h>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <unistd.h>
#include <vector>

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: fill_flows <pinned flows map> <count>\n");
        return 2;
    }
    const int fd = bpf_obj_get(argv[1]);
    if (fd < 0) {
        std::perror(argv[1]);
        return 1;
    }
    const unsigned long count = std::strtoul(argv[2], nullptr, 10);
    timespec ts{};
    clock_gettime(CLOCK_BOOTTIME, &ts);
    const __u64 now = static_cast<__u64>(ts.tv_sec) * 1000000000ULL + ts.tv_nsec;

    constexpr unsigned long kBatch = 8192;
    std::vector<flow_key> keys(kBatch);
    std::vector<flow_value> values(kBatch);
    for (unsigned long done = 0; done < count;) {
        const unsigned long n = std::min(kBatch, count - done);
        for (unsigned long i = 0; i < n; i++) {
            const unsigned long id = done + i;
            flow_key& k = keys[i];
            std::memset(&k, 0, sizeof k);
            k.ifindex = 1;
            k.family = 4;
            k.protocol = 17;
            k.src[0] = 10;
            k.src[1] = static_cast<__u8>(id >> 16);
            k.src[2] = static_cast<__u8>(id >> 8);
            k.src[3] = static_cast<__u8>(id);
            k.dst[0] = 192;
            k.dst[1] = 0;
            k.dst[2] = 2;
            k.dst[3] = 1;
            k.src_port = static_cast<__be16>(htons(static_cast<uint16_t>(1024 + (id >> 24))));
            k.dst_port = htons(53);
            flow_value& v = values[i];
            std::memset(&v, 0, sizeof v);
            v.packets = 1 + id % 7;
            v.octets = v.packets * 100;
            v.first_seen_ns = now;
            v.last_seen_ns = now;
            v.min_ttl = v.max_ttl = 64;
        }
        __u32 batch = static_cast<__u32>(n);
        if (bpf_map_update_batch(fd, keys.data(), values.data(), &batch, nullptr) != 0) {
            std::perror("bpf_map_update_batch");
            return 1;
        }
        done += n;
    }
    std::printf("filled %lu flows\n", count);
    return 0;
}
