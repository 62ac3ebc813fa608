// ns per packet of flow.bpf.c against an empty TC program, measured in one
// run with BPF_PROG_TEST_RUN. Prints figures; asserts nothing.
//
// Two ways of measuring, because the test run repeats one packet:
// - repeat=N on one packet: the kernel times N back-to-back runs, so the
//   figure is the program alone. After the first run the flow exists, so
//   this is the existing-flow path.
// - repeat=1 over many distinct packets: every run is a new flow. Each figure
//   then also holds the kernel's timer overhead for a single run, so it is
//   compared with the empty program and the existing-flow path measured the
//   same way, and the differences are what matters.

#include "empty.skel.h"
#include "flow.skel.h"
#include "packet_builder.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace {

using l3af::test::Bytes;
using l3af::test::kAck;
using l3af::test::PacketBuilder;

constexpr int kRounds = 7;
constexpr uint32_t kRepeat = 1'000'000;
constexpr uint32_t kDistinctPerRound = 20'000;
constexpr uint32_t kTableSize = 1u << 18; // room for every round's new flows

// Mean ns per run of `repeat` runs of `frame`, or -1 when the run failed.
double runNs(int prog_fd, const Bytes& frame, uint32_t repeat) {
    bpf_test_run_opts opts{};
    opts.sz = sizeof(opts);
    opts.data_in = frame.data();
    opts.data_size_in = static_cast<uint32_t>(frame.size());
    opts.repeat = repeat;
    if (bpf_prog_test_run_opts(prog_fd, &opts) != 0) {
        std::fprintf(stderr, "BPF_PROG_TEST_RUN: %s\n", std::strerror(errno));
        return -1;
    }
    return opts.duration;
}

// Mean ns per packet over a batch, one run each.
double runEachNs(int prog_fd, const std::vector<Bytes>& frames) {
    double total = 0;
    for (const Bytes& frame : frames) {
        double ns = runNs(prog_fd, frame, 1);
        if (ns < 0)
            return -1;
        total += ns;
    }
    return total / double(frames.size());
}

double median(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    return values[values.size() / 2];
}

Bytes tcpV4(uint32_t flow) {
    std::string src = "10." + std::to_string(flow >> 16 & 0xff) + "." +
                      std::to_string(flow >> 8 & 0xff) + "." + std::to_string(flow & 0xff);
    return PacketBuilder()
        .ipv4(src, "192.0.2.1")
        .tcp(static_cast<uint16_t>(10000 + flow % 50000), 443, kAck)
        .payload(100)
        .build();
}

Bytes tcpV6() {
    return PacketBuilder()
        .ipv6("2001:db8::1", "2001:db8::2")
        .tcp(40000, 443, kAck)
        .payload(100)
        .build();
}

struct Row {
    std::string name;
    double ns;
    double baseline; // the empty program measured the same way
};

void printRows(const char* title, const std::vector<Row>& rows) {
    std::printf("\n%s\n", title);
    std::printf("  %-34s %10s %12s %8s\n", "program", "ns/pkt", "over empty", "ratio");
    for (const Row& row : rows) {
        if (row.ns == row.baseline && row.name.starts_with("empty"))
            std::printf("  %-34s %10.1f %12s %8s\n", row.name.c_str(), row.ns, "", "");
        else
            std::printf("  %-34s %10.1f %+12.1f %7.2fx\n", row.name.c_str(), row.ns,
                        row.ns - row.baseline, row.ns / row.baseline);
    }
}

int quietLibbpf(libbpf_print_level level, const char* format, va_list args) {
    return level == LIBBPF_WARN ? std::vfprintf(stderr, format, args) : 0;
}

// Fewer migrations, steadier figures: stay on the CPU we started on.
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
        std::fprintf(stderr, "bench_flow: needs root (BPF_PROG_TEST_RUN); skipped\n");
        return 77; // meson's "skipped"
    }
    libbpf_set_print(quietLibbpf);
    pinToCurrentCpu();

    std::unique_ptr<empty_bpf, decltype(&empty_bpf::destroy)> empty(empty_bpf::open_and_load(),
                                                                    empty_bpf::destroy);
    std::unique_ptr<flow_bpf, decltype(&flow_bpf::destroy)> flow(flow_bpf::open(),
                                                                 flow_bpf::destroy);
    if (!empty || !flow || bpf_map__set_max_entries(flow->maps.flows, kTableSize) != 0 ||
        flow_bpf::load(flow.get()) != 0) {
        std::fprintf(stderr, "bench_flow: cannot load the programs: %s\n", std::strerror(errno));
        return 1;
    }
    int empty_fd = bpf_program__fd(empty->progs.empty_tc);
    int flow_fd = bpf_program__fd(flow->progs.flow_ingress);

    // One packet, repeated: the existing-flow path.
    Bytes v4 = tcpV4(0xffffff);
    Bytes v6 = tcpV6();
    std::vector<double> empty_ns, v4_ns, v6_ns;
    runNs(flow_fd, v4, 1); // create the flows first
    runNs(flow_fd, v6, 1);
    for (int round = 0; round < kRounds; round++) {
        empty_ns.push_back(runNs(empty_fd, v4, kRepeat));
        v4_ns.push_back(runNs(flow_fd, v4, kRepeat));
        v6_ns.push_back(runNs(flow_fd, v6, kRepeat));
    }

    // Distinct packets, one run each: new flows, then the same flows again.
    std::vector<double> empty_each_ns, new_ns, again_ns;
    for (int round = 0; round < kRounds; round++) {
        std::vector<Bytes> frames;
        frames.reserve(kDistinctPerRound);
        for (uint32_t i = 0; i < kDistinctPerRound; i++)
            frames.push_back(tcpV4(uint32_t(round) * kDistinctPerRound + i));
        empty_each_ns.push_back(runEachNs(empty_fd, frames));
        new_ns.push_back(runEachNs(flow_fd, frames));
        again_ns.push_back(runEachNs(flow_fd, frames));
    }

    for (const auto* series : {&empty_ns, &v4_ns, &v6_ns, &empty_each_ns, &new_ns, &again_ns})
        if (std::any_of(series->begin(), series->end(), [](double ns) { return ns < 0; }))
            return 1;

    std::printf("flow.bpf.c, BPF_PROG_TEST_RUN, median of %d rounds, TCP with 100 bytes of "
                "payload\n",
                kRounds);
    double empty_med = median(empty_ns);
    printRows(("one packet repeated " + std::to_string(kRepeat) + " times per round").c_str(),
              {{"empty", empty_med, empty_med},
               {"flow, existing flow, IPv4", median(v4_ns), empty_med},
               {"flow, existing flow, IPv6", median(v6_ns), empty_med}});
    double empty_each_med = median(empty_each_ns);
    printRows(("one run per packet, " + std::to_string(kDistinctPerRound) +
               " distinct IPv4 flows per round (includes per-run timer overhead)")
                  .c_str(),
              {{"empty", empty_each_med, empty_each_med},
               {"flow, new flow", median(new_ns), empty_each_med},
               {"flow, existing flow (same packets)", median(again_ns), empty_each_med}});
    std::printf("\nnew flow costs %+.1f ns over an existing one\n",
                median(new_ns) - median(again_ns));
    return 0;
}
