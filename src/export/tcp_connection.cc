// IPFIX over TCP (RFC 7011 section 10.4): one connection per collector,
// written without blocking. What the socket does not take waits in a bounded
// queue of whole messages; a broken connection drops the queue and comes back
// after a backoff, and the caller restarts its IPFIX session on the new one.

#include "common/sd_event.h"
#include "common/unique_fd.h"
#include "export/backoff.h"
#include "export/send_queue.h"
#include "export/transports.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include <sys/epoll.h>
#include <sys/socket.h>

namespace l3af::exporter {
namespace {

// How many queued messages one sendmsg() hands over at most.
constexpr size_t kMaxIovecs = 64;
// Collectors have nothing to say over IPFIX/TCP; what they send anyway is read
// and discarded, at most this much per wakeup so they cannot starve the loop.
constexpr size_t kMaxDiscardPerWakeup = 64 * 1024;

bool wouldBlock(int error) {
    return error == EAGAIN || error == EWOULDBLOCK;
}

std::string describe(const char* what, int error) {
    return std::string(what) + ": " + std::strerror(error);
}

class TcpConnection final : public CollectorConnection {
  public:
    TcpConnection(sd_event* event, const TransportSettings& settings)
        : event_(refEvent(event)), address_(settings.address),
          backoff_(settings.initial_backoff, settings.reconnect_interval),
          queue_(settings.tcp_queue_bytes) {}

    ~TcpConnection() override {
        // Sources first: none may fire on a closed fd or a half-destroyed object.
        io_.reset();
        reconnect_timer_.reset();
    }

    Status start() { return connectNow(); }

    bool send(std::span<const uint8_t> message, uint32_t records) override;

  private:
    // Connecting: a non-blocking connect() is in flight; the io source waits
    //   for writability, which is how the kernel reports its outcome.
    // Connected: established; the io source watches for the collector closing
    //   the connection, and for writability while the queue holds bytes.
    // Waiting: no socket; the reconnect timer is armed.
    enum class State { Connecting, Connected, Waiting };

    Status connectNow();
    Status attemptFailed(std::string reason);
    Status scheduleReconnect();
    void finishConnect();
    void serviceConnection(uint32_t revents);
    bool discardInput();
    bool flushQueue();
    void disconnect(std::string reason);
    void closeSocket();
    void updateWatch();

    static int onIo(sd_event_source*, int fd, uint32_t revents, void* userdata);
    static int onReconnectTimer(sd_event_source*, uint64_t usec, void* userdata);

