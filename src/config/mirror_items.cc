#include "config/mirror_items.h"

#include "config/checks.h"

#include <cctype>
#include <expected>
#include <string>
#include <utility>

namespace l3af::config {

namespace {

constexpr std::string_view kTunnelKeys[] = {
    "name", "type", "remote", "local", "device", "remote_port", "source_port", "checksum", "ttl"};
constexpr std::string_view kMirrorKeys[] = {"name",    "interface", "direction", "tunnel",
                                            "snaplen", "rule",      "priority"};
constexpr std::string_view kRuleKeys[] = {"src", "dst", "protocol", "src_port", "dst_port"};

// The rule matcher is built and measured for this many rules (DESIGN.md 9).
constexpr size_t kMaxRules = 1024;
// The smallest Ethernet frame: it holds the Ethernet, IP and transport
// headers that make a mirrored packet worth decoding.
constexpr int64_t kMinSnaplen = 64;
constexpr int64_t kMaxSnaplen = 65535;

constexpr std::pair<std::string_view, uint8_t> kProtocolNames[] = {
    {"tcp", 6}, {"udp", 17}, {"icmp", 1}, {"icmpv6", 58}};
// Names people write that the files do not take, with the number to write.
constexpr std::pair<std::string_view, uint8_t> kProtocolNumberHints[] = {
    {"sctp", 132}, {"udplite", 136}, {"gre", 47}, {"esp", 50}, {"ah", 51}};
constexpr uint8_t kIcmp = 1;
constexpr uint8_t kIcmpv6 = 58;

std::string lowerCase(std::string_view text) {
    std::string out(text);
    for (char& c : out)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

std::string protocolName(uint8_t protocol) {
    for (const auto& [name, number] : kProtocolNames)
        if (number == protocol)
            return std::string(name);
    return std::to_string(protocol);
}

// An IPv4 literal for the outer header of the tunnel; nullopt (reported)
// when present but wrong, and when absent.
std::optional<std::string> outerAddress(ItemReader& in, std::string_view key) {
    std::optional<std::string> value = in.string(key);
    if (!value)
        return std::nullopt;
    if (isIpv4Literal(*value))
        return value;
    if (isIpv6Literal(*value))
        in.error(*in.get(key), inQuotes(key) +
                                   " must be an IPv4 address (the GUE outer header is IPv4), "
                                   "got \"" +
                                   *value + "\"");
    else
        in.error(*in.get(key), inQuotes(key) +
                                   " must be an IPv4 address such as 198.51.100.7 (host names "
                                   "are not resolved), got \"" +
                                   *value + "\"");
    return std::nullopt;
}

// "flow" (the default, kept as nullopt) or a fixed port.
void readSourcePort(ItemReader& in, Tunnel& tunnel) {
    const toml::node* node = in.get("source_port");
    if (node == nullptr)
        return;
    const std::string expected = "must be \"flow\" (a hash of the inner 5-tuple, for ECMP "
                                 "spreading) or a port number from 1 to 65535";
    if (const auto* text = node->as_string()) {
        if (text->get() != "flow")
            in.error(*node, "'source_port' " + expected + "; got \"" + text->get() + "\"");
        return;
    }
    if (const auto* number = node->as_integer()) {
        if (number->get() < 1 || number->get() > 65535)
            in.error(*node, "'source_port' " + expected + "; got " + std::to_string(number->get()));
        else
            tunnel.source_port = static_cast<uint16_t>(number->get());
        return;
    }
    in.error(*node, "'source_port' " + expected + "; got " + typeName(*node));
}

std::optional<Cidr> readCidr(ItemReader& in, std::string_view key) {
    const toml::node* node = in.get(key);
    if (node == nullptr)
        return std::nullopt;
    const auto* text = node->as_string();
    if (text == nullptr) {
        in.typeError(*node, key, "a CIDR string such as \"10.0.0.0/8\" or \"2001:db8::/32\"");
        return std::nullopt;
    }
    std::expected<Cidr, std::string> cidr = parseCidr(text->get());
    if (!cidr) {
        in.error(*node, inQuotes(key) + ": " + cidr.error());
        return std::nullopt;
    }
    return *cidr;
}

std::optional<uint8_t> readProtocol(ItemReader& in) {
    const toml::node* node = in.get("protocol");
    if (node == nullptr)
        return std::nullopt;
    const std::string expected =
        "must be \"tcp\", \"udp\", \"icmp\", \"icmpv6\" or a protocol number from 0 to 255";
    if (const auto* number = node->as_integer()) {
        if (number->get() >= 0 && number->get() <= 255)
            return static_cast<uint8_t>(number->get());
        in.error(*node, "'protocol' " + expected + "; got " + std::to_string(number->get()));
        return std::nullopt;
    }
    const auto* text = node->as_string();
    if (text == nullptr) {
        in.error(*node, "'protocol' " + expected + "; got " + typeName(*node));
        return std::nullopt;
    }
    for (const auto& [name, number] : kProtocolNames)
        if (name == text->get())
            return number;
    std::string message = "'protocol' " + expected + "; got \"" + text->get() + "\"";
    const std::string lower = lowerCase(text->get());
    for (const auto& [name, number] : kProtocolNames)
        if (name == lower)
            message += " (names are lower case)";
    for (const auto& [name, number] : kProtocolNumberHints)
        if (name == lower)
            message += " (write " + std::to_string(number) + " for " + std::string(name) + ")";
    in.error(*node, message);
    return std::nullopt;
}

std::optional<PortRange> readPortRange(ItemReader& in, std::string_view key) {
    const toml::node* node = in.get(key);
    if (node == nullptr)
        return std::nullopt;
    if (const auto* number = node->as_integer()) {
        if (number->get() >= 0 && number->get() <= 65535)
            return PortRange{static_cast<uint16_t>(number->get()),
                             static_cast<uint16_t>(number->get())};
        in.error(*node,
                 inQuotes(key) + ": ports are 0 to 65535, got " + std::to_string(number->get()));
        return std::nullopt;
    }
    const auto* text = node->as_string();
    if (text == nullptr) {
        in.typeError(*node, key, "a port (443 or \"443\") or a range such as \"1024-65535\"");
        return std::nullopt;
    }
    std::expected<PortRange, std::string> range = parsePortRange(text->get());
    if (!range) {
        in.error(*node, inQuotes(key) + ": " + range.error());
        return std::nullopt;
    }
    return *range;
}

// Combinations that no packet can match are errors: the rule was surely
// meant to match something. Values that did not parse are already reported
// and take no part.
void checkRuleConsistency(ItemReader& in, const MirrorRule& rule) {
    if (rule.src && rule.dst && rule.src->family != rule.dst->family)
        in.error(*in.get("dst"), "src is IPv" + std::to_string(rule.src->family) +
                                     " but dst is IPv" + std::to_string(rule.dst->family) +
                                     ": no packet can match");
    const std::optional<Cidr>& address = rule.src ? rule.src : rule.dst;
    if (rule.protocol && address) {
        if (*rule.protocol == kIcmp && address->family == 6)
            in.error(*in.get("protocol"), "protocol icmp is IPv4's, but the rule's addresses "
                                          "are IPv6: no packet can match (use \"icmpv6\")");
        if (*rule.protocol == kIcmpv6 && address->family == 4)
            in.error(*in.get("protocol"), "protocol icmpv6 is IPv6's, but the rule's addresses "
                                          "are IPv4: no packet can match (use \"icmp\")");
    }
    if (!rule.protocol || carriesPorts(*rule.protocol))
        return;
    for (std::string_view key : {"src_port", "dst_port"})
        if (const toml::node* node = in.get(key))
            in.error(*node, inQuotes(key) +
                                ": ports need protocol tcp or udp (or 132 for sctp, 136 for "
                                "udplite), but 'protocol' is " +
                                protocolName(*rule.protocol));
}

MirrorRule readRule(const toml::table& table, const std::string& label, Reporter& reporter) {
    ItemReader in(table, "[[mirror.rule]]", "", kRuleKeys, reporter);
    in.setLabel(label);
    MirrorRule rule;
    rule.where = in.where();
    rule.src = readCidr(in, "src");
    rule.dst = readCidr(in, "dst");
    rule.protocol = readProtocol(in);
    rule.src_port = readPortRange(in, "src_port");
    rule.dst_port = readPortRange(in, "dst_port");
    checkRuleConsistency(in, rule);
    return rule;
}

void readRules(ItemReader& in, Mirror& mirror) {
    const toml::node* node = in.get("rule");
    if (node == nullptr) {
        in.reporter().error(mirror.where,
                            in.label() + " has no [[mirror.rule]]; it would mirror nothing");
        return;
    }
    if (node->is_table()) {
        in.error(*node, "'rule' must be an array of tables: write [[mirror.rule]], not "
                        "[mirror.rule]");
        return;
    }
    const auto* array = node->as_array();
    if (array == nullptr) {
        in.typeError(*node, "rule", "an array of tables ([[mirror.rule]])");
        return;
    }
    if (array->empty()) {
        in.reporter().error(in.locate(*node),
                            in.label() + " has no [[mirror.rule]]; it would mirror nothing");
        return;
    }
    for (size_t i = 0; i < array->size(); ++i) {
        const toml::node& element = (*array)[i];
        if (i == kMaxRules)
            in.error(element, "more than " + std::to_string(kMaxRules) + " rules (" +
                                  std::to_string(array->size()) + "); one mirror matches at most " +
                                  std::to_string(kMaxRules));
        const auto* table = element.as_table();
        if (table == nullptr) {
            in.error(element,
                     "each 'rule' entry must be a table, got " + std::string(typeName(element)));
            continue;
        }
        mirror.rules.push_back(
            readRule(*table, in.label() + " rule " + std::to_string(i + 1), in.reporter()));
    }
}

// 0 (the whole packet) or a length that keeps the headers.
void readSnaplen(ItemReader& in, Mirror& mirror) {
    const toml::node* node = in.get("snaplen");
    if (node == nullptr)
        return;
    const auto* number = node->as_integer();
    if (number == nullptr) {
        in.typeError(*node, "snaplen", "an integer");
        return;
    }
    const int64_t value = number->get();
    if (value != 0 && (value < kMinSnaplen || value > kMaxSnaplen)) {
        in.error(*node, "'snaplen' must be 0 (the whole packet) or between " +
                            std::to_string(kMinSnaplen) + " and " + std::to_string(kMaxSnaplen) +
                            " (a mirrored packet needs at least its Ethernet, IP and transport "
                            "headers), got " +
                            std::to_string(value));
        return;
    }
    mirror.snaplen = static_cast<uint32_t>(value);
}

} // namespace

std::optional<TunnelEntry> readTunnel(const toml::table& table, Reporter& reporter) {
    ItemReader in(table, "[[tunnel]]", "tunnel", kTunnelKeys, reporter);
    TunnelEntry entry;
    Tunnel& tunnel = entry.item;
    tunnel.where = in.where();
    std::optional<std::string> name = in.name(entry.name_at);
    // GUE is the only encapsulation the datapath writes; the key exists so
    // that a file says what it expects.
    if (auto value = in.choice<std::string_view>("type", {{"gue", "gue"}}))
        tunnel.type = *value;
    if (in.get("remote") == nullptr)
        in.missing("remote");
    else if (auto value = outerAddress(in, "remote"))
        tunnel.remote = *value;
    if (auto value = outerAddress(in, "local"))
        tunnel.local = *value;
    if (auto value = in.interfaceName("device"))
        tunnel.device = *value;
    if (auto value = in.integer("remote_port", 1, 65535))
        tunnel.remote_port = static_cast<uint16_t>(*value);
    readSourcePort(in, tunnel);
    if (auto value = in.boolean("checksum"))
        tunnel.checksum = *value;
    if (auto value = in.integer("ttl", 1, 255))
        tunnel.ttl = static_cast<uint8_t>(*value);
    if (!name)
        return std::nullopt;
    tunnel.name = std::move(*name);
    return entry;
}

std::optional<MirrorEntry> readMirror(const toml::table& table, Reporter& reporter) {
    ItemReader in(table, "[[mirror]]", "mirror", kMirrorKeys, reporter);
    MirrorEntry entry;
    Mirror& mirror = entry.item;
    mirror.where = in.where();
    std::optional<std::string> name = in.name(entry.name_at);
    if (auto value = in.interfaceName("interface")) {
        mirror.interface = *value;
        entry.interface_at = in.locate(*in.get("interface"));
    }
    if (auto value = in.direction("direction"))
        mirror.direction = *value;
    if (in.get("tunnel") == nullptr) {
        in.missing("tunnel");
    } else if (auto value = in.string("tunnel")) {
        mirror.tunnel = *value;
        entry.tunnel_at = in.locate(*in.get("tunnel"));
    }
    readSnaplen(in, mirror);
    if (auto value = in.integer("priority", 1, kMaxPriority))
        mirror.priority = static_cast<uint32_t>(*value);
    readRules(in, mirror);
    if (!name)
        return std::nullopt;
    mirror.name = std::move(*name);
    return entry;
}

} // namespace l3af::config
