// The exporter's side of flow export: how fast a full table of 1M flows is
// drained and encoded into IPFIX, and the daemon's memory while doing it.
// Prints figures; asserts nothing. Needs root (it creates BPF maps).
//
// Phases, each on a freshly filled `flows` map (max_entries 1M, as
// bpf_map_update_batch fills it):
//   drainAll        shutdown: every flow taken out in batches, ForcedEnd
//   poll all idle   every flow past its idle timeout: one take per flow
//   poll none due   the steady-state cost of reading the whole table
//   poll all active every flow past its active timeout: 1M baselines written
//   poll baselined  nothing due, but every flow has a baseline (index of 1M)
// Records go through an ipfix::Session (1400-byte messages) whose sink only
// counts bytes, so "flows/s" is drained and encoded.

#include "common/unique_fd.h"
#include "flow/drain.h"
#include "ipfix/session.h"
#include "kernel/bpf_flow_table.h"

#include <bpf/bpf.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

using namespace l3af;
using namespace l3af::flow;

constexpr uint64_t kSec = 1'000'000'000;
constexpr Timeouts kTimeouts{15 * kSec, 60 * kSec};
constexpr uint32_t kFillChunk = 8192; // small, so filling does not set the peak RSS

long peakRssKb() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_maxrss;
}

// User plus system CPU seconds of this process so far.
double cpuSeconds() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    auto seconds = [](const timeval& tv) { return tv.tv_sec + tv.tv_usec / 1e6; };
    return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

long currentRssKb() {
    long pages = 0, resident = 0;
    if (FILE* f = std::fopen("/proc/self/statm", "r")) {
        if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2)
            resident = 0;
        std::fclose(f);
    }
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

flow_key keyOf(uint32_t n) {
    flow_key key{};
    key.ifindex = 2;
    key.direction = n & 1;
    key.family = n % 8 == 0 ? 6 : 4;
    key.protocol = n % 3 == 0 ? 17 : 6;
    key.src_port = static_cast<__be16>(n);
    key.dst_port = static_cast<__be16>(n >> 16);
    key.src[0] = 10;
    std::memcpy(&key.src[1], &n, 3);
    key.dst[0] = 192;
    key.dst[3] = static_cast<__u8>(n >> 24);
    return key;
}

// Flows seen from `first` to `last` (CLOCK_BOOTTIME ns).
bool fill(int fd, uint32_t flows, uint64_t first, uint64_t last) {
    std::vector<flow_key> keys(kFillChunk);
    std::vector<flow_value> values(kFillChunk);
    for (uint32_t base = 0; base < flows; base += kFillChunk) {
        const uint32_t count = std::min(kFillChunk, flows - base);
        for (uint32_t i = 0; i < count; i++) {
            const uint32_t n = base + i;
            keys[i] = keyOf(n);
            values[i] = flow_value{};
            values[i].packets = 1 + n % 1000;
            values[i].octets = values[i].packets * (64 + n % 1400);
            values[i].first_seen_ns = first;
            values[i].last_seen_ns = last;
            values[i].tcp_flags = FLOW_TCP_SYN;
            values[i].min_ttl = 60;
            values[i].max_ttl = 64;
        }
        uint32_t done = count;
        if (bpf_map_update_batch(fd, keys.data(), values.data(), &done, nullptr) != 0 ||
            done != count) {
            std::fprintf(stderr, "fill: bpf_map_update_batch: %s\n", std::strerror(errno));
            return false;
        }
    }
    return true;
}

struct Encoder {
    uint64_t bytes = 0;
    uint64_t messages = 0;
    ipfix::Session session{ipfix::SessionOptions{}, [this](std::span<const uint8_t> m, uint32_t) {
                               bytes += m.size();
                               messages++;
                           }};
};

struct Phase {
    const char* name;
    double seconds;
    double cpu_seconds;
    DrainCounters counters;
    uint64_t bytes, messages;
};

void print(const Phase& p, uint32_t flows) {
    std::printf("%-16s %7.3f s (cpu %6.3f s) %9.0f flows/s  records %7llu  IPFIX %5llu msgs "
                "%8llu bytes  peak RSS %6ld KB (now %6ld KB)\n",
                p.name, p.seconds, p.cpu_seconds, flows / p.seconds,
                static_cast<unsigned long long>(p.counters.records),
                static_cast<unsigned long long>(p.messages),
                static_cast<unsigned long long>(p.bytes), peakRssKb(), currentRssKb());
}

