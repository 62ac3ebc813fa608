// flow.bpf.c under BPF_PROG_TEST_RUN: packets in, flow table entries and
// per-CPU stats out. Every run also checks that the program lets the packet
// go on (TC_ACT_UNSPEC) and leaves its bytes alone.

#include "flow_harness.h"

#include <gtest/gtest.h>
#include <linux/pkt_cls.h>

#include <algorithm>
#include <string>
#include <vector>

namespace l3af::test {
namespace {

constexpr char kA4[] = "192.0.2.1";
constexpr char kB4[] = "198.51.100.2";
constexpr char kA6[] = "2001:db8::1";
constexpr char kB6[] = "2001:db8::2";

PacketBuilder v4() {
    PacketBuilder packet;
    packet.ipv4(kA4, kB4);
    return packet;
}
PacketBuilder v6() {
    PacketBuilder packet;
    packet.ipv6(kA6, kB6);
    return packet;
}

struct ExpectedFlow {
    flow_key key;
    uint64_t packets;
    uint64_t octets; // IP-level
    uint8_t tcp_flags = 0;
    uint8_t min_ttl = 64;
    uint8_t max_ttl = 64;
    uint8_t tos = 0;
};

struct ExpectedStat {
    flow_stat slot;
    uint64_t packets;
    uint64_t octets; // frame bytes
};

struct FlowCase {
    std::string name;
    std::vector<Sent> sent;
    std::vector<ExpectedFlow> flows; // exactly these, nothing else
    std::vector<ExpectedStat> stats; // every other slot stays zero
};

// gtest names the failing case by this instead of dumping its bytes.
void PrintTo(const FlowCase& c, std::ostream* os) {
    *os << c.name;
}

std::vector<FlowCase> flowCases() {
    return {
        // --- IPv4 -------------------------------------------------------------
        {"Ipv4TcpFlagsAccumulate",
         {ingress(v4().tcp(40000, 443, kSyn)),                     // 20 + 20
          ingress(v4().tcp(40000, 443, kAck | kPsh).payload(100)), // 20 + 20 + 100
          ingress(v4().tcp(40000, 443, kFin | kAck))},             // 20 + 20
         {{.key = Key::v4(kA4, kB4, IPPROTO_TCP).ports(40000, 443),
           .packets = 3,
           .octets = 220,
           .tcp_flags = kSyn | kAck | kPsh | kFin}}},
        {"TtlMinMaxAndTosOfFirstPacket",
         {ingress(v4().ttl(64).tos(0x10).udp(5000, 53).payload(10)),
          ingress(v4().ttl(60).tos(0x20).udp(5000, 53).payload(10)),
          ingress(v4().ttl(70).tos(0x00).udp(5000, 53).payload(10))},
         {{.key = Key::v4(kA4, kB4, IPPROTO_UDP).ports(5000, 53),
           .packets = 3,
           .octets = 3 * 38,
           .min_ttl = 60,
           .max_ttl = 70,
           .tos = 0x10}}},
        {"Ipv4OptionsShiftTheUdpHeader",
         {ingress(v4().ipv4Options(8).udp(5000, 53).payload(20))}, // IHL 7: 28 + 8 + 20
         {{.key = Key::v4(kA4, kB4, IPPROTO_UDP).ports(5000, 53), .packets = 1, .octets = 56}}},
        {"Ipv4FirstFragmentHasPortsLaterOnesDoNot",
         {ingress(v4().fragment(0, true).udp(5000, 53).payload(104)),            // 20 + 8 + 104
          ingress(v4().fragment(112, false).protocol(IPPROTO_UDP).payload(50))}, // 20 + 50
         {{.key = Key::v4(kA4, kB4, IPPROTO_UDP).ports(5000, 53), .packets = 1, .octets = 132},
          {.key = Key::v4(kA4, kB4, IPPROTO_UDP), .packets = 1, .octets = 70}}},
        {"IcmpEchoKeepsTypeAndCode",
         {ingress(v4().icmp(8, 0).payload(56))}, // 20 + 8 + 56
         {{.key = Key::v4(kA4, kB4, IPPROTO_ICMP).icmp(8, 0), .packets = 1, .octets = 84}}},
        {"UnknownProtocolHasNoPorts",
         {ingress(v4().protocol(IPPROTO_GRE).payload(24))}, // 20 + 24
         {{.key = Key::v4(kA4, kB4, IPPROTO_GRE), .packets = 1, .octets = 44}}},
        {"EthernetPaddingIsNotCounted",
         {ingress(v4().udp(5000, 53).payload(2).padFrameTo(60))}, // 20 + 8 + 2
         {{.key = Key::v4(kA4, kB4, IPPROTO_UDP).ports(5000, 53), .packets = 1, .octets = 30}}},
        {"DistinctPortsAreDistinctFlows",
         {ingress(v4().udp(5000, 53)), ingress(v4().udp(5001, 53))},
         {{.key = Key::v4(kA4, kB4, IPPROTO_UDP).ports(5000, 53), .packets = 1, .octets = 28},
          {.key = Key::v4(kA4, kB4, IPPROTO_UDP).ports(5001, 53), .packets = 1, .octets = 28}}},

        // --- IPv6 -------------------------------------------------------------
        {"Ipv6Udp",
         {ingress(v6().ttl(50).tos(0xb8).udp(5000, 53).payload(20))}, // 40 + 8 + 20
         {{.key = Key::v6(kA6, kB6, IPPROTO_UDP).ports(5000, 53),
           .packets = 1,
           .octets = 68,
           .min_ttl = 50,
           .max_ttl = 50,
           .tos = 0xb8}}},
        {"Ipv6ExtensionHeadersAreSkipped",
         {ingress(v6().hopByHop(8).destinationOptions(16).routing(24).tcp(40000, 443, kSyn))},
         // 40 + 48 of extension headers + 20
         {{.key = Key::v6(kA6, kB6, IPPROTO_TCP).ports(40000, 443),
           .packets = 1,
           .octets = 108,
           .tcp_flags = kSyn}}},
        {"Ipv6AuthenticationHeaderIsSkipped",
         {ingress(v6().authentication(24).udp(5000, 53).payload(10))}, // 40 + 24 + 8 + 10
         {{.key = Key::v6(kA6, kB6, IPPROTO_UDP).ports(5000, 53), .packets = 1, .octets = 82}}},
        {"Ipv6FirstFragmentHasPortsLaterOnesDoNot",
         {ingress(v6().fragment(0, true).udp(5000, 53).payload(96)), // 40 + 8 + 8 + 96
          ingress(v6().hopByHop().fragment(104, false).protocol(IPPROTO_UDP).payload(40))},
         // 40 + 8 + 8 + 40
         {{.key = Key::v6(kA6, kB6, IPPROTO_UDP).ports(5000, 53), .packets = 1, .octets = 152},
          {.key = Key::v6(kA6, kB6, IPPROTO_UDP), .packets = 1, .octets = 96}}},
        {"Icmpv6EchoKeepsTypeAndCode",
         {ingress(v6().icmp(128, 0).payload(56))}, // 40 + 8 + 56
         {{.key = Key::v6(kA6, kB6, IPPROTO_ICMPV6).icmp(128, 0), .packets = 1, .octets = 104}}},
        {"Ipv6WithoutPayloadInAPaddedFrame",
         {ingress(v6().protocol(IPPROTO_NONE).padFrameTo(60))}, // 40; the frame pads 6
         {{.key = Key::v6(kA6, kB6, IPPROTO_NONE), .packets = 1, .octets = 40}}},
        {"Ipv6MobilityHeaderIsTheProtocol",
         {ingress(v6().protocol(IPPROTO_MH).payload(16))}, // 40 + 16
         {{.key = Key::v6(kA6, kB6, IPPROTO_MH), .packets = 1, .octets = 56}}},

        // --- VLAN -------------------------------------------------------------
        {"Vlan8021QGivesItsVid",
         {ingress(PacketBuilder().vlan(100, ETH_P_8021Q, 5).ipv4(kA4, kB4).udp(5000, 53))},
         {{.key = Key::v4(kA4, kB4, IPPROTO_UDP).ports(5000, 53).vlan(100),
           .packets = 1,
           .octets = 28}}},
        {"QinQGivesTheOuterVid",
         {ingress(PacketBuilder()
                      .vlan(200, ETH_P_8021AD)
                      .vlan(100, ETH_P_8021Q)
                      .ipv6(kA6, kB6)
                      .tcp(40000, 443, kAck))},
         {{.key = Key::v6(kA6, kB6, IPPROTO_TCP).ports(40000, 443).vlan(200),
           .packets = 1,
           .octets = 60,
           .tcp_flags = kAck}}},
        {"ThreeVlanTagsAreNotParsed",
         {ingress(
             PacketBuilder().vlan(1).vlan(2).vlan(3).ipv4(kA4, kB4).udp(5000, 53).payload(10))},
         {},
         {{FLOW_STAT_NON_IP, 1, 14 + 12 + 38}}},

        // --- L4 header cut short: still a flow, on addresses and protocol ------
        {"TcpHeaderCutIsAFlowWithoutPorts",
         {ingress(v4().tcp(40000, 443, kSyn).cutL4(10))}, // 20 + 10
         {{.key = Key::v4(kA4, kB4, IPPROTO_TCP), .packets = 1, .octets = 30}}},
        {"UdpHeaderCutIsAFlowWithoutPorts",
         {ingress(v6().udp(5000, 53).cutL4(4))}, // 40 + 4
         {{.key = Key::v6(kA6, kB6, IPPROTO_UDP), .packets = 1, .octets = 44}}},
        {"EthernetPaddingIsNotAnL4Header",
         {ingress(v4().udp(5000, 53).cutL4(4).padFrameTo(60))}, // 20 + 4
         {{.key = Key::v4(kA4, kB4, IPPROTO_UDP), .packets = 1, .octets = 24}}},

        // BPF_PROG_TEST_RUN refuses an IPv4 or IPv6 frame shorter than the
        // base IP header (EINVAL), so frames cut inside it travel behind a
        // VLAN tag, which the kernel does not look past; the program parses
        // them all the same.
        {"EthernetHeaderOnly",
         {ingress(PacketBuilder().vlan(100).ipv4(kA4, kB4).truncateFrame(14))},
         {},
         {{FLOW_STAT_TRUNCATED, 1, 14}}},
        {"VlanTagCut",
         {ingress(PacketBuilder().vlan(100).ipv4(kA4, kB4).truncateFrame(16))},
         {},
         {{FLOW_STAT_TRUNCATED, 1, 16}}},
        {"Ipv4HeaderMissing",
         {ingress(PacketBuilder().vlan(100).ipv4(kA4, kB4).truncateFrame(18))},
         {},
         {{FLOW_STAT_TRUNCATED, 1, 18}}},
        {"Ipv4HeaderCut",
         {ingress(PacketBuilder().vlan(100).ipv4(kA4, kB4).udp(5000, 53).truncateFrame(18 + 12))},
         {},
         {{FLOW_STAT_TRUNCATED, 1, 30}}},
        {"Ipv4IhlBelowFive",
         {ingress(v4().ihl(4).udp(5000, 53).payload(10))},
         {},
         {{FLOW_STAT_TRUNCATED, 1, 14 + 38}}},
        {"Ipv4OptionsCut",
         {ingress(v4().ipv4Options(12).udp(5000, 53).truncateFrame(14 + 24))},
         {},
         {{FLOW_STAT_TRUNCATED, 1, 38}}},
        {"Ipv4TotalLengthBeyondTheFrame",
         {ingress(v4().udp(5000, 53).payload(10).truncateFrame(14 + 20 + 8))},
         {},
         {{FLOW_STAT_TRUNCATED, 1, 42}}},
        {"Ipv6HeaderCut",
         {ingress(PacketBuilder().vlan(100).ipv6(kA6, kB6).udp(5000, 53).truncateFrame(18 + 30))},
         {},
         {{FLOW_STAT_TRUNCATED, 1, 48}}},
        {"Ipv6ExtensionHeaderCut",
         {ingress(v6().hopByHop(8).routing(16).udp(5000, 53).truncateFrame(14 + 40 + 8 + 1))},
         {},
         {{FLOW_STAT_TRUNCATED, 1, 63}}},

        // --- Not IP -----------------------------------------------------------
        {"ArpIsNotIp",
         {ingress(PacketBuilder().ethertype(ETH_P_ARP).payload(28))},
         {},
         {{FLOW_STAT_NON_IP, 1, 42}}},

        // --- GSO: counted as the segments that reach the wire ------------------
        {"GsoTcpIpv4CountsEachSegment",
         {gso(v4().tcp(40000, 443, kAck).payload(3200), 4, 800)},
         // 4 x (20 + 20 + 800)
         {{.key = Key::v4(kA4, kB4, IPPROTO_TCP).ports(40000, 443),
           .packets = 4,
           .octets = 3360,
           .tcp_flags = kAck}}},
        {"GsoTcpIpv6WithOptionsCountsEachSegment",
         {gso(v6().hopByHop(8).tcp(40000, 443, kAck, 12).payload(2400), 3, 800)},
         // 3 x (40 + 8 + 32 + 800)
         {{.key = Key::v6(kA6, kB6, IPPROTO_TCP).ports(40000, 443),
           .packets = 3,
           .octets = 2640,
           .tcp_flags = kAck}}},
        {"GsoUdpCountsEachSegment",
         {gso(v4().udp(5000, 4433).payload(2800), 2, 1400)},
         // 2 x (20 + 8 + 1400)
         {{.key = Key::v4(kA4, kB4, IPPROTO_UDP).ports(5000, 4433), .packets = 2, .octets = 2856}}},

        // --- Direction --------------------------------------------------------
        {"IngressAndEgressAreSeparateFlows",
         {ingress(v4().udp(5000, 53)), egress(v4().udp(5000, 53)), egress(v4().udp(5000, 53))},
         {{.key = Key::v4(kA4, kB4, IPPROTO_UDP).ports(5000, 53), .packets = 1, .octets = 28},
          {.key = Key::v4(kA4, kB4, IPPROTO_UDP).ports(5000, 53).egress(),
           .packets = 2,
           .octets = 56}}},
    };
}

class FlowBpfTest : public ::testing::Test {
  protected:
    void SetUp() override {
        if (geteuid() != 0)
            GTEST_SKIP() << "needs root: loads BPF programs and runs BPF_PROG_TEST_RUN";
        load(0);
    }

