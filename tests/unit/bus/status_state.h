#pragma once

// A daemon's state on disk, for composing status documents without a kernel:
// a config directory, a pin tree that reads like one l3afd left (directories
// and link files, no eBPF objects: the links read as detached, the counters
// as unreadable) and the account a Manager gives of itself.

#include "daemon/status_doc.h"
#include "temp_dir.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <string>

namespace l3af::testing {

class StatusState {
  public:
    StatusState() {
        config_.write("10-edge.toml", R"([daemon]
pin_root = ")" + pinRoot() + R"("

[[collector]]
name = "soc"
address = "192.0.2.10"
port = 4739
transport = "udp"

[[flow_exporter]]
name = "edge"
interfaces = ["eth0"]
collectors = ["soc"]
)");
        pins_.write("flow_exporter/edge/r1/.keep", "");
        pins_.write("flow_exporter/edge/links/eth0@tc-ingress", "");
        pins_.write("tunnel/gue0/r7/.keep", "");
    }

    std::filesystem::path configDir() const { return config_.path(); }
    std::string pinRoot() const { return pins_.path().string(); }

    // Replaces the files with ones that do not load.
    void breakTheFiles() const { config_.write("10-edge.toml", "[daemon\npin_root = 1\n"); }

    // What Manager::statusJson() says in the middle of a run.
    nlohmann::json account() const {
        using nlohmann::json;
        return {{"daemon",
                 {{"pid", 4242},
                  {"config_dir", configDir().string()},
                  {"pin_root", pinRoot()},
                  {"last_reload", "2024-05-01T10:00:00Z"},
                  {"last_error", nullptr},
                  {"apply_errors", json::array()},
                  {"pending", {"flow_exporter 'edge': waiting for eth1"}},
                  {"reconcile_runs", 3},
                  {"reconcile_failures", 0},
                  {"updated", "2024-05-01T10:00:05Z"}}},
                {"flow_exporters",
                 {{{"name", "edge"},
                   {"revision", "r1"},
                   {"max_flows", 4096},
                   {"flows_active", 7},
                   {"records_exported", 120},
                   {"polls", 9},
                   {"overflow", {{"packets", 0}, {"octets", 0}}},
                   {"non_ip", {{"packets", 2}, {"octets", 120}}},
                   {"truncated", {{"packets", 0}, {"octets", 0}}},
                   {"last_error", nullptr}}}},
                {"collectors",
                 {{{"name", "soc"},
                   {"transport", "udp"},
                   {"address", "192.0.2.10"},
                   {"port", 4739},
                   {"connected", true},
                   {"records_sent", 120},
                   {"messages_sent", 4},
                   {"bytes_sent", 6400},
                   {"send_errors", 0},
                   {"records_dropped", 0},
                   {"messages_dropped", 0},
                   {"last_error", nullptr}}}}};
    }

    daemon::StatusSources runningDaemon() const { return {configDir(), account(), nullptr}; }
    daemon::StatusSources noDaemon() const { return {configDir(), std::nullopt, nullptr}; }

  private:
    config::testing::TempDir config_;
    config::testing::TempDir pins_;
};

} // namespace l3af::testing
