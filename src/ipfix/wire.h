#pragma once

// Big-endian ("network byte order", RFC 7011 section 6.1) stores into a byte
// buffer. The caller has checked the room; these only write.

#include <bit>
#include <cstdint>
#include <cstring>

namespace l3af::ipfix::wire {

inline void put8(uint8_t* p, uint8_t v) {
    *p = v;
}

inline void put16(uint8_t* p, uint16_t v) {
    if constexpr (std::endian::native == std::endian::little)
        v = std::byteswap(v);
    std::memcpy(p, &v, sizeof v);
}

inline void put32(uint8_t* p, uint32_t v) {
    if constexpr (std::endian::native == std::endian::little)
        v = std::byteswap(v);
    std::memcpy(p, &v, sizeof v);
}

inline void put64(uint8_t* p, uint64_t v) {
    if constexpr (std::endian::native == std::endian::little)
        v = std::byteswap(v);
    std::memcpy(p, &v, sizeof v);
}

} // namespace l3af::ipfix::wire
