// BpfFlowTable against real kernel maps shaped like flow.bpf.c's: batched
// reads see every flow exactly once, takes remove, baselines round trip,
// per-CPU counters are summed. Needs root (CAP_BPF).

#include "common/unique_fd.h"
#include "flow/drain.h"
#include "kernel/bpf_flow_table.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <unistd.h>
#include <vector>

using namespace l3af;
using namespace l3af::flow;
using l3af::kernel::BpfFlowTable;

namespace {

struct KeyLess {
    bool operator()(const flow_key& a, const flow_key& b) const {
        return std::memcmp(&a, &b, sizeof a) < 0;
    }
};

flow_key keyOf(uint32_t n) {
    flow_key key{};
    key.ifindex = 3;
    key.direction = n % 2 ? FLOW_DIR_EGRESS : FLOW_DIR_INGRESS;
    key.family = 6;
    key.protocol = 17;
    key.src_port = static_cast<__be16>(n & 0xffff);
    key.dst_port = 53;
    key.src[0] = 0x20;
    key.src[1] = 0x01;
    std::memcpy(&key.src[12], &n, sizeof n);
    key.dst[15] = 1;
    return key;
}

flow_value valueOf(uint32_t n) {
    flow_value v{};
    v.packets = n + 1;
    v.octets = (n + 1) * 1000 + 7;
    v.first_seen_ns = 1'000'000'000ULL + n;
    v.last_seen_ns = 2'000'000'000ULL + n;
    v.tcp_flags = static_cast<__u8>(n & 0x3f);
    v.min_ttl = 1;
    v.max_ttl = 255;
    v.tos = static_cast<__u8>(n);
    return v;
}

bool operator==(const flow_value& a, const flow_value& b) {
    return std::memcmp(&a, &b, sizeof a) == 0;
}

class BpfFlowTableTest : public ::testing::Test {
  protected:
    void SetUp() override {
        if (geteuid() != 0)
            GTEST_SKIP() << "needs root to create BPF maps";
        createMaps(16384);
    }

    void createMaps(uint32_t max_entries) {
        flows = UniqueFd(bpf_map_create(BPF_MAP_TYPE_HASH, "flows", sizeof(flow_key),
                                        sizeof(flow_value), max_entries, nullptr));
        baseline = UniqueFd(bpf_map_create(BPF_MAP_TYPE_HASH, "baseline", sizeof(flow_key),
                                           sizeof(flow_baseline), max_entries, nullptr));
        stats = UniqueFd(bpf_map_create(BPF_MAP_TYPE_PERCPU_ARRAY, "flow_stats", sizeof(uint32_t),
                                        sizeof(flow_stat_value), FLOW_STAT_MAX, nullptr));
        ASSERT_TRUE(flows.valid() && baseline.valid() && stats.valid())
            << "bpf_map_create: " << std::strerror(errno);
    }

    // The way the bench fills a table: one batch update.
    void fill(uint32_t count) {
        std::vector<flow_key> keys;
        std::vector<flow_value> values;
        for (uint32_t n = 0; n < count; n++) {
            keys.push_back(keyOf(n));
            values.push_back(valueOf(n));
        }
        uint32_t done = count;
        ASSERT_EQ(bpf_map_update_batch(flows.get(), keys.data(), values.data(), &done, nullptr), 0);
        ASSERT_EQ(done, count);
    }

    size_t entries(int fd) {
        size_t n = 0;
        flow_key key{}, next{};
        for (const void* prev = nullptr; bpf_map_get_next_key(fd, prev, &next) == 0; prev = &key) {
            key = next;
            n++;
        }
        return n;
    }

    // Reads the table into a map, checking nothing is handed out twice.
    std::map<flow_key, flow_value, KeyLess> readAll(BpfFlowTable& table, size_t* batches) {
        std::map<flow_key, flow_value, KeyLess> seen;
        Status read =
            table.readFlows([&](std::span<const flow_key> keys, std::span<const flow_value> vals) {
                ++*batches;
                for (size_t i = 0; i < keys.size(); i++)
                    EXPECT_TRUE(seen.emplace(keys[i], vals[i]).second) << "flow seen twice";
            });
        EXPECT_TRUE(read) << read.error().message();
        return seen;
    }

    UniqueFd flows, baseline, stats;
};

} // namespace

TEST_F(BpfFlowTableTest, ReadsTenThousandFlowsBackExactlyInBatches) {
    fill(10000);
    for (size_t batch : {BpfFlowTable::kDefaultBatchSize, size_t{7}}) {
        BpfFlowTable table(flows.get(), baseline.get(), stats.get(), batch);
        ASSERT_TRUE(table.valid());
        size_t batches = 0;
        auto seen = readAll(table, &batches);
        ASSERT_EQ(seen.size(), 10000u) << "batch size " << batch;
        EXPECT_GE(batches, 10000 / table.batchCapacity());
        for (uint32_t n = 0; n < 10000; n++) {
            auto it = seen.find(keyOf(n));
            ASSERT_NE(it, seen.end()) << n;
            EXPECT_TRUE(it->second == valueOf(n)) << n;
        }
    }
    EXPECT_EQ(entries(flows.get()), 10000u); // reading takes nothing
}

