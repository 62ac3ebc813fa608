#pragma once

// Reads the configuration files into the model. A reload is all or nothing,
// so a load reports every error it finds, not just the first, each with
// file:line:column, sorted by file (in load order) and then position.

#include "config/duration.h"
#include "config/model.h"

#include <expected>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace l3af::config {

struct Diagnostic {
    SourceLocation where;
    std::string message;

    // "file:line:column: error: message" ("file: error: message" when the
    // position is unknown, as for a file that cannot be read).
    std::string str() const;
};

using LoadResult = std::expected<Config, std::vector<Diagnostic>>;

// Every *.toml in dir that is a regular file (symlinks followed) and not
// hidden, in lexical order of file name, merged. An empty directory gives an
// empty, valid Config; a missing one is an error.
LoadResult loadDirectory(const std::filesystem::path& dir);

// These files, in this order, merged. Each must be a regular file that is
// owned by root or the current user and not writable by group or others.
LoadResult loadFiles(const std::vector<std::filesystem::path>& files);

// One document given as text (tests, stdin); no file checks.
LoadResult loadText(std::string_view text, std::string_view file_name);

} // namespace l3af::config
