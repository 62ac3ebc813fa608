#pragma once

// Turns the kernel flow table into records. The daemon keeps no per-flow
// state: the `flows` and `baseline` maps are the state, so a restarted daemon
// (or a new FlowDrainer) carries on without losing or repeating counts.
//
// Each step is ordered so that stopping after it (an error, kill -9) neither
// loses nor double-counts:
//  - active export: write the new baseline, then emit the record;
//  - expiry: take the flow (atomically, with its final counts), emit, then
//    delete its baseline. A baseline that outlives its flow is recognised by
//    baselineApplies() and removed by the next poll's sweep.
// Memory is bounded by one batch of the table plus 16 bytes per baseline
// (baseline_index.h); records go to the sink one by one.

#include "flow/baseline_index.h"
#include "flow/clock.h"
#include "flow/expiry.h"
#include "flow/flow_table.h"

#include <functional>

namespace l3af::flow {

using RecordSink = std::function<void(const FlowRecord&)>;

// What one poll() or drainAll() did.
struct DrainCounters {
    uint64_t flows_seen = 0;      // flows in the table as it was read
    uint64_t idle = 0;            // taken out on idle timeout
    uint64_t active = 0;          // exported on active timeout (still in the table)
    uint64_t end_of_flow = 0;     // taken out after FIN or RST
    uint64_t forced = 0;          // taken out by drainAll()
    uint64_t records = 0;         // records given to the sink
    uint64_t vanished = 0;        // due for expiry but already gone when taken
    uint64_t stale_baselines = 0; // baselines deleted because no flow owned them
};

class FlowDrainer {
  public:
    explicit FlowDrainer(Timeouts timeouts) : timeouts_(timeouts) {}

    const Timeouts& timeouts() const { return timeouts_; }

    // Reads every flow; expires those due (FIN/RST, idle) and exports the
    // ones past their active timeout. `now_boot_ns` is CLOCK_BOOTTIME at the
    // start of the poll. Stops at the first table error, which it returns.
    [[nodiscard]] Result<DrainCounters> poll(FlowTable& table, uint64_t now_boot_ns,
                                             const ClockMapping& clock, const RecordSink& sink);

    // Takes every flow out with reason ForcedEnd and clears the baselines
    // (shutdown, exporter removed). Flows the program creates meanwhile stay
    // for whoever reads the table next. Goes on past a failed baseline lookup
    // (that flow's record is lost) and returns the first error at the end.
    [[nodiscard]] Result<DrainCounters> drainAll(FlowTable& table, const ClockMapping& clock,
                                                 const RecordSink& sink);

  private:
    [[nodiscard]] Status loadBaselines(FlowTable& table);
    [[nodiscard]] Status visit(FlowTable& table, const flow_key& key, const flow_value& value,
                               uint64_t now_ns, const ClockMapping& clock, const RecordSink& sink,
                               DrainCounters& counters);
    [[nodiscard]] Status sweepBaselines(FlowTable& table, DrainCounters& counters);

    Timeouts timeouts_;
    BaselineIndex baselines_; // kept between polls only to reuse its memory
};

} // namespace l3af::flow