    EventPtr event_;
    SocketAddress address_;
    Backoff backoff_;
    SendQueue queue_;
    State state_ = State::Waiting;
    UniqueFd fd_;
    EventSourcePtr io_;
    EventSourcePtr reconnect_timer_;
};

// One connection attempt. Socket-level failures are a failed attempt and
// schedule the next one; only a failure of the event loop itself is returned.
Status TcpConnection::connectNow() {
    counters_.connect_attempts++;
    counters_.reconnect_delay = {};
    UniqueFd fd(::socket(address_.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd)
        return attemptFailed(describe("socket", errno));
    if (::connect(fd.get(), address_.get(), address_.length) < 0 && errno != EINPROGRESS)
        return attemptFailed(describe("connect", errno));

    // Even a connect() that completed at once is finished from the io source,
    // so on_session_start always runs from the loop, never from our caller.
    sd_event_source* source = nullptr;
    int r = sd_event_add_io(event_.get(), &source, fd.get(), EPOLLOUT, &TcpConnection::onIo, this);
    if (r < 0)
        return fail(-r, "add io source");
    fd_ = std::move(fd);
    io_.reset(source);
    state_ = State::Connecting;
    return {};
}

Status TcpConnection::attemptFailed(std::string reason) {
    closeSocket();
    counters_.last_error = std::move(reason);
    return scheduleReconnect();
}

Status TcpConnection::scheduleReconnect() {
    state_ = State::Waiting;
    const auto delay = backoff_.next();
    counters_.reconnect_delay = delay;
    sd_event_source* source = nullptr;
    int r = sd_event_add_time_relative(event_.get(), &source, CLOCK_MONOTONIC, toUsec(delay),
                                       kTimerAccuracyUsec, &TcpConnection::onReconnectTimer, this);
    if (r < 0)
        return fail(-r, "add reconnect timer");
    reconnect_timer_.reset(source);
    return {};
}

int TcpConnection::onReconnectTimer(sd_event_source*, uint64_t, void* userdata) {
    auto* self = static_cast<TcpConnection*>(userdata);
    self->reconnect_timer_.reset();
    if (auto started = self->connectNow(); !started)
        self->counters_.last_error = started.error().message();
    return 0;
}

int TcpConnection::onIo(sd_event_source*, int, uint32_t revents, void* userdata) {
    auto* self = static_cast<TcpConnection*>(userdata);
    if (self->state_ == State::Connecting)
        self->finishConnect();
    else if (self->state_ == State::Connected)
        self->serviceConnection(revents);
    return 0;
}

void TcpConnection::finishConnect() {
    int error = 0;
    socklen_t length = sizeof error;
    if (::getsockopt(fd_.get(), SOL_SOCKET, SO_ERROR, &error, &length) < 0)
        error = errno;
    if (error != 0) {
        if (auto scheduled = attemptFailed(describe("connect", error)); !scheduled)
            counters_.last_error = scheduled.error().message();
        return;
    }
    state_ = State::Connected;
    backoff_.reset();
    counters_.connects++;
    counters_.connected = true;
    updateWatch();
    if (on_session_start)
        on_session_start();
}

void TcpConnection::serviceConnection(uint32_t revents) {
    // EOF, a reset and socket errors all surface through recv(), even when we
    // have nothing to write.
    if ((revents & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) && !discardInput())
        return;
    if (revents & EPOLLOUT)
        flushQueue();
}

// Reads what the collector sent and throws it away. False when the connection
// is gone (and was closed).
bool TcpConnection::discardInput() {
    std::array<uint8_t, 4096> buffer;
    for (size_t total = 0; total < kMaxDiscardPerWakeup;) {
        ssize_t n = ::recv(fd_.get(), buffer.data(), buffer.size(), MSG_DONTWAIT);
        if (n > 0) {
            total += static_cast<size_t>(n);
            continue;
        }
        if (n == 0) {
            disconnect("collector closed the connection");
            return false;
        }
        if (errno == EINTR)
            continue;
        if (wouldBlock(errno))
            return true;
        disconnect(describe("receive", errno));
        return false;
    }
    return true;
}

bool TcpConnection::send(std::span<const uint8_t> message, uint32_t records) {
    // Before the connection is up there is no session to put the message in:
    // the caller restarts it, templates first, once on_session_start fires.
    if (state_ != State::Connected)
        return countDropped(1, records);
    // Order on the wire is order of send(): nothing overtakes the queue.
    if (!queue_.empty() && !flushQueue())
        return countDropped(1, records);

    if (queue_.empty()) {
        ssize_t n;
        do
            n = ::send(fd_.get(), message.data(), message.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        while (n < 0 && errno == EINTR);
        if (n < 0 && !wouldBlock(errno)) {
            counters_.send_errors++;
            disconnect(describe("send", errno));
            return countDropped(1, records);
        }
        const auto written = static_cast<size_t>(std::max<ssize_t>(n, 0));
        if (written == message.size()) {
            countSent(1, message.size(), records);
            return true;
        }
        if (written > 0) {
            queue_.pushRemainder(message, written, records);
            updateWatch();
            return true;
        }
    }
    if (!queue_.push(message, records)) {
        counters_.last_error = "send queue full";
        return countDropped(1, records);
    }
    updateWatch();
    return true;
}

// Writes queued bytes until the socket is full or the queue empty. False when
// the connection broke (and was closed).
bool TcpConnection::flushQueue() {
    while (!queue_.empty()) {
        std::array<iovec, kMaxIovecs> iov;
        msghdr header{};
        header.msg_iov = iov.data();
        header.msg_iovlen = queue_.gather(iov);
        ssize_t n = ::sendmsg(fd_.get(), &header, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (wouldBlock(errno))
                break;
            counters_.send_errors++;
            disconnect(describe("send", errno));
            return false;
        }
        const SendQueue::Tally done = queue_.consume(static_cast<size_t>(n));
        countSent(done.messages, done.bytes, done.records);
    }
    updateWatch();
    return true;
}

void TcpConnection::disconnect(std::string reason) {
    counters_.disconnects++;
    counters_.connected = false;
    // Queued messages carry sequence numbers of this session; the next one
    // starts afresh, so they can never be sent.
    const SendQueue::Tally lost = queue_.clear();
    countDropped(lost.messages, lost.records);
    if (auto scheduled = attemptFailed(std::move(reason)); !scheduled)
        counters_.last_error = scheduled.error().message();
}

void TcpConnection::closeSocket() {
    // The source may be the one dispatching right now; sd-event allows
    // dropping it from its own callback.
    io_.reset();
    fd_.reset();
    counters_.connected = false;
    counters_.queued_bytes = queue_.bytes();
}

void TcpConnection::updateWatch() {
    counters_.queued_bytes = queue_.bytes();
    if (!io_ || state_ != State::Connected)
        return;
    uint32_t events = EPOLLIN | EPOLLRDHUP;
    if (!queue_.empty())
        events |= EPOLLOUT;
    // Only fails on a source that is not an io source, which ours always is.
    (void)sd_event_source_set_io_events(io_.get(), events);
}

} // namespace

Result<std::unique_ptr<CollectorConnection>> openTcp(sd_event* event,
                                                     const TransportSettings& settings) {
    auto connection = std::make_unique<TcpConnection>(event, settings);
    if (auto started = connection->start(); !started)
        return std::unexpected(std::move(started.error()));
    return connection;
}

} // namespace l3af::exporter
