#include "config/document.h"

#include "config/checks.h"
#include "config/duration.h"

#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <span>
#include <utility>

namespace l3af::config {

namespace {

constexpr std::string_view kTopLevelKeys[] = {"daemon", "collector", "flow_exporter"};
// Kinds that DESIGN.md describes but this daemon does not run yet: refused,
// so nobody believes they are active.
constexpr std::string_view kFutureKinds[] = {"tunnel", "mirror", "program"};
constexpr std::string_view kDaemonKeys[] = {"pin_root", "metrics", "log_level"};
constexpr std::string_view kCollectorKeys[] = {
    "name", "address",           "port", "transport", "observation_domain", "template_refresh",
    "mtu",  "reconnect_interval"};
constexpr std::string_view kFlowExporterKeys[] = {"name",         "interfaces",    "direction",
                                                  "collectors",   "poll_interval", "active_timeout",
                                                  "idle_timeout", "max_flows"};

// An IPFIX message must hold its 16-byte header plus a template set; its
// length field is 16 bits.
constexpr int64_t kMinMtu = 512;
constexpr int64_t kMaxMtu = 65535;
constexpr int64_t kMaxFlows = 16 * 1024 * 1024;

template <typename T> using Choices = std::initializer_list<std::pair<std::string_view, T>>;

const char* typeName(const toml::node& node) {
    switch (node.type()) {
    case toml::node_type::table:
        return "table";
    case toml::node_type::array:
        return "array";
    case toml::node_type::string:
        return "string";
    case toml::node_type::integer:
        return "integer";
    case toml::node_type::floating_point:
        return "float";
    case toml::node_type::boolean:
        return "boolean";
    case toml::node_type::date:
        return "date";
    case toml::node_type::time:
        return "time";
    case toml::node_type::date_time:
        return "date-time";
    case toml::node_type::none:
        break;
    }
    return "nothing";
}

std::string inQuotes(std::string_view text) {
    return "'" + std::string(text) + "'";
}

std::string joined(std::span<const std::string_view> words) {
    std::string out;
    for (std::string_view word : words) {
        if (!out.empty())
            out += ", ";
        out += word;
    }
    return out;
}

// "unknown key 'prot' in [[collector]]; expected one of: ... (did you mean 'port'?)"
std::string unknownKeyMessage(std::string_view key, std::string_view where,
                              std::span<const std::string_view> allowed) {
    std::string message = "unknown key " + inQuotes(key) + " " + std::string(where) +
                          "; expected one of: " + joined(allowed);
    std::string_view closest;
    size_t best = 3; // more than two edits away is not a typo
    for (std::string_view candidate : allowed) {
        const size_t distance = editDistance(key, candidate);
        if (distance < best && distance < candidate.size()) {
            best = distance;
            closest = candidate;
        }
    }
    if (!closest.empty())
        message += " (did you mean " + inQuotes(closest) + "?)";
    return message;
}

class Reporter {
  public:
    Reporter(const std::string& file, std::vector<Diagnostic>& out) : file_(file), out_(out) {}

    SourceLocation locate(const toml::source_region& region) const {
        return SourceLocation{file_, region.begin.line, region.begin.column};
    }
    void error(const toml::source_region& at, std::string message) {
        error(locate(at), std::move(message));
    }
    void error(SourceLocation at, std::string message) {
        out_.push_back(Diagnostic{std::move(at), std::move(message)});
    }

  private:
    const std::string& file_;
    std::vector<Diagnostic>& out_;
};

// Reads the keys of one item's table ([daemon], one [[collector]], ...):
// reports unknown keys, missing and mistyped values, and prefixes every
// message with the item ("collector 'soc': ...").
class ItemReader {
  public:
    ItemReader(const toml::table& table, std::string header, std::string kind,
               std::span<const std::string_view> allowed, Reporter& reporter)
        : table_(table), header_(std::move(header)), kind_(std::move(kind)), label_(header_),
          reporter_(reporter) {
        for (auto&& [key, node] : table_)
            if (std::ranges::find(allowed, key.str()) == allowed.end())
                reporter_.error(key.source(),
                                unknownKeyMessage(key.str(), "in " + header_, allowed));
    }

    const toml::node* get(std::string_view key) const { return table_.get(key); }
    SourceLocation where() const { return reporter_.locate(table_.source()); }

    void error(const toml::node& at, const std::string& message) {
        reporter_.error(at.source(), label_ + ": " + message);
    }
    void error(const SourceLocation& at, const std::string& message) {
        reporter_.error(at, label_ + ": " + message);
    }
    void missing(std::string_view key) {
        reporter_.error(table_.source(), header_ + " is missing required key " + inQuotes(key));
    }

    // The item's name, required for every kind but [daemon]; from here on
    // messages say "collector 'soc'" instead of "[[collector]]".
    std::optional<std::string> name(SourceLocation& at) {
        const toml::node* node = get("name");
        if (node == nullptr) {
            missing("name");
            return std::nullopt;
        }
        std::optional<std::string> value = string("name");
        if (!value)
            return std::nullopt;
        at = reporter_.locate(node->source());
        if (!isValidItemName(*value))
            error(*node, "name " + inQuotes(*value) +
                             " is invalid: use 1 to 32 characters from A-Z a-z 0-9 _ - (it "
                             "becomes a directory name under pin_root)");
        // Even an invalid name identifies the item better than its header.
        label_ = kind_ + " " + inQuotes(*value);
        return value;
    }

