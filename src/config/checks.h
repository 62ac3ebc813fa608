#pragma once

// Checks on single values that do not depend on TOML: names, interface
// names, addresses. Internal to the config folder.

#include <optional>
#include <string>
#include <string_view>

namespace l3af::config {

// 1 to 32 characters from [A-Za-z0-9_-]: the name becomes a bpffs directory.
bool isValidItemName(std::string_view name);

// What the kernel accepts as a network device name (dev_valid_name): 1 to 15
// bytes, not "." or "..", no '/', ':' or whitespace; control characters are
// refused too.
bool isValidInterfaceName(std::string_view name);

// An IPv4 or IPv6 address literal as inet_pton reads it (no host names: the
// daemon must not depend on DNS when it starts).
bool isIpLiteral(std::string_view text);

// "host:port" or "[v6]:port" with an IP literal host and a port 1..65535.
// Returns what is wrong with it, or nullopt when it is valid.
std::optional<std::string> listenAddressProblem(std::string_view text);

// Levenshtein distance, for "did you mean" hints on misspelled keys.
size_t editDistance(std::string_view a, std::string_view b);

} // namespace l3af::config
