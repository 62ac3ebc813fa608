#include "config/model.h"

#include <arpa/inet.h>
#include <sys/socket.h>

namespace l3af::config {

std::string SourceLocation::str() const {
    if (line == 0)
        return file;
    return file + ":" + std::to_string(line) + ":" + std::to_string(column);
}

const Collector* Config::findCollector(const std::string& name) const {
    for (const Collector& collector : collectors)
        if (collector.name == name)
            return &collector;
    return nullptr;
}

const Tunnel* Config::findTunnel(const std::string& name) const {
    for (const Tunnel& tunnel : tunnels)
        if (tunnel.name == name)
            return &tunnel;
    return nullptr;
}

std::string Cidr::str() const {
    char text[INET6_ADDRSTRLEN] = "?";
    inet_ntop(family == 4 ? AF_INET : AF_INET6, address.data(), text, sizeof text);
    return std::string(text) + "/" + std::to_string(prefix_len);
}

const char* toString(Transport transport) {
    switch (transport) {
    case Transport::Udp:
        return "udp";
    case Transport::Tcp:
        return "tcp";
    }
    return "?";
}

const char* toString(Direction direction) {
    switch (direction) {
    case Direction::Ingress:
        return "ingress";
    case Direction::Egress:
        return "egress";
    case Direction::Both:
        return "both";
    }
    return "?";
}

const char* toString(ProgramHook hook) {
    switch (hook) {
    case ProgramHook::Xdp:
        return "xdp";
    case ProgramHook::TcIngress:
        return "tc-ingress";
    case ProgramHook::TcEgress:
        return "tc-egress";
    }
    return "?";
}

const char* toString(TcMode mode) {
    switch (mode) {
    case TcMode::Auto:
        return "auto";
    case TcMode::Tcx:
        return "tcx";
    case TcMode::Legacy:
        return "legacy";
    }
    return "?";
}

} // namespace l3af::config
