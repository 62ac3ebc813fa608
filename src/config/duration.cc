#include "config/duration.h"

#include <cstdint>

namespace l3af::config {

namespace {

struct Unit {
    std::string_view suffix;
    int64_t milliseconds;
};

// "ms" before "m" so that the longer suffix wins.
constexpr Unit kUnits[] = {{"ms", 1}, {"h", 3'600'000}, {"m", 60'000}, {"s", 1'000}};

bool isDigit(char c) {
    return c >= '0' && c <= '9';
}

} // namespace

std::optional<Duration> parseDuration(std::string_view text) {
    if (text.empty())
        return std::nullopt;
    int64_t total = 0;
    size_t i = 0;
    while (i < text.size()) {
        const size_t digits_begin = i;
        int64_t count = 0;
        for (; i < text.size() && isDigit(text[i]); ++i)
            if (__builtin_mul_overflow(count, 10, &count) ||
                __builtin_add_overflow(count, text[i] - '0', &count))
                return std::nullopt;
        if (i == digits_begin)
            return std::nullopt;
        const Unit* unit = nullptr;
        for (const Unit& candidate : kUnits)
            if (text.substr(i).starts_with(candidate.suffix)) {
                unit = &candidate;
                break;
            }
        if (unit == nullptr)
            return std::nullopt;
        i += unit->suffix.size();
        int64_t milliseconds = 0;
        if (__builtin_mul_overflow(count, unit->milliseconds, &milliseconds) ||
            __builtin_add_overflow(total, milliseconds, &total))
            return std::nullopt;
    }
    return Duration(total);
}

std::string formatDuration(Duration duration) {
    int64_t rest = duration.count();
    if (rest == 0)
        return "0s";
    std::string out;
    if (rest < 0) {
        out = "-";
        rest = -rest;
    }
    for (std::string_view suffix : {"h", "m", "s", "ms"}) {
        int64_t scale = 1;
        for (const Unit& unit : kUnits)
            if (unit.suffix == suffix)
                scale = unit.milliseconds;
        if (rest >= scale) {
            out += std::to_string(rest / scale);
            out += suffix;
            rest %= scale;
        }
    }
    return out;
}

} // namespace l3af::config
