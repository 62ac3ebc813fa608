#include "mirror/compile.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>

namespace l3af::mirror {

namespace {

using config::Cidr;
using config::MirrorRule;
using config::PortRange;

using Words = std::array<uint64_t, MIRROR_BITMAP_WORDS>;

mirror_bitmap toBitmap(const Words& words) {
    mirror_bitmap set{};
    for (size_t w = 0; w < words.size(); w++) {
        set.words[w] = words[w];
        if (words[w] != 0)
            set.summary |= uint64_t{1} << w;
    }
    return set;
}

bool isEmpty(const Words& words) {
    return std::all_of(words.begin(), words.end(), [](uint64_t w) { return w == 0; });
}

void add(Words& words, size_t rule) {
    words[rule / 64] |= uint64_t{1} << (rule % 64);
}

size_t addressBits(uint8_t family) {
    return family == 4 ? 32 : 128;
}

// The prefix with every bit past prefix_len cleared, so that equal prefixes
// compare equal whatever the file said about host bits.
Cidr canonical(Cidr cidr) {
    for (size_t bit = cidr.prefix_len; bit < 128; bit++)
        cidr.address[bit / 8] &= static_cast<uint8_t>(~(0x80u >> (bit % 8)));
    return cidr;
}

// Whether `outer` contains every address of `inner` (same family, both
// canonical).
bool contains(const Cidr& outer, const Cidr& inner) {
    if (outer.prefix_len > inner.prefix_len)
        return false;
    size_t whole = outer.prefix_len / 8;
    if (std::memcmp(outer.address.data(), inner.address.data(), whole) != 0)
        return false;
    size_t rest = outer.prefix_len % 8;
    if (rest == 0)
        return true;
    uint8_t mask = static_cast<uint8_t>(0xff00u >> rest);
    return (outer.address[whole] & mask) == (inner.address[whole] & mask);
}

struct CidrLess {
    bool operator()(const Cidr& a, const Cidr& b) const {
        return std::tie(a.family, a.prefix_len, a.address) <
               std::tie(b.family, b.prefix_len, b.address);
    }
};

std::optional<uint8_t> ruleFamily(const MirrorRule& rule) {
    if (rule.src)
        return rule.src->family;
    if (rule.dst)
        return rule.dst->family;
    return std::nullopt;
}

bool hasPortRange(const MirrorRule& rule) {
    return rule.src_port.has_value() || rule.dst_port.has_value();
}

std::string describe(size_t index, const MirrorRule& rule) {
    std::string where = rule.where.str();
    return "rule " + std::to_string(index + 1) + (where.empty() ? "" : " (" + where + ")");
}

Status checkCidr(size_t index, const MirrorRule& rule, const std::optional<Cidr>& cidr,
                 const char* key) {
    if (!cidr)
        return {};
    if (cidr->family != 4 && cidr->family != 6)
        return fail(EINVAL, describe(index, rule) + ": " + key + " has address family " +
                                std::to_string(cidr->family) + ", not 4 or 6");
    if (cidr->prefix_len > addressBits(cidr->family))
        return fail(EINVAL, describe(index, rule) + ": " + key + " prefix /" +
                                std::to_string(cidr->prefix_len) + " is longer than IPv" +
                                std::to_string(cidr->family) + " addresses");
    return {};
}

Status checkRule(size_t index, const MirrorRule& rule) {
    if (Status ok = checkCidr(index, rule, rule.src, "src"); !ok)
        return ok;
    if (Status ok = checkCidr(index, rule, rule.dst, "dst"); !ok)
        return ok;
    if (rule.src && rule.dst && rule.src->family != rule.dst->family)
        return fail(EINVAL, describe(index, rule) + ": src is IPv" +
                                std::to_string(rule.src->family) + " but dst is IPv" +
                                std::to_string(rule.dst->family));
    for (const auto& [range, key] :
         {std::pair{&rule.src_port, "src_port"}, std::pair{&rule.dst_port, "dst_port"}})
        if (*range && (*range)->first > (*range)->last)
            return fail(EINVAL, describe(index, rule) + ": " + key + " range " +
                                    std::to_string((*range)->first) + "-" +
                                    std::to_string((*range)->last) + " ends before it starts");
    return {};
}

// mirror_proto: the rules that accept each (family, protocol).
void compileProto(std::span<const MirrorRule> rules, CompiledMirror& out) {
    for (uint32_t slot : {MIRROR_FAMILY_SLOT_V4, MIRROR_FAMILY_SLOT_V6}) {
        uint8_t family = slot == MIRROR_FAMILY_SLOT_V4 ? 4 : 6;
        for (uint32_t protocol = 0; protocol < 256; protocol++) {
            Words words{};
            for (size_t i = 0; i < rules.size(); i++) {
                const MirrorRule& rule = rules[i];
                std::optional<uint8_t> rule_family = ruleFamily(rule);
                if (rule_family && *rule_family != family)
                    continue;
                if (rule.protocol ? *rule.protocol != protocol
                                  : hasPortRange(rule) &&
                                        !config::carriesPorts(static_cast<uint8_t>(protocol)))
                    continue;
                add(words, i);
            }
            if (!isEmpty(words))
                out.proto.emplace_back(MIRROR_PROTO_INDEX(slot, protocol), toBitmap(words));
        }
    }
}

// Numbers for the sets the port and prefix lookups give, one pool for all
// of them: equal sets share a number, and 0 is the empty set.
class SetPool {
  public:
    explicit SetPool(CompiledMirror& out) : out_(out) { classOf(Words{}); }

