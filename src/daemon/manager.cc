#include "daemon/manager.h"

#include "config/loader.h"
#include "daemon/desired.h"
#include "daemon/reconcile.h"
#include "daemon/status_doc.h"
#include "kernel/flow_function.h"
#include "kernel/hash.h"
#include "kernel/mirror_function.h"
#include "plan/executor.h"

#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <net/if.h>

#include <chrono>
#include <csignal>
#include <ctime>
#include <fstream>

namespace l3af::daemon {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr uint64_t kHousekeepingUsec = 1000000; // status file, pending interfaces
constexpr uint64_t kLinkSettleUsec = 50000;     // from a link event to the reconcile

std::string isoNow() {
    char buf[64];
    const time_t now = time(nullptr);
    struct tm tm {};
    gmtime_r(&now, &tm);
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

bool sameCollector(const config::Collector& a, const config::Collector& b) {
    return a.address == b.address && a.port == b.port && a.transport == b.transport &&
           a.observation_domain == b.observation_domain &&
           a.template_refresh == b.template_refresh && a.mtu == b.mtu &&
           a.reconnect_interval == b.reconnect_interval;
}

json statJson(const flow_stat_value& v) {
    return {{"packets", v.packets}, {"octets", v.octets}};
}

} // namespace

fs::path runtimeDirFor(const fs::path& config_dir) {
    std::error_code ec;
    fs::path canonical = fs::weakly_canonical(config_dir, ec);
    if (ec)
        canonical = config_dir;
    if (canonical == "/etc/l3af")
        return "/run/l3af";
    return fs::path("/run/l3af") /
           ("instance-" + kernel::ContentHash().add(canonical.string()).hex());
}

std::string busNameFor(const fs::path& config_dir) {
    const fs::path runtime = runtimeDirFor(config_dir);
    if (runtime == "/run/l3af")
        return kBusName;
    return std::string(kBusName) + "." + runtime.filename().string().substr(0, 17);
}

Manager::Manager(fs::path config_dir)
    : config_dir_(std::move(config_dir)), runtime_dir_(runtimeDirFor(config_dir_)) {}

Manager::~Manager() {
    // Runtimes hold event sources: release them before the loop.
    bus_.reset();
    metrics_endpoint_.reset();
    exporters_.clear();
    collectors_.clear();
    housekeeping_.reset();
    signals_.clear();
}

Result<std::unique_ptr<Manager>> Manager::create(fs::path config_dir) {
    std::unique_ptr<Manager> manager(new Manager(std::move(config_dir)));
    sd_event* event = nullptr;
    if (int r = sd_event_new(&event); r < 0)
        return fail(-r, "create event loop");
    manager->event_.reset(event);
    for (int sig : {SIGTERM, SIGINT, SIGHUP}) {
        sd_event_source* source = nullptr;
        if (int r = sd_event_add_signal(event, &source, sig | SD_EVENT_SIGNAL_PROCMASK,
                                        &Manager::onSignal, manager.get());
            r < 0)
            return fail(-r, "watch signal " + std::to_string(sig));
        manager->signals_.emplace_back(source);
    }
    // Under systemd: WATCHDOG=1 from the loop at half the WatchdogSec period.
    (void)sd_event_set_watchdog(event, 1);
    sd_event_source* timer = nullptr;
    if (int r = sd_event_add_time_relative(event, &timer, CLOCK_MONOTONIC, kHousekeepingUsec, 0,
                                           &Manager::onHousekeeping, manager.get());
        r < 0)
        return fail(-r, "add housekeeping timer");
    manager->housekeeping_.reset(timer);
    sd_event_source_set_enabled(timer, SD_EVENT_ON);

    // Interfaces appearing or recreated attach at once; without the socket
    // the housekeeping timer still retries what is pending every second.
    if (auto events = kernel::LinkEvents::open()) {
        sd_event_source* io = nullptr;
        if (int r = sd_event_add_io(event, &io, events->fd(), EPOLLIN, &Manager::onLinkEvent,
                                    manager.get());
            r < 0)
            return fail(-r, "watch link events");
        manager->link_watch_.reset(io);
        manager->link_events_.emplace(std::move(*events));
        sd_event_source* settle = nullptr;
        if (int r = sd_event_add_time_relative(event, &settle, CLOCK_MONOTONIC, kLinkSettleUsec,
                                               kTimerAccuracyUsec, &Manager::onLinksSettled,
                                               manager.get());
            r < 0)
            return fail(-r, "add link settle timer");
        manager->links_settled_.reset(settle);
        sd_event_source_set_enabled(settle, SD_EVENT_OFF);
    } else {
        spdlog::warn("link events: {}; new interfaces are found within a second",
                     events.error().message());
    }

    std::error_code ec;
    fs::create_directories(manager->runtime_dir_, ec);
    if (ec)
        return fail(ec.value(), "create " + manager->runtime_dir_.string());
    std::ofstream(manager->runtime_dir_ / "pid") << getpid() << "\n";

    Manager* self = manager.get();
    manager->metrics_ = std::make_unique<MetricsRegistry>(L3AF_VERSION);
    manager->metrics_->setSource([self] { return self->metricsSnapshot(); });
    // The bus is optional: without it (no system bus in a lab) SIGHUP and the
    // status file still work.
    // Status() composes the document `l3afd status --json` prints, at call time.
    const auto status = [self] {
        return statusText(statusDocument({.config_dir = self->config_dir_,
                                          .daemon = self->statusJson(),
                                          .applied = self->config_ ? &*self->config_ : nullptr}));
    };
    auto bus = BusService::start(event, {[self] { return self->reload(); }, status},
                                 busNameFor(manager->config_dir_));
    if (bus)
        manager->bus_ = std::move(*bus);
    else
        spdlog::info("D-Bus: {}; reload with SIGHUP", bus.error().message());
    return manager;
}

int Manager::run() {
    spdlog::info("l3afd starting: config {}, runtime {}", config_dir_.string(),
                 runtime_dir_.string());
    (void)reload();
    int r = sd_event_loop(event_.get());
    if (r < 0) {
        spdlog::error("event loop: {}", std::strerror(-r));
        return 1;
    }
    std::error_code ec;
    fs::remove(runtime_dir_ / "pid", ec);
    return 0;
}

Status Manager::reload() {
    const bool first = !reloaded_once_;
    reloaded_once_ = true;
    if (!first)
        notifySystemd("RELOADING=1\nSTATUS=reloading " + config_dir_.string());
    auto loaded = loadConfiguration(config_dir_);
    if (!loaded) {
        last_error_.clear();
        for (const config::Diagnostic& d : loaded.error()) {
            spdlog::error("{}", d.str());
            last_error_ += (last_error_.empty() ? "" : "\n") + d.str();
        }
        spdlog::error("configuration rejected; what runs stays as it was");
        writeStatus();
        notifySystemd("READY=1\nSTATUS=configuration rejected: " +
                      last_error_.substr(0, last_error_.find('\n')));
        if (bus_)
            bus_->emitReconciled(false, last_error_);
        return fail(EINVAL, last_error_);
    }
    last_error_.clear();
    const auto started = std::chrono::steady_clock::now();
    apply(*loaded);
    metrics_->observeReconcile(std::chrono::steady_clock::now() - started);
    config_ = std::move(*loaded);
    startMetrics(config_->daemon.metrics);
    last_reload_ = isoNow();
    last_reload_seconds_ = static_cast<double>(time(nullptr));
    spdlog::info("configuration applied: {}", summary());
    writeStatus();
    announceApplied("READY=1\n");
    if (!apply_errors_.empty()) {
        std::string all;
        for (const std::string& e : apply_errors_)
            all += (all.empty() ? "" : "\n") + e;
        return fail(EIO, all);
    }
    return {};
}

std::string Manager::summary() const {
    if (!config_)
        return "";
    return std::to_string(config_->collectors.size()) + " collector(s), " +
           std::to_string(config_->flow_exporters.size()) + " flow exporter(s), " +
           std::to_string(config_->mirrors.size()) + " mirror(s), " +
           std::to_string(config_->tunnels.size()) + " tunnel(s)";
}

void Manager::reapply() {
    if (!config_)
        return;
    const std::vector<std::string> errors_before = apply_errors_;
    const size_t done = apply(*config_);
    writeStatus();
    if (done == 0 && apply_errors_ == errors_before)
        return;
    announceApplied("");
}

void Manager::announceApplied(const std::string& notify_prefix) {
    const std::string summary = this->summary();
    notifySystemd(notify_prefix + "STATUS=" + (apply_errors_.empty() ? "running: " : "degraded: ") +
                  summary);
    if (bus_)
        bus_->emitReconciled(apply_errors_.empty(), summary);
}

void Manager::startMetrics(const std::string& address) {
    if (address == metrics_address_ && (metrics_endpoint_ || address.empty()))
        return;
    metrics_endpoint_.reset();
    metrics_address_ = address;
    if (address.empty())
        return;
    auto endpoint = serveMetrics(event_.get(), address, *metrics_);
    if (!endpoint) {
        apply_errors_.push_back("metrics on " + address + ": " + endpoint.error().message());
        spdlog::error("metrics on {}: {}", address, endpoint.error().message());
        return;
    }
    metrics_endpoint_ = std::move(*endpoint);
    spdlog::info("metrics on http://{}/metrics", address);
}

MetricsSnapshot Manager::metricsSnapshot() const {
    MetricsSnapshot m;
    m.reconcile.runs = reconcile_runs_;
    m.reconcile.failures = reconcile_failures_;
    m.reconcile.pending_items = pending_.size();
    m.reconcile.errors = apply_errors_.size();
    m.reconcile.last_reload_ok = last_error_.empty();
    m.reconcile.last_successful_reload_seconds = last_reload_seconds_;
    for (const auto& [name, e] : exporters_) {
        const ExporterCounters& c = e->counters();
        FlowExporterMetrics f;
        f.name = name;
        f.polls = c.polls;
        f.records_exported = c.records_exported;
        f.active_flows = c.flows_active;
        f.table_capacity = e->config().max_flows;
        f.overflow_packets = c.stats.overflow.packets;
        f.overflow_bytes = c.stats.overflow.octets;
        f.non_ip_packets = c.stats.non_ip.packets;
        f.non_ip_bytes = c.stats.non_ip.octets;
        f.truncated_packets = c.stats.truncated.packets;
        f.truncated_bytes = c.stats.truncated.octets;
        f.expired_idle_timeout = c.expired_idle;
        f.expired_end_of_flow = c.expired_end_of_flow;
        f.expired_forced_end = c.expired_forced;
        for (const auto& [where, counts] : c.traffic) {
            char ifname[IF_NAMESIZE] = {};
            const std::string interface = if_indextoname(where.first, ifname)
                                              ? ifname
                                              : "ifindex" + std::to_string(where.first);
            f.traffic.push_back({interface, where.second == FLOW_DIR_EGRESS ? "egress" : "ingress",
                                 counts.first, counts.second});
        }
        m.flow_exporters.push_back(std::move(f));
    }
    for (const auto& [name, c] : collectors_) {
        const exporter::CollectorCounters& k = c->counters();
        m.collectors.push_back({name, config::toString(c->config().transport), k.records_sent,
                                k.messages_sent, k.bytes_sent, k.send_errors, k.records_dropped,
                                k.messages_dropped, k.disconnects, k.connected,
                                static_cast<uint64_t>(k.queued_bytes)});
    }
    if (!config_ || !kernel_)
        return m;
    for (const config::Mirror& mirror : config_->mirrors) {
        const fs::path functionDir = kernel_->pins().function(kernel::kMirrorKind, mirror.name);
        const std::vector<std::string> revisions = kernel::listDirectory(functionDir);
        std::string revision;
        for (const std::string& r : revisions) {
            if (r != "links")
                revision = r;
        }
        if (revision.empty())
            continue;
        auto counters = kernel::readMirrorCounters(functionDir / revision, mirror.rules.size());
        if (!counters)
            continue;
        MirrorMetrics mm;
        mm.name = mirror.name;
        mm.interface = mirror.interface;
        mm.directions.push_back({"ingress", counters->ingress.seen, counters->ingress.clone_failed,
                                 counters->ingress.own_tunnel});
        mm.directions.push_back({"egress", counters->egress.seen, counters->egress.clone_failed,
                                 counters->egress.own_tunnel});
        for (size_t i = 0; i < counters->rules.size(); i++)
            mm.rules.push_back(
                {static_cast<uint32_t>(i), counters->rules[i].packets, counters->rules[i].bytes});
        m.mirrors.push_back(std::move(mm));
    }
    for (const config::Tunnel& tunnel : config_->tunnels) {
        const fs::path functionDir = kernel_->pins().function(kernel::kTunnelKind, tunnel.name);
        for (const std::string& r : kernel::listDirectory(functionDir)) {
            if (r == "links")
                continue;
            auto counters = kernel::readTunnelCounters(functionDir / r);
            if (!counters)
                continue;
            m.tunnels.push_back({tunnel.name, counters->sent, counters->sent_bytes,
                                 counters->truncated, counters->too_big, counters->not_ip,
                                 counters->foreign, counters->failed - counters->too_big});
        }
    }
    return m;
}

void Manager::notifySystemd(const std::string& state) {
    // No-op outside systemd (no NOTIFY_SOCKET).
    (void)sd_notify(0, state.c_str());
}

size_t Manager::apply(const config::Config& config) {
    reconcile_runs_++;
    if (!kernel_ || kernel_->pins().root() != config.daemon.pin_root)
        kernel_ = std::make_unique<kernel::BpfKernel>(config.daemon.pin_root);

    // Collectors first: the exporters' final drains below go to them.
    rebuildCollectors(config);

    apply_errors_.clear();
    plan::ExecuteHooks hooks;
    hooks.before_unload = [this](const plan::Action& action) {
        // The revision's table is about to go: export what it still holds.
        auto it = exporter_revisions_.find(action.name);
        if (action.kind == kernel::kFlowExporterKind && it != exporter_revisions_.end() &&
            it->second == action.revision && exporters_.contains(action.name)) {
            exporters_[action.name]->drainAll();
            exporters_.erase(action.name);
            exporter_revisions_.erase(action.name);
        }
    };
    const ReconcileReport report = reconcile(config, *kernel_, liveKernelFacts(), hooks);
    size_t done = 0;
    for (const plan::ActionResult& result : report.results) {
        if (!result.error && !result.skipped) {
            spdlog::info("{}", result.action.str());
            done++;
        }
    }
    for (const std::string& e : report.errors)
        spdlog::error("{}", e);
    apply_errors_ = report.errors;
    pending_ = report.pending;
    if (!report.ok())
        reconcile_failures_++;

    auto after = kernel_->observe();
    if (!after) {
        apply_errors_.push_back(after.error().message());
        return done;
    }
    rebuildExporters(config, *after);
    return done;
}

void Manager::rebuildCollectors(const config::Config& config) {
    std::map<std::string, std::unique_ptr<CollectorRuntime>> next;
    for (const config::Collector& c : config.collectors) {
        auto it = collectors_.find(c.name);
        if (it != collectors_.end() && sameCollector(it->second->config(), c)) {
            next[c.name] = std::move(it->second);
            continue;
        }
        auto runtime = CollectorRuntime::create(event_.get(), c);
        if (!runtime) {
            apply_errors_.push_back(runtime.error().message());
            spdlog::error("{}", runtime.error().message());
            continue;
        }
        next[c.name] = std::move(*runtime);
    }
    // Exporters must not keep pointers to collectors about to go.
    for (auto& [name, exporter] : exporters_) {
        std::vector<CollectorRuntime*> feeds;
        for (const std::string& c : exporter->config().collectors) {
            if (auto it = next.find(c); it != next.end())
                feeds.push_back(it->second.get());
        }
        exporter->reconfigure(exporter->config(), feeds);
    }
    collectors_ = std::move(next);
}

void Manager::rebuildExporters(const config::Config& config, const plan::Observed& observed) {
    std::map<std::string, std::unique_ptr<ExporterRuntime>> next;
    std::map<std::string, std::string> revisions;
    for (const config::FlowExporter& e : config.flow_exporters) {
        std::vector<CollectorRuntime*> feeds;
        for (const std::string& c : e.collectors) {
            if (auto it = collectors_.find(c); it != collectors_.end())
                feeds.push_back(it->second.get());
        }
        // The revision actually loaded: the desired one, or the previous one
        // when the new one failed to load.
        const std::string wanted = kernel::flowRevision({e.max_flows});
        std::string loaded;
        for (const plan::ObservedFunction& f : observed.functions) {
            if (f.kind != kernel::kFlowExporterKind || f.name != e.name)
                continue;
            for (const std::string& r : f.revisions) {
                if (r == wanted || loaded.empty())
                    loaded = r;
            }
        }
        if (loaded.empty())
            continue;
        auto it = exporters_.find(e.name);
        if (it != exporters_.end() && exporter_revisions_[e.name] == loaded) {
            it->second->reconfigure(e, feeds);
            next[e.name] = std::move(it->second);
            startPollTimer(*next[e.name]);
        } else {
            auto runtime = ExporterRuntime::create(
                e, kernel_->pins().revision(kernel::kFlowExporterKind, e.name, loaded), feeds);
            if (!runtime) {
                apply_errors_.push_back(runtime.error().message());
                spdlog::error("{}", runtime.error().message());
                continue;
            }
            next[e.name] = std::move(*runtime);
            startPollTimer(*next[e.name]);
        }
        revisions[e.name] = loaded;
    }
    // Exporters no longer declared were drained before their unload; any
    // left (unload failed) just stop polling.
    exporters_ = std::move(next);
    exporter_revisions_ = std::move(revisions);
}

void Manager::startPollTimer(ExporterRuntime& exporter) {
    const auto usec = static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(exporter.config().poll_interval)
            .count());
    sd_event_source* timer = nullptr;
    if (int r = sd_event_add_time_relative(event_.get(), &timer, CLOCK_MONOTONIC, usec, 0,
                                           &Manager::onPollTimer, &exporter);
        r < 0) {
        spdlog::error("flow_exporter '{}': poll timer: {}", exporter.config().name,
                      std::strerror(-r));
        return;
    }
    exporter.setTimer(EventSourcePtr(timer));
}

