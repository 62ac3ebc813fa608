#include "cli/commands.h"

#include "config/loader.h"
#include "daemon/bus.h"
#include "daemon/desired.h"
#include "daemon/journal_log.h"
#include "daemon/manager.h"
#include "daemon/reconcile.h"
#include "daemon/status_doc.h"
#include "flow/drain.h"
#include "kernel/admin_capability.h"
#include "kernel/bpf_flow_table.h"
#include "kernel/bpf_kernel.h"
#include "kernel/flow_function.h"
#include "kernel/libbpf_log.h"
#include "plan/executor.h"

#include <arpa/inet.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <csignal>
#include <iostream>

namespace l3af::cli {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::optional<config::Config> loadOrReport(const fs::path& path) {
    auto loaded = daemon::loadConfiguration(path);
    if (!loaded) {
        for (const config::Diagnostic& d : loaded.error())
            std::cerr << d.str() << "\n";
        return std::nullopt;
    }
    return std::move(*loaded);
}

int runDaemon(const Options& options, const std::vector<std::string>&) {
    // Before any thread starts: they inherit the lowered set.
    kernel::lowerAdminCapability();
    kernel::installLibbpfLogger();
    spdlog::set_pattern("%^%l%$: %v");
    daemon::useJournalIfConnected();
    auto manager = daemon::Manager::create(options.config_dir);
    if (!manager) {
        std::cerr << "l3afd: " << manager.error().message() << "\n";
        return 1;
    }
    return (*manager)->run();
}

int check(const Options& options, const std::vector<std::string>& args) {
    const fs::path path = args.empty() ? fs::path(options.config_dir) : fs::path(args[0]);
    auto config = loadOrReport(path);
    if (!config)
        return 1;
    std::cout << path.string() << ": ok (" << config->files.size() << " file(s), "
              << config->collectors.size() << " collector(s), " << config->flow_exporters.size()
              << " flow exporter(s), " << config->tunnels.size() << " tunnel(s), "
              << config->mirrors.size() << " mirror(s), " << config->programs.size()
              << " program(s))\n";
    return 0;
}

struct Planned {
    config::Config config;
    plan::Desired desired;
    plan::Plan plan;
};

std::optional<Planned> computePlan(const Options& options, kernel::BpfKernel*& kernel_out,
                                   std::unique_ptr<kernel::BpfKernel>& kernel) {
    auto config = loadOrReport(options.config_dir);
    if (!config)
        return std::nullopt;
    kernel = std::make_unique<kernel::BpfKernel>(config->daemon.pin_root);
    kernel_out = kernel.get();
    daemon::DesiredState want = daemon::desiredState(*config, daemon::liveKernelFacts());
    auto observed = kernel->observeFor(want.desired);
    if (!observed) {
        std::cerr << "l3afd: " << observed.error().message() << "\n";
        return std::nullopt;
    }
    for (const std::string& e : want.errors)
        std::cerr << e << "\n";
    plan::Plan plan = plan::computePlan(want.desired, *observed);
    plan.pending.insert(plan.pending.end(), want.waiting.begin(), want.waiting.end());
    return Planned{std::move(*config), std::move(want.desired), std::move(plan)};
}

void printPending(const plan::Plan& plan) {
    for (const std::string& p : plan.pending)
        std::cout << "pending: " << p << "\n";
}

int planCommand(const Options& options, const std::vector<std::string>&) {
    kernel::installLibbpfLogger();
    std::unique_ptr<kernel::BpfKernel> kernel;
    kernel::BpfKernel* k = nullptr;
    auto planned = computePlan(options, k, kernel);
    if (!planned)
        return 1;
    if (planned->plan.empty())
        std::cout << "nothing to do\n";
    for (const plan::Action& a : planned->plan.actions)
        std::cout << a.str() << "\n";
    printPending(planned->plan);
    return 0;
}

int applyCommand(const Options& options, const std::vector<std::string>&) {
    kernel::installLibbpfLogger();
    auto config = loadOrReport(options.config_dir);
    if (!config)
        return 1;
    kernel::BpfKernel kernel(config->daemon.pin_root);
    plan::ExecuteHooks hooks;
    hooks.before_unload = [](const plan::Action& a) {
        if (a.kind == kernel::kFlowExporterKind)
            std::cerr << "note: flows still in " << a.kind << " '" << a.name << "' revision "
                      << a.revision << " are discarded (only the daemon exports them)\n";
    };
    const daemon::ReconcileReport report =
        daemon::reconcile(*config, kernel, daemon::liveKernelFacts(), hooks);
    if (report.results.empty() && report.ok())
        std::cout << "nothing to do\n";
    for (const plan::ActionResult& r : report.results) {
        if (r.error)
            std::cout << "FAILED " << r.error->message() << "\n";
        else if (r.skipped)
            std::cout << "skipped " << r.action.str() << "\n";
        else
            std::cout << r.action.str() << "\n";
    }
    for (const std::string& e : report.errors) {
        if (e.find(": error: ") != std::string::npos || report.observe_failed)
            std::cerr << e << "\n";
    }
    for (const std::string& p : report.pending)
        std::cout << "pending: " << p << "\n";
    return report.ok() ? 0 : 1;
}

// The pin root to look at: the running daemon's (it knows what it pinned, even
// when the files changed since), else the configuration's. None when neither
// is known: guessing could touch another instance's pins.
std::optional<std::string> pinRootFor(const Options& options, const std::optional<json>& daemon,
                                      std::vector<std::string>* config_errors) {
    if (daemon) {
        if (auto theirs = daemon::pinRootOf(*daemon))
            return theirs;
    }
    auto loaded = config::loadDirectory(options.config_dir);
    if (loaded)
        return loaded->daemon.pin_root;
    if (config_errors) {
        for (const config::Diagnostic& d : loaded.error())
            config_errors->push_back(d.str());
    }
    return std::nullopt;
}

int resetCommand(const Options& options, const std::vector<std::string>&) {
    std::vector<std::string> errors;
    auto pin_root = pinRootFor(options, daemon::readDaemonAccount(options.config_dir), &errors);
    if (!pin_root) {
        for (const std::string& e : errors)
            std::cerr << e << "\n";
        std::cerr << "l3afd: reset: the configuration is invalid and no daemon is running, so "
                     "the pin root is unknown; fix the files first\n";
        return 1;
    }
    kernel::BpfKernel kernel(*pin_root);
    if (Status done = kernel.reset(); !done) {
        std::cerr << "l3afd: reset: " << done.error().message() << "\n";
        return 1;
    }
    std::cout << "reset: removed everything l3afd pinned under " << *pin_root << "\n";
    return 0;
}

int reloadCommand(const Options& options, const std::vector<std::string>&) {
    // Over D-Bus the reload is synchronous and reports a rejected config;
    // without a bus (a lab, an early boot) the pid file and SIGHUP do.
    Status viaBus = daemon::callReload(daemon::busNameFor(options.config_dir));
    if (viaBus) {
        std::cout << "reloaded\n";
        return 0;
    }
    if (viaBus.error().code() == EINVAL || viaBus.error().code() == EIO) {
        std::cerr << viaBus.error().context() << "\n";
        return 1;
    }
    auto pid = daemon::runningDaemonPid(options.config_dir);
    if (!pid) {
        std::cerr << "l3afd: no daemon is running for " << options.config_dir << "\n";
        return 1;
    }
    if (kill(*pid, SIGHUP) != 0) {
        std::cerr << "l3afd: signal " << *pid << ": " << std::strerror(errno) << "\n";
        return 1;
    }
    std::cout << "reload requested (pid " << *pid << ")\n";
    return 0;
}

// Errors that only say no daemon is on the bus to ask (none runs, or it runs
// without a bus): the status composed here says as much.
bool nobodyOnTheBus(int code) {
    return code == ESRCH || code == ENOENT || code == ECONNREFUSED;
}

bool isStatusDocument(const json& document) {
    return document.is_object() && document.contains("config_dir") &&
           document.contains("pin_root") && document.contains("daemon") &&
           document["daemon"].is_object() && document.contains("flow_exporters") &&
           document.contains("collectors");
}

// The running daemon's document over D-Bus, composed when it answers; else
// the one composed here from the files, the pins and the status file (a
// daemon without a bus). `why` gets the reason a daemon on the bus did not
// answer, when there is one worth telling a person.
json statusDocumentFor(const Options& options, std::string& why) {
    auto reply = daemon::callStatus(daemon::busNameFor(options.config_dir));
    if (reply) {
        json document = json::parse(*reply, nullptr, false);
        if (isStatusDocument(document))
            return document;
        // An older daemon answers with its own account only.
        why = "the daemon's Status() reply is not a status document";
    } else if (!nobodyOnTheBus(reply.error().code())) {
        why = reply.error().context();
    }
    kernel::installLibbpfLogger();
    return daemon::statusDocument({.config_dir = options.config_dir,
                                   .daemon = daemon::readDaemonAccount(options.config_dir)});
}

void printStatusText(const json& s) {
    const json& d = s["daemon"];
    std::cout << "config:  " << s["config_dir"].get<std::string>() << "\n";
    std::cout << "pins:    " << s["pin_root"].get<std::string>() << "\n";
    // A daemon that has not written its status file yet has only a pid.
    const json last_reload = d.value("last_reload", json());
    if (d.value("running", false))
        std::cout << "daemon:  running (pid " << d.value("pid", 0) << "), last reload "
                  << (last_reload.is_string() ? last_reload.get<std::string>() : "never") << "\n";
    else
        std::cout << "daemon:  not running\n";
    if (d.contains("last_error") && d["last_error"].is_string())
        std::cout << "last error:\n  " << d["last_error"].get<std::string>() << "\n";
    for (const json& e : d.value("apply_errors", json::array()))
        std::cout << "apply error: " << e.get<std::string>() << "\n";
    for (const json& p : d.value("pending", json::array()))
        std::cout << "pending: " << p.get<std::string>() << "\n";
    if (s.contains("config_errors")) {
        std::cout << "configuration errors:\n";
        for (const json& e : s["config_errors"])
            std::cout << "  " << e.get<std::string>() << "\n";
    }
    for (const json& e : s["flow_exporters"]) {
        std::cout << "flow_exporter " << e["name"].get<std::string>();
        if (e.contains("flows_active"))
            std::cout << ": " << e["flows_active"] << " flows of " << e["max_flows"]
                      << ", records exported " << e["records_exported"] << ", overflow "
                      << e["overflow"]["packets"] << " packets / " << e["overflow"]["octets"]
                      << " octets, non-IP " << e["non_ip"]["packets"] << ", truncated "
                      << e["truncated"]["packets"];
        std::cout << "\n";
        for (const json& a : e["attachments"])
            std::cout << "  " << a["interface"].get<std::string>() << " "
                      << a["hook"].get<std::string>() << ": " << a["state"].get<std::string>()
                      << " (link " << a["link_id"] << ")\n";
    }
    for (const json& t : s.value("tunnels", json::array())) {
        std::cout << "tunnel " << t["name"].get<std::string>() << " (device "
                  << t.value("device", "") << "): " << t.value("sent", 0) << " sent, "
                  << t.value("failed", 0) << " failed, " << t.value("truncated", 0)
                  << " truncated\n";
        for (const json& a : t["attachments"])
            std::cout << "  " << a["interface"].get<std::string>() << " "
                      << a["hook"].get<std::string>() << ": " << a["state"].get<std::string>()
                      << " (link " << a["link_id"] << ")\n";
    }
    for (const json& m : s.value("mirrors", json::array())) {
        std::cout << "mirror " << m["name"].get<std::string>() << " -> tunnel "
                  << m.value("tunnel", "?") << "\n";
        for (const json& a : m["attachments"])
            std::cout << "  " << a["interface"].get<std::string>() << " "
                      << a["hook"].get<std::string>() << ": " << a["state"].get<std::string>()
                      << " (link " << a["link_id"] << ")\n";
        for (const json& r : m.value("rules", json::array()))
            std::cout << "  rule " << r["rule"] << " [" << r["match"].get<std::string>()
                      << "]: " << r["packets"] << " packets, " << r["bytes"] << " bytes\n";
    }
    for (const json& c : s["collectors"]) {
        std::cout << "collector " << c["name"].get<std::string>() << " "
                  << c["transport"].get<std::string>() << " " << c["address"].get<std::string>()
                  << ":" << c["port"] << (c.value("connected", false) ? " connected" : " down")
                  << ": " << c["records_sent"] << " records, " << c["messages_sent"]
                  << " messages, " << c["bytes_sent"] << " bytes sent; " << c["records_dropped"]
                  << " records dropped, " << c["send_errors"] << " send errors\n";
    }
}

int statusCommand(const Options& options, const std::vector<std::string>&) {
    std::string why;
    const json s = statusDocumentFor(options, why);
    if (options.json) {
        std::cout << daemon::statusText(s, 2) << "\n";
        return 0;
    }
    if (!why.empty())
        std::cerr << "l3afd: " << why << "; showing the status file and the kernel instead\n";
    printStatusText(s);
    return 0;
}

std::string address(const flow_key& k, const uint8_t* a) {
    char buf[INET6_ADDRSTRLEN] = {};
    inet_ntop(k.family == 6 ? AF_INET6 : AF_INET, a, buf, sizeof buf);
    return buf;
}

int flowsCommand(const Options& options, const std::vector<std::string>&) {
    kernel::installLibbpfLogger();
    auto config = loadOrReport(options.config_dir);
    if (!config)
        return 1;
    kernel::BpfKernel kernel(config->daemon.pin_root);
    auto observed = kernel.observe();
    if (!observed) {
        std::cerr << "l3afd: " << observed.error().message() << "\n";
        return 1;
    }
    struct Row {
        std::string exporter;
        flow_key key;
        flow_value value;
    };
    std::vector<Row> rows;
    for (const plan::ObservedFunction& f : observed->functions) {
        if (f.kind != kernel::kFlowExporterKind || f.revisions.empty())
            continue;
        auto maps =
            kernel::openFlowMaps(kernel.pins().revision(f.kind, f.name, f.revisions.back()));
        if (!maps) {
            std::cerr << "l3afd: " << maps.error().message() << "\n";
            return 1;
        }
        kernel::BpfFlowTable table(maps->flows.get(), maps->baseline.get(), maps->stats.get());
        Status read = table.readFlows(
            [&](std::span<const flow_key> keys, std::span<const flow_value> values) {
                for (size_t i = 0; i < keys.size(); i++)
                    rows.push_back({f.name, keys[i], values[i]});
            });
        if (!read) {
            std::cerr << "l3afd: " << read.error().message() << "\n";
            return 1;
        }
    }
    std::sort(rows.begin(), rows.end(),
              [](const Row& a, const Row& b) { return a.value.octets > b.value.octets; });
    if (options.limit && rows.size() > options.limit)
        rows.resize(options.limit);
    json out = json::array();
    for (const Row& r : rows) {
        const flow_key& k = r.key;
        json row = {{"exporter", r.exporter},
                    {"ifindex", k.ifindex},
                    {"direction", k.direction == FLOW_DIR_EGRESS ? "egress" : "ingress"},
                    {"vlan", k.vlan},
                    {"protocol", k.protocol},
                    {"src", address(k, k.src)},
                    {"dst", address(k, k.dst)},
                    {"src_port", ntohs(k.src_port)},
                    {"dst_port", ntohs(k.dst_port)},
                    {"packets", r.value.packets},
                    {"octets", r.value.octets},
                    {"tcp_flags", r.value.tcp_flags}};
        out.push_back(row);
    }
    if (options.json) {
        std::cout << out.dump(2) << "\n";
        return 0;
    }
    std::printf("%-10s %-7s %-5s %39s %5s  %39s %5s %12s %14s\n", "exporter", "dir", "proto",
                "source", "port", "destination", "port", "packets", "octets");
    for (const json& r : out)
        std::printf("%-10s %-7s %-5u %39s %5u  %39s %5u %12llu %14llu\n",
                    r["exporter"].get<std::string>().c_str(),
                    r["direction"].get<std::string>().c_str(), r["protocol"].get<unsigned>(),
                    r["src"].get<std::string>().c_str(), r["src_port"].get<unsigned>(),
                    r["dst"].get<std::string>().c_str(), r["dst_port"].get<unsigned>(),
                    r["packets"].get<unsigned long long>(), r["octets"].get<unsigned long long>());
    return 0;
}

const Command kCommands[] = {
    {"run", "run", "Runs the daemon in the foreground until SIGTERM. SIGHUP reloads.", 0,
     runDaemon},
    {"check", "check [FILE|DIR]",
     "Validates configuration without touching the kernel; needs no root. Errors are\n"
     "printed as file:line:column: error: ... and the exit code is 1.",
     1, check},
    {"plan", "plan", "Prints the actions apply would take, one per line.", 0, planCommand},
    {"apply", "apply", "Makes the kernel match the configuration once, then exits.", 0,
     applyCommand},
    {"status", "status [--json]", "Shows functions, attachments, collectors and counters.", 0,
     statusCommand},
    {"flows", "flows [--json] [--limit N]", "Shows the live flow tables, busiest first.", 0,
     flowsCommand},
    {"reload", "reload", "Asks the running daemon for this config directory to reload.", 0,
     reloadCommand},
    {"reset", "reset", "Detaches and removes everything l3afd pinned under pin_root.", 0,
     resetCommand},
};

} // namespace

const Command* findCommand(const std::string& name) {
    for (const Command& c : kCommands) {
        if (name == c.name)
            return &c;
    }
    return nullptr;
}

} // namespace l3af::cli
