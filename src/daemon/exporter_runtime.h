#pragma once

// One flow exporter as the daemon runs it: the pinned maps of its current
// revision, the drain that turns them into records, and the collectors the
// records go to.

#include "common/sd_event.h"
#include "config/model.h"
#include "daemon/collector_runtime.h"
#include "flow/drain.h"
#include "kernel/bpf_flow_table.h"
#include "kernel/flow_function.h"

#include <map>
#include <vector>

namespace l3af::daemon {

struct ExporterCounters {
    uint64_t polls = 0;
    uint64_t records_exported = 0;
    uint64_t flows_active = 0; // flows in the table at the last poll
    flow::StatsSnapshot stats{};
    uint64_t expired_idle = 0;
    uint64_t expired_end_of_flow = 0;
    uint64_t expired_forced = 0;
    // Exported packets and octets by (ifindex, direction).
    std::map<std::pair<uint32_t, uint8_t>, std::pair<uint64_t, uint64_t>> traffic;
    std::string last_error;
};

class ExporterRuntime {
  public:
    // Opens the maps of `revision` (already loaded by the reconcile).
    static Result<std::unique_ptr<ExporterRuntime>>
    create(const config::FlowExporter& config, const std::filesystem::path& revision_dir,
           std::vector<CollectorRuntime*> collectors);

    const config::FlowExporter& config() const { return config_; }
    const ExporterCounters& counters() const { return counters_; }

    // Reads the table, expires what is due and exports it.
    void poll();
    // Exports everything the table holds with reason forced end (shutdown,
    // the exporter removed or its table replaced).
    void drainAll();
    // New settings that need no reload of the program (timeouts, collectors).
    void reconfigure(const config::FlowExporter& config, std::vector<CollectorRuntime*> collectors);

    void setTimer(EventSourcePtr timer) { timer_ = std::move(timer); }

  private:
    ExporterRuntime(const config::FlowExporter& config, kernel::FlowMaps maps);
    void exportWith(const std::function<Result<flow::DrainCounters>(const flow::RecordSink&)>& run);

    config::FlowExporter config_;
    kernel::FlowMaps maps_;
    kernel::BpfFlowTable table_;
    flow::FlowDrainer drainer_;
    std::vector<CollectorRuntime*> collectors_;
    ExporterCounters counters_;
    EventSourcePtr timer_;
};

flow::Timeouts timeoutsOf(const config::FlowExporter& config);

} // namespace l3af::daemon
