// IPFIX over UDP (RFC 7011 section 10.3): one connected datagram socket per
// collector, each message one datagram. A datagram the kernel refuses is
// counted and dropped, never retried: a retry would only delay fresher data.

#include "common/sd_event.h"
#include "common/unique_fd.h"
#include "export/backoff.h"
#include "export/transports.h"

#include <cerrno>
#include <cstring>

#include <sys/socket.h>

namespace l3af::exporter {
namespace {

class UdpConnection final : public CollectorConnection {
  public:
    UdpConnection(sd_event* event, const TransportSettings& settings)
        : event_(refEvent(event)), address_(settings.address),
          backoff_(settings.initial_backoff, settings.reconnect_interval) {}

    ~UdpConnection() override {
        session_start_.reset();
        reconnect_timer_.reset();
    }

    Status start() { return connectNow(); }

    bool send(std::span<const uint8_t> message, uint32_t records) override;

  private:
    Status connectNow();
    static int onSessionStart(sd_event_source*, void* userdata);
    static int onReconnectTimer(sd_event_source*, uint64_t usec, void* userdata);

    EventPtr event_;
    SocketAddress address_;
    Backoff backoff_;
    UniqueFd fd_; // open and connected, or closed while waiting to retry
    EventSourcePtr session_start_;
    EventSourcePtr reconnect_timer_;
};

// connect() on a datagram socket only picks the route; it fails when there is
// none yet (a daemon started before the network), so it is retried with
// backoff. Only a failure of the event loop itself is returned.
Status UdpConnection::connectNow() {
    counters_.connect_attempts++;
    counters_.reconnect_delay = {};
    UniqueFd fd(::socket(address_.family(), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    const char* step = "socket";
    if (fd) {
        step = "connect";
        if (::connect(fd.get(), address_.get(), address_.length) == 0) {
            // Deferred, so on_session_start runs from the loop even on the
            // first attempt, after the caller had the chance to set it.
            sd_event_source* source = nullptr;
            int r = sd_event_add_defer(event_.get(), &source, &UdpConnection::onSessionStart, this);
            if (r < 0)
                return fail(-r, "add session start source");
            session_start_.reset(source);
            fd_ = std::move(fd);
            counters_.connects++;
            counters_.connected = true;
            return {};
        }
    }
    counters_.last_error = std::string(step) + ": " + std::strerror(errno);
    const auto delay = backoff_.next();
    counters_.reconnect_delay = delay;
    sd_event_source* source = nullptr;
    int r = sd_event_add_time_relative(event_.get(), &source, CLOCK_MONOTONIC, toUsec(delay),
                                       kTimerAccuracyUsec, &UdpConnection::onReconnectTimer, this);
    if (r < 0)
        return fail(-r, "add reconnect timer");
    reconnect_timer_.reset(source);
    return {};
}

int UdpConnection::onSessionStart(sd_event_source*, void* userdata) {
    auto* self = static_cast<UdpConnection*>(userdata);
    self->session_start_.reset();
    if (self->on_session_start)
        self->on_session_start();
    return 0;
}

int UdpConnection::onReconnectTimer(sd_event_source*, uint64_t, void* userdata) {
    auto* self = static_cast<UdpConnection*>(userdata);
    self->reconnect_timer_.reset();
    if (auto started = self->connectNow(); !started)
        self->counters_.last_error = started.error().message();
    return 0;
}

bool UdpConnection::send(std::span<const uint8_t> message, uint32_t records) {
    if (!fd_)
        return countDropped(1, records);
    ssize_t n;
    do
        n = ::send(fd_.get(), message.data(), message.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        // EAGAIN/ENOBUFS: the kernel is full. ECONNREFUSED: an ICMP port
        // unreachable came back for an earlier datagram. Either way this one
        // is lost, and the socket stays usable for the next.
        counters_.send_errors++;
        counters_.last_error = std::string("send: ") + std::strerror(errno);
        return countDropped(1, records);
    }
    countSent(1, message.size(), records);
    return true;
}

} // namespace

Result<std::unique_ptr<CollectorConnection>> openUdp(sd_event* event,
                                                     const TransportSettings& settings) {
    auto connection = std::make_unique<UdpConnection>(event, settings);
    if (auto started = connection->start(); !started)
        return std::unexpected(std::move(started.error()));
    return connection;
}

} // namespace l3af::exporter
