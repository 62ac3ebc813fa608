#pragma once

// Runs mirror.bpf.c and gue_encap.bpf.c under BPF_PROG_TEST_RUN and on real
// hooks: the loaded skeletons (parameters and maps written the way the
// daemon writes them), counter readers and packet capture for the veth labs
// (namespaces and the packet sender are netns.h's).

// Before the skeleton: its rodata holds the ABI's structs.
#include "mirror_abi.h"

#include "checksum.h"
#include "common/unique_fd.h"
#include "gue_abi.h"
#include "gue_encap.skel.h"
#include "mirror.skel.h"
#include "mirror/compile.h"
#include "mirror/tunnel.h"
#include "mirror_abi.h"
#include "netns.h"
#include "packet_builder.h"
#include "test_run.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace l3af::test {

inline RunOutcome testRun(int prog_fd, const Bytes& frame, uint32_t mark) {
    __sk_buff ctx{};
    ctx.ifindex = kLoopbackIfindex;
    ctx.mark = mark;
    return runProgram(prog_fd, frame, &ctx);
}

// Sums one slot of a per-CPU array whose values are `count` u64 counters.
inline std::vector<uint64_t> sumPerCpu(int map_fd, uint32_t key, size_t count) {
    int cpus = libbpf_num_possible_cpus();
    std::vector<uint64_t> per_cpu(size_t(cpus > 0 ? cpus : 1) * count);
    std::vector<uint64_t> sum(count);
    if (bpf_map_lookup_elem(map_fd, &key, per_cpu.data()) != 0)
        return sum;
    for (size_t cpu = 0; cpu < per_cpu.size() / count; cpu++)
        for (size_t i = 0; i < count; i++)
            sum[i] += per_cpu[cpu * count + i];
    return sum;
}

struct MirrorOptions {
    uint32_t tunnel_ifindex = 0;
    uint32_t snaplen = 0;
};

// mirror.bpf.c with a compiled rule set, as the daemon loads it.
class MirrorProgram {
  public:
    static std::unique_ptr<MirrorProgram> load(const std::vector<config::MirrorRule>& rules,
                                               const MirrorOptions& options, std::string& error) {
        installQuietLibbpfLog();
        Result<mirror::CompiledMirror> compiled = mirror::compileRules(rules);
        if (!compiled) {
            error = compiled.error().message();
            return nullptr;
        }
        std::unique_ptr<MirrorProgram> program(new MirrorProgram(mirror_bpf::open()));
        if (!program->skel_) {
            error = "open mirror skeleton: " + std::string(std::strerror(errno));
            return nullptr;
        }
        mirror_bpf* skel = program->skel_;
        skel->rodata->mirror_tunnel_ifindex = options.tunnel_ifindex;
        skel->rodata->mirror_snaplen = options.snaplen;
        for (size_t root = 0; root < compiled->prefix_starts.size(); root++)
            skel->rodata->mirror_prefix_starts[root] = compiled->prefix_starts[root];
        skel->rodata->mirror_dimensions = compiled->dimensions;
        if (int err = bpf_map__set_max_entries(skel->maps.mirror_prefix_nodes,
                                               uint32_t(compiled->prefix_nodes.size()))) {
            error = "size mirror_prefix_nodes: " + std::string(std::strerror(-err));
            return nullptr;
        }
        if (int err = mirror_bpf::load(skel)) {
            error = "load mirror skeleton: " + std::string(std::strerror(-err));
            return nullptr;
        }
        if (!write(skel->maps.mirror_proto, compiled->proto, error) ||
            !write(skel->maps.mirror_sets, compiled->sets, error) ||
            !write(skel->maps.mirror_port_classes, compiled->port_classes, error))
            return nullptr;
        // The prefix tables in one call, as the daemon writes them.
        std::vector<uint32_t> keys(compiled->prefix_nodes.size());
        for (uint32_t i = 0; i < keys.size(); i++)
            keys[i] = i;
        uint32_t count = uint32_t(keys.size());
        if (bpf_map_update_batch(bpf_map__fd(skel->maps.mirror_prefix_nodes), keys.data(),
                                 compiled->prefix_nodes.data(), &count, nullptr) != 0) {
            error = "write mirror_prefix_nodes: " + std::string(std::strerror(errno));
            return nullptr;
        }
        return program;
    }

