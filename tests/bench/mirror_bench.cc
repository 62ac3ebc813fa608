// ns per packet of mirror.bpf.c and gue_encap.bpf.c against an empty TC
// program, measured in one run with BPF_PROG_TEST_RUN. Prints figures;
// asserts nothing.
//
// The mirror runs with 1, 64 and 1024 rules of one shape: TCP to port 443
// from one /24 each (every fourth /24 of 10.0.0.0/8). Packets that match
// nothing leave at different depths of the classification: at the protocol
// (UDP), at the port (TCP to 80), or only at the last lookup, the source
// prefix, either near the root of the trie (TCP to 443 from 192.0.2.9) or
// deep in it (from a /24 between two rules'). A matching packet (the last
// rule's) is measured twice: cloned to a veth, as in production, and with
// the clone failing at once (no such device), which leaves the
// classification and counting. The same rules over IPv6 /64s give the
// deepest walks: a packet from a /64 between two rules', one from outside
// 2001:db8::/32 (near the root), and the last rule's.
//
// The mirror leaves the packet as it was, so one packet is repeated in the
// kernel (repeat=N). The encapsulation changes its packet, so it runs once
// per packet over many packets, and is compared with the empty program
// measured the same way (both then include the test run's own per-run
// overhead; the difference is the program).
//
// Runs in a network namespace of its own, where the clones go to a veth
// whose peer drops them.

#include "empty.skel.h"
#include "mirror_harness.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace {

using l3af::test::Bytes;
using l3af::test::GueProgram;
using l3af::test::MirrorProgram;
using l3af::test::PacketBuilder;

constexpr int kRounds = 7;
constexpr uint32_t kRepeat = 1'000'000;
constexpr uint32_t kCloneRepeat = 1'000; // the peer's backlog drains between runs
constexpr uint32_t kEachPerRound = 20'000;

double runNs(int prog_fd, const Bytes& frame, uint32_t repeat, uint32_t mark = 0) {
    __sk_buff ctx{};
    ctx.ifindex = 1;
    ctx.mark = mark;
    bpf_test_run_opts opts{};
    opts.sz = sizeof(opts);
    opts.data_in = frame.data();
    opts.data_size_in = static_cast<uint32_t>(frame.size());
    opts.ctx_in = &ctx;
    opts.ctx_size_in = sizeof(ctx);
    opts.repeat = repeat;
    if (bpf_prog_test_run_opts(prog_fd, &opts) != 0) {
        std::fprintf(stderr, "BPF_PROG_TEST_RUN: %s\n", std::strerror(errno));
        return -1;
    }
    return opts.duration;
}

// Mean ns per packet over `count` runs of one packet each.
double runEachNs(int prog_fd, const Bytes& frame, uint32_t count, uint32_t mark) {
    double total = 0;
    for (uint32_t i = 0; i < count; i++) {
        double ns = runNs(prog_fd, frame, 1, mark);
        if (ns < 0)
            return -1;
        total += ns;
    }
    return total / count;
}

double median(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    return values[values.size() / 2];
}

std::vector<l3af::config::MirrorRule> rules(uint32_t count) {
    std::vector<l3af::config::MirrorRule> out(count);
    for (uint32_t i = 0; i < count; i++) {
        l3af::config::Cidr src;
        src.family = 4;
        src.prefix_len = 24;
        src.address = {10, uint8_t(i >> 6), uint8_t((i & 63) * 4), 0};
        out[i].src = src;
        out[i].protocol = IPPROTO_TCP;
        out[i].dst_port = l3af::config::PortRange{443, 443};
    }
    return out;
}

// The same shape over IPv6: one /64 each, every fourth /64 of 2001:db8::/32.
std::vector<l3af::config::MirrorRule> rules6(uint32_t count) {
    std::vector<l3af::config::MirrorRule> out = rules(count);
    for (uint32_t i = 0; i < count; i++) {
        l3af::config::Cidr src;
        src.family = 6;
        src.prefix_len = 64;
        src.address = {0x20, 0x01, 0x0d, 0xb8, 0, uint8_t(i >> 6), 0, uint8_t((i & 63) * 4)};
        out[i].src = src;
    }
    return out;
}

