#include "flow/expiry.h"

#include <algorithm>

namespace l3af::flow {

namespace {

// now - then >= timeout, where a timestamp after `now` (a packet counted
// after the poll read its clock) has not waited at all.
bool elapsed(uint64_t then_ns, uint64_t now_ns, uint64_t timeout_ns) {
    return now_ns >= then_ns && now_ns - then_ns >= timeout_ns;
}

uint64_t minus(uint64_t a, uint64_t b) {
    return a > b ? a - b : 0;
}

} // namespace

FlowAction decide(const flow_value& value, std::optional<uint64_t> last_export_ns, uint64_t now_ns,
                  const Timeouts& timeouts) {
    if (value.tcp_flags & (FLOW_TCP_FIN | FLOW_TCP_RST))
        return FlowAction::ExpireEndOfFlow;
    if (elapsed(value.last_seen_ns, now_ns, timeouts.idle_ns))
        return FlowAction::ExpireIdle;
    if (elapsed(last_export_ns.value_or(value.first_seen_ns), now_ns, timeouts.active_ns))
        return FlowAction::ExportActive;
    return FlowAction::Keep;
}

EndReason reasonOf(FlowAction action) {
    switch (action) {
    case FlowAction::ExportActive:
        return EndReason::ActiveTimeout;
    case FlowAction::ExpireEndOfFlow:
        return EndReason::EndOfFlow;
    case FlowAction::Keep:
    case FlowAction::ExpireIdle:
        break;
    }
    return EndReason::IdleTimeout;
}

bool baselineApplies(const flow_value& value, const flow_baseline& baseline) {
    return baseline.exported_ns >= value.first_seen_ns && baseline.packets <= value.packets &&
           baseline.octets <= value.octets;
}

FlowRecord makeRecord(const flow_key& key, const flow_value& value, const flow_baseline* baseline,
                      EndReason reason, const ClockMapping& clock) {
    FlowRecord record;
    record.key = key;
    record.packets = minus(value.packets, baseline ? baseline->packets : 0);
    record.octets = minus(value.octets, baseline ? baseline->octets : 0);
    const uint64_t start_ns = baseline ? baseline->exported_ns : value.first_seen_ns;
    // CPUs store last_seen without ordering; a flow never ends before it starts.
    record.start_ms = clock.toUnixMs(start_ns);
    record.end_ms = clock.toUnixMs(std::max<uint64_t>(value.last_seen_ns, start_ns));
    record.tcp_flags = value.tcp_flags;
    record.min_ttl = value.min_ttl;
    record.max_ttl = value.max_ttl;
    record.tos = value.tos;
    record.reason = reason;
    return record;
}

flow_baseline nextBaseline(const flow_value& value) {
    return flow_baseline{value.packets, value.octets, value.last_seen_ns};
}

} // namespace l3af::flow
