#include "config/document.h"

#include "config/checks.h"
#include "config/duration.h"
#include "config/item_reader.h"
#include "config/mirror_items.h"
#include "config/program_items.h"

#include <toml++/toml.h>

#include <cstdint>
#include <limits>
#include <utility>

namespace l3af::config {

namespace {

constexpr std::string_view kTopLevelKeys[] = {"daemon", "collector", "flow_exporter",
                                              "tunnel", "mirror",    "program"};
constexpr std::string_view kDaemonKeys[] = {"pin_root", "metrics", "log_level", "tc_mode"};
constexpr std::string_view kCollectorKeys[] = {
    "name", "address",           "port", "transport", "observation_domain", "template_refresh",
    "mtu",  "reconnect_interval"};
constexpr std::string_view kFlowExporterKeys[] = {"name",         "interfaces",    "direction",
                                                  "collectors",   "poll_interval", "active_timeout",
                                                  "idle_timeout", "max_flows",     "priority"};

// An IPFIX message must hold its 16-byte header plus a template set; its
// length field is 16 bits.
constexpr int64_t kMinMtu = 512;
constexpr int64_t kMaxMtu = 65535;
constexpr int64_t kMaxFlows = 16 * 1024 * 1024;

DaemonConfig readDaemon(const toml::table& table, Reporter& reporter) {
    ItemReader in(table, "[daemon]", "[daemon]", kDaemonKeys, reporter);
    DaemonConfig daemon;
    daemon.where = in.where();
    if (auto value = in.string("pin_root")) {
        if (!value->starts_with('/'))
            in.error(*in.get("pin_root"),
                     "'pin_root' must be an absolute path, got \"" + *value + "\"");
        daemon.pin_root = *value;
    }
    if (auto value = in.string("metrics")) {
        if (!value->empty())
            if (auto problem = listenAddressProblem(*value))
                in.error(*in.get("metrics"),
                         "'metrics' must be \"\" (off) or \"address:port\" with an IP literal, "
                         "as in \"127.0.0.1:9469\" or \"[::1]:9469\"; got \"" +
                             *value + "\": " + *problem);
        daemon.metrics = *value;
    }
    if (auto value = in.choice<std::string_view>("log_level", {{"trace", "trace"},
                                                               {"debug", "debug"},
                                                               {"info", "info"},
                                                               {"warn", "warn"},
                                                               {"error", "error"}}))
        daemon.log_level = *value;
    if (auto value = in.choice<TcMode>(
            "tc_mode", {{"auto", TcMode::Auto}, {"tcx", TcMode::Tcx}, {"legacy", TcMode::Legacy}}))
        daemon.tc_mode = *value;
    return daemon;
}

std::optional<CollectorEntry> readCollector(const toml::table& table, Reporter& reporter) {
    ItemReader in(table, "[[collector]]", "collector", kCollectorKeys, reporter);
    CollectorEntry entry;
    Collector& collector = entry.item;
    collector.where = in.where();
    std::optional<std::string> name = in.name(entry.name_at);
    if (const toml::node* node = in.get("address"); node == nullptr) {
        in.missing("address");
    } else if (auto value = in.string("address")) {
        if (!isIpLiteral(*value))
            in.error(*node, "'address' must be an IPv4 or IPv6 literal such as 192.0.2.10 or "
                            "2001:db8::10 (host names are not resolved), got \"" +
                                *value + "\"");
        collector.address = *value;
    }
    if (auto value = in.integer("port", 1, 65535))
        collector.port = static_cast<uint16_t>(*value);
    if (auto value =
            in.choice<Transport>("transport", {{"udp", Transport::Udp}, {"tcp", Transport::Tcp}}))
        collector.transport = *value;
    if (auto value = in.integer("observation_domain", 0, std::numeric_limits<uint32_t>::max()))
        collector.observation_domain = static_cast<uint32_t>(*value);
    if (auto value = in.duration("template_refresh"))
        collector.template_refresh = *value;
    if (auto value = in.integer("mtu", kMinMtu, kMaxMtu,
                                "an IPFIX message must hold its header and a template set, "
                                "and its length field is 16 bits"))
        collector.mtu = static_cast<uint32_t>(*value);
    if (auto value = in.duration("reconnect_interval"))
        collector.reconnect_interval = *value;
    if (!name)
        return std::nullopt;
    collector.name = std::move(*name);
    return entry;
}

// Expiry is decided when the table is polled, so a timeout shorter than the
// poll interval could never be honoured.
void checkTimeoutsAgainstPoll(ItemReader& in, const FlowExporter& exporter) {
    for (auto [key, timeout] : {std::pair{"active_timeout", exporter.active_timeout},
                                std::pair{"idle_timeout", exporter.idle_timeout}}) {
        if (timeout >= exporter.poll_interval)
            continue;
        const toml::node* at = in.get(key);
        std::string message = inQuotes(key) + " (" + formatDuration(timeout) +
                              (at == nullptr ? ", the default" : "") +
                              ") is shorter than 'poll_interval' (" +
                              formatDuration(exporter.poll_interval) +
                              "); flows can only expire when the table is polled";
        in.error(at != nullptr ? *at : *in.get("poll_interval"), message);
    }
}

std::optional<FlowExporterEntry> readFlowExporter(const toml::table& table, Reporter& reporter) {
    ItemReader in(table, "[[flow_exporter]]", "flow_exporter", kFlowExporterKeys, reporter);
    FlowExporterEntry entry;
    FlowExporter& exporter = entry.item;
    exporter.where = in.where();
    std::optional<std::string> name = in.name(entry.name_at);
    if (auto list = in.interfaceList("interfaces"))
        for (auto& [interface, at] : *list) {
            exporter.interfaces.push_back(std::move(interface));
            entry.interface_at.push_back(std::move(at));
        }
    if (auto value = in.direction("direction"))
        exporter.direction = *value;
    if (auto list = in.stringList("collectors", "collector")) {
        if (in.checkUnique(*list, "collectors", "collector"))
            for (auto& [collector, at] : *list) {
                exporter.collectors.push_back(std::move(collector));
                entry.collector_at.push_back(std::move(at));
            }
    }
    bool durations_ok = true;
    for (auto [key, field] : {std::pair{"poll_interval", &exporter.poll_interval},
                              std::pair{"active_timeout", &exporter.active_timeout},
                              std::pair{"idle_timeout", &exporter.idle_timeout}}) {
        if (in.get(key) == nullptr)
            continue;
        if (auto value = in.duration(key))
            *field = *value;
        else
            durations_ok = false;
    }
    if (durations_ok)
        checkTimeoutsAgainstPoll(in, exporter);
    if (auto value = in.integer("max_flows", 1, kMaxFlows))
        exporter.max_flows = static_cast<uint32_t>(*value);
    if (auto value = in.integer("priority", 1, kMaxPriority))
        exporter.priority = static_cast<uint32_t>(*value);
    if (!name)
        return std::nullopt;
    exporter.name = std::move(*name);
    return entry;
}

// Calls read(table) for each [[kind]] table under the top-level key.
template <typename Read>
void forEachItem(std::string_view kind, const toml::node& node, Reporter& reporter, Read read) {
    const std::string header = "[[" + std::string(kind) + "]]";
    if (node.is_table()) {
        reporter.error(node.source(), inQuotes(kind) + " must be an array of tables: write " +
                                          header + ", not [" + std::string(kind) + "]");
        return;
    }
    const auto* array = node.as_array();
    if (array == nullptr) {
        reporter.error(node.source(), inQuotes(kind) + " must be an array of tables (" + header +
                                          "), got " + typeName(node));
        return;
    }
    for (const toml::node& element : *array) {
        if (const auto* table = element.as_table())
            read(*table);
        else
            reporter.error(element.source(), "each " + inQuotes(kind) +
                                                 " entry must be a table, got " +
                                                 typeName(element));
    }
}

void readRoot(const toml::table& root, Document& document, Reporter& reporter) {
    for (auto&& [key, node] : root) {
        const std::string_view name = key.str();
        if (name == "daemon") {
            if (const auto* table = node.as_table())
                document.daemon = readDaemon(*table, reporter);
            else
                reporter.error(node.source(),
                               std::string("'daemon' must be a single [daemon] "
                                           "table, got ") +
                                   (node.is_array() ? "an array ([[daemon]])" : typeName(node)));
        } else if (name == "collector") {
            forEachItem(name, node, reporter, [&](const toml::table& table) {
                if (auto entry = readCollector(table, reporter))
                    document.collectors.push_back(std::move(*entry));
            });
        } else if (name == "flow_exporter") {
            forEachItem(name, node, reporter, [&](const toml::table& table) {
                if (auto entry = readFlowExporter(table, reporter))
                    document.flow_exporters.push_back(std::move(*entry));
            });
        } else if (name == "tunnel") {
            forEachItem(name, node, reporter, [&](const toml::table& table) {
                if (auto entry = readTunnel(table, reporter))
                    document.tunnels.push_back(std::move(*entry));
            });
        } else if (name == "mirror") {
            forEachItem(name, node, reporter, [&](const toml::table& table) {
                if (auto entry = readMirror(table, reporter))
                    document.mirrors.push_back(std::move(*entry));
            });
        } else if (name == "program") {
            forEachItem(name, node, reporter, [&](const toml::table& table) {
                if (auto entry = readProgram(table, reporter))
                    document.programs.push_back(std::move(*entry));
            });
        } else {
            reporter.error(key.source(),
                           unknownKeyMessage(name, "at the top level", kTopLevelKeys));
        }
    }
}

} // namespace

Document readDocument(std::string_view text, const std::string& file,
                      std::vector<Diagnostic>& diagnostics) {
    Document document;
    document.file = file;
    Reporter reporter(file, diagnostics);
    toml::table root;
    try {
        root = toml::parse(text, std::string_view(file));
    } catch (const toml::parse_error& error) {
        reporter.error(error.source(), std::string(error.description()));
        return document;
    }
    document.parsed = true;
    readRoot(root, document, reporter);
    return document;
}

} // namespace l3af::config