std::string source6OfRule(uint32_t rule) {
    char text[64];
    std::snprintf(text, sizeof(text), "2001:db8:%x:%x::5", rule >> 6, (rule & 63) * 4);
    return text;
}

std::string sourceOfRule(uint32_t rule) {
    return "10." + std::to_string(rule >> 6) + "." + std::to_string((rule & 63) * 4) + ".5";
}

struct Row {
    std::string name;
    double ns;
    double baseline;
};

void printRows(const char* title, const std::vector<Row>& rows) {
    std::printf("\n%s\n", title);
    std::printf("  %-52s %10s %12s %8s\n", "program", "ns/pkt", "over empty", "ratio");
    for (const Row& row : rows) {
        if (row.name == "empty")
            std::printf("  %-52s %10.1f %12s %8s\n", row.name.c_str(), row.ns, "", "");
        else
            std::printf("  %-52s %10.1f %+12.1f %7.2fx\n", row.name.c_str(), row.ns,
                        row.ns - row.baseline, row.ns / row.baseline);
    }
}

void pinToCurrentCpu() {
    int cpu = sched_getcpu();
    if (cpu < 0)
        return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    sched_setaffinity(0, sizeof(set), &set);
}

} // namespace

int main() {
    if (geteuid() != 0) {
        std::fprintf(stderr, "bench_mirror: needs root (BPF_PROG_TEST_RUN, netns); skipped\n");
        return 77; // meson's "skipped"
    }
    pinToCurrentCpu();
    l3af::test::ScopedNetns netns;
    if (!netns.entered() || !l3af::test::quietNewDevices() ||
        !l3af::test::sh("ip link add l3t-bench type veth peer name l3t-bench-peer && "
                        "ip link set l3t-bench up && ip link set l3t-bench-peer up && "
                        "ip link set lo up")) {
        std::fprintf(stderr, "bench_mirror: cannot set up the namespace\n");
        return 1;
    }
    uint32_t tunnel = uint32_t(l3af::test::ifindex("l3t-bench"));
    l3af::test::installQuietLibbpfLog();

    std::unique_ptr<empty_bpf, decltype(&empty_bpf::destroy)> empty(empty_bpf::open_and_load(),
                                                                    empty_bpf::destroy);
    if (!empty) {
        std::fprintf(stderr, "bench_mirror: cannot load the empty program\n");
        return 1;
    }
    int empty_fd = bpf_program__fd(empty->progs.empty_tc);

    Bytes udp = PacketBuilder().ipv4("10.0.0.5", "192.0.2.1").udp(40000, 53).payload(100).build();
    Bytes tcp80 = PacketBuilder().ipv4("10.0.0.5", "192.0.2.1").tcp(40000, 80).payload(100).build();
    Bytes tcp443_elsewhere =
        PacketBuilder().ipv4("192.0.2.9", "192.0.2.1").tcp(40000, 443).payload(100).build();
    Bytes tcp443_between =
        PacketBuilder().ipv4("10.0.1.5", "192.0.2.1").tcp(40000, 443).payload(100).build();

    Bytes tcp6_between =
        PacketBuilder().ipv6("2001:db8:0:1::5", "2001:db8::1").tcp(40000, 443).payload(100).build();
    Bytes tcp6_elsewhere =
        PacketBuilder().ipv6("2001:db9::5", "2001:db8::1").tcp(40000, 443).payload(100).build();

    struct Set {
        uint32_t count;
        std::unique_ptr<MirrorProgram> cloning;
        std::unique_ptr<MirrorProgram> not_cloning;
        Bytes match;
        std::unique_ptr<MirrorProgram> v6;
        Bytes match6;
    };
    std::vector<Set> sets;
    for (uint32_t count : {1u, 64u, 1024u}) {
        std::string error;
        Set set{count,
                MirrorProgram::load(rules(count), {.tunnel_ifindex = tunnel}, error),
                MirrorProgram::load(rules(count), {.tunnel_ifindex = 0}, error),
                PacketBuilder()
                    .ipv4(sourceOfRule(count - 1), "192.0.2.1")
                    .tcp(40000, 443)
                    .payload(100)
                    .build(),
                MirrorProgram::load(rules6(count), {.tunnel_ifindex = 0}, error),
                PacketBuilder()
                    .ipv6(source6OfRule(count - 1), "2001:db8::1")
                    .tcp(40000, 443)
                    .payload(100)
                    .build()};
        if (!set.cloning || !set.not_cloning || !set.v6) {
            std::fprintf(stderr, "bench_mirror: cannot load the mirror: %s\n", error.c_str());
            return 1;
        }
        sets.push_back(std::move(set));
    }

    // --- mirror, one packet repeated -----------------------------------------
    std::vector<double> empty_ns, empty_clone_ns;
    // Each row's packet does what its name says, or the figures mean nothing.
    for (const Set& set : sets) {
        auto matches = [](const MirrorProgram& program, const Bytes& frame) {
            uint64_t before = program.stats(MIRROR_STATS_INGRESS).matched;
            return program.sendIngress(frame).error == 0 &&
                   program.stats(MIRROR_STATS_INGRESS).matched == before + 1;
        };
        bool as_named = matches(*set.not_cloning, set.match) && matches(*set.v6, set.match6);
        for (const Bytes* miss : {&udp, &tcp80, &tcp443_elsewhere, &tcp443_between})
            as_named = as_named && !matches(*set.not_cloning, *miss);
        for (const Bytes* miss : {&tcp6_between, &tcp6_elsewhere})
            as_named = as_named && !matches(*set.v6, *miss);
        if (!as_named) {
            std::fprintf(stderr, "bench_mirror: a packet matches otherwise than its row says\n");
            return 1;
        }
    }

    constexpr size_t kKinds = 9;
    std::vector<std::vector<double>> series(sets.size() * kKinds);
    for (int round = 0; round < kRounds; round++) {
        empty_ns.push_back(runNs(empty_fd, udp, kRepeat));
        empty_clone_ns.push_back(runNs(empty_fd, udp, kCloneRepeat));
        for (size_t s = 0; s < sets.size(); s++) {
            int fd = sets[s].cloning->ingressFd();
            std::vector<double>* row = &series[s * kKinds];
            row[0].push_back(runNs(fd, udp, kRepeat));
            row[1].push_back(runNs(fd, tcp80, kRepeat));
            row[2].push_back(runNs(fd, tcp443_elsewhere, kRepeat));
            row[3].push_back(runNs(fd, tcp443_between, kRepeat));
            row[4].push_back(runNs(sets[s].not_cloning->ingressFd(), sets[s].match, kRepeat));
            row[5].push_back(runNs(sets[s].v6->ingressFd(), tcp6_between, kRepeat));
            row[6].push_back(runNs(sets[s].v6->ingressFd(), sets[s].match6, kRepeat));
            row[7].push_back(runNs(sets[s].v6->ingressFd(), tcp6_elsewhere, kRepeat));
            row[8].push_back(runNs(fd, sets[s].match, kCloneRepeat));
        }
    }
    for (const auto& values : series)
        if (std::any_of(values.begin(), values.end(), [](double ns) { return ns < 0; }))
            return 1;
    for (const Set& set : sets) {
        mirror_stats stats = set.cloning->stats(MIRROR_STATS_INGRESS);
        if (stats.clone_failed != 0 || stats.matched == 0) {
            std::fprintf(stderr, "bench_mirror: clones failed (%llu) or nothing matched\n",
                         static_cast<unsigned long long>(stats.clone_failed));
            return 1;
        }
    }

    std::printf("mirror.bpf.c and gue_encap.bpf.c, BPF_PROG_TEST_RUN, median of %d rounds; "
                "IPv4 with 100 bytes of payload unless said\n",
                kRounds);
    double base = median(empty_ns);
    std::vector<Row> rows = {{"empty", base, base}};
    const char* kinds[] = {
        "no match: UDP (leaves at protocol)",        "no match: TCP :80 (at port)",
        "no match: TCP :443, prefix near trie root", "no match: TCP :443, prefix deep in trie",
        "match, clone fails at once (no device)",    "IPv6 /64s, no match: prefix deep in trie",
        "IPv6 /64s, match, clone fails at once",     "IPv6 /64s, no match: prefix near trie root"};
    for (size_t s = 0; s < sets.size(); s++)
        for (size_t k = 0; k < 8; k++)
            rows.push_back({std::to_string(sets[s].count) + " rules, " + kinds[k],
                            median(series[s * kKinds + k]), base});
    printRows(("mirror, one packet repeated " + std::to_string(kRepeat) + " times").c_str(), rows);

    double clone_base = median(empty_clone_ns);
    std::vector<Row> clone_rows = {{"empty", clone_base, clone_base}};
    for (size_t s = 0; s < sets.size(); s++)
        clone_rows.push_back({std::to_string(sets[s].count) + " rules, match, cloned to a veth",
                              median(series[s * kKinds + 8]), clone_base});
    printRows(("mirror, matching packet cloned to a veth, repeated " +
               std::to_string(kCloneRepeat) + " times")
                  .c_str(),
              clone_rows);

    // --- encapsulation, one run per packet -------------------------------------
    struct Encap {
        std::string name;
        bool checksum;
        uint16_t source_port;
        uint32_t snaplen;
        Bytes frame;
    };
    Bytes small =
        PacketBuilder().ipv4("10.0.0.5", "192.0.2.1").tcp(40000, 443).payload(100).build();
    Bytes large =
        PacketBuilder().ipv4("10.0.0.5", "192.0.2.1").tcp(40000, 443).payload(1400).build();
    std::vector<Encap> encaps = {
        {"encap, fixed source port", false, 40000, 0, small},
        {"encap, source port = flow", false, 0, 0, small},
        {"encap, flow, UDP checksum", true, 0, 0, small},
        {"encap, flow, 1400 B payload", false, 0, 0, large},
        {"encap, flow, 1400 B payload, UDP checksum", true, 0, 0, large},
        {"encap, flow, 1400 B payload, snaplen 128", false, 0, 128, large},
    };
    std::vector<std::unique_ptr<GueProgram>> programs;
    for (const Encap& e : encaps) {
        l3af::mirror::GueSettings settings;
        settings.local_addr = htonl(0xcb007105);  // 203.0.113.5
        settings.remote_addr = htonl(0xc6336407); // 198.51.100.7
        settings.source_port = e.source_port;
        settings.checksum = e.checksum;
        settings.device_ifindex = 1;
        std::string error;
        programs.push_back(GueProgram::load(settings, error));
        if (!programs.back()) {
            std::fprintf(stderr, "bench_mirror: cannot load gue_encap: %s\n", error.c_str());
            return 1;
        }
    }
    std::vector<double> empty_each;
    std::vector<double> empty_each_large;
    std::vector<std::vector<double>> encap_ns(encaps.size());
    for (int round = 0; round < kRounds; round++) {
        empty_each.push_back(runEachNs(empty_fd, small, kEachPerRound, 0));
        empty_each_large.push_back(runEachNs(empty_fd, large, kEachPerRound, 0));
        for (size_t i = 0; i < encaps.size(); i++)
            encap_ns[i].push_back(runEachNs(programs[i]->fd(), encaps[i].frame, kEachPerRound,
                                            l3af::mirror::gueMark(encaps[i].snaplen)));
    }
    for (size_t i = 0; i < encaps.size(); i++) {
        gue_stats stats = programs[i]->stats();
        if (stats.sent == 0 || stats.failed != 0) {
            std::fprintf(stderr, "bench_mirror: %s failed\n", encaps[i].name.c_str());
            return 1;
        }
    }
    double each_base = median(empty_each);
    double each_base_large = median(empty_each_large);
    std::vector<Row> encap_rows = {{"empty", each_base, each_base}};
    for (size_t i = 0; i < encaps.size(); i++)
        encap_rows.push_back(
            {encaps[i].name, median(encap_ns[i]),
             encaps[i].frame.size() == large.size() ? each_base_large : each_base});
    printRows(("gue_encap, one run per packet, " + std::to_string(kEachPerRound) +
               " per round (includes per-run overhead; 1400 B rows against an empty run of "
               "the same frame: " +
               std::to_string(int(each_base_large)) + " ns)")
                  .c_str(),
              encap_rows);
    return 0;
}
