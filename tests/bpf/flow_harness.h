#pragma once

// Runs flow.bpf.c under BPF_PROG_TEST_RUN and reads back what it counted:
// the loaded skeleton, a packet sender, and readers for the flow table and
// the per-CPU stats, plus the expected-key helpers the fixture tables use.

#include "common/unique_fd.h"
#include "flow.skel.h"
#include "flow_abi.h"
#include "packet_builder.h"
#include "test_run.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace l3af::test {

// An expected flow key, built like the program builds it: zeroed, then filled.
class Key {
  public:
    static Key v4(std::string_view src, std::string_view dst, uint8_t protocol) {
        return Key(AF_INET, src, dst, protocol);
    }
    static Key v6(std::string_view src, std::string_view dst, uint8_t protocol) {
        return Key(AF_INET6, src, dst, protocol);
    }
    Key& ports(uint16_t src, uint16_t dst) {
        key_.src_port = htons(src);
        key_.dst_port = htons(dst);
        return *this;
    }
    // ICMP and ICMPv6 keep the bytes {type, code} in dst_port.
    Key& icmp(uint8_t type, uint8_t code) {
        key_.src_port = 0;
        key_.dst_port = htons(static_cast<uint16_t>(type << 8 | code));
        return *this;
    }
    Key& vlan(uint16_t vid) {
        key_.vlan = vid;
        return *this;
    }
    Key& ifindex(uint32_t ifindex) {
        key_.ifindex = ifindex;
        return *this;
    }
    Key& egress() {
        key_.direction = FLOW_DIR_EGRESS;
        return *this;
    }
    operator flow_key() const { return key_; }

  private:
    Key(int af, std::string_view src, std::string_view dst, uint8_t protocol) {
        std::memset(&key_, 0, sizeof(key_));
        key_.ifindex = kLoopbackIfindex;
        key_.direction = FLOW_DIR_INGRESS;
        key_.family = af == AF_INET ? 4 : 6;
        key_.protocol = protocol;
        inet_pton(af, std::string(src).c_str(), key_.src);
        inet_pton(af, std::string(dst).c_str(), key_.dst);
    }
    flow_key key_;
};

// One packet handed to a program.
struct Sent {
    Bytes frame;
    flow_direction direction = FLOW_DIR_INGRESS;
    uint32_t gso_segs = 0;
    uint32_t gso_size = 0;
};

inline Sent ingress(const PacketBuilder& packet) {
    return {packet.build()};
}
inline Sent egress(const PacketBuilder& packet) {
    return {packet.build(), FLOW_DIR_EGRESS};
}
// A GSO (or GRO) packet that stands for `segs` segments of `size` bytes.
inline Sent gso(const PacketBuilder& packet, uint32_t segs, uint32_t size) {
    return {packet.build(), FLOW_DIR_INGRESS, segs, size};
}

inline uint64_t boottimeNs() {
    timespec ts{};
    clock_gettime(CLOCK_BOOTTIME, &ts);
    return uint64_t(ts.tv_sec) * 1000000000u + uint64_t(ts.tv_nsec);
}

// The flow skeleton, loaded; maps and programs as the daemon would load them.
class FlowProgram {
  public:
    // Loads with the flow table sized `max_flows` (0: the program's default).
    // Returns nullptr and leaves libbpf's words in `error` on failure.
    static std::unique_ptr<FlowProgram> load(uint32_t max_flows, std::string& error) {
        installQuietLibbpfLog();
        std::unique_ptr<FlowProgram> program(new FlowProgram(flow_bpf::open()));
        if (!program->skel_) {
            error = "open flow skeleton: " + std::string(std::strerror(errno));
            return nullptr;
        }
        if (max_flows != 0) {
            if (int err = bpf_map__set_max_entries(program->skel_->maps.flows, max_flows)) {
                error = "set flows max_entries: " + std::string(std::strerror(-err));
                return nullptr;
            }
        }
        if (int err = flow_bpf::load(program->skel_)) {
            error = "load flow skeleton: " + std::string(std::strerror(-err));
            return nullptr;
        }
        return program;
    }

