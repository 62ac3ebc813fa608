#include "program/suggest.h"

#include <algorithm>
#include <numeric>

namespace l3af::program {

namespace {

// Levenshtein distance over bytes.
size_t editDistance(std::string_view a, std::string_view b) {
    std::vector<size_t> previous(b.size() + 1);
    std::vector<size_t> current(b.size() + 1);
    std::iota(previous.begin(), previous.end(), size_t{0});
    for (size_t i = 1; i <= a.size(); i++) {
        current[0] = i;
        for (size_t j = 1; j <= b.size(); j++) {
            const size_t substitute = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
            current[j] = std::min({previous[j] + 1, current[j - 1] + 1, substitute});
        }
        std::swap(previous, current);
    }
    return previous[b.size()];
}

} // namespace

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
    const std::string* closest = nullptr;
    size_t best = 3; // more than two edits away is not a typo
    for (const std::string& name : names) {
        const size_t distance = editDistance(wanted, name);
        if (distance < best && distance < name.size()) {
            best = distance;
            closest = &name;
        }
    }
    return closest ? " (did you mean '" + *closest + "'?)" : "";
}

} // namespace l3af::program
