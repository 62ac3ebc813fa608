#pragma once

// rtnetlink, the little of it l3afd needs: list links and their IPv4
// addresses, create and delete the veth pairs behind tunnel devices, and mark
// what l3afd owns with an alias so that nothing else is ever touched.

#include "common/error.h"
#include "common/unique_fd.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace l3af::kernel {

struct LinkInfo {
    std::string name;
    uint32_t ifindex = 0;
    std::string alias; // IFLA_IFALIAS; l3afd's devices carry "l3af:<kind>:<name>"
    std::string kind;  // IFLA_INFO_KIND ("veth", ...), "" when none
    bool up = false;
};

class Netlink {
  public:
    [[nodiscard]] static Result<Netlink> open();

    [[nodiscard]] Result<std::vector<LinkInfo>> links();
    // The first IPv4 address on an interface, in network byte order.
    [[nodiscard]] Result<std::optional<uint32_t>> firstIpv4Address(uint32_t ifindex);
    // A veth pair, both ends up with `alias` (and `mtu` when not 0).
    [[nodiscard]] Status createVethPair(const std::string& name, const std::string& peer,
                                        const std::string& alias, uint32_t mtu = 0);
    [[nodiscard]] Status deleteLink(const std::string& name);

  private:
    explicit Netlink(UniqueFd fd) : fd_(std::move(fd)) {}
    // Sends one request and reads until its ACK (or its dump ends), handing
    // each reply message to `onMessage`.
    template <typename F> Status roundTrip(void* request, size_t length, F&& onMessage);
    Status setUp(const std::string& name, const std::string& alias, uint32_t mtu);

    UniqueFd fd_;
    uint32_t seq_ = 1;
};

// Turns off checksum offload (and with it TSO/USO) on a device, so that what
// it transmits is complete, wire-sized packets.
[[nodiscard]] Status disableTxOffloads(const std::string& name);

} // namespace l3af::kernel
