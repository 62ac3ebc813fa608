#pragma once

// SHA-256 (FIPS 180-4), to name an object file by its content: a program
// whose object digest is unchanged is not reloaded.

#include <cstdint>
#include <span>
#include <string>

namespace l3af::program {

// Lowercase hex, 64 characters.
std::string sha256Hex(std::span<const uint8_t> data);

} // namespace l3af::program
