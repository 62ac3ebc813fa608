#include "daemon/metrics.h"

#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <deque>

namespace l3af::daemon {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using Labels = std::vector<ClientMetric::Label>;

// Reconciles take milliseconds when nothing changed and seconds when
// programs are verified and loaded.
const prometheus::Histogram::BucketBoundaries kReconcileBuckets = {
    0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};

class Families {
  public:
    MetricFamily& counter(const char* name, const char* help) {
        return add(name, help, MetricType::Counter);
    }
    MetricFamily& gauge(const char* name, const char* help) {
        return add(name, help, MetricType::Gauge);
    }

    // The families that have at least one series.
    std::vector<MetricFamily> take() && {
        std::vector<MetricFamily> out;
        for (MetricFamily& family : families_) {
            if (!family.metric.empty())
                out.push_back(std::move(family));
        }
        return out;
    }

  private:
    MetricFamily& add(const char* name, const char* help, MetricType type) {
        families_.push_back(MetricFamily{name, help, type, {}});
        return families_.back();
    }

    // A deque: the references handed out stay valid as families are added.
    std::deque<MetricFamily> families_;
};

void sample(MetricFamily& family, Labels labels, double value) {
    ClientMetric metric;
    metric.label = std::move(labels);
    if (family.type == MetricType::Counter)
        metric.counter.value = value;
    else
        metric.gauge.value = value;
    family.metric.push_back(std::move(metric));
}

double ratio(uint64_t part, uint64_t whole) {
    return whole == 0 ? 0.0 : static_cast<double>(part) / static_cast<double>(whole);
}

void addReconcile(Families& out, const ReconcileMetrics& r) {
    sample(out.counter("l3af_reconcile_runs_total",
                       "Reconcile runs: reloads and retries of pending items."),
           {}, static_cast<double>(r.runs));
    sample(out.counter("l3af_reconcile_failures_total",
                       "Reconcile runs in which at least one action failed."),
           {}, static_cast<double>(r.failures));
    sample(out.gauge("l3af_reconcile_pending_items",
                     "Items of the last reconcile waiting for their interface to appear."),
           {}, static_cast<double>(r.pending_items));
    sample(out.gauge("l3af_reconcile_errors", "Actions that failed in the last reconcile."), {},
           static_cast<double>(r.errors));
    sample(out.gauge("l3af_last_reload_successful",
                     "1 if the files on disk were accepted at the last reload, 0 if rejected."),
           {}, r.last_reload_ok ? 1.0 : 0.0);
    if (r.last_successful_reload_seconds > 0)
        sample(out.gauge("l3af_last_successful_reload_timestamp_seconds",
                         "Unix time of the last reload whose configuration was accepted."),
               {}, r.last_successful_reload_seconds);
}

struct ExporterField {
    const char* name;
    const char* help;
    MetricType type;
    uint64_t FlowExporterMetrics::*field;
};

const ExporterField kExporterFields[] = {
    {"l3af_flow_polls_total", "Reads of the flow table.", MetricType::Counter,
     &FlowExporterMetrics::polls},
    {"l3af_flow_exported_records_total", "Flow records exported to the collectors.",
     MetricType::Counter, &FlowExporterMetrics::records_exported},
    {"l3af_flow_active_flows", "Flows in the table at the last poll.", MetricType::Gauge,
     &FlowExporterMetrics::active_flows},
    {"l3af_flow_table_capacity", "Flows the table can hold (max_flows).", MetricType::Gauge,
     &FlowExporterMetrics::table_capacity},
    {"l3af_flow_overflow_packets_total",
     "Packets not accounted in a flow because the table was full.", MetricType::Counter,
     &FlowExporterMetrics::overflow_packets},
    {"l3af_flow_overflow_bytes_total",
     "Bytes of packets not accounted in a flow because the table was full.", MetricType::Counter,
     &FlowExporterMetrics::overflow_bytes},
    {"l3af_flow_non_ip_packets_total", "Packets that were neither IPv4 nor IPv6.",
     MetricType::Counter, &FlowExporterMetrics::non_ip_packets},
    {"l3af_flow_non_ip_bytes_total", "Bytes of packets that were neither IPv4 nor IPv6.",
     MetricType::Counter, &FlowExporterMetrics::non_ip_bytes},
    {"l3af_flow_truncated_packets_total", "Packets whose headers were cut short or malformed.",
     MetricType::Counter, &FlowExporterMetrics::truncated_packets},
    {"l3af_flow_truncated_bytes_total",
     "Bytes of packets whose headers were cut short or malformed.", MetricType::Counter,
     &FlowExporterMetrics::truncated_bytes},
};

void addFlowExporters(Families& out, const std::vector<FlowExporterMetrics>& exporters) {
    for (const ExporterField& f : kExporterFields) {
        MetricFamily& family =
            f.type == MetricType::Counter ? out.counter(f.name, f.help) : out.gauge(f.name, f.help);
        for (const FlowExporterMetrics& e : exporters)
            sample(family, {{"exporter", e.name}}, static_cast<double>(e.*(f.field)));
    }
    MetricFamily& fill =
        out.gauge("l3af_flow_table_fill_ratio", "Active flows over table capacity, 0 to 1.");
    MetricFamily& expired =
        out.counter("l3af_flow_expired_flows_total", "Flows taken out of the table, by reason.");
    MetricFamily& packets =
        out.counter("l3af_flow_exported_packets_total",
                    "Packets counted in the exported flow records, by interface and direction.");
    MetricFamily& bytes =
        out.counter("l3af_flow_exported_bytes_total",
                    "Bytes counted in the exported flow records, by interface and direction.");
    for (const FlowExporterMetrics& e : exporters) {
        sample(fill, {{"exporter", e.name}}, ratio(e.active_flows, e.table_capacity));
        for (const auto& [reason, value] : {std::pair{"idle_timeout", e.expired_idle_timeout},
                                            std::pair{"end_of_flow", e.expired_end_of_flow},
                                            std::pair{"forced_end", e.expired_forced_end}})
            sample(expired, {{"exporter", e.name}, {"reason", reason}}, static_cast<double>(value));
        for (const FlowTrafficMetrics& t : e.traffic) {
            Labels labels{
                {"direction", t.direction}, {"exporter", e.name}, {"interface", t.interface}};
            sample(packets, labels, static_cast<double>(t.packets));
            sample(bytes, std::move(labels), static_cast<double>(t.bytes));
        }
    }
}

struct CollectorField {
    const char* name;
    const char* help;
    MetricType type;
    uint64_t CollectorMetrics::*field;
};

const CollectorField kCollectorFields[] = {
    {"l3af_collector_sent_records_total", "Flow records in messages handed to the kernel.",
     MetricType::Counter, &CollectorMetrics::records_sent},
    {"l3af_collector_sent_messages_total", "IPFIX messages handed to the kernel.",
     MetricType::Counter, &CollectorMetrics::messages_sent},
    {"l3af_collector_sent_bytes_total", "Bytes of the IPFIX messages handed to the kernel.",
     MetricType::Counter, &CollectorMetrics::bytes_sent},
    {"l3af_collector_send_errors_total", "Sends that failed (EAGAIN excluded).",
     MetricType::Counter, &CollectorMetrics::send_errors},
    {"l3af_collector_dropped_records_total",
     "Flow records that never reached the collector: queue full, not connected, "
     "or lost with a broken connection.",
     MetricType::Counter, &CollectorMetrics::records_dropped},
    {"l3af_collector_dropped_messages_total", "IPFIX messages that never reached the collector.",
     MetricType::Counter, &CollectorMetrics::messages_dropped},
    {"l3af_collector_disconnects_total", "TCP connections lost after being established.",
     MetricType::Counter, &CollectorMetrics::disconnects},
    {"l3af_collector_queued_bytes", "TCP: bytes waiting for the socket to take them.",
     MetricType::Gauge, &CollectorMetrics::queued_bytes},
};

void addCollectors(Families& out, const std::vector<CollectorMetrics>& collectors) {
    for (const CollectorField& f : kCollectorFields) {
        MetricFamily& family =
            f.type == MetricType::Counter ? out.counter(f.name, f.help) : out.gauge(f.name, f.help);
        for (const CollectorMetrics& c : collectors)
            sample(family, {{"collector", c.name}, {"transport", c.transport}},
                   static_cast<double>(c.*(f.field)));
    }
    MetricFamily& connected =
        out.gauge("l3af_collector_connected",
                  "1 if the transport is up (UDP: socket open; TCP: established).");
    for (const CollectorMetrics& c : collectors)
        sample(connected, {{"collector", c.name}, {"transport", c.transport}},
               c.connected ? 1.0 : 0.0);
}

void addMirrors(Families& out, const std::vector<MirrorMetrics>& mirrors) {
    MetricFamily& seen =
        out.counter("l3af_mirror_seen_packets_total", "Packets the mirror program ran on.");
    MetricFamily& clone_failed =
        out.counter("l3af_mirror_clone_failed_packets_total",
                    "Matched packets that could not be cloned to the tunnel.");
    MetricFamily& own_tunnel =
        out.counter("l3af_mirror_own_tunnel_packets_total",
                    "GUE packets of l3afd's own tunnels, never mirrored (no mirror loops).");
    MetricFamily& matched_packets = out.counter(
        "l3af_mirror_matched_packets_total",
        "Packets mirrored under a rule (a packet counts under the first rule it matches).");
    MetricFamily& matched_bytes =
        out.counter("l3af_mirror_matched_bytes_total", "Frame bytes mirrored under a rule.");
    for (const MirrorMetrics& m : mirrors) {
        for (const MirrorDirectionMetrics& d : m.directions) {
            Labels labels{
                {"direction", d.direction}, {"interface", m.interface}, {"mirror", m.name}};
            sample(seen, labels, static_cast<double>(d.seen_packets));
            sample(own_tunnel, labels, static_cast<double>(d.own_tunnel_packets));
            sample(clone_failed, std::move(labels), static_cast<double>(d.clone_failed_packets));
        }
        for (const MirrorRuleMetrics& r : m.rules) {
            Labels labels{{"mirror", m.name}, {"rule", std::to_string(r.rule)}};
            sample(matched_packets, labels, static_cast<double>(r.packets));
            sample(matched_bytes, std::move(labels), static_cast<double>(r.bytes));
        }
    }
}

void addTunnels(Families& out, const std::vector<TunnelMetrics>& tunnels) {
    MetricFamily& sent_packets = out.counter(
        "l3af_tunnel_sent_packets_total", "Packets encapsulated and sent to the tunnel's remote.");
    MetricFamily& sent_bytes =
        out.counter("l3af_tunnel_sent_bytes_total", "Outer IP bytes of the packets sent.");
    MetricFamily& truncated = out.counter("l3af_tunnel_truncated_packets_total",
                                          "Packets sent cut to the mirror's snaplen.");
    MetricFamily& dropped =
        out.counter("l3af_tunnel_dropped_packets_total", "Packets not sent, by reason.");
    for (const TunnelMetrics& t : tunnels) {
        sample(sent_packets, {{"tunnel", t.name}}, static_cast<double>(t.sent_packets));
        sample(sent_bytes, {{"tunnel", t.name}}, static_cast<double>(t.sent_bytes));
        sample(truncated, {{"tunnel", t.name}}, static_cast<double>(t.truncated_packets));
        for (const auto& [reason, value] :
             {std::pair{"too_big", t.dropped_too_big}, std::pair{"not_ip", t.dropped_not_ip},
              std::pair{"foreign", t.dropped_foreign}, std::pair{"failed", t.dropped_failed}})
            sample(dropped, {{"reason", reason}, {"tunnel", t.name}}, static_cast<double>(value));
    }
}

} // namespace