TEST_F(BpfFlowTableTest, GrowsTheBatchWhenOneBucketHoldsMore) {
    // 64 flows in 64 buckets: some bucket holds two or more, which a batch of
    // one cannot take (the kernel answers ENOSPC).
    createMaps(64);
    fill(64);
    BpfFlowTable table(flows.get(), baseline.get(), stats.get(), 1);
    size_t batches = 0;
    EXPECT_EQ(readAll(table, &batches).size(), 64u);
    EXPECT_GT(table.batchCapacity(), 1u);

    size_t taken = 0;
    ASSERT_TRUE(table.takeAllFlows([&](std::span<const flow_key> keys,
                                       std::span<const flow_value>) { taken += keys.size(); }));
    EXPECT_EQ(taken, 64u);
    EXPECT_EQ(entries(flows.get()), 0u);
}

TEST_F(BpfFlowTableTest, FlowsTakenDuringTheReadAreStillAllSeenOnce) {
    fill(10000);
    BpfFlowTable table(flows.get(), baseline.get(), stats.get(), 100);
    size_t seen = 0;
    Status read =
        table.readFlows([&](std::span<const flow_key> keys, std::span<const flow_value> vals) {
            for (size_t i = 0; i < keys.size(); i++) {
                seen++;
                auto taken = table.takeFlow(keys[i]);
                ASSERT_TRUE(taken && *taken);
                EXPECT_TRUE(**taken == vals[i]);
            }
        });
    ASSERT_TRUE(read) << read.error().message();
    EXPECT_EQ(seen, 10000u);
    EXPECT_EQ(entries(flows.get()), 0u);
}

TEST_F(BpfFlowTableTest, TakeFlowReturnsTheValueAndRemovesIt) {
    fill(3);
    BpfFlowTable table(flows.get(), baseline.get(), stats.get());
    auto taken = table.takeFlow(keyOf(1));
    ASSERT_TRUE(taken) << taken.error().message();
    ASSERT_TRUE(taken->has_value());
    EXPECT_TRUE(**taken == valueOf(1));
    EXPECT_EQ(entries(flows.get()), 2u);

    auto again = table.takeFlow(keyOf(1));
    ASSERT_TRUE(again);
    EXPECT_FALSE(again->has_value());
}

TEST_F(BpfFlowTableTest, TakeAllFlowsHandsEveryFlowOutOnceAndEmptiesTheMap) {
    fill(10000);
    BpfFlowTable table(flows.get(), baseline.get(), stats.get());
    std::map<flow_key, flow_value, KeyLess> taken;
    Status done =
        table.takeAllFlows([&](std::span<const flow_key> keys, std::span<const flow_value> vals) {
            for (size_t i = 0; i < keys.size(); i++)
                EXPECT_TRUE(taken.emplace(keys[i], vals[i]).second);
        });
    ASSERT_TRUE(done) << done.error().message();
    EXPECT_EQ(taken.size(), 10000u);
    EXPECT_TRUE(taken[keyOf(9999)] == valueOf(9999));
    EXPECT_EQ(entries(flows.get()), 0u);
}

TEST_F(BpfFlowTableTest, BaselinesRoundTrip) {
    BpfFlowTable table(flows.get(), baseline.get(), stats.get(), 64);
    for (uint32_t n = 0; n < 5000; n++)
        ASSERT_TRUE(table.writeBaseline(keyOf(n), {n, n * 10ULL, n * 100ULL}));
    ASSERT_TRUE(table.writeBaseline(keyOf(7), {70, 700, 7000})); // replaces

    auto seven = table.lookupBaseline(keyOf(7));
    ASSERT_TRUE(seven && *seven);
    EXPECT_EQ((*seven)->packets, 70u);
    EXPECT_EQ((*seven)->exported_ns, 7000u);
    auto none = table.lookupBaseline(keyOf(5000));
    ASSERT_TRUE(none);
    EXPECT_FALSE(*none);

    size_t read = 0;
    uint64_t octets = 0;
    ASSERT_TRUE(table.readBaselines(
        [&](std::span<const flow_key> keys, std::span<const flow_baseline> values) {
            read += keys.size();
            for (const flow_baseline& b : values)
                octets += b.octets;
        }));
    EXPECT_EQ(read, 5000u);
    EXPECT_EQ(octets, 10ULL * (4999ULL * 5000 / 2) - 70 + 700);

    ASSERT_TRUE(table.deleteBaseline(keyOf(7)));
    ASSERT_TRUE(table.deleteBaseline(keyOf(7))) << "absent is not an error";
    EXPECT_EQ(entries(baseline.get()), 4999u);
    ASSERT_TRUE(table.clearBaselines());
    EXPECT_EQ(entries(baseline.get()), 0u);
}

