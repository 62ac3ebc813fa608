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

// How TC hooks are attached: TCX links where the kernel has them (6.6+), or
// cls_bpf filters on a clsact qdisc ("legacy"; forced for tests and for
// kernels without TCX).
enum class TcMode { Auto, Tcx, Legacy };

struct DaemonConfig {
    std::string pin_root = "/sys/fs/bpf/l3af";
    std::string metrics = "127.0.0.1:9469"; // "" turns the endpoint off
    std::string log_level = "info";         // trace|debug|info|warn|error
    TcMode tc_mode = TcMode::Auto;          // key `tc_mode`: "auto" | "tcx" | "legacy"
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

// `priority` orders the functions on one hook: lower runs earlier. The
// observers run first by default so that they see every packet a later
// program may drop or redirect. Range 1..65535 (cls_bpf's prio is 16 bits).
inline constexpr uint32_t kFlowExporterPriority = 10;
inline constexpr uint32_t kMirrorPriority = 20;
inline constexpr uint32_t kProgramPriority = 100;
inline constexpr uint32_t kMaxPriority = 65535;

struct FlowExporter {
    std::string name;
    std::vector<std::string> interfaces;
    Direction direction = Direction::Both;
    std::vector<std::string> collectors; // names of [[collector]] tables
    Duration poll_interval = std::chrono::seconds(1);
    Duration active_timeout = std::chrono::seconds(60);
    Duration idle_timeout = std::chrono::seconds(15);
    uint32_t max_flows = 65536;
    uint32_t priority = kFlowExporterPriority; // place among the programs on its hooks
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
    uint32_t priority = kMirrorPriority;
    SourceLocation where;
};

// A value of a [[program]] map entry as the file wrote it. It is encoded
// through the map's BTF once the object file is read (kernel/program_object),
// and errors then point at the value's own position.
struct MapValue {
    enum class Kind { Integer, Boolean, String, Array, Table };
    Kind kind = Kind::Integer;
    int64_t integer = 0;                                  // Integer; Boolean as 0/1
    std::string text;                                     // String
    std::vector<MapValue> items;                          // Array
    std::vector<std::pair<std::string, MapValue>> fields; // Table, in file order
    SourceLocation where;

    bool operator==(const MapValue& o) const {
        return kind == o.kind && integer == o.integer && text == o.text && items == o.items &&
               fields == o.fields;
    }
};

struct MapEntry {
    MapValue key;
    MapValue value;
    SourceLocation where; // the entry's inline table
};

// [program.maps.NAME]: entries written into the map NAME of the object.
struct ProgramMap {
    std::string name;
    std::vector<MapEntry> entries;
    SourceLocation where;
};

enum class ProgramHook { Xdp, TcIngress, TcEgress };

// [[program]]: any eBPF program from an object file on disk.
struct Program {
    std::string name;
    std::string object;   // absolute path of the ELF object
    std::string function; // the program's function name in the object
    ProgramHook hook = ProgramHook::TcIngress;
    std::vector<std::string> interfaces;
    uint32_t priority = kProgramPriority;
    bool enabled = true;
    std::vector<ProgramMap> maps; // in file order
    SourceLocation where;
    SourceLocation object_at;   // the `object` value
    SourceLocation function_at; // the `function` value
    SourceLocation hook_at;     // the `hook` value
};

struct Config {
    DaemonConfig daemon;
    std::vector<Collector> collectors;
    std::vector<FlowExporter> flow_exporters;
    std::vector<Tunnel> tunnels;
    std::vector<Mirror> mirrors;
    std::vector<Program> programs;
    std::vector<std::string> files; // the files read, in the order they were merged

    const Collector* findCollector(const std::string& name) const;
    const Tunnel* findTunnel(const std::string& name) const;
};

const char* toString(Transport);
const char* toString(Direction);
const char* toString(ProgramHook);
const char* toString(TcMode);

} // namespace l3af::config
