// From CLOCK_BOOTTIME nanoseconds (what the TC program stamps) to Unix
// milliseconds (what IPFIX carries).

#include "flow/clock.h"

#include <gtest/gtest.h>

#include <ctime>

using namespace l3af::flow;

TEST(ClockMapping, AddsTheOffsetAndTruncatesToMilliseconds) {
    const ClockMapping clock(1'700'000'000'000'000'000); // booted at 2023-11-14T22:13:20Z
    EXPECT_EQ(clock.toUnixMs(0), 1'700'000'000'000u);
    EXPECT_EQ(clock.toUnixMs(5'000'000'000), 1'700'000'005'000u);
    EXPECT_EQ(clock.toUnixMs(1'999'999), 1'700'000'000'001u);
}

TEST(ClockMapping, ClampsInstantsBeforeTheEpochToZero) {
    const ClockMapping clock(-10'000'000);
    EXPECT_EQ(clock.toUnixMs(9'000'000), 0u);
    EXPECT_EQ(clock.toUnixMs(12'000'000), 2u);
}

TEST(ClockMapping, NowMapsTheBootClockOntoTheWallClock) {
    const ClockMapping clock = ClockMapping::now();
    const uint64_t mapped_ms = clock.toUnixMs(bootTimeNs());
    timespec real{};
    clock_gettime(CLOCK_REALTIME, &real);
    const uint64_t real_ms = static_cast<uint64_t>(real.tv_sec) * 1000 + real.tv_nsec / 1'000'000;
    // Read one after the other: equal up to the time between the reads.
    EXPECT_LE(mapped_ms, real_ms + 1);
    EXPECT_GE(mapped_ms + 1000, real_ms);
}
