// Durations as the files write them.

#include "config/duration.h"

#include <gtest/gtest.h>

#include <chrono>

using namespace l3af::config;
using namespace std::chrono_literals;

namespace {

int64_t ms(std::string_view text) {
    const auto parsed = parseDuration(text);
    return parsed ? parsed->count() : -1;
}

TEST(ParseDuration, ReadsEachUnit) {
    EXPECT_EQ(ms("500ms"), 500);
    EXPECT_EQ(ms("15s"), 15'000);
    EXPECT_EQ(ms("10m"), 600'000);
    EXPECT_EQ(ms("1h"), 3'600'000);
}

TEST(ParseDuration, AddsGroups) {
    EXPECT_EQ(ms("1m30s"), 90'000);
    EXPECT_EQ(ms("1h2m3s4ms"), 3'723'004);
    EXPECT_EQ(ms("1s500ms"), 1'500);
}

TEST(ParseDuration, ZeroParsesForTheCallerToJudge) {
    EXPECT_EQ(ms("0s"), 0);
    EXPECT_EQ(ms("0ms"), 0);
}

TEST(ParseDuration, RejectsWhatIsNotADuration) {
    for (std::string_view text : {"", "15", "s", "-1s", "+1s", "1.5s", "1 s", " 1s", "1s ", "1d",
                                  "1us", "1S", "1sec", "ms", "1m s", "1s-"})
        EXPECT_FALSE(parseDuration(text).has_value()) << "\"" << text << "\"";
}

TEST(ParseDuration, RejectsOverflow) {
    EXPECT_FALSE(parseDuration("9223372036854775808ms").has_value());
    EXPECT_FALSE(parseDuration("9223372036854775807s").has_value());
    EXPECT_FALSE(parseDuration("9223372036854775807ms1ms").has_value());
    EXPECT_EQ(ms("9223372036854775807ms"), INT64_MAX);
}

TEST(FormatDuration, WritesTheShortestForm) {
    EXPECT_EQ(formatDuration(0ms), "0s");
    EXPECT_EQ(formatDuration(500ms), "500ms");
    EXPECT_EQ(formatDuration(1500ms), "1s500ms");
    EXPECT_EQ(formatDuration(90s), "1m30s");
    EXPECT_EQ(formatDuration(3600s), "1h");
}

TEST(FormatDuration, ReadsBack) {
    for (Duration d : std::initializer_list<Duration>{1ms, 999ms, 60s, 3723004ms, 36h})
        EXPECT_EQ(parseDuration(formatDuration(d)), d);
}

} // namespace
