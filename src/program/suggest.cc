#include "program/suggest.h"

#include "config/checks.h"

namespace l3af::program {

std::string joinNames(const std::vector<std::string>& names) {
    if (names.empty())
        return "none";
    std::string out;
    for (const std::string& name : names) {
        if (!out.empty())
            out += ", ";
        out += name;
    }
    return out;
}

std::string didYouMean(std::string_view wanted, const std::vector<std::string>& names) {
    const std::vector<std::string_view> views(names.begin(), names.end());
    const std::string_view closest = config::closestName(wanted, views);
    return closest.empty() ? "" : " (did you mean '" + std::string(closest) + "'?)";
}

} // namespace l3af::program
