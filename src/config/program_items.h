#pragma once

// Reading the [[program]] tables (with their [program.maps.NAME] tables) of
// one file. Internal to the config folder.
//
// Only the file is checked here: whether the object exists, holds the
// function and maps, and whether the entries fit the maps' BTF types is
// decided when the object is read, against the positions kept in the model.

#include "config/document.h"
#include "config/item_reader.h"

#include <optional>

namespace l3af::config {

// The item when its name could be read (even if other keys were wrong, so
// that duplicates are still checked); every problem goes to the reporter.
std::optional<ProgramEntry> readProgram(const toml::table& table, Reporter& reporter);

} // namespace l3af::config