    std::optional<std::string> string(std::string_view key) {
        const toml::node* node = get(key);
        if (node == nullptr)
            return std::nullopt;
        if (const auto* value = node->as_string())
            return value->get();
        typeError(*node, key, "a string");
        return std::nullopt;
    }

    std::optional<int64_t> integer(std::string_view key, int64_t min, int64_t max,
                                   std::string_view why = {}) {
        const toml::node* node = get(key);
        if (node == nullptr)
            return std::nullopt;
        const auto* value = node->as_integer();
        if (value == nullptr) {
            typeError(*node, key, "an integer");
            return std::nullopt;
        }
        if (value->get() < min || value->get() > max) {
            std::string message = inQuotes(key) + " must be between " + std::to_string(min) +
                                  " and " + std::to_string(max);
            if (!why.empty())
                message += " (" + std::string(why) + ")";
            error(*node, message + ", got " + std::to_string(value->get()));
            return std::nullopt;
        }
        return value->get();
    }

    // A positive duration such as "15s".
    std::optional<Duration> duration(std::string_view key) {
        const toml::node* node = get(key);
        if (node == nullptr)
            return std::nullopt;
        const auto* text = node->as_string();
        if (text == nullptr) {
            typeError(*node, key, "a duration string such as \"15s\"");
            return std::nullopt;
        }
        const std::optional<Duration> value = parseDuration(text->get());
        if (!value) {
            error(*node, inQuotes(key) +
                             " must be a duration: one or more <integer><unit> groups with units "
                             "ms, s, m, h, as in \"500ms\", \"15s\" or \"1m30s\"; got \"" +
                             text->get() + "\"");
            return std::nullopt;
        }
        if (value->count() == 0) {
            error(*node, inQuotes(key) + " must be greater than zero");
            return std::nullopt;
        }
        return value;
    }

    template <typename T> std::optional<T> choice(std::string_view key, Choices<T> choices) {
        std::optional<std::string> text = string(key);
        if (!text)
            return std::nullopt;
        std::string expected;
        for (const auto& [word, value] : choices) {
            if (word == *text)
                return value;
            expected += (expected.empty() ? "\"" : ", \"") + std::string(word) + "\"";
        }
        std::string message =
            inQuotes(key) + " must be one of " + expected + "; got \"" + *text + "\"";
        if (std::ranges::any_of(choices, [&](const auto& choice) {
                return std::ranges::equal(choice.first, *text, [](char a, char b) {
                    return a == std::tolower(static_cast<unsigned char>(b));
                });
            }))
            message += " (values are lower case)";
        error(*get(key), message);
        return std::nullopt;
    }

    // A non-empty array of strings, each paired with its position; what
    // names one entry ("interface") for the messages.
    std::optional<std::vector<std::pair<std::string, SourceLocation>>>
    stringList(std::string_view key, std::string_view what) {
        const toml::node* node = get(key);
        if (node == nullptr) {
            missing(key);
            return std::nullopt;
        }
        const auto* array = node->as_array();
        if (array == nullptr) {
            typeError(*node, key, "an array of strings");
            return std::nullopt;
        }
        if (array->empty()) {
            error(*node, inQuotes(key) + " must list at least one " + std::string(what));
            return std::nullopt;
        }
        std::vector<std::pair<std::string, SourceLocation>> out;
        bool ok = true;
        for (const toml::node& element : *array) {
            if (const auto* text = element.as_string()) {
                out.emplace_back(text->get(), reporter_.locate(element.source()));
            } else {
                error(element,
                      inQuotes(key) + " entries must be strings, got " + typeName(element));
                ok = false;
            }
        }
        if (!ok)
            return std::nullopt;
        return out;
    }

    // Reports "listed twice" for the later copies; returns whether none were.
    bool checkUnique(std::span<const std::pair<std::string, SourceLocation>> list,
                     std::string_view key, std::string_view what) {
        bool unique = true;
        for (size_t i = 0; i < list.size(); ++i)
            for (size_t j = 0; j < i; ++j)
                if (list[i].first == list[j].first) {
                    error(list[i].second, std::string(what) + " " + inQuotes(list[i].first) +
                                              " is listed twice in " + inQuotes(key));
                    unique = false;
                    break;
                }
        return unique;
    }

  private:
    void typeError(const toml::node& node, std::string_view key, std::string_view expected) {
        error(node,
              inQuotes(key) + " must be " + std::string(expected) + ", got " + typeName(node));
    }

    const toml::table& table_;
    std::string header_;
    std::string kind_;
    std::string label_;
    Reporter& reporter_;
};

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
    if (auto list = in.stringList("interfaces", "interface")) {
        const bool unique = in.checkUnique(*list, "interfaces", "interface");
        for (const auto& [interface, at] : *list)
            if (!isValidInterfaceName(interface))
                in.error(at, inQuotes(interface) +
                                 " is not a valid interface name (1 to 15 bytes, no '/', ':' or "
                                 "whitespace, not '.' or '..')");
        if (unique)
            for (auto& [interface, at] : *list) {
                exporter.interfaces.push_back(std::move(interface));
                entry.interface_at.push_back(std::move(at));
            }
    }
    if (auto value = in.choice<Direction>("direction", {{"ingress", Direction::Ingress},
                                                        {"egress", Direction::Egress},
                                                        {"both", Direction::Both}}))
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
        } else if (std::ranges::find(kFutureKinds, name) != std::end(kFutureKinds)) {
            reporter.error(key.source(), inQuotes(name) + " is not supported yet");
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
