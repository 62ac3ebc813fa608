#pragma once

// The Internet checksum (RFC 1071), computed here independently of the
// programs under test so that tests can build frames and check the ones the
// programs write.

#include <cstddef>
#include <cstdint>

namespace l3af::test {

// The ones' complement sum of 16-bit big-endian words; an odd last byte
// counts as if followed by a zero byte.
inline uint32_t onesSum(const uint8_t* data, size_t len, uint32_t sum = 0) {
    for (size_t i = 0; i + 1 < len; i += 2)
        sum += uint32_t(data[i]) << 8 | data[i + 1];
    if (len % 2)
        sum += uint32_t(data[len - 1]) << 8;
    return sum;
}

// Folds the carries of a sum back in and complements it: the value for a
// checksum field, or 0 when checking data that already holds its checksum.
inline uint16_t foldComplement(uint32_t sum) {
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<uint16_t>(~sum);
}

} // namespace l3af::test
