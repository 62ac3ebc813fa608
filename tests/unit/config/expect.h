#pragma once

// What the loader tests check a LoadResult with: its diagnostics as text (to
// show when a load that should pass fails) and the place a value came from.

#include "config/loader.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

namespace l3af::config::testing {

// Every diagnostic of a failed load, one per line; empty when it loaded.
inline std::string describe(const LoadResult& result) {
    std::string out;
    if (!result)
        for (const Diagnostic& d : result.error())
            out += d.str() + "\n";
    return out;
}

inline void expectAt(const SourceLocation& where, const std::string& file, uint32_t line,
                     uint32_t column) {
    EXPECT_EQ(where.file, file);
    EXPECT_EQ(where.line, line);
    EXPECT_EQ(where.column, column);
}

} // namespace l3af::config::testing
