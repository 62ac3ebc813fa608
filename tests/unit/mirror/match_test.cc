// The compiled maps against the rules' meaning: random rule sets that nest
// and overlap, random packets drawn near them, and the rule each matches by
// the reference matcher and by a simulation of mirror.bpf.c's lookups.

#include "matchers.h"
#include "mirror/compile.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace l3af::test {
namespace {

std::string describe(const TuplePacket& p) {
    char src[INET6_ADDRSTRLEN] = {};
    char dst[INET6_ADDRSTRLEN] = {};
    int af = p.family == 6 ? AF_INET6 : AF_INET;
    inet_ntop(af, p.src.data(), src, sizeof(src));
    inet_ntop(af, p.dst.data(), dst, sizeof(dst));
    return "proto " + std::to_string(p.protocol) + " " + src + ":" +
           (p.has_ports ? std::to_string(p.src_port) : "-") + " -> " + dst + ":" +
           (p.has_ports ? std::to_string(p.dst_port) : "-");
}

// Returns how many packets matched some rule, so the caller can check the
// draw was not trivially all-miss.
size_t crossCheck(RuleFuzzer& fuzzer, size_t rule_count, size_t packets) {
    std::vector<config::MirrorRule> rules = fuzzer.rules(rule_count);
    Result<mirror::CompiledMirror> compiled = mirror::compileRules(rules);
    EXPECT_TRUE(compiled.has_value()) << (compiled ? "" : compiled.error().message());
    if (!compiled)
        return 0;
    CompiledMatcher matcher(*compiled);
    size_t matched = 0;
    for (size_t i = 0; i < packets; i++) {
        TuplePacket p = fuzzer.packet(rules);
        std::optional<size_t> expected = referenceMatch(rules, p);
        EXPECT_EQ(matcher.match(p), expected) << describe(p) << " with " << rule_count << " rules";
        EXPECT_EQ(matcher.match(p, false), expected)
            << describe(p) << ", every dimension looked up";
        if (::testing::Test::HasFailure())
            return matched;
        matched += expected.has_value();
    }
    return matched;
}

TEST(MirrorMatch, SmallRuleSetsAgreeWithTheReference) {
    RuleFuzzer fuzzer(1);
    size_t matched = 0;
    for (size_t round = 0; round < 300; round++)
        matched += crossCheck(fuzzer, 1 + round % 12, 50);
    EXPECT_GT(matched, 300u * 50 / 10); // a good share of the packets matched something
}

TEST(MirrorMatch, MediumRuleSetsAgreeWithTheReference) {
    RuleFuzzer fuzzer(2);
    size_t matched = 0;
    for (size_t round = 0; round < 20; round++)
        matched += crossCheck(fuzzer, 64 + round * 7, 500);
    EXPECT_GT(matched, 20u * 500 / 10);
}

TEST(MirrorMatch, ThousandTwentyFourRulesAgreeWithTheReference) {
    RuleFuzzer fuzzer(3);
    size_t matched = crossCheck(fuzzer, 1024, 5000);
    EXPECT_GT(matched, 5000u / 10);
}

// Rules inside one network: the walks begin past the bytes their prefixes
// share, and packets from outside that network are told apart at once.
TEST(MirrorMatch, RulesInOneNetworkAgreeWithTheReference) {
    RuleFuzzer fuzzer(4, RuleFuzzer::Shape::kOneNetwork);
    size_t matched = 0;
    for (size_t round = 0; round < 200; round++)
        matched += crossCheck(fuzzer, 1 + round % 40, 100);
    matched += crossCheck(fuzzer, 1024, 5000);
    EXPECT_GT(matched, (200u * 100 + 5000) / 10);
}

} // namespace
} // namespace l3af::test
