// The exposition a scrape gets: a snapshot in, the same numbers out under
// their Prometheus names, in a text promtool accepts.

#include "daemon/metrics.h"
#include "exposition.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace l3af::daemon {
namespace {

using testing::parseSamples;

// Every field a distinct value, so a field wired to the wrong series shows.
MetricsSnapshot fullSnapshot() {
    MetricsSnapshot s;
    s.reconcile = {.runs = 7,
                   .failures = 2,
                   .pending_items = 1,
                   .errors = 3,
                   .last_reload_ok = true,
                   .last_successful_reload_seconds = 1700000000.5};
    FlowExporterMetrics edge;
    edge.name = "edge";
    edge.polls = 101;
    edge.records_exported = 102;
    edge.active_flows = 16384;
    edge.table_capacity = 65536;
    edge.overflow_packets = 104;
    edge.overflow_bytes = 105;
    edge.non_ip_packets = 106;
    edge.non_ip_bytes = 107;
    edge.truncated_packets = 108;
    edge.truncated_bytes = 109;
    edge.expired_idle_timeout = 110;
    edge.expired_end_of_flow = 111;
    edge.expired_forced_end = 112;
    edge.traffic = {{"eth0", "ingress", 113, 114}, {"eth0", "egress", 115, 116}};
    s.flow_exporters.push_back(edge);
    s.collectors.push_back(CollectorMetrics{.name = "soc",
                                            .transport = "tcp",
                                            .records_sent = 201,
                                            .messages_sent = 202,
                                            .bytes_sent = 203,
                                            .send_errors = 204,
                                            .records_dropped = 205,
                                            .messages_dropped = 206,
                                            .disconnects = 207,
                                            .connected = true,
                                            .queued_bytes = 208});
    s.mirrors.push_back(
        MirrorMetrics{.name = "checkout",
                      .interface = "eth0",
                      .directions = {{"ingress", 301, 302, 309}, {"egress", 303, 304, 310}},
                      .rules = {{0, 305, 306}, {1, 307, 308}}});
    s.tunnels.push_back(TunnelMetrics{.name = "analytics",
                                      .sent_packets = 401,
                                      .sent_bytes = 402,
                                      .truncated_packets = 403,
                                      .dropped_too_big = 404,
                                      .dropped_not_ip = 405,
                                      .dropped_foreign = 406,
                                      .dropped_failed = 407});
    return s;
}

// The series fullSnapshot() must produce, and nothing else.
const std::map<std::string, double> kFullSeries = {
    {"l3af_build_info{version=\"1.2.3\"}", 1},
    {"l3af_reconcile_runs_total", 7},
    {"l3af_reconcile_failures_total", 2},
    {"l3af_reconcile_pending_items", 1},
    {"l3af_reconcile_errors", 3},
    {"l3af_last_reload_successful", 1},
    {"l3af_last_successful_reload_timestamp_seconds", 1700000000.5},
    {"l3af_flow_polls_total{exporter=\"edge\"}", 101},
    {"l3af_flow_exported_records_total{exporter=\"edge\"}", 102},
    {"l3af_flow_active_flows{exporter=\"edge\"}", 16384},
    {"l3af_flow_table_capacity{exporter=\"edge\"}", 65536},
    {"l3af_flow_table_fill_ratio{exporter=\"edge\"}", 0.25},
    {"l3af_flow_overflow_packets_total{exporter=\"edge\"}", 104},
    {"l3af_flow_overflow_bytes_total{exporter=\"edge\"}", 105},
    {"l3af_flow_non_ip_packets_total{exporter=\"edge\"}", 106},
    {"l3af_flow_non_ip_bytes_total{exporter=\"edge\"}", 107},
    {"l3af_flow_truncated_packets_total{exporter=\"edge\"}", 108},
    {"l3af_flow_truncated_bytes_total{exporter=\"edge\"}", 109},
    {"l3af_flow_expired_flows_total{exporter=\"edge\",reason=\"idle_timeout\"}", 110},
    {"l3af_flow_expired_flows_total{exporter=\"edge\",reason=\"end_of_flow\"}", 111},
    {"l3af_flow_expired_flows_total{exporter=\"edge\",reason=\"forced_end\"}", 112},
    {"l3af_flow_exported_packets_total{direction=\"ingress\",exporter=\"edge\",interface=\"eth0\"}",
     113},
    {"l3af_flow_exported_bytes_total{direction=\"ingress\",exporter=\"edge\",interface=\"eth0\"}",
     114},
    {"l3af_flow_exported_packets_total{direction=\"egress\",exporter=\"edge\",interface=\"eth0\"}",
     115},
    {"l3af_flow_exported_bytes_total{direction=\"egress\",exporter=\"edge\",interface=\"eth0\"}",
     116},
    {"l3af_collector_sent_records_total{collector=\"soc\",transport=\"tcp\"}", 201},
    {"l3af_collector_sent_messages_total{collector=\"soc\",transport=\"tcp\"}", 202},
    {"l3af_collector_sent_bytes_total{collector=\"soc\",transport=\"tcp\"}", 203},
    {"l3af_collector_send_errors_total{collector=\"soc\",transport=\"tcp\"}", 204},
    {"l3af_collector_dropped_records_total{collector=\"soc\",transport=\"tcp\"}", 205},
    {"l3af_collector_dropped_messages_total{collector=\"soc\",transport=\"tcp\"}", 206},
    {"l3af_collector_disconnects_total{collector=\"soc\",transport=\"tcp\"}", 207},
    {"l3af_collector_connected{collector=\"soc\",transport=\"tcp\"}", 1},
    {"l3af_collector_queued_bytes{collector=\"soc\",transport=\"tcp\"}", 208},
    {"l3af_mirror_seen_packets_total{direction=\"ingress\",interface=\"eth0\",mirror=\"checkout\"}",
     301},
    {"l3af_mirror_clone_failed_packets_total{direction=\"ingress\",interface=\"eth0\",mirror="
     "\"checkout\"}",
     302},
    {"l3af_mirror_own_tunnel_packets_total{direction=\"ingress\",interface=\"eth0\",mirror="
     "\"checkout\"}",
     309},
    {"l3af_mirror_seen_packets_total{direction=\"egress\",interface=\"eth0\",mirror=\"checkout\"}",
     303},
    {"l3af_mirror_clone_failed_packets_total{direction=\"egress\",interface=\"eth0\",mirror="
     "\"checkout\"}",
     304},
    {"l3af_mirror_own_tunnel_packets_total{direction=\"egress\",interface=\"eth0\",mirror="
     "\"checkout\"}",
     310},
    {"l3af_mirror_matched_packets_total{mirror=\"checkout\",rule=\"0\"}", 305},
    {"l3af_mirror_matched_bytes_total{mirror=\"checkout\",rule=\"0\"}", 306},
    {"l3af_mirror_matched_packets_total{mirror=\"checkout\",rule=\"1\"}", 307},
    {"l3af_mirror_matched_bytes_total{mirror=\"checkout\",rule=\"1\"}", 308},
    {"l3af_tunnel_sent_packets_total{tunnel=\"analytics\"}", 401},
    {"l3af_tunnel_sent_bytes_total{tunnel=\"analytics\"}", 402},
    {"l3af_tunnel_truncated_packets_total{tunnel=\"analytics\"}", 403},
    {"l3af_tunnel_dropped_packets_total{reason=\"too_big\",tunnel=\"analytics\"}", 404},
    {"l3af_tunnel_dropped_packets_total{reason=\"not_ip\",tunnel=\"analytics\"}", 405},
    {"l3af_tunnel_dropped_packets_total{reason=\"foreign\",tunnel=\"analytics\"}", 406},
    {"l3af_tunnel_dropped_packets_total{reason=\"failed\",tunnel=\"analytics\"}", 407},
};

// The histogram's series, which depend on what was observed, not the snapshot.
std::map<std::string, double> withoutHistogram(std::map<std::string, double> samples) {
    std::erase_if(samples, [](const auto& entry) {
        return entry.first.starts_with("l3af_reconcile_duration_seconds");
    });
    return samples;
}

TEST(MetricsExposition, ShowsEverySnapshotTotalUnderItsName) {
    MetricsRegistry registry("1.2.3");
    registry.update(fullSnapshot());
    EXPECT_EQ(withoutHistogram(parseSamples(registry.render())), kFullSeries);
}

TEST(MetricsExposition, PassesPromtoolCheck) {
    const auto promtool = testing::findPromtool();
    if (!promtool)
        GTEST_SKIP() << "promtool not installed (Debian package 'prometheus')";
    MetricsRegistry registry("1.2.3");
    registry.update(fullSnapshot());
    registry.observeReconcile(std::chrono::milliseconds(40));
    const auto full = testing::promtoolCheck(*promtool, registry.render());
    EXPECT_EQ(full.exit_code, 0) << full.output;
    EXPECT_EQ(full.output, "");

    MetricsRegistry empty("1.2.3");
    const auto minimal = testing::promtoolCheck(*promtool, empty.render());
    EXPECT_EQ(minimal.exit_code, 0) << minimal.output;
    EXPECT_EQ(minimal.output, "");
}

TEST(MetricsExposition, CountersDeclareTheirType) {
    MetricsRegistry registry("1.2.3");
    registry.update(fullSnapshot());
    const std::string text = registry.render();
    EXPECT_NE(text.find("# TYPE l3af_flow_exported_records_total counter\n"), std::string::npos);
    EXPECT_NE(text.find("# TYPE l3af_flow_active_flows gauge\n"), std::string::npos);
    EXPECT_NE(text.find("# TYPE l3af_reconcile_duration_seconds histogram\n"), std::string::npos);
}

// A source that starts over (new BPF map, rebuilt connection) is a counter
// reset: the exposition shows the new total as it is, and rate() copes.
TEST(MetricsExposition, TotalThatWentDownIsShownAsIs) {
    MetricsRegistry registry("1.2.3");
    MetricsSnapshot s = fullSnapshot();
    registry.update(s);
    s.flow_exporters[0].records_exported = 5;
    registry.update(s);
    EXPECT_EQ(
        parseSamples(registry.render())["l3af_flow_exported_records_total{exporter=\"edge\"}"], 5);
}

TEST(MetricsExposition, ObjectsGoneFromTheSnapshotLoseTheirSeries) {
    MetricsRegistry registry("1.2.3");
    registry.update(fullSnapshot());
    registry.update(MetricsSnapshot{});
    const std::string text = registry.render();
    EXPECT_EQ(text.find("l3af_flow_"), std::string::npos);
    EXPECT_EQ(text.find("l3af_collector_"), std::string::npos);
    EXPECT_EQ(text.find("l3af_mirror_"), std::string::npos);
    EXPECT_EQ(text.find("l3af_tunnel_"), std::string::npos);
    EXPECT_EQ(parseSamples(text)["l3af_reconcile_runs_total"], 0);
}

TEST(MetricsExposition, NoReloadYetMeansNoReloadTimestamp) {
    MetricsRegistry registry("1.2.3");
    const auto samples = parseSamples(registry.render());
    EXPECT_FALSE(samples.contains("l3af_last_successful_reload_timestamp_seconds"));
    EXPECT_EQ(samples.at("l3af_build_info{version=\"1.2.3\"}"), 1);
}

TEST(MetricsExposition, RejectedReloadShowsAsZero) {
    MetricsRegistry registry("1.2.3");
    MetricsSnapshot s;
    s.reconcile.last_reload_ok = false;
    registry.update(s);
    EXPECT_EQ(parseSamples(registry.render())["l3af_last_reload_successful"], 0);
}

TEST(MetricsExposition, EmptyTableHasFillRatioZero) {
    MetricsRegistry registry("1.2.3");
    MetricsSnapshot s;
    s.flow_exporters.push_back(FlowExporterMetrics{.name = "edge"});
    registry.update(s);
    EXPECT_EQ(parseSamples(registry.render())["l3af_flow_table_fill_ratio{exporter=\"edge\"}"], 0);
}

TEST(MetricsExposition, SourceIsAskedAtEachScrape) {
    MetricsRegistry registry("1.2.3");
    uint64_t runs = 0;
    registry.setSource([&runs] {
        MetricsSnapshot s;
        s.reconcile.runs = ++runs;
        return s;
    });
    EXPECT_EQ(parseSamples(registry.render())["l3af_reconcile_runs_total"], 1);
    EXPECT_EQ(parseSamples(registry.render())["l3af_reconcile_runs_total"], 2);
}

TEST(MetricsExposition, ReconcileDurationsLandInTheHistogram) {
    MetricsRegistry registry("1.2.3");
    registry.observeReconcile(std::chrono::milliseconds(3));
    registry.observeReconcile(std::chrono::seconds(2));
    auto samples = parseSamples(registry.render());
    EXPECT_EQ(samples["l3af_reconcile_duration_seconds_count"], 2);
    EXPECT_DOUBLE_EQ(samples["l3af_reconcile_duration_seconds_sum"], 2.003);
    EXPECT_EQ(samples["l3af_reconcile_duration_seconds_bucket{le=\"0.001\"}"], 0);
    EXPECT_EQ(samples["l3af_reconcile_duration_seconds_bucket{le=\"0.005\"}"], 1);
    EXPECT_EQ(samples["l3af_reconcile_duration_seconds_bucket{le=\"2.5\"}"], 2);
    EXPECT_EQ(samples["l3af_reconcile_duration_seconds_bucket{le=\"+Inf\"}"], 2);
}

TEST(MetricsExposition, LabelValuesAreEscaped) {
    MetricsRegistry registry("1.2.3");
    MetricsSnapshot s;
    s.flow_exporters.push_back(FlowExporterMetrics{.name = "a\"b\\c\nd"});
    registry.update(s);
    EXPECT_NE(registry.render().find("l3af_flow_polls_total{exporter=\"a\\\"b\\\\c\\nd\"} 0\n"),
              std::string::npos);
}

} // namespace
} // namespace l3af::daemon
