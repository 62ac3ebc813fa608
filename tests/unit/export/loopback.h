#pragma once

// A real sd-event loop and real loopback peers for the transport tests: a
// collector that listens, accepts and reads (or pointedly does not), and
// messages that carry their own length and sequence so a byte stream can be
// cut back into them.

#include "common/sd_event.h"
#include "common/unique_fd.h"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

namespace l3af::exporter::testing {

using namespace std::chrono_literals;
using Bytes = std::vector<uint8_t>;

// Runs the loop, one dispatch at a time, until `done` holds; false when it
// still does not hold after `limit` (a generous bound, not a timing).
inline bool runUntil(sd_event* event, const std::function<bool()>& done,
                     std::chrono::milliseconds limit = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done()) {
        if (std::chrono::steady_clock::now() >= deadline)
            return false;
        if (sd_event_run(event, 50'000) < 0)
            return false;
    }
    return true;
}

inline EventPtr newEventLoop() {
    sd_event* event = nullptr;
    EXPECT_GE(sd_event_new(&event), 0);
    return EventPtr(event);
}

// A test message: a 16-byte header shaped like IPFIX's (version 10, total
// length, export time, sequence, observation domain), then a payload derived
// from the sequence, so a stray or shifted byte shows.
inline Bytes makeMessage(uint32_t sequence, uint16_t length) {
    Bytes message(length);
    auto put16 = [&](size_t at, uint16_t v) {
        message[at] = static_cast<uint8_t>(v >> 8);
        message[at + 1] = static_cast<uint8_t>(v);
    };
    auto put32 = [&](size_t at, uint32_t v) {
        put16(at, static_cast<uint16_t>(v >> 16));
        put16(at + 2, static_cast<uint16_t>(v));
    };
    put16(0, 10);
    put16(2, length);
    put32(4, 0);
    put32(8, sequence);
    put32(12, 1);
    for (size_t i = 16; i < length; ++i)
        message[i] = static_cast<uint8_t>(sequence * 31 + i);
    return message;
}

// Sizes from 16 to 1515 bytes, varied so partial writes land anywhere.
inline uint16_t lengthFor(uint32_t sequence) {
    return static_cast<uint16_t>(16 + (sequence * 97) % 1500);
}

// Cuts a stream into messages by their length fields; each must be exactly
// what makeMessage() built for its sequence. Returns the sequences, or
// nothing when the stream is not a run of whole, intact messages.
inline std::optional<std::vector<uint32_t>> parseStream(const Bytes& stream) {
    std::vector<uint32_t> sequences;
    size_t at = 0;
    while (at < stream.size()) {
        if (stream.size() - at < 16)
            return std::nullopt;
        const uint16_t length = static_cast<uint16_t>(stream[at + 2] << 8 | stream[at + 3]);
        const uint32_t sequence = static_cast<uint32_t>(stream[at + 8]) << 24 |
                                  static_cast<uint32_t>(stream[at + 9]) << 16 |
                                  static_cast<uint32_t>(stream[at + 10]) << 8 | stream[at + 11];
        if (length < 16 || stream.size() - at < length)
            return std::nullopt;
        if (!std::equal(stream.begin() + static_cast<std::ptrdiff_t>(at),
                        stream.begin() + static_cast<std::ptrdiff_t>(at + length),
                        makeMessage(sequence, length).begin()))
            return std::nullopt;
        sequences.push_back(sequence);
        at += length;
    }
    return sequences;
}

inline sockaddr_in loopbackV4(uint16_t port) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return address;
}

inline uint16_t localPort(int fd) {
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    EXPECT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length), 0);
    if (address.ss_family == AF_INET6)
        return ntohs(reinterpret_cast<sockaddr_in6*>(&address)->sin6_port);
    return ntohs(reinterpret_cast<sockaddr_in*>(&address)->sin_port);
}

// A TCP collector on 127.0.0.1 driven by the same loop: accepts one
// connection at a time and, while reading, appends what arrives to received().
class TcpCollector {
  public:
    explicit TcpCollector(sd_event* event) : event_(event) {}