int Manager::onPollTimer(sd_event_source* s, uint64_t, void* userdata) {
    auto* exporter = static_cast<ExporterRuntime*>(userdata);
    exporter->poll();
    const auto usec = static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(exporter->config().poll_interval)
            .count());
    sd_event_source_set_time_relative(s, usec);
    sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
    return 0;
}

int Manager::onLinkEvent(sd_event_source*, int, uint32_t, void* userdata) {
    auto* self = static_cast<Manager*>(userdata);
    if (self->link_events_->drain() && self->config_ &&
        sd_event_source_get_enabled(self->links_settled_.get(), nullptr) == 0) {
        sd_event_source_set_time_relative(self->links_settled_.get(), kLinkSettleUsec);
        sd_event_source_set_enabled(self->links_settled_.get(), SD_EVENT_ONESHOT);
    }
    return 0;
}

int Manager::onLinksSettled(sd_event_source*, uint64_t, void* userdata) {
    auto* self = static_cast<Manager*>(userdata);
    // An interface appeared, went or was recreated: attach what waited for
    // it, drop what died with it.
    self->reapply();
    return 0;
}

int Manager::onHousekeeping(sd_event_source* s, uint64_t, void* userdata) {
    auto* self = static_cast<Manager*>(userdata);
    // Interfaces that appeared, links whose interface was recreated.
    if (!self->pending_.empty())
        self->reapply();
    else
        self->writeStatus();
    sd_event_source_set_time_relative(s, kHousekeepingUsec);
    sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
    return 0;
}