    uint32_t classOf(const Words& words) {
        auto [it, inserted] = ids_.emplace(words, static_cast<uint32_t>(ids_.size()));
        if (inserted)
            out_.sets.emplace_back(it->second, toBitmap(words));
        return it->second;
    }

  private:
    CompiledMirror& out_;
    std::map<Words, uint32_t> ids_;
};

// One port dimension: 0-65535 cut at every range boundary into intervals
// that each rule accepts entirely or not at all.
void compilePorts(std::span<const MirrorRule> rules, std::optional<PortRange> MirrorRule::*range,
                  SetPool& pool, uint16_t (&classes)[MIRROR_PORT_SLOTS]) {
    Words wildcard{};
    std::vector<uint32_t> cuts = {0, 65536};
    for (size_t i = 0; i < rules.size(); i++) {
        const std::optional<PortRange>& r = rules[i].*range;
        if (!r) {
            add(wildcard, i);
            continue;
        }
        cuts.push_back(r->first);
        cuts.push_back(uint32_t{r->last} + 1);
    }
    std::sort(cuts.begin(), cuts.end());
    cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());

    for (size_t k = 0; k + 1 < cuts.size(); k++) {
        uint32_t first = cuts[k];
        Words words = wildcard;
        for (size_t i = 0; i < rules.size(); i++) {
            const std::optional<PortRange>& r = rules[i].*range;
            if (r && r->first <= first && first <= r->last)
                add(words, i);
        }
        auto id = static_cast<uint16_t>(pool.classOf(words));
        std::fill(classes + first, classes + cuts[k + 1], id);
    }
    classes[MIRROR_PORT_NONE] = static_cast<uint16_t>(pool.classOf(wildcard));
}

// Where the walk of one trie begins (mirror_prefix_start): past the bytes
// that every prefix but /0 holds whole and in common. A prefix's range is
// written in the block of its last byte, so the walk may skip no further.
mirror_prefix_start prefixStart(const std::set<Cidr, CidrLess>& prefixes, uint32_t root,
                                uint32_t outside, const std::vector<uint32_t>& nodes) {
    mirror_prefix_start start{};
    start.block = root;
    start.outside = outside;
    const Cidr* first = nullptr;
    size_t depth = 16;
    for (const Cidr& prefix : prefixes) {
        if (prefix.prefix_len == 0)
            continue;
        depth = std::min<size_t>(depth, (prefix.prefix_len - 1u) / 8);
        if (!first)
            first = &prefix;
        size_t same = 0;
        while (same < depth && prefix.address[same] == first->address[same])
            same++;
        depth = same;
    }
    if (!first || depth == 0)
        return start;

    std::array<uint8_t, 16> shared{};
    std::array<uint8_t, 16> mask{};
    uint32_t block = root;
    for (size_t level = 0; level < depth; level++) {
        shared[level] = first->address[level];
        mask[level] = 0xff;
        block = nodes[block * MIRROR_PREFIX_BLOCK + first->address[level]] & ~MIRROR_NODE_CHILD;
    }
    std::memcpy(start.shared, shared.data(), sizeof(start.shared));
    std::memcpy(start.mask, mask.data(), sizeof(start.mask));
    start.depth = static_cast<uint32_t>(depth);
    start.block = block;
    return start;
}

// One address dimension of one family as a trie of 256-entry blocks under
// `root` (mirror_abi.h), and where its walk begins. Prefixes go in shortest
// first: a longer one then overwrites the part of a shorter one's range it
// covers, and a block made for the next byte starts out with the class of
// the entry it replaces.
mirror_prefix_start compilePrefixes(std::span<const MirrorRule> rules,
                                    std::optional<Cidr> MirrorRule::*dimension, uint8_t family,
                                    uint32_t root, SetPool& pool, std::vector<uint32_t>& nodes) {
    Words wildcard{};
    std::vector<std::pair<size_t, Cidr>> constrained; // rules with a prefix of this family
    std::set<Cidr, CidrLess> prefixes;                // ordered by length first
    for (size_t i = 0; i < rules.size(); i++) {
        const std::optional<Cidr>& cidr = rules[i].*dimension;
        if (!cidr) {
            add(wildcard, i);
        } else if (cidr->family == family) {
            constrained.emplace_back(i, canonical(*cidr));
            prefixes.insert(constrained.back().second);
        }
    }
    // The rules that accept every address of `prefix` and no longer prefix.
    auto classOf = [&](const Cidr& prefix) {
        Words words = wildcard;
        for (const auto& [rule, cidr] : constrained)
            if (contains(cidr, prefix))
                add(words, rule);
        return pool.classOf(words);
    };

    uint32_t everywhere = classOf(Cidr{.family = family, .address = {}, .prefix_len = 0});
    std::fill_n(nodes.begin() + root * MIRROR_PREFIX_BLOCK, MIRROR_PREFIX_BLOCK, everywhere);
    for (const Cidr& prefix : prefixes) {
        if (prefix.prefix_len == 0)
            continue;
        uint32_t block = root;
        size_t last = (prefix.prefix_len - 1u) / 8;
        for (size_t level = 0; level < last; level++) {
            uint32_t& entry = nodes[block * MIRROR_PREFIX_BLOCK + prefix.address[level]];
            if ((entry & MIRROR_NODE_CHILD) == 0) {
                auto child = static_cast<uint32_t>(nodes.size() / MIRROR_PREFIX_BLOCK);
                uint32_t inherited = entry;
                entry = MIRROR_NODE_CHILD | child; // before the resize moves it
                nodes.resize(nodes.size() + MIRROR_PREFIX_BLOCK, inherited);
                block = child;
            } else {
                block = entry & ~MIRROR_NODE_CHILD;
            }
        }
        size_t bits = prefix.prefix_len - 8 * last;
        uint32_t first = prefix.address[last] & (0xff00u >> bits);
        uint32_t count = 1u << (8 - bits);
        std::fill_n(nodes.begin() + block * MIRROR_PREFIX_BLOCK + first, count, classOf(prefix));
    }
    return prefixStart(prefixes, root, everywhere, nodes);
}

// A dimension is looked up only if some rule narrows it. A /0 prefix does
// not: the family is already checked by mirror_proto.
uint32_t usedDimensions(std::span<const MirrorRule> rules) {
    uint32_t dimensions = 0;
    auto narrows = [](const std::optional<Cidr>& cidr, uint8_t family) {
        return cidr && cidr->family == family && cidr->prefix_len > 0;
    };
    for (const MirrorRule& rule : rules) {
        if (rule.src_port)
            dimensions |= MIRROR_DIM_SRC_PORT;
        if (rule.dst_port)
            dimensions |= MIRROR_DIM_DST_PORT;
        if (narrows(rule.src, 4))
            dimensions |= MIRROR_DIM_SRC4;
        if (narrows(rule.dst, 4))
            dimensions |= MIRROR_DIM_DST4;
        if (narrows(rule.src, 6))
            dimensions |= MIRROR_DIM_SRC6;
        if (narrows(rule.dst, 6))
            dimensions |= MIRROR_DIM_DST6;
    }
    return dimensions;
}

} // namespace

