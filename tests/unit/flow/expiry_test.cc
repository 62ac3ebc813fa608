// The pure decision for one flow at a poll and the record it becomes.

#include "flow/expiry.h"

#include <gtest/gtest.h>

using namespace l3af::flow;

namespace {

constexpr uint64_t kSec = 1'000'000'000;
constexpr Timeouts kTimeouts{15 * kSec, 60 * kSec};

flow_value flowSeen(uint64_t first_ns, uint64_t last_ns, uint64_t packets = 10,
                    uint8_t tcp_flags = FLOW_TCP_SYN) {
    flow_value v{};
    v.packets = packets;
    v.octets = packets * 100;
    v.first_seen_ns = first_ns;
    v.last_seen_ns = last_ns;
    v.tcp_flags = tcp_flags;
    v.min_ttl = 60;
    v.max_ttl = 64;
    v.tos = 0x10;
    return v;
}

} // namespace

TEST(Decide, IdleAtExactlyTheIdleTimeoutNotOneNanosecondBefore) {
    const flow_value v = flowSeen(100 * kSec, 110 * kSec);
    EXPECT_EQ(decide(v, std::nullopt, 125 * kSec - 1, kTimeouts), FlowAction::Keep);
    EXPECT_EQ(decide(v, std::nullopt, 125 * kSec, kTimeouts), FlowAction::ExpireIdle);
}

TEST(Decide, FinOrRstEndsTheFlowAtOnce) {
    const uint64_t now = 101 * kSec;
    EXPECT_EQ(decide(flowSeen(100 * kSec, now, 3, FLOW_TCP_SYN | FLOW_TCP_FIN), std::nullopt, now,
                     kTimeouts),
              FlowAction::ExpireEndOfFlow);
    EXPECT_EQ(decide(flowSeen(100 * kSec, now, 3, FLOW_TCP_RST), std::nullopt, now, kTimeouts),
              FlowAction::ExpireEndOfFlow);
}

TEST(Decide, ActiveTimeoutCountsFromFirstSeenThenFromTheLastExport) {
    const flow_value v = flowSeen(100 * kSec, 170 * kSec);
    EXPECT_EQ(decide(v, std::nullopt, 160 * kSec - 1, kTimeouts), FlowAction::Keep);
    EXPECT_EQ(decide(v, std::nullopt, 160 * kSec, kTimeouts), FlowAction::ExportActive);
    EXPECT_EQ(decide(v, 165 * kSec, 171 * kSec, kTimeouts), FlowAction::Keep);
    EXPECT_EQ(decide(v, 165 * kSec, 225 * kSec - 1, kTimeouts), FlowAction::ExpireIdle);
    EXPECT_EQ(decide(flowSeen(100 * kSec, 224 * kSec), 165 * kSec, 225 * kSec, kTimeouts),
              FlowAction::ExportActive);
}

TEST(Decide, PacketsStampedAfterThePollsClockAreNotOld) {
    // The program keeps counting while the daemon reads: last_seen > now.
    const flow_value v = flowSeen(10 * kSec, 200 * kSec);
    EXPECT_EQ(decide(v, 150 * kSec, 190 * kSec, kTimeouts), FlowAction::Keep);
    EXPECT_EQ(decide(flowSeen(300 * kSec, 301 * kSec), std::nullopt, 200 * kSec, kTimeouts),
              FlowAction::Keep);
}

TEST(Decide, ReasonsAreIpfixFlowEndReasons) {
    EXPECT_EQ(reasonOf(FlowAction::ExpireIdle), EndReason::IdleTimeout);
    EXPECT_EQ(reasonOf(FlowAction::ExportActive), EndReason::ActiveTimeout);
    EXPECT_EQ(reasonOf(FlowAction::ExpireEndOfFlow), EndReason::EndOfFlow);
    EXPECT_EQ(static_cast<int>(EndReason::EndOfFlow), 3);
}

TEST(MakeRecord, WithoutBaselineCarriesTheWholeFlow) {
    const ClockMapping clock(1'000 * kSec);
    flow_key key{};
    key.protocol = 17;
    const FlowRecord r = makeRecord(key, flowSeen(100 * kSec, 130'500'000'000, 7), nullptr,
                                    EndReason::IdleTimeout, clock);
    EXPECT_EQ(r.key.protocol, 17);
    EXPECT_EQ(r.packets, 7u);
    EXPECT_EQ(r.octets, 700u);
    EXPECT_EQ(r.start_ms, 1'100'000u);
    EXPECT_EQ(r.end_ms, 1'130'500u);
    EXPECT_EQ(r.tcp_flags, FLOW_TCP_SYN);
    EXPECT_EQ(r.min_ttl, 60);
    EXPECT_EQ(r.max_ttl, 64);
    EXPECT_EQ(r.tos, 0x10);
    EXPECT_EQ(r.reason, EndReason::IdleTimeout);
}

TEST(MakeRecord, WithBaselineCarriesOnlyWhatFollowedTheLastExport) {
    const ClockMapping clock(0);
    const flow_baseline since{4, 400, 160 * kSec};
    const FlowRecord r = makeRecord(flow_key{}, flowSeen(100 * kSec, 220 * kSec, 10), &since,
                                    EndReason::ActiveTimeout, clock);
    EXPECT_EQ(r.packets, 6u);
    EXPECT_EQ(r.octets, 600u);
    EXPECT_EQ(r.start_ms, 160'000u);
    EXPECT_EQ(r.end_ms, 220'000u);
}

TEST(NextBaseline, IsTheExportedCountsAndLastSeen) {
    const flow_baseline b = nextBaseline(flowSeen(100 * kSec, 170 * kSec, 9));
    EXPECT_EQ(b.packets, 9u);
    EXPECT_EQ(b.octets, 900u);
    EXPECT_EQ(b.exported_ns, 170 * kSec);
}

TEST(BaselineApplies, OnlyToTheFlowItWasTakenFrom) {
    const flow_value v = flowSeen(100 * kSec, 200 * kSec, 10);
    EXPECT_TRUE(baselineApplies(v, {10, 1000, 200 * kSec}));
    EXPECT_TRUE(baselineApplies(v, {0, 0, 100 * kSec}));
    // Exported before this flow began: a previous flow with the same key.
    EXPECT_FALSE(baselineApplies(v, {1, 100, 100 * kSec - 1}));
    // More than the flow ever had.
    EXPECT_FALSE(baselineApplies(v, {11, 1000, 150 * kSec}));
    EXPECT_FALSE(baselineApplies(v, {10, 1001, 150 * kSec}));
}
