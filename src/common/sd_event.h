#pragma once

// RAII for sd-event objects, and the conversions its timers need.

#include <chrono>
#include <cstdint>
#include <memory>

#include <systemd/sd-event.h>

namespace l3af {

struct EventSourceRelease {
    // Disables first so a source dropped from inside another callback cannot fire again.
    void operator()(sd_event_source* source) const { sd_event_source_disable_unref(source); }
};
using EventSourcePtr = std::unique_ptr<sd_event_source, EventSourceRelease>;

struct EventRelease {
    void operator()(sd_event* event) const { sd_event_unref(event); }
};
using EventPtr = std::unique_ptr<sd_event, EventRelease>;

// A reference of our own, so the loop outlives every source we add to it later.
inline EventPtr refEvent(sd_event* event) {
    return EventPtr(sd_event_ref(event));
}

inline uint64_t toUsec(std::chrono::milliseconds duration) {
    return static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(duration).count());
}

// Reconnect timers need no precision, but sd-event's default slack (250 ms)
// would swamp short backoffs.
inline constexpr uint64_t kTimerAccuracyUsec = 1000;

} // namespace l3af
