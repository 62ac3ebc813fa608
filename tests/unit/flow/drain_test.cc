// The drain against a fake table: what each poll emits, what it leaves in the
// table and in the baseline map.

#include "fake_flow_table.h"
#include "flow/drain.h"

#include <gtest/gtest.h>

using namespace l3af;
using namespace l3af::flow;
using l3af::flow::testing::FakeFlowTable;
using l3af::flow::testing::makeKey;

namespace {

constexpr uint64_t kSec = 1'000'000'000;
constexpr Timeouts kTimeouts{15 * kSec, 60 * kSec};
const ClockMapping kClock(1'700'000'000 * kSec);

uint64_t wallMs(uint64_t boot_ns) {
    return kClock.toUnixMs(boot_ns);
}

class Drain : public ::testing::Test {
  protected:
    FakeFlowTable table;
    FlowDrainer drainer{kTimeouts};
    std::vector<FlowRecord> records;
    RecordSink sink = [this](const FlowRecord& r) { records.push_back(r); };

    DrainCounters poll(uint64_t now_ns) {
        auto counters = drainer.poll(table, now_ns, kClock, sink);
        EXPECT_TRUE(counters) << counters.error().message();
        return counters.value_or(DrainCounters{});
    }

    // `packets` packets of 100 bytes, one per second from `from_s`.
    void traffic(const flow_key& key, uint64_t from_s, uint64_t packets, uint8_t flags = 0) {
        for (uint64_t i = 0; i < packets; i++)
            table.count(key, 100, (from_s + i) * kSec, i + 1 == packets ? flags : 0);
    }
};

} // namespace

TEST_F(Drain, IdleFlowExpiresAtExactlyTheIdleTimeout) {
    const flow_key key = makeKey(1);
    traffic(key, 100, 3); // last packet at 102 s

    DrainCounters early = poll(117 * kSec - 1);
    EXPECT_TRUE(records.empty());
    EXPECT_EQ(early.flows_seen, 1u);
    EXPECT_EQ(table.flows.size(), 1u);

    DrainCounters due = poll(117 * kSec);
    ASSERT_EQ(records.size(), 1u);
    EXPECT_EQ(records[0].reason, EndReason::IdleTimeout);
    EXPECT_EQ(records[0].packets, 3u);
    EXPECT_EQ(records[0].octets, 300u);
    EXPECT_EQ(records[0].start_ms, wallMs(100 * kSec));
    EXPECT_EQ(records[0].end_ms, wallMs(102 * kSec));
    EXPECT_EQ(due.idle, 1u);
    EXPECT_EQ(due.records, 1u);
    EXPECT_TRUE(table.flows.empty());
}

TEST_F(Drain, ActiveTimeoutExportsTheDeltaAndKeepsTheFlow) {
    const flow_key key = makeKey(1);
    traffic(key, 100, 60); // 100 s .. 159 s

    DrainCounters first = poll(160 * kSec);
    ASSERT_EQ(records.size(), 1u);
    EXPECT_EQ(records[0].reason, EndReason::ActiveTimeout);
    EXPECT_EQ(records[0].packets, 60u);
    EXPECT_EQ(records[0].start_ms, wallMs(100 * kSec));
    EXPECT_EQ(records[0].end_ms, wallMs(159 * kSec));
    EXPECT_EQ(first.active, 1u);
    ASSERT_EQ(table.flows.size(), 1u);
    ASSERT_EQ(table.baselines.count(key), 1u);
    EXPECT_EQ(table.baselines[key].packets, 60u);
    EXPECT_EQ(table.baselines[key].octets, 6000u);
    EXPECT_EQ(table.baselines[key].exported_ns, 159 * kSec);

    traffic(key, 160, 60); // 160 s .. 219 s
    poll(218 * kSec);      // 59 s since the export: not yet
    EXPECT_EQ(records.size(), 1u);
    poll(219 * kSec);
    ASSERT_EQ(records.size(), 2u);
    EXPECT_EQ(records[1].reason, EndReason::ActiveTimeout);
    EXPECT_EQ(records[1].packets, 60u);
    EXPECT_EQ(records[1].octets, 6000u);
    EXPECT_EQ(records[1].start_ms, records[0].end_ms);
    EXPECT_EQ(records[1].end_ms, wallMs(219 * kSec));
    EXPECT_EQ(table.baselines[key].packets, 120u);
}

TEST_F(Drain, FinAndRstEndTheFlowWithReasonEndOfFlow) {
    traffic(makeKey(1), 100, 4, FLOW_TCP_FIN);
    traffic(makeKey(2), 100, 2, FLOW_TCP_RST);
    traffic(makeKey(3), 100, 2);

    DrainCounters counters = poll(104 * kSec);
    ASSERT_EQ(records.size(), 2u);
    for (const FlowRecord& r : records)
        EXPECT_EQ(r.reason, EndReason::EndOfFlow);
    EXPECT_EQ(records[0].packets + records[1].packets, 6u);
    EXPECT_EQ(counters.end_of_flow, 2u);
    EXPECT_EQ(table.flows.size(), 1u);
}

TEST_F(Drain, ExpiryExportsTheCountsAtTheTakeNotAtTheRead) {
    const flow_key key = makeKey(1);
    traffic(key, 100, 5);
    // Two more packets land between the batch read and the take.
    table.before_take = [&](const flow_key& k) {
        table.count(k, 100, 130 * kSec);
        table.count(k, 100, 130 * kSec, FLOW_TCP_FIN);
    };

    poll(130 * kSec);
    ASSERT_EQ(records.size(), 1u);
    EXPECT_EQ(records[0].packets, 7u);
    EXPECT_EQ(records[0].octets, 700u);
    EXPECT_EQ(records[0].end_ms, wallMs(130 * kSec));
    // Idle at the read, but the final value shows the FIN.
    EXPECT_EQ(records[0].reason, EndReason::EndOfFlow);
    EXPECT_TRUE(table.flows.empty());
}

TEST_F(Drain, ExpiryAfterAnActiveExportSubtractsTheBaselineAndDeletesIt) {
    const flow_key key = makeKey(1);
    traffic(key, 100, 61); // 100 s .. 160 s
    poll(160 * kSec);      // active: 61 packets
    traffic(key, 161, 4, FLOW_TCP_FIN);
    poll(165 * kSec);

    ASSERT_EQ(records.size(), 2u);
    EXPECT_EQ(records[1].reason, EndReason::EndOfFlow);
    EXPECT_EQ(records[1].packets, 4u);
    EXPECT_EQ(records[1].octets, 400u);
    EXPECT_EQ(records[1].start_ms, wallMs(160 * kSec));
    EXPECT_TRUE(table.flows.empty());
    EXPECT_TRUE(table.baselines.empty());
}

TEST_F(Drain, ActiveExportWithNothingNewDoesNothing) {
    FlowDrainer slow_idle(Timeouts{100 * kSec, 10 * kSec});
    const flow_key key = makeKey(1);
    traffic(key, 100, 11); // 100 s .. 110 s
    ASSERT_TRUE(slow_idle.poll(table, 110 * kSec, kClock, sink));
    ASSERT_EQ(records.size(), 1u);
    const flow_baseline before = table.baselines.at(key);

    auto counters = slow_idle.poll(table, 125 * kSec, kClock, sink);
    ASSERT_TRUE(counters);
    EXPECT_EQ(records.size(), 1u);
    EXPECT_EQ(counters->active, 0u);
    EXPECT_EQ(table.baselines.at(key).exported_ns, before.exported_ns);
    EXPECT_EQ(table.baselines.at(key).packets, before.packets);
    EXPECT_EQ(table.flows.size(), 1u);
}

TEST_F(Drain, DrainAllEmitsEverythingAsForcedEndAndEmptiesBothMaps) {
    traffic(makeKey(1), 100, 61);
    traffic(makeKey(2), 100, 61);
    poll(160 * kSec); // both exported on active timeout: baselines of 61 packets
    records.clear();
    traffic(makeKey(1), 161, 2); // makeKey(2) gets nothing new
    traffic(makeKey(3), 150, 11);
    for (uint32_t n = 10; n < 20; n++)
        traffic(makeKey(n), 161, 1);

    auto counters = drainer.drainAll(table, kClock, sink);
    ASSERT_TRUE(counters) << counters.error().message();
    EXPECT_EQ(counters->forced, 13u);
    ASSERT_EQ(records.size(), 12u);
    uint64_t packets = 0;
    for (const FlowRecord& r : records) {
        EXPECT_EQ(r.reason, EndReason::ForcedEnd);
        packets += r.packets;
        const flow_key one = makeKey(1);
        if (std::memcmp(&r.key, &one, sizeof one) == 0) {
            EXPECT_EQ(r.packets, 2u);
            EXPECT_EQ(r.start_ms, wallMs(160 * kSec));
        }
    }
    EXPECT_EQ(packets, 2u + 11u + 10u);
    EXPECT_TRUE(table.flows.empty());
    EXPECT_TRUE(table.baselines.empty());
}

TEST_F(Drain, ANewDrainerCarriesOnWhereTheLastOneStopped) {
    const flow_key key = makeKey(1);
    traffic(key, 100, 60);
    poll(160 * kSec);
    traffic(key, 160, 5);

    // A restarted daemon: fresh memory, same kernel maps.
    FlowDrainer restarted(kTimeouts);
    ASSERT_TRUE(restarted.poll(table, 170 * kSec, kClock, sink));
    EXPECT_EQ(records.size(), 1u);
    ASSERT_TRUE(restarted.poll(table, 180 * kSec, kClock, sink)); // idle since 164 s
    ASSERT_EQ(records.size(), 2u);
    EXPECT_EQ(records[1].packets, 5u);
}

TEST_F(Drain, ABaselineLeftByAPreviousFlowIsNotSubtracted) {
    // The daemon died between taking a flow and deleting its baseline; the
    // key came back as a new flow.
    const flow_key key = makeKey(1);
    table.baselines[key] = flow_baseline{50, 5000, 90 * kSec};
    traffic(key, 100, 3);

    DrainCounters counters = poll(120 * kSec);
    ASSERT_EQ(records.size(), 1u);
    EXPECT_EQ(records[0].packets, 3u);
    EXPECT_EQ(records[0].start_ms, wallMs(100 * kSec));
    EXPECT_EQ(counters.stale_baselines, 0u); // deleted with its flow, not by the sweep
    EXPECT_TRUE(table.baselines.empty());
}

TEST_F(Drain, BaselinesWithoutAFlowAreSwept) {
    table.baselines[makeKey(7)] = flow_baseline{5, 500, 90 * kSec};
    table.baselines[makeKey(8)] = flow_baseline{5, 500, 91 * kSec};
    traffic(makeKey(1), 100, 1);

    DrainCounters counters = poll(101 * kSec);
    EXPECT_EQ(counters.stale_baselines, 2u);
    EXPECT_TRUE(table.baselines.empty());
    EXPECT_TRUE(records.empty());
    EXPECT_EQ(table.flows.size(), 1u);
}

TEST_F(Drain, AFailedBaselineWriteEmitsNothingAndTheNextPollExportsOnce) {
    const flow_key key = makeKey(1);
    traffic(key, 100, 60);
    table.fail_write = Error(ENOMEM, "baseline map full");

    auto failed = drainer.poll(table, 160 * kSec, kClock, sink);
    ASSERT_FALSE(failed);
    EXPECT_EQ(failed.error().code(), ENOMEM);
    EXPECT_NE(failed.error().context().find("write baseline"), std::string::npos);
    EXPECT_TRUE(records.empty());

    table.fail_write.reset();
    poll(161 * kSec);
    poll(162 * kSec);
    ASSERT_EQ(records.size(), 1u);
    EXPECT_EQ(records[0].packets, 60u);
}

TEST_F(Drain, AFlowGoneBeforeTheTakeIsCountedNotExported) {
    traffic(makeKey(1), 100, 2);
    table.before_take = [&](const flow_key& k) { table.flows.erase(k); };

    DrainCounters counters = poll(130 * kSec);
    EXPECT_TRUE(records.empty());
    EXPECT_EQ(counters.vanished, 1u);
    EXPECT_EQ(counters.idle, 0u);
}

TEST_F(Drain, EveryFlowIsSeenOnceAcrossBatches) {
    table.batch_size = 4;
    for (uint32_t n = 0; n < 50; n++)
        traffic(makeKey(n), 100, 1);
    DrainCounters counters = poll(130 * kSec);
    EXPECT_EQ(counters.flows_seen, 50u);
    EXPECT_EQ(counters.idle, 50u);
    EXPECT_EQ(records.size(), 50u);
    EXPECT_TRUE(table.flows.empty());
}
