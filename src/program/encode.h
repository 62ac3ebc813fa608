#pragma once

// Turns a map entry's key or value, as the configuration wrote it, into the
// bytes of the map's BTF type, so that users never write raw bytes.
//
// Integers are range-checked against their type and stored in host order,
// or in network order through a __be16/__be32/__be64 typedef; true and false
// go into any integer as 1 and 0. An enum takes an integer or one of its
// enumerator names. A char array takes a string (with room for the
// terminating zero). A string is an IPv4 address in a __be32 or a __u8[4],
// an IPv6 address in a __u8[16] or a 16-byte struct or union (in6_addr).
// Arrays take a TOML array of at most their count; structs and unions a
// table keyed by member names (anonymous members' members included).
// Whatever is not written is zero.

#include "config/loader.h"
#include "config/model.h"
#include "program/type_desc.h"

#include <cstdint>
#include <expected>
#include <string_view>
#include <vector>

namespace l3af::program {

using Encoded = std::expected<std::vector<uint8_t>, config::Diagnostic>;

// Exactly type.size() bytes, or a diagnostic at the offending value that
// names it by its path from `path` ("key" or "value"):
//   value.rate: 70000 does not fit __u16 (0..65535)
// The caller says which program, map and entry.
[[nodiscard]] Encoded encodeValue(const TypeDesc& type, const config::MapValue& value,
                                  std::string_view path);

} // namespace l3af::program