    void load(uint32_t max_flows) {
        std::string error;
        program_ = FlowProgram::load(max_flows, error);
        ASSERT_TRUE(program_) << error;
    }

    // Runs one packet and checks the program let it through untouched.
    void send(const Sent& sent) {
        RunOutcome outcome = program_->send(sent);
        ASSERT_EQ(outcome.error, 0) << "BPF_PROG_TEST_RUN: " << std::strerror(outcome.error);
        EXPECT_EQ(outcome.verdict, TC_ACT_UNSPEC);
        EXPECT_EQ(outcome.data_out, sent.frame) << "the program changed the packet";
    }

    void expectStats(const std::vector<ExpectedStat>& expected) {
        for (flow_stat slot : {FLOW_STAT_OVERFLOW, FLOW_STAT_NON_IP, FLOW_STAT_TRUNCATED}) {
            ExpectedStat want{slot, 0, 0};
            for (const ExpectedStat& e : expected)
                if (e.slot == slot)
                    want = e;
            flow_stat_value got = program_->stat(slot);
            EXPECT_EQ(got.packets, want.packets) << "flow_stats[" << slot << "].packets";
            EXPECT_EQ(got.octets, want.octets) << "flow_stats[" << slot << "].octets";
        }
    }

    std::unique_ptr<FlowProgram> program_;
};

class FlowCaseTest : public FlowBpfTest, public ::testing::WithParamInterface<FlowCase> {};

TEST_P(FlowCaseTest, CountsWhatCrossedTheHook) {
    const FlowCase& c = GetParam();
    uint64_t before = boottimeNs();
    for (const Sent& sent : c.sent)
        ASSERT_NO_FATAL_FAILURE(send(sent));
    uint64_t after = boottimeNs();

    auto flows = program_->flows();
    EXPECT_EQ(flows.size(), c.flows.size());
    for (const ExpectedFlow& want : c.flows) {
        auto it = std::find_if(flows.begin(), flows.end(),
                               [&](const auto& flow) { return flow.first == want.key; });
        if (it == flows.end()) {
            ADD_FAILURE() << "no flow " << ::testing::PrintToString(want.key);
            continue;
        }
        SCOPED_TRACE(::testing::PrintToString(want.key));
        const flow_value& got = it->second;
        EXPECT_EQ(got.packets, want.packets);
        EXPECT_EQ(got.octets, want.octets);
        EXPECT_EQ(got.tcp_flags, want.tcp_flags);
        EXPECT_EQ(got.min_ttl, want.min_ttl);
        EXPECT_EQ(got.max_ttl, want.max_ttl);
        EXPECT_EQ(got.tos, want.tos);
        EXPECT_GE(got.first_seen_ns, before);
        EXPECT_LE(got.first_seen_ns, got.last_seen_ns);
        EXPECT_LE(got.last_seen_ns, after);
    }
    expectStats(c.stats);
}

INSTANTIATE_TEST_SUITE_P(Packets, FlowCaseTest, ::testing::ValuesIn(flowCases()),
                         [](const ::testing::TestParamInfo<FlowCase>& info) {
                             return info.param.name;
                         });

// Conservation when the table is full: what finds no slot is counted in
// FLOW_STAT_OVERFLOW, packets and IP octets exactly, and flows already in
// the table keep counting.
TEST_F(FlowBpfTest, FullTableCountsTheRestAsOverflow) {
    ASSERT_NO_FATAL_FAILURE(load(2));
    ASSERT_NO_FATAL_FAILURE(send(ingress(v4().udp(1, 53).payload(10))));      // 38
    ASSERT_NO_FATAL_FAILURE(send(ingress(v4().udp(2, 53).payload(20))));      // 48
    ASSERT_NO_FATAL_FAILURE(send(ingress(v4().udp(3, 53).payload(30))));      // 58: no room
    ASSERT_NO_FATAL_FAILURE(send(gso(v4().udp(3, 53).payload(200), 2, 100))); // 2 x 128
    ASSERT_NO_FATAL_FAILURE(send(ingress(v4().udp(1, 53).payload(10))));      // 38

    auto flows = program_->flows();
    ASSERT_EQ(flows.size(), 2u);
    for (const auto& [key, value] : flows) {
        if (key == flow_key(Key::v4(kA4, kB4, IPPROTO_UDP).ports(1, 53))) {
            EXPECT_EQ(value.packets, 2u);
            EXPECT_EQ(value.octets, 76u);
        } else {
            EXPECT_EQ(key, flow_key(Key::v4(kA4, kB4, IPPROTO_UDP).ports(2, 53)));
            EXPECT_EQ(value.packets, 1u);
            EXPECT_EQ(value.octets, 48u);
        }
    }
    expectStats({{FLOW_STAT_OVERFLOW, 3, 58 + 256}});
}

// The daemon builds its keys and reads its values with the ABI header; the
// maps the skeleton creates must have exactly those shapes.
TEST_F(FlowBpfTest, MapsMatchTheAbi) {
    const flow_bpf& skel = program_->skeleton();
    EXPECT_EQ(bpf_map__type(skel.maps.flows), BPF_MAP_TYPE_HASH);
    EXPECT_EQ(bpf_map__key_size(skel.maps.flows), sizeof(flow_key));
    EXPECT_EQ(bpf_map__value_size(skel.maps.flows), sizeof(flow_value));
    EXPECT_EQ(bpf_map__type(skel.maps.baseline), BPF_MAP_TYPE_HASH);
    EXPECT_EQ(bpf_map__key_size(skel.maps.baseline), sizeof(flow_key));
    EXPECT_EQ(bpf_map__value_size(skel.maps.baseline), sizeof(flow_baseline));
    EXPECT_EQ(bpf_map__max_entries(skel.maps.baseline), bpf_map__max_entries(skel.maps.flows));
    EXPECT_EQ(bpf_map__type(skel.maps.flow_stats), BPF_MAP_TYPE_PERCPU_ARRAY);
    EXPECT_EQ(bpf_map__value_size(skel.maps.flow_stats), sizeof(flow_stat_value));
    EXPECT_EQ(bpf_map__max_entries(skel.maps.flow_stats), uint32_t{FLOW_STAT_MAX});
}

} // namespace
} // namespace l3af::test
