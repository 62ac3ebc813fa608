#pragma once

// Turns a mirror's rules into exactly what mirror.bpf.c reads: the contents
// of its classification maps and the load-time parameters that go with them
// (docs/mirror.md). Pure: no libbpf. A new rule set is loaded as a new
// program instance with these contents, then swapped in atomically.

#include "common/error.h"
#include "config/model.h"
#include "mirror_abi.h"

#include <array>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

namespace l3af::mirror {

static_assert(sizeof(mirror_bitmap) == 8 * MIRROR_BITMAP_WORDS + 8);
static_assert(sizeof(mirror_port_classes) == 4 * MIRROR_PORT_SLOTS);
static_assert(sizeof(mirror_rule_counter) == 16);
static_assert(sizeof(mirror_stats) == 48);
static_assert(sizeof(mirror_prefix_start) == 48);
static_assert(MIRROR_MAX_SETS <= 65536, "port classes are 16 bits");

inline constexpr size_t kMaxRules = MIRROR_MAX_RULES;

// One map's entries, in the order to write them.
template <typename Key, typename Value> using MapEntries = std::vector<std::pair<Key, Value>>;

// Array slots not listed stay zero: for mirror_proto the empty set, for
// the class maps class 0, the empty set.
struct CompiledMirror {
    uint32_t rule_count = 0;

    // Load-time parameters of the same names.
    uint32_t dimensions = 0; // mirror_dimensions: enum mirror_dimension bits
    // mirror_prefix_starts: where each trie's walk begins, by root.
    std::array<mirror_prefix_start, MIRROR_PREFIX_ROOTS> prefix_starts{};

    MapEntries<uint32_t, mirror_bitmap> proto;              // mirror_proto
    MapEntries<uint32_t, mirror_bitmap> sets;               // mirror_sets, 0 the empty set
    MapEntries<uint32_t, mirror_port_classes> port_classes; // mirror_port_classes, key 0
    // mirror_prefix_nodes: entry i under key i. The map's max_entries must be
    // set to prefix_nodes.size() before load (bpf_map__set_max_entries);
    // bpf_map_update_batch() writes it in one call.
    std::vector<uint32_t> prefix_nodes;
};

// Rule i of `rules` is bit i of every bitmap and slot i of
// mirror_rule_counters; a packet that matches several rules counts under the
// lowest-numbered one. Fails (EINVAL) on more than kMaxRules rules and on a
// rule no packet could match (addresses of two families, a prefix longer
// than its family's addresses, a port range that ends before it starts).
[[nodiscard]] Result<CompiledMirror> compileRules(std::span<const config::MirrorRule> rules);

// Bitmap helpers, for the daemon's status and for tests.
inline bool hasRule(const mirror_bitmap& set, size_t rule) {
    return (set.words[rule / 64] >> (rule % 64) & 1) != 0;
}
inline void addRule(mirror_bitmap& set, size_t rule) {
    set.words[rule / 64] |= uint64_t{1} << (rule % 64);
    set.summary |= uint64_t{1} << (rule / 64);
}

} // namespace l3af::mirror
