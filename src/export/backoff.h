#pragma once

#include <algorithm>
#include <chrono>

namespace l3af::exporter {

// Waits between connection attempts: `initial` first, doubling after each
// failure, never more than `cap`. Both are at least 1 ms so a zero from the
// config cannot turn reconnecting into a busy loop.
class Backoff {
  public:
    using Duration = std::chrono::milliseconds;

    Backoff(Duration initial, Duration cap)
        : cap_(std::max(cap, kShortest)), initial_(std::min(std::max(initial, kShortest), cap_)),
          next_(initial_) {}

    // The wait before the next attempt; the one after it will be twice as long.
    Duration next() {
        Duration wait = next_;
        next_ = std::min(next_ * 2, cap_);
        return wait;
    }

    // After a success the next failure starts again from `initial`.
    void reset() { next_ = initial_; }

  private:
    static constexpr Duration kShortest{1};

    Duration cap_;
    Duration initial_;
    Duration next_;
};

} // namespace l3af::exporter
