#include "export/socket_address.h"

#include <arpa/inet.h>

namespace l3af::exporter {

Result<SocketAddress> parseSocketAddress(const std::string& literal, uint16_t port) {
    SocketAddress address;
    auto* v4 = reinterpret_cast<sockaddr_in*>(&address.storage);
    if (inet_pton(AF_INET, literal.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        address.length = sizeof(sockaddr_in);
        return address;
    }
    address = SocketAddress{};
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&address.storage);
    if (inet_pton(AF_INET6, literal.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        address.length = sizeof(sockaddr_in6);
        return address;
    }
    return fail(EINVAL, "'" + literal + "' is not an IPv4 or IPv6 address");
}

} // namespace l3af::exporter
