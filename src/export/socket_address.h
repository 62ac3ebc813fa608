#pragma once

#include "common/error.h"

#include <cstdint>
#include <string>

#include <netinet/in.h>
#include <sys/socket.h>

namespace l3af::exporter {

// A collector's address and port in the form connect() takes.
struct SocketAddress {
    sockaddr_storage storage{};
    socklen_t length = 0;

    int family() const { return storage.ss_family; }
    const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
};

// Parses an IPv4 or IPv6 literal ("192.0.2.10", "2001:db8::1"). Names are not
// resolved: a daemon must not wait on DNS.
[[nodiscard]] Result<SocketAddress> parseSocketAddress(const std::string& literal, uint16_t port);

} // namespace l3af::exporter
