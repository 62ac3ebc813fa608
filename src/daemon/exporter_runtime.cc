#include "daemon/exporter_runtime.h"

#include "flow/clock.h"

#include <spdlog/spdlog.h>

#include <ctime>

namespace l3af::daemon {

namespace {

uint64_t nowNs(clockid_t clock) {
    timespec ts{};
    clock_gettime(clock, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

} // namespace

flow::Timeouts timeoutsOf(const config::FlowExporter& config) {
    using std::chrono::nanoseconds;
    return flow::Timeouts{static_cast<uint64_t>(nanoseconds(config.idle_timeout).count()),
                          static_cast<uint64_t>(nanoseconds(config.active_timeout).count())};
}

ExporterRuntime::ExporterRuntime(const config::FlowExporter& config, kernel::FlowMaps maps)
    : config_(config), maps_(std::move(maps)),
      table_(maps_.flows.get(), maps_.baseline.get(), maps_.stats.get()),
      drainer_(timeoutsOf(config)) {}

Result<std::unique_ptr<ExporterRuntime>>
ExporterRuntime::create(const config::FlowExporter& config,
                        const std::filesystem::path& revision_dir,
                        std::vector<CollectorRuntime*> collectors) {
    auto maps = kernel::openFlowMaps(revision_dir);
    if (!maps)
        return std::unexpected(maps.error().wrap("flow_exporter '" + config.name + "'"));
    std::unique_ptr<ExporterRuntime> runtime(new ExporterRuntime(config, std::move(*maps)));
    runtime->collectors_ = std::move(collectors);
    return runtime;
}

void ExporterRuntime::reconfigure(const config::FlowExporter& config,
                                  std::vector<CollectorRuntime*> collectors) {
    config_ = config;
    collectors_ = std::move(collectors);
    drainer_ = flow::FlowDrainer(timeoutsOf(config));
}

void ExporterRuntime::exportWith(
    const std::function<Result<flow::DrainCounters>(const flow::RecordSink&)>& run) {
    const uint64_t nowMs = nowNs(CLOCK_REALTIME) / 1000000;
    for (CollectorRuntime* c : collectors_)
        c->begin(nowMs);
    uint64_t records = 0;
    auto done = run([&](const flow::FlowRecord& record) {
        records++;
        auto& counts = counters_.traffic[{record.key.ifindex, record.key.direction}];
        counts.first += record.packets;
        counts.second += record.octets;
        for (CollectorRuntime* c : collectors_)
            c->add(record);
    });
    counters_.records_exported += records;
    counters_.polls++;
    if (!done) {
        counters_.last_error = done.error().message();
        spdlog::error("flow_exporter '{}': {}", config_.name, counters_.last_error);
    } else {
        counters_.flows_active =
            done->flows_seen - done->idle - done->end_of_flow - done->forced - done->vanished;
    }
    if (auto stats = table_.readStats())
        counters_.stats = *stats;
    for (CollectorRuntime* c : collectors_) {
        c->reportOverflow(config_.name, counters_.stats.overflow.packets,
                          counters_.stats.overflow.octets);
        c->end(nowMs);
    }
}

void ExporterRuntime::poll() {
    const uint64_t now = nowNs(CLOCK_BOOTTIME);
    const flow::ClockMapping clock = flow::ClockMapping::now();
    exportWith(
        [&](const flow::RecordSink& sink) { return drainer_.poll(table_, now, clock, sink); });
}

void ExporterRuntime::drainAll() {
    const flow::ClockMapping clock = flow::ClockMapping::now();
    exportWith(
        [&](const flow::RecordSink& sink) { return drainer_.drainAll(table_, clock, sink); });
    counters_.flows_active = 0;
}

} // namespace l3af::daemon
