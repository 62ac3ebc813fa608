#pragma once

// The daemon's Prometheus metrics: plain snapshots in, the text exposition
// format (0.0.4) out, served by an HttpEndpoint on the daemon's loop.
//
// Counters fed from absolute totals. The daemon's numbers are totals kept by
// someone else (per-CPU BPF maps summed, collector connections), which is the
// "custom collector" case of Prometheus' exporter guidelines: each scrape
// exposes the current total as it is, with TYPE counter, built from the last
// snapshot (a prometheus::Collectable of our own, not prometheus::Counter).
// When a source starts again from zero (a new BPF map after max_flows
// changed, a collector connection rebuilt, a daemon restart) the series goes
// down, and that is a counter reset, which rate() and increase() are made to
// handle. prometheus::Counter would need per-series baselines to turn totals
// into increments, would drift from what `l3afd status` shows, and would keep
// series of objects the config no longer has; a snapshot simply lists what
// exists now, with the numbers `l3afd status` prints.
//
// Events that are not totals (a reconcile took N seconds) go to a
// prometheus::Registry: the reconcile duration histogram and build_info.
//
// Names (labels in braces); "_total" are counters, the rest gauges:
//   l3af_build_info{version}                                        1
//   l3af_reconcile_runs_total, l3af_reconcile_failures_total
//   l3af_reconcile_duration_seconds                                 histogram
//   l3af_reconcile_pending_items, l3af_reconcile_errors            last run
//   l3af_last_reload_successful                                     0 | 1
//   l3af_last_successful_reload_timestamp_seconds                   unix time
//   per flow exporter {exporter}:
//     l3af_flow_polls_total, l3af_flow_exported_records_total,
//     l3af_flow_active_flows, l3af_flow_table_capacity, l3af_flow_table_fill_ratio,
//     l3af_flow_overflow_packets_total, l3af_flow_overflow_bytes_total,
//     l3af_flow_non_ip_packets_total, l3af_flow_non_ip_bytes_total,
//     l3af_flow_truncated_packets_total, l3af_flow_truncated_bytes_total,
//     l3af_flow_expired_flows_total{reason = idle_timeout | end_of_flow | forced_end}
//   per flow exporter, interface and direction {exporter, interface, direction}:
//     l3af_flow_exported_packets_total, l3af_flow_exported_bytes_total
//   per collector {collector, transport}:
//     l3af_collector_sent_records_total, l3af_collector_sent_messages_total,
//     l3af_collector_sent_bytes_total, l3af_collector_send_errors_total,
//     l3af_collector_dropped_records_total, l3af_collector_dropped_messages_total,
//     l3af_collector_disconnects_total, l3af_collector_connected,
//     l3af_collector_queued_bytes
//   per mirror {mirror, interface, direction} (direction ingress | egress):
//     l3af_mirror_seen_packets_total, l3af_mirror_clone_failed_packets_total,
//     l3af_mirror_own_tunnel_packets_total
//   per mirror rule {mirror, rule} (rule: its index in the [[mirror.rule]] list):
//     l3af_mirror_matched_packets_total, l3af_mirror_matched_bytes_total
//   per tunnel {tunnel}:
//     l3af_tunnel_sent_packets_total, l3af_tunnel_sent_bytes_total,
//     l3af_tunnel_truncated_packets_total,
//     l3af_tunnel_dropped_packets_total{reason = too_big | not_ip | foreign | failed}

#include "common/error.h"
#include "daemon/http_endpoint.h"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace prometheus {
class Registry;
class Histogram;
struct MetricFamily;
} // namespace prometheus

