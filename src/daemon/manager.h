#pragma once

// The daemon: one sd-event loop that owns the config, the reconcile core, the
// flow exporters and collectors, and answers signals (SIGHUP reloads,
// SIGTERM/SIGINT export what the tables hold and exit; attachments stay).

#include "common/sd_event.h"
#include "config/model.h"
#include "daemon/bus.h"
#include "daemon/collector_runtime.h"
#include "daemon/exporter_runtime.h"
#include "daemon/http_endpoint.h"
#include "daemon/metrics.h"
#include "kernel/bpf_kernel.h"
#include "kernel/link_events.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace l3af::daemon {

// Where a daemon serving `config_dir` keeps its pid and status file.
std::filesystem::path runtimeDirFor(const std::filesystem::path& config_dir);
// Its D-Bus name: org.l3af.l3afd for /etc/l3af, an instance name otherwise.
std::string busNameFor(const std::filesystem::path& config_dir);

class Manager {
  public:
    static Result<std::unique_ptr<Manager>> create(std::filesystem::path config_dir);
    ~Manager();

    // Runs until SIGTERM/SIGINT; returns the process exit code.
    int run();

  private:
    explicit Manager(std::filesystem::path config_dir);

    // Reads the files; a bad config leaves everything as it was (EINVAL with
    // the diagnostics); EIO when applying failed somewhere.
    Status reload();
    void startMetrics(const std::string& address);
    MetricsSnapshot metricsSnapshot() const;
    // Makes the kernel and the runtimes match `config`.
    // Returns how many of the plan's actions it carried out.
    size_t apply(const config::Config& config);
    // The running configuration again, after an interface came or went or
    // while something waits: status, systemd and the bus hear of it when it
    // changed anything.
    void reapply();
    std::string summary() const;
    // After an apply: STATUS= (behind `notify_prefix`) and the bus's
    // Reconciled say what runs, or that something failed.
    void announceApplied(const std::string& notify_prefix);
    void rebuildCollectors(const config::Config& config);
    void rebuildExporters(const config::Config& config, const plan::Observed& observed);
    void startPollTimer(ExporterRuntime& exporter);
    void shutdown();
    void writeStatus();
    void notifySystemd(const std::string& state);
    nlohmann::json statusJson() const;

    static int onSignal(sd_event_source* s, const struct signalfd_siginfo* si, void* userdata);
    static int onPollTimer(sd_event_source* s, uint64_t usec, void* userdata);
    static int onHousekeeping(sd_event_source* s, uint64_t usec, void* userdata);
    static int onLinkEvent(sd_event_source* s, int fd, uint32_t revents, void* userdata);
    static int onLinksSettled(sd_event_source* s, uint64_t usec, void* userdata);

    std::filesystem::path config_dir_;
    std::filesystem::path runtime_dir_;
    EventPtr event_;
    std::vector<EventSourcePtr> signals_;
    EventSourcePtr housekeeping_;
    // rtnetlink link events, and the short wait that lets a burst of them
    // (a veth pair, an interface renamed and brought up) settle into one
    // reconcile.
    std::optional<kernel::LinkEvents> link_events_;
    EventSourcePtr link_watch_;
    EventSourcePtr links_settled_;

    std::optional<config::Config> config_; // the last good config
    std::unique_ptr<kernel::BpfKernel> kernel_;
    std::map<std::string, std::unique_ptr<CollectorRuntime>> collectors_;
    std::map<std::string, std::unique_ptr<ExporterRuntime>> exporters_;
    std::map<std::string, std::string> exporter_revisions_; // name -> revision its runtime reads

    bool reloaded_once_ = false;
    std::string last_error_;
    std::string last_reload_; // ISO 8601 time of the last good reload
    double last_reload_seconds_ = 0;
    std::unique_ptr<MetricsRegistry> metrics_;
    std::unique_ptr<HttpEndpoint> metrics_endpoint_;
    std::string metrics_address_;
    std::unique_ptr<BusService> bus_;
    uint64_t reconcile_runs_ = 0;
    uint64_t reconcile_failures_ = 0;
    std::vector<std::string> pending_;
    std::vector<std::string> apply_errors_;
};

} // namespace l3af::daemon