int Manager::onSignal(sd_event_source*, const struct signalfd_siginfo* si, void* userdata) {
    auto* self = static_cast<Manager*>(userdata);
    if (si->ssi_signo == SIGHUP) {
        spdlog::info("SIGHUP: reloading {}", self->config_dir_.string());
        (void)self->reload();
        return 0;
    }
    self->shutdown();
    return 0;
}

void Manager::shutdown() {
    notifySystemd("STOPPING=1\nSTATUS=exporting the flow tables");
    spdlog::info("stopping: exporting every flow still in the tables; attachments stay");
    for (auto& [name, exporter] : exporters_)
        exporter->drainAll();
    // Give TCP collectors a moment to take what is queued.
    for (int i = 0; i < 20; i++) {
        if (sd_event_run(event_.get(), 50000) < 0)
            break;
    }
    writeStatus();
    sd_event_exit(event_.get(), 0);
}

json Manager::statusJson() const {
    json exporters = json::array();
    for (const auto& [name, e] : exporters_) {
        const ExporterCounters& c = e->counters();
        exporters.push_back({{"name", name},
                             {"revision", exporter_revisions_.at(name)},
                             {"max_flows", e->config().max_flows},
                             {"flows_active", c.flows_active},
                             {"records_exported", c.records_exported},
                             {"polls", c.polls},
                             {"overflow", statJson(c.stats.overflow)},
                             {"non_ip", statJson(c.stats.non_ip)},
                             {"truncated", statJson(c.stats.truncated)},
                             {"last_error", c.last_error.empty() ? json() : json(c.last_error)}});
    }
    json collectors = json::array();
    for (const auto& [name, c] : collectors_) {
        const exporter::CollectorCounters& k = c->counters();
        collectors.push_back({{"name", name},
                              {"transport", config::toString(c->config().transport)},
                              {"address", c->config().address},
                              {"port", c->config().port},
                              {"connected", k.connected},
                              {"records_sent", k.records_sent},
                              {"messages_sent", k.messages_sent},
                              {"bytes_sent", k.bytes_sent},
                              {"send_errors", k.send_errors},
                              {"records_dropped", k.records_dropped},
                              {"messages_dropped", k.messages_dropped},
                              {"not_sent_records", c->totals().not_sent_records},
                              {"not_sent_packets", c->totals().not_sent_packets},
                              {"not_sent_octets", c->totals().not_sent_octets},
                              {"last_error", k.last_error.empty() ? json() : json(k.last_error)}});
    }
    json errors = json::array();
    for (const std::string& e : apply_errors_)
        errors.push_back(e);
    return {{"daemon",
             {{"pid", getpid()},
              {"config_dir", config_dir_.string()},
              {"pin_root", kernel_ ? kernel_->pins().root().string() : ""},
              {"last_reload", last_reload_.empty() ? json() : json(last_reload_)},
              {"last_error", last_error_.empty() ? json() : json(last_error_)},
              {"apply_errors", errors},
              {"pending", pending_},
              {"reconcile_runs", reconcile_runs_},
              {"reconcile_failures", reconcile_failures_},
              {"updated", isoNow()}}},
            {"flow_exporters", exporters},
            {"collectors", collectors}};
}

void Manager::writeStatus() {
    const fs::path tmp = runtime_dir_ / "status.json.tmp";
    {
        std::ofstream out(tmp);
        out << statusText(statusJson(), 2) << "\n";
        if (!out)
            return;
    }
    std::error_code ec;
    fs::rename(tmp, runtime_dir_ / "status.json", ec);
}

} // namespace l3af::daemon
