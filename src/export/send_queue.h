#pragma once

// The bytes a TCP socket has not taken yet, kept as whole messages so the
// stream stays message-aligned: a message is either queued entirely or not at
// all, and one already partly on the wire is always finished.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <span>
#include <vector>

#include <sys/uio.h>

namespace l3af::exporter {

class SendQueue {
  public:
    struct Tally {
        uint64_t messages = 0;
        uint64_t bytes = 0; // whole message sizes
        uint64_t records = 0;
    };

    explicit SendQueue(size_t limit_bytes) : limit_(limit_bytes) {}

    bool empty() const { return entries_.empty(); }
    size_t bytes() const { return bytes_; } // not yet written
    size_t messages() const { return entries_.size(); }

    // Queues a whole message if it fits within the limit; false when it does not.
    [[nodiscard]] bool push(std::span<const uint8_t> message, uint32_t records);

    // Queues what is left of a message of which the socket took `written`
    // bytes. Always accepted, even past the limit: dropping it would cut a
    // message in the middle of the stream.
    void pushRemainder(std::span<const uint8_t> message, size_t written, uint32_t records);

    // Points `out` at the unwritten bytes, front first; returns how many
    // entries of `out` it filled.
    size_t gather(std::span<iovec> out) const;

    // Marks `written` bytes from the front as taken by the socket; returns the
    // messages that became complete.
    Tally consume(size_t written);

    // Empties the queue; returns what it held, a partly written message
    // counting as a whole one.
    Tally clear();

  private:
    struct Entry {
        std::vector<uint8_t> unwritten; // the message, or its remainder
        size_t written = 0;             // of `unwritten`
        size_t message_size = 0;
        uint32_t records = 0;
    };

    std::deque<Entry> entries_;
    size_t bytes_ = 0;
    size_t limit_;
};

} // namespace l3af::exporter
