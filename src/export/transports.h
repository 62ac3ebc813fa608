#pragma once

// The two transports behind connectCollector(); their classes stay in their .cc files.

#include "export/collector_connection.h"
#include "export/socket_address.h"

namespace l3af::exporter {

struct TransportSettings {
    SocketAddress address;
    std::chrono::milliseconds initial_backoff;
    std::chrono::milliseconds reconnect_interval; // the longest backoff
    size_t tcp_queue_bytes = 0;
};

// One connected datagram socket; each message is one datagram.
[[nodiscard]] Result<std::unique_ptr<CollectorConnection>> openUdp(sd_event* event,
                                                                   const TransportSettings&);

// One TCP connection (RFC 7011 section 10.4), re-established when it breaks.
[[nodiscard]] Result<std::unique_ptr<CollectorConnection>> openTcp(sd_event* event,
                                                                   const TransportSettings&);

} // namespace l3af::exporter
