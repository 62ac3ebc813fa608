#include "daemon/status_doc.h"

#include "config/loader.h"
#include "daemon/manager.h"
#include "kernel/bpf_kernel.h"
#include "kernel/function_types.h"
#include "kernel/mirror_function.h"

#include <signal.h>

#include <cerrno>
#include <fstream>

namespace l3af::daemon {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const char* attachmentState(const plan::ObservedAttachment& a) {
    return a.live ? "attached" : "detached";
}

// The member `key` of `object` when it is an array or object of `type`.
const json* memberOf(const json& object, const char* key, json::value_t type) {
    if (!object.is_object())
        return nullptr;
    auto it = object.find(key);
    return it != object.end() && it->type() == type ? &*it : nullptr;
}

// The daemon knows what the kernel cannot tell: table fill, records
// exported. Its entry for the function adds what the pins did not say.
void mergeDaemonCounters(json& e, const json* account, const char* list) {
    const json* entries = account ? memberOf(*account, list, json::value_t::array) : nullptr;
    if (!entries)
        return;
    for (const json& d : *entries) {
        if (!d.is_object() || !d.contains("name") || d["name"] != e["name"])
            continue;
        for (auto it = d.begin(); it != d.end(); ++it) {
            if (!e.contains(it.key()))
                e[it.key()] = it.value();
        }
    }
}

std::string protocolName(uint8_t protocol) {
    switch (protocol) {
    case 1:
        return "icmp";
    case 6:
        return "tcp";
    case 17:
        return "udp";
    case 58:
        return "icmpv6";
    default:
        return std::to_string(protocol);
    }
}

std::string describeRule(const config::MirrorRule& rule) {
    std::string out;
    const auto add = [&](const std::string& part) { out += (out.empty() ? "" : " ") + part; };
    if (rule.src)
        add("src " + rule.src->str());
    if (rule.dst)
        add("dst " + rule.dst->str());
    if (rule.protocol)
        add("protocol " + protocolName(*rule.protocol));
    const auto ports = [](const config::PortRange& p) {
        return p.first == p.last ? std::to_string(p.first)
                                 : std::to_string(p.first) + "-" + std::to_string(p.last);
    };
    if (rule.src_port)
        add("src_port " + ports(*rule.src_port));
    if (rule.dst_port)
        add("dst_port " + ports(*rule.dst_port));
    return out.empty() ? "any" : out;
}

void addMirrorCounters(json& e, const fs::path& dir, const config::Config* config) {
    const config::Mirror* mirror = nullptr;
    if (config) {
        for (const config::Mirror& m : config->mirrors) {
            if (m.name == e["name"])
                mirror = &m;
        }
    }
    const size_t rules = mirror ? mirror->rules.size() : 0;
    auto counters = kernel::readMirrorCounters(dir, rules);
    if (!counters) {
        e["error"] = counters.error().message();
        return;
    }
    json list = json::array();
    for (size_t i = 0; i < counters->rules.size() && i < rules; i++) {
        list.push_back({{"rule", i},
                        {"match", describeRule(mirror->rules[i])},
                        {"packets", counters->rules[i].packets},
                        {"bytes", counters->rules[i].bytes}});
    }
    e["rules"] = list;
    if (mirror)
        e["tunnel"] = mirror->tunnel;
    const auto stats = [](const mirror_stats& s) {
        return json{
            {"seen", s.seen},     {"matched", s.matched},     {"clone_failed", s.clone_failed},
            {"not_ip", s.not_ip}, {"truncated", s.truncated}, {"own_tunnel", s.own_tunnel}};
    };
    e["ingress"] = stats(counters->ingress);
    e["egress"] = stats(counters->egress);
}

void addTunnelCounters(json& e, const fs::path& dir, const std::string& name) {
    e["device"] = kernel::tunnelDeviceName(name);
    auto counters = kernel::readTunnelCounters(dir);
    if (!counters) {
        e["error"] = counters.error().message();
        return;
    }
    e["sent"] = counters->sent;
    e["sent_bytes"] = counters->sent_bytes;
    e["truncated"] = counters->truncated;
    e["failed"] = counters->failed;
    e["too_big"] = counters->too_big;
    e["ignored"] = counters->ignored;
}

// What runs under `pin_root`, function by function, with its counters.
// What the files say of a [[program]], and the daemon's errors about it (a
// verifier rejection carries the verifier's log).
void addProgramDetails(json& e, const json* account, const config::Config* described) {
    const std::string name = e["name"].get<std::string>();
    if (described) {
        for (const config::Program& p : described->programs) {
            if (p.name != name)
                continue;
            json maps = json::array();
            for (const config::ProgramMap& m : p.maps)
                maps.push_back(m.name);
            e["object"] = p.object;
            e["function"] = p.function;
            e["hook"] = config::toString(p.hook);
            e["priority"] = p.priority;
            e["enabled"] = p.enabled;
            e["maps"] = maps;
        }
    }
    json errors = json::array();
    const json* own = account ? memberOf(*account, "daemon", json::value_t::object) : nullptr;
    if (const json* applied =
            own ? memberOf(*own, "apply_errors", json::value_t::array) : nullptr) {
        const std::string mark = std::string(kernel::kProgramKind) + " '" + name + "'";
        for (const json& line : *applied) {
            if (line.is_string() &&
                line.get_ref<const std::string&>().find(mark) != std::string::npos)
                errors.push_back(line);
        }
    }
    e["errors"] = errors;
}

void addFunctions(json& out, const std::string& pin_root, const json* account,
                  const config::Config* described) {
    json exporters = json::array();
    json mirrors = json::array();
    json tunnels = json::array();
    json programs = json::array();
    kernel::BpfKernel kernel(pin_root);
    if (auto observed = kernel.observe(); observed) {
        for (const plan::ObservedFunction& f : observed->functions) {
            json e = {{"name", f.name}, {"revisions", f.revisions}};
            json links = json::array();
            for (const plan::ObservedAttachment& a : f.attachments)
                links.push_back({{"interface", a.attachment.interface},
                                 {"hook", plan::toString(a.attachment.hook)},
                                 {"state", attachmentState(a)},
                                 {"mechanism", plan::toString(a.mechanism)},
                                 {"link_id", a.link_id},
                                 {"priority", a.priority},
                                 {"position", a.position},
                                 {"revision", a.revision}});
            e["attachments"] = links;
            // The counters of the revision the links run (the newest otherwise).
            std::string revision = f.revisions.empty() ? "" : f.revisions.back();
            for (const plan::ObservedAttachment& a : f.attachments) {
                if (!a.revision.empty())
                    revision = a.revision;
            }
            const fs::path dir = kernel.pins().revision(f.kind, f.name, revision);
            if (f.kind == kernel::kFlowExporterKind) {
                mergeDaemonCounters(e, account, "flow_exporters");
                exporters.push_back(e);
            } else if (f.kind == kernel::kMirrorKind) {
                addMirrorCounters(e, dir, described);
                mirrors.push_back(e);
            } else if (f.kind == kernel::kTunnelKind) {
                addTunnelCounters(e, dir, f.name);
                tunnels.push_back(e);
            } else if (f.kind == kernel::kProgramKind) {
                addProgramDetails(e, account, described);
                programs.push_back(e);
            }
        }
    } else {
        out["kernel_error"] = observed.error().message();
    }
    out["flow_exporters"] = exporters;
    out["mirrors"] = mirrors;
    out["tunnels"] = tunnels;
    out["programs"] = programs;
}

} // namespace

