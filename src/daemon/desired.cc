#include "daemon/desired.h"

#include "kernel/flow_function.h"
#include "kernel/mirror_function.h"
#include "kernel/netlink.h"
#include "kernel/program_object.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <sys/utsname.h>

#include <cstdio>

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
            kernel::kFlowExporterKind, exporter.name, kernel::flowRevision(spec), spec, {}, {},
            exporter.priority};
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
            kernel::kMirrorKind, mirror.name, kernel::mirrorRevision(spec), spec, {}, {},
            mirror.priority};
        for (plan::Hook hook : hooksFor(mirror.direction))
            function.attachments.push_back({mirror.interface, hook});
        out.desired.functions.push_back(std::move(function));
    }
}

plan::Hook hookOf(config::ProgramHook hook) {
    switch (hook) {
    case config::ProgramHook::Xdp:
        return plan::Hook::Xdp;
    case config::ProgramHook::TcEgress:
        return plan::Hook::TcEgress;
    case config::ProgramHook::TcIngress:
        break;
    }
    return plan::Hook::TcIngress;
}

void addPrograms(const config::Config& config, const kernel::ResolvedPrograms& resolved,
                 DesiredState& out) {
    for (const config::Diagnostic& d : resolved.errors)
        out.errors.push_back(d.str());
    for (const config::Program& program : config.programs) {
        auto it = resolved.specs.find(program.name);
        if (it == resolved.specs.end()) {
            // Whatever of it runs stays as it is until its object is fixed.
            out.desired.held.push_back({kernel::kProgramKind, program.name});
            continue;
        }
        const plan::ProgramSpec& spec = it->second;
        plan::DesiredFunction function{
            kernel::kProgramKind, program.name, kernel::programRevision(spec), spec, {}, {},
            program.priority};
        // Disabled: detached everywhere, but kept loaded with its maps.
        if (program.enabled) {
            for (const std::string& interface : program.interfaces)
                function.attachments.push_back({interface, hookOf(program.hook)});
        }
        out.desired.functions.push_back(std::move(function));
    }
}

// TCX arrived in Linux 6.6.
bool kernelHasTcx() {
    struct utsname u {};
    int major = 0, minor = 0;
    if (uname(&u) != 0 || std::sscanf(u.release, "%d.%d", &major, &minor) != 2)
        return true;
    return major > 6 || (major == 6 && minor >= 6);
}

} // namespace

config::LoadResult loadConfiguration(const std::filesystem::path& path) {
    std::error_code ec;
    auto loaded = std::filesystem::is_directory(path, ec) ? config::loadDirectory(path)
                                                          : config::loadFiles({path});
    if (!loaded || loaded->programs.empty())
        return loaded;
    kernel::ResolvedPrograms resolved = kernel::resolvePrograms(*loaded);
    if (!resolved.errors.empty())
        return std::unexpected(std::move(resolved.errors));
    return loaded;
}

plan::Mechanism tcMechanism(config::TcMode mode) {
    switch (mode) {
    case config::TcMode::Tcx:
        return plan::Mechanism::Tcx;
    case config::TcMode::Legacy:
        return plan::Mechanism::ClsBpf;
    case config::TcMode::Auto:
        break;
    }
    return kernelHasTcx() ? plan::Mechanism::Tcx : plan::Mechanism::ClsBpf;
}

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
    return desiredState(config, facts, kernel::resolvePrograms(config));
}

DesiredState desiredState(const config::Config& config, const KernelFacts& facts,
                          const kernel::ResolvedPrograms& programs) {
    DesiredState out;
    out.desired.tc_mechanism = tcMechanism(config.daemon.tc_mode);
    addFlowExporters(config, out);
    addTunnels(config, facts, out);
    addMirrors(config, facts, out);
    addPrograms(config, programs, out);
    return out;
}

} // namespace l3af::daemon