TEST_F(BpfFlowTableTest, StatsAreSummedOverEveryPossibleCpu) {
    const int cpus = libbpf_num_possible_cpus();
    ASSERT_GT(cpus, 0);
    for (uint32_t index = 0; index < FLOW_STAT_MAX; index++) {
        std::vector<flow_stat_value> per_cpu(static_cast<size_t>(cpus));
        for (int cpu = 0; cpu < cpus; cpu++)
            per_cpu[static_cast<size_t>(cpu)] = {index + 1ULL, (index + 1ULL) * 100 + cpu};
        ASSERT_EQ(bpf_map_update_elem(stats.get(), &index, per_cpu.data(), BPF_ANY), 0);
    }
    BpfFlowTable table(flows.get(), baseline.get(), stats.get());
    auto snapshot = table.readStats();
    ASSERT_TRUE(snapshot) << snapshot.error().message();
    const uint64_t n = static_cast<uint64_t>(cpus);
    const uint64_t cpu_sum = n * (n - 1) / 2;
    EXPECT_EQ(snapshot->overflow.packets, n);
    EXPECT_EQ(snapshot->overflow.octets, 100 * n + cpu_sum);
    EXPECT_EQ(snapshot->non_ip.packets, 2 * n);
    EXPECT_EQ(snapshot->non_ip.octets, 200 * n + cpu_sum);
    EXPECT_EQ(snapshot->truncated.packets, 3 * n);
    EXPECT_EQ(snapshot->truncated.octets, 300 * n + cpu_sum);
}

TEST_F(BpfFlowTableTest, RefusesMapsThatAreNotTheAbisShape) {
    UniqueFd wide(bpf_map_create(BPF_MAP_TYPE_HASH, "flows", sizeof(flow_key) + 8,
                                 sizeof(flow_value), 16, nullptr));
    ASSERT_TRUE(wide.valid());
    BpfFlowTable table(wide.get(), baseline.get(), stats.get());
    Status valid = table.valid();
    ASSERT_FALSE(valid);
    EXPECT_EQ(valid.error().code(), EINVAL);
    EXPECT_EQ(valid.error().context(), "flows map: key size 56, expected 48");
    EXPECT_FALSE(table.readFlows([](auto, auto) {}));
    EXPECT_FALSE(table.takeFlow(keyOf(0)));

    BpfFlowTable swapped(flows.get(), stats.get(), baseline.get());
    EXPECT_FALSE(swapped.valid());
}

TEST_F(BpfFlowTableTest, TheDrainKeepsItsBaselinesInTheKernel) {
    constexpr uint64_t kSec = 1'000'000'000;
    flow_value v{};
    v.packets = 60;
    v.octets = 6000;
    v.first_seen_ns = 100 * kSec;
    v.last_seen_ns = 159 * kSec;
    const flow_key key = keyOf(42);
    ASSERT_EQ(bpf_map_update_elem(flows.get(), &key, &v, BPF_NOEXIST), 0);

    BpfFlowTable table(flows.get(), baseline.get(), stats.get());
    std::vector<FlowRecord> records;
    const RecordSink sink = [&](const FlowRecord& r) { records.push_back(r); };
    const ClockMapping clock(0);
    ASSERT_TRUE(FlowDrainer({15 * kSec, 60 * kSec}).poll(table, 160 * kSec, clock, sink));
    ASSERT_EQ(records.size(), 1u);
    EXPECT_EQ(records[0].reason, EndReason::ActiveTimeout);
    flow_baseline stored{};
    ASSERT_EQ(bpf_map_lookup_elem(baseline.get(), &key, &stored), 0);
    EXPECT_EQ(stored.packets, 60u);
    EXPECT_EQ(stored.exported_ns, 159 * kSec);

    // As the program would: more packets, then a FIN. A new drainer (a
    // restarted daemon) exports only what followed the first record.
    v.packets = 64;
    v.octets = 6400;
    v.last_seen_ns = 163 * kSec;
    v.tcp_flags = FLOW_TCP_FIN;
    ASSERT_EQ(bpf_map_update_elem(flows.get(), &key, &v, BPF_EXIST), 0);
    ASSERT_TRUE(FlowDrainer({15 * kSec, 60 * kSec}).poll(table, 164 * kSec, clock, sink));
    ASSERT_EQ(records.size(), 2u);
    EXPECT_EQ(records[1].reason, EndReason::EndOfFlow);
    EXPECT_EQ(records[1].packets, 4u);
    EXPECT_EQ(records[1].octets, 400u);
    EXPECT_EQ(records[1].start_ms, 159'000u);
    EXPECT_EQ(entries(flows.get()), 0u);
    EXPECT_EQ(entries(baseline.get()), 0u);
}
