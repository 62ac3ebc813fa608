#include "flow/clock.h"

#include <ctime>

namespace l3af::flow {

namespace {

int64_t readNs(clockid_t clock) {
    timespec ts{};
    clock_gettime(clock, &ts); // cannot fail for these clocks
    return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

} // namespace

ClockMapping ClockMapping::now() {
    // Bracket the wall clock read between two boot clock reads and take the
    // midpoint, so a preemption between the reads costs half its length.
    const int64_t boot_before = readNs(CLOCK_BOOTTIME);
    const int64_t real = readNs(CLOCK_REALTIME);
    const int64_t boot_after = readNs(CLOCK_BOOTTIME);
    return ClockMapping(real - (boot_before + (boot_after - boot_before) / 2));
}

uint64_t ClockMapping::toUnixMs(uint64_t boot_ns) const {
    const int64_t wall_ns = static_cast<int64_t>(boot_ns) + offset_ns_;
    return wall_ns < 0 ? 0 : static_cast<uint64_t>(wall_ns) / 1'000'000;
}

uint64_t bootTimeNs() {
    return static_cast<uint64_t>(readNs(CLOCK_BOOTTIME));
}

} // namespace l3af::flow
