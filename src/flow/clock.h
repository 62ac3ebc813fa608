#pragma once

// The flow table stamps packets with bpf_ktime_get_boot_ns() (CLOCK_BOOTTIME);
// IPFIX wants Unix milliseconds. The offset between the two clocks moves when
// the wall clock is set, so it is read afresh for every poll.

#include <cstdint>

namespace l3af::flow {

class ClockMapping {
  public:
    // wall_ns = boot_ns + realtime_minus_boottime_ns
    explicit constexpr ClockMapping(int64_t realtime_minus_boottime_ns)
        : offset_ns_(realtime_minus_boottime_ns) {}

    // The mapping as of now: CLOCK_REALTIME against CLOCK_BOOTTIME.
    static ClockMapping now();

    // Unix epoch milliseconds of a CLOCK_BOOTTIME instant (0 if before 1970).
    uint64_t toUnixMs(uint64_t boot_ns) const;

    int64_t offsetNs() const { return offset_ns_; }

  private:
    int64_t offset_ns_;
};

// CLOCK_BOOTTIME now, in the unit of flow_value's timestamps.
uint64_t bootTimeNs();

} // namespace l3af::flow
