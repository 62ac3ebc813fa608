#pragma once

// Mirrors (mirror.bpf.c) and the GUE tunnels their clones go to
// (gue_encap.bpf.c): revisions, loading, counters.

#include "common/error.h"
#include "mirror_abi.h"
#include "plan/state.h"

#include <filesystem>
#include <string>
#include <vector>

namespace l3af::kernel {

std::string mirrorRevision(const plan::MirrorSpec& spec);
[[nodiscard]] Status loadMirrorRevision(const plan::MirrorSpec& spec,
                                        const std::filesystem::path& dir);
const char* mirrorProgramFor(plan::Hook hook);

struct MirrorCounters {
    std::vector<mirror_rule_counter> rules; // summed over CPUs, one per rule slot
    mirror_stats ingress{};
    mirror_stats egress{};
};
[[nodiscard]] Result<MirrorCounters> readMirrorCounters(const std::filesystem::path& dir,
                                                        size_t rules);

// The veth pair behind a tunnel: names no longer than IFNAMSIZ - 1.
std::string tunnelDeviceName(const std::string& tunnel);
std::string tunnelPeerName(const std::string& tunnel);
std::string tunnelAlias(const std::string& tunnel);

std::string tunnelRevision(const plan::TunnelSpec& spec);
// Creates the veth pair if it is missing, then loads the encapsulation.
[[nodiscard]] Status loadTunnelRevision(const plan::TunnelSpec& spec,
                                        const std::filesystem::path& dir);
const char* tunnelProgramFor(plan::Hook hook);
// Removes the tunnel's veth pair, if l3afd created it.
[[nodiscard]] Status removeTunnelDevices(const std::string& tunnel);
// Removes every device l3afd created (reset).
[[nodiscard]] Status removeAllOwnedDevices();

struct TunnelCounters {
    uint64_t sent = 0;
    uint64_t sent_bytes = 0;
    uint64_t truncated = 0;
    uint64_t failed = 0;  // clones that could not be sent (too big, out of memory, ...)
    uint64_t too_big = 0; // of those: larger than the device's MTU once encapsulated
    uint64_t ignored = 0; // frames on the tunnel device that were not clones
    uint64_t not_ip = 0;  // of those: neither IPv4 nor IPv6
    uint64_t foreign = 0; // of those: not marked by a mirror
};
[[nodiscard]] Result<TunnelCounters> readTunnelCounters(const std::filesystem::path& dir);

} // namespace l3af::kernel
