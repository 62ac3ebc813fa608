#pragma once

// The desired state as the files declare it: plain data, no I/O. Every item
// remembers where it was declared so later errors (plan, apply) can point at
// the file and line too.

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace l3af::config {

using Duration = std::chrono::milliseconds;

struct SourceLocation {
    std::string file;
    uint32_t line = 0;
    uint32_t column = 0;

    // "file:line:column", or "file" when the position is unknown.
    std::string str() const;
};

struct DaemonConfig {
    std::string pin_root = "/sys/fs/bpf/l3af";
    std::string metrics = "127.0.0.1:9469"; // "" turns the endpoint off
    std::string log_level = "info";         // trace|debug|info|warn|error
    SourceLocation where;                   // empty file when no [daemon] table
};

enum class Transport { Udp, Tcp };

struct Collector {
    std::string name;
    std::string address; // an IPv4 or IPv6 literal, validated
    uint16_t port = 4739;
    Transport transport = Transport::Udp;
    uint32_t observation_domain = 1;
    Duration template_refresh = std::chrono::seconds(60);
    uint32_t mtu = 1400; // largest IPFIX message over UDP, in bytes
    Duration reconnect_interval = std::chrono::seconds(60);
    SourceLocation where;
};

enum class Direction { Ingress, Egress, Both };

struct FlowExporter {
    std::string name;
    std::vector<std::string> interfaces;
    Direction direction = Direction::Both;
    std::vector<std::string> collectors; // names of [[collector]] tables
    Duration poll_interval = std::chrono::seconds(1);
    Duration active_timeout = std::chrono::seconds(60);
    Duration idle_timeout = std::chrono::seconds(15);
    uint32_t max_flows = 65536;
    SourceLocation where;
};

// A GUE tunnel to an analysis host; the encapsulation is done in eBPF.
struct Tunnel {
    std::string name;
    std::string type = "gue";
    std::string remote; // IPv4 literal (outer header)
    std::string local;  // IPv4 literal; "" = first address of `device` (runtime)
    std::string device; // the NIC the encapsulated packets leave by
    uint16_t remote_port = 6080;
    std::optional<uint16_t> source_port; // empty: "flow" (hash of the inner 5-tuple)
    bool checksum = false;               // UDP checksum on the outer header
    uint8_t ttl = 64;
    SourceLocation where;
};

struct Cidr {
    uint8_t family = 4;                // 4 or 6
    std::array<uint8_t, 16> address{}; // network byte order, host bits zero
    uint8_t prefix_len = 0;

    bool operator==(const Cidr&) const = default;
    std::string str() const; // "10.0.0.0/8"
};

struct PortRange {
    uint16_t first = 0;
    uint16_t last = 65535;

    bool operator==(const PortRange&) const = default;
};

// IP protocols whose header starts with 16-bit source and destination
// ports: TCP, UDP, SCTP, UDP-Lite. Port matches apply to these only.
constexpr bool carriesPorts(uint8_t protocol) {
    return protocol == 6 || protocol == 17 || protocol == 132 || protocol == 136;
}

// One match: every field present must match; an omitted field matches anything.
// When src and/or dst are given, the rule matches only their address family
// (the loader guarantees both are of one family).
// A rule with src_port or dst_port but no protocol matches only packets
// whose protocol carriesPorts(); with a protocol, the loader guarantees the
// protocol carriesPorts().
struct MirrorRule {
    std::optional<Cidr> src;
    std::optional<Cidr> dst;
    std::optional<uint8_t> protocol;
    std::optional<PortRange> src_port;
    std::optional<PortRange> dst_port;
    SourceLocation where;

    bool operator==(const MirrorRule& o) const {
        return src == o.src && dst == o.dst && protocol == o.protocol && src_port == o.src_port &&
               dst_port == o.dst_port;
    }
};

struct Mirror {
    std::string name;
    std::string interface;
    Direction direction = Direction::Both;
    std::string tunnel;   // name of a [[tunnel]]
    uint32_t snaplen = 0; // 0: whole packet; N: the first N bytes of the frame
    std::vector<MirrorRule> rules;
    SourceLocation where;
};

struct Config {
    DaemonConfig daemon;
    std::vector<Collector> collectors;
    std::vector<FlowExporter> flow_exporters;
    std::vector<Tunnel> tunnels;
    std::vector<Mirror> mirrors;
    std::vector<std::string> files; // the files read, in the order they were merged

    const Collector* findCollector(const std::string& name) const;
    const Tunnel* findTunnel(const std::string& name) const;
};

const char* toString(Transport);
const char* toString(Direction);

} // namespace l3af::config
