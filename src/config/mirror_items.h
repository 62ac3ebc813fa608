#pragma once

// Reading the [[tunnel]] and [[mirror]] tables (with their [[mirror.rule]]
// tables) of one file. Internal to the config folder.

#include "config/document.h"
#include "config/item_reader.h"

#include <optional>

namespace l3af::config {

// The item when its name could be read (even if other keys were wrong, so
// that duplicates and references are still checked); every problem goes to
// the reporter.
std::optional<TunnelEntry> readTunnel(const toml::table& table, Reporter& reporter);
std::optional<MirrorEntry> readMirror(const toml::table& table, Reporter& reporter);

} // namespace l3af::config
