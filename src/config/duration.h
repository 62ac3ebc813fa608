#pragma once

// Durations as the files write them: one or more <integer><unit> groups,
// units ms, s, m, h ("500ms", "15s", "10m", "1h30m").

#include "config/model.h"

#include <optional>
#include <string>
#include <string_view>

namespace l3af::config {

// The duration, or nullopt for an empty string, a sign, a fraction, a
// missing or unknown unit, or a value that overflows. "0s" parses to zero:
// whether zero is allowed is the caller's rule.
std::optional<Duration> parseDuration(std::string_view text);

// The shortest form parseDuration reads back: "1h30m", "1s500ms", "0s".
std::string formatDuration(Duration duration);

} // namespace l3af::config