    ~MirrorProgram() { mirror_bpf::destroy(skel_); }
    MirrorProgram(const MirrorProgram&) = delete;
    MirrorProgram& operator=(const MirrorProgram&) = delete;

    int ingressFd() const { return bpf_program__fd(skel_->progs.mirror_ingress); }
    int egressFd() const { return bpf_program__fd(skel_->progs.mirror_egress); }

    RunOutcome sendIngress(const Bytes& frame, uint32_t mark = 0) const {
        return testRun(ingressFd(), frame, mark);
    }
    RunOutcome sendEgress(const Bytes& frame, uint32_t mark = 0) const {
        return testRun(egressFd(), frame, mark);
    }

    mirror_rule_counter rule(uint32_t index) const {
        std::vector<uint64_t> v =
            sumPerCpu(bpf_map__fd(skel_->maps.mirror_rule_counters), index, 2);
        return {v[0], v[1]};
    }

    // Every rule that counted something: index -> counter.
    std::vector<std::pair<uint32_t, mirror_rule_counter>> countedRules() const {
        std::vector<std::pair<uint32_t, mirror_rule_counter>> out;
        for (uint32_t i = 0; i < MIRROR_MAX_RULES; i++) {
            mirror_rule_counter c = rule(i);
            if (c.packets != 0 || c.bytes != 0)
                out.emplace_back(i, c);
        }
        return out;
    }

    mirror_stats stats(mirror_stats_slot slot) const {
        std::vector<uint64_t> v = sumPerCpu(bpf_map__fd(skel_->maps.mirror_stats), slot, 6);
        return {v[0], v[1], v[2], v[3], v[4], v[5]};
    }

    UniqueFd attach(int ifindex, bpf_attach_type hook) const {
        return UniqueFd(bpf_link_create(hook == BPF_TCX_EGRESS ? egressFd() : ingressFd(), ifindex,
                                        hook, nullptr));
    }

  private:
    explicit MirrorProgram(mirror_bpf* skel) : skel_(skel) {}

    template <typename Key, typename Value>
    static bool write(bpf_map* map, const mirror::MapEntries<Key, Value>& entries,
                      std::string& error) {
        for (const auto& [key, value] : entries) {
            if (bpf_map__update_elem(map, &key, sizeof(key), &value, sizeof(value), BPF_ANY) != 0) {
                error = std::string("write ") + bpf_map__name(map) + ": " + std::strerror(errno);
                return false;
            }
        }
        return true;
    }

    mirror_bpf* skel_;
};

// gue_encap.bpf.c for one tunnel.
class GueProgram {
  public:
    static std::unique_ptr<GueProgram> load(const mirror::GueSettings& settings,
                                            std::string& error) {
        installQuietLibbpfLog();
        std::unique_ptr<GueProgram> program(new GueProgram(gue_encap_bpf::open()));
        if (!program->skel_) {
            error = "open gue_encap skeleton: " + std::string(std::strerror(errno));
            return nullptr;
        }
        gue_encap_bpf* skel = program->skel_;
        skel->rodata->gue_local_addr = settings.local_addr;
        skel->rodata->gue_remote_addr = settings.remote_addr;
        skel->rodata->gue_remote_port = settings.remote_port;
        skel->rodata->gue_source_port = settings.source_port;
        skel->rodata->gue_ttl = settings.ttl;
        skel->rodata->gue_checksum = settings.checksum;
        skel->rodata->gue_device_ifindex = settings.device_ifindex;
        if (int err = gue_encap_bpf::load(skel)) {
            error = "load gue_encap skeleton: " + std::string(std::strerror(-err));
            return nullptr;
        }
        return program;
    }

    ~GueProgram() { gue_encap_bpf::destroy(skel_); }
    GueProgram(const GueProgram&) = delete;
    GueProgram& operator=(const GueProgram&) = delete;

    int fd() const { return bpf_program__fd(skel_->progs.gue_encap); }

    RunOutcome send(const Bytes& frame, uint32_t mark) const { return testRun(fd(), frame, mark); }

