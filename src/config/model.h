#pragma once

// The desired state as the files declare it: plain data, no I/O. Every item
// remembers where it was declared so later errors (plan, apply) can point at
// the file and line too.

#include <chrono>
#include <cstdint>
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

struct Config {
    DaemonConfig daemon;
    std::vector<Collector> collectors;
    std::vector<FlowExporter> flow_exporters;
    std::vector<std::string> files; // the files read, in the order they were merged

    const Collector* findCollector(const std::string& name) const;
};

const char* toString(Transport);
const char* toString(Direction);

} // namespace l3af::config
