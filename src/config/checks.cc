#include "config/checks.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <netinet/in.h>
#include <vector>

namespace l3af::config {

namespace {

constexpr size_t kMaxItemName = 32;
constexpr size_t kMaxInterfaceName = 15; // IFNAMSIZ - 1

bool isNameChar(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

bool isIpLiteralOf(int family, std::string_view text) {
    if (text.find('\0') != std::string_view::npos)
        return false;
    const std::string terminated(text);
    in6_addr storage{};
    return inet_pton(family, terminated.c_str(), &storage) == 1;
}

} // namespace

bool isValidItemName(std::string_view name) {
    return !name.empty() && name.size() <= kMaxItemName && std::ranges::all_of(name, isNameChar);
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

} // namespace l3af::config
