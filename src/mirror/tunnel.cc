#include "mirror/tunnel.h"

#include <arpa/inet.h>

#include <cerrno>
#include <string>

namespace l3af::mirror {

namespace {

Result<uint32_t> parseIpv4(std::string_view text, const std::string& what) {
    std::string s(text);
    in_addr address{};
    if (inet_pton(AF_INET, s.c_str(), &address) != 1)
        return fail(EINVAL, what + " \"" + s + "\" is not an IPv4 address");
    return address.s_addr;
}

} // namespace

Result<GueSettings> gueSettings(const config::Tunnel& tunnel, std::string_view local_address,
                                uint32_t device_ifindex) {
    std::string context = "tunnel '" + tunnel.name + "'";
    Result<uint32_t> local = parseIpv4(local_address, "local address");
    if (!local)
        return std::unexpected(local.error().wrap(context));
    Result<uint32_t> remote = parseIpv4(tunnel.remote, "remote");
    if (!remote)
        return std::unexpected(remote.error().wrap(context));
    GueSettings settings;
    settings.local_addr = *local;
    settings.remote_addr = *remote;
    settings.remote_port = tunnel.remote_port;
    settings.source_port = tunnel.source_port.value_or(0);
    settings.ttl = tunnel.ttl;
    settings.checksum = tunnel.checksum;
    settings.device_ifindex = device_ifindex;
    return settings;
}

} // namespace l3af::mirror
