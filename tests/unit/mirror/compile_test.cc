// compileRules() as data: the rule sets of a mirror in, the exact contents of
// mirror.bpf.c's maps and its load-time parameters out.

#include "matchers.h"
#include "mirror/compile.h"

#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <set>
#include <string>
#include <vector>

namespace l3af::test {
namespace {

using config::MirrorRule;
using mirror::CompiledMirror;
using mirror::compileRules;

constexpr uint8_t kTcp = 6;
constexpr uint8_t kUdp = 17;
constexpr uint8_t kIcmp = 1;
constexpr uint8_t kGre = 47;

CompiledMirror compiled(const std::vector<MirrorRule>& rules) {
    Result<CompiledMirror> out = compileRules(rules);
    EXPECT_TRUE(out.has_value()) << (out ? "" : out.error().message());
    return out ? std::move(*out) : CompiledMirror{};
}

std::set<size_t> members(const mirror_bitmap& set) {
    std::set<size_t> out;
    for (size_t rule = 0; rule < MIRROR_MAX_RULES; rule++)
        if (mirror::hasRule(set, rule))
            out.insert(rule);
    return out;
}

const mirror_bitmap* protoEntry(const CompiledMirror& c, uint32_t slot, uint8_t protocol) {
    for (const auto& [index, set] : c.proto)
        if (index == MIRROR_PROTO_INDEX(slot, protocol))
            return &set;
    return nullptr;
}

std::set<size_t> protoRules(const CompiledMirror& c, uint32_t slot, uint8_t protocol) {
    const mirror_bitmap* set = protoEntry(c, slot, protocol);
    return set ? members(*set) : std::set<size_t>{};
}

std::set<size_t> classRules(const CompiledMirror& c, uint32_t id) {
    for (const auto& [key, set] : c.sets)
        if (key == id)
            return members(set);
    ADD_FAILURE() << "no set numbered " << id;
    return {};
}

std::set<size_t> dstPortRules(const CompiledMirror& c, uint32_t slot) {
    return classRules(c, c.port_classes.at(0).second.dst[slot]);
}
std::set<size_t> srcPortRules(const CompiledMirror& c, uint32_t slot) {
    return classRules(c, c.port_classes.at(0).second.src[slot]);
}

// The rules the prefix tables give for an address.
std::set<size_t> addressRules(const CompiledMirror& c, uint32_t root, const std::string& text) {
    std::array<uint8_t, 16> address{};
    bool v6 = text.find(':') != std::string::npos;
    inet_pton(v6 ? AF_INET6 : AF_INET, text.c_str(), address.data());
    return members(CompiledMatcher(c).prefixSet(root, address, v6 ? 16 : 4));
}

size_t blocks(const CompiledMirror& c) {
    return c.prefix_nodes.size() / MIRROR_PREFIX_BLOCK;
}

MirrorRule rule(std::optional<std::string> src, std::optional<std::string> dst,
                std::optional<uint8_t> protocol = std::nullopt,
                std::optional<config::PortRange> src_port = std::nullopt,
                std::optional<config::PortRange> dst_port = std::nullopt) {
    MirrorRule r;
    if (src)
        r.src = cidr(*src);
    if (dst)
        r.dst = cidr(*dst);
    r.protocol = protocol;
    r.src_port = src_port;
    r.dst_port = dst_port;
    return r;
}

MirrorRule dstPort(config::PortRange range, std::optional<uint8_t> protocol = kTcp) {
    return rule(std::nullopt, std::nullopt, protocol, std::nullopt, range);
}

// --- Ports ---------------------------------------------------------------------

TEST(CompileRules, PortRangesAreCutIntoClassesAtTheirBoundaries) {
    CompiledMirror c =
        compiled({dstPort(port(80)), dstPort(ports(1000, 2000)), dstPort(ports(1500, 3000))});
    const mirror_port_classes& classes = c.port_classes.at(0).second;
    // Each interval between boundaries holds the rules covering it.
    EXPECT_EQ(dstPortRules(c, 0), (std::set<size_t>{}));
    EXPECT_EQ(dstPortRules(c, 79), (std::set<size_t>{}));
    EXPECT_EQ(dstPortRules(c, 80), (std::set<size_t>{0}));
    EXPECT_EQ(dstPortRules(c, 81), (std::set<size_t>{}));
    EXPECT_EQ(dstPortRules(c, 999), (std::set<size_t>{}));
    EXPECT_EQ(dstPortRules(c, 1000), (std::set<size_t>{1}));
    EXPECT_EQ(dstPortRules(c, 1499), (std::set<size_t>{1}));
    EXPECT_EQ(dstPortRules(c, 1500), (std::set<size_t>{1, 2}));
    EXPECT_EQ(dstPortRules(c, 2000), (std::set<size_t>{1, 2}));
    EXPECT_EQ(dstPortRules(c, 2001), (std::set<size_t>{2}));
    EXPECT_EQ(dstPortRules(c, 3000), (std::set<size_t>{2}));
    EXPECT_EQ(dstPortRules(c, 3001), (std::set<size_t>{}));
    EXPECT_EQ(dstPortRules(c, 65535), (std::set<size_t>{}));
    // A packet without ports matches none of them.
    EXPECT_EQ(dstPortRules(c, MIRROR_PORT_NONE), (std::set<size_t>{}));
    // No source ranges: one class holding every rule, with or without ports.
    EXPECT_EQ(srcPortRules(c, 0), (std::set<size_t>{0, 1, 2}));
    EXPECT_EQ(srcPortRules(c, 65535), (std::set<size_t>{0, 1, 2}));
    EXPECT_EQ(srcPortRules(c, MIRROR_PORT_NONE), (std::set<size_t>{0, 1, 2}));

    // Equal sets share a number: {} (0), {0}, {1}, {1,2}, {2}, and {0,1,2}.
    EXPECT_EQ(c.sets.size(), 6u);
    EXPECT_EQ(classes.dst[0], MIRROR_EMPTY_SET);
    EXPECT_EQ(classes.dst[0], classes.dst[81]);
    EXPECT_EQ(classes.dst[0], classes.dst[MIRROR_PORT_NONE]);
    EXPECT_EQ(c.dimensions, uint32_t{MIRROR_DIM_DST_PORT});
}

TEST(CompileRules, EveryPortGetsTheRulesWhoseRangeHoldsIt) {
    std::vector<MirrorRule> rules = {dstPort(ports(0, 0)),         dstPort(ports(65535, 65535)),
                                     dstPort(ports(0, 65535)),     dstPort(ports(1024, 49151)),
                                     dstPort(ports(49152, 65535)), dstPort(port(443), kUdp)};
    CompiledMirror c = compiled(rules);
    for (uint32_t p = 0; p < 65536; p++) {
        std::set<size_t> expected;
        for (size_t i = 0; i < rules.size(); i++)
            if (inRange(static_cast<uint16_t>(p), *rules[i].dst_port))
                expected.insert(i);
        ASSERT_EQ(dstPortRules(c, p), expected) << "port " << p;
    }
}

TEST(CompileRules, RulesWithoutARangeAreInEveryClassAndInTheNoPortsSlot) {
    CompiledMirror c = compiled({rule(std::nullopt, std::nullopt, kTcp, port(22), std::nullopt),
                                 rule(std::nullopt, std::nullopt, kGre)});
    EXPECT_EQ(srcPortRules(c, 22), (std::set<size_t>{0, 1}));
    EXPECT_EQ(srcPortRules(c, 23), (std::set<size_t>{1}));
    EXPECT_EQ(srcPortRules(c, MIRROR_PORT_NONE), (std::set<size_t>{1}));
    EXPECT_EQ(dstPortRules(c, 7), (std::set<size_t>{0, 1}));
    EXPECT_EQ(dstPortRules(c, MIRROR_PORT_NONE), (std::set<size_t>{0, 1}));
    EXPECT_EQ(c.dimensions, uint32_t{MIRROR_DIM_SRC_PORT});
}

// --- Protocols and families ---------------------------------------------------

TEST(CompileRules, AddressesTieARuleToTheirFamily) {
    CompiledMirror c =
        compiled({rule("10.0.0.0/8", std::nullopt), rule(std::nullopt, "2001:db8::/32"),
                  rule(std::nullopt, std::nullopt, kTcp)});
    EXPECT_EQ(protoRules(c, MIRROR_FAMILY_SLOT_V4, kTcp), (std::set<size_t>{0, 2}));
    EXPECT_EQ(protoRules(c, MIRROR_FAMILY_SLOT_V4, kUdp), (std::set<size_t>{0}));
    EXPECT_EQ(protoRules(c, MIRROR_FAMILY_SLOT_V6, kTcp), (std::set<size_t>{1, 2}));
    EXPECT_EQ(protoRules(c, MIRROR_FAMILY_SLOT_V6, kUdp), (std::set<size_t>{1}));
    // 256 protocols of each family accept rule 0 or rule 1: every slot is set.
    EXPECT_EQ(c.proto.size(), 512u);
}

TEST(CompileRules, PortsWithoutAProtocolAcceptOnlyProtocolsThatCarryPorts) {
    CompiledMirror c = compiled({dstPort(port(53), std::nullopt)});
    for (uint8_t p : {6, 17, 132, 136})
        EXPECT_EQ(protoRules(c, MIRROR_FAMILY_SLOT_V4, p), (std::set<size_t>{0})) << int(p);
    for (uint8_t p : {kIcmp, kGre, uint8_t{58}, uint8_t{0}})
        EXPECT_EQ(protoEntry(c, MIRROR_FAMILY_SLOT_V6, p), nullptr) << int(p);
    EXPECT_EQ(c.proto.size(), 8u); // 4 protocols x 2 families; empty slots are left out
}

TEST(CompileRules, ARuleWithNothingAcceptsEveryProtocolOfBothFamilies) {
    CompiledMirror c = compiled({MirrorRule{}});
    EXPECT_EQ(c.proto.size(), 512u);
    EXPECT_EQ(c.dimensions, 0u);
    EXPECT_EQ(blocks(c), 4u); // the roots only, each all wildcard
    EXPECT_EQ(addressRules(c, MIRROR_PREFIX_ROOT_SRC4, "1.2.3.4"), (std::set<size_t>{0}));
    EXPECT_EQ(addressRules(c, MIRROR_PREFIX_ROOT_DST6, "::1"), (std::set<size_t>{0}));
}

// --- Prefixes ---------------------------------------------------------------------

TEST(CompileRules, AnAddressGetsTheRulesOfEveryPrefixThatHoldsIt) {
    CompiledMirror c =
        compiled({rule("10.0.0.0/8", std::nullopt), rule("10.1.0.0/16", std::nullopt),
                  rule(std::nullopt, std::nullopt, kUdp), rule("10.1.2.3/32", std::nullopt),
                  rule("192.168.0.0/16", std::nullopt), rule("10.1.128.0/17", std::nullopt)});
    auto src4 = [&](const char* a) { return addressRules(c, MIRROR_PREFIX_ROOT_SRC4, a); };
    EXPECT_EQ(src4("11.0.0.1"), (std::set<size_t>{2}));
    EXPECT_EQ(src4("10.200.0.1"), (std::set<size_t>{0, 2}));
    EXPECT_EQ(src4("10.1.2.4"), (std::set<size_t>{0, 1, 2}));
    EXPECT_EQ(src4("10.1.2.3"), (std::set<size_t>{0, 1, 2, 3}));
    EXPECT_EQ(src4("10.1.127.255"), (std::set<size_t>{0, 1, 2}));
    EXPECT_EQ(src4("10.1.128.0"), (std::set<size_t>{0, 1, 2, 5}));
    EXPECT_EQ(src4("10.1.255.255"), (std::set<size_t>{0, 1, 2, 5}));
    EXPECT_EQ(src4("192.168.7.7"), (std::set<size_t>{2, 4}));
    EXPECT_EQ(src4("192.169.7.7"), (std::set<size_t>{2}));
    // No rule names a destination: every rule is a wildcard there.
    EXPECT_EQ(addressRules(c, MIRROR_PREFIX_ROOT_DST4, "10.1.2.3"),
              (std::set<size_t>{0, 1, 2, 3, 4, 5}));
    EXPECT_EQ(c.dimensions, uint32_t{MIRROR_DIM_SRC4});
    // Roots, then blocks for 10., 10.1., 10.1.2. and 192.
    EXPECT_EQ(blocks(c), 4u + 4u);
}

TEST(CompileRules, NoRuleForAddressesOutsideEveryPrefix) {
    CompiledMirror c =
        compiled({rule(std::nullopt, "2001:db8::/32"), rule(std::nullopt, "2001:db8:1::/48")});
    auto dst6 = [&](const char* a) { return addressRules(c, MIRROR_PREFIX_ROOT_DST6, a); };
    EXPECT_EQ(dst6("2001:db8::1"), (std::set<size_t>{0}));
    EXPECT_EQ(dst6("2001:db8:1::1"), (std::set<size_t>{0, 1}));
    EXPECT_EQ(dst6("2001:db9::1"), (std::set<size_t>{}));
    EXPECT_EQ(addressRules(c, MIRROR_PREFIX_ROOT_DST4, "10.0.0.1"), (std::set<size_t>{}));
    EXPECT_EQ(c.dimensions, uint32_t{MIRROR_DIM_DST6});
}

TEST(CompileRules, HostBitsAreIgnored) {
    MirrorRule a;
    a.dst = cidr("10.1.2.3/8");
    CompiledMirror c = compiled({a, rule(std::nullopt, "10.0.0.0/8")});
    EXPECT_EQ(addressRules(c, MIRROR_PREFIX_ROOT_DST4, "10.200.0.1"), (std::set<size_t>{0, 1}));
    EXPECT_EQ(addressRules(c, MIRROR_PREFIX_ROOT_DST4, "11.1.2.3"), (std::set<size_t>{}));
}

// Prefixes that end inside a byte cover a run of entries of their block.
TEST(CompileRules, EveryAddressOfARegionGetsTheRulesOfItsLongestPrefix) {
    std::vector<MirrorRule> rules = {
        rule(std::nullopt, "10.0.0.0/17"),    rule(std::nullopt, "10.0.64.0/18"),
        rule(std::nullopt, "10.0.96.0/19"),   rule(std::nullopt, "10.0.97.0/24"),
        rule(std::nullopt, "10.0.97.128/25"), rule(std::nullopt, "10.0.97.129/32"),
        rule(std::nullopt, "10.0.200.0/21"),  rule(std::nullopt, "10.0.0.0/16"),
        rule(std::nullopt, "0.0.0.0/1")};
    CompiledMirror c = compiled(rules);
    CompiledMatcher matcher(c);
    for (uint32_t low = 0; low < 65536; low++) {
        std::array<uint8_t, 16> address = {10, 0, uint8_t(low >> 8), uint8_t(low)};
        std::set<size_t> expected;
        for (size_t i = 0; i < rules.size(); i++)
            if (inPrefix(address, *rules[i].dst))
                expected.insert(i);
        ASSERT_EQ(members(matcher.prefixSet(MIRROR_PREFIX_ROOT_DST4, address, 4)), expected)
            << "10.0." << (low >> 8) << "." << (low & 0xff);
    }
}

TEST(CompileRules, SlashZeroPrefixesOnlyTieTheRuleToItsFamily) {
    CompiledMirror c = compiled({rule("0.0.0.0/0", "0.0.0.0/0")});
    EXPECT_EQ(c.dimensions, 0u);
    EXPECT_EQ(protoRules(c, MIRROR_FAMILY_SLOT_V6, kTcp), (std::set<size_t>{}));
    EXPECT_EQ(protoRules(c, MIRROR_FAMILY_SLOT_V4, kTcp), (std::set<size_t>{0}));
}

// --- Where the walks begin ---------------------------------------------------------

std::array<uint8_t, 16> bytesOf(const __u64 (&words)[2]) {
    std::array<uint8_t, 16> out{};
    std::memcpy(out.data(), words, sizeof(words));
    return out;
}

std::array<uint8_t, 16> address(const std::string& text) {
    std::array<uint8_t, 16> out{};
    inet_pton(text.find(':') != std::string::npos ? AF_INET6 : AF_INET, text.c_str(), out.data());
    return out;
}

// The block a walk from the root reaches after `depth` bytes of `a`.
uint32_t blockAfter(const CompiledMirror& c, uint32_t root, const std::array<uint8_t, 16>& a,
                    size_t depth) {
    uint32_t block = root;
    for (size_t level = 0; level < depth; level++) {
        uint32_t entry = c.prefix_nodes.at(block * MIRROR_PREFIX_BLOCK + a[level]);
        EXPECT_NE(entry & MIRROR_NODE_CHILD, 0u) << "level " << level;
        block = entry & ~MIRROR_NODE_CHILD;
    }
    return block;
}

TEST(CompileRules, WalksBeginPastTheBytesEveryPrefixShares) {
    CompiledMirror c =
        compiled({rule("2001:db8:0:1::/64", std::nullopt), rule("2001:db8:0:2::/64", std::nullopt),
                  rule("2001:db8:1::/48", std::nullopt), rule("::/0", std::nullopt),
                  rule(std::nullopt, std::nullopt, kUdp)});
    const mirror_prefix_start& start = c.prefix_starts[MIRROR_PREFIX_ROOT_SRC6];
    // 2001:0db8:00 in common; the /48 and the /64s part at byte 5.
    EXPECT_EQ(start.depth, 5u);
    EXPECT_EQ(bytesOf(start.shared), address("2001:db8::"));
    EXPECT_EQ(bytesOf(start.mask), address("ffff:ffff:ff00::"));
    EXPECT_EQ(start.block, blockAfter(c, MIRROR_PREFIX_ROOT_SRC6, address("2001:db8::"), 5));
    // Outside 2001:db8:00xx::/40 only the /0 and the rule without a source.
    EXPECT_EQ(classRules(c, start.outside), (std::set<size_t>{3, 4}));

    CompiledMatcher matcher(c);
    for (const char* a :
         {"2001:db8:0:1::5", "2001:db8:0:2:ffff::", "2001:db8:0:3::1", "2001:db8:1:7::1",
          "2001:db8:2::1", "2001:db8:100::1", "2001:db9::1", "::1", "ffff::1"})
        EXPECT_EQ(members(matcher.prefixSetFromStart(MIRROR_PREFIX_ROOT_SRC6, address(a), 16)),
                  members(matcher.prefixSet(MIRROR_PREFIX_ROOT_SRC6, address(a), 16)))
            << a;
    EXPECT_EQ(addressRules(c, MIRROR_PREFIX_ROOT_SRC6, "2001:db8:1:7::1"),
              (std::set<size_t>{2, 3, 4}));
}

// A prefix's range is written in the block of its last byte: a walk never
// skips that block, even when every prefix is the same.
TEST(CompileRules, WalksStopSkippingAtTheBlockOfAPrefixsLastByte) {
    auto depth = [](std::vector<MirrorRule> rules, uint32_t root) {
        return compiled(rules).prefix_starts[root].depth;
    };
    EXPECT_EQ(depth({rule("2001:db8:0:1::/64", std::nullopt)}, MIRROR_PREFIX_ROOT_SRC6), 7u);
    EXPECT_EQ(depth({rule("2001:db8:0:1::/63", std::nullopt)}, MIRROR_PREFIX_ROOT_SRC6), 7u);
    EXPECT_EQ(depth({rule("2001:db8::1/128", std::nullopt)}, MIRROR_PREFIX_ROOT_SRC6), 15u);
    EXPECT_EQ(depth({rule(std::nullopt, "10.1.2.3/32")}, MIRROR_PREFIX_ROOT_DST4), 3u);
    EXPECT_EQ(depth({rule(std::nullopt, "10.1.2.0/24")}, MIRROR_PREFIX_ROOT_DST4), 2u);
    EXPECT_EQ(depth({rule(std::nullopt, "10.0.0.0/8")}, MIRROR_PREFIX_ROOT_DST4), 0u);
    // The shortest prefix limits every walk of its trie.
    EXPECT_EQ(depth({rule(std::nullopt, "10.1.2.0/24"), rule(std::nullopt, "10.1.0.0/16")},
                    MIRROR_PREFIX_ROOT_DST4),
              1u);
    // A /0 does not: it holds every address.
    EXPECT_EQ(depth({rule(std::nullopt, "10.1.2.0/24"), rule(std::nullopt, "0.0.0.0/0")},
                    MIRROR_PREFIX_ROOT_DST4),
              2u);
    EXPECT_EQ(depth({rule(std::nullopt, "10.1.2.0/24"), rule(std::nullopt, "11.1.2.0/24")},
                    MIRROR_PREFIX_ROOT_DST4),
              0u);
}

TEST(CompileRules, TriesWithoutPrefixesAreWalkedFromTheirRoot) {
    CompiledMirror c = compiled({rule("10.0.0.0/24", std::nullopt, kTcp)});
    for (uint32_t root :
         {MIRROR_PREFIX_ROOT_DST4, MIRROR_PREFIX_ROOT_SRC6, MIRROR_PREFIX_ROOT_DST6}) {
        const mirror_prefix_start& start = c.prefix_starts[root];
        EXPECT_EQ(start.depth, 0u) << "root " << root;
        EXPECT_EQ(start.block, root);
        EXPECT_EQ(start.mask[0] | start.mask[1], 0u);
    }
    EXPECT_EQ(c.prefix_starts[MIRROR_PREFIX_ROOT_SRC4].depth, 2u);
}

// --- Sizes, priority, errors ------------------------------------------------------

TEST(CompileRules, NoRulesMatchNothing) {
    CompiledMirror c = compiled({});
    EXPECT_EQ(c.rule_count, 0u);
    EXPECT_TRUE(c.proto.empty());
    EXPECT_EQ(c.sets.size(), 1u); // the empty set
    EXPECT_EQ(blocks(c), 4u);
    TuplePacket p;
    EXPECT_EQ(CompiledMatcher(c).match(p), std::nullopt);
}

TEST(CompileRules, ThousandTwentyFourRulesAreTheLimit) {
    std::vector<MirrorRule> rules;
    for (uint32_t i = 0; i < 1024; i++)
        rules.push_back(rule(
            std::nullopt, "10." + std::to_string(i >> 8) + "." + std::to_string(i & 0xff) + ".0/24",
            kTcp, std::nullopt, port(static_cast<uint16_t>(1000 + i))));
    CompiledMirror c = compiled(rules);
    EXPECT_EQ(c.rule_count, 1024u);
    EXPECT_LE(c.sets.size(), size_t{MIRROR_MAX_SETS});
    EXPECT_EQ(blocks(c), 4u + 1 + 4); // roots, 10., 10.0. to 10.3.

    TuplePacket p;
    p.protocol = kTcp;
    p.has_ports = true;
    p.dst = {10, 3, 255, 7};
    p.dst_port = 1000 + 1023;
    EXPECT_EQ(CompiledMatcher(c).match(p), 1023u);
    p.dst_port = 1000 + 1022;
    EXPECT_EQ(CompiledMatcher(c).match(p), std::nullopt);

    rules.push_back(rules.back());
    Result<CompiledMirror> over = compileRules(rules);
    ASSERT_FALSE(over.has_value());
    EXPECT_EQ(over.error().code(), EINVAL);
    EXPECT_NE(over.error().context().find("at most 1024"), std::string::npos);
}

// The program rejects two sets with no word in common by their summaries
// alone: a summary must name exactly the words that hold a rule.
TEST(CompileRules, SummariesNameTheWordsThatHoldRules) {
    RuleFuzzer fuzzer(11);
    CompiledMirror c = compiled(fuzzer.rules(1024));
    std::vector<const mirror_bitmap*> sets;
    for (const auto* map : {&c.proto, &c.sets})
        for (const auto& [key, set] : *map)
            sets.push_back(&set);
    ASSERT_GT(sets.size(), 100u);
    for (const mirror_bitmap* set : sets)
        for (size_t w = 0; w < MIRROR_BITMAP_WORDS; w++)
            ASSERT_EQ((set->summary >> w & 1) != 0, set->words[w] != 0) << "word " << w;
}

TEST(CompileRules, TheLowestNumberedMatchingRuleWins) {
    std::vector<MirrorRule> rules = {
        rule("10.1.0.0/16", std::nullopt, kTcp), rule("10.0.0.0/8", std::nullopt),
        rule(std::nullopt, std::nullopt, kTcp, std::nullopt, port(443))};
    CompiledMirror c = compiled(rules);
    CompiledMatcher matcher(c);
    TuplePacket p;
    p.protocol = kTcp;
    p.has_ports = true;
    p.dst_port = 443;
    p.src = {10, 1, 2, 3};
    EXPECT_EQ(matcher.match(p), 0u); // all three match
    p.src = {10, 2, 2, 3};
    EXPECT_EQ(matcher.match(p), 1u);
    p.src = {11, 2, 2, 3};
    EXPECT_EQ(matcher.match(p), 2u);
    p.dst_port = 80;
    EXPECT_EQ(matcher.match(p), std::nullopt);
}

TEST(CompileRules, RulesNoPacketCouldMatchAreErrorsNamingTheRule) {
    struct Case {
        MirrorRule rule;
        std::string says;
    };
    MirrorRule too_long = rule("10.0.0.0/8", std::nullopt);
    too_long.src->prefix_len = 33;
    MirrorRule reversed = dstPort(ports(2000, 1000));
    MirrorRule bad_family = rule(std::nullopt, "10.0.0.0/8");
    bad_family.dst->family = 5;
    for (Case& c :
         std::vector<Case>{{rule("10.0.0.0/8", "2001:db8::/32"), "src is IPv4 but dst is IPv6"},
                           {too_long, "prefix /33 is longer than IPv4 addresses"},
                           {reversed, "2000-1000 ends before it starts"},
                           {bad_family, "address family 5"}}) {
        c.rule.where = {"/etc/l3af/mirror.toml", 12, 3};
        Result<CompiledMirror> out =
            compileRules(std::vector<MirrorRule>{dstPort(port(1)), c.rule});
        ASSERT_FALSE(out.has_value()) << c.says;
        EXPECT_EQ(out.error().code(), EINVAL);
        EXPECT_NE(out.error().context().find("rule 2 (/etc/l3af/mirror.toml:12:3)"),
                  std::string::npos)
            << out.error().context();
        EXPECT_NE(out.error().context().find(c.says), std::string::npos) << out.error().context();
    }
}

} // namespace
} // namespace l3af::test
