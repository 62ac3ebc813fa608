#pragma once

// Two independent ways to say which rule a packet matches, for tests:
// - referenceMatch(): the rules' meaning read straight from the config
//   model (config/model.h), one rule at a time, first match wins;
// - simulateMatch(): what mirror.bpf.c computes from the compiled maps,
//   lookup by lookup, in the program's order.
// Also the random rule sets and packets the cross-checks draw from.

#include "config/model.h"
#include "mirror/compile.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace l3af::test {

// A packet as mirror.bpf.c's parser sees it.
struct TuplePacket {
    uint8_t family = 4; // 4 or 6
    uint8_t protocol = 6;
    bool has_ports = false; // only for protocols that carry ports
    uint16_t src_port = 0;
    uint16_t dst_port = 0;
    std::array<uint8_t, 16> src{}; // IPv4: the first 4 bytes
    std::array<uint8_t, 16> dst{};
};

inline bool inPrefix(const std::array<uint8_t, 16>& address, const config::Cidr& cidr) {
    for (size_t bit = 0; bit < cidr.prefix_len; bit++) {
        uint8_t mask = static_cast<uint8_t>(0x80u >> (bit % 8));
        if ((address[bit / 8] & mask) != (cidr.address[bit / 8] & mask))
            return false;
    }
    return true;
}

inline bool inRange(uint16_t port, const config::PortRange& range) {
    return range.first <= port && port <= range.last;
}

// The rules' meaning, per config/model.h.
inline std::optional<size_t> referenceMatch(const std::vector<config::MirrorRule>& rules,
                                            const TuplePacket& p) {
    for (size_t i = 0; i < rules.size(); i++) {
        const config::MirrorRule& rule = rules[i];
        if (rule.src && (rule.src->family != p.family || !inPrefix(p.src, *rule.src)))
            continue;
        if (rule.dst && (rule.dst->family != p.family || !inPrefix(p.dst, *rule.dst)))
            continue;
        if (rule.protocol && *rule.protocol != p.protocol)
            continue;
        if (rule.src_port || rule.dst_port) {
            if (!p.has_ports || !config::carriesPorts(p.protocol))
                continue;
            if (rule.src_port && !inRange(p.src_port, *rule.src_port))
                continue;
            if (rule.dst_port && !inRange(p.dst_port, *rule.dst_port))
                continue;
        }
        return i;
    }
    return std::nullopt;
}

// mirror.bpf.c's classification over the compiled maps. With `as_program`,
// as the program does it: dimensions outside `dimensions` are not looked up,
// each address walk begins where mirror_prefix_starts says, and the sets'
// summaries are ANDed first, their words last. Without, every dimension is
// looked up, every walk begins at its root and whole sets are ANDed: the
// maps alone must give the same answer.
class CompiledMatcher {
  public:
    explicit CompiledMatcher(const mirror::CompiledMirror& compiled) : compiled_(compiled) {
        for (const auto& [index, set] : compiled.proto)
            proto_[index] = set;
        for (const auto& [id, set] : compiled.sets)
            sets_[id] = set;
    }

    std::optional<size_t> match(const TuplePacket& p, bool as_program = true) const {
        uint32_t dims = as_program ? compiled_.dimensions : 0xffffffff;
        uint32_t slot = p.family == 6 ? MIRROR_FAMILY_SLOT_V6 : MIRROR_FAMILY_SLOT_V4;
        std::vector<mirror_bitmap> selected = {find(proto_, MIRROR_PROTO_INDEX(slot, p.protocol))};
        uint64_t summary = selected[0].summary;
        // Whether some word may still hold a rule (mirror_select()).
        auto select = [&](const mirror_bitmap& set) {
            selected.push_back(set);
            summary &= set.summary;
            return summary != 0 || !as_program;
        };
        auto address = [&](uint32_t root, const std::array<uint8_t, 16>& a) {
            size_t bytes = p.family == 4 ? 4 : 16;
            return as_program ? prefixSetFromStart(root, a, bytes) : prefixSet(root, a, bytes);
        };
        const mirror_port_classes& classes = compiled_.port_classes.at(0).second;
        bool v4 = p.family == 4;
        if ((as_program && summary == 0) ||
            ((dims & MIRROR_DIM_DST_PORT) &&
             !select(find(sets_, classes.dst[p.has_ports ? p.dst_port : MIRROR_PORT_NONE]))) ||
            ((dims & MIRROR_DIM_SRC_PORT) &&
             !select(find(sets_, classes.src[p.has_ports ? p.src_port : MIRROR_PORT_NONE]))) ||
            ((dims & (v4 ? MIRROR_DIM_DST4 : MIRROR_DIM_DST6)) &&
             !select(address(v4 ? MIRROR_PREFIX_ROOT_DST4 : MIRROR_PREFIX_ROOT_DST6, p.dst))) ||
            ((dims & (v4 ? MIRROR_DIM_SRC4 : MIRROR_DIM_SRC6)) &&
             !select(address(v4 ? MIRROR_PREFIX_ROOT_SRC4 : MIRROR_PREFIX_ROOT_SRC6, p.src))))
            return std::nullopt;

        uint64_t words = as_program ? summary : (uint64_t{1} << MIRROR_BITMAP_WORDS) - 1;
        for (; words != 0; words &= words - 1) {
            auto w = static_cast<size_t>(__builtin_ctzll(words));
            if (w >= MIRROR_BITMAP_WORDS)
                return std::nullopt;
            uint64_t word = ~uint64_t{0};
            for (const mirror_bitmap& set : selected)
                word &= set.words[w];
            if (word != 0)
                return w * 64 + static_cast<size_t>(__builtin_ctzll(word));
        }
        return std::nullopt;
    }

