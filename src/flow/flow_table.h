#pragma once

// The seam between the drain and the kernel: the `flows` map the TC program
// counts into, the `baseline` map only the daemon writes, and the per-CPU
// `flow_stats` counters. kernel::BpfFlowTable is the real one; the unit tests
// use a map-backed fake.

#include "common/error.h"
#include "flow/record.h"

#include <functional>
#include <optional>
#include <span>

namespace l3af::flow {

// Packets and octets the program saw but could not put in the table, summed
// over CPUs since the program was loaded.
struct StatsSnapshot {
    flow_stat_value overflow{}; // FLOW_STAT_OVERFLOW
    flow_stat_value non_ip{};   // FLOW_STAT_NON_IP
    flow_stat_value truncated{};
};

// One batch of a table read. The spans are valid only during the call. The
// callback may take flows and write or delete baselines (entries already
// handed out are never handed out again in the same read), but must not start
// another read of the same table.
using FlowBatchFn = std::function<void(std::span<const flow_key>, std::span<const flow_value>)>;
using BaselineBatchFn =
    std::function<void(std::span<const flow_key>, std::span<const flow_baseline>)>;

class FlowTable {
  public:
    virtual ~FlowTable() = default;

    // Every flow, in batches. Flows created during the read may or may not be
    // seen; a flow present throughout is seen exactly once.
    [[nodiscard]] virtual Status readFlows(const FlowBatchFn& fn) = 0;

    // Removes one flow and returns its final value (counts included up to the
    // removal); nullopt if it is not there.
    [[nodiscard]] virtual Result<std::optional<flow_value>> takeFlow(const flow_key& key) = 0;

    // Removes every flow, handing each one out with its final value.
    [[nodiscard]] virtual Status takeAllFlows(const FlowBatchFn& fn) = 0;

    [[nodiscard]] virtual Status readBaselines(const BaselineBatchFn& fn) = 0;
    [[nodiscard]] virtual Result<std::optional<flow_baseline>>
    lookupBaseline(const flow_key& key) = 0;
    // Creates or replaces.
    [[nodiscard]] virtual Status writeBaseline(const flow_key& key,
                                               const flow_baseline& baseline) = 0;
    // A key that has no baseline is not an error.
    [[nodiscard]] virtual Status deleteBaseline(const flow_key& key) = 0;
    [[nodiscard]] virtual Status clearBaselines() = 0;

    [[nodiscard]] virtual Result<StatsSnapshot> readStats() = 0;
};

} // namespace l3af::flow
