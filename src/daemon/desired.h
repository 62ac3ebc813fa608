#pragma once

// From the files' model to the reconcile core's desired state. Some of it
// depends on the running system (a tunnel's device and address, the ifindex
// of the tunnel a mirror sends to), asked through KernelFacts.

#include "config/loader.h"
#include "config/model.h"
#include "kernel/program_object.h"
#include "plan/state.h"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace l3af::daemon {

struct KernelFacts {
    std::function<std::optional<uint32_t>(const std::string& interface)> ifindex;
    // First IPv4 address (network byte order) of an interface.
    std::function<std::optional<uint32_t>(uint32_t ifindex)> firstIpv4;
};

// The facts of the running system (if_nametoindex, rtnetlink).
KernelFacts liveKernelFacts();

struct DesiredState {
    plan::Desired desired;
    std::vector<std::string> waiting; // held functions and why
    std::vector<std::string> errors;  // file:line:column: error: ...
};

// `programs`: the config's [[program]]s resolved against their objects
// (kernel::resolvePrograms), once per reconcile: a reconcile computes the
// desired state in every round.
DesiredState desiredState(const config::Config& config, const KernelFacts& facts,
                          const kernel::ResolvedPrograms& programs);
// The same, resolving the programs now.
DesiredState desiredState(const config::Config& config, const KernelFacts& facts);

// The files, and the objects their [[program]]s name: an object that is
// missing, or a function or map value that does not fit it, rejects the whole
// configuration like any other error in the files (check, plan, reload).
config::LoadResult loadConfiguration(const std::filesystem::path& path);

// How TC hooks are attached on this kernel under `tc_mode`.
plan::Mechanism tcMechanism(config::TcMode mode);

} // namespace l3af::daemon