std::vector<MetricFamily> snapshotFamilies(const MetricsSnapshot& snapshot) {
    Families out;
    addReconcile(out, snapshot.reconcile);
    addFlowExporters(out, snapshot.flow_exporters);
    addCollectors(out, snapshot.collectors);
    addMirrors(out, snapshot.mirrors);
    addTunnels(out, snapshot.tunnels);
    return std::move(out).take();
}

MetricsRegistry::MetricsRegistry(const std::string& version)
    : registry_(std::make_shared<prometheus::Registry>()) {
    prometheus::BuildGauge()
        .Name("l3af_build_info")
        .Help("Always 1; the labels say which l3afd is running.")
        .Register(*registry_)
        .Add({{"version", version}})
        .Set(1);
    reconcile_duration_ = &prometheus::BuildHistogram()
                               .Name("l3af_reconcile_duration_seconds")
                               .Help("Time a reconcile run took.")
                               .Register(*registry_)
                               .Add({}, kReconcileBuckets);
}

MetricsRegistry::~MetricsRegistry() = default;

void MetricsRegistry::update(MetricsSnapshot snapshot) {
    snapshot_ = std::move(snapshot);
}

void MetricsRegistry::setSource(std::function<MetricsSnapshot()> source) {
    source_ = std::move(source);
}

void MetricsRegistry::observeReconcile(std::chrono::nanoseconds duration) {
    reconcile_duration_->Observe(std::chrono::duration<double>(duration).count());
}

std::string MetricsRegistry::render() {
    if (source_)
        snapshot_ = source_();
    std::vector<MetricFamily> families = registry_->Collect();
    std::vector<MetricFamily> totals = snapshotFamilies(snapshot_);
    families.insert(families.end(), std::make_move_iterator(totals.begin()),
                    std::make_move_iterator(totals.end()));
    return prometheus::TextSerializer().Serialize(families);
}

Result<std::unique_ptr<HttpEndpoint>> serveMetrics(sd_event* event, std::string_view address,
                                                   MetricsRegistry& registry) {
    std::map<std::string, HttpHandler> routes;
    routes[kMetricsPath] = [&registry] {
        return HttpResponse{200, kMetricsContentType, registry.render()};
    };
    auto endpoint = HttpEndpoint::listen(event, address, std::move(routes));
    if (!endpoint)
        return std::unexpected(endpoint.error().wrap("metrics"));
    return endpoint;
}

} // namespace l3af::daemon