Result<CompiledMirror> compileRules(std::span<const MirrorRule> rules) {
    if (rules.size() > kMaxRules)
        return fail(EINVAL, std::to_string(rules.size()) + " rules; a mirror takes at most " +
                                std::to_string(kMaxRules));
    for (size_t i = 0; i < rules.size(); i++)
        if (Status ok = checkRule(i, rules[i]); !ok)
            return std::unexpected(ok.error());

    CompiledMirror out;
    out.rule_count = static_cast<uint32_t>(rules.size());
    out.dimensions = usedDimensions(rules);

    compileProto(rules, out);

    SetPool pool(out);
    out.port_classes.emplace_back();
    mirror_port_classes& classes = out.port_classes.back().second;
    compilePorts(rules, &MirrorRule::src_port, pool, classes.src);
    compilePorts(rules, &MirrorRule::dst_port, pool, classes.dst);

    out.prefix_nodes.assign(MIRROR_PREFIX_ROOTS * MIRROR_PREFIX_BLOCK, MIRROR_EMPTY_SET);
    for (auto [dimension, family, root] :
         {std::tuple{&MirrorRule::src, uint8_t{4}, uint32_t{MIRROR_PREFIX_ROOT_SRC4}},
          std::tuple{&MirrorRule::dst, uint8_t{4}, uint32_t{MIRROR_PREFIX_ROOT_DST4}},
          std::tuple{&MirrorRule::src, uint8_t{6}, uint32_t{MIRROR_PREFIX_ROOT_SRC6}},
          std::tuple{&MirrorRule::dst, uint8_t{6}, uint32_t{MIRROR_PREFIX_ROOT_DST6}}})
        out.prefix_starts[root] =
            compilePrefixes(rules, dimension, family, root, pool, out.prefix_nodes);
    return out;
}

} // namespace l3af::mirror
