#pragma once

// Checks on single values that do not depend on TOML: names, interface
// names, addresses. Internal to the config folder.

#include "config/model.h"

#include <expected>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace l3af::config {

// 1 to 32 characters from [A-Za-z0-9_-]: the name becomes a bpffs directory.
bool isValidItemName(std::string_view name);

// [A-Za-z_][A-Za-z0-9_]*: how a program's function and its maps are named
// in the object file.
bool isCIdentifier(std::string_view name);

// What the kernel accepts as a network device name (dev_valid_name): 1 to 15
// bytes, not "." or "..", no '/', ':' or whitespace; control characters are
// refused too.
bool isValidInterfaceName(std::string_view name);

// An IPv4 or IPv6 address literal as inet_pton reads it (no host names: the
// daemon must not depend on DNS when it starts).
bool isIpLiteral(std::string_view text);
bool isIpv4Literal(std::string_view text);
bool isIpv6Literal(std::string_view text);

// "10.0.0.0/8", "2001:db8::/32", or a bare address meaning /32 or /128.
// The error is a sentence naming the text: "\"10.0.0.0/33\": an IPv4 prefix
// length is 0 to 32". Host bits set are an error, not silently cleared:
// "10.0.0.1/8" is more likely a typo than a wish for 10.0.0.0/8.
std::expected<Cidr, std::string> parseCidr(std::string_view text);

// "443" or "1024-65535" (first <= last, each 0 to 65535). The error is a
// sentence naming the text.
std::expected<PortRange, std::string> parsePortRange(std::string_view text);

// "host:port" or "[v6]:port" with an IP literal host and a port 1..65535.
// Returns what is wrong with it, or nullopt when it is valid.
std::optional<std::string> listenAddressProblem(std::string_view text);

// Levenshtein distance, for "did you mean" hints on misspelled keys.
size_t editDistance(std::string_view a, std::string_view b);

// The name `wanted` is likely a typo of: at most two edits away (and fewer
// than the name's length), the closest first; "" when there is none.
std::string_view closestName(std::string_view wanted, std::span<const std::string_view> names);

} // namespace l3af::config