namespace l3af::daemon {

// Every count below is a total since its source started (the BPF program
// loaded, the collector connection created): what `l3afd status` shows.

// Packets and bytes of the records exported for one interface and direction.
struct FlowTrafficMetrics {
    std::string interface;
    std::string direction; // "ingress" | "egress"
    uint64_t packets = 0;
    uint64_t bytes = 0;
};

struct FlowExporterMetrics {
    std::string name;
    uint64_t polls = 0;
    uint64_t records_exported = 0;
    uint64_t active_flows = 0;   // in the table at the last poll
    uint64_t table_capacity = 0; // max_flows
    uint64_t overflow_packets = 0;
    uint64_t overflow_bytes = 0;
    uint64_t non_ip_packets = 0;
    uint64_t non_ip_bytes = 0;
    uint64_t truncated_packets = 0;
    uint64_t truncated_bytes = 0;
    // Flows taken out of the table, by why.
    uint64_t expired_idle_timeout = 0;
    uint64_t expired_end_of_flow = 0;
    uint64_t expired_forced_end = 0;
    std::vector<FlowTrafficMetrics> traffic;
};

struct CollectorMetrics {
    std::string name;
    std::string transport; // "udp" | "tcp"
    uint64_t records_sent = 0;
    uint64_t messages_sent = 0;
    uint64_t bytes_sent = 0;
    uint64_t send_errors = 0;
    uint64_t records_dropped = 0;
    uint64_t messages_dropped = 0;
    uint64_t disconnects = 0;
    bool connected = false;
    uint64_t queued_bytes = 0; // TCP: waiting for the socket
};

struct MirrorDirectionMetrics {
    std::string direction; // "ingress" | "egress"
    uint64_t seen_packets = 0;
    uint64_t clone_failed_packets = 0;
    uint64_t own_tunnel_packets = 0; // l3afd's own GUE packets, passed over
};

struct MirrorRuleMetrics {
    uint32_t rule = 0; // index in the mirror's [[mirror.rule]] list
    uint64_t packets = 0;
    uint64_t bytes = 0;
};

struct MirrorMetrics {
    std::string name;
    std::string interface;
    std::vector<MirrorDirectionMetrics> directions;
    std::vector<MirrorRuleMetrics> rules;
};

struct TunnelMetrics {
    std::string name;
    uint64_t sent_packets = 0;
    uint64_t sent_bytes = 0;
    uint64_t truncated_packets = 0;
    uint64_t dropped_too_big = 0;
    uint64_t dropped_not_ip = 0;
    uint64_t dropped_foreign = 0;
    uint64_t dropped_failed = 0;
};

struct ReconcileMetrics {
    uint64_t runs = 0;
    uint64_t failures = 0;
    uint64_t pending_items = 0; // of the last run: waiting for their interface
    uint64_t errors = 0;        // of the last run: actions that failed
    bool last_reload_ok = true; // false while the files on disk are rejected
    // Unix time of the last reload whose config was accepted; 0: none yet.
    double last_successful_reload_seconds = 0;
};

struct MetricsSnapshot {
    ReconcileMetrics reconcile;
    std::vector<FlowExporterMetrics> flow_exporters;
    std::vector<CollectorMetrics> collectors;
    std::vector<MirrorMetrics> mirrors;
    std::vector<TunnelMetrics> tunnels;
};

// The metric families of a snapshot, in the order of the list above; families
// with no series are left out.
std::vector<prometheus::MetricFamily> snapshotFamilies(const MetricsSnapshot& snapshot);

class MetricsRegistry {
  public:
    explicit MetricsRegistry(const std::string& version);
    ~MetricsRegistry();

    MetricsRegistry(const MetricsRegistry&) = delete;
    MetricsRegistry& operator=(const MetricsRegistry&) = delete;

    // Replaces the totals the next scrape shows.
    void update(MetricsSnapshot snapshot);
    // Or: asked for fresh totals at each scrape, so they are never staler
    // than the scrape itself. Takes precedence over update().
    void setSource(std::function<MetricsSnapshot()> source);

    // One reconcile run took this long.
    void observeReconcile(std::chrono::nanoseconds duration);

    // The whole exposition, as a scrape gets it.
    std::string render();

  private:
    std::shared_ptr<prometheus::Registry> registry_;
    prometheus::Histogram* reconcile_duration_; // owned by registry_
    MetricsSnapshot snapshot_;
    std::function<MetricsSnapshot()> source_;
};

inline constexpr const char* kMetricsPath = "/metrics";
inline constexpr const char* kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

// Serves `registry` at GET /metrics on `address` ("127.0.0.1:9469"). The
// registry must outlive the endpoint.
[[nodiscard]] Result<std::unique_ptr<HttpEndpoint>>
serveMetrics(sd_event* event, std::string_view address, MetricsRegistry& registry);

} // namespace l3af::daemon