    // The set a walk of the trie at `root` gives, from the root: one node
    // per address byte until an entry that is a class. Empty for a walk off
    // the table.
    mirror_bitmap prefixSet(uint32_t root, const std::array<uint8_t, 16>& address,
                            size_t bytes) const {
        return walk(root, 0, address, bytes);
    }

    // The set mirror_prefix_set() finds: the shared bytes compared at once,
    // then the walk from the block of the first byte after them.
    mirror_bitmap prefixSetFromStart(uint32_t root, const std::array<uint8_t, 16>& address,
                                     size_t bytes) const {
        const mirror_prefix_start& start = compiled_.prefix_starts.at(root);
        uint64_t words[2];
        std::memcpy(words, address.data(), sizeof(words));
        if (((words[0] ^ start.shared[0]) & start.mask[0]) != 0 ||
            (bytes > 8 && ((words[1] ^ start.shared[1]) & start.mask[1]) != 0))
            return find(sets_, start.outside);
        return walk(start.block, start.depth, address, bytes);
    }

  private:
    static mirror_bitmap find(const std::map<uint32_t, mirror_bitmap>& map, uint32_t key) {
        auto it = map.find(key);
        return it == map.end() ? mirror_bitmap{} : it->second;
    }

    mirror_bitmap walk(uint32_t block, size_t depth, const std::array<uint8_t, 16>& address,
                       size_t bytes) const {
        const std::vector<uint32_t>& nodes = compiled_.prefix_nodes;
        uint32_t entry = MIRROR_NODE_CHILD | block;
        for (size_t i = depth; i < bytes && (entry & MIRROR_NODE_CHILD); i++) {
            size_t index = size_t(entry & ~MIRROR_NODE_CHILD) * MIRROR_PREFIX_BLOCK + address[i];
            if (index >= nodes.size())
                return {};
            entry = nodes[index];
        }
        if (entry & MIRROR_NODE_CHILD)
            return {};
        return find(sets_, entry);
    }

    const mirror::CompiledMirror& compiled_;
    std::map<uint32_t, mirror_bitmap> proto_;
    std::map<uint32_t, mirror_bitmap> sets_;
};

// --- Building rules ---------------------------------------------------------

inline config::Cidr cidr(const std::string& text) {
    config::Cidr out;
    size_t slash = text.find('/');
    std::string address = text.substr(0, slash);
    out.family = address.find(':') == std::string::npos ? 4 : 6;
    out.prefix_len = static_cast<uint8_t>(std::stoi(text.substr(slash + 1)));
    inet_pton(out.family == 4 ? AF_INET : AF_INET6, address.c_str(), out.address.data());
    return out;
}

inline config::PortRange ports(uint16_t first, uint16_t last) {
    return {first, last};
}
inline config::PortRange port(uint16_t only) {
    return {only, only};
}

// --- Random rule sets and packets --------------------------------------------

// Rules drawn from small pools of prefixes and port boundaries, so that they
// nest and overlap, and packets drawn near them, so that many match.
class RuleFuzzer {
  public:
    // kOneNetwork: every prefix inside 10.0.0.0/8 or 2001:db8::/32, as an
    // operator's rules often are, so that the walks skip shared bytes.
    enum class Shape { kAnywhere, kOneNetwork };

    explicit RuleFuzzer(uint32_t seed, Shape shape = Shape::kAnywhere)
        : rng_(seed), shape_(shape) {}

    std::vector<config::MirrorRule> rules(size_t count) {
        std::vector<config::MirrorRule> out(count);
        for (config::MirrorRule& rule : out) {
            int family = pick({0, 4, 4, 6});
            if (family != 0) {
                if (chance(0.7))
                    rule.src = randomPrefix(family);
                if (chance(0.7) || !rule.src)
                    rule.dst = randomPrefix(family);
            }
            if (chance(0.6)) {
                uint8_t protocol = static_cast<uint8_t>(pick({6, 6, 17, 17, 132, 136, 1, 58, 47}));
                if (family == 6 && protocol == 1)
                    protocol = 58;
                if (family == 4 && protocol == 58)
                    protocol = 1;
                rule.protocol = protocol;
            }
            if (!rule.protocol || config::carriesPorts(*rule.protocol)) {
                if (chance(0.4))
                    rule.src_port = randomRange();
                if (chance(0.6))
                    rule.dst_port = randomRange();
            }
        }
        return out;
    }

