#include "daemon/desired.h"

#include "kernel/flow_function.h"
#include "kernel/mirror_function.h"
#include "kernel/netlink.h"

#include <arpa/inet.h>
#include <net/if.h>

namespace l3af::daemon {

namespace {

std::vector<plan::Hook> hooksFor(config::Direction direction) {
    switch (direction) {
    case config::Direction::Ingress:
        return {plan::Hook::TcIngress};
    case config::Direction::Egress:
        return {plan::Hook::TcEgress};
    case config::Direction::Both:
        break;
    }
    return {plan::Hook::TcIngress, plan::Hook::TcEgress};
}

std::string ipv4String(uint32_t address) {
    char buf[INET_ADDRSTRLEN] = {};
    inet_ntop(AF_INET, &address, buf, sizeof buf);
    return buf;
}

void addFlowExporters(const config::Config& config, DesiredState& out) {
    for (const config::FlowExporter& exporter : config.flow_exporters) {
        plan::FlowExporterSpec spec{exporter.max_flows};
        plan::DesiredFunction function{
            kernel::kFlowExporterKind, exporter.name, kernel::flowRevision(spec), spec, {}, {}};
        for (const std::string& interface : exporter.interfaces) {
            for (plan::Hook hook : hooksFor(exporter.direction))
                function.attachments.push_back({interface, hook});
        }
        out.desired.functions.push_back(std::move(function));
    }
}

void hold(DesiredState& out, const char* kind, const std::string& name, std::string why) {
    out.desired.held.push_back({kind, name});
    out.waiting.push_back(std::string(kind) + " '" + name + "': " + std::move(why));
}

void addTunnels(const config::Config& config, const KernelFacts& facts, DesiredState& out) {
    for (const config::Tunnel& tunnel : config.tunnels) {
        const auto device = facts.ifindex(tunnel.device);
        if (!device) {
            hold(out, kernel::kTunnelKind, tunnel.name,
                 "waiting for device " + tunnel.device + " to appear");
            continue;
        }
        std::string local = tunnel.local;
        if (local.empty()) {
            const auto address = facts.firstIpv4(*device);
            if (!address) {
                out.errors.push_back(tunnel.where.str() + ": error: tunnel '" + tunnel.name +
                                     "': device " + tunnel.device +
                                     " has no IPv4 address and 'local' is not set");
                out.desired.held.push_back({kernel::kTunnelKind, tunnel.name});
                continue;
            }
            local = ipv4String(*address);
        }
        auto gue = mirror::gueSettings(tunnel, local, *device);
        if (!gue) {
            out.errors.push_back(tunnel.where.str() + ": error: tunnel '" + tunnel.name +
                                 "': " + gue.error().message());
            out.desired.held.push_back({kernel::kTunnelKind, tunnel.name});
            continue;
        }
        plan::TunnelSpec spec{*gue, kernel::tunnelDeviceName(tunnel.name),
                              kernel::tunnelPeerName(tunnel.name)};
        plan::DesiredFunction function{kernel::kTunnelKind,
                                       tunnel.name,
                                       kernel::tunnelRevision(spec),
                                       spec,
                                       {{spec.peer, plan::Hook::TcIngress}},
                                       {spec.device, spec.peer}};
        out.desired.functions.push_back(std::move(function));
    }
}

void addMirrors(const config::Config& config, const KernelFacts& facts, DesiredState& out) {
    for (const config::Mirror& mirror : config.mirrors) {
        const std::string device = kernel::tunnelDeviceName(mirror.tunnel);
        const auto tunnel = facts.ifindex(device);
        if (!tunnel) {
            // Usually the tunnel is being created by this same reconcile: the
            // mirror follows in its next round, once the device exists.
            hold(out, kernel::kMirrorKind, mirror.name,
                 "follows tunnel '" + mirror.tunnel + "': loaded once " + device +
                     " exists (apply creates it first)");
            continue;
        }
        plan::MirrorSpec spec{*tunnel, mirror.snaplen, mirror.rules};
        plan::DesiredFunction function{
            kernel::kMirrorKind, mirror.name, kernel::mirrorRevision(spec), spec, {}, {}};
        for (plan::Hook hook : hooksFor(mirror.direction))
            function.attachments.push_back({mirror.interface, hook});
        out.desired.functions.push_back(std::move(function));
    }
}

} // namespace

KernelFacts liveKernelFacts() {
    KernelFacts facts;
    facts.ifindex = [](const std::string& name) -> std::optional<uint32_t> {
        const unsigned index = if_nametoindex(name.c_str());
        if (index == 0)
            return std::nullopt;
        return index;
    };
    facts.firstIpv4 = [](uint32_t ifindex) -> std::optional<uint32_t> {
        auto netlink = kernel::Netlink::open();
        if (!netlink)
            return std::nullopt;
        auto address = netlink->firstIpv4Address(ifindex);
        if (!address)
            return std::nullopt;
        return *address;
    };
    return facts;
}

DesiredState desiredState(const config::Config& config, const KernelFacts& facts) {
    DesiredState out;
    addFlowExporters(config, out);
    addTunnels(config, facts, out);
    addMirrors(config, facts, out);
    return out;
}

} // namespace l3af::daemon
