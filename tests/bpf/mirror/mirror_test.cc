// mirror.bpf.c under BPF_PROG_TEST_RUN: packets in, the rule each one counts
// under and the program's counters out. Every run also checks that the
// original goes on untouched: verdict TC_ACT_UNSPEC, the same bytes, its
// own mark. The tests run in a network namespace of their own, where the
// clones leave by a veth standing for the tunnel's.

#include "matchers.h"
#include "mirror_harness.h"

#include <gtest/gtest.h>
#include <linux/pkt_cls.h>

#include <map>
#include <string>
#include <vector>

namespace l3af::test {
namespace {

using config::MirrorRule;

constexpr char kA4[] = "192.0.2.1";    // inside rule 0's source net
constexpr char kB4[] = "198.51.100.2"; // inside rule 1's destination net
constexpr char kC4[] = "203.0.113.9";  // in no rule's nets
constexpr char kA6[] = "2001:db8::1";  // inside rule 3's source net
constexpr char kB6[] = "2001:db8::2";
constexpr char kF6[] = "2001:db8:ffff::1"; // inside rule 4's destination net
constexpr uint32_t kOriginalMark = 0x1234;
// Bytes 2-3 of PacketBuilder's payload pattern (0xa5 ^ i): what a parser
// that read ports out of any protocol would take for a destination port.
constexpr uint16_t kPatternPort = 0xa7a6;

MirrorRule make(std::optional<std::string> src, std::optional<std::string> dst,
                std::optional<uint8_t> protocol, std::optional<config::PortRange> src_port,
                std::optional<config::PortRange> dst_port) {
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

// One rule set for the fixture table; each rule is there to be hit by some
// case and missed by the others.
std::vector<MirrorRule> tableRules() {
    return {
        make("192.0.2.0/24", std::nullopt, IPPROTO_TCP, std::nullopt, port(443)),           // 0
        make(std::nullopt, "198.51.100.0/24", IPPROTO_UDP, std::nullopt, port(53)),         // 1
        make(std::nullopt, std::nullopt, IPPROTO_ICMP, std::nullopt, std::nullopt),         // 2
        make("2001:db8::/32", std::nullopt, IPPROTO_TCP, ports(1024, 65535), std::nullopt), // 3
        make(std::nullopt, "2001:db8:ffff::/48", std::nullopt, std::nullopt, std::nullopt), // 4
        make(std::nullopt, std::nullopt, IPPROTO_GRE, std::nullopt, std::nullopt),          // 5
        make(std::nullopt, std::nullopt, IPPROTO_UDP, ports(5000, 5010), std::nullopt),     // 6
        make(std::nullopt, std::nullopt, 132, std::nullopt, port(9)), // 7 sctp
        // 8: the port the payload pattern of PacketBuilder puts where ports would be
        make(std::nullopt, std::nullopt, std::nullopt, std::nullopt, port(kPatternPort)),
    };
}

PacketBuilder v4(const char* src = kA4, const char* dst = kB4) {
    PacketBuilder packet;
    packet.ipv4(src, dst);
    return packet;
}
PacketBuilder v6(const char* src = kA6, const char* dst = kB6) {
    PacketBuilder packet;
    packet.ipv6(src, dst);
    return packet;
}

struct Sent {
    Bytes frame;
    bool egress = false;
};
Sent in(const PacketBuilder& p) {
    return {p.build()};
}
Sent out(const PacketBuilder& p) {
    return {p.build(), true};
}

struct Hit {
    uint32_t rule;
    uint64_t packets;
};

struct MirrorCase {
    std::string name;
    std::vector<Sent> sent;
    std::vector<Hit> hits; // exactly these rules count, the others stay zero
    uint64_t not_ip = 0;
    uint64_t truncated = 0;
};

void PrintTo(const MirrorCase& c, std::ostream* os) {
    *os << c.name;
}

std::vector<MirrorCase> mirrorCases() {
    return {
        // --- IPv4 -------------------------------------------------------------
        {"TcpToTheRulesPortFromItsNet", {in(v4().tcp(40000, 443))}, {{0, 1}}},
        {"TcpToAnotherPortMatchesNothing", {in(v4().tcp(40000, 80))}, {}},
        {"TcpToThePortFromAnotherNetMatchesNothing", {in(v4(kC4).tcp(40000, 443))}, {}},
        {"Ipv4OptionsShiftThePorts",
         {in(v4().ipv4Options(12).udp(40000, 53).payload(20))},
         {{1, 1}}},
        {"IcmpMatchesItsProtocol", {in(v4().icmp(8, 0).payload(56))}, {{2, 1}}},
        {"GreMatchesItsProtocol", {in(v4().protocol(IPPROTO_GRE).payload(24))}, {{5, 1}}},
        {"SctpPorts", {in(v4(kC4, kC4).sctp(1, 9).payload(16))}, {{7, 1}}},
        {"PortRuleWithoutProtocolTakesUdplite",
         {in(v4(kC4, kC4).udplite(1, kPatternPort))},
         {{8, 1}}},
        {"PortRuleWithoutProtocolSkipsOtherProtocols",
         {in(v4(kC4, kC4).protocol(99).payload(8))},
         {}},
        {"FirstFragmentHasPortsLaterOnesDoNot",
         {in(v4().fragment(0, true).tcp(40000, 443).payload(80)),
          in(v4().fragment(96, false).protocol(IPPROTO_TCP).payload(40))},
         {{0, 1}}},
        {"CutL4HeaderHasNoPorts", {in(v4().udp(40000, 53).cutL4(3))}, {}},
        {"EthernetPaddingIsNotTakenForPorts",
         {in(v4(kC4, kC4).protocol(IPPROTO_UDP).padFrameTo(60))},
         {}},
        {"PaddedFrameStillMatches", {in(v4().udp(40000, 53).payload(2).padFrameTo(60))}, {{1, 1}}},
        {"OverlappingRulesCountTheLowest", {in(v4().udp(5005, 53))}, {{1, 1}}},

        // --- IPv6 -------------------------------------------------------------
        {"Ipv6TcpFromTheRulesNetAndPortRange", {in(v6().tcp(40000, 22))}, {{3, 1}}},
        {"Ipv6TcpBelowThePortRange", {in(v6().tcp(1023, 22))}, {}},
        {"Ipv6ExtensionHeadersAreSkipped",
         {in(v6().hopByHop(8).destinationOptions(16).routing(24).tcp(40000, 443))},
         {{3, 1}}},
        {"Ipv6AuthenticationHeaderIsSkipped", {in(v6().authentication(24).tcp(2000, 1))}, {{3, 1}}},
        {"Ipv6NonFirstFragmentMatchesAPortlessRule",
         {in(v6(kA6, kF6).fragment(8, false).protocol(IPPROTO_TCP).payload(40)),
          in(v6(kA6, kB6).fragment(8, false).protocol(IPPROTO_TCP).payload(40))},
         {{4, 1}}},
        {"Ipv6AnyProtocolToTheRulesNet", {in(v6(kB6, kF6).icmp(128, 0))}, {{4, 1}}},
        {"Ipv6UdpSourcePortRuleOfBothFamilies", {in(v6(kB6, kB6).udp(5010, 1))}, {{6, 1}}},
        {"Icmpv6IsNotIcmp", {in(v6(kB6, kB6).icmp(128, 0))}, {}},

        // --- VLAN, direction, not IP --------------------------------------------
        {"VlanTagIsSkipped",
         {in(PacketBuilder().vlan(100).ipv4(kA4, kB4).tcp(40000, 443))},
         {{0, 1}}},
        {"QinQTagsAreSkipped",
         {in(PacketBuilder().vlan(200, ETH_P_8021AD).vlan(100).ipv6(kA6, kF6).udp(1, 1))},
         {{4, 1}}},
        {"EgressMatchesLikeIngress",
         {out(v4().tcp(40000, 443)), in(v4().tcp(40000, 443))},
         {{0, 2}}},
        {"ArpIsNotIp", {in(PacketBuilder().ethertype(ETH_P_ARP).payload(28))}, {}, 1},
        // (Tagged: the test run itself refuses an untagged IPv4 frame this short.)
        {"TruncatedIpv4Header",
         {in(PacketBuilder().vlan(100).ipv4(kA4, kB4).tcp(40000, 443).truncateFrame(18 + 12))},
         {},
         0,
         1},
        {"Ipv4HeaderLengthBelowFive", {in(v4().ihl(4).tcp(40000, 443))}, {}, 0, 1},
        {"TruncatedIpv6ExtensionHeader",
         {in(v6().hopByHop(16).tcp(40000, 443).truncateFrame(14 + 40 + 4))},
         {},
         0,
         1},
    };
}

class MirrorTable : public ::testing::TestWithParam<MirrorCase> {
  protected:
    void SetUp() override {
        if (geteuid() != 0)
            GTEST_SKIP() << "needs root: BPF_PROG_TEST_RUN, network namespaces";
        netns_ = std::make_unique<ScopedNetns>();
        ASSERT_TRUE(netns_->entered()) << "unshare(CLONE_NEWNET): " << std::strerror(errno);
        ASSERT_TRUE(quietNewDevices());
        ASSERT_TRUE(sh("ip link add l3t-test type veth peer name l3t-peer && "
                       "ip link set l3t-test up && ip link set l3t-peer up"));
    }
    void TearDown() override { netns_.reset(); }

    std::unique_ptr<ScopedNetns> netns_;
};

TEST_P(MirrorTable, CountsUnderTheRuleItMatches) {
    const MirrorCase& c = GetParam();
    std::string error;
    auto program =
        MirrorProgram::load(tableRules(), {.tunnel_ifindex = uint32_t(ifindex("l3t-test"))}, error);
    ASSERT_TRUE(program) << error;

    uint64_t bytes = 0;
    uint64_t egress = 0;
    for (const Sent& sent : c.sent) {
        RunOutcome outcome = sent.egress ? program->sendEgress(sent.frame, kOriginalMark)
                                         : program->sendIngress(sent.frame, kOriginalMark);
        ASSERT_EQ(outcome.error, 0) << std::strerror(outcome.error);
        EXPECT_EQ(outcome.verdict, TC_ACT_UNSPEC);
        EXPECT_EQ(outcome.data_out, sent.frame) << "the original was changed";
        EXPECT_EQ(outcome.mark_out, kOriginalMark) << "the original's mark was not restored";
        bytes += sent.frame.size();
        egress += sent.egress;
    }

    std::vector<std::pair<uint32_t, mirror_rule_counter>> expected;
    uint64_t matched = 0;
    for (const Hit& hit : c.hits) {
        // Every frame of a case that hits a rule has the same size.
        expected.emplace_back(
            hit.rule, mirror_rule_counter{hit.packets, hit.packets * c.sent.front().frame.size()});
        matched += hit.packets;
    }
    std::vector<std::pair<uint32_t, mirror_rule_counter>> counted = program->countedRules();
    ASSERT_EQ(counted.size(), expected.size());
    for (size_t i = 0; i < counted.size(); i++) {
        EXPECT_EQ(counted[i].first, expected[i].first);
        EXPECT_EQ(counted[i].second.packets, expected[i].second.packets)
            << "rule " << counted[i].first;
        EXPECT_EQ(counted[i].second.bytes, expected[i].second.bytes) << "rule " << counted[i].first;
    }

    mirror_stats ingress = program->stats(MIRROR_STATS_INGRESS);
    mirror_stats egress_stats = program->stats(MIRROR_STATS_EGRESS);
    EXPECT_EQ(ingress.seen + egress_stats.seen, c.sent.size());
    EXPECT_EQ(egress_stats.seen, egress);
    EXPECT_EQ(ingress.matched + egress_stats.matched, matched);
    EXPECT_EQ(ingress.clone_failed + egress_stats.clone_failed, 0u);
    EXPECT_EQ(ingress.not_ip + egress_stats.not_ip, c.not_ip);
    EXPECT_EQ(ingress.truncated + egress_stats.truncated, c.truncated);
    (void)bytes;
}

INSTANTIATE_TEST_SUITE_P(Packets, MirrorTable, ::testing::ValuesIn(mirrorCases()),
                         [](const auto& info) { return info.param.name; });

class MirrorProgramTest : public MirrorTable {};

// 1024 rules, rule i taking TCP to port 10000 + i: the word and bit
// arithmetic lands on the right counter at every word boundary.
TEST_F(MirrorProgramTest, EveryRuleIndexCountsInItsOwnSlot) {
    std::vector<MirrorRule> rules;
    for (uint16_t i = 0; i < MIRROR_MAX_RULES; i++)
        rules.push_back(make(std::nullopt, std::nullopt, IPPROTO_TCP, std::nullopt,
                             port(static_cast<uint16_t>(10000 + i))));
    // A later rule that also takes port 10063 never counts: 63 comes first.
    rules[900] = make(std::nullopt, std::nullopt, IPPROTO_TCP, std::nullopt, ports(10063, 10064));
    std::string error;
    auto program =
        MirrorProgram::load(rules, {.tunnel_ifindex = uint32_t(ifindex("l3t-test"))}, error);
    ASSERT_TRUE(program) << error;

    std::vector<uint32_t> probes = {0, 1, 62, 63, 64, 65, 127, 128, 511, 512, 899, 901, 1022, 1023};
    for (uint32_t rule : probes) {
        Bytes frame = v4().tcp(40000, static_cast<uint16_t>(10000 + rule)).build();
        RunOutcome outcome = program->sendIngress(frame);
        ASSERT_EQ(outcome.error, 0);
        EXPECT_EQ(outcome.verdict, TC_ACT_UNSPEC);
    }
    // Port 10900 is rule 900's no more.
    ASSERT_EQ(program->sendIngress(v4().tcp(40000, 10900).build()).error, 0);

    std::vector<std::pair<uint32_t, mirror_rule_counter>> counted = program->countedRules();
    ASSERT_EQ(counted.size(), probes.size());
    for (size_t i = 0; i < probes.size(); i++) {
        EXPECT_EQ(counted[i].first, probes[i]);
        EXPECT_EQ(counted[i].second.packets, 1u) << "rule " << probes[i];
    }
    EXPECT_EQ(program->stats(MIRROR_STATS_INGRESS).matched, probes.size());
}

// Random rule sets against the reference matcher, through the real program.
void crossCheckProgram(RuleFuzzer& fuzzer, std::initializer_list<size_t> rule_counts) {
    for (size_t rule_count : rule_counts) {
        std::vector<MirrorRule> rules = fuzzer.rules(rule_count);
        std::string error;
        auto program =
            MirrorProgram::load(rules, {.tunnel_ifindex = uint32_t(ifindex("l3t-test"))}, error);
        ASSERT_TRUE(program) << error;

        uint64_t matched = 0;
        for (int i = 0; i < 1500; i++) {
            TuplePacket p = fuzzer.packet(rules);
            if (p.family == 6 && p.protocol == 0)
                p.protocol = 255; // 0 is IPv6's hop-by-hop header, not a protocol
            char src[INET6_ADDRSTRLEN] = {};
            char dst[INET6_ADDRSTRLEN] = {};
            int af = p.family == 6 ? AF_INET6 : AF_INET;
            inet_ntop(af, p.src.data(), src, sizeof(src));
            inet_ntop(af, p.dst.data(), dst, sizeof(dst));
            PacketBuilder builder;
            if (p.family == 6)
                builder.ipv6(src, dst);
            else
                builder.ipv4(src, dst);
            if (!p.has_ports && config::carriesPorts(p.protocol))
                builder.fragment(64, false).protocol(p.protocol).payload(16);
            else if (!p.has_ports)
                builder.protocol(p.protocol).payload(16);
            else if (p.protocol == IPPROTO_TCP)
                builder.tcp(p.src_port, p.dst_port);
            else if (p.protocol == IPPROTO_UDP)
                builder.udp(p.src_port, p.dst_port);
            else if (p.protocol == 132)
                builder.sctp(p.src_port, p.dst_port);
            else
                builder.udplite(p.src_port, p.dst_port);

            std::optional<size_t> expected = referenceMatch(rules, p);
            uint64_t before = expected ? program->rule(uint32_t(*expected)).packets : 0;
            ASSERT_EQ(program->sendIngress(builder.build()).error, 0);
            uint64_t now_matched = program->stats(MIRROR_STATS_INGRESS).matched;
            ASSERT_EQ(now_matched, matched + (expected ? 1 : 0))
                << rule_count << " rules, packet " << i << ": matched when it should "
                << (expected ? "" : "not");
            matched = now_matched;
            if (expected) {
                ASSERT_EQ(program->rule(uint32_t(*expected)).packets, before + 1)
                    << rule_count << " rules, packet " << i << " should count under rule "
                    << *expected;
            }
        }
        EXPECT_GT(matched, 100u) << "the draw should match often";
    }
}

TEST_F(MirrorProgramTest, RandomRulesAgreeWithTheReferenceMatcher) {
    RuleFuzzer fuzzer(7);
    crossCheckProgram(fuzzer, {5u, 60u, 300u, 1024u});
}

// Rules inside one network, whose walks begin past the bytes they share.
TEST_F(MirrorProgramTest, RandomRulesInOneNetworkAgreeWithTheReferenceMatcher) {
    RuleFuzzer fuzzer(8, RuleFuzzer::Shape::kOneNetwork);
    crossCheckProgram(fuzzer, {1u, 3u, 20u, 1024u});
}

// The clone leaves by the tunnel's veth, byte for byte the original frame;
// a packet that matches nothing sends nothing.
TEST_F(MirrorProgramTest, TheCloneLeavesByTheTunnelVethUnchanged) {
    std::string error;
    auto program =
        MirrorProgram::load(tableRules(), {.tunnel_ifindex = uint32_t(ifindex("l3t-test"))}, error);
    ASSERT_TRUE(program) << error;
    Capture capture(ifindex("l3t-peer"));
    ASSERT_TRUE(capture.ok()) << std::strerror(errno);

    Bytes miss = v4().tcp(40000, 80).build();
    Bytes hit = v4().tcp(40000, 443).payload(300).build();
    ASSERT_EQ(program->sendIngress(miss).error, 0);
    ASSERT_EQ(program->sendIngress(hit).error, 0);

    std::optional<Captured> clone = capture.next(std::chrono::seconds(2));
    ASSERT_TRUE(clone) << "no clone reached the tunnel veth's peer";
    EXPECT_EQ(clone->frame, hit);
    EXPECT_FALSE(capture.next(std::chrono::milliseconds(200))) << "one clone per match";
    EXPECT_EQ(program->stats(MIRROR_STATS_INGRESS).clone_failed, 0u);
}

TEST_F(MirrorProgramTest, ACloneThatCannotLeaveIsCountedAndTheOriginalGoesOn) {
    std::string error;
    auto program = MirrorProgram::load(tableRules(), {.tunnel_ifindex = 4242}, error);
    ASSERT_TRUE(program) << error;
    Bytes hit = v4().tcp(40000, 443).build();
    RunOutcome outcome = program->sendIngress(hit, kOriginalMark);
    ASSERT_EQ(outcome.error, 0);
    EXPECT_EQ(outcome.verdict, TC_ACT_UNSPEC);
    EXPECT_EQ(outcome.data_out, hit);
    EXPECT_EQ(outcome.mark_out, kOriginalMark);
    mirror_stats stats = program->stats(MIRROR_STATS_INGRESS);
    EXPECT_EQ(stats.matched, 1u);
    EXPECT_EQ(stats.clone_failed, 1u);
}

// The loop guard: a mirror that matches everything on the device a tunnel
// leaves by sees the tunnel's own GUE packets, which leave marked
// GUE_MARK_SENT. It passes them over; the same bytes sent by anyone else (no
// mark, or a mark of their own) are mirrored like any packet.
TEST_F(MirrorProgramTest, TheTunnelsOwnGuePacketsAreNeverMirrored) {
    mirror::GueSettings settings;
    settings.local_addr = htonl(0xcb007105);  // 203.0.113.5
    settings.remote_addr = htonl(0xc6336407); // 198.51.100.7
    settings.device_ifindex = kLoopbackIfindex;
    std::string error;
    auto gue = GueProgram::load(settings, error);
    ASSERT_TRUE(gue) << error;
    RunOutcome sent = gue->send(v4().udp(40000, 53).payload(64).build(), mirror::gueMark(0));
    ASSERT_EQ(sent.error, 0);
    ASSERT_EQ(sent.verdict, TC_ACT_REDIRECT);
    ASSERT_EQ(sent.mark_out, GUE_MARK_SENT);
    Bytes own = sent.data_out; // IPv4, UDP to 6080, GUE

    auto program = MirrorProgram::load({MirrorRule{}},
                                       {.tunnel_ifindex = uint32_t(ifindex("l3t-test"))}, error);
    ASSERT_TRUE(program) << error;
    RunOutcome outcome = program->sendEgress(own, GUE_MARK_SENT);
    ASSERT_EQ(outcome.error, 0);
    EXPECT_EQ(outcome.verdict, TC_ACT_UNSPEC);
    EXPECT_EQ(outcome.data_out, own);
    EXPECT_EQ(outcome.mark_out, GUE_MARK_SENT) << "the mark goes on with the packet";
    mirror_stats stats = program->stats(MIRROR_STATS_EGRESS);
    EXPECT_EQ(stats.own_tunnel, 1u);
    EXPECT_EQ(stats.matched, 0u);

    for (uint32_t mark : {0u, kOriginalMark, GUE_MARK_SENT + 1}) {
        outcome = program->sendEgress(own, mark);
        ASSERT_EQ(outcome.error, 0);
        EXPECT_EQ(outcome.mark_out, mark);
    }
    // The same datagram to another port, unmarked, is anyone's UDP.
    Bytes other = own;
    other[14 + 20 + 2] ^= 0x01;
    ASSERT_EQ(program->sendEgress(other).error, 0);
    stats = program->stats(MIRROR_STATS_EGRESS);
    EXPECT_EQ(stats.own_tunnel, 1u);
    EXPECT_EQ(stats.matched, 4u);
    EXPECT_EQ(stats.seen, 5u);
    EXPECT_EQ(program->rule(0).packets, 4u);
}

} // namespace
} // namespace l3af::test
