#pragma once

// rtnetlink, the little of it l3afd needs: list links and their IPv4
// addresses, create and delete the veth pairs behind tunnel devices, and mark
// what l3afd owns with an alias so that nothing else is ever touched.

#include "common/error.h"
#include "common/unique_fd.h"

#include <libmnl/libmnl.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace l3af::kernel {

struct LinkInfo {
    std::string name;
    uint32_t ifindex = 0;
    std::string alias; // IFLA_IFALIAS; l3afd's devices carry "l3af:<kind>:<name>"
    std::string kind;  // IFLA_INFO_KIND ("veth", ...), "" when none
    bool up = false;
};

// libmnl's iteration macros don't compile as C++; the same walk, typed.
template <typename F> void forEachAttr(const nlmsghdr* h, size_t header, F&& f) {
    auto* attr = static_cast<const nlattr*>(mnl_nlmsg_get_payload_offset(h, header));
    const auto* tail = static_cast<const char*>(mnl_nlmsg_get_payload_tail(h));
    while (mnl_attr_ok(attr, static_cast<int>(tail - reinterpret_cast<const char*>(attr)))) {
        f(attr);
        attr = mnl_attr_next(attr);
    }
}

template <typename F> void forEachNested(const nlattr* nest, F&& f) {
    auto* attr = static_cast<const nlattr*>(mnl_attr_get_payload(nest));
    const auto* tail = reinterpret_cast<const char*>(nest) + mnl_attr_get_len(nest);
    while (mnl_attr_ok(attr, static_cast<int>(tail - reinterpret_cast<const char*>(attr)))) {
        f(attr);
        attr = mnl_attr_next(attr);
    }
}

// Starts a request in `buf`: the netlink header and the zeroed family header
// that follows it.
template <typename Header>
std::pair<nlmsghdr*, Header*> startRequest(char* buf, uint16_t type, uint16_t flags) {
    nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = type;
    nlh->nlmsg_flags = flags;
    auto* header = static_cast<Header*>(mnl_nlmsg_put_extra_header(nlh, sizeof(Header)));
    return {nlh, header};
}

// The size of a request buffer for startRequest.
inline constexpr size_t kNetlinkRequestSize = 8192;

class Netlink {
  public:
    [[nodiscard]] static Result<Netlink> open();

    // Sends a request built with startRequest and reads until its ACK (or its
    // dump ends), handing each reply message to `onMessage`; for the modules
    // that speak the other rtnetlink families (tc: cls_bpf.h).
    [[nodiscard]] Status request(nlmsghdr* request,
                                 const std::function<void(const nlmsghdr*)>& onMessage = {});

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

// Turns off every transmit checksum and segmentation offload the device lets
// be changed, whatever the kernel calls it (tx-checksum-*, tx-*segmentation,
// tx-gso-*), and fails naming any still on. A device that claims an offload
// is handed packets with that work undone (GSO super-packets, partial
// checksums); on a tunnel veth nothing ever does it, and the encapsulation
// would wrap them as they are. With all off, the stack segments and checksums
// first. The legacy ethtool commands miss newer features (tx-gso-list,
// tx-tcp-accecn-segmentation, the tunnel GSO types): hence bits by name.
[[nodiscard]] Status disableTxOffloads(const std::string& name);

} // namespace l3af::kernel
