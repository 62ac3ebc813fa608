#pragma once

// A [[tunnel]] as gue_encap.bpf.c's load-time parameters, and the mark a
// mirror program gives its clones. Pure: the daemon resolves what only the
// running system knows (the device's ifindex, its first address when
// `local` is omitted) and passes it in.

#include "common/error.h"
#include "config/model.h"
#include "gue_abi.h"

#include <cstdint>
#include <string_view>

namespace l3af::mirror {

static_assert(sizeof(gue_hdr) == 4);
static_assert(sizeof(gue_stats) == 64);

// The parameters of the same names (gue_<field>).
struct GueSettings {
    uint32_t local_addr = 0;  // network byte order
    uint32_t remote_addr = 0; // network byte order
    uint16_t remote_port = 6080;
    uint16_t source_port = 0; // 0: "flow", a hash of the inner 5-tuple
    uint8_t ttl = 64;
    bool checksum = false;
    uint32_t device_ifindex = 0;
};

// `local_address` is tunnel.local, or the device's first IPv4 address when
// the file leaves it out. Fails (EINVAL) on an address that is not IPv4.
[[nodiscard]] Result<GueSettings>
gueSettings(const config::Tunnel& tunnel, std::string_view local_address, uint32_t device_ifindex);

// skb->mark of a clone of a mirror with this snaplen (0: whole frame).
constexpr uint32_t gueMark(uint32_t snaplen) {
    return GUE_MARK_TAG | (snaplen > GUE_MARK_SNAPLEN_MASK ? 0 : snaplen);
}

} // namespace l3af::mirror