    gue_stats stats() const {
        std::vector<uint64_t> v = sumPerCpu(bpf_map__fd(skel_->maps.gue_stats), 0, 8);
        return {v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]};
    }

    UniqueFd attachIngress(int ifindex) const {
        return UniqueFd(bpf_link_create(fd(), ifindex, BPF_TCX_INGRESS, nullptr));
    }

  private:
    explicit GueProgram(gue_encap_bpf* skel) : skel_(skel) {}
    gue_encap_bpf* skel_;
};

// --- Devices, capture --------------------------------------------------------

// Devices made from now on in this thread's namespace stay quiet: no IPv6
// autoconfiguration (router solicitations, MLD reports) to show up among
// the frames a test captures. The daemon does the same to its tunnel veths.
inline bool quietNewDevices() {
    return sh("sysctl -w net.ipv6.conf.default.disable_ipv6=1");
}

inline int ifindex(const char* name) {
    return static_cast<int>(if_nametoindex(name));
}

// One frame a packet socket saw, with the VLAN tag the stack kept beside it.
struct Captured {
    Bytes frame;
    std::optional<uint16_t> vlan_tci;
};

// Every frame crossing one device (both directions), from creation on.
class Capture {
  public:
    explicit Capture(int ifindex)
        : fd_(::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL))) {
        if (!fd_)
            return;
        int on = 1;
        ::setsockopt(fd_.get(), SOL_PACKET, PACKET_AUXDATA, &on, sizeof(on));
        int big = 8 << 20;
        ::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
        sockaddr_ll addr{};
        addr.sll_family = AF_PACKET;
        addr.sll_protocol = htons(ETH_P_ALL);
        addr.sll_ifindex = ifindex;
        if (::bind(fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0)
            fd_.reset();
    }

    bool ok() const { return static_cast<bool>(fd_); }

    // The next frame, or nothing within `timeout`. `outgoing` frames (sent
    // by this device) are skipped unless asked for.
    std::optional<Captured> next(std::chrono::milliseconds timeout, bool outgoing = false) {
        auto deadline = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (left.count() < 0)
                return std::nullopt;
            pollfd pfd{fd_.get(), POLLIN, 0};
            if (::poll(&pfd, 1, static_cast<int>(left.count())) <= 0)
                return std::nullopt;
            Captured out;
            out.frame.resize(65536 + 64);
            sockaddr_ll from{};
            iovec iov{out.frame.data(), out.frame.size()};
            alignas(cmsghdr) char control[CMSG_SPACE(sizeof(tpacket_auxdata))];
            msghdr msg{};
            msg.msg_name = &from;
            msg.msg_namelen = sizeof(from);
            msg.msg_iov = &iov;
            msg.msg_iovlen = 1;
            msg.msg_control = control;
            msg.msg_controllen = sizeof(control);
            ssize_t n = ::recvmsg(fd_.get(), &msg, 0);
            if (n < 0)
                return std::nullopt;
            if (from.sll_pkttype == PACKET_OUTGOING && !outgoing)
                continue;
            out.frame.resize(static_cast<size_t>(n));
            for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
                if (c->cmsg_level != SOL_PACKET || c->cmsg_type != PACKET_AUXDATA)
                    continue;
                tpacket_auxdata aux{};
                std::memcpy(&aux, CMSG_DATA(c), sizeof(aux));
                if (aux.tp_status & TP_STATUS_VLAN_VALID)
                    out.vlan_tci = aux.tp_vlan_tci;
            }
            return out;
        }
    }

  private:
    UniqueFd fd_;
};

// --- Checksums, independently of the program -----------------------------------

// The UDP checksum of a datagram (header with check = 0, then payload) over
// IPv4, as RFC 768 puts it on the wire (0 sent as 0xffff).
inline uint16_t udpChecksum(const uint8_t src[4], const uint8_t dst[4], const uint8_t* udp,
                            size_t len) {
    uint8_t pseudo[12] = {src[0],
                          src[1],
                          src[2],
                          src[3],
                          dst[0],
                          dst[1],
                          dst[2],
                          dst[3],
                          0,
                          17,
                          uint8_t(len >> 8),
                          uint8_t(len)};
    Bytes copy(udp, udp + len);
    copy[6] = copy[7] = 0;
    uint16_t sum = foldComplement(onesSum(copy.data(), copy.size(), onesSum(pseudo, 12)));
    return sum == 0 ? 0xffff : sum;
}

} // namespace l3af::test
