#pragma once

// Desired and observed state as the reconcile core sees them: functions (one
// loaded eBPF object each, identified by kind and name) and the hooks they are
// attached to. Plain data; the plan is computed from these two alone.

#include "config/model.h"
#include "mirror/tunnel.h"

#include <compare>
#include <cstdint>
#include <set>
#include <string>
#include <variant>
#include <vector>

namespace l3af::plan {

enum class Hook { TcIngress, TcEgress, Xdp };
const char* toString(Hook);

struct Attachment {
    std::string interface;
    Hook hook = Hook::TcIngress;

    auto operator<=>(const Attachment&) const = default;
    std::string str() const; // "eth0 tc-ingress"
};

// What the kernel side needs to load a flow exporter's program and maps.
struct FlowExporterSpec {
    uint32_t max_flows = 65536;
};
// A GUE tunnel: its encapsulation program and the veth pair behind it.
struct TunnelSpec {
    mirror::GueSettings gue;
    std::string device; // the veth operators see: l3t-<name>
    std::string peer;   // its peer, where the encapsulation runs
};

// A mirror: its rules and where its clones go.
struct MirrorSpec {
    uint32_t tunnel_ifindex = 0;
    uint32_t snaplen = 0;
    std::vector<config::MirrorRule> rules;
};

using FunctionSpec = std::variant<FlowExporterSpec, TunnelSpec, MirrorSpec>;

struct DesiredFunction {
    std::string kind; // "flow_exporter"
    std::string name;
    // Content hash (hex) of everything that goes into the loaded object: the
    // object's bytes and load-time settings. Same revision: nothing to reload.
    std::string revision;
    FunctionSpec spec;
    std::vector<Attachment> attachments;
    // Interfaces that loading this function creates (a tunnel's veth pair):
    // its attachments to them are not pending.
    std::vector<std::string> provides_interfaces;
};

struct ObservedAttachment {
    Attachment attachment;
    uint32_t link_id = 0;
    // The link is hooked to the interface that has this name now (false when
    // the interface is gone or was recreated with another ifindex).
    bool live = false;
    std::string revision; // the revision whose program the link runs; "" unknown
};

struct ObservedFunction {
    std::string kind;
    std::string name;
    std::vector<std::string> revisions; // loaded; more than one after an interrupted update
    std::vector<ObservedAttachment> attachments;
};

struct FunctionId {
    std::string kind;
    std::string name;
    auto operator<=>(const FunctionId&) const = default;
};

struct Desired {
    std::vector<DesiredFunction> functions;
    // Declared, but what they need is not there yet (a device, an address):
    // whatever of them is in the kernel stays as it is.
    std::vector<FunctionId> held;
};

struct Observed {
    std::vector<ObservedFunction> functions;
    std::set<std::string> interfaces; // names of the interfaces that exist now
};

} // namespace l3af::plan
