#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace l3af::kernel {

// FNV-1a, 64 bits: identifies revisions (not a security boundary).
class ContentHash {
  public:
    ContentHash& add(const void* data, size_t size) {
        const auto* p = static_cast<const unsigned char*>(data);
        for (size_t i = 0; i < size; i++) {
            state_ ^= p[i];
            state_ *= 0x100000001b3ULL;
        }
        return *this;
    }
    ContentHash& add(std::string_view s) { return add(s.data(), s.size()).add("\0", 1); }
    ContentHash& add(uint64_t v) { return add(&v, sizeof v); }

    std::string hex() const {
        char buf[17];
        std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(state_));
        return buf;
    }

  private:
    uint64_t state_ = 0xcbf29ce484222325ULL;
};

} // namespace l3af::kernel
