#include "export/send_queue.h"

#include <algorithm>

namespace l3af::exporter {

bool SendQueue::push(std::span<const uint8_t> message, uint32_t records) {
    if (message.size() > limit_ || bytes_ > limit_ - message.size())
        return false;
    entries_.push_back(Entry{{message.begin(), message.end()}, 0, message.size(), records});
    bytes_ += message.size();
    return true;
}

void SendQueue::pushRemainder(std::span<const uint8_t> message, size_t written, uint32_t records) {
    auto rest = message.subspan(std::min(written, message.size()));
    entries_.push_back(Entry{{rest.begin(), rest.end()}, 0, message.size(), records});
    bytes_ += rest.size();
}

size_t SendQueue::gather(std::span<iovec> out) const {
    size_t filled = 0;
    for (const Entry& entry : entries_) {
        if (filled == out.size())
            break;
        // iovec wants a non-const pointer; sendmsg() only reads through it.
        out[filled++] = iovec{const_cast<uint8_t*>(entry.unwritten.data()) + entry.written,
                              entry.unwritten.size() - entry.written};
    }
    return filled;
}

SendQueue::Tally SendQueue::consume(size_t written) {
    Tally done;
    while (written > 0 && !entries_.empty()) {
        Entry& front = entries_.front();
        size_t take = std::min(written, front.unwritten.size() - front.written);
        front.written += take;
        bytes_ -= take;
        written -= take;
        if (front.written < front.unwritten.size())
            break;
        done.messages++;
        done.bytes += front.message_size;
        done.records += front.records;
        entries_.pop_front();
    }
    return done;
}

SendQueue::Tally SendQueue::clear() {
    Tally dropped;
    for (const Entry& entry : entries_) {
        dropped.messages++;
        dropped.bytes += entry.message_size;
        dropped.records += entry.records;
    }
    entries_.clear();
    bytes_ = 0;
    return dropped;
}

} // namespace l3af::exporter
