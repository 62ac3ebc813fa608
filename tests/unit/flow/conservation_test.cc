// Conservation: whatever traffic the program counts, and whenever it lands
// (between batch reads, between a read and a take, stamped after the poll's
// clock), the records add up to exactly what was counted, per flow key, across
// polls, daemon restarts and the final drain.

#include "fake_flow_table.h"
#include "flow/drain.h"

#include <gtest/gtest.h>

#include <random>

using namespace l3af::flow;
using l3af::flow::testing::FakeFlowTable;
using l3af::flow::testing::KeyLess;
using l3af::flow::testing::makeKey;

namespace {

constexpr uint64_t kMs = 1'000'000;

struct Totals {
    uint64_t packets = 0;
    uint64_t octets = 0;
    bool operator==(const Totals&) const = default;
};

[[maybe_unused]] void PrintTo(const Totals& t, std::ostream* os) {
    *os << t.packets << " packets, " << t.octets << " octets";
}

class Conservation : public ::testing::TestWithParam<uint64_t> {};

} // namespace

TEST_P(Conservation, RecordsAddUpToTheTrafficCounted) {
    std::mt19937_64 rng(GetParam());
    FakeFlowTable table;
    table.batch_size = 1 + rng() % 16;
    const Timeouts timeouts{3000 * kMs, 5000 * kMs};
    auto drainer = std::make_unique<FlowDrainer>(timeouts);
    const ClockMapping clock(1'700'000'000'000 * kMs);

    std::map<flow_key, Totals, KeyLess> counted;
    std::map<flow_key, Totals, KeyLess> exported;
    uint64_t now = 1000 * kMs;
    auto packet = [&](uint64_t stamp) {
        // Half the packets on 20 busy flows that outlive the active timeout.
        const uint32_t n = static_cast<uint32_t>(rng() % 2 ? rng() % 20 : rng() % 300);
        const flow_key key = makeKey(n, n % 2 ? 6 : 17);
        const uint64_t octets = 40 + rng() % 1460;
        const uint8_t flags = rng() % 400 == 0 ? FLOW_TCP_FIN : rng() % 700 == 0 ? FLOW_TCP_RST : 0;
        table.count(key, octets, stamp, flags);
        counted[key].packets++;
        counted[key].octets += octets;
    };
    // Traffic keeps arriving while the daemon drains, sometimes stamped after
    // the instant the poll decided with.
    table.between_batches = [&] {
        if (rng() % 3 == 0)
            packet(now + rng() % (200 * kMs));
    };
    table.before_take = [&](const flow_key&) {
        if (rng() % 4 == 0)
            packet(now + rng() % (200 * kMs));
    };
    const RecordSink sink = [&](const FlowRecord& r) {
        EXPECT_GT(r.packets, 0u);
        EXPECT_LE(r.start_ms, r.end_ms);
        exported[r.key].packets += r.packets;
        exported[r.key].octets += r.octets;
    };

    DrainCounters seen;
    uint64_t records = 0;
    for (int poll = 0; poll < 400; poll++) {
        // A burst on some flows, silence on others, over one poll interval.
        const int packets = static_cast<int>(rng() % 40);
        for (int i = 0; i < packets; i++)
            packet(now + rng() % (1000 * kMs));
        now += 1000 * kMs;
        auto done = drainer->poll(table, now, clock, sink);
        ASSERT_TRUE(done) << done.error().message();
        records += done->records;
        seen.idle += done->idle;
        seen.active += done->active;
        seen.end_of_flow += done->end_of_flow;
        if (rng() % 50 == 0) // the daemon restarts
            drainer = std::make_unique<FlowDrainer>(timeouts);
    }
    // Shutdown under traffic: what arrives behind the drain's cursor stays in
    // the table for the next reader, here a second drain once traffic stops.
    auto drained = drainer->drainAll(table, clock, sink);
    ASSERT_TRUE(drained) << drained.error().message();
    records += drained->records;
    table.between_batches = nullptr;
    table.before_take = nullptr;
    auto leftover = FlowDrainer(timeouts).drainAll(table, clock, sink);
    ASSERT_TRUE(leftover) << leftover.error().message();
    records += leftover->records;

    EXPECT_GT(records, 100u);
    // Every path was taken.
    EXPECT_GT(seen.idle, 0u);
    EXPECT_GT(seen.active, 0u);
    EXPECT_GT(seen.end_of_flow, 0u);
    EXPECT_TRUE(table.flows.empty());
    EXPECT_TRUE(table.baselines.empty());
    ASSERT_EQ(exported.size(), counted.size());
    Totals all_counted, all_exported;
    for (const auto& [key, totals] : counted) {
        EXPECT_EQ(exported[key], totals);
        all_counted.packets += totals.packets;
        all_counted.octets += totals.octets;
    }
    for (const auto& [key, totals] : exported) {
        all_exported.packets += totals.packets;
        all_exported.octets += totals.octets;
    }
    EXPECT_EQ(all_exported, all_counted);
}

INSTANTIATE_TEST_SUITE_P(Seeds, Conservation, ::testing::Values(1, 2, 3, 42, 2024, 77777));
