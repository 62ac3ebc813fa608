#pragma once

// Hints for a misspelled name (a member, an enumerator, a function, a map):
// the names there are, and the closest one when it is likely a typo.

#include <string>
#include <string_view>
#include <vector>

namespace l3af::program {

// "a, b, c", or "none".
std::string joinNames(const std::vector<std::string>& names);

// " (did you mean 'rate'?)" when one name is at most two edits from `wanted`;
// "" otherwise.
std::string didYouMean(std::string_view wanted, const std::vector<std::string>& names);

} // namespace l3af::program
