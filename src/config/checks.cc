#include "config/checks.h"

#include <arpa/inet.h>

#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <vector>

namespace l3af::config {

namespace {

constexpr size_t kMaxItemName = 32;
constexpr size_t kMaxInterfaceName = 15; // IFNAMSIZ - 1

bool isNameChar(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

bool parseAddress(int family, std::string_view text, std::array<uint8_t, 16>& bytes) {
    if (text.find('\0') != std::string_view::npos)
        return false;
    const std::string terminated(text);
    bytes = {};
    return inet_pton(family, terminated.c_str(), bytes.data()) == 1;
}

bool isIpLiteralOf(int family, std::string_view text) {
    std::array<uint8_t, 16> ignored{};
    return parseAddress(family, text, ignored);
}

// Only decimal digits, no sign or space: what the files write is what is meant.
std::optional<uint64_t> parseDecimal(std::string_view text) {
    if (text.empty() || text.size() > 12 ||
        !std::ranges::all_of(text, [](char c) { return c >= '0' && c <= '9'; }))
        return std::nullopt;
    uint64_t value = 0;
    std::from_chars(text.data(), text.data() + text.size(), value);
    return value;
}

std::string quoted(std::string_view text) {
    return "\"" + std::string(text) + "\"";
}

// Clears the bits beyond the prefix; returns whether any was set.
bool clearHostBits(Cidr& cidr) {
    bool had_host_bits = false;
    const size_t bytes = cidr.family == 4 ? 4 : 16;
    const size_t prefix_len = cidr.prefix_len;
    for (size_t i = 0; i < bytes; ++i) {
        const size_t first_bit = i * 8;
        uint8_t keep = 0xff;
        if (first_bit >= prefix_len)
            keep = 0;
        else if (first_bit + 8 > prefix_len)
            keep = static_cast<uint8_t>(0xff << (8 - (prefix_len - first_bit)));
        had_host_bits = had_host_bits || (cidr.address[i] & ~keep) != 0;
        cidr.address[i] &= keep;
    }
    return had_host_bits;
}

} // namespace

bool isValidItemName(std::string_view name) {
    return !name.empty() && name.size() <= kMaxItemName && std::ranges::all_of(name, isNameChar);
}

bool isCIdentifier(std::string_view name) {
    auto isLetter = [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    };
    return !name.empty() && isLetter(name[0]) &&
           std::ranges::all_of(name, [&](char c) { return isLetter(c) || (c >= '0' && c <= '9'); });
}

bool isValidInterfaceName(std::string_view name) {
    if (name.empty() || name.size() > kMaxInterfaceName || name == "." || name == "..")
        return false;
    return std::ranges::none_of(name, [](char c) {
        const auto byte = static_cast<unsigned char>(c);
        return c == '/' || c == ':' || c == ' ' || byte < 0x20 || byte == 0x7f;
    });
}

bool isIpLiteral(std::string_view text) {
    return isIpLiteralOf(AF_INET, text) || isIpLiteralOf(AF_INET6, text);
}

bool isIpv4Literal(std::string_view text) {
    return isIpLiteralOf(AF_INET, text);
}

bool isIpv6Literal(std::string_view text) {
    return isIpLiteralOf(AF_INET6, text);
}

std::expected<Cidr, std::string> parseCidr(std::string_view text) {
    const size_t slash = text.find('/');
    const std::string_view address = text.substr(0, slash);
    Cidr cidr;
    if (parseAddress(AF_INET, address, cidr.address)) {
        cidr.family = 4;
    } else if (parseAddress(AF_INET6, address, cidr.address)) {
        cidr.family = 6;
    } else {
        return std::unexpected(quoted(text) + " is not an IPv4 or IPv6 CIDR such as "
                                              "\"10.0.0.0/8\" or \"2001:db8::/32\"");
    }
    const uint64_t max_len = cidr.family == 4 ? 32 : 128;
    cidr.prefix_len = static_cast<uint8_t>(max_len);
    if (slash != std::string_view::npos) {
        const std::optional<uint64_t> len = parseDecimal(text.substr(slash + 1));
        if (!len)
            return std::unexpected(quoted(text) +
                                   ": the prefix length after '/' must be a decimal number");
        if (*len > max_len)
            return std::unexpected(quoted(text) + ": an IPv" + std::to_string(cidr.family) +
                                   " prefix length is 0 to " + std::to_string(max_len));
        cidr.prefix_len = static_cast<uint8_t>(*len);
    }
    if (clearHostBits(cidr))
        return std::unexpected(std::string(text) + " has host bits set; did you mean " +
                               cidr.str() + "?");
    return cidr;
}

std::expected<PortRange, std::string> parsePortRange(std::string_view text) {
    const size_t dash = text.find('-');
    const std::optional<uint64_t> first = parseDecimal(text.substr(0, dash));
    const std::optional<uint64_t> last =
        dash == std::string_view::npos ? first : parseDecimal(text.substr(dash + 1));
    if (!first || !last)
        return std::unexpected(quoted(text) + " is not a port or a port range such as \"443\" "
                                              "or \"1024-65535\"");
    if (*first > 65535 || *last > 65535)
        return std::unexpected(quoted(text) + ": ports are 0 to 65535");
    if (*first > *last)
        return std::unexpected(quoted(text) + ": the first port is greater than the last");
    return PortRange{static_cast<uint16_t>(*first), static_cast<uint16_t>(*last)};
}

std::optional<std::string> listenAddressProblem(std::string_view text) {
    std::string_view host;
    std::string_view port;
    if (text.starts_with('[')) {
        const size_t close = text.find(']');
        if (close == std::string_view::npos)
            return "'[' without a closing ']'";
        host = text.substr(1, close - 1);
        if (close + 1 >= text.size() || text[close + 1] != ':')
            return "expected ':port' after ']'";
        port = text.substr(close + 2);
        if (!isIpLiteralOf(AF_INET6, host))
            return "'" + std::string(host) + "' is not an IPv6 literal";
    } else {
        const size_t colon = text.rfind(':');
        if (colon == std::string_view::npos)
            return "no ':port'";
        host = text.substr(0, colon);
        port = text.substr(colon + 1);
        if (host.find(':') != std::string_view::npos)
            return "an IPv6 host is written in brackets, as in \"[::1]:9469\"";
        if (!isIpLiteralOf(AF_INET, host))
            return "'" + std::string(host) + "' is not an IP literal";
    }
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value < 1 ||
        value > 65535)
        return "the port must be a number from 1 to 65535";
    return std::nullopt;
}

size_t editDistance(std::string_view a, std::string_view b) {
    std::vector<size_t> row(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j)
        row[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        size_t diagonal = row[0];
        row[0] = i;
        for (size_t j = 1; j <= b.size(); ++j) {
            const size_t above = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
            diagonal = above;
        }
    }
    return row[b.size()];
}

std::string_view closestName(std::string_view wanted, std::span<const std::string_view> names) {
    std::string_view closest;
    size_t best = 3; // more than two edits away is not a typo
    for (std::string_view name : names) {
        const size_t distance = editDistance(wanted, name);
        if (distance < best && distance < name.size()) {
            best = distance;
            closest = name;
        }
    }
    return closest;
}

} // namespace l3af::config