    // Listens on `port` (0: any free one); returns the port.
    uint16_t listen(uint16_t port = 0, int receive_buffer = 0) {
        listener_ = UniqueFd(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
        EXPECT_TRUE(listener_.valid());
        int one = 1;
        EXPECT_EQ(setsockopt(listener_.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one), 0);
        // Set before listen() so accepted sockets inherit it: a small window
        // makes a collector that does not read fill up quickly.
        if (receive_buffer > 0) {
            EXPECT_EQ(setsockopt(listener_.get(), SOL_SOCKET, SO_RCVBUF, &receive_buffer,
                                 sizeof receive_buffer),
                      0);
        }
        sockaddr_in address = loopbackV4(port);
        EXPECT_EQ(bind(listener_.get(), reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
        EXPECT_EQ(::listen(listener_.get(), 8), 0);
        sd_event_source* source = nullptr;
        EXPECT_GE(sd_event_add_io(event_, &source, listener_.get(), EPOLLIN, &onListener, this), 0);
        accept_source_.reset(source);
        return localPort(listener_.get());
    }

    // Closes the listener and the connection, as a collector that goes away.
    void close() {
        connection_source_.reset();
        accept_source_.reset();
        connection_.reset();
        listener_.reset();
    }

    void setReading(bool reading) {
        reading_ = reading;
        if (connection_source_)
            sd_event_source_set_enabled(connection_source_.get(),
                                        reading ? SD_EVENT_ON : SD_EVENT_OFF);
    }

    int accepted() const { return accepted_; }
    bool peerClosed() const { return peer_closed_; }
    const Bytes& received() const { return received_; }
    void clearReceived() { received_.clear(); }

  private:
    static int onListener(sd_event_source*, int fd, uint32_t, void* userdata) {
        auto* self = static_cast<TcpCollector*>(userdata);
        UniqueFd connection(accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
        if (!connection)
            return 0;
        self->connection_source_.reset();
        self->connection_ = std::move(connection);
        self->accepted_++;
        self->peer_closed_ = false;
        sd_event_source* source = nullptr;
        EXPECT_GE(sd_event_add_io(self->event_, &source, self->connection_.get(), EPOLLIN,
                                  &onReadable, self),
                  0);
        self->connection_source_.reset(source);
        self->setReading(self->reading_);
        return 0;
    }

    static int onReadable(sd_event_source*, int fd, uint32_t, void* userdata) {
        auto* self = static_cast<TcpCollector*>(userdata);
        uint8_t buffer[65536];
        ssize_t n = recv(fd, buffer, sizeof buffer, MSG_DONTWAIT);
        if (n > 0) {
            self->received_.insert(self->received_.end(), buffer, buffer + n);
        } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
            self->peer_closed_ = true;
            self->connection_source_.reset();
        }
        return 0;
    }

    sd_event* event_;
    UniqueFd listener_;
    UniqueFd connection_;
    EventSourcePtr accept_source_;
    EventSourcePtr connection_source_;
    bool reading_ = true;
    int accepted_ = 0;
    bool peer_closed_ = false;
    Bytes received_;
};

// A UDP collector bound to a loopback address, keeping each datagram.
class UdpCollector {
  public:
    UdpCollector(sd_event* event, int family = AF_INET) {
        fd_ = UniqueFd(socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
        if (!fd_)
            return;
        int r;
        if (family == AF_INET6) {
            sockaddr_in6 address{};
            address.sin6_family = AF_INET6;
            address.sin6_addr = in6addr_loopback;
            r = bind(fd_.get(), reinterpret_cast<sockaddr*>(&address), sizeof address);
        } else {
            sockaddr_in address = loopbackV4(0);
            r = bind(fd_.get(), reinterpret_cast<sockaddr*>(&address), sizeof address);
        }
        if (r < 0) {
            fd_.reset();
            return;
        }
        sd_event_source* source = nullptr;
        EXPECT_GE(sd_event_add_io(event, &source, fd_.get(), EPOLLIN, &onReadable, this), 0);
        source_.reset(source);
    }

    bool valid() const { return fd_.valid(); }
    uint16_t port() const { return localPort(fd_.get()); }
    const std::vector<Bytes>& datagrams() const { return datagrams_; }

  private:
    static int onReadable(sd_event_source*, int fd, uint32_t, void* userdata) {
        auto* self = static_cast<UdpCollector*>(userdata);
        uint8_t buffer[65536];
        ssize_t n = recv(fd, buffer, sizeof buffer, MSG_DONTWAIT);
        if (n >= 0)
            self->datagrams_.emplace_back(buffer, buffer + n);
        return 0;
    }

    UniqueFd fd_;
    EventSourcePtr source_;
    std::vector<Bytes> datagrams_;
};

} // namespace l3af::exporter::testing