    TuplePacket packet(const std::vector<config::MirrorRule>& near) {
        TuplePacket p;
        const config::MirrorRule* rule =
            near.empty() || chance(0.2) ? nullptr : &near[index(near.size())];
        p.family = static_cast<uint8_t>(pick({4, 6}));
        if (rule && rule->src)
            p.family = rule->src->family;
        else if (rule && rule->dst)
            p.family = rule->dst->family;
        p.src = randomAddress(p.family, rule && rule->src ? &*rule->src : nullptr);
        p.dst = randomAddress(p.family, rule && rule->dst ? &*rule->dst : nullptr);
        p.protocol = rule && rule->protocol && chance(0.9)
                         ? *rule->protocol
                         : static_cast<uint8_t>(pick({6, 17, 132, 136, 1, 58, 47, 0, 255}));
        p.has_ports = config::carriesPorts(p.protocol) && chance(0.9);
        if (p.has_ports) {
            p.src_port = nearPort(rule && rule->src_port ? &*rule->src_port : nullptr);
            p.dst_port = nearPort(rule && rule->dst_port ? &*rule->dst_port : nullptr);
        }
        return p;
    }

  private:
    bool chance(double p) { return std::bernoulli_distribution(p)(rng_); }
    size_t index(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }
    int pick(std::initializer_list<int> values) { return *(values.begin() + index(values.size())); }

    config::Cidr randomPrefix(int family) {
        config::Cidr out;
        out.family = static_cast<uint8_t>(family);
        size_t network = 0; // leading bits every prefix keeps from base()
        if (shape_ == Shape::kOneNetwork) {
            out.prefix_len = static_cast<uint8_t>(family == 4 ? pick({9, 16, 24, 31, 32})
                                                              : pick({33, 48, 64, 127, 128}));
            network = family == 4 ? 8 : 32;
        } else {
            out.prefix_len =
                static_cast<uint8_t>(family == 4 ? pick({0, 4, 8, 9, 16, 24, 31, 32})
                                                 : pick({0, 16, 32, 48, 64, 127, 128}));
        }
        // A few distinct bits near the top, so that prefixes nest and share.
        out.address = base(family);
        for (int i = 0; i < 3; i++) {
            size_t bit = index(out.prefix_len > 0 ? out.prefix_len : 1);
            if (out.prefix_len > 0 && bit >= network && chance(0.5))
                out.address[bit / 8] ^= static_cast<uint8_t>(0x80u >> (bit % 8));
        }
        for (size_t bit = out.prefix_len; bit < 128; bit++)
            out.address[bit / 8] &= static_cast<uint8_t>(~(0x80u >> (bit % 8)));
        return out;
    }

    std::array<uint8_t, 16> base(int family) {
        std::array<uint8_t, 16> a{};
        if (family == 4) {
            a[0] = 10;
            a[1] = static_cast<uint8_t>(pick({0, 1, 2}));
        } else {
            a[0] = 0x20;
            a[1] = 0x01;
            a[2] = 0x0d;
            a[3] = 0xb8;
            a[7] = static_cast<uint8_t>(pick({0, 1, 2}));
        }
        return a;
    }

    std::array<uint8_t, 16> randomAddress(int family, const config::Cidr* inside) {
        std::array<uint8_t, 16> a = base(family);
        size_t bits = family == 4 ? 32 : 128;
        for (size_t bit = 8; bit < bits; bit++)
            if (chance(0.1))
                a[bit / 8] ^= static_cast<uint8_t>(0x80u >> (bit % 8));
        if (inside && chance(0.8))
            for (size_t bit = 0; bit < inside->prefix_len; bit++) {
                uint8_t mask = static_cast<uint8_t>(0x80u >> (bit % 8));
                a[bit / 8] =
                    static_cast<uint8_t>((a[bit / 8] & ~mask) | (inside->address[bit / 8] & mask));
            }
        if (family == 4)
            std::fill(a.begin() + 4, a.end(), 0);
        return a;
    }

    uint16_t boundary() {
        return static_cast<uint16_t>(
            pick({0, 1, 22, 53, 79, 80, 81, 443, 1023, 1024, 8080, 49151, 49152, 65534, 65535}));
    }

    config::PortRange randomRange() {
        uint16_t a = boundary();
        uint16_t b = chance(0.4) ? a : boundary();
        return {std::min(a, b), std::max(a, b)};
    }

    uint16_t nearPort(const config::PortRange* range) {
        if (range && chance(0.8)) {
            int offset = pick({-1, 0, 0, 1});
            int port = pick({0, 1}) ? range->first + offset : range->last + offset;
            return static_cast<uint16_t>(std::clamp(port, 0, 65535));
        }
        return chance(0.5)
                   ? boundary()
                   : static_cast<uint16_t>(std::uniform_int_distribution<int>(0, 65535)(rng_));
    }

    std::mt19937 rng_;
    Shape shape_;
};

} // namespace l3af::test