template <typename Run> Phase measure(const char* name, Run&& run) {
    Encoder encoder;
    encoder.session.begin(static_cast<uint64_t>(std::time(nullptr)) * 1000);
    const RecordSink sink = [&](const FlowRecord& r) { encoder.session.add(r); };
    const double cpu_start = cpuSeconds();
    const auto start = std::chrono::steady_clock::now();
    Result<DrainCounters> counters = run(sink);
    encoder.session.flush();
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    if (!counters) {
        std::fprintf(stderr, "%s: %s\n", name, counters.error().message().c_str());
        std::exit(1);
    }
    return Phase{name,      took.count(),  cpuSeconds() - cpu_start,
                 *counters, encoder.bytes, encoder.messages};
}

} // namespace

int main(int argc, char** argv) {
    const uint32_t flows =
        argc > 1 ? static_cast<uint32_t>(std::strtoul(argv[1], nullptr, 10)) : 1'000'000;
    if (geteuid() != 0) {
        std::printf("drain_bench: skipped, needs root to create BPF maps\n");
        return 0;
    }
    UniqueFd flows_map(bpf_map_create(BPF_MAP_TYPE_HASH, "flows", sizeof(flow_key),
                                      sizeof(flow_value), flows, nullptr));
    UniqueFd baseline_map(bpf_map_create(BPF_MAP_TYPE_HASH, "baseline", sizeof(flow_key),
                                         sizeof(flow_baseline), flows, nullptr));
    UniqueFd stats_map(bpf_map_create(BPF_MAP_TYPE_PERCPU_ARRAY, "flow_stats", sizeof(uint32_t),
                                      sizeof(flow_stat_value), FLOW_STAT_MAX, nullptr));
    if (!flows_map || !baseline_map || !stats_map) {
        std::fprintf(stderr, "bpf_map_create: %s\n", std::strerror(errno));
        return 1;
    }
    kernel::BpfFlowTable table(flows_map.get(), baseline_map.get(), stats_map.get());
    if (Status valid = table.valid(); !valid) {
        std::fprintf(stderr, "%s\n", valid.error().message().c_str());
        return 1;
    }
    FlowDrainer drainer(kTimeouts);
    const ClockMapping clock = ClockMapping::now();
    const uint64_t t0 = bootTimeNs();

    std::printf("drain_bench: %u flows, batch %zu, idle %llus, active %llus\n", flows,
                kernel::BpfFlowTable::kDefaultBatchSize,
                static_cast<unsigned long long>(kTimeouts.idle_ns / kSec),
                static_cast<unsigned long long>(kTimeouts.active_ns / kSec));
    std::printf("%-16s %8s   peak RSS %6ld KB before any drain\n", "start", "", peakRssKb());

    for (int round = 0; round < 3; round++) {
        if (!fill(flows_map.get(), flows, t0, t0 + kSec))
            return 1;
        print(measure("drainAll",
                      [&](const RecordSink& sink) { return drainer.drainAll(table, clock, sink); }),
              flows);

        if (!fill(flows_map.get(), flows, t0, t0 + kSec))
            return 1;
        const uint64_t idle_now = t0 + kSec + kTimeouts.idle_ns;
        print(measure("poll all idle",
                      [&](const RecordSink& sink) {
                          return drainer.poll(table, idle_now, clock, sink);
                      }),
              flows);
    }

    // The steady state: a full table, then every flow on its active timeout.
    if (!fill(flows_map.get(), flows, t0, t0 + kSec))
        return 1;
    print(measure(
              "poll none due",
              [&](const RecordSink& sink) { return drainer.poll(table, t0 + kSec, clock, sink); }),
          flows);
    // Refreshed last_seen so active, not idle, is due.
    if (!fill(flows_map.get(), flows, t0, t0 + kTimeouts.active_ns))
        return 1;
    print(measure("poll all active",
                  [&](const RecordSink& sink) {
                      return drainer.poll(table, t0 + kTimeouts.active_ns, clock, sink);
                  }),
          flows);
    print(measure("poll baselined",
                  [&](const RecordSink& sink) {
                      return drainer.poll(table, t0 + kTimeouts.active_ns + kSec, clock, sink);
                  }),
          flows);
    print(measure("drainAll based",
                  [&](const RecordSink& sink) { return drainer.drainAll(table, clock, sink); }),
          flows);
    return 0;
}
