#pragma once

// How finished IPFIX messages reach one collector, over UDP or TCP (RFC 7011
// section 10), without ever blocking the daemon's event loop. This layer only
// moves bytes: the IPFIX session (sequence numbers, templates) belongs to the
// caller, which restarts it whenever on_session_start fires.

#include "common/error.h"
#include "config/model.h"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include <systemd/sd-event.h>

namespace l3af::exporter {

struct CollectorCounters {
    // Messages wholly handed to the kernel (a queued TCP message counts once its
    // last byte is written); bytes_sent is the sum of their sizes.
    uint64_t messages_sent = 0;
    uint64_t bytes_sent = 0;
    uint64_t records_sent = 0;
    uint64_t send_errors = 0; // send()/sendmsg() calls that failed, EAGAIN excluded
    // Messages that never reached the collector: queue full, not connected, or
    // lost with the TCP queue when the connection broke.
    uint64_t messages_dropped = 0;
    uint64_t records_dropped = 0;
    uint64_t connect_attempts = 0; // sockets opened towards the collector
    uint64_t connects = 0;         // attempts that succeeded (TCP established, UDP connected)
    uint64_t disconnects = 0;      // TCP connections lost after being established
    bool connected = false;        // UDP: socket open; TCP: established
    // While a reconnect is scheduled: the wait before it; 0 otherwise.
    std::chrono::milliseconds reconnect_delay{0};
    size_t queued_bytes = 0; // TCP: bytes waiting for the socket to take them
    std::string last_error;  // "connect: Connection refused", "collector closed the connection"
};

struct TransportOptions {
    // TCP: bytes held while the socket is full; a message that does not fit is
    // dropped whole.
    size_t tcp_queue_bytes = 4 << 20;
    // The first wait before reconnecting; it doubles after each failed attempt,
    // up to the collector's reconnect_interval.
    std::chrono::milliseconds initial_backoff{250};
};

class CollectorConnection {
  public:
    CollectorConnection() = default;
    CollectorConnection(const CollectorConnection&) = delete;
    CollectorConnection& operator=(const CollectorConnection&) = delete;
    virtual ~CollectorConnection() = default;

    // Hands over one complete IPFIX message carrying `records` data records.
    // Never blocks. Returns false when the message was dropped (and counted).
    virtual bool send(std::span<const uint8_t> message, uint32_t records) = 0;

    const CollectorCounters& counters() const { return counters_; }

    // Fired from the event loop, never from inside send() or connectCollector().
    // TCP: each time a connection is established, before anything is sent on
    // it, so the caller restarts its IPFIX session (sequence 0, templates
    // first). UDP: once, when the socket is ready. Set it before returning to
    // the loop. It may call send(); it must not destroy the connection.
    std::function<void()> on_session_start;

  protected:
    void countSent(uint64_t messages, uint64_t bytes, uint64_t records) {
        counters_.messages_sent += messages;
        counters_.bytes_sent += bytes;
        counters_.records_sent += records;
    }
    // Always false, so `return countDropped(...)` reads as what send() returns.
    bool countDropped(uint64_t messages, uint64_t records) {
        counters_.messages_dropped += messages;
        counters_.records_dropped += records;
        return false;
    }

    CollectorCounters counters_;
};

// Opens the transport `collector.transport` names towards the collector and
// keeps it open: failed connects and broken connections are retried with
// backoff on `event`, which must outlive the connection. Fails only when the
// address is not an IP literal or the event loop refuses a source.
[[nodiscard]] Result<std::unique_ptr<CollectorConnection>>
connectCollector(sd_event* event, const config::Collector& collector,
                 const TransportOptions& options = {});

} // namespace l3af::exporter
