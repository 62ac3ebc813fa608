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

// How a program is hooked to an interface.
enum class Mechanism {
    Tcx,    // a pinned TCX bpf_link (kernel 6.6+); order by before/after anchors
    ClsBpf, // a cls_bpf filter on the clsact qdisc; order by its prio
    Xdp,    // a component of libxdp's dispatcher; order by its run priority
};
const char* toString(Mechanism);

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

// Bytes of one map entry, encoded through the map's BTF.
struct MapEntryBytes {
    std::vector<uint8_t> key;
    std::vector<uint8_t> value; // one CPU's value for per-CPU maps
    bool operator==(const MapEntryBytes&) const = default;
};

// The entries the files declare for one map of a program.
struct MapContents {
    std::string map;
    std::vector<MapEntryBytes> entries;
    bool operator==(const MapContents&) const = default;
};

// Any eBPF program from an object file ([[program]]), resolved against the
// object: the function exists and suits the hook, the declared maps exist
// and their entries are encoded.
struct ProgramSpec {
    std::string object;        // path of the ELF object
    std::string function;      // program (function) name in the object
    std::string object_digest; // content hash (hex) of the object's bytes when resolved
    Hook hook = Hook::TcIngress;
    std::vector<MapContents> maps; // declared entries, kept as declared
};

using FunctionSpec = std::variant<FlowExporterSpec, TunnelSpec, MirrorSpec, ProgramSpec>;

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
    // Lower runs earlier among the functions on one hook.
    uint32_t priority = 100;
};

struct ObservedAttachment {
    Attachment attachment;
    uint32_t link_id = 0;
    // The link is hooked to the interface that has this name now (false when
    // the interface is gone or was recreated with another ifindex).
    bool live = false;
    std::string revision; // the revision whose program the link runs; "" unknown
    Mechanism mechanism = Mechanism::Tcx;
    uint32_t priority = 0; // ClsBpf prio or XDP run priority as found; 0 for TCX
    // Index in the hook's chain as the kernel runs it (foreign programs
    // included); for TCX, where the order is positional.
    uint32_t position = 0;
};

struct ObservedFunction {
    std::string kind;
    std::string name;
    std::vector<std::string> revisions; // loaded; more than one after an interrupted update
    std::vector<ObservedAttachment> attachments;
    // For each map the desired state declares entries for: the values those
    // keys hold now (a missing key has no entry here).
    std::vector<MapContents> maps;
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
    // How TC hooks are attached (Tcx or ClsBpf); XDP always uses Mechanism::Xdp.
    Mechanism tc_mechanism = Mechanism::Tcx;

    Mechanism mechanismFor(Hook hook) const {
        return hook == Hook::Xdp ? Mechanism::Xdp : tc_mechanism;
    }
};

struct Observed {
    std::vector<ObservedFunction> functions;
    std::set<std::string> interfaces; // names of the interfaces that exist now
};

} // namespace l3af::plan