    ~FlowProgram() { flow_bpf::destroy(skel_); }
    FlowProgram(const FlowProgram&) = delete;
    FlowProgram& operator=(const FlowProgram&) = delete;

    const flow_bpf& skeleton() const { return *skel_; }

    int programFd(flow_direction direction) const {
        return bpf_program__fd(direction == FLOW_DIR_EGRESS ? skel_->progs.flow_egress
                                                            : skel_->progs.flow_ingress);
    }

    RunOutcome send(const Sent& sent) const {
        __sk_buff ctx{};
        ctx.ifindex = kLoopbackIfindex;
        ctx.gso_segs = sent.gso_segs;
        ctx.gso_size = sent.gso_size;
        return runProgram(programFd(sent.direction), sent.frame, &ctx);
    }

    std::vector<std::pair<flow_key, flow_value>> flows() const {
        int fd = bpf_map__fd(skel_->maps.flows);
        std::vector<std::pair<flow_key, flow_value>> all;
        flow_key key{};
        flow_key next{};
        int err = bpf_map_get_next_key(fd, nullptr, &next);
        while (err == 0) {
            flow_value value{};
            if (bpf_map_lookup_elem(fd, &next, &value) == 0)
                all.emplace_back(next, value);
            key = next;
            err = bpf_map_get_next_key(fd, &key, &next);
        }
        return all;
    }

    // The flow under `key`, if the table has it.
    std::optional<flow_value> flow(const flow_key& key) const {
        flow_value value{};
        if (bpf_map_lookup_elem(bpf_map__fd(skel_->maps.flows), &key, &value) != 0)
            return std::nullopt;
        return value;
    }

    // Attaches flow_ingress to a real device's TCX ingress hook, as the
    // daemon does; closing the link detaches it.
    UniqueFd attachIngress(int ifindex) const {
        return UniqueFd(
            bpf_link_create(programFd(FLOW_DIR_INGRESS), ifindex, BPF_TCX_INGRESS, nullptr));
    }

    // One slot of flow_stats, summed over the CPUs.
    flow_stat_value stat(flow_stat slot) const {
        int cpus = libbpf_num_possible_cpus();
        std::vector<flow_stat_value> per_cpu(cpus > 0 ? size_t(cpus) : 1);
        uint32_t index = slot;
        flow_stat_value sum{};
        if (bpf_map_lookup_elem(bpf_map__fd(skel_->maps.flow_stats), &index, per_cpu.data()) != 0)
            return sum;
        for (const flow_stat_value& v : per_cpu) {
            sum.packets += v.packets;
            sum.octets += v.octets;
        }
        return sum;
    }

  private:
    explicit FlowProgram(flow_bpf* skel) : skel_(skel) {}

    flow_bpf* skel_;
};

} // namespace l3af::test

// Keys compare as the hash table compares them: every byte, padding included.
inline bool operator==(const flow_key& a, const flow_key& b) {
    return std::memcmp(&a, &b, sizeof(a)) == 0;
}

// gtest prints keys this way when an expectation fails.
inline void PrintTo(const flow_key& key, std::ostream* os) {
    char src[INET6_ADDRSTRLEN] = {};
    char dst[INET6_ADDRSTRLEN] = {};
    int af = key.family == 6 ? AF_INET6 : AF_INET;
    inet_ntop(af, key.src, src, sizeof(src));
    inet_ntop(af, key.dst, dst, sizeof(dst));
    *os << "{if " << key.ifindex << (key.direction == FLOW_DIR_EGRESS ? " egress" : " ingress")
        << " vlan " << key.vlan << " proto " << int(key.protocol) << " " << src << ":"
        << ntohs(key.src_port) << " -> " << dst << ":" << ntohs(key.dst_port) << "}";
}
