#pragma once

// What happens to one flow at a poll, and the record it becomes. Pure: the
// drain (drain.h) applies these decisions to a FlowTable.
//
// A flow that reached its active timeout stays in the kernel table; the
// daemon remembers what it already exported in the `baseline` map, so every
// record carries only the counts since the previous one.

#include "flow/clock.h"
#include "flow/record.h"

#include <cstdint>
#include <optional>

namespace l3af::flow {

struct Timeouts {
    uint64_t idle_ns = 15'000'000'000;   // no packet for this long: expire
    uint64_t active_ns = 60'000'000'000; // exported at least this often while alive
};

enum class FlowAction {
    Keep,
    ExportActive,    // emit the counts since the last export; the flow stays
    ExpireIdle,      // take the flow out; reason IdleTimeout
    ExpireEndOfFlow, // take the flow out; reason EndOfFlow (TCP FIN or RST seen)
};

// `last_export_ns` is the exported_ns of the flow's baseline when it has one
// that applies (baselineApplies). FIN/RST wins over idle, idle over active.
FlowAction decide(const flow_value& value, std::optional<uint64_t> last_export_ns, uint64_t now_ns,
                  const Timeouts& timeouts);

EndReason reasonOf(FlowAction action);

// Whether `baseline` describes an earlier part of this very flow. A baseline
// left behind by a previous flow with the same key (the daemon died between
// taking the flow and deleting its baseline) must not be subtracted.
bool baselineApplies(const flow_value& value, const flow_baseline& baseline);

// The record for a flow's counts since `baseline` (nullptr: since it began).
// Counts saturate at 0 rather than wrap.
FlowRecord makeRecord(const flow_key& key, const flow_value& value, const flow_baseline* baseline,
                      EndReason reason, const ClockMapping& clock);

// The baseline to store after exporting `value` on its active timeout.
flow_baseline nextBaseline(const flow_value& value);

} // namespace l3af::flow
