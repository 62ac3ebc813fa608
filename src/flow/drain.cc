#include "flow/drain.h"

#include <utility>

namespace l3af::flow {

namespace {

const flow_baseline* applicable(const std::optional<flow_baseline>& baseline,
                                const flow_value& value) {
    return baseline && baselineApplies(value, *baseline) ? &*baseline : nullptr;
}

// Lets a failed step stop the rest of a table read whose callback cannot
// return an error: later entries are skipped, the first error is kept.
class FirstError {
  public:
    bool ok() const { return status_.has_value(); }
    void keep(Status status) {
        if (ok() && !status)
            status_ = std::move(status);
    }
    Status take() { return std::move(status_); }

  private:
    Status status_;
};

} // namespace

Status FlowDrainer::loadBaselines(FlowTable& table) {
    baselines_.clear();
    Status read = table.readBaselines(
        [&](std::span<const flow_key> keys, std::span<const flow_baseline> values) {
            for (size_t i = 0; i < keys.size(); i++)
                baselines_.add(keys[i], values[i]);
        });
    baselines_.seal();
    if (!read)
        return std::unexpected(read.error().wrap("read baselines"));
    return {};
}

Result<DrainCounters> FlowDrainer::poll(FlowTable& table, uint64_t now_boot_ns,
                                        const ClockMapping& clock, const RecordSink& sink) {
    DrainCounters counters;
    if (Status loaded = loadBaselines(table); !loaded)
        return std::unexpected(loaded.error());

    FirstError failed;
    Status read =
        table.readFlows([&](std::span<const flow_key> keys, std::span<const flow_value> values) {
            for (size_t i = 0; i < keys.size() && failed.ok(); i++) {
                counters.flows_seen++;
                failed.keep(visit(table, keys[i], values[i], now_boot_ns, clock, sink, counters));
            }
        });
    if (!read)
        return std::unexpected(read.error().wrap("read flows"));
    if (Status visited = failed.take(); !visited)
        return std::unexpected(visited.error());

    // Only after a complete read: a baseline no flow claimed has no flow.
    if (baselines_.unmatched() > 0) {
        if (Status swept = sweepBaselines(table, counters); !swept)
            return std::unexpected(swept.error());
    }
    return counters;
}

Status FlowDrainer::visit(FlowTable& table, const flow_key& key, const flow_value& value,
                          uint64_t now_ns, const ClockMapping& clock, const RecordSink& sink,
                          DrainCounters& counters) {
    const BaselineIndex::Match match = baselines_.match(key, value);
    const FlowAction action = decide(value, match.last_export_ns, now_ns, timeouts_);
    if (action == FlowAction::Keep)
        return {};

    // The exact baseline, read before anything changes: a failed lookup
    // leaves the flow as it was.
    std::optional<flow_baseline> baseline;
    if (match.candidate) {
        auto found = table.lookupBaseline(key);
        if (!found)
            return std::unexpected(found.error().wrap("look up baseline"));
        baseline = *found;
    }

    if (action == FlowAction::ExportActive) {
        const flow_baseline* since = applicable(baseline, value);
        // The index may have named another key's baseline; decide again.
        const auto last_export = since ? std::optional(since->exported_ns) : std::nullopt;
        if (decide(value, last_export, now_ns, timeouts_) != FlowAction::ExportActive)
            return {};
        const FlowRecord record = makeRecord(key, value, since, EndReason::ActiveTimeout, clock);
        if (record.packets == 0)
            return {}; // nothing since the last export
        // Baseline first: if writing it fails, nothing was emitted twice.
        if (Status written = table.writeBaseline(key, nextBaseline(value)); !written)
            return std::unexpected(written.error().wrap("write baseline"));
        counters.active++;
        counters.records++;
        sink(record);
        return {};
    }

    auto taken = table.takeFlow(key);
    if (!taken)
        return std::unexpected(taken.error().wrap("take flow"));
    if (!*taken) {
        counters.vanished++;
    } else {
        const flow_value& last = **taken;
        // The final value may show a FIN or RST the batch read had not.
        const bool ended = (last.tcp_flags & (FLOW_TCP_FIN | FLOW_TCP_RST)) != 0;
        const EndReason reason = ended ? EndReason::EndOfFlow : reasonOf(action);
        const FlowRecord record = makeRecord(key, last, applicable(baseline, last), reason, clock);
        (ended ? counters.end_of_flow : counters.idle)++;
        if (record.packets > 0) {
            counters.records++;
            sink(record);
        }
    }
    if (baseline) {
        if (Status deleted = table.deleteBaseline(key); !deleted)
            return std::unexpected(deleted.error().wrap("delete baseline"));
    }
    return {};
}

Status FlowDrainer::sweepBaselines(FlowTable& table, DrainCounters& counters) {
    FirstError failed;
    Status read = table.readBaselines(
        [&](std::span<const flow_key> keys, std::span<const flow_baseline> values) {
            for (size_t i = 0; i < keys.size() && failed.ok(); i++) {
                if (!baselines_.isUnmatched(keys[i], values[i]))
                    continue;
                Status deleted = table.deleteBaseline(keys[i]);
                if (deleted)
                    counters.stale_baselines++;
                failed.keep(std::move(deleted));
            }
        });
    if (!read)
        return std::unexpected(read.error().wrap("sweep baselines"));
    if (Status deleted = failed.take(); !deleted)
        return std::unexpected(deleted.error().wrap("sweep baselines"));
    return {};
}

Result<DrainCounters> FlowDrainer::drainAll(FlowTable& table, const ClockMapping& clock,
                                            const RecordSink& sink) {
    DrainCounters counters;
    if (Status loaded = loadBaselines(table); !loaded)
        return std::unexpected(loaded.error());

    // The flows are gone from the table once handed out, so a failed lookup
    // costs that flow's record but must not stop the others.
    FirstError failed;
    Status taken =
        table.takeAllFlows([&](std::span<const flow_key> keys, std::span<const flow_value> values) {
            for (size_t i = 0; i < keys.size(); i++) {
                counters.flows_seen++;
                counters.forced++;
                std::optional<flow_baseline> baseline;
                if (baselines_.match(keys[i], values[i]).candidate) {
                    auto found = table.lookupBaseline(keys[i]);
                    if (!found) {
                        failed.keep(std::unexpected(found.error().wrap("look up baseline")));
                        continue;
                    }
                    baseline = *found;
                }
                const FlowRecord record =
                    makeRecord(keys[i], values[i], applicable(baseline, values[i]),
                               EndReason::ForcedEnd, clock);
                if (record.packets > 0) {
                    counters.records++;
                    sink(record);
                }
            }
        });
    if (!taken)
        return std::unexpected(taken.error().wrap("take all flows"));
    if (Status cleared = table.clearBaselines(); !cleared)
        return std::unexpected(cleared.error().wrap("clear baselines"));
    if (Status looked_up = failed.take(); !looked_up)
        return std::unexpected(looked_up.error());
    return counters;
}

} // namespace l3af::flow