json statusDocument(const StatusSources& sources) {
    json out = {{"config_dir", sources.config_dir.string()}};
    const json* account =
        sources.daemon && sources.daemon->is_object() ? &*sources.daemon : nullptr;

    std::optional<config::Config> files;
    if (auto loaded = config::loadDirectory(sources.config_dir); !loaded) {
        json errors = json::array();
        for (const config::Diagnostic& d : loaded.error())
            errors.push_back(d.str());
        out["config_errors"] = errors;
    } else {
        files = std::move(*loaded);
    }
    const config::Config* described = sources.applied ? sources.applied : files ? &*files : nullptr;

    std::string pin_root = config::DaemonConfig{}.pin_root;
    if (auto theirs = account ? pinRootOf(*account) : std::nullopt)
        pin_root = *theirs;
    else if (files)
        pin_root = files->daemon.pin_root;
    out["pin_root"] = pin_root;

    addFunctions(out, pin_root, account, described);

    json daemon = {{"running", false}};
    if (account) {
        const json* own = memberOf(*account, "daemon", json::value_t::object);
        daemon = own ? *own : json::object();
        daemon["running"] = true;
    }
    out["daemon"] = daemon;
    const json* collectors =
        account ? memberOf(*account, "collectors", json::value_t::array) : nullptr;
    out["collectors"] = collectors ? *collectors : json::array();
    return out;
}

std::string statusText(const json& document, int indent) {
    return document.dump(indent, ' ', false, json::error_handler_t::replace);
}

std::optional<pid_t> runningDaemonPid(const fs::path& config_dir) {
    std::ifstream in(runtimeDirFor(config_dir) / "pid");
    pid_t pid = 0;
    if (!(in >> pid) || pid <= 0)
        return std::nullopt;
    // EPERM: it lives, as another user (root) than the caller.
    if (kill(pid, 0) != 0 && errno != EPERM)
        return std::nullopt;
    return pid;
}

std::optional<json> readDaemonAccount(const fs::path& config_dir) {
    auto pid = runningDaemonPid(config_dir);
    if (!pid)
        return std::nullopt;
    std::ifstream in(runtimeDirFor(config_dir) / "status.json");
    json account = json::parse(in, nullptr, false);
    const json* own = memberOf(account, "daemon", json::value_t::object);
    // A file an earlier process left says nothing about this one.
    if (!own || !own->contains("pid") || (*own)["pid"] != json(*pid))
        account = {{"daemon", {{"pid", *pid}}}};
    return account;
}

std::optional<std::string> pinRootOf(const json& account) {
    const json* own = memberOf(account, "daemon", json::value_t::object);
    if (!own)
        return std::nullopt;
    auto it = own->find("pin_root");
    if (it == own->end() || !it->is_string() || it->get_ref<const std::string&>().empty())
        return std::nullopt;
    return it->get<std::string>();
}

} // namespace l3af::daemon
